/*
** escape.h - control characters made visible, for messages.
**
** Every message sandlua builds from input it does not control (an error
** object's message, a diagnostic on stderr) goes through sl_escape_ctl, so
** a CR, LF or ESC in a URL, a header or a file name cannot forge a line of
** output or drive a terminal.  Bytes 0x00-0x1f and 0x7f become \n, \r,
** \t or \xHH; a backslash stays as it is; every other byte (UTF-8
** included) is copied.
*/
#ifndef SL_COMMON_ESCAPE_H
#define SL_COMMON_ESCAPE_H

#include <stddef.h>

/* Bytes sl_escape_ctl writes for s[0..n) (without the NUL). */
size_t sl_escape_ctl_len(const char *s, size_t n);

/*
** Write s[0..n) escaped into out (outlen > 0), always NUL-terminated,
** cut at a whole escape when out is too small.  Returns what the whole
** escaped text needs (as sl_escape_ctl_len), like snprintf.
*/
size_t sl_escape_ctl(char *out, size_t outlen, const char *s, size_t n);

/* Whether s[0..n) has a byte sl_escape_ctl would change. */
int sl_has_ctl(const char *s, size_t n);

#endif
