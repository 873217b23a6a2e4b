/*
** libFuzzer target: the handshake response parser of the WebSocket
** protocol engine (stdlib/websocket/wsp_handshake.c, the permessage-deflate
** negotiation in wsp_deflate.c).
**
** Input: byte 0 picks the offer (compression mode, a requested server
** window) and byte 1 the chunk size; the rest is the server's response,
** where "@A@" is replaced by the right Sec-WebSocket-Accept (the key is
** random) so the fuzzer gets past that check.  Checks: a success reports
** status 101 and a subprotocol from the offered list, consumes no more than
** it was given, and frames after the response are accepted by wsp_feed.
*/
#include "../../net/wsp_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > 40000) return 0;
  static const char *const protos[] = {"chat", "json"};
  int mode = data[0] % 3,
      sbits = (data[0] >> 2) & 1 ? 8 + (data[0] >> 4) % 8 : 0;
  size_t chunk = data[1] ? data[1] : size;
  wsp_options o = {.host = "fuzz.example",
                   .subprotocols = protos,
                   .nsubprotocols = 2,
                   .compression = mode,
                   .server_max_window_bits = mode ? sbits : 0,
                   .header_limit = 4096};
  wsp_conn *c;
  char err[200], acc[29], key[25];
  if (wsp_new(&o, &c, err, sizeof err) != 0) abort();
  size_t rl;
  const char *req = (const char *)wsp_request(c, &rl);
  memcpy(key, strstr(req, "Sec-WebSocket-Key: ") + 19, 24);
  key[24] = '\0';
  wsp__accept_for_key(key, acc);

  /* Expand "@A@" into the accept value. */
  uint8_t *in = malloc((size - 2) * 10 + 1);
  size_t n = 0;
  for (size_t i = 2; i < size; i++) {
    if (i + 2 < size && memcmp(data + i, "@A@", 3) == 0) {
      memcpy(in + n, acc, 28);
      n += 28;
      i += 2;
    } else {
      in[n++] = data[i];
    }
  }

  size_t pos = 0;
  wsp_hs_status st = WSP_HS_MORE;
  while (pos < n && st == WSP_HS_MORE) {
    size_t k = n - pos < chunk ? n - pos : chunk, used;
    uint8_t *piece = malloc(k);
    memcpy(piece, in + pos, k);
    st = wsp_handshake_feed(c, piece, k, &used);
    free(piece);
    if (used > k || (st == WSP_HS_MORE && used != k)) abort();
    pos += used;
  }
  const wsp_handshake_info *hi = wsp_handshake_result(c);
  if (st == WSP_HS_OK) {
    if (hi->status != 101 || hi->error) abort();
    if (hi->subprotocol && strcmp(hi->subprotocol, "chat") &&
        strcmp(hi->subprotocol, "json"))
      abort();
    if (hi->compression && (!mode || hi->server_max_window_bits < 8 ||
                            hi->server_max_window_bits > 15 ||
                            /* 15: the server did not confirm our request,
                            ** which we accept (see docs) */
                            (sbits && hi->server_max_window_bits > sbits &&
                             hi->server_max_window_bits != 15)))
      abort();
    while (pos < n) { /* the rest are frames */
      wsp_event ev;
      size_t u = wsp_feed(c, in + pos, n - pos, &ev);
      if (u == 0 && ev.type == WSP_EV_NONE) abort();
      pos += u;
    }
  } else if (st == WSP_HS_FAIL) {
    if (!hi->error || wsp_get_state(c) != WSP_CLOSED) abort();
  }
  free(in);
  wsp_free(c);
  return 0;
}
