/* Ed25519 signature verification against a public key prepared once and used many times.
 *
 * Preparing a key decodes it; its first verification precomputes multiples of it (a table), so that
 * every verification is two sums of precomputed points (for the base point and for the key) and one
 * inversion. Verification only, variable time: every input is public.
 *
 * Acceptance is exactly that of BoringSSL's ED25519_verify (swift-crypto's Curve25519 on Linux):
 * S must be below the group order L; the public key decodes leniently (y may be ≥ p, x = 0 may carry
 * the sign bit, points of small order are fine); k is reduced modulo L; and the canonical encoding
 * of [S]B - [k]A must equal the signature's R bytes. */
#ifndef VOUCH_CED25519_H
#define VOUCH_CED25519_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A prepared public key. Allocate vouch_ed25519_key_size() bytes, aligned for uint64_t. */
typedef struct vouch_ed25519_key vouch_ed25519_key;

size_t vouch_ed25519_key_size(void);

/* Decodes public_key into *key (the table is built later, by the first verification). Returns 1, or 0
 * if the bytes are not the encoding of a curve point (every signature would be rejected under such a
 * key). */
int vouch_ed25519_key_prepare(vouch_ed25519_key *key, const uint8_t public_key[32]);

/* Verifies signature = R ‖ S for the prepared key, given k = SHA-512(R ‖ A ‖ M) where A is the
 * 32-byte public key and M the message. Returns 1 if valid, 0 if not. Thread-safe: the first call for
 * a key builds its table (about 2 ms) while concurrent calls for that key wait for it. */
int vouch_ed25519_verify_prehashed(vouch_ed25519_key *key, const uint8_t signature[64], const uint8_t k[64]);

/* SHA-512 (FIPS 180-4) of count messages (any lengths), four at a time side by side in AVX2 lanes when
 * the CPU has AVX2 (checked once), else one after another: the challenges k = SHA-512(R ‖ A ‖ M) of
 * many signatures. digests holds count × 64 bytes and must not overlap the messages. Thread-safe. */
void vouch_sha512_x4(uint8_t *digests, const uint8_t *const messages[], const size_t lengths[], int count);

/* SHA-512 of one message (portable C; the fallback of vouch_sha512_x4). */
void vouch_sha512(uint8_t digest[64], const uint8_t *message, size_t length);

/* For tests: 1/a mod p (p = 2^255 - 19; 0 for a ≡ 0) for a given as five 51-bit limbs that may each
 * be up to 2^54 - 1 (the redundant form the field code passes around), both by Fermat's little
 * theorem and by the variable-time safegcd inversion that verification uses; canonical little-endian. */
void vouch_ed25519_field_inverses(const uint64_t a[5], uint8_t fermat[32], uint8_t safegcd[32]);

#ifdef __cplusplus
}
#endif

#endif
