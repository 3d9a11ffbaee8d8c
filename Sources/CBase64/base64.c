/* Standard padded base64 decoding (RFC 4648 §4) with an AVX2 bulk loop chosen at run time.
 *
 * Acceptance (same as CanonicalTraceReader.base64): n % 4 == 0; every byte is in
 * `A-Z a-z 0-9 + /` except that the last quantum may end in `x=` or `==`; the bits that the
 * padding drops must be zero. Anything else returns -1.
 *
 * Writes: never past out + (n/4*3 - p), where p is the number of '=' among the last two input
 * bytes (so on success never past out + return value). On failure the contents of `out` are
 * unspecified (a prefix may have been written). Never reads outside in[0, n).
 */
#include "cbase64.h"

#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__clang__) || defined(__GNUC__))
#define VOUCH_B64_X86 1
#include <immintrin.h>
#endif

/* ---- Scalar ----------------------------------------------------------------------------------- */

/* Alphabet value of a byte, 0xFF for everything else (including '='). */
#define B64V(c)                                                                                    \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                        \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                   \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                   \
     : (c) == '+'               ? 62                                                               \
     : (c) == '/'               ? 63                                                               \
                                : 0xFF)
/* The value already shifted into its place in the 24-bit group; invalid bytes set bits 24-31. */
#define B64S(c, sh) (B64V(c) == 0xFF ? 0xFF000000u : (uint32_t)B64V(c) << (sh))
#define B64R4(c, sh) B64S(c, sh), B64S((c) + 1, sh), B64S((c) + 2, sh), B64S((c) + 3, sh)
#define B64R16(c, sh) B64R4(c, sh), B64R4((c) + 4, sh), B64R4((c) + 8, sh), B64R4((c) + 12, sh)
#define B64R64(c, sh) B64R16(c, sh), B64R16((c) + 16, sh), B64R16((c) + 32, sh), B64R16((c) + 48, sh)
#define B64TABLE(sh) {B64R64(0, sh), B64R64(64, sh), B64R64(128, sh), B64R64(192, sh)}

static const uint32_t d0[256] = B64TABLE(18);
static const uint32_t d1[256] = B64TABLE(12);
static const uint32_t d2[256] = B64TABLE(6);
static const uint32_t d3[256] = B64TABLE(0);

#define B64_BAD 0xFF000000u

/* Writes the 3 bytes of a 24-bit group plus one junk byte (the caller guarantees room). */
static inline void store4(uint8_t *out, uint32_t w) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && (defined(__clang__) || defined(__GNUC__))
    uint32_t be = __builtin_bswap32(w << 8);
    memcpy(out, &be, 4);
#else
    out[0] = (uint8_t)(w >> 16);
    out[1] = (uint8_t)(w >> 8);
    out[2] = (uint8_t)w;
    out[3] = 0;
#endif
}

/* Decodes in[i, n) to out[o, ...), where n % 4 == 0, n >= 4, i % 4 == 0, i <= n - 4 and o == i/4*3.
 * The quanta before the last one are written with 4-byte stores: the spare byte lands on the
 * first byte of the next quantum's output, and the last quantum always yields at least one byte
 * (p <= 2), so nothing goes past out + n/4*3 - p. The last quantum is validated before it is
 * written. */
static inline ptrdiff_t decode_tail(uint8_t *out, const uint8_t *in, size_t n, size_t i, size_t o) {
    const size_t last = n - 4;
    uint32_t bad = 0;
    for (; i < last; i += 4, o += 3) {
        uint32_t w = d0[in[i]] | d1[in[i + 1]] | d2[in[i + 2]] | d3[in[i + 3]];
        bad |= w;
        store4(out + o, w);
    }
    if (bad & B64_BAD) return -1;

    const uint8_t *q = in + last;
    if (q[3] != '=') {
        /* No padding. (If q[2] is '=' the input is invalid and d2 rejects it.) */
        uint32_t w = d0[q[0]] | d1[q[1]] | d2[q[2]] | d3[q[3]];
        if (w & B64_BAD) return -1;
        out[o] = (uint8_t)(w >> 16);
        out[o + 1] = (uint8_t)(w >> 8);
        out[o + 2] = (uint8_t)w;
        return (ptrdiff_t)(o + 3);
    }
    if (q[2] != '=') {
        /* "xyz=": the two low bits of z are dropped and must be zero. */
        uint32_t w = d0[q[0]] | d1[q[1]] | d2[q[2]];
        if (w & (B64_BAD | 0xFFu)) return -1;
        out[o] = (uint8_t)(w >> 16);
        out[o + 1] = (uint8_t)(w >> 8);
        return (ptrdiff_t)(o + 2);
    }
    /* "xy==": the four low bits of y are dropped and must be zero. */
    uint32_t w = d0[q[0]] | d1[q[1]];
    if (w & (B64_BAD | 0xFFFFu)) return -1;
    out[o] = (uint8_t)(w >> 16);
    return (ptrdiff_t)(o + 1);
}

/* The portable path. Exported (but not in the header) so tests can compare both paths. */
ptrdiff_t vouch_base64_decode_scalar(uint8_t *out, const uint8_t *in, size_t n);
ptrdiff_t vouch_base64_decode_scalar(uint8_t *out, const uint8_t *in, size_t n) {
    if (n % 4 != 0) return -1;
    if (n == 0) return 0;
    return decode_tail(out, in, n, 0, 0);
}

/* ---- AVX2 ------------------------------------------------------------------------------------- */

#ifdef VOUCH_B64_X86

#define B64_AVX2 __attribute__((target("avx2")))

/* 32 base64 characters -> 24 bytes in the low 24 bytes of the result. `*bad` gets a non-zero byte
 * for every character outside the alphabet (including '=').
 *
 * Validity: a byte is valid iff lut_lo[low nibble] & lut_hi[high nibble] == 0. Each high nibble
 * selects one bit naming "its" set of invalid low nibbles:
 *   bit 0 high 2 ('+' 0x2B, '/' 0x2F): invalid unless low is B or F
 *   bit 1 high 3 ('0'-'9'):             invalid if low >= A
 *   bit 2 high 4, 6 ('A'-'O', 'a'-'o'): invalid if low == 0
 *   bit 3 high 5, 7 ('P'-'Z', 'p'-'z'): invalid if low >= B
 *   bit 4 any other high nibble (0, 1, 8-F, so all bytes >= 0x80): always invalid
 * Translation: value = byte + offset, offset chosen by the high nibble, except that '/' shares
 * high nibble 2 with '+': the compare mask (-1) moves '/' to index 1.
 * Packing: [a b c d] (6 bits each) -> maddubs -> [a<<6|b, c<<6|d] -> madd -> a<<18|b<<12|c<<6|d
 * per dword; bytes 2,1,0 of each dword are the output, gathered by pshufb then vpermd (dwords 6, 7
 * of the result are junk; indices 0, 0 there rather than the zero dwords 3, 7 keep clang from
 * adding a vpblendd to preserve those zeros). */
static inline B64_AVX2 __m256i decode32(__m256i s, __m256i *bad) {
    const __m256i lut_lo = _mm256_setr_epi8(
        0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A,
        0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
    const __m256i lut_hi = _mm256_setr_epi8(
        0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
        0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
    /* index 1: '/' -> 63; 2: '+' -> 62; 3: digits -> 52..61; 4, 5: upper -> 0..25; 6, 7: lower -> 26..51 */
    const __m256i lut_off = _mm256_setr_epi8(
        0, 63 - '/', 62 - '+', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a', 0, 0, 0, 0, 0, 0, 0, 0,
        0, 63 - '/', 62 - '+', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a', 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nib = _mm256_set1_epi8(0x0F);

    __m256i hi = _mm256_and_si256(_mm256_srli_epi32(s, 4), nib);
    __m256i lo = _mm256_and_si256(s, nib);
    *bad = _mm256_and_si256(_mm256_shuffle_epi8(lut_lo, lo), _mm256_shuffle_epi8(lut_hi, hi));

    __m256i slash = _mm256_cmpeq_epi8(s, _mm256_set1_epi8('/'));
    __m256i v = _mm256_add_epi8(s, _mm256_shuffle_epi8(lut_off, _mm256_add_epi8(hi, slash)));

    __m256i pairs = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
    __m256i words = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
    __m256i packed = _mm256_shuffle_epi8(words, _mm256_setr_epi8(
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
    return _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 0, 0));
}

static B64_AVX2 ptrdiff_t decode_avx2(uint8_t *out, const uint8_t *in, size_t n) {
    if (n % 4 != 0) return -1;
    if (n == 0) return 0;
    /* SIMD only over the quanta before the last one; decode_tail does the rest. */
    const size_t last = n - 4;
    size_t i = 0, o = 0;

    /* 64 characters -> 48 bytes with two 32-byte stores; the second one's 8 spare bytes must
     * still lie in the output of quanta before the last: so 12 more characters after this block. */
    while (i + 64 + 12 <= last) {
        __m256i bad0, bad1;
        __m256i r0 = decode32(_mm256_loadu_si256((const __m256i *)(in + i)), &bad0);
        __m256i r1 = decode32(_mm256_loadu_si256((const __m256i *)(in + i + 32)), &bad1);
        __m256i bad = _mm256_or_si256(bad0, bad1);
        if (!_mm256_testz_si256(bad, bad)) return -1;
        _mm256_storeu_si256((__m256i *)(out + o), r0);
        _mm256_storeu_si256((__m256i *)(out + o + 24), r1);
        i += 64;
        o += 48;
    }
    /* At most two more blocks, stored exactly (16 + 8 bytes). */
    while (i + 32 <= last) {
        __m256i bad;
        __m256i r = decode32(_mm256_loadu_si256((const __m256i *)(in + i)), &bad);
        if (!_mm256_testz_si256(bad, bad)) return -1;
        _mm_storeu_si128((__m128i *)(out + o), _mm256_castsi256_si128(r));
        _mm_storel_epi64((__m128i *)(out + o + 16), _mm256_extracti128_si256(r, 1));
        i += 32;
        o += 24;
    }
    return decode_tail(out, in, n, i, o);
}

/* 0: not yet known, 1: no AVX2, 2: AVX2. Threads racing on the first call all store the same
 * value; atomics keep that a benign, well-defined race. */
static int avx2_state;

static int have_avx2(void) {
    int s = __atomic_load_n(&avx2_state, __ATOMIC_RELAXED);
    if (s == 0) {
        __builtin_cpu_init(); /* a no-op read once the runtime's constructor has run */
        s = __builtin_cpu_supports("avx2") ? 2 : 1;
        __atomic_store_n(&avx2_state, s, __ATOMIC_RELAXED);
    }
    return s == 2;
}

#endif /* VOUCH_B64_X86 */

ptrdiff_t vouch_base64_decode(uint8_t *out, const uint8_t *in, size_t n) {
#ifdef VOUCH_B64_X86
    if (have_avx2()) return decode_avx2(out, in, n);
#endif
    return vouch_base64_decode_scalar(out, in, n);
}
