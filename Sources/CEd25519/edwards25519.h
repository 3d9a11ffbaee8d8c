/* Points of the twisted Edwards curve -x² + y² = 1 + d·x²·y² over GF(2^255 - 19) (edwards25519). */
#ifndef VOUCH_EDWARDS25519_H
#define VOUCH_EDWARDS25519_H

#include "field25519.h"

/* Extended coordinates: x = X/Z, y = Y/Z, x·y = T/Z, Z ≠ 0. Coordinates satisfy fe_sub's bound on b. */
typedef struct {
    fe X, Y, Z, T;
} ed_point;

/* An affine point kept as y + x, y - x and 2d·x·y, the form a mixed addition consumes. */
typedef struct {
    fe ypx, ymx, xy2d;
} ed_affine;

/* A fixed-base table for a point P with window w holds (j + 1)·2^(w·i)·P at [i·ED_COLS(w) + j] for
 * i < ED_ROWS(w), j < ED_COLS(w): every multiple that signed radix-2^w digits of a scalar below 2^253 need. */
#define ED_ROWS(w) ((253 + (w) - 1) / (w))
#define ED_COLS(w) (1 << ((w) - 1))
#define ED_TABLE_SIZE(w) (ED_ROWS(w) * ED_COLS(w))

/* Decodes an encoded point as BoringSSL's ED25519_verify does: bit 255 is the sign of x, the other
 * 255 bits are y and may be ≥ p (then y - p is used), and x = 0 is accepted with either sign bit.
 * Returns 0 if no x satisfies the curve equation. */
int ed_decode(ed_point *r, const uint8_t s[32]);
/* Writes the canonical encoding: y mod p, with bit 255 the low bit of x mod p. */
void ed_encode(uint8_t s[32], const ed_point *p);
/* Fills the ED_TABLE_SIZE(w) entries of p's table for window w. */
void ed_table_build(ed_affine *table, int w, const ed_point *p);
void ed_identity(ed_point *r);

/* One table entry to add (negate = 0) or subtract (negate = 1). */
typedef struct {
    const ed_affine *q;
    int negate;
} ed_term;
/* The terms of Σ d[i]·2^(w·i)·P (of its negation when subtract) for P's table with window w and
 * ED_ROWS(w) digits, |d[i]| ≤ ED_COLS(w): one per nonzero digit, appended to terms; returns how many
 * (≤ ED_ROWS(w)). */
int ed_terms(ed_term *terms, const ed_affine *table, int w, const int8_t *d, int subtract);
/* r += the n terms, each entry fetched from memory a few additions before it is used. */
void ed_add_terms(ed_point *r, const ed_term *terms, int n);

#endif
