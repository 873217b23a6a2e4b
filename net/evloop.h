/*
** evloop.h - the process's event loop: descriptors watched with epoll, one
** wait with nanosecond timeouts, a wake-up that signal handlers may use.
**
** The cost of a wait does not grow with the number of descriptors watched
** (epoll keeps the interest set in the kernel; poll(2) scans every one on
** each call).  No timers here: the scheduler keeps its own heap and passes
** the time to its earliest deadline to sl_ev_wait.
**
**   sl_ev ev;
**   if (sl_ev_init(&ev) != 0) ...            // before the sandbox: epoll_create1,
**                                            // eventfd2
**   sl_evio io = {.fd = fd, .cb = on_fd};
**   sl_ev_watch(&ev, &io, SL_EV_READ);       // epoll_ctl ADD/MOD/DEL as needed
**   sl_ev_wait(&ev, timeout_ns);             // runs the callbacks of ready fds
**   sl_ev_watch(&ev, &io, 0);                // before closing io.fd
**   sl_ev_close(&ev);
**
** Level-triggered: a callback that leaves data unread is called again on
** the next wait.  A descriptor with an error or a hang-up is reported as
** readable (and writable, when that is watched): the read or the write
** then says what happened.  A callback may unwatch or free any sl_evio,
** its own included: events still pending for it in the current batch are
** dropped.  Single-threaded, except sl_ev_wake.
*/
#ifndef SL_NET_EVLOOP_H
#define SL_NET_EVLOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#define SL_EV_READ 1u
#define SL_EV_WRITE 2u

#define SL_EV_BATCH 256  /* events taken from the kernel per wait */

typedef struct sl_evio sl_evio;
typedef void (*sl_evio_cb)(sl_evio *io, unsigned events);

struct sl_evio {
  int fd;
  unsigned want;      /* SL_EV_READ | SL_EV_WRITE (sl_ev_watch sets it) */
  sl_evio_cb cb;
};

typedef struct sl_ev {
  int epfd;           /* -1 when not made */
  int wakefd;         /* an eventfd */
  int nwatched;       /* descriptors in the interest set */
  int waiting;        /* inside epoll_wait */
  int no_pwait2;      /* the kernel lacks epoll_pwait2: milliseconds */
  /* the batch being dispatched */
  struct epoll_event batch[SL_EV_BATCH];
  int nbatch, ibatch;
} sl_ev;

/* Make the loop (epoll and an eventfd, both close-on-exec): 0, or -errno. */
int sl_ev_init(sl_ev *ev);
void sl_ev_close(sl_ev *ev);

/*
** Watch io->fd for `want` (0: not at all, removed from the interest set).
** Returns 0, or -errno from epoll_ctl (ENOMEM, ENOSPC: the user's epoll
** watch limit); io->want is unchanged on failure.
*/
int sl_ev_watch(sl_ev *ev, sl_evio *io, unsigned want);

/*
** Wait up to timeout_ns (< 0: until an event; 0: just look) and run the
** callbacks of the descriptors ready.  Returns the number of events
** dispatched (0 on timeout, on a wake-up or on a signal), or -errno.
*/
int sl_ev_wait(sl_ev *ev, int64_t timeout_ns);

/* End the current or next wait early.  Async-signal-safe. */
void sl_ev_wake(sl_ev *ev);

#endif
