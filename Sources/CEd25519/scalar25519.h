/* Integers modulo the group order L = 2^252 + 27742317777372353535851937790883648493,
 * as 32-byte little-endian strings. */
#ifndef VOUCH_SCALAR25519_H
#define VOUCH_SCALAR25519_H

#include <stdint.h>

/* 1 if s < L. */
int sc_is_canonical(const uint8_t s[32]);
/* r = x mod L for a 64-byte little-endian x. */
void sc_reduce64(uint8_t r[32], const uint8_t x[64]);
/* Signed digits of s < 2^253 in radix 2^w: s = Σ d[i]·2^(w·i) for i < n = ⌈253/w⌉,
 * each -2^(w-1) ≤ d[i] < 2^(w-1) (so |d[i]| ≤ 2^(w-1)). Needs 2 ≤ w ≤ 8. */
void sc_recode(int8_t *d, int n, int w, const uint8_t s[32]);

#endif
