#ifndef VOUCH_BASE64_H
#define VOUCH_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decodes standard padded base64 (RFC 4648 §4, '=' padding required, no whitespace) from `in` (n
 * bytes) into `out` (room for n/4*3 bytes). Returns the number of bytes written, or -1 if `in` is
 * not exactly such an encoding (length not a multiple of 4, a byte outside the alphabet, '=' other
 * than one or two at the very end, non-zero bits left over before the padding). */
ptrdiff_t vouch_base64_decode(uint8_t *out, const uint8_t *in, size_t n);

#endif
