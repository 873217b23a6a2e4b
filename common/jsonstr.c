/*
** jsonstr.c - JSON string escaping (see jsonstr.h): the byte table and
** the escaper's instance for each mode.
*/
#include "jsonstr.h"

const unsigned char sl_jsonstr_plain[256] = {
  /* '"' (0x22) and '\\' (0x5c) are 0 */
  [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  [0x30] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  [0x40] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  [0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
  [0x60] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  [0x70] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

size_t sl_jsonstr_escape(const char *s, size_t n, size_t *pos, char *out,
                         size_t outlen, int mode, int *bad) {
  if (bad) *bad = 0;
  if (mode == SL_JSONSTR_SAFE)
    return sl_jsonstr__escape(s, n, pos, out, outlen, 1, bad);
  return sl_jsonstr__escape(s, n, pos, out, outlen, 0, bad);
}
