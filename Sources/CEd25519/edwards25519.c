#include "edwards25519.h"

#include <stdlib.h>

/* d = -121665/121666 and sqrt(-1) = 2^((p-1)/4), mod p. */
static const fe ed_d = {{0x34dca135978a3, 0x1a8283b156ebd, 0x5e7a26001c029, 0x739c663a03cbb, 0x52036cee2b6ff}};
static const fe ed_2d = {{0x69b9426b2f159, 0x35050762add7a, 0x3cf44c0038052, 0x6738cc7407977, 0x2406d9dc56dff}};
static const fe ed_sqrtm1 = {{0x61b274a0ea0b0, 0x0d5a5fc8f189d, 0x7ef5e9cbd0c60, 0x78595a6804c9e, 0x2b8324804fc1d}};

int ed_decode(ed_point *r, const uint8_t s[32]) {
    fe u, v, v3, t, x;
    fe_frombytes(&r->Y, s);
    r->Z = fe_one;
    /* x² = u/v with u = y² - 1, v = d·y² + 1 (never 0: -1/d is not a square). */
    fe_sq(&t, &r->Y);
    fe_mul(&v, &t, &ed_d);
    fe_sub(&u, &t, &fe_one);
    fe_carry(&u);
    fe_add(&v, &v, &fe_one);
    /* RFC 8032 §5.1.3: candidate x = u·v³·(u·v⁷)^((p-5)/8); then v·x² = ±u if u/v is a square. */
    fe_sq(&t, &v);
    fe_mul(&v3, &t, &v);
    fe_sq(&t, &v3);
    fe_mul(&t, &t, &v);
    fe_mul(&t, &t, &u);
    fe_pow2523(&t, &t);
    fe_mul(&t, &t, &v3);
    fe_mul(&x, &t, &u);
    fe vx2, check;
    fe_sq(&t, &x);
    fe_mul(&vx2, &t, &v);
    fe_sub(&check, &vx2, &u);
    if (!fe_iszero(&check)) {
        fe_add(&check, &vx2, &u);
        if (!fe_iszero(&check)) return 0;
        fe_mul(&x, &x, &ed_sqrtm1);
    }
    if (fe_isodd(&x) != (s[31] >> 7)) fe_neg(&x, &x);
    r->X = x;
    fe_mul(&r->T, &x, &r->Y);
    return 1;
}

void ed_encode(uint8_t s[32], const ed_point *p) {
    fe zinv, x, y;
    fe_invert_vartime(&zinv, &p->Z);
    fe_mul(&x, &p->X, &zinv);
    fe_mul(&y, &p->Y, &zinv);
    fe_tobytes(s, &y);
    s[31] |= (uint8_t)(fe_isodd(&x) << 7);
}

/* The addition and doubling below are Hisil–Wong–Carter–Dawson's formulas for extended coordinates
 * with a = -1 ("add-2008-hwcd-3", "dbl-2008-hwcd"). Both are complete on this curve, so they also
 * hold for the identity and points of small order. Outputs may alias inputs. */

static void ed_add(ed_point *r, const ed_point *p, const ed_point *q) {
    fe a, b, c, d, t;
    fe_sub(&a, &p->Y, &p->X);
    fe_sub(&t, &q->Y, &q->X);
    fe_mul(&a, &a, &t);
    fe_add(&b, &p->Y, &p->X);
    fe_add(&t, &q->Y, &q->X);
    fe_mul(&b, &b, &t);
    fe_mul(&c, &p->T, &q->T);
    fe_mul(&c, &c, &ed_2d);
    fe_mul(&d, &p->Z, &q->Z);
    fe_add(&d, &d, &d);
    fe e, f, g, h;
    fe_sub(&e, &b, &a);
    fe_sub(&f, &d, &c);
    fe_add(&g, &d, &c);
    fe_add(&h, &b, &a);
    fe_mul(&r->X, &e, &f);
    fe_mul(&r->Y, &g, &h);
    fe_mul(&r->T, &e, &h);
    fe_mul(&r->Z, &f, &g);
}

/* With E, F, G, H of the formula each negated, so that every subtrahend is a product. */
static void ed_double(ed_point *r, const ed_point *p) {
    fe a, b, c, t;
    fe_sq(&a, &p->X);
    fe_sq(&b, &p->Y);
    fe_sq(&c, &p->Z);
    fe_add(&c, &c, &c);
    fe_add(&t, &p->X, &p->Y);
    fe_sq(&t, &t);
    fe e, f, g, h;
    fe_add(&h, &a, &b);
    fe_sub(&e, &h, &t);
    fe_sub(&g, &a, &b);
    fe_add(&f, &a, &c);
    fe_sub(&f, &f, &b);
    fe_mul(&r->X, &e, &f);
    fe_mul(&r->Y, &g, &h);
    fe_mul(&r->T, &e, &h);
    fe_mul(&r->Z, &f, &g);
}

/* r = p + q, or p - q when negate: -q swaps y + x with y - x and negates 2d·x·y. */
static inline void ed_add_affine(ed_point *r, const ed_point *p, const ed_affine *q, int negate) {
    fe a, b, c, d, t;
    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&a, &t, negate ? &q->ypx : &q->ymx);
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&b, &t, negate ? &q->ymx : &q->ypx);
    fe_mul(&c, &p->T, &q->xy2d);
    fe_add(&d, &p->Z, &p->Z);
    fe e, f, g, h;
    fe_sub(&e, &b, &a);
    fe_add(&h, &b, &a);
    if (negate) {
        fe_add(&f, &d, &c);
        fe_sub(&g, &d, &c);
    } else {
        fe_sub(&f, &d, &c);
        fe_add(&g, &d, &c);
    }
    fe_mul(&r->X, &e, &f);
    fe_mul(&r->Y, &g, &h);
    fe_mul(&r->T, &e, &h);
    fe_mul(&r->Z, &f, &g);
}

void ed_table_build(ed_affine *table, int w, const ed_point *p) {
    const int rows = ED_ROWS(w), cols = ED_COLS(w), n = rows * cols;
    ed_point *m = malloc((size_t)n * sizeof *m);
    fe *prefix = malloc((size_t)n * sizeof *prefix);
    if (m == NULL || prefix == NULL) abort();
    /* Row i holds the multiples of base = 2^(w·i)·P; the next base doubles the row's last entry. */
    ed_point base = *p;
    for (int i = 0; i < rows; i++) {
        ed_point *row = m + i * cols;
        row[0] = base;
        for (int j = 1; j < cols; j++) ed_add(&row[j], &row[j - 1], &base);
        ed_double(&base, &row[cols - 1]);
    }
    /* Montgomery's trick, one inversion for all n values of Z: at the top of iteration k,
     * inv = 1/(Z_0·…·Z_k) and prefix[k - 1] = Z_0·…·Z_(k-1). */
    prefix[0] = m[0].Z;
    for (int k = 1; k < n; k++) fe_mul(&prefix[k], &prefix[k - 1], &m[k].Z);
    fe inv;
    fe_invert(&inv, &prefix[n - 1]);
    for (int k = n - 1; k >= 0; k--) {
        fe zinv = inv;
        if (k > 0) {
            fe_mul(&zinv, &inv, &prefix[k - 1]);
            fe_mul(&inv, &inv, &m[k].Z);
        }
        fe x, y;
        fe_mul(&x, &m[k].X, &zinv);
        fe_mul(&y, &m[k].Y, &zinv);
        ed_affine *e = &table[k];
        fe_add(&e->ypx, &y, &x);
        fe_sub(&e->ymx, &y, &x);
        fe_carry(&e->ypx);
        fe_carry(&e->ymx);
        fe_mul(&e->xy2d, &x, &y);
        fe_mul(&e->xy2d, &e->xy2d, &ed_2d);
    }
    free(m);
    free(prefix);
}

void ed_identity(ed_point *r) {
    *r = (ed_point){fe_zero, fe_one, fe_one, fe_zero};
}

/* Every cache line of an entry (120 bytes: two lines, or three when it straddles). */
static inline void ed_prefetch(const ed_affine *q) {
    const char *p = (const char *)q;
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + sizeof *q - 1);
}

void ed_add_terms(ed_point *r, const ed_term *terms, int n) {
    enum { AHEAD = 6 };
    for (int i = 0; i < n && i < AHEAD; i++) ed_prefetch(terms[i].q);
    for (int i = 0; i < n; i++) {
        if (i + AHEAD < n) ed_prefetch(terms[i + AHEAD].q);
        ed_add_affine(r, r, terms[i].q, terms[i].negate);
    }
}

int ed_terms(ed_term *terms, const ed_affine *table, int w, const int8_t *d, int subtract) {
    const int rows = ED_ROWS(w), cols = ED_COLS(w);
    int n = 0;
    for (int i = 0; i < rows; i++) {
        if (d[i] > 0) terms[n++] = (ed_term){&table[i * cols + d[i] - 1], subtract};
        if (d[i] < 0) terms[n++] = (ed_term){&table[i * cols - d[i] - 1], !subtract};
    }
    return n;
}
