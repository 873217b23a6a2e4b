/*
** wsp_conn.c - the connection: options, the message layer over frames
** (reassembly, size limit, UTF-8, control frames, closing handshake),
** permessage-deflate per message, and the output buffer.
** API and ownership rules: wsproto.h.
*/
#include "wsp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A message buffer larger than this is released once the message was
** handed out (at the next wsp_feed call). */
#define KEEP_MSG_BUFFER ((size_t)1 << 20)

static const uint8_t TRAILER[4] = {0x00, 0x00, 0xff, 0xff};

int wsp_close_code_valid(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

static int opt_err(char *err, size_t errlen, const char *msg, long long v) {
  return sl_errf(err, errlen, -EINVAL, "%s (got %lld)", msg, v);
}

static int check_options(const wsp_options *o, char *err, size_t errlen) {
  if (o->read_limit > WSP_MAX_READ_LIMIT)
    return opt_err(err, errlen, "read_limit must be at most 1 GiB",
                   (long long)o->read_limit);
  if (o->compression < WSP_COMPRESS_NONE ||
      o->compression > WSP_COMPRESS_NO_CONTEXT)
    return opt_err(err, errlen,
                   "compression must be 0 (none), 1 (context takeover) or 2 "
                   "(no context takeover)",
                   o->compression);
  if (o->compression_level < 0 || o->compression_level > 9)
    return opt_err(err, errlen, "compression_level must be 1 to 9 (0: 1)",
                   o->compression_level);
  if (o->server_max_window_bits != 0 &&
      (o->server_max_window_bits < 8 || o->server_max_window_bits > 15))
    return opt_err(err, errlen,
                   "server_max_window_bits must be 8 to 15 (0: "
                   "not requested)",
                   o->server_max_window_bits);
  if (o->server_max_window_bits && o->compression == WSP_COMPRESS_NONE)
    return opt_err(err, errlen, "server_max_window_bits needs compression",
                   o->server_max_window_bits);
  if (o->send_frame_size != 0 && (o->send_frame_size < WSP_MIN_FRAME_SIZE ||
                                  o->send_frame_size > WSP_MAX_FRAME_SIZE))
    return opt_err(err, errlen, "send_frame_size must be 16 bytes to 16 MiB",
                   (long long)o->send_frame_size);
  if (o->header_limit != 0 &&
      (o->header_limit < 256 || o->header_limit > (1 << 20)))
    return opt_err(err, errlen, "header_limit must be 256 bytes to 1 MiB",
                   (long long)o->header_limit);
  return 0;
}

int wsp_new(const wsp_options *o, wsp_conn **out, char *err, size_t errlen) {
  int rc;
  wsp_conn *c;
  *out = NULL;
  if (errlen) err[0] = '\0';
  if ((rc = check_options(o, err, errlen)) != 0) return rc;
  if (!(c = wsp__realloc(o->alloc, NULL, sizeof *c))) goto oom;
  memset(c, 0, sizeof *c);
  c->alloc = o->alloc;
  c->state = WSP_HANDSHAKE;
  c->read_limit = o->read_limit ? o->read_limit : WSP_DEFAULT_READ_LIMIT;
  c->threshold = o->compression_threshold;
  c->frame_size =
      o->send_frame_size ? o->send_frame_size : WSP_DEFAULT_FRAME_SIZE;
  c->header_limit =
      o->header_limit ? o->header_limit : WSP_DEFAULT_HEADER_LIMIT;
  c->mode = o->compression;
  c->level = o->compression_level ? o->compression_level : 1;
  c->req_server_bits = o->server_max_window_bits;
  if (o->zalloc != NULL && o->zfree != NULL) {
    c->zalloc = o->zalloc;
    c->zfree = o->zfree;
  }
  if (o->nsubprotocols) {
    if (o->nsubprotocols > SIZE_MAX / sizeof(char *) ||
        !(c->subprotocols = wsp__realloc(c->alloc, NULL,
                                         o->nsubprotocols * sizeof(char *))))
      goto oom;
    memset(c->subprotocols, 0, o->nsubprotocols * sizeof(char *));
    c->nsubprotocols = o->nsubprotocols;
  }
  if ((rc = wsp__build_request(c, o, err, errlen)) != 0) {
    wsp_free(c);
    return rc;
  }
  for (size_t i = 0; i < o->nsubprotocols; i++)
    if (!(c->subprotocols[i] = wsp__strdup(c->alloc, o->subprotocols[i])))
      goto oom;
  *out = c;
  return 0;
oom:
  wsp_free(c);
  return sl_errf(err, errlen, -ENOMEM, "out of memory");
}

void wsp_free(wsp_conn *c) {
  if (!c) return;
  wsp__alloc_fn a = c->alloc;
  for (size_t i = 0; i < c->nsubprotocols; i++)
    wsp__free(a, c->subprotocols[i]);
  wsp__free(a, c->subprotocols);
  wsp__free(a, c->request.p);
  wsp__free(a, c->response.p);
  wsp__free(a, c->hs_error);
  wsp__free(a, c->hs_location);
  wsp__free(a, c->hs_subprotocol);
  wsp__free(a, c->hs_extensions);
  wsp__free(a, c->msg.p);
  wsp__free(a, c->out.p);
  if (c->inf_ready) inflateEnd(&c->inf);
  if (c->def_ready) deflateEnd(&c->def);
  wsp__free(a, c);
}

const uint8_t *wsp_request(const wsp_conn *c, size_t *len) {
  *len = c->request.len;
  return c->request.p;
}

wsp_state wsp_get_state(const wsp_conn *c) {
  return c->state;
}

/* ==== output ============================================================ */

/* Make the output buffer empty-at-zero when everything was written. */
static void out_compact(wsp_conn *c) {
  if (c->out_pos == c->out.len) c->out_pos = c->out.len = 0;
}

static int queue_control(wsp_conn *c, int op, const uint8_t *a, size_t alen,
                         const uint8_t *b, size_t blen) {
  uint8_t mask[4];
  out_compact(c);
  if (wsp__buf_reserve(&c->out, WSP_MAX_HEADER + alen + blen, c->alloc) != 0)
    return -ENOMEM;
  if (wsp__rng_mask(mask) != 0) return -EIO;
  uint8_t *p = c->out.p + c->out.len;
  size_t h = wsp__write_header(p, 1, 0, op, alen + blen, mask);
  size_t ph = wsp__mask(p + h, a, alen, mask, 0);
  wsp__mask(p + h + alen, b, blen, mask, ph);
  c->out.len += h + alen + blen;
  return 0;
}

static int queue_close(wsp_conn *c, int code, const uint8_t *reason,
                       size_t len) {
  uint8_t cb[2] = {(uint8_t)(code >> 8), (uint8_t)code};
  c->close_sent = 1;
  c->src = NULL; /* no data frame may follow a close */
  if (code == WSP_CLOSE_NO_STATUS)
    return queue_control(c, WSP_OP_CLOSE, NULL, 0, NULL, 0);
  return queue_control(c, WSP_OP_CLOSE, cb, 2, reason, len);
}

int wsp_send(wsp_conn *c, int type, const void *data, size_t len) {
  if (type != WSP_TEXT && type != WSP_BINARY) return -EINVAL;
  if (c->state != WSP_OPEN || c->close_sent) return -EPIPE;
  if (c->src) return -EBUSY;
  if (type == WSP_TEXT && !sl_utf8_valid(data, len)) return -EILSEQ;
  c->src = len ? data : (const uint8_t *)"";
  c->src_len = len;
  c->src_pos = 0;
  c->src_op = type == WSP_TEXT ? WSP_OP_TEXT : WSP_OP_BINARY;
  c->src_first = 1;
  c->src_deflate = c->can_deflate && len >= c->threshold;
  c->carry_len = 0;
  return 0;
}

int wsp_sending(const wsp_conn *c) {
  return c->src != NULL;
}

static int check_control(const wsp_conn *c, size_t len) {
  if (c->state != WSP_OPEN || c->close_sent) return -EPIPE;
  return len > WSP_MAX_CONTROL_PAYLOAD ? -EMSGSIZE : 0;
}

int wsp_ping(wsp_conn *c, const void *data, size_t len) {
  int rc = check_control(c, len);
  return rc ? rc : queue_control(c, WSP_OP_PING, data, len, NULL, 0);
}

int wsp_pong(wsp_conn *c, const void *data, size_t len) {
  int rc = check_control(c, len);
  return rc ? rc : queue_control(c, WSP_OP_PONG, data, len, NULL, 0);
}

int wsp_close(wsp_conn *c, int code, const void *reason, size_t len) {
  if (c->state == WSP_HANDSHAKE || c->close_sent || c->state == WSP_CLOSED)
    return -EPIPE;
  if (code != WSP_CLOSE_NO_STATUS && !wsp_close_code_valid(code))
    return -EINVAL;
  if (len > WSP_MAX_CLOSE_REASON || (code == WSP_CLOSE_NO_STATUS && len) ||
      !sl_utf8_valid(reason, len))
    return -EINVAL;
  int rc = queue_close(c, code, reason, len);
  c->state = c->close_received ? WSP_CLOSED : WSP_CLOSING;
  return rc;
}

static int deflate_ready(wsp_conn *c) {
  if (c->def_ready) return 0;
  c->def.zalloc = c->zalloc;  /* Z_NULL: zlib's own */
  c->def.zfree = c->zfree;
  c->def.opaque = Z_NULL;
  if (deflateInit2(&c->def, c->level, Z_DEFLATED,
                   -c->pmd_params.client_max_window_bits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return -1;
  c->def_ready = 1;
  return 0;
}

/* Produce the next frame of a compressed message into the empty output
** buffer: deflate up to frame_size bytes, hold back the last four (the
** 00 00 ff ff that RFC 7692 §7.2.1 removes from the message end).
** zlib needs more than six bytes of room to finish a sync flush (else it
** emits a new flush marker each call): with frame_size >= 16 every call
** starts with at least 16, so the flush always completes. */
static int produce_deflated(wsp_conn *c) {
  const size_t room = c->frame_size + 4;
  uint8_t mask[4];
  int done = 0;
  if (deflate_ready(c) != 0 ||
      wsp__buf_reserve(&c->out, WSP_MAX_HEADER + room, c->alloc) != 0)
    return -ENOMEM;
  uint8_t *pay = c->out.p + WSP_MAX_HEADER;
  memcpy(pay, c->carry, c->carry_len);
  size_t have = c->carry_len;
  z_stream *z = &c->def;
  while (have < room) {
    size_t left = c->src_len - c->src_pos;
    uInt take = left > (1u << 30) ? (1u << 30) : (uInt)left;
    int flush = take == left ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    z->next_in = (Bytef *)(uintptr_t)(c->src + c->src_pos);
    z->avail_in = take;
    z->next_out = pay + have;
    z->avail_out = (uInt)(room - have);
    int rc = deflate(z, flush);
    c->src_pos += take - z->avail_in;
    have = room - z->avail_out;
    if (rc == Z_BUF_ERROR && flush == Z_SYNC_FLUSH) { /* already flushed */
      done = 1;
      break;
    }
    if (rc != Z_OK) return -EIO;
    if (flush == Z_SYNC_FLUSH && z->avail_in == 0 && z->avail_out > 0) {
      done = 1;
      break;
    }
  }
  if (done && have == 0) {
    /* zlib flushed already and had nothing new (an empty message right
    ** after another message: deflate says Z_BUF_ERROR and writes no
    ** byte).  RFC 7692 §7.2.1 step 2: append an empty stored block
    ** (0x00 then 00 00 ff ff), so the payload is the single 0x00 byte
    ** that §7.2.3.6 shows for an empty message. */
    memcpy(pay, "\x00\x00\x00\xff\xff", 5);
    have = 5;
  }
  if (have < 4) return -EIO; /* cannot happen: a flush ends in 4 bytes */
  size_t plen = have - 4;
  if (done) {
    if (memcmp(pay + plen, TRAILER, 4) != 0) plen = have; /* keep it all */
    c->carry_len = 0;
  } else {
    memcpy(c->carry, pay + plen, 4);
    c->carry_len = 4;
  }
  if (wsp__rng_mask(mask) != 0) return -EIO;
  int op = c->src_first ? c->src_op : WSP_OP_CONT;
  uint8_t hdr[WSP_MAX_HEADER];
  size_t h = wsp__write_header(hdr, done, c->src_first ? 4 : 0, op, plen, mask);
  memcpy(pay - h, hdr, h);
  wsp__mask(pay, pay, plen, mask, 0);
  c->out_pos = WSP_MAX_HEADER - h;
  c->out.len = WSP_MAX_HEADER + plen;
  c->src_first = 0;
  if (done) {
    c->src = NULL;
    if (c->mode == WSP_COMPRESS_NO_CONTEXT ||
        c->pmd_params.client_no_context_takeover)
      deflateReset(z);
  }
  return 0;
}

static int produce_plain(wsp_conn *c) {
  uint8_t mask[4];
  size_t n = c->src_len - c->src_pos;
  if (n > c->frame_size) n = c->frame_size;
  int fin = c->src_pos + n == c->src_len;
  if (wsp__buf_reserve(&c->out, WSP_MAX_HEADER + n, c->alloc) != 0)
    return -ENOMEM;
  if (wsp__rng_mask(mask) != 0) return -EIO;
  size_t h = wsp__write_header(c->out.p, fin, 0,
                               c->src_first ? c->src_op : WSP_OP_CONT, n, mask);
  wsp__mask(c->out.p + h, c->src + c->src_pos, n, mask, 0);
  c->out.len = h + n;
  c->src_pos += n;
  c->src_first = 0;
  if (fin) c->src = NULL;
  return 0;
}

size_t wsp_output(wsp_conn *c, const uint8_t **data) {
  out_compact(c);
  if (c->out.len == 0 && c->src) {
    int rc = c->src_deflate ? produce_deflated(c) : produce_plain(c);
    if (rc != 0) { /* out of memory or zlib failure: give up the message */
      c->src = NULL;
      c->out_pos = c->out.len = 0;
      if (!c->close_sent) {
        queue_close(c, WSP_CLOSE_INTERNAL_ERROR, NULL, 0);
        c->state = WSP_CLOSED;
      }
    }
  }
  if (!c->out.p) { /* nothing was ever queued */
    *data = NULL;
    return 0;
  }
  *data = c->out.p + c->out_pos;
  return c->out.len - c->out_pos;
}

void wsp_output_consumed(wsp_conn *c, size_t n) {
  size_t have = c->out.len - c->out_pos;
  c->out_pos += n < have ? n : have;
  out_compact(c);
}

/* ==== input ============================================================= */

/* The peer broke the protocol: queue our close with `code`, report it. */
static void fail(wsp_conn *c, wsp_event *ev, int code, const char *why) {
  snprintf(c->errtext, sizeof c->errtext, "%s", why);
  if (!c->close_sent)
    queue_close(c, code, (const uint8_t *)c->errtext,
                strlen(c->errtext) > WSP_MAX_CLOSE_REASON ? WSP_MAX_CLOSE_REASON
                                                          : strlen(c->errtext));
  c->state = WSP_CLOSED;
  c->in_payload = 0;
  c->msg_op = 0;
  ev->type = WSP_EV_ERROR;
  ev->code = code;
  ev->error = c->errtext;
  ev->data = NULL;
  ev->len = 0;
}

static int inflate_ready(wsp_conn *c) {
  if (c->inf_ready) return 0;
  c->inf.zalloc = c->zalloc;
  c->inf.zfree = c->zfree;
  c->inf.opaque = Z_NULL;
  if (inflateInit2(&c->inf, -wsp__inflate_bits(
                                c->pmd_params.server_max_window_bits)) != Z_OK)
    return -1;
  c->inf_ready = 1;
  return 0;
}

/* Validate a new frame header; on a violation report it and return 1. */
#define REFUSE(code, why) return fail(c, ev, code, why), 1
static int check_frame(wsp_conn *c, wsp_event *ev) {
  const wsp__frame *f = &c->fr;
  int control = f->opcode & 8;
  if (f->masked)
    REFUSE(WSP_CLOSE_PROTOCOL_ERROR, "masked frame from the server");
  if (f->rsv & 3) REFUSE(WSP_CLOSE_PROTOCOL_ERROR, "RSV2 or RSV3 set");
  if (f->opcode > WSP_OP_BINARY && f->opcode != WSP_OP_CLOSE &&
      f->opcode != WSP_OP_PING && f->opcode != WSP_OP_PONG)
    REFUSE(WSP_CLOSE_PROTOCOL_ERROR, "reserved opcode");
  if (f->rsv & 4) {
    if (!c->pmd)
      REFUSE(WSP_CLOSE_PROTOCOL_ERROR, "RSV1 set without permessage-deflate");
    if (control || f->opcode == WSP_OP_CONT)
      REFUSE(WSP_CLOSE_PROTOCOL_ERROR,
             "RSV1 set on a control or continuation frame");
  }
  if (control) {
    if (f->len > WSP_MAX_CONTROL_PAYLOAD)
      REFUSE(WSP_CLOSE_PROTOCOL_ERROR, "control frame over 125 bytes");
    if (!f->fin) REFUSE(WSP_CLOSE_PROTOCOL_ERROR, "fragmented control frame");
    c->ctl_len = 0;
    return 0;
  }
  if (f->opcode == WSP_OP_CONT) {
    if (!c->msg_op)
      REFUSE(WSP_CLOSE_PROTOCOL_ERROR, "continuation frame without a message");
  } else {
    if (c->msg_op)
      REFUSE(WSP_CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one");
    c->msg_op = f->opcode;
    c->msg_compressed = (f->rsv & 4) != 0;
    c->utf8 = 0;
    c->msg.len = 0;
    if (c->msg_compressed && inflate_ready(c) != 0)
      REFUSE(WSP_CLOSE_INTERNAL_ERROR, "out of memory (zlib)");
  }
  if (!c->msg_compressed && f->len > c->read_limit - c->msg.len)
    REFUSE(WSP_CLOSE_MESSAGE_TOO_BIG, "message too big");
  return 0;
}
#undef REFUSE

/* Check newly assembled text bytes msg[from..len). */
static int check_text(wsp_conn *c, wsp_event *ev, const uint8_t *p, size_t n) {
  if (c->msg_op == WSP_OP_TEXT && sl_utf8_check(&c->utf8, p, n) != (size_t)-1)
    return fail(c, ev, WSP_CLOSE_INVALID_PAYLOAD,
                "invalid UTF-8 in a text message"),
           1;
  return 0;
}

/* Room for `extra` more bytes that arrived (the frame's length was checked
** against read_limit): the buffer doubles as bytes arrive, never past
** read_limit, so a peer that declares 16 MiB and sends 10 bytes makes us
** hold about 10 bytes, not 16 MiB (memory is charged as it arrives). */
static int msg_reserve(wsp_conn *c, size_t extra) {
  wsp__buf *b = &c->msg;
  if (extra <= b->cap - b->len) return 0;
  size_t want = b->len + extra, cap = b->cap ? b->cap : 256;
  while (cap < want) cap *= 2;
  if (cap > c->read_limit) cap = c->read_limit;
  uint8_t *np = wsp__realloc(c->alloc, b->p, cap);
  if (!np) return -1;
  b->p = np;
  b->cap = cap;
  return 0;
}

static int take_payload(wsp_conn *c, const uint8_t *p, size_t n,
                        wsp_event *ev) {
  if (c->fr.opcode & 8) {
    memcpy(c->ctl + c->ctl_len, p, n);
    c->ctl_len += n;
    return 0;
  }
  if (c->msg_compressed) {
    size_t from = c->msg.len;
    int r = wsp__inflate(&c->inf, p, n, &c->msg, c->read_limit, c->alloc);
    if (r > 0)
      return fail(c, ev, WSP_CLOSE_MESSAGE_TOO_BIG,
                  "message too big (inflated)"),
             1;
    if (r == -2)
      return fail(c, ev, WSP_CLOSE_INTERNAL_ERROR, "out of memory (inflate)"),
             1;
    if (r < 0)
      return fail(c, ev, WSP_CLOSE_INVALID_PAYLOAD, "invalid compressed data"),
             1;
    if (c->msg.len == from) return 0; /* (msg.p may still be NULL) */
    return check_text(c, ev, c->msg.p + from, c->msg.len - from);
  }
  if (check_text(c, ev, p, n)) return 1;
  if (msg_reserve(c, n) != 0)
    return fail(c, ev, WSP_CLOSE_INTERNAL_ERROR, "out of memory"), 1;
  memcpy(c->msg.p + c->msg.len, p, n);
  c->msg.len += n;
  return 0;
}

static void end_control(wsp_conn *c, wsp_event *ev) {
  ev->data = c->ctl;
  ev->len = c->ctl_len;
  switch (c->fr.opcode) {
    case WSP_OP_PING:
      /* RFC 6455 §5.5.3 lets us answer only the latest of several pings:
      ** skip the pong while the caller has not written a backlog, so a
      ** peer that pings without reading cannot grow our buffer. */
      if (!c->close_sent && c->out.len - c->out_pos <= WSP_PONG_BACKLOG)
        queue_control(c, WSP_OP_PONG, c->ctl, c->ctl_len, NULL, 0);
      ev->type = WSP_EV_PING;
      return;
    case WSP_OP_PONG: ev->type = WSP_EV_PONG; return;
    default: break;
  }
  /* Close. */
  int code = WSP_CLOSE_NO_STATUS;
  if (c->ctl_len == 1) {
    fail(c, ev, WSP_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte body");
    return;
  }
  if (c->ctl_len >= 2) {
    code = c->ctl[0] << 8 | c->ctl[1];
    if (!wsp_close_code_valid(code)) {
      char why[64];
      snprintf(why, sizeof why, "invalid close code %d", code);
      fail(c, ev, WSP_CLOSE_PROTOCOL_ERROR, why);
      return;
    }
    if (!sl_utf8_valid(c->ctl + 2, c->ctl_len - 2)) {
      fail(c, ev, WSP_CLOSE_INVALID_PAYLOAD,
           "invalid UTF-8 in the close reason");
      return;
    }
    ev->data = c->ctl + 2;
    ev->len = c->ctl_len - 2;
  }
  c->close_received = 1;
  if (!c->close_sent) queue_close(c, code, NULL, 0); /* echo the code */
  c->state = WSP_CLOSED;
  c->msg_op = 0;
  ev->type = WSP_EV_CLOSE;
  ev->code = code;
}

/* A frame's payload is complete: report what it completes, if anything. */
static void end_frame(wsp_conn *c, wsp_event *ev) {
  c->in_payload = 0;
  if (c->fr.opcode & 8) {
    end_control(c, ev);
    return;
  }
  if (!c->fr.fin) return;
  if (c->msg_compressed) {
    size_t from = c->msg.len;
    int r =
        wsp__inflate(&c->inf, TRAILER, 4, &c->msg, c->read_limit, c->alloc);
    if (r > 0) {
      fail(c, ev, WSP_CLOSE_MESSAGE_TOO_BIG, "message too big (inflated)");
      return;
    }
    if (r == -2) {
      fail(c, ev, WSP_CLOSE_INTERNAL_ERROR, "out of memory (inflate)");
      return;
    }
    if (r < 0) {
      fail(c, ev, WSP_CLOSE_INVALID_PAYLOAD, "invalid compressed data");
      return;
    }
    if (c->msg.len > from &&
        check_text(c, ev, c->msg.p + from, c->msg.len - from))
      return;
    if (c->pmd_params.server_no_context_takeover) inflateReset(&c->inf);
  }
  if (c->msg_op == WSP_OP_TEXT && !sl_utf8_done(c->utf8)) {
    fail(c, ev, WSP_CLOSE_INVALID_PAYLOAD,
         "text message ends inside a UTF-8 sequence");
    return;
  }
  ev->type = c->msg_op == WSP_OP_TEXT ? WSP_EV_TEXT : WSP_EV_BINARY;
  ev->data = c->msg.p ? c->msg.p : (const uint8_t *)"";
  ev->len = c->msg.len;
  c->msg_op = 0;
}

size_t wsp_feed(wsp_conn *c, const uint8_t *in, size_t len, wsp_event *ev) {
  size_t pos = 0;
  memset(ev, 0, sizeof *ev);
  /* The last message was handed out and is no longer borrowed: release a
  ** large buffer rather than keep it while the connection idles. */
  if (!c->msg_op && c->msg.cap > KEEP_MSG_BUFFER) {
    wsp__free(c->alloc, c->msg.p);
    c->msg = (wsp__buf){0};
  }
  if (c->state == WSP_HANDSHAKE || c->state == WSP_CLOSED) return len;
  while (pos < len) {
    if (!c->in_payload) {
      size_t used;
      int r = wsp__parse_header(&c->hp, in + pos, len - pos, &used, &c->fr);
      pos += used;
      if (r == 0) break;
      if (r < 0) {
        fail(c, ev, WSP_CLOSE_PROTOCOL_ERROR,
             "64-bit length with the top bit set");
        return len;
      }
      if (check_frame(c, ev)) return len;
      c->remaining = c->fr.len;
      c->in_payload = 1;
      /* A whole unfragmented, uncompressed message in this input: hand
      ** out a pointer into the input, no copy. */
      if (c->fr.fin && !(c->fr.opcode & 8) && c->fr.opcode != WSP_OP_CONT &&
          !c->msg_compressed && c->fr.len <= len - pos) {
        size_t n = (size_t)c->fr.len;
        if (check_text(c, ev, in + pos, n)) return len;
        if (c->msg_op == WSP_OP_TEXT && !sl_utf8_done(c->utf8)) {
          fail(c, ev, WSP_CLOSE_INVALID_PAYLOAD,
               "text message ends inside a UTF-8 sequence");
          return len;
        }
        ev->type = c->msg_op == WSP_OP_TEXT ? WSP_EV_TEXT : WSP_EV_BINARY;
        ev->data = in + pos;
        ev->len = n;
        c->msg_op = 0;
        c->in_payload = 0;
        return pos + n;
      }
    }
    size_t n = len - pos;
    if (n > c->remaining) n = (size_t)c->remaining;
    if (n && take_payload(c, in + pos, n, ev)) return len;
    pos += n;
    c->remaining -= n;
    if (c->remaining == 0) {
      end_frame(c, ev);
      if (ev->type != WSP_EV_NONE) return c->state == WSP_CLOSED ? len : pos;
    }
  }
  return pos;
}
