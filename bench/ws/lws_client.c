/*
** lws_client.c - the raw libwebsockets C client of bench/ws (lws' own ws
** client role, no sandlua code): lws_client MODE URL-PORT N [CAFILE]
** MODE rt | stream | big | connect | connects (wss) | idle | scale; prints
** what bench/ws/run and bench/scale/run expect (see there).  scale: N idle
** connections opened one after another, then SCALE_RT round trips on the
** first one.
*/
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *mode;
static int N, port, tls;
static struct lws_context *ctx;
static int done, sent, recvd, inflight, connected, want_close;
static size_t msglen = 64, rxacc;
static double *lat;
static double t0, tsend;
static struct lws *first;  /* scale: the connection that echoes */
static int rt_on;          /* scale: round trips under way */
#define SCALE_RT 5000
static unsigned char *buf;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void connect_one(void);

static int send_msg(struct lws *wsi) {
  int bin = strcmp(mode, "big") == 0;
  memset(buf + LWS_PRE, 'x', msglen);
  if (lws_write(wsi, buf + LWS_PRE, msglen,
                bin ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)msglen)
    return -1;
  sent++;
  return 0;
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len) {
  (void)user;
  (void)in;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      connected++;
      if (!strcmp(mode, "connect")) {
        want_close = 1;
        lws_callback_on_writable(wsi);
      } else if (!strcmp(mode, "idle") || !strcmp(mode, "scale")) {
        if (first == NULL) first = wsi;  /* main() watches `connected` */
      } else {
        t0 = now();
        lws_callback_on_writable(wsi);
      }
      break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (want_close) {
        /*
        ** The full close handshake, as the other clients do (sandlua's
        ** close, node ws, python websockets): send a close frame, wait
        ** for the server's, then end the connection.  (lws_close_reason
        ** and returning -1 would close the socket right after our frame,
        ** without waiting for the server's: half the handshake, one round
        ** trip less.)
        */
        /* lws_write's close opcode: 4, between CONTINUATION and PING,
        ** not exported by name (lws_close_reason's path would not wait) */
        unsigned char cl[LWS_PRE + 2];
        cl[LWS_PRE] = LWS_CLOSE_STATUS_NORMAL >> 8;
        cl[LWS_PRE + 1] = LWS_CLOSE_STATUS_NORMAL & 0xff;
        want_close = 0;
        if (lws_write(wsi, cl + LWS_PRE, 2, (enum lws_write_protocol)4) < 2) return -1;
        break;
      }
      if (!strcmp(mode, "scale") && (!rt_on || wsi != first)) break;
      if (!strcmp(mode, "stream")) {
        while (sent < N && inflight < 1000 && !lws_send_pipe_choked(wsi)) {
          if (send_msg(wsi)) return -1;
          inflight++;
        }
        if (sent < N && inflight < 1000) lws_callback_on_writable(wsi);
      } else if (sent < N) {
        tsend = now();
        if (send_msg(wsi)) return -1;
      }
      break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      rxacc += len;
      if (!lws_is_final_fragment(wsi)) break;
      if (!strcmp(mode, "stream")) {
        recvd++;
        inflight--;
        if (recvd == N) done = 1;
        else lws_callback_on_writable(wsi);
      } else {
        if (!strcmp(mode, "rt") || !strcmp(mode, "scale"))
          lat[recvd] = now() - tsend;
        recvd++;
        rxacc = 0;
        if (recvd == N) done = 1;
        else lws_callback_on_writable(wsi);
      }
      break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      return 1; /* the server's answer to our close: end, no echo */
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      fprintf(stderr, "connection error: %s\n", in ? (char *)in : "?");
      done = -1;
      break;
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (!strcmp(mode, "connect")) {
        recvd++;
        if (recvd == N) done = 1;
        else connect_one();
      }
      break;
    default:
      break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {
  {"bench", cb, 0, 65536, 0, NULL, 0},
  {NULL, NULL, 0, 0, 0, NULL, 0}
};

static void connect_one(void) {
  struct lws_client_connect_info i;
  memset(&i, 0, sizeof i);
  i.context = ctx;
  i.address = tls ? "localhost" : "127.0.0.1";
  i.port = port;
  i.path = "/";
  i.host = i.address;
  i.origin = NULL;
  i.protocol = NULL;
  i.local_protocol_name = "bench";
  i.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
  want_close = !strcmp(mode, "connect");
  if (!lws_client_connect_via_info(&i)) {
    fprintf(stderr, "connect failed\n");
    done = -1;
  }
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  mode = argv[1];
  tls = !strncmp(argv[2], "wss:", 4);
  port = atoi(strrchr(argv[2], ':') + 1);
  N = atoi(argv[3]);
  if (!strcmp(mode, "big")) msglen = 1 << 20;
  buf = malloc(LWS_PRE + msglen);
  lat = calloc((size_t)N + 1, sizeof *lat);
  lws_set_log_level(LLL_ERR, NULL);
  /* Descriptors: what this run needs, as sandlua's sandbox sets it;
  ** libwebsockets sizes its fd tables by the limit and scans one of them
  ** at every close. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rlim_t want = (rlim_t)(strcmp(mode, "idle") && strcmp(mode, "scale")
                           ? 1 : N) + 96;
    if (want < rl.rlim_cur) {
      rl.rlim_cur = want;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.gid = (gid_t)-1;
  info.uid = (uid_t)-1;
  info.pt_serv_buf_size = 65536;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  if (argc > 4 && argv[4][0]) info.client_ssl_ca_filepath = argv[4];
  ctx = lws_create_context(&info);
  if (!ctx) return 1;
  double start = now();
  if (!strcmp(mode, "idle")) {
    connect_one();
    while (done == 0 && connected < 1) lws_service(ctx, 0);
    printf("START\n");
    fflush(stdout);
    double end = now() + 0.5;
    while (done == 0 && now() < end) lws_service(ctx, -1), usleep(1000);
    for (int k = 0; k < N; k++) connect_one();
    while (done == 0 && connected < N + 1) lws_service(ctx, 0);
    printf("READY\n");
    fflush(stdout);
    end = now() + 1.0;
    while (done == 0 && now() < end) lws_service(ctx, -1), usleep(1000);
    lws_context_destroy(ctx);
    return 0;
  } else if (!strcmp(mode, "scale")) {
    int K = N;
    connect_one();
    while (done == 0 && connected < 1) lws_service(ctx, 0);
    printf("START\n");
    fflush(stdout);
    double end = now() + 0.5;
    while (done == 0 && now() < end) lws_service(ctx, -1), usleep(1000);
    double c0 = now();
    for (int k = 0; k < K && done == 0; k++) {  /* one after another */
      connect_one();
      while (done == 0 && connected < k + 2) lws_service(ctx, 0);
    }
    printf("READY %.3f\n", now() - c0);
    fflush(stdout);
    end = now() + 0.5;
    while (done == 0 && now() < end) lws_service(ctx, -1), usleep(1000);
    N = SCALE_RT;
    lat = realloc(lat, ((size_t)N + 1) * sizeof *lat);
    rt_on = 1;
    t0 = now();
    lws_callback_on_writable(first);
    while (done == 0) lws_service(ctx, 0);
    double t = now() - t0;
    if (done < 0) return 1;
    qsort(lat, (size_t)N, sizeof *lat, cmp);
    printf("%.0f %.1f %.1f\n", N / t, lat[N / 2] * 1e6,
           lat[(int)(N * 0.99)] * 1e6);
    lws_context_destroy(ctx);
    return 0;
  } else {
    connect_one();
    while (done == 0) lws_service(ctx, 0);
  }
  double t = now() - (strcmp(mode, "connect") ? t0 : start);
  if (done < 0) return 1;
  if (!strcmp(mode, "rt")) {
    qsort(lat, (size_t)N, sizeof *lat, cmp);
    printf("%.0f %.1f %.1f\n", N / t, lat[N / 2] * 1e6, lat[(int)(N * 0.99)] * 1e6);
  } else if (!strcmp(mode, "stream") || !strcmp(mode, "connect")) {
    printf("%.0f\n", N / t);
  } else if (!strcmp(mode, "big")) {
    printf("%.1f\n", N * (double)msglen / 1e6 / t);
  }
  lws_context_destroy(ctx);
  free(buf);
  free(lat);
  return 0;
}
