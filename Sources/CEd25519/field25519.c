#include "field25519.h"

static uint64_t load64_le(const uint8_t *s) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | s[i];
    return x;
}

void fe_frombytes(fe *r, const uint8_t s[32]) {
    const uint64_t w0 = load64_le(s), w1 = load64_le(s + 8), w2 = load64_le(s + 16), w3 = load64_le(s + 24);
    r->v[0] = w0 & FE_MASK;
    r->v[1] = ((w0 >> 51) | (w1 << 13)) & FE_MASK;
    r->v[2] = ((w1 >> 38) | (w2 << 26)) & FE_MASK;
    r->v[3] = ((w2 >> 25) | (w3 << 39)) & FE_MASK;
    r->v[4] = (w3 >> 12) & FE_MASK;
}

void fe_tobytes(uint8_t s[32], const fe *a) {
    fe t = *a;
    fe_carry(&t);
    fe_carry(&t); /* now every limb is < 2^51, so t < 2^255 */
    /* t ≥ p exactly when t + 19 carries out of bit 255; then t - p = t + 19 - 2^255. */
    uint64_t q = (t.v[0] + 19) >> 51;
    for (int i = 1; i < 5; i++) q = (t.v[i] + q) >> 51;
    t.v[0] += 19 * q;
    for (int i = 0; i < 4; i++) {
        t.v[i + 1] += t.v[i] >> 51;
        t.v[i] &= FE_MASK;
    }
    t.v[4] &= FE_MASK;
    const uint64_t w[4] = {
        t.v[0] | (t.v[1] << 51),
        (t.v[1] >> 13) | (t.v[2] << 38),
        (t.v[2] >> 26) | (t.v[3] << 25),
        (t.v[3] >> 39) | (t.v[4] << 12),
    };
    for (int i = 0; i < 32; i++) s[i] = (uint8_t)(w[i / 8] >> (8 * (i % 8)));
}

int fe_iszero(const fe *a) {
    uint8_t s[32];
    fe_tobytes(s, a);
    uint8_t any = 0;
    for (int i = 0; i < 32; i++) any |= s[i];
    return any == 0;
}

int fe_isodd(const fe *a) {
    uint8_t s[32];
    fe_tobytes(s, a);
    return s[0] & 1;
}

/* r = a^(2^n). */
static void fe_sqn(fe *r, const fe *a, int n) {
    fe_sq(r, a);
    for (int i = 1; i < n; i++) fe_sq(r, r);
}

/* Returns a^(2^250 - 1) and sets *a3 = a^3. Each step e_k = a^(2^k - 1) uses e_{j+k} = e_j^(2^k) · e_k. */
static void fe_pow2250m1(fe *e250, fe *a3, const fe *a) {
    fe e5, e10, e20, e50, e100, t;
    fe_sq(&t, a);
    fe_mul(a3, &t, a);       /* e2 */
    fe_sqn(&t, a3, 2);
    fe_mul(&t, &t, a3);      /* e4 */
    fe_sq(&t, &t);
    fe_mul(&e5, &t, a);
    fe_sqn(&t, &e5, 5);
    fe_mul(&e10, &t, &e5);
    fe_sqn(&t, &e10, 10);
    fe_mul(&e20, &t, &e10);
    fe_sqn(&t, &e20, 20);
    fe_mul(&t, &t, &e20);    /* e40 */
    fe_sqn(&t, &t, 10);
    fe_mul(&e50, &t, &e10);
    fe_sqn(&t, &e50, 50);
    fe_mul(&e100, &t, &e50);
    fe_sqn(&t, &e100, 100);
    fe_mul(&t, &t, &e100);   /* e200 */
    fe_sqn(&t, &t, 50);
    fe_mul(e250, &t, &e50);
}

/* p - 2 = (2^250 - 1)·2^5 + 11. */
void fe_invert(fe *r, const fe *a) {
    fe e250, a3, a11;
    fe_pow2250m1(&e250, &a3, a);
    fe_sqn(&a11, a, 3);
    fe_mul(&a11, &a11, &a3);
    fe_sqn(r, &e250, 5);
    fe_mul(r, r, &a11);
}

/* (p - 5)/8 = (2^250 - 1)·2^2 + 1. */
void fe_pow2523(fe *r, const fe *a) {
    fe e250, a3;
    fe_pow2250m1(&e250, &a3, a);
    fe_sqn(&e250, &e250, 2);
    fe_mul(r, &e250, a);
}
