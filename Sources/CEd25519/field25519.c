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
/* Variable-time inversion: the Bernstein–Yang safegcd algorithm ("Fast constant-time gcd computation and
 * modular inversion", 2019), in batches of 62 divsteps, in the variable-time form described in
 * libsecp256k1's doc/safegcd_implementation.md.
 *
 * A divstep maps (δ, f, g), f odd, to
 *     (1 - δ, g, (g - f)/2)   if δ > 0 and g is odd,
 *     (1 + δ, f, (g + f)/2)   if δ ≤ 0 and g is odd,
 *     (1 + δ, f, g/2)         if g is even.
 * It keeps f odd and gcd(f, g) unchanged. From δ = 1, f = p, g = a with 0 < a < p it reaches g = 0, and so
 * f = ±gcd = ±1, within 738 divsteps (Theorem 11.2 of the paper: f² + 4g² ≤ 5·4^255, and
 * ⌊(49·255 + 57)/17⌋ = 738). Alongside, d and e track f ≡ d·a and g ≡ e·a (mod p), starting from d = 0,
 * e = 1; at the end 1/a ≡ d·f.
 *
 * The next 62 divsteps depend only on δ and on f, g mod 2^62. They are computed on 64-bit words as a matrix t
 * with 2^62·(f', g') = t·(f, g), which is then applied to the full f and g (the division by 2^62 is exact)
 * and to d and e (dividing by 2^62 modulo p). */

/* x = v[0] + v[1]·2^62 + v[2]·2^124 + v[3]·2^186 + v[4]·2^248, with every limb but the top one in use in
 * [0, 2^62); the top one carries the sign. */
typedef struct {
    int64_t v[5];
} fe_s62;

/* The transition matrix of 62 divsteps scaled by 2^62: [u v; q r]. |u| + |v| ≤ 2^62 and |q| + |r| ≤ 2^62
 * (paper, §8.3). */
typedef struct {
    int64_t u, v, q, r;
} fe_s62_matrix;

#define S62_MASK (UINT64_MAX >> 2)
/* p = 2^255 - 19 = -19 + 128·2^248: multiples of p touch only limbs 0 and 4. */
#define S62_P0 ((int64_t)-19)
#define S62_P4 ((int64_t)128)
/* 1/p mod 2^62. */
#define S62_PINV UINT64_C(0x39435e50d79435e5)

/* Brings limbs 0..3 into [0, 2^62), carrying (with sign) into limb 4. */
static void s62_carry(int64_t x[5]) {
    for (int j = 0; j < 4; j++) {
        x[j + 1] += x[j] >> 62;
        x[j] &= (int64_t)S62_MASK;
    }
}

/* Internal consistency checks, for test builds only. */
#ifdef FE_INVERT_VARTIME_DEBUG
#include <stdlib.h>
#define S62_CHECK(cond) \
    do {                \
        if (!(cond)) abort(); \
    } while (0)
static int64_t s62_abs(int64_t x) { return x < 0 ? -x : x; }
/* -2p < d < p, for d with limbs 0..3 in [0, 2^62). */
static int s62_in_de_range(const fe_s62 *d) {
    for (int j = 0; j < 4; j++)
        if (d->v[j] < 0 || d->v[j] > (int64_t)S62_MASK) return 0;
    int64_t plus2p[5] = {d->v[0] + 2 * S62_P0, d->v[1], d->v[2], d->v[3], d->v[4] + 2 * S62_P4};
    int64_t minusp[5] = {d->v[0] - S62_P0, d->v[1], d->v[2], d->v[3], d->v[4] - S62_P4};
    s62_carry(plus2p);
    s62_carry(minusp);
    const int64_t nonzero = plus2p[0] | plus2p[1] | plus2p[2] | plus2p[3] | plus2p[4];
    return plus2p[4] >= 0 && nonzero != 0 && minusp[4] < 0;
}
#else
#define S62_CHECK(cond) ((void)0)
#endif

/* Performs 62 divsteps from (δ, f, g), given eta = -δ and the low 64 bits of f (odd) and g, of which only the
 * low 62 matter. Returns the final eta and sets *t. */
static int64_t s62_divsteps_vartime(int64_t eta, uint64_t f, uint64_t g, fe_s62_matrix *t) {
#ifdef FE_INVERT_VARTIME_DEBUG
    const uint64_t f0 = f, g0 = g;
#endif
    uint64_t u = 1, v = 0, q = 0, r = 1;
    uint64_t finv = f * (f * f - 2); /* -1/f mod 2^6, kept up to date with f */
    int i = 62;                      /* divsteps left */
    for (;;) {
        /* Invariant (mod 2^64): u·f0 + v·g0 = f·2^(62-i) and q·f0 + r·g0 = g·2^(62-i). The words f and g
         * hold the current iterates mod 2^i, which is all the remaining i divsteps look at. */
        S62_CHECK(u * f0 + v * g0 == f << (62 - i) && q * f0 + r * g0 == g << (62 - i));
        /* While g is even a divstep only halves it (and decrements eta): do all of those at once. Doubling
         * u, v rather than halving q, r keeps the invariant. */
        const int zeros = __builtin_ctzll(g | (UINT64_MAX << i));
        g >>= zeros;
        u <<= zeros;
        v <<= zeros;
        eta -= zeros;
        i -= zeros;
        if (i == 0) break;
        /* g is odd. While eta ≥ 0, a divstep adds f to g if g is odd and then halves g, so the next
         * n ≤ eta + 1 divsteps turn g into (g + w·f)/2^n for the w in [0, 2^n) that makes g + w·f ≡ 0 mod 2^n,
         * i.e. w = -g/f mod 2^n. Below, n ≤ 6 (the precision of finv) and the addition of w·f is done here,
         * the halvings by the next shift. */
        if (eta < 0) {
            /* δ > 0: the divstep is (f, g) ← (g, (g - f)/2), that is (f, g) ← (g, -f) followed by the above.
             * eta ← -eta here and the decrement at the next shift give 1 - δ. */
            uint64_t x = f;
            f = g;
            g = -x;
            x = u;
            u = q;
            q = -x;
            x = v;
            v = r;
            r = -x;
            eta = -eta;
            const uint64_t ff2 = f * f - 2;
            finv = f * ff2;
            int n = eta + 1 < i ? (int)eta + 1 : i;
            if (n > 6) n = 6;
            const uint64_t mask = UINT64_MAX >> (64 - n);
            const uint64_t w = (f * g * ff2) & mask; /* g·finv, not waiting for finv */
            g += w * f;
            q += w * u;
            r += w * v;
            S62_CHECK((g & mask) == 0);
            continue;
        }
        int n = eta + 1 < i ? (int)eta + 1 : i;
        if (n > 6) n = 6;
        const uint64_t mask = UINT64_MAX >> (64 - n);
        const uint64_t w = (g * finv) & mask;
        g += w * f;
        q += w * u;
        r += w * v;
        S62_CHECK((g & mask) == 0);
    }
    t->u = (int64_t)u;
    t->v = (int64_t)v;
    t->q = (int64_t)q;
    t->r = (int64_t)r;
    return eta;
}

/* (d, e) ← t·(d, e)/2^62 mod p, for d, e in (-2p, p); the results are in (-2p, p) again. Every column sum
 * below is < 2^125 in absolute value (limbs < 2^62 or, at the top, < 2^8; |md|, |me| < 2^63). */
static void s62_update_de(fe_s62 *d, fe_s62 *e, const fe_s62_matrix *t) {
    const int64_t u = t->u, v = t->v, q = t->q, r = t->r;
    S62_CHECK(s62_abs(u) <= ((int64_t)1 << 62) - s62_abs(v) && s62_abs(q) <= ((int64_t)1 << 62) - s62_abs(r));
    S62_CHECK(s62_in_de_range(d) && s62_in_de_range(e));
    /* Adding p to a negative input brings it into (-p, p), and then |u·d + v·e| < 2^62·p. The addition is
     * folded into the multiples md, me of p added to the products. */
    const int64_t sd = d->v[4] >> 63, se = e->v[4] >> 63;
    int64_t md = (u & sd) + (v & se), me = (q & sd) + (r & se);
    __int128 cd = (__int128)u * d->v[0] + (__int128)v * e->v[0];
    __int128 ce = (__int128)q * d->v[0] + (__int128)r * e->v[0];
    /* Lower md, me by less than 2^62 each so that the low 62 bits of t·(d, e) + p·(md, me) vanish. The sums
     * are then in (-2^63·p, 2^62·p) and their quotients by 2^62 in (-2p, p). |md|, |me| < 2^63. */
    md -= (int64_t)((S62_PINV * (uint64_t)cd + (uint64_t)md) & S62_MASK);
    me -= (int64_t)((S62_PINV * (uint64_t)ce + (uint64_t)me) & S62_MASK);
    cd += (__int128)S62_P0 * md;
    ce += (__int128)S62_P0 * me;
    S62_CHECK(((uint64_t)cd & S62_MASK) == 0 && ((uint64_t)ce & S62_MASK) == 0);
    cd >>= 62;
    ce >>= 62;
    for (int j = 1; j < 4; j++) {
        cd += (__int128)u * d->v[j] + (__int128)v * e->v[j];
        ce += (__int128)q * d->v[j] + (__int128)r * e->v[j];
        d->v[j - 1] = (int64_t)((uint64_t)cd & S62_MASK);
        e->v[j - 1] = (int64_t)((uint64_t)ce & S62_MASK);
        cd >>= 62;
        ce >>= 62;
    }
    cd += (__int128)u * d->v[4] + (__int128)v * e->v[4] + (__int128)S62_P4 * md;
    ce += (__int128)q * d->v[4] + (__int128)r * e->v[4] + (__int128)S62_P4 * me;
    d->v[3] = (int64_t)((uint64_t)cd & S62_MASK);
    e->v[3] = (int64_t)((uint64_t)ce & S62_MASK);
    d->v[4] = (int64_t)(cd >> 62);
    e->v[4] = (int64_t)(ce >> 62);
    S62_CHECK(s62_in_de_range(d) && s62_in_de_range(e));
}

/* (f, g) ← t·(f, g)/2^62, on the low len limbs (the top one in use signed, |top| ≤ 2^62). Exact: t was
 * computed from f, g so that the low 62 bits of t·(f, g) are zero. As |u| + |v| ≤ 2^62 and |q| + |r| ≤ 2^62,
 * max(|f|, |g|) never grows. Column sums are < 2^125 in absolute value. */
static void s62_update_fg(int len, fe_s62 *f, fe_s62 *g, const fe_s62_matrix *t) {
    const int64_t u = t->u, v = t->v, q = t->q, r = t->r;
    __int128 cf = (__int128)u * f->v[0] + (__int128)v * g->v[0];
    __int128 cg = (__int128)q * f->v[0] + (__int128)r * g->v[0];
    S62_CHECK(((uint64_t)cf & S62_MASK) == 0 && ((uint64_t)cg & S62_MASK) == 0);
    cf >>= 62;
    cg >>= 62;
    for (int j = 1; j < len; j++) {
        cf += (__int128)u * f->v[j] + (__int128)v * g->v[j];
        cg += (__int128)q * f->v[j] + (__int128)r * g->v[j];
        f->v[j - 1] = (int64_t)((uint64_t)cf & S62_MASK);
        g->v[j - 1] = (int64_t)((uint64_t)cg & S62_MASK);
        cf >>= 62;
        cg >>= 62;
    }
    f->v[len - 1] = (int64_t)cf;
    g->v[len - 1] = (int64_t)cg;
}

/* r = d·f mod p, for d in (-2p, p) and f = ±1 given by its sign. r is canonical with limbs < 2^51. */
static void s62_to_fe(fe *r, const fe_s62 *d, int f_negative) {
    int64_t x[5] = {d->v[0], d->v[1], d->v[2], d->v[3], d->v[4]};
    if (x[4] < 0) { /* into (-p, p) */
        x[0] += S62_P0;
        x[4] += S62_P4;
        s62_carry(x);
    }
    if (f_negative) {
        for (int j = 0; j < 5; j++) x[j] = -x[j];
        s62_carry(x);
    }
    if (x[4] < 0) { /* into [0, p) */
        x[0] += S62_P0;
        x[4] += S62_P4;
        s62_carry(x);
    }
    S62_CHECK(x[4] >= 0 && x[4] < 128);
    const uint64_t w0 = (uint64_t)x[0] | ((uint64_t)x[1] << 62);
    const uint64_t w1 = ((uint64_t)x[1] >> 2) | ((uint64_t)x[2] << 60);
    const uint64_t w2 = ((uint64_t)x[2] >> 4) | ((uint64_t)x[3] << 58);
    const uint64_t w3 = ((uint64_t)x[3] >> 6) | ((uint64_t)x[4] << 56);
    r->v[0] = w0 & FE_MASK;
    r->v[1] = ((w0 >> 51) | (w1 << 13)) & FE_MASK;
    r->v[2] = ((w1 >> 38) | (w2 << 26)) & FE_MASK;
    r->v[3] = ((w2 >> 25) | (w3 << 39)) & FE_MASK;
    r->v[4] = w3 >> 12;
}

#ifdef FE_INVERT_VARTIME_DEBUG
int fe_invert_vartime_max_batches; /* the most batches any call needed */

static int s62_is_plus_minus_one(const fe_s62 *f, int len) {
    if (f->v[len - 1] >= 0) { /* 1 */
        int64_t high = 0;
        for (int j = 1; j < len; j++) high |= f->v[j];
        return f->v[0] == 1 && high == 0;
    }
    /* -1: all ones below the top limb, which is -1 */
    for (int j = 0; j < len - 1; j++)
        if (f->v[j] != (int64_t)S62_MASK) return 0;
    return f->v[len - 1] == -1;
}
#endif

void fe_invert_vartime(fe *r, const fe *a) {
    uint8_t s[32];
    fe_tobytes(s, a);
    const uint64_t a0 = load64_le(s), a1 = load64_le(s + 8), a2 = load64_le(s + 16), a3 = load64_le(s + 24);
    if ((a0 | a1 | a2 | a3) == 0) {
        *r = fe_zero;
        return;
    }
    /* f = p, g = a (canonical, so 0 < g < p). Invariants: f, g in (-p, p], f odd; d, e in (-2p, p). */
    fe_s62 f = {{(int64_t)(S62_MASK - 18), (int64_t)S62_MASK, (int64_t)S62_MASK, (int64_t)S62_MASK, 127}};
    fe_s62 g = {{
        (int64_t)(a0 & S62_MASK),
        (int64_t)(((a0 >> 62) | (a1 << 2)) & S62_MASK),
        (int64_t)(((a1 >> 60) | (a2 << 4)) & S62_MASK),
        (int64_t)(((a2 >> 58) | (a3 << 6)) & S62_MASK),
        (int64_t)(a3 >> 56),
    }};
    fe_s62 d = {{0}}, e = {{1}};
    int64_t eta = -1; /* δ = 1 */
    int len = 5;      /* limbs of f and g in use */
    /* 12 batches are 744 ≥ 738 divsteps, enough for g to reach 0; random inputs take 9, rarely 10. */
    for (int batch = 1; batch <= 12; batch++) {
        fe_s62_matrix t;
        eta = s62_divsteps_vartime(eta, (uint64_t)f.v[0], (uint64_t)g.v[0], &t);
        s62_update_de(&d, &e, &t);
        s62_update_fg(len, &f, &g, &t);
        if (g.v[0] == 0) {
            int64_t rest = 0;
            for (int j = 1; j < len; j++) rest |= g.v[j];
            if (rest == 0) {
#ifdef FE_INVERT_VARTIME_DEBUG
                if (batch > fe_invert_vartime_max_batches) fe_invert_vartime_max_batches = batch;
                S62_CHECK(s62_is_plus_minus_one(&f, len));
#endif
                s62_to_fe(r, &d, f.v[len - 1] < 0);
                return;
            }
        }
        /* Drop the top limbs once both f and g fit below them (top limbs 0 or -1). Since max(|f|, |g|)
         * never grows, they keep fitting. */
        const int64_t fn = f.v[len - 1], gn = g.v[len - 1];
        if (len > 1 && ((fn ^ (fn >> 63)) | (gn ^ (gn >> 63))) == 0) {
            f.v[len - 2] |= (int64_t)((uint64_t)fn << 62);
            g.v[len - 2] |= (int64_t)((uint64_t)gn << 62);
            len--;
        }
    }
    /* Unreachable by the bound above; a safe answer regardless. */
    S62_CHECK(0);
    fe_invert(r, a);
}
