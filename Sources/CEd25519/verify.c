#include "ced25519.h"

#include <pthread.h>
#include <string.h>

#include "edwards25519.h"
#include "scalar25519.h"

/* Table windows. A key's table is 97,920 bytes (51 rows of 16 points); the base point's is shared,
 * so it can be larger: 284,160 bytes (37 rows of 64), built on first use. */
enum { KEY_WINDOW = 5, BASE_WINDOW = 7 };

struct vouch_ed25519_key {
    ed_affine table[ED_TABLE_SIZE(KEY_WINDOW)];
};

static ed_affine base_table[ED_TABLE_SIZE(BASE_WINDOW)];
static pthread_once_t base_table_once = PTHREAD_ONCE_INIT;

/* The base point: y = 4/5, x even. */
static void build_base_table(void) {
    uint8_t encoding[32];
    memset(encoding, 0x66, sizeof encoding);
    encoding[0] = 0x58;
    ed_point b;
    ed_decode(&b, encoding);
    ed_table_build(base_table, BASE_WINDOW, &b);
}

size_t vouch_ed25519_key_size(void) {
    return sizeof(vouch_ed25519_key);
}

int vouch_ed25519_key_prepare(vouch_ed25519_key *key, const uint8_t public_key[32]) {
    ed_point a;
    if (!ed_decode(&a, public_key)) return 0;
    ed_table_build(key->table, KEY_WINDOW, &a);
    return 1;
}

int vouch_ed25519_verify_prehashed(const vouch_ed25519_key *key, const uint8_t signature[64], const uint8_t k[64]) {
    const uint8_t *s = signature + 32;
    if (!sc_is_canonical(s)) return 0;
    pthread_once(&base_table_once, build_base_table);
    uint8_t k_mod_l[32];
    sc_reduce64(k_mod_l, k);
    int8_t kd[ED_ROWS(KEY_WINDOW)], sd[ED_ROWS(BASE_WINDOW)];
    sc_recode(kd, ED_ROWS(KEY_WINDOW), KEY_WINDOW, k_mod_l);
    sc_recode(sd, ED_ROWS(BASE_WINDOW), BASE_WINDOW, s);
    for (int i = 0; i < ED_ROWS(KEY_WINDOW); i++) kd[i] = (int8_t)-kd[i];
    /* r = [S]B - [k]A */
    ed_point r;
    ed_identity(&r);
    ed_add_digits(&r, key->table, KEY_WINDOW, kd);
    ed_add_digits(&r, base_table, BASE_WINDOW, sd);
    uint8_t encoding[32];
    ed_encode(encoding, &r);
    return memcmp(encoding, signature, 32) == 0;
}

void vouch_ed25519_field_inverses(const uint64_t a[5], uint8_t fermat[32], uint8_t safegcd[32]) {
    fe x, r;
    for (int i = 0; i < 5; i++) x.v[i] = a[i] & ((UINT64_C(1) << 54) - 1);
    fe_invert(&r, &x);
    fe_tobytes(fermat, &r);
    fe_invert_vartime(&r, &x);
    fe_tobytes(safegcd, &r);
}
