/*
** evloop.c - the event loop (see evloop.h): epoll, level-triggered, one
** eventfd for wake-ups from signal handlers.
*/
#include "evloop.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int sl_ev_init(sl_ev *ev) {
  memset(ev, 0, sizeof *ev);
  ev->epfd = ev->wakefd = -1;
  ev->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (ev->epfd < 0) return -errno;
  ev->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ev->wakefd < 0) {
    int e = errno;
    sl_ev_close(ev);
    return -e;
  }
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = ev};  /* marks it */
  if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->wakefd, &e) != 0) {
    int er = errno;
    sl_ev_close(ev);
    return -er;
  }
  return 0;
}

void sl_ev_close(sl_ev *ev) {
  if (ev->wakefd >= 0) close(ev->wakefd);
  if (ev->epfd >= 0) close(ev->epfd);
  ev->wakefd = ev->epfd = -1;
  ev->nbatch = ev->ibatch = 0;
}

/* Drop the events of io still pending in the batch being dispatched. */
static void forget(sl_ev *ev, sl_evio *io) {
  for (int i = ev->ibatch; i < ev->nbatch; i++)
    if (ev->batch[i].data.ptr == io) ev->batch[i].data.ptr = NULL;
}

int sl_ev_watch(sl_ev *ev, sl_evio *io, unsigned want) {
  if (want == io->want) return 0;
  if (ev->epfd < 0) return -EBADF;
  int op;
  if (want == 0) op = EPOLL_CTL_DEL;
  else if (io->want == 0) op = EPOLL_CTL_ADD;
  else op = EPOLL_CTL_MOD;
  struct epoll_event e;
  memset(&e, 0, sizeof e);
  e.events = ((want & SL_EV_READ) ? EPOLLIN : 0u) |
             ((want & SL_EV_WRITE) ? EPOLLOUT : 0u);
  e.data.ptr = io;
  if (epoll_ctl(ev->epfd, op, io->fd, &e) != 0) {
    /* a descriptor closed behind our back has left the set already */
    if (op != EPOLL_CTL_DEL || errno != EBADF) return -errno;
  }
  if (op == EPOLL_CTL_ADD) ev->nwatched++;
  if (op == EPOLL_CTL_DEL) {
    ev->nwatched--;
    forget(ev, io);
  }
  io->want = want;
  return 0;
}

static int wait_kernel(sl_ev *ev, int64_t timeout_ns) {
  if (!ev->no_pwait2) {
    struct timespec ts, *tp = NULL;
    if (timeout_ns >= 0) {
      ts.tv_sec = (time_t)(timeout_ns / 1000000000);
      ts.tv_nsec = (long)(timeout_ns % 1000000000);
      tp = &ts;
    }
    int n = epoll_pwait2(ev->epfd, ev->batch, SL_EV_BATCH, tp, NULL);
    if (n >= 0 || errno != ENOSYS) return n;
    ev->no_pwait2 = 1;  /* before Linux 5.11 */
  }
  int ms = -1;
  if (timeout_ns >= 0) {
    int64_t m = (timeout_ns + 999999) / 1000000;  /* never early */
    ms = m > 0x7fffffff ? 0x7fffffff : (int)m;
  }
  return epoll_wait(ev->epfd, ev->batch, SL_EV_BATCH, ms);
}

int sl_ev_wait(sl_ev *ev, int64_t timeout_ns) {
  if (ev->epfd < 0) return -EBADF;
  ev->waiting = 1;
  int n = wait_kernel(ev, timeout_ns);
  ev->waiting = 0;
  if (n < 0) return errno == EINTR ? 0 : -errno;
  int done = 0;
  ev->nbatch = n;
  for (ev->ibatch = 0; ev->ibatch < ev->nbatch;) {
    struct epoll_event *e = &ev->batch[ev->ibatch++];
    if (e->data.ptr == ev) {  /* sl_ev_wake */
      uint64_t v;
      (void)!read(ev->wakefd, &v, sizeof v);
      continue;
    }
    sl_evio *io = e->data.ptr;
    if (io == NULL) continue;  /* unwatched by an earlier callback */
    unsigned got = 0;
    if (e->events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
      got |= SL_EV_READ;
    if (e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) got |= SL_EV_WRITE;
    got &= io->want;
    if (got == 0) continue;
    done++;
    io->cb(io, got);
  }
  ev->nbatch = ev->ibatch = 0;
  return done;
}

void sl_ev_wake(sl_ev *ev) {
  int fd = ev->wakefd;
  if (fd < 0) return;
  uint64_t one = 1;
  int saved = errno;
  (void)!write(fd, &one, sizeof one);
  errno = saved;
}
