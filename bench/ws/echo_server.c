/*
** echo_server.c - a small, fast WebSocket echo server for bench/ws: one
** thread, epoll, frames echoed one by one (unmasked, same opcode and FIN),
** optional TLS (OpenSSL on the socket).  Not a general server: it trusts
** its clients (the benchmark's).
**
**   echo_server PORT [CERT KEY]   prints "PORT n" once listening (0: free)
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

typedef struct conn {
  int fd;
  SSL *ssl;
  int hs_done;  /* WebSocket handshake */
  int tls_ok;
  uint8_t *in;
  size_t inlen, incap;
  uint8_t *out;
  size_t outoff, outlen, outcap;
  int closing;
} conn;

static int ep;
static SSL_CTX *sctx;

static void grow(uint8_t **p, size_t *cap, size_t need) {
  if (*cap >= need) return;
  size_t n = *cap ? *cap : 65536;
  while (n < need) n *= 2;
  *p = realloc(*p, n);
  if (!*p) abort();
  *cap = n;
}

static void drop(conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  if (c->ssl) SSL_free(c->ssl);
  close(c->fd);
  free(c->in);
  free(c->out);
  free(c);
}

static ssize_t c_read(conn *c, void *b, size_t n) {
  if (!c->ssl) return recv(c->fd, b, n, 0);
  int r = SSL_read(c->ssl, b, (int)n);
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  return 0;
}

static ssize_t c_write(conn *c, const void *b, size_t n) {
  if (!c->ssl) return send(c->fd, b, n, MSG_NOSIGNAL);
  int r = SSL_write(c->ssl, b, (int)n);
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  errno = EPIPE;
  return -1;
}

static int flush(conn *c) {
  while (c->outoff < c->outlen) {
    ssize_t n = c_write(c, c->out + c->outoff, c->outlen - c->outoff);
    if (n < 0) {
      if (errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return 0;
      }
      return -1;
    }
    c->outoff += (size_t)n;
  }
  c->outoff = c->outlen = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  return c->closing ? -1 : 0;
}

static void put(conn *c, const void *p, size_t n) {
  grow(&c->out, &c->outcap, c->outlen + n);
  memcpy(c->out + c->outlen, p, n);
  c->outlen += n;
}

static int handshake(conn *c) {
  uint8_t *end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t hl = (size_t)(end - c->in) + 4;
  char key[128] = "";
  const char *k = memmem(c->in, hl, "Sec-WebSocket-Key:", 18);
  if (!k) k = memmem(c->in, hl, "sec-websocket-key:", 18);
  if (!k) return -1;
  k += 18;
  while (*k == ' ') k++;
  size_t i = 0;
  while (k[i] != '\r' && i < 60) { key[i] = k[i]; i++; }
  key[i] = 0;
  strcat(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  unsigned char sha[20];
  SHA1((unsigned char *)key, strlen(key), sha);
  char acc[64];
  EVP_EncodeBlock((unsigned char *)acc, sha, 20);
  char resp[256];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   acc);
  put(c, resp, (size_t)n);
  memmove(c->in, c->in + hl, c->inlen - hl);
  c->inlen -= hl;
  c->hs_done = 1;
  return 1;
}

/* Echo every complete frame in c->in. */
static void frames(conn *c) {
  size_t off = 0;
  for (;;) {
    uint8_t *p = c->in + off;
    size_t avail = c->inlen - off;
    if (avail < 2) break;
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = ((uint64_t)p[2] << 8) | p[3];
      h = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
      h = 10;
    }
    int masked = p[1] & 0x80;
    size_t mh = h + (masked ? 4 : 0);
    if (avail < mh + len) break;
    uint8_t *pl = p + mh;
    if (masked) {
      uint8_t m[4];
      memcpy(m, p + h, 4);
      for (uint64_t i = 0; i < len; i++) pl[i] ^= m[i & 3];
    }
    int op = p[0] & 0x0f;
    uint8_t hd[10];
    size_t hn = 2;
    hd[0] = (uint8_t)((p[0] & 0x80) | (op == 9 ? 10 : op));
    if (len < 126) {
      hd[1] = (uint8_t)len;
    } else if (len < 65536) {
      hd[1] = 126; hd[2] = (uint8_t)(len >> 8); hd[3] = (uint8_t)len; hn = 4;
    } else {
      hd[1] = 127;
      for (int i = 0; i < 8; i++) hd[2 + i] = (uint8_t)(len >> (56 - 8 * i));
      hn = 10;
    }
    if (op != 10) {  /* pongs are not answered */
      put(c, hd, hn);
      put(c, pl, (size_t)len);
    }
    if (op == 8) c->closing = 1;
    off += mh + (size_t)len;
  }
  memmove(c->in, c->in + off, c->inlen - off);
  c->inlen -= off;
}

static int on_readable(conn *c) {
  if (c->ssl && !c->tls_ok) {
    int r = SSL_accept(c->ssl);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? 0 : -1;
    }
    c->tls_ok = 1;
  }
  for (;;) {
    grow(&c->in, &c->incap, c->inlen + 65536);
    ssize_t n = c_read(c, c->in + c->inlen, c->incap - c->inlen);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -1;
    }
    if (n == 0) return -1;
    c->inlen += (size_t)n;
    if (!c->hs_done) {
      int h = handshake(c);
      if (h < 0) return -1;
      if (h == 0) continue;
    }
    frames(c);
    if (c->outlen > (1u << 20)) break;
  }
  return flush(c);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  int port = argc > 1 ? atoi(argv[1]) : 0;
  if (argc > 3) {
    sctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(sctx, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(sctx, argv[3], SSL_FILETYPE_PEM) != 1) {
      ERR_print_errors_fp(stderr);
      return 1;
    }
  }
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                          .sin_addr.s_addr = htonl(0x7f000001)};
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) {
    perror("listen");
    return 1;
  }
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &al);
  printf("PORT %d\n", ntohs(a.sin_port));
  fflush(stdout);
  ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (c == NULL) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          if (sctx) {
            nc->ssl = SSL_new(sctx);
            SSL_set_fd(nc->ssl, fd);
          }
          struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e2);
        }
        continue;
      }
      int r = 0;
      if (evs[i].events & EPOLLOUT) r = flush(c);
      if (r == 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        r = on_readable(c);
      if (r < 0) drop(c);
    }
  }
}
