/*
 * SHA-512 (FIPS 180-4): a portable scalar implementation and a 4-way multi-buffer AVX2 implementation
 * that hashes up to four independent messages at once, one message per 64-bit lane of a 256-bit vector.
 *
 * Multi-buffer layout: every lane's message is cut into its full 128-byte blocks, which are read in place,
 * followed by one or two padded tail blocks built in a small per-lane buffer (so nothing past a message's
 * end is ever read). Block i of all active lanes is loaded, byte-swapped and transposed so that vector
 * W[t] holds word t of the four lanes. A lane that has run out of blocks is fed a dummy block and its state
 * is kept by a blend; once fewer than VOUCH_X4_MIN_LANES lanes remain, the remaining lanes leave the vector
 * loop and are finished by the scalar code from their saved state.
 *
 * Written to be compiled without -mavx2: the AVX2 code carries __attribute__((target("avx2"))) and is only
 * called after a cached runtime CPU check.
 */
#include "ced25519.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define VOUCH_SHA512_X86 1
#include <immintrin.h>
#include <stdatomic.h>
#endif

/* FIPS 180-4 section 4.2.3: the 80 round constants. */
#define SHA512_K(X) \
    X(0x428a2f98d728ae22ULL) X(0x7137449123ef65cdULL) X(0xb5c0fbcfec4d3b2fULL) X(0xe9b5dba58189dbbcULL) \
    X(0x3956c25bf348b538ULL) X(0x59f111f1b605d019ULL) X(0x923f82a4af194f9bULL) X(0xab1c5ed5da6d8118ULL) \
    X(0xd807aa98a3030242ULL) X(0x12835b0145706fbeULL) X(0x243185be4ee4b28cULL) X(0x550c7dc3d5ffb4e2ULL) \
    X(0x72be5d74f27b896fULL) X(0x80deb1fe3b1696b1ULL) X(0x9bdc06a725c71235ULL) X(0xc19bf174cf692694ULL) \
    X(0xe49b69c19ef14ad2ULL) X(0xefbe4786384f25e3ULL) X(0x0fc19dc68b8cd5b5ULL) X(0x240ca1cc77ac9c65ULL) \
    X(0x2de92c6f592b0275ULL) X(0x4a7484aa6ea6e483ULL) X(0x5cb0a9dcbd41fbd4ULL) X(0x76f988da831153b5ULL) \
    X(0x983e5152ee66dfabULL) X(0xa831c66d2db43210ULL) X(0xb00327c898fb213fULL) X(0xbf597fc7beef0ee4ULL) \
    X(0xc6e00bf33da88fc2ULL) X(0xd5a79147930aa725ULL) X(0x06ca6351e003826fULL) X(0x142929670a0e6e70ULL) \
    X(0x27b70a8546d22ffcULL) X(0x2e1b21385c26c926ULL) X(0x4d2c6dfc5ac42aedULL) X(0x53380d139d95b3dfULL) \
    X(0x650a73548baf63deULL) X(0x766a0abb3c77b2a8ULL) X(0x81c2c92e47edaee6ULL) X(0x92722c851482353bULL) \
    X(0xa2bfe8a14cf10364ULL) X(0xa81a664bbc423001ULL) X(0xc24b8b70d0f89791ULL) X(0xc76c51a30654be30ULL) \
    X(0xd192e819d6ef5218ULL) X(0xd69906245565a910ULL) X(0xf40e35855771202aULL) X(0x106aa07032bbd1b8ULL) \
    X(0x19a4c116b8d2d0c8ULL) X(0x1e376c085141ab53ULL) X(0x2748774cdf8eeb99ULL) X(0x34b0bcb5e19b48a8ULL) \
    X(0x391c0cb3c5c95a63ULL) X(0x4ed8aa4ae3418acbULL) X(0x5b9cca4f7763e373ULL) X(0x682e6ff3d6b2b8a3ULL) \
    X(0x748f82ee5defb2fcULL) X(0x78a5636f43172f60ULL) X(0x84c87814a1f0ab72ULL) X(0x8cc702081a6439ecULL) \
    X(0x90befffa23631e28ULL) X(0xa4506cebde82bde9ULL) X(0xbef9a3f7b2c67915ULL) X(0xc67178f2e372532bULL) \
    X(0xca273eceea26619cULL) X(0xd186b8c721c0c207ULL) X(0xeada7dd6cde0eb1eULL) X(0xf57d4f7fee6ed178ULL) \
    X(0x06f067aa72176fbaULL) X(0x0a637dc5a2c898a6ULL) X(0x113f9804bef90daeULL) X(0x1b710b35131c471bULL) \
    X(0x28db77f523047d84ULL) X(0x32caab7b40c72493ULL) X(0x3c9ebe0a15c9bebcULL) X(0x431d67c49c100d4cULL) \
    X(0x4cc5d4becb3e42b6ULL) X(0x597f299cfc657e2aULL) X(0x5fcb6fab3ad6faecULL) X(0x6c44198c4a475817ULL)

#define K_ONE(k) k,
static const uint64_t K512[80] = {SHA512_K(K_ONE)};


static const uint64_t IV512[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static inline uint64_t load_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#else
    return __builtin_bswap64(v);
#endif
}

static inline void store_be64(uint8_t *p, uint64_t v) {
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* ------------------------------------------------------------------------------------------------ */
/* Scalar compression function                                                                        */
/* ------------------------------------------------------------------------------------------------ */

#define ROR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define BSIG0(x) ROR64(ROR64(ROR64(x, 5) ^ (x), 6) ^ (x), 28) /* = ROTR28 ^ ROTR34 ^ ROTR39 */
#define BSIG1(x) ROR64(ROR64(ROR64(x, 23) ^ (x), 4) ^ (x), 14) /* = ROTR14 ^ ROTR18 ^ ROTR41 */
#define SSIG0(x) (ROR64(x, 1) ^ ROR64(x, 8) ^ ((x) >> 7))
#define SSIG1(x) (ROR64(x, 19) ^ ROR64(x, 61) ^ ((x) >> 6))
#define CH(e, f, g) ((((f) ^ (g)) & (e)) ^ (g))

/* One round; t is the round number, w the message-schedule word for it. Maj(a,b,c) is computed as
 * ((a^b) & (b^c)) ^ b, where b^c is the previous round's a^b, carried in bc. */
#define SROUND(a, b, c, d, e, f, g, h, t, w)                              \
    do {                                                                  \
        uint64_t t1_ = (h) + BSIG1(e) + CH(e, f, g) + K512[t] + (w);      \
        uint64_t ab_ = (a) ^ (b);                                         \
        uint64_t t2_ = BSIG0(a) + ((ab_ & bc) ^ (b));                     \
        bc = ab_;                                                         \
        (d) += t1_;                                                       \
        (h) = t1_ + t2_;                                                  \
    } while (0)

/* Eight rounds with the working variables rotating through a..h. */
#define SROUNDS8(t, W0, W1, W2, W3, W4, W5, W6, W7)              \
    do {                                                         \
        SROUND(a, b, c, d, e, f, g, h, (t) + 0, W0);             \
        SROUND(h, a, b, c, d, e, f, g, (t) + 1, W1);             \
        SROUND(g, h, a, b, c, d, e, f, (t) + 2, W2);             \
        SROUND(f, g, h, a, b, c, d, e, (t) + 3, W3);             \
        SROUND(e, f, g, h, a, b, c, d, (t) + 4, W4);             \
        SROUND(d, e, f, g, h, a, b, c, (t) + 5, W5);             \
        SROUND(c, d, e, f, g, h, a, b, (t) + 6, W6);             \
        SROUND(b, c, d, e, f, g, h, a, (t) + 7, W7);             \
    } while (0)

/* W[i] for rounds 16..79, kept in a 16-word ring: W[i] += σ1(W[i-2]) + W[i-7] + σ0(W[i-15]). */
#define SCHED(i) (W[i] += SSIG1(W[((i) + 14) & 15]) + W[((i) + 9) & 15] + SSIG0(W[((i) + 1) & 15]))

static void sha512_compress(uint64_t state[8], const uint8_t *block, size_t nblocks) {
    uint64_t W[16];
    while (nblocks--) {
        uint64_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint64_t e = state[4], f = state[5], g = state[6], h = state[7];
        uint64_t bc = b ^ c;
        for (int i = 0; i < 16; i++) W[i] = load_be64(block + 8 * i);
        SROUNDS8(0, W[0], W[1], W[2], W[3], W[4], W[5], W[6], W[7]);
        SROUNDS8(8, W[8], W[9], W[10], W[11], W[12], W[13], W[14], W[15]);
        for (int t = 16; t < 80; t += 16) {
            SROUNDS8(t, SCHED(0), SCHED(1), SCHED(2), SCHED(3), SCHED(4), SCHED(5), SCHED(6), SCHED(7));
            SROUNDS8(t + 8, SCHED(8), SCHED(9), SCHED(10), SCHED(11), SCHED(12), SCHED(13), SCHED(14), SCHED(15));
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
        block += 128;
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Per-message block source: full blocks in place, then 1 or 2 padded tail blocks from a local buffer */
/* ------------------------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *msg;
    size_t full;  /* number of complete 128-byte blocks read from msg */
    size_t total; /* full + number of tail blocks (1 or 2); 0 for an unused lane */
    uint8_t tail[256];
} sha512_lane;

static void lane_init(sha512_lane *ln, const uint8_t *msg, size_t len) {
    size_t full = len / 128, rem = len % 128;
    size_t tail_blocks = rem < 112 ? 1 : 2; /* 0x80 byte + 16-byte length must fit */
    memset(ln->tail, 0, sizeof ln->tail);
    if (rem) memcpy(ln->tail, msg + 128 * full, rem); /* rem > 0 implies msg != NULL */
    ln->tail[rem] = 0x80;
    /* Message length in bits as a 128-bit big-endian integer. */
    store_be64(ln->tail + 128 * tail_blocks - 16, (uint64_t)len >> 61);
    store_be64(ln->tail + 128 * tail_blocks - 8, (uint64_t)len << 3);
    ln->msg = msg;
    ln->full = full;
    ln->total = full + tail_blocks;
}

/* Runs blocks [from, total) of the lane through the scalar compression function. */
static void lane_finish_scalar(uint64_t state[8], const sha512_lane *ln, size_t from) {
    if (from < ln->full) {
        sha512_compress(state, ln->msg + 128 * from, ln->full - from);
        from = ln->full;
    }
    if (from < ln->total) sha512_compress(state, ln->tail + 128 * (from - ln->full), ln->total - from);
}

static void output_digest(uint8_t digest[64], const uint64_t state[8]) {
    for (int k = 0; k < 8; k++) store_be64(digest + 8 * k, state[k]);
}

void vouch_sha512(uint8_t digest[64], const uint8_t *message, size_t length) {
    sha512_lane ln;
    uint64_t state[8];
    memcpy(state, IV512, sizeof state);
    lane_init(&ln, message, length);
    lane_finish_scalar(state, &ln, 0);
    output_digest(digest, state);
}

static void sha512_x4_scalar(uint8_t digests[][64], const uint8_t *const messages[], const size_t lengths[],
                             int count) {
    for (int l = 0; l < count; l++) vouch_sha512(digests[l], messages[l], lengths[l]);
}

#if VOUCH_SHA512_X86
/* ------------------------------------------------------------------------------------------------ */
/* AVX2: four lanes                                                                                   */
/* ------------------------------------------------------------------------------------------------ */

/* Below this many active lanes the vector loop stops and the scalar code finishes the rest. */
#ifndef VOUCH_X4_MIN_LANES
#define VOUCH_X4_MIN_LANES 2
#endif

#define AVX2_FN __attribute__((target("avx2"), always_inline)) static inline

AVX2_FN __m256i v_add(__m256i a, __m256i b) { return _mm256_add_epi64(a, b); }
AVX2_FN __m256i v_xor(__m256i a, __m256i b) { return _mm256_xor_si256(a, b); }
AVX2_FN __m256i v_ror(__m256i x, int n) {
    return _mm256_or_si256(_mm256_srli_epi64(x, n), _mm256_slli_epi64(x, 64 - n));
}
/* Σ0, Σ1: the rotates share one xor chain: (x>>a ^ x>>b ^ x>>c) ^ (x<<64-a ^ x<<64-b ^ x<<64-c). */
AVX2_FN __m256i v_bsig0(__m256i x) {
    __m256i r = v_xor(v_xor(_mm256_srli_epi64(x, 28), _mm256_srli_epi64(x, 34)), _mm256_srli_epi64(x, 39));
    __m256i l = v_xor(v_xor(_mm256_slli_epi64(x, 36), _mm256_slli_epi64(x, 30)), _mm256_slli_epi64(x, 25));
    return v_xor(r, l);
}
AVX2_FN __m256i v_bsig1(__m256i x) {
    __m256i r = v_xor(v_xor(_mm256_srli_epi64(x, 14), _mm256_srli_epi64(x, 18)), _mm256_srli_epi64(x, 41));
    __m256i l = v_xor(v_xor(_mm256_slli_epi64(x, 50), _mm256_slli_epi64(x, 46)), _mm256_slli_epi64(x, 23));
    return v_xor(r, l);
}
/* σ0: the rotate by 8 is a byte shuffle. */
AVX2_FN __m256i v_ssig0(__m256i x) {
    const __m256i ror8 = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8,
                                          1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
    return v_xor(v_xor(v_ror(x, 1), _mm256_shuffle_epi8(x, ror8)), _mm256_srli_epi64(x, 7));
}
AVX2_FN __m256i v_ssig1(__m256i x) {
    __m256i r = v_xor(v_xor(_mm256_srli_epi64(x, 19), _mm256_srli_epi64(x, 61)), _mm256_srli_epi64(x, 6));
    __m256i l = v_xor(_mm256_slli_epi64(x, 45), _mm256_slli_epi64(x, 3));
    return v_xor(r, l);
}

/* Loads words 4q..4q+3 of the four lanes' blocks and transposes them so that out[k] = word 4q+k of
 * lanes 0..3 (lane l in 64-bit element l). */
AVX2_FN void v_load4(__m256i out[4], const uint8_t *const p[4], int q) {
    const __m256i bswap = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8,
                                           7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
    __m256i a = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p[0] + 32 * q)), bswap);
    __m256i b = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p[1] + 32 * q)), bswap);
    __m256i c = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p[2] + 32 * q)), bswap);
    __m256i d = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p[3] + 32 * q)), bswap);
    __m256i ab02 = _mm256_unpacklo_epi64(a, b); /* a0 b0 a2 b2 */
    __m256i ab13 = _mm256_unpackhi_epi64(a, b); /* a1 b1 a3 b3 */
    __m256i cd02 = _mm256_unpacklo_epi64(c, d);
    __m256i cd13 = _mm256_unpackhi_epi64(c, d);
    out[0] = _mm256_permute2x128_si256(ab02, cd02, 0x20); /* a0 b0 c0 d0 */
    out[1] = _mm256_permute2x128_si256(ab13, cd13, 0x20);
    out[2] = _mm256_permute2x128_si256(ab02, cd02, 0x31);
    out[3] = _mm256_permute2x128_si256(ab13, cd13, 0x31);
}

/* The round constants broadcast to four lanes, so that a round adds K[t] with one memory operand. */
#define K_FOUR(k) {k, k, k, k},
static const uint64_t K512x4[80][4] __attribute__((aligned(32))) = {SHA512_K(K_FOUR)};

/* One round on four lanes. Maj(a,b,c) = ((a^b) & (b^c)) ^ b, where b^c is the previous round's a^b
 * (carried in bc); Ch(e,f,g) = ((f^g) & e) ^ g. */
#define VROUND(a, b, c, d, e, f, g, h, t)                                                                   \
    do {                                                                                                    \
        __m256i ch_ = v_xor(_mm256_and_si256(v_xor((f), (g)), (e)), (g));                                   \
        __m256i t1_ = v_add(v_add(v_add((h), _mm256_load_si256((const __m256i *)K512x4[t])), W[t]),         \
                            v_add(ch_, v_bsig1(e)));                                                        \
        __m256i ab_ = v_xor((a), (b));                                                                      \
        __m256i t2_ = v_add(v_bsig0(a), v_xor(_mm256_and_si256(ab_, bc), (b)));                             \
        bc = ab_;                                                                                           \
        (d) = v_add((d), t1_);                                                                              \
        (h) = v_add(t1_, t2_);                                                                              \
    } while (0)

/* Message-schedule word t >= 16. The words are computed inside the round loop, 16 rounds ahead of use, rather
 * than in a separate loop first: a separate loop is latency-bound (W[t] depends on W[t-2], which goes through
 * memory), while interleaved with the rounds that latency is hidden (measured ~15% faster on Zen 3). */
#define VSCHED(t) \
    (W[t] = v_add(v_add(v_ssig1(W[(t) - 2]), W[(t) - 7]), v_add(v_ssig0(W[(t) - 15]), W[(t) - 16])))

#define VROUNDS8(t)                            \
    do {                                       \
        VROUND(a, b, c, d, e, f, g, h, (t) + 0); \
        VROUND(h, a, b, c, d, e, f, g, (t) + 1); \
        VROUND(g, h, a, b, c, d, e, f, (t) + 2); \
        VROUND(f, g, h, a, b, c, d, e, (t) + 3); \
        VROUND(e, f, g, h, a, b, c, d, (t) + 4); \
        VROUND(d, e, f, g, h, a, b, c, (t) + 5); \
        VROUND(c, d, e, f, g, h, a, b, (t) + 6); \
        VROUND(b, c, d, e, f, g, h, a, (t) + 7); \
    } while (0)

__attribute__((target("avx2"))) static void sha512_compress_x4(__m256i st[8], const uint8_t *const p[4]) {
    __m256i W[80];
    for (int q = 0; q < 4; q++) v_load4(W + 4 * q, p, q);

    __m256i a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
    __m256i bc = v_xor(b, c);
    for (int t = 0; t < 64; t += 8) {
        for (int k = 16; k < 24; k++) VSCHED(t + k); /* words for the rounds two groups later */
        VROUNDS8(t);
    }
    VROUNDS8(64);
    VROUNDS8(72);
    st[0] = v_add(st[0], a); st[1] = v_add(st[1], b); st[2] = v_add(st[2], c); st[3] = v_add(st[3], d);
    st[4] = v_add(st[4], e); st[5] = v_add(st[5], f); st[6] = v_add(st[6], g); st[7] = v_add(st[7], h);
}

/* An unused lane: no blocks; its (zeroed) tail buffer serves as the dummy block. */
static void lane_unused(sha512_lane *ln) {
    memset(ln->tail, 0, 128);
    ln->msg = NULL;
    ln->full = 0;
    ln->total = 0;
}

__attribute__((target("avx2"))) static void sha512_x4_avx2(uint8_t digests[][64], const uint8_t *const messages[],
                                                           const size_t lengths[], int count) {
    sha512_lane lanes[4];
    size_t max_total = 0;
    for (int l = 0; l < 4; l++) {
        if (l < count) lane_init(&lanes[l], messages[l], lengths[l]);
        else lane_unused(&lanes[l]);
        if (lanes[l].total > max_total) max_total = lanes[l].total;
    }

    __m256i st[8];
    for (int k = 0; k < 8; k++) st[k] = _mm256_set1_epi64x((long long)IV512[k]);
    const __m256i totals = _mm256_setr_epi64x((long long)lanes[0].total, (long long)lanes[1].total,
                                              (long long)lanes[2].total, (long long)lanes[3].total);

    size_t i = 0;
    for (; i < max_total; i++) {
        int active = 0;
        const uint8_t *p[4];
        for (int l = 0; l < 4; l++) {
            const sha512_lane *ln = &lanes[l];
            if (i < ln->full) p[l] = ln->msg + 128 * i, active++;
            else if (i < ln->total) p[l] = ln->tail + 128 * (i - ln->full), active++;
            else p[l] = ln->tail; /* dummy block; result discarded by the blend below */
        }
        if (active < VOUCH_X4_MIN_LANES) break;
        if (active == 4) {
            sha512_compress_x4(st, p);
        } else {
            __m256i saved[8];
            for (int k = 0; k < 8; k++) saved[k] = st[k];
            sha512_compress_x4(st, p);
            /* mask element l is all-ones iff lane l is still active (total > i) */
            __m256i live = _mm256_cmpgt_epi64(totals, _mm256_set1_epi64x((long long)i));
            for (int k = 0; k < 8; k++) st[k] = _mm256_blendv_epi8(saved[k], st[k], live);
        }
    }

    uint64_t s[8][4];
    for (int k = 0; k < 8; k++) _mm256_storeu_si256((__m256i *)s[k], st[k]);
    for (int l = 0; l < count; l++) {
        uint64_t state[8];
        for (int k = 0; k < 8; k++) state[k] = s[k][l];
        lane_finish_scalar(state, &lanes[l], i); /* no-op for lanes already done */
        output_digest(digests[l], state);
    }
}

static int have_avx2(void) {
    static atomic_int cached; /* 0 = not yet known, 1 = no, 2 = yes */
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v == 0) {
        __builtin_cpu_init(); /* idempotent; normally already done by a constructor */
        v = __builtin_cpu_supports("avx2") ? 2 : 1;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v == 2;
}
#endif /* VOUCH_SHA512_X86 */

void vouch_sha512_x4(uint8_t *digest_bytes, const uint8_t *const messages[], const size_t lengths[], int count) {
    uint8_t(*digests)[64] = (uint8_t(*)[64])digest_bytes;
    /* count > 4 is handled in groups of four, count <= 0 is a no-op. */
    for (int off = 0; off < count; off += 4) {
        int n = count - off < 4 ? count - off : 4;
#if VOUCH_SHA512_X86
        if (n >= VOUCH_X4_MIN_LANES && have_avx2()) {
            sha512_x4_avx2(digests + off, messages + off, lengths + off, n);
            continue;
        }
#endif
        sha512_x4_scalar(digests + off, messages + off, lengths + off, n);
    }
}
