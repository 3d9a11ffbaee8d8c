#include "scalar25519.h"

typedef unsigned __int128 u128;

static const uint64_t L[4] = {0x5812631a5cf5d3ed, 0x14def9dea2f79cd6, 0, 0x1000000000000000};
/* ⌊2^512 / L⌋, for Barrett reduction (Handbook of Applied Cryptography, algorithm 14.42). */
static const uint64_t MU[5] = {0xed9ce5a30a2c131b, 0x2106215d086329a7, 0xffffffffffffffeb, 0xffffffffffffffff, 0xf};

static uint64_t load64_le(const uint8_t *s) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | s[i];
    return x;
}

/* Compares n-word numbers: -1, 0 or 1. */
static int compare(const uint64_t *a, const uint64_t *b, int n) {
    for (int i = n - 1; i >= 0; i--) {
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return 0;
}

int sc_is_canonical(const uint8_t s[32]) {
    uint64_t w[4];
    for (int i = 0; i < 4; i++) w[i] = load64_le(s + 8 * i);
    return compare(w, L, 4) < 0;
}

/* out = a·b mod 2^(64·n). */
static void mul_low(uint64_t *out, int n, const uint64_t *a, int na, const uint64_t *b, int nb) {
    for (int k = 0; k < n; k++) out[k] = 0;
    for (int i = 0; i < na && i < n; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < nb && i + j < n; j++) {
            u128 t = (u128)a[i] * b[j] + out[i + j] + carry;
            out[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        if (i + nb < n) out[i + nb] = carry;
    }
}

/* a -= b over n words, modulo 2^(64·n). */
static void sub_words(uint64_t *a, const uint64_t *b, int n) {
    uint64_t borrow = 0;
    for (int k = 0; k < n; k++) {
        u128 t = (u128)a[k] - b[k] - borrow;
        a[k] = (uint64_t)t;
        borrow = (uint64_t)(t >> 64) & 1;
    }
}

void sc_reduce64(uint8_t r[32], const uint8_t x[64]) {
    uint64_t w[8];
    for (int i = 0; i < 8; i++) w[i] = load64_le(x + 8 * i);
    /* q = ⌊⌊x / 2^192⌋·MU / 2^320⌋ undercuts ⌊x / L⌋ by at most 2, so x - q·L < 3L, and it fits in
     * 320 bits, where the arithmetic is done. */
    uint64_t wide[10], qL[5];
    mul_low(wide, 10, w + 3, 5, MU, 5);
    mul_low(qL, 5, wide + 5, 5, L, 4);
    uint64_t rem[5] = {w[0], w[1], w[2], w[3], w[4]};
    sub_words(rem, qL, 5);
    const uint64_t L5[5] = {L[0], L[1], L[2], L[3], 0};
    while (compare(rem, L5, 5) >= 0) sub_words(rem, L5, 5);
    for (int i = 0; i < 32; i++) r[i] = (uint8_t)(rem[i / 8] >> (8 * (i % 8)));
}

void sc_recode(int8_t *d, int n, int w, const uint8_t s[32]) {
    uint64_t words[5];
    for (int i = 0; i < 4; i++) words[i] = load64_le(s + 8 * i);
    words[4] = 0;
    const int half = 1 << (w - 1);
    int carry = 0;
    for (int i = 0; i < n; i++) {
        const int bit = w * i, k = bit / 64, shift = bit % 64;
        uint64_t chunk = words[k] >> shift;
        if (shift + w > 64) chunk |= words[k + 1] << (64 - shift);
        const int v = (int)(chunk & ((UINT64_C(1) << w) - 1)) + carry;
        carry = v >= half;
        d[i] = (int8_t)(v - (carry << w));
    }
}
