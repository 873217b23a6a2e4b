/*
** wsp_internal.h - internals shared by the files of the WebSocket protocol
** engine (wsp_frame.c, wsp_deflate.c, wsp_handshake.c,
** wsp_conn.c), their unit tests, the fuzz targets and the benchmark.
** Not part of the engine's API: the client uses wsproto.h only.
*/
#ifndef SL_STDLIB_WEBSOCKET_WSP_INTERNAL_H
#define SL_STDLIB_WEBSOCKET_WSP_INTERNAL_H

#include "wsproto.h"

#include "../common/errbuf.h"
#include "../common/utf8.h"

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* Opcodes (RFC 6455 §5.2). */
#define WSP_OP_CONT 0x0
#define WSP_OP_TEXT 0x1
#define WSP_OP_BINARY 0x2
#define WSP_OP_CLOSE 0x8
#define WSP_OP_PING 0x9
#define WSP_OP_PONG 0xA

#define WSP_MAX_HEADER 14 /* 2 + 8 (length) + 4 (mask) */

/* ==== wsp_frame.c: frame headers, masking, mask CSPRNG ================= */

typedef struct wsp__frame {
  int fin, rsv, opcode, masked; /* rsv: the three bits, RSV1 = 4 */
  uint8_t mask[4];
  uint64_t len;
} wsp__frame;

/* Incremental header parser: keeps the bytes of a header split across
** inputs.  Zero-initialise before the first header. */
typedef struct wsp__hparser {
  uint8_t hdr[WSP_MAX_HEADER];
  size_t have;
} wsp__hparser;

/*
** Consume header bytes.  Returns 1 when a header is complete (*f filled,
** parser reset for the next one), 0 when all of `in` was used and more is
** needed, -1 for a 64-bit length with its top bit set.  *used: bytes taken.
** Minimal length encoding is not required (RFC 6455 §5.2 requires it of
** senders only; receivers that reject it gain nothing).
*/
int wsp__parse_header(wsp__hparser *p, const uint8_t *in, size_t len,
                      size_t *used, wsp__frame *f);

/* Write a frame header into out (WSP_MAX_HEADER bytes); mask NULL for an
** unmasked frame.  Returns its length. */
size_t wsp__write_header(uint8_t *out, int fin, int rsv, int opcode,
                         uint64_t len, const uint8_t *mask);

/*
** dst[i] = src[i] ^ mask[(phase + i) % 4] for i < n; dst may equal src
** (unmask in place).  Works a 64-bit word at a time.  Returns the phase
** for the next chunk of the same payload.
*/
size_t wsp__mask(uint8_t *dst, const uint8_t *src, size_t n,
                 const uint8_t mask[4], size_t phase);

/*
** Random bytes for masks and handshake keys from OpenSSL's CSPRNG
** (RAND_bytes), drawn WSP__RNG_POOL bytes at a time into one pool per
** thread, so that a frame or a connection costs no call into OpenSSL and
** no system call (RAND_bytes makes one getpid per call for its fork check,
** and its fixed cost is ~1 us): bench/wsproto measures ~160x the speed of
** RAND_bytes(4) per frame.  The pool is shared by every connection of the
** thread (a short connection does not draw a block of its own); bytes
** handed out are wiped from it, and a forked child starts with an empty
** pool (pthread_atfork), so parent and child never reuse the same bytes.
*/
#define WSP__RNG_POOL 2048
#define WSP__RNG_MAX 64 /* the largest single draw */

/* n (<= WSP__RNG_MAX) fresh random bytes; -1 if OpenSSL's generator
** fails. */
int wsp__rng_bytes(uint8_t *out, size_t n);
/* Four fresh random bytes (a frame mask). */
int wsp__rng_mask(uint8_t out[4]);
/* Bytes left in this thread's pool (tests). */
size_t wsp__rng_left(void);

/* ==== wsp_deflate.c: permessage-deflate negotiation and codecs ========= */

typedef struct wsp__pmd {
  int server_no_context_takeover;
  int client_no_context_takeover;
  int server_max_window_bits; /* 8..15 */
  int client_max_window_bits; /* 8..15 */
} wsp__pmd;

/* The Sec-WebSocket-Extensions value we offer (NUL-terminated, in out of
** size outlen) for a mode and requested server window (0 = none). */
int wsp__pmd_offer(char *out, size_t outlen, int mode, int server_bits);

/*
** Check the server's Sec-WebSocket-Extensions value against our offer:
** exactly one extension, permessage-deflate, each parameter known, at most
** once, with a valid value, and allowed by the offer (RFC 7692 §7.1).
** Fills *agreed and returns 0, or returns -1 with a reason in err.
*/
int wsp__pmd_accept(const char *value, int mode, int server_bits,
                    wsp__pmd *agreed, char *err, size_t errlen);

/* The connection's allocator (wsp_options.alloc); NULL: libc's. */
typedef void *(*wsp__alloc_fn)(void *ptr, size_t size);

/* realloc through `a` (size > 0); NULL on failure, p untouched. */
void *wsp__realloc(wsp__alloc_fn a, void *p, size_t size);
/* free through `a`; NULL is a no-op. */
void wsp__free(wsp__alloc_fn a, void *p);
/* strdup through `a`. */
char *wsp__strdup(wsp__alloc_fn a, const char *s);

/* A growable byte buffer. */
typedef struct wsp__buf {
  uint8_t *p;
  size_t len, cap;
} wsp__buf;

/* Make room for `extra` more bytes (grows by doubling, through `a`); -1
** on ENOMEM. */
int wsp__buf_reserve(wsp__buf *b, size_t extra, wsp__alloc_fn a);

/*
** Inflate n bytes into out without ever storing more than limit bytes:
** returns 0, 1 when the output would exceed limit (the message is too big;
** nothing past limit was stored), -1 for corrupt data, or -2 when memory
** was refused (the output buffer or zlib's window).  The buffer
** grows (through `a`) by doubling up to limit, and only when more output
** exists.  A
** BFINAL block ends the deflate stream; the stream is restarted with its
** window kept, so later data may still refer to it.
*/
int wsp__inflate(z_stream *z, const uint8_t *in, size_t n, wsp__buf *out,
                 size_t limit, wsp__alloc_fn a);

/* zlib windowBits for inflating data from a peer that agreed to `bits`. */
int wsp__inflate_bits(int bits);

/* ==== wsp_handshake.c ================================================== */

/* Sec-WebSocket-Accept for a key (base64 text) into out[29]. */
int wsp__accept_for_key(const char *key, char out[29]);

/* Build the request into c; validates options.  -EINVAL with err set. */
struct wsp_conn;
int wsp__build_request(struct wsp_conn *c, const wsp_options *o, char *err,
                       size_t errlen);
/* Set up zlib for the agreed permessage-deflate (wsp_conn.c). */
int wsp__pmd_start(struct wsp_conn *c);

/* ==== the connection (wsp_conn.c) ====================================== */

struct wsp_conn {
  wsp_state state;
  /* Options, copied. */
  size_t read_limit, threshold, frame_size, header_limit;
  int mode, level, req_server_bits;
  void *(*zalloc)(void *opaque, unsigned items, unsigned size);
  void (*zfree)(void *opaque, void *p);
  wsp__alloc_fn alloc; /* of the connection and all it owns */
  char **subprotocols;
  size_t nsubprotocols;

  /* Handshake. */
  wsp__buf request;
  char accept[29];   /* expected Sec-WebSocket-Accept */
  wsp__buf response; /* header block collected so far */
  wsp_handshake_info info;
  char *hs_error, *hs_location, *hs_subprotocol, *hs_extensions;

  /* Receiving. */
  wsp__hparser hp;
  wsp__frame fr;      /* current frame */
  int in_payload;     /* header parsed, payload bytes pending */
  uint64_t remaining; /* payload bytes of fr still to come */
  int msg_op;         /* opcode of the message being assembled, 0: none */
  int msg_compressed;
  sl_utf8 utf8;
  wsp__buf msg; /* assembled (inflated) message */
  uint8_t ctl[WSP_MAX_CONTROL_PAYLOAD];
  size_t ctl_len;
  int close_sent, close_received;
  char errtext[128];

  /* permessage-deflate. */
  int pmd; /* agreed */
  wsp__pmd pmd_params;
  z_stream inf, def;
  int inf_ready, def_ready, can_deflate;

  /* Sending. */
  wsp__buf out;
  size_t out_pos;     /* bytes of out already written */
  const uint8_t *src; /* message being produced, NULL when none */
  size_t src_len, src_pos;
  int src_op, src_first, src_deflate;
  uint8_t carry[4]; /* deflate tail held back (00 00 ff ff) */
  size_t carry_len;
};

#endif
