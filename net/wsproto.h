/*
** wsproto.h - the WebSocket protocol engine: RFC 6455 (client role) and
** RFC 7692 permessage-deflate, with no I/O.
**
** Bytes in, events and bytes out.  The engine never touches a socket, a
** clock, Lua or an event loop; the WebSocket client (stdlib/websocket.c)
** carries its bytes over its own TCP socket (plain or through
** OpenSSL memory BIOs) and turns its events into Lua values.  Because it is
** pure, it is unit-tested and fuzzed on its own.
**
** Lifecycle of one connection:
**
**   1. wsp_new(&opts, &c, err, sizeof err)   validate options, build request
**   2. wsp_request(c, &len)                  write these bytes to the peer
**   3. wsp_handshake_feed(c, in, n, &used)   until WSP_HS_OK or WSP_HS_FAIL;
**      wsp_handshake_result(c)               status, subprotocol, extensions
**      or failure reason; bytes after the response (in + used) are frames:
**   4. wsp_feed(c, in, n, &ev)               returns bytes consumed; call it
**      again until all input is consumed, handling each event it reports
**      (ev.type != WSP_EV_NONE) before the next call
**      wsp_send(c, WSP_TEXT, p, n)           start a data message
**      wsp_ping / wsp_pong / wsp_close       queue control frames
**      wsp_output(c, &p) / wsp_output_consumed(c, n)
**                                            bytes to write to the peer
**   5. when wsp_get_state(c) == WSP_CLOSED and the output is empty,
**      close the transport; wsp_free(c).
**
** Ownership and buffering, explicitly:
**  - Options are copied by wsp_new; the caller's strings may go away after.
**  - The request (wsp_request) and the handshake result belong to the
**    engine and live until wsp_free.
**  - Input passed to wsp_handshake_feed / wsp_feed is only read during the
**    call; the engine copies what it must keep (a partial frame header, a
**    fragmented or compressed message, a control frame payload).
**  - Event data (ev.data, ev.error) is borrowed: valid until the next call
**    of wsp_feed or wsp_free.  An unfragmented, uncompressed message that
**    arrived whole inside one input buffer is delivered as a pointer into
**    that input buffer (no copy): keep the input alive while using the event.
**    Every other message is delivered as one contiguous engine buffer.
**  - Output lives in one engine buffer.  wsp_send does NOT copy the message:
**    the caller keeps `data` alive and unchanged while wsp_sending(c) is
**    true; each wsp_output call that finds the buffer empty produces the
**    next frame (at most send_frame_size payload bytes, masked or deflated
**    straight from `data` into the buffer: one pass, no copy of the whole
**    message).  Control frames (ping, pong, close, automatic replies) are
**    queued at once and go out between data frames.
**
** Memory: every block a connection owns comes from wsp_options.alloc
** (libc's by default) and zlib's from zalloc/zfree; wsp_free gives all of
** it back.
**
** Errors: functions return 0 or a negative errno code (-EINVAL bad argument,
** -ENOMEM, -EBUSY a message is still being produced, -EPIPE the connection
** is closing or closed); wsp_new also writes a message into err.  Protocol
** violations by the peer are not return values but WSP_EV_ERROR events
** carrying the close code the engine has already queued for the peer.
**
** Not thread-safe: one connection is used by one thread at a time.
** Different connections share nothing.
*/
#ifndef SL_STDLIB_WEBSOCKET_WSPROTO_H
#define SL_STDLIB_WEBSOCKET_WSPROTO_H

#include <stddef.h>
#include <stdint.h>

/* Close codes (RFC 6455 §7.4.1, IANA registry). */
#define WSP_CLOSE_NORMAL 1000
#define WSP_CLOSE_GOING_AWAY 1001
#define WSP_CLOSE_PROTOCOL_ERROR 1002
#define WSP_CLOSE_UNSUPPORTED_DATA 1003
#define WSP_CLOSE_NO_STATUS 1005 /* never on the wire */
#define WSP_CLOSE_ABNORMAL 1006  /* never on the wire */
#define WSP_CLOSE_INVALID_PAYLOAD 1007
#define WSP_CLOSE_POLICY_VIOLATION 1008
#define WSP_CLOSE_MESSAGE_TOO_BIG 1009
#define WSP_CLOSE_MANDATORY_EXTENSION 1010
#define WSP_CLOSE_INTERNAL_ERROR 1011
#define WSP_CLOSE_SERVICE_RESTART 1012
#define WSP_CLOSE_TRY_AGAIN_LATER 1013
#define WSP_CLOSE_BAD_GATEWAY 1014

/* Defaults and bounds of the options. */
#define WSP_DEFAULT_READ_LIMIT ((size_t)16 << 20) /* 16 MiB */
#define WSP_MAX_READ_LIMIT ((size_t)1 << 30)      /* 1 GiB */
#define WSP_DEFAULT_FRAME_SIZE ((size_t)64 << 10) /* 64 KiB */
#define WSP_MIN_FRAME_SIZE ((size_t)16)
#define WSP_MAX_FRAME_SIZE ((size_t)16 << 20)       /* 16 MiB */
#define WSP_DEFAULT_HEADER_LIMIT ((size_t)16 << 10) /* 16 KiB */
/* The largest handshake request the engine builds (servers commonly
** refuse headers past 8-16 KiB; a bigger one is INVALID, not sent). */
#define WSP_MAX_REQUEST 16384
#define WSP_MAX_CONTROL_PAYLOAD 125
#define WSP_MAX_CLOSE_REASON 123
/* Automatic pongs are skipped while more than this much output is
** unwritten (the peer pings but does not read). */
#define WSP_PONG_BACKLOG ((size_t)256 << 10)

typedef struct wsp_conn wsp_conn; /* opaque */

/* Compression modes (values match the Lua constants). */
typedef enum wsp_compression {
  WSP_COMPRESS_NONE = 0,             /* no extension offered */
  WSP_COMPRESS_CONTEXT_TAKEOVER = 1, /* sliding window kept across messages */
  WSP_COMPRESS_NO_CONTEXT = 2        /* both sides reset per message */
} wsp_compression;

/* One extra request header; both strings are copied by wsp_new. */
typedef struct wsp_header {
  const char *name;
  const char *value;
} wsp_header;

typedef struct wsp_options {
  const char *host; /* required: reg-name, IPv4 or IPv6 literal */
  const char *path; /* request target, "/" when NULL; must start with '/' */
  int port;         /* 0: the default (80, or 443 when is_tls) */
  int is_tls;       /* wss: only changes the default port */
  const char *const *subprotocols; /* offered in order; tokens, distinct */
  size_t nsubprotocols;
  const wsp_header *headers; /* extra headers, validated */
  size_t nheaders;
  size_t read_limit; /* max message size (after inflation); 0: default */
  int compression;   /* wsp_compression */
  size_t compression_threshold; /* messages shorter than this are sent
                                    uncompressed (RSV1 clear) */
  int compression_level;        /* zlib level 1..9; 0: 1 (fast) */
  int server_max_window_bits;   /* 0: not requested; 8..15: ask the server
                                    to deflate with at most this window */
  size_t send_frame_size;       /* max payload per data frame, 16 B to
                                    16 MiB; 0: default */
  size_t header_limit;          /* max response header block; 0: default */
  /* zlib's allocator for the compression state (zlib's alloc_func and
  ** free_func, opaque NULL); both NULL: zlib's default (malloc). */
  void *(*zalloc)(void *opaque, unsigned items, unsigned size);
  void (*zfree)(void *opaque, void *p);
  /* The allocator of everything else the connection owns (the connection,
  ** its copies of the options, request, response, receive and output
  ** buffers, the message being assembled), realloc-style: ptr NULL
  ** allocates, size 0 frees (returns NULL), NULL on failure (ptr
  ** untouched).  NULL: libc's.  A refused allocation is an error of that
  ** operation (-ENOMEM, a failed handshake, a WSP_EV_ERROR with 1011, or
  ** a message abandoned with a 1011 close). */
  void *(*alloc)(void *ptr, size_t size);
} wsp_options;

/*
** Validate `opts`, copy them and build the handshake request (drawing the
** 16-byte Sec-WebSocket-Key from OpenSSL's CSPRNG).  On success stores the
** new connection in *out and returns 0.  On failure returns -EINVAL (a
** message naming the bad option in err) or -ENOMEM, and *out is NULL.
*/
int wsp_new(const wsp_options *opts, wsp_conn **out, char *err, size_t errlen);

/* Free the connection and everything it owns.  NULL is a no-op. */
void wsp_free(wsp_conn *c);

/* The handshake request to send: *len bytes, owned by c (followed by a
** NUL that is not counted). */
const uint8_t *wsp_request(const wsp_conn *c, size_t *len);

/* ==== Opening handshake ================================================ */

typedef enum wsp_hs_status {
  WSP_HS_FAIL = -1, /* see wsp_handshake_result(c)->error */
  WSP_HS_MORE = 0,  /* the whole input was consumed; feed more */
  WSP_HS_OK = 1     /* connection open; *used bytes were the response */
} wsp_hs_status;

typedef struct wsp_handshake_info {
  int status;              /* HTTP status, 0 when no status line parsed */
  const char *error;       /* failure reason, NULL on success */
  const char *location;    /* Location header of a 3xx response, or NULL */
  const char *subprotocol; /* chosen subprotocol, or NULL */
  const char *extensions;  /* Sec-WebSocket-Extensions as received, or NULL */
  /* permessage-deflate as agreed (all 0 when compression is off). */
  int compression; /* 1 when permessage-deflate is in use */
  int server_no_context_takeover;
  int client_no_context_takeover;
  int server_max_window_bits; /* 8..15 */
  int client_max_window_bits; /* 8..15; 8 means we never compress (zlib) */
} wsp_handshake_info;

/*
** Feed bytes of the server's response.  Returns WSP_HS_MORE when every byte
** was consumed and the header block is not complete yet, WSP_HS_OK when the
** response was a valid acceptance (*used = bytes of the response; the rest
** of `in` is the first frame data, for wsp_feed), or WSP_HS_FAIL (any
** status but 101, a bad header, a wrong Sec-WebSocket-Accept, an unoffered
** subprotocol or extension, a block over header_limit).  After a failure
** the caller closes the transport; no close frame is sent.
*/
wsp_hs_status wsp_handshake_feed(wsp_conn *c, const uint8_t *in, size_t len,
                                 size_t *used);

/* The handshake outcome; valid after WSP_HS_OK or WSP_HS_FAIL. */
const wsp_handshake_info *wsp_handshake_result(const wsp_conn *c);

/* ==== Frames and messages ============================================== */

typedef enum wsp_event_type {
  WSP_EV_NONE = 0, /* input consumed without a complete event */
  WSP_EV_TEXT,     /* data/len: a whole, valid UTF-8 message */
  WSP_EV_BINARY,   /* data/len: a whole message */
  WSP_EV_PING,     /* data/len: payload; the pong is already queued
                       (unless WSP_PONG_BACKLOG bytes wait to be written) */
  WSP_EV_PONG,     /* data/len: payload */
  WSP_EV_CLOSE,    /* code (1005 when none), data/len: UTF-8 reason.
                       If the peer started the close, the reply is queued;
                       either way the state is now WSP_CLOSED. */
  WSP_EV_ERROR     /* the peer broke the protocol: code is the close code
                       queued for the peer (1002, 1007, 1009), error says
                       why; the state is WSP_CLOSED */
} wsp_event_type;

typedef struct wsp_event {
  wsp_event_type type;
  const uint8_t *data; /* borrowed, see the ownership notes above */
  size_t len;
  int code;          /* WSP_EV_CLOSE and WSP_EV_ERROR */
  const char *error; /* WSP_EV_ERROR */
} wsp_event;

typedef enum wsp_state {
  WSP_HANDSHAKE = 0, /* before WSP_HS_OK */
  WSP_OPEN,          /* messages flow both ways */
  WSP_CLOSING,       /* we sent a close frame and wait for the peer's */
  WSP_CLOSED         /* close handshake done or connection failed: flush
                         the output, then close the transport */
} wsp_state;

/*
** Parse frame bytes.  Returns how many bytes of `in` were consumed and
** fills *ev; stops right after the first event, so call it again with the
** rest.  Input can be split at any byte.  In WSP_CLOSED state, or before
** the handshake succeeded, input is ignored (all consumed, no event).
*/
size_t wsp_feed(wsp_conn *c, const uint8_t *in, size_t len, wsp_event *ev);

wsp_state wsp_get_state(const wsp_conn *c);

/* Message types for wsp_send. */
#define WSP_TEXT 1
#define WSP_BINARY 2

/*
** Start sending a message (see ownership: `data` must outlive
** wsp_sending(c)).  Text must be valid UTF-8 (-EILSEQ otherwise).  With
** permessage-deflate agreed, messages of at least compression_threshold
** bytes are compressed (RSV1), others go as they are.  Returns 0, -EBUSY
** (a message is still being produced), -EPIPE (close sent or received),
** -EINVAL (bad type).
*/
int wsp_send(wsp_conn *c, int type, const void *data, size_t len);

/* 1 while the message from wsp_send still has frames to produce. */
int wsp_sending(const wsp_conn *c);

/* Queue a ping or pong; len <= 125 (-EMSGSIZE); -EPIPE when closed. */
int wsp_ping(wsp_conn *c, const void *data, size_t len);
int wsp_pong(wsp_conn *c, const void *data, size_t len);

/*
** Start the closing handshake: queue a close frame.  code 1005 sends an
** empty close body; otherwise code must be one a peer may send (1000-1003,
** 1007-1014, 3000-4999) and reason valid UTF-8 of at most 123 bytes
** (-EINVAL).  A message still being produced is abandoned (the RFC allows
** a close between fragments).  State becomes WSP_CLOSING, or WSP_CLOSED if
** the peer's close was already received.  -EPIPE when a close was sent.
*/
int wsp_close(wsp_conn *c, int code, const void *reason, size_t len);

/*
** Bytes ready to be written: stores a pointer (valid until the next call
** on c) in *data and returns their count, producing the next frame of the
** message being sent when the buffer is empty.  0 means nothing to write.
*/
size_t wsp_output(wsp_conn *c, const uint8_t **data);

/* Mark n bytes returned by wsp_output as written. */
void wsp_output_consumed(wsp_conn *c, size_t n);

/* Close codes: 1 if `code` may appear in a close frame on the wire. */
int wsp_close_code_valid(int code);

#endif
