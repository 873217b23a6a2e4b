/*
** tls.h - TLS client over OpenSSL memory BIOs, with no socket of its own.
**
** The WebSocket client moves bytes between the network (its own
** non-blocking sockets and send queue) and this unit: ciphertext read from the
** socket goes in with sl_tls_feed(), plaintext comes out of sl_tls_read();
** plaintext to send goes in with sl_tls_write(), and the ciphertext to put
** on the wire is taken with sl_tls_take().  After EVERY call, send what
** sl_tls_pending() reports (the handshake and close_notify produce output
** too).
**
** Trust: one process-wide client SSL_CTX made by sl_tls_init() at start-up,
** before the sandbox locks down: TLS 1.2 minimum, peer verification,
** OpenSSL's default trust store (honours SSL_CERT_FILE and SSL_CERT_DIR).
** A connection may name an extra CA file (a private CA): it gets an SSL_CTX
** that trusts the default store plus that file, made on first use and
** cached by path until sl_tls_cleanup().  Loading on first use reads the file
** then: after the sandbox is up it must still be readable, or preload it
** with sl_tls_preload_ca() before.  Note that the default store's hashed
** directory (SSL_CERT_DIR, /usr/lib/ssl/certs) is looked up lazily at verify
** time, and the bundle file (SSL_CERT_FILE) by the first connection that
** uses the default store: start-up does not pay for parsing it.
**
** Per connection: SNI for host names (never for IP literals), host name or
** IP address verification (no partial wildcards), ALPN "http/1.1".
** Failures give a clear reason: "certificate verify failed: hostname
** mismatch", "... certificate has expired", "... unable to get local issuer
** certificate", or the OpenSSL error queue's reason.
**
** Memory: an idle established connection holds about 15 KiB (OpenSSL 3.0,
** P-256 certificate): the 16 KiB record buffer is given back whenever
** sl_tls_read() has drained the input, and a memory buffer that grew past
** 16 KiB (a large message) is replaced once drained.  Writing a large
** message at once still buffers all its ciphertext until taken: write big
** messages in pieces and take after each.
**
** Lifecycle:
**   sl_tls_init(err)                 once, at start-up
**   c = sl_tls_new(host, cafile, err) per connection, then sl_tls_handshake()
**       after each sl_tls_feed() until it returns SL_TLS_OK
**   sl_tls_read / sl_tls_write       data
**   sl_tls_close(c)                  queue close_notify (optional)
**   sl_tls_free(c)
**   sl_tls_cleanup()                 at exit (frees every SSL_CTX)
** Not thread-safe: everything runs on the event loop's thread.
*/
#ifndef SL_WEBSOCKET_TLS_H
#define SL_WEBSOCKET_TLS_H

#include <stddef.h>
#include <sys/types.h>

/* Results of sl_tls_handshake, sl_tls_read and sl_tls_write. */
#define SL_TLS_OK 0        /* handshake done / call succeeded */
#define SL_TLS_AGAIN (-1)  /* needs more ciphertext from the peer */
#define SL_TLS_CLOSED (-2) /* the peer sent close_notify */
#define SL_TLS_ERROR (-3)  /* failed: see sl_tls_error(); the state is dead */

typedef struct sl_tls_conn sl_tls_conn;

/*
** Create the process-wide client context and load the default trust store.
** Idempotent.  Returns 0, or -1 with a message in err.
*/
int sl_tls_init(char *err, size_t errlen);

/*
** Make (and cache) the context for an extra CA file now, e.g. before the
** sandbox is applied.  Returns 0, or -1 with a message in err (file
** unreadable, no certificate in it).  Needs sl_tls_init() first.
*/
int sl_tls_preload_ca(const char *cafile, char *err, size_t errlen);

/*
** Trust cafile in every connection from now on (the default context and
** every CA context made later): --ca-file.  Read now (before the sandbox).
** 0, or -1 with a message in err (unreadable, no certificate in it).
*/
int sl_tls_trust_ca(const char *cafile, char *err, size_t errlen);

/* The handshake of c failed because the peer's certificate did not verify
** (an untrusted issuer, a wrong name, expired...): retrying will not help. */
int sl_tls_verify_failed(const sl_tls_conn *c);

/* Free every context (the default one and the cached CA ones). */
void sl_tls_cleanup(void);

/*
** A new client connection for host (a DNS name or an IP literal, IPv6 with
** or without brackets; it is what the certificate must match), trusting the
** default store plus cafile if not NULL or "".  The caller owns the result and
** frees it with sl_tls_free().  Returns NULL with a message in err on
** failure (no init, empty host, CA file cannot be loaded, out of memory).
** The handshake starts at the first sl_tls_handshake() call.
*/
sl_tls_conn *sl_tls_new(const char *host, const char *cafile, char *err,
                        size_t errlen);

/* Free c and everything it holds; NULL is fine. */
void sl_tls_free(sl_tls_conn *c);

/*
** Give c ciphertext received from the network (copied; never fails short).
** Returns 0, or -1 if out of memory (then c is failed).
*/
int sl_tls_feed(sl_tls_conn *c, const void *data, size_t len);

/*
** Drive the handshake with what has been fed.  Returns SL_TLS_OK once
** established (and on every later call), SL_TLS_AGAIN when it needs more
** input (send sl_tls_pending() bytes first), SL_TLS_ERROR on failure.
*/
int sl_tls_handshake(sl_tls_conn *c);

/* 1 once the handshake has completed, else 0. */
int sl_tls_established(const sl_tls_conn *c);

/*
** Decrypt into buf up to len bytes.  Returns the number of bytes (> 0),
** SL_TLS_AGAIN (no complete record buffered: feed more), SL_TLS_CLOSED
** (the peer's close_notify was read: no more data will come), or
** SL_TLS_ERROR.  Call it until it returns something <= 0 after each feed.
** Before the handshake is done it returns SL_TLS_AGAIN.
*/
ssize_t sl_tls_read(sl_tls_conn *c, void *buf, size_t len);

/*
** Encrypt len bytes of plaintext; all of them are accepted (the ciphertext
** grows the output buffer: take it).  Returns SL_TLS_OK, SL_TLS_AGAIN
** before the handshake is done, SL_TLS_CLOSED after sl_tls_close(), or
** SL_TLS_ERROR.
*/
int sl_tls_write(sl_tls_conn *c, const void *data, size_t len);

/* Ciphertext bytes waiting to be sent. */
size_t sl_tls_pending(const sl_tls_conn *c);

/*
** Move up to len bytes of waiting ciphertext into buf; returns how many.
** Take only what the socket accepted: what is left stays queued in order.
*/
size_t sl_tls_take(sl_tls_conn *c, void *buf, size_t len);

/*
** Queue our close_notify (idempotent; a no-op before the handshake or after
** an error).  Send sl_tls_pending() bytes afterwards.  Returns SL_TLS_OK or
** SL_TLS_ERROR.
*/
int sl_tls_close(sl_tls_conn *c);

/*
** After SL_TLS_ERROR, sl_tls_pending() may still hold an alert for the peer
** (e.g. "bad certificate"): send it if the socket takes it, then close.
**
** Why c failed ("" if it has not): "certificate verify failed: hostname
** mismatch", "TLS handshake failed: ...", "TLS error: ...".  Owned by c.
*/
const char *sl_tls_error(const sl_tls_conn *c);

/* The negotiated protocol version ("TLSv1.3") and ALPN ("" if none). */
const char *sl_tls_version(const sl_tls_conn *c);
const char *sl_tls_alpn(const sl_tls_conn *c, char *buf, size_t len);

#endif
