/* Ed25519 signature verification against a public key prepared once and used many times.
 *
 * Preparing a key decodes it and precomputes multiples of it, so that a verification is two sums of
 * precomputed points (for the base point and for the key) and one inversion. Verification only,
 * variable time: every input is public.
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

/* Decodes public_key into *key. Returns 1, or 0 if the bytes are not the encoding of a curve point
 * (every signature would be rejected under such a key). Thread-safe. */
int vouch_ed25519_key_prepare(vouch_ed25519_key *key, const uint8_t public_key[32]);

/* Verifies signature = R ‖ S for the prepared key, given k = SHA-512(R ‖ A ‖ M) where A is the
 * 32-byte public key and M the message. Returns 1 if valid, 0 if not. Thread-safe; *key is read only. */
int vouch_ed25519_verify_prehashed(const vouch_ed25519_key *key, const uint8_t signature[64], const uint8_t k[64]);

/* For tests: 1/a mod p (p = 2^255 - 19; 0 for a ≡ 0) for a given as five 51-bit limbs that may each
 * be up to 2^54 - 1 (the redundant form the field code passes around), both by Fermat's little
 * theorem and by the variable-time safegcd inversion that verification uses; canonical little-endian. */
void vouch_ed25519_field_inverses(const uint64_t a[5], uint8_t fermat[32], uint8_t safegcd[32]);

#ifdef __cplusplus
}
#endif

#endif
