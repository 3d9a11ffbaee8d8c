/* Arithmetic in GF(p), p = 2^255 - 19, with five 51-bit limbs: a = v[0] + v[1]·2^51 + … + v[4]·2^204.
 * Representations are redundant: limbs may exceed 2^51 and the value may exceed p.
 *
 * Bounds: fe_mul and fe_sq accept limbs < 2^54 and return limbs < 2^51 + 2^19. fe_sub(r, a, b) adds
 * 4p before subtracting, so b's limbs must not exceed 4p's (true for the outputs of fe_mul, fe_sq,
 * fe_neg and fe_carry); r's limbs are < a's + 2^53. */
#ifndef VOUCH_FIELD25519_H
#define VOUCH_FIELD25519_H

#include <stdint.h>

typedef unsigned __int128 u128;

typedef struct {
    uint64_t v[5];
} fe;

#define FE_MASK ((UINT64_C(1) << 51) - 1)

static const fe fe_zero = {{0, 0, 0, 0, 0}};
static const fe fe_one = {{1, 0, 0, 0, 0}};

static inline void fe_add(fe *r, const fe *a, const fe *b) {
    for (int i = 0; i < 5; i++) r->v[i] = a->v[i] + b->v[i];
}

/* r = a + 4p - b, limb by limb. */
static inline void fe_sub(fe *r, const fe *a, const fe *b) {
    r->v[0] = a->v[0] + (UINT64_C(0x1fffffffffffb4) - b->v[0]);
    for (int i = 1; i < 5; i++) r->v[i] = a->v[i] + (UINT64_C(0x1ffffffffffffc) - b->v[i]);
}

static inline void fe_neg(fe *r, const fe *a) {
    fe_sub(r, &fe_zero, a);
}

/* Folds the five column sums of a product into limbs < 2^51 + 2^19. */
static inline void fe_carry_wide(fe *r, u128 c0, u128 c1, u128 c2, u128 c3, u128 c4) {
    c1 += c0 >> 51;
    c2 += c1 >> 51;
    c3 += c2 >> 51;
    c4 += c3 >> 51;
    u128 low = ((uint64_t)c0 & FE_MASK) + (c4 >> 51) * 19;
    r->v[0] = (uint64_t)low & FE_MASK;
    r->v[1] = ((uint64_t)c1 & FE_MASK) + (uint64_t)(low >> 51);
    r->v[2] = (uint64_t)c2 & FE_MASK;
    r->v[3] = (uint64_t)c3 & FE_MASK;
    r->v[4] = (uint64_t)c4 & FE_MASK;
}

static inline void fe_mul(fe *r, const fe *a, const fe *b) {
    const uint64_t a0 = a->v[0], a1 = a->v[1], a2 = a->v[2], a3 = a->v[3], a4 = a->v[4];
    const uint64_t b0 = b->v[0], b1 = b->v[1], b2 = b->v[2], b3 = b->v[3], b4 = b->v[4];
    /* 2^255 ≡ 19: limbs that land at 2^255 or above come back multiplied by 19. */
    const uint64_t b1t = 19 * b1, b2t = 19 * b2, b3t = 19 * b3, b4t = 19 * b4;
    u128 c0 = (u128)a0 * b0 + (u128)a1 * b4t + (u128)a2 * b3t + (u128)a3 * b2t + (u128)a4 * b1t;
    u128 c1 = (u128)a0 * b1 + (u128)a1 * b0 + (u128)a2 * b4t + (u128)a3 * b3t + (u128)a4 * b2t;
    u128 c2 = (u128)a0 * b2 + (u128)a1 * b1 + (u128)a2 * b0 + (u128)a3 * b4t + (u128)a4 * b3t;
    u128 c3 = (u128)a0 * b3 + (u128)a1 * b2 + (u128)a2 * b1 + (u128)a3 * b0 + (u128)a4 * b4t;
    u128 c4 = (u128)a0 * b4 + (u128)a1 * b3 + (u128)a2 * b2 + (u128)a3 * b1 + (u128)a4 * b0;
    fe_carry_wide(r, c0, c1, c2, c3, c4);
}

static inline void fe_sq(fe *r, const fe *a) {
    const uint64_t a0 = a->v[0], a1 = a->v[1], a2 = a->v[2], a3 = a->v[3], a4 = a->v[4];
    const uint64_t d0 = 2 * a0, d1 = 2 * a1, d2 = 2 * a2;
    const uint64_t a3t = 19 * a3, a4t = 19 * a4;
    u128 c0 = (u128)a0 * a0 + (u128)d1 * a4t + (u128)d2 * a3t;
    u128 c1 = (u128)d0 * a1 + (u128)d2 * a4t + (u128)a3 * a3t;
    u128 c2 = (u128)d0 * a2 + (u128)a1 * a1 + (u128)(2 * a3) * a4t;
    u128 c3 = (u128)d0 * a3 + (u128)d1 * a2 + (u128)a4 * a4t;
    u128 c4 = (u128)d0 * a4 + (u128)d1 * a3 + (u128)a2 * a2;
    fe_carry_wide(r, c0, c1, c2, c3, c4);
}

/* One carry pass: limbs < 2^63 in, limbs < 2^51 + 2^13 out. */
static inline void fe_carry(fe *a) {
    a->v[0] += 19 * (a->v[4] >> 51);
    a->v[4] &= FE_MASK;
    for (int i = 0; i < 4; i++) {
        a->v[i + 1] += a->v[i] >> 51;
        a->v[i] &= FE_MASK;
    }
}

/* Reads 255 bits (bit 255 is ignored); the result may be ≥ p. */
void fe_frombytes(fe *r, const uint8_t s[32]);
/* Writes the canonical encoding (value mod p, < p). */
void fe_tobytes(uint8_t s[32], const fe *a);
int fe_iszero(const fe *a);
/* The low bit of the canonical encoding ("negative" in RFC 8032 terms). */
int fe_isodd(const fe *a);
void fe_invert(fe *r, const fe *a);
/* r = 1/a mod p (0 for a ≡ 0) by safegcd, about three times faster than fe_invert but in variable
 * time: only for public values. Accepts anything fe_tobytes does; r is canonical, limbs < 2^51. */
void fe_invert_vartime(fe *r, const fe *a);
/* r = a^((p-5)/8), the core of the square root. */
void fe_pow2523(fe *r, const fe *a);

#endif
