/*
** libFuzzer target: the frame parser and message layer of the WebSocket
** protocol engine (stdlib/websocket/wsp_conn.c, wsp_frame.c,
** wsp_deflate.c, common/utf8.c), as a server's bytes reach a client.
**
** Input: byte 0 picks the negotiated options (compression and its
** parameters, a small or large read_limit), byte 1 the input chunk size
** (so frames split at every kind of boundary), byte 2 whether messages are
** echoed back (exercising the deflating sender) and in 16 or 300-byte
** frames; the rest is the stream.
** Checks the engine's promises: text events are valid UTF-8, no message
** exceeds read_limit, errors carry a close code from the allowed set, and
** nothing is reported after the connection closed.
*/
#include "../../net/wsp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const EXT[] = {
    "",
    "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
    "client_no_context_takeover\r\n",
    "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; "
    "client_max_window_bits=9\r\n",
    "Sec-WebSocket-Extensions: permessage-deflate; "
    "client_max_window_bits=8\r\n",
};

static void drain(wsp_conn *c) {
  const uint8_t *o;
  size_t n;
  while ((n = wsp_output(c, &o)) > 0) wsp_output_consumed(c, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  int ext = data[0] % 5, small = (data[0] >> 3) & 1;
  size_t chunk = data[1] ? data[1] : size;
  int echo = data[2] & 1;
  wsp_options o = {
      .host = "fuzz.example",
      .compression = ext ? WSP_COMPRESS_CONTEXT_TAKEOVER : WSP_COMPRESS_NONE,
      .read_limit = small ? 1000 : 1 << 20,
      .compression_threshold = 16,
      .send_frame_size = (data[2] & 2) ? 16 : 300};
  data += 3;
  size -= 3;
  wsp_conn *c;
  char err[200], acc[29], resp[512];
  if (wsp_new(&o, &c, err, sizeof err) != 0) abort();
  size_t rl;
  const char *req = (const char *)wsp_request(c, &rl);
  char key[25];
  memcpy(key, strstr(req, "Sec-WebSocket-Key: ") + 19, 24);
  key[24] = '\0';
  wsp__accept_for_key(key, acc);
  int n =
      snprintf(resp, sizeof resp,
               "HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: %s\r\n%s\r\n",
               acc, EXT[ext]);
  size_t used;
  if (wsp_handshake_feed(c, (const uint8_t *)resp, (size_t)n, &used) !=
      WSP_HS_OK)
    abort();

  size_t pos = 0;
  int closed = 0;
  while (pos < size) {
    size_t k = size - pos < chunk ? size - pos : chunk;
    /* A private copy, so reads past the chunk are caught by ASan. */
    uint8_t *piece = malloc(k);
    memcpy(piece, data + pos, k);
    size_t kp = 0;
    while (kp < k) {
      wsp_event ev;
      size_t u = wsp_feed(c, piece + kp, k - kp, &ev);
      if (u == 0 && ev.type == WSP_EV_NONE) abort(); /* no progress */
      kp += u;
      if (u > k) abort();
      switch (ev.type) {
        case WSP_EV_TEXT:
          if (!sl_utf8_valid(ev.data, ev.len)) abort();
          /* fall through */
        case WSP_EV_BINARY:
          if (closed || ev.len > o.read_limit) abort();
          if (echo &&
              wsp_send(c, ev.type == WSP_EV_TEXT ? WSP_TEXT : WSP_BINARY,
                       ev.data, ev.len) == 0) {
            /* the message must be produced before its data goes away */
            drain(c);
            if (wsp_sending(c)) abort();
          }
          break;
        case WSP_EV_PING:
        case WSP_EV_PONG:
          if (closed || ev.len > 125) abort();
          break;
        case WSP_EV_CLOSE:
          if (closed || (ev.code != 1005 && !wsp_close_code_valid(ev.code)))
            abort();
          if (!sl_utf8_valid(ev.data, ev.len)) abort();
          closed = 1;
          break;
        case WSP_EV_ERROR:
          if (closed || (ev.code != 1002 && ev.code != 1007 &&
                         ev.code != 1009 && ev.code != 1011))
            abort();
          closed = 1;
          break;
        default: break;
      }
      if (closed && wsp_get_state(c) != WSP_CLOSED) abort();
    }
    free(piece);
    if (pos / chunk % 4 == 3) drain(c);
    pos += k;
  }
  drain(c);
  wsp_free(c);
  return 0;
}
