#include "ced25519.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "edwards25519.h"
#include "scalar25519.h"

/* Table windows: 32 additions for each of [k]A and [S]B. A key's table is 491,520 bytes (32 rows of
 * 128 points), built by the key's first verification (about 2 ms); the base point's, the same size,
 * is shared and built on first use. Windows of 5 and 7 (97,920 and 284,160 bytes) took 25% longer
 * per verification. */
enum { KEY_WINDOW = 8, BASE_WINDOW = 8 };

enum { TABLE_ABSENT, TABLE_BUILDING, TABLE_BUILT };

struct vouch_ed25519_key {
    ed_affine table[ED_TABLE_SIZE(KEY_WINDOW)];
    ed_point point;
    _Atomic int table_state;
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
    if (!ed_decode(&key->point, public_key)) return 0;
    atomic_init(&key->table_state, TABLE_ABSENT);
    return 1;
}

/* The key's table: built by the first caller, the others wait for it. */
static const ed_affine *key_table(vouch_ed25519_key *key) {
    int state = atomic_load_explicit(&key->table_state, memory_order_acquire);
    if (state == TABLE_BUILT) return key->table;
    if (state == TABLE_ABSENT && atomic_compare_exchange_strong(&key->table_state, &state, TABLE_BUILDING)) {
        ed_table_build(key->table, KEY_WINDOW, &key->point);
        atomic_store_explicit(&key->table_state, TABLE_BUILT, memory_order_release);
        return key->table;
    }
    while (atomic_load_explicit(&key->table_state, memory_order_acquire) != TABLE_BUILT) sched_yield();
    return key->table;
}

int vouch_ed25519_verify_prehashed(vouch_ed25519_key *key, const uint8_t signature[64], const uint8_t k[64]) {
    const uint8_t *s = signature + 32;
    if (!sc_is_canonical(s)) return 0;
    pthread_once(&base_table_once, build_base_table);
    const ed_affine *table = key_table(key);
    uint8_t k_mod_l[32];
    sc_reduce64(k_mod_l, k);
    int8_t kd[ED_ROWS(KEY_WINDOW)], sd[ED_ROWS(BASE_WINDOW)];
    sc_recode(kd, ED_ROWS(KEY_WINDOW), KEY_WINDOW, k_mod_l);
    sc_recode(sd, ED_ROWS(BASE_WINDOW), BASE_WINDOW, s);
    /* r = [S]B - [k]A */
    ed_point r;
    ed_identity(&r);
    ed_term terms[ED_ROWS(KEY_WINDOW) + ED_ROWS(BASE_WINDOW)];
    int n = ed_terms(terms, table, KEY_WINDOW, kd, 1);
    n += ed_terms(terms + n, base_table, BASE_WINDOW, sd, 0);
    ed_add_terms(&r, terms, n);
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
