/*
 * snapshot.c - see snapshot.h and docs/snapshot.md. Layout (little-endian):
 *
 *   0    header (256 bytes) + section table (32 bytes per section),
 *        checksummed together; the rest of the first page is zero
 *   ...  sections, each starting on a 4096-byte boundary:
 *        TOKENS  i32[n_tokens]
 *        LOGITS  f32[n_vocab]                       (flag 1)
 *        ADAMAS  the Adamas state blob (adamas.c)   (flag 2)
 *        SUMS    u64 row checksums, [K blocks | V blocks | code blocks][chunk]
 *        K       [layer][kv head][n_tokens][k_row]
 *        V       [layer][kv head][n_tokens][v_row]
 *                (sliding-window layers: rows before ring_lo are zeros,
 *                written as holes; the cache had dropped them)
 *        CODES   [sparse layer][kv head][code blocks of n_tokens]  (flag 2)
 */
#include "snapshot.h"

#include "engine.h"
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096u
#define HEADER_BYTES 256u
#define SECTION_BYTES 32u
#define MAX_SECTIONS 16u
#define DESC_BYTES 128u

static const char k_magic[8] = {'A', 'D', 'M', 'S', 'N', 'A', 'P', '\0'};

enum { SEC_TOKENS = 1, SEC_LOGITS, SEC_K, SEC_V, SEC_ADAMAS, SEC_CODES, SEC_SUMS, SEC_COUNT };
static const char *const k_sec_name[SEC_COUNT] = {"?", "token", "logits", "K rows", "V rows", "Adamas state",
                                                  "Adamas codes", "row checksum"};
enum { FLAG_LOGITS = 1, FLAG_ADAMAS = 2 };

/* Header field offsets. */
enum {
    H_MAGIC = 0, H_VERSION = 8, H_HEADER_SIZE = 12, H_FILE_SIZE = 16, H_SUM = 24, H_MODEL = 32, H_DESC = 40,
    H_N_LAYER = 168, H_N_HEAD_KV = 172, H_HD_K = 176, H_HD_V = 180, H_N_VOCAB = 184, H_TYPE_K = 188, H_TYPE_V = 192,
    H_N_TOKENS = 196, H_CHUNK = 200, H_N_SECTIONS = 204, H_FLAGS = 208, H_CODE_DIM = 212, H_N_SPARSE = 216,
    H_N_HEAD = 220, H_RING_LO = 224,
};

/* ---- hashing ---- */

#define HK1 0x9E3779B97F4A7C15ull
#define HK2 0xC2B2AE3D27D4EB4Full
#define HK3 0xD6E8FEB86659FD93ull

static inline uint64_t fmix(uint64_t x) {
    x ^= x >> 32;
    x *= HK3;
    x ^= x >> 29;
    x *= HK1;
    x ^= x >> 32;
    return x;
}

/* Four independent lanes of (lane ^ word) * odd constant, then an
 * xor-shift: every step is a bijection of the lane, so changing any word
 * (any bit flip) changes its lane and, through the final bijective mixes,
 * the result. Four independent multiply chains keep it cheaper than the
 * copy it guards (bench/bench_snapshot.c). */
uint64_t adm_snapshot_hash(const void *data, size_t size, uint64_t seed) {
    const uint8_t *p = data;
    uint64_t a0 = seed ^ HK1, a1 = seed ^ HK2, a2 = seed + HK3, a3 = ~seed;
    size_t i = 0;
    for (; i + 32 <= size; i += 32) {
        a0 = (a0 ^ adm_rd_u64(p + i)) * HK2;
        a1 = (a1 ^ adm_rd_u64(p + i + 8)) * HK2;
        a2 = (a2 ^ adm_rd_u64(p + i + 16)) * HK2;
        a3 = (a3 ^ adm_rd_u64(p + i + 24)) * HK2;
        a0 ^= a0 >> 29, a1 ^= a1 >> 29, a2 ^= a2 >> 29, a3 ^= a3 >> 29;
    }
    if (i < size) {
        uint8_t tail[32] = {0};
        memcpy(tail, p + i, size - i);
        a0 = (a0 ^ adm_rd_u64(tail)) * HK2;
        a1 = (a1 ^ adm_rd_u64(tail + 8)) * HK2;
        a2 = (a2 ^ adm_rd_u64(tail + 16)) * HK2;
        a3 = (a3 ^ adm_rd_u64(tail + 24)) * HK2;
    }
    uint64_t h = fmix((uint64_t)size * HK1 ^ seed);
    h = fmix(h ^ a0);
    h = fmix(h ^ a1);
    h = fmix(h ^ a2);
    return fmix(h ^ a3);
}

/* ---- the model's fingerprint ---- */

typedef struct fp_state {
    uint64_t h;
} fp_state;

static void fp_add(fp_state *f, const void *p, size_t n) { f->h = adm_snapshot_hash(p, n, f->h); }
static void fp_u64(fp_state *f, uint64_t v) { fp_add(f, &v, sizeof(v)); }
static void fp_f32(fp_state *f, float v) { fp_add(f, &v, sizeof(v)); }

uint64_t adm_model_fingerprint(const adm_model *m, char *desc, size_t desc_size) {
    const adm_hparams *hp = &m->hp;
    fp_state f = {0x61646d6173ull};
    fp_add(&f, m->arch->name, strlen(m->arch->name));
    const int ints[] = {hp->n_vocab,    hp->n_ctx_train, hp->n_embd,     hp->n_layer, hp->n_head,
                        hp->n_head_kv,  hp->n_ff,        hp->head_dim,   hp->head_dim_v, hp->n_rot};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) fp_u64(&f, (uint64_t)(int64_t)ints[i]);
    fp_f32(&f, hp->rms_eps);
    fp_f32(&f, hp->rope_base);
    fp_f32(&f, hp->rope_freq_scale);
    if (hp->rope_factors) fp_add(&f, hp->rope_factors, (size_t)(hp->n_rot / 2) * sizeof(float));
    const adm_gguf *g = m->gguf;
    for (uint64_t t = 0; t < g->n_tensors; t++) {
        const adm_gguf_tensor *T = &g->tensors[t];
        fp_add(&f, T->name, strlen(T->name));
        fp_u64(&f, (uint64_t)T->type);
        for (int d = 0; d < ADM_GGUF_MAX_DIMS; d++) fp_u64(&f, (uint64_t)T->ne[d]);
        fp_u64(&f, T->offset);
        fp_u64(&f, T->size);
        /* A sample of the data: weights of the same shape (fine-tunes,
         * other random seeds) differ here. */
        const uint64_t n = ADM_MIN(T->size, 64);
        if (n) {
            fp_add(&f, T->data, (size_t)n);
            fp_add(&f, T->data + (T->size - n) / 2, (size_t)n);
            fp_add(&f, T->data + T->size - n, (size_t)n);
        }
    }
    if (desc && desc_size) {
        const adm_type wt = hp->n_layer > 0 ? m->layers[0].wq.type : m->tok_embd.type;
        snprintf(desc, desc_size, "%s '%s' (%d layers, %d embd, %d/%d heads, %s)", m->arch->name, m->name,
                 hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, adm_type_name(wt) ? adm_type_name(wt) : "?");
    }
    return f.h;
}

/* ---- layout shared by the writer and the parser ---- */

typedef struct layout {
    uint32_t n_layer, n_head_kv, hd_k, hd_v, n_vocab, n_tokens, flags;
    adm_type type_k, type_v;
    uint32_t code_dim, n_sparse, n_head;
    uint32_t ring_lo;                  /* first position the sliding-window layers' rows hold */
    uint64_t k_row, v_row, code_bytes; /* code_bytes: per (sparse layer, kv head) */
    uint64_t n_chunks;                 /* row chunks per (layer, head) block */
    uint64_t size[SEC_COUNT];          /* expected bytes per section; 0 = absent */
} layout;

static bool kv_type_ok(uint32_t t, uint32_t hd) {
    return t == ADM_TYPE_F32 || t == ADM_TYPE_F16 || (t == ADM_TYPE_Q8_0 && hd % QK8_0 == 0);
}

/* Fills the row sizes and section sizes; false (with a message) when the
 * dimensions are out of range. Every product is bounded first, so nothing
 * here can overflow. */
static bool layout_sizes(layout *L, const char *name, adm_error *err) {
    if (L->n_layer < 1 || L->n_layer > 4096 || L->n_head_kv < 1 || L->n_head_kv > 4096 || L->hd_k < 1 ||
        L->hd_k > 4096 || L->hd_v < 1 || L->hd_v > 4096 || L->n_vocab < 1 || L->n_vocab > (1u << 28) ||
        L->n_tokens < 1 || L->n_tokens > (1u << 24)) {
        adm_fail(err, ADM_ERR_FORMAT, "%s: the snapshot's dimensions are out of range (%u layers, %u KV heads of "
                 "%u/%u, %u tokens, vocabulary %u)", name, L->n_layer, L->n_head_kv, L->hd_k, L->hd_v, L->n_tokens,
                 L->n_vocab);
        return false;
    }
    if (!kv_type_ok((uint32_t)L->type_k, L->hd_k) || !kv_type_ok((uint32_t)L->type_v, L->hd_v)) {
        adm_fail(err, ADM_ERR_FORMAT, "%s: the snapshot's KV cache types (%u, %u) are not f32, f16 or q8_0", name,
                 (unsigned)L->type_k, (unsigned)L->type_v);
        return false;
    }
    L->k_row = adm_row_size(L->type_k, L->hd_k);
    L->v_row = adm_row_size(L->type_v, L->hd_v);
    L->n_chunks = ((uint64_t)L->n_tokens + ADM_SNAPSHOT_CHUNK - 1) / ADM_SNAPSHOT_CHUNK;
    const uint64_t blocks = (uint64_t)L->n_layer * L->n_head_kv;
    memset(L->size, 0, sizeof(L->size));
    L->size[SEC_TOKENS] = (uint64_t)L->n_tokens * 4;
    if (L->flags & FLAG_LOGITS) L->size[SEC_LOGITS] = (uint64_t)L->n_vocab * 4;
    L->size[SEC_K] = blocks * L->n_tokens * L->k_row;
    L->size[SEC_V] = blocks * L->n_tokens * L->v_row;
    uint64_t sum_blocks = 2 * blocks;
    if (L->flags & FLAG_ADAMAS) {
        const uint32_t cd = L->code_dim;
        if (cd < 4 || cd > 4096 || (cd & (cd - 1)) || L->n_sparse < 1 || L->n_sparse > L->n_layer || L->n_head < 1 ||
            L->n_head > 65536 || L->n_head % L->n_head_kv) {
            adm_fail(err, ADM_ERR_FORMAT, "%s: the snapshot's Adamas index dimensions are out of range (codes of %u, "
                     "%u sparse layers, %u query heads)", name, cd, L->n_sparse, L->n_head);
            return false;
        }
        L->code_bytes = adm_adamas_code_bytes_for((int)cd, (int)L->n_tokens);
        L->size[SEC_ADAMAS] = adm_adamas_state_size_for((int)cd, (int)L->n_sparse, (int)L->n_head, (int)L->n_head_kv);
        L->size[SEC_CODES] = (uint64_t)L->n_sparse * L->n_head_kv * L->code_bytes;
        sum_blocks += (uint64_t)L->n_sparse * L->n_head_kv;
    }
    L->size[SEC_SUMS] = sum_blocks * L->n_chunks * 8;
    return true;
}

/* Sections in file order: small ones first. */
static const int k_order[] = {SEC_TOKENS, SEC_LOGITS, SEC_ADAMAS, SEC_SUMS, SEC_K, SEC_V, SEC_CODES};

static uint64_t page_up(uint64_t x) { return (x + PAGE - 1) / PAGE * PAGE; }

/* ---- the parsed view ---- */

struct adm_snapshot {
    adm_mapped_file *file;    /* owned when opened from a path */
    const uint8_t *data;
    uint64_t size;
    char name[256];
    layout L;
    uint64_t model_fp;
    char model_desc[DESC_BYTES];
    const uint8_t *sec[SEC_COUNT];
    int32_t *tokens;          /* aligned copy */
};

static void set_name(adm_snapshot *s, const char *name) { snprintf(s->name, sizeof(s->name), "%s", name); }

adm_status adm_snapshot_parse(const uint8_t *data, uint64_t size, const char *name, adm_snapshot **out,
                              adm_error *err) {
    *out = NULL;
    if (size < 16 || memcmp(data, k_magic, sizeof(k_magic)) != 0)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: not an adamas snapshot (no ADMSNAP signature)", name);
    const uint32_t version = adm_rd_u32(data + H_VERSION);
    /* Version 1 is version 2 with ring_lo 0 (its header held zeros there). */
    if (version != ADM_SNAPSHOT_VERSION && version != 1)
        return adm_fail(err, ADM_ERR_UNSUPPORTED, "%s: snapshot format version %u; this adamas reads versions 1 and %d "
                        "(make the snapshot again)", name, version, ADM_SNAPSHOT_VERSION);
    if (size < HEADER_BYTES)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: truncated: %llu bytes, shorter than the snapshot header", name,
                        (unsigned long long)size);
    const uint32_t header_size = adm_rd_u32(data + H_HEADER_SIZE), n_sections = adm_rd_u32(data + H_N_SECTIONS);
    if (n_sections > MAX_SECTIONS || header_size != HEADER_BYTES + SECTION_BYTES * n_sections || header_size > PAGE)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: damaged header (section count %u, header size %u)", name,
                        n_sections, header_size);
    if (size < header_size)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: truncated: %llu bytes, shorter than its section table", name,
                        (unsigned long long)size);
    uint8_t head[PAGE];
    memcpy(head, data, header_size);
    memset(head + H_SUM, 0, 8);
    if (adm_snapshot_hash(head, header_size, 0) != adm_rd_u64(data + H_SUM))
        return adm_fail(err, ADM_ERR_FORMAT, "%s: the snapshot header is damaged (checksum mismatch)", name);
    const uint64_t file_size = adm_rd_u64(data + H_FILE_SIZE);
    if (file_size != size)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: %s: the header says %llu bytes, the file has %llu", name,
                        size < file_size ? "truncated" : "trailing bytes", (unsigned long long)file_size,
                        (unsigned long long)size);

    adm_snapshot *s = adm_calloc(1, sizeof(*s));
    if (!s) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    set_name(s, name);
    s->data = data;
    s->size = size;
    s->model_fp = adm_rd_u64(data + H_MODEL);
    memcpy(s->model_desc, data + H_DESC, DESC_BYTES);
    s->model_desc[DESC_BYTES - 1] = '\0';
    layout *L = &s->L;
    L->n_layer = adm_rd_u32(data + H_N_LAYER);
    L->n_head_kv = adm_rd_u32(data + H_N_HEAD_KV);
    L->hd_k = adm_rd_u32(data + H_HD_K);
    L->hd_v = adm_rd_u32(data + H_HD_V);
    L->n_vocab = adm_rd_u32(data + H_N_VOCAB);
    L->type_k = (adm_type)adm_rd_u32(data + H_TYPE_K);
    L->type_v = (adm_type)adm_rd_u32(data + H_TYPE_V);
    L->n_tokens = adm_rd_u32(data + H_N_TOKENS);
    L->flags = adm_rd_u32(data + H_FLAGS);
    L->code_dim = adm_rd_u32(data + H_CODE_DIM);
    L->n_sparse = adm_rd_u32(data + H_N_SPARSE);
    L->n_head = adm_rd_u32(data + H_N_HEAD);
    L->ring_lo = adm_rd_u32(data + H_RING_LO);
    adm_status st = ADM_ERR_FORMAT;
    if (adm_rd_u32(data + H_CHUNK) != ADM_SNAPSHOT_CHUNK || (L->flags & ~(uint32_t)(FLAG_LOGITS | FLAG_ADAMAS))) {
        adm_fail(err, ADM_ERR_FORMAT, "%s: unknown chunk size %u or flags %#x", name, adm_rd_u32(data + H_CHUNK),
                 L->flags);
        goto fail;
    }
    if (!layout_sizes(L, name, err)) goto fail;
    if (L->ring_lo >= L->n_tokens) {
        adm_fail(err, ADM_ERR_FORMAT, "%s: the sliding-window rows start at %u, past the %u tokens", name, L->ring_lo,
                 L->n_tokens);
        goto fail;
    }

    /* Sections: known ids, once each, page-aligned, inside the file, no
     * overlap with the header or each other, exactly the expected size. */
    uint64_t sums[SEC_COUNT] = {0}, ends[SEC_COUNT] = {0};
    for (uint32_t i = 0; i < n_sections; i++) {
        const uint8_t *e = data + HEADER_BYTES + SECTION_BYTES * i;
        const uint32_t id = adm_rd_u32(e);
        const uint64_t off = adm_rd_u64(e + 8), len = adm_rd_u64(e + 16);
        if (id == 0 || id >= SEC_COUNT || s->sec[id] || L->size[id] == 0) {
            adm_fail(err, ADM_ERR_FORMAT, "%s: unexpected or repeated section (id %u)", name, id);
            goto fail;
        }
        uint64_t end;
        if (off % PAGE || off < PAGE || len != L->size[id] || !adm_size_add(off, len, &end) || end > size) {
            adm_fail(err, ADM_ERR_FORMAT, "%s: the %s section (%llu bytes at %llu) %s", name, k_sec_name[id],
                     (unsigned long long)len, (unsigned long long)off,
                     len != L->size[id] ? "does not have the size the header implies" : "lies past the end of the file");
            goto fail;
        }
        for (int j = 1; j < SEC_COUNT; j++)
            if (s->sec[j] && off < ends[j] && (uint64_t)(s->sec[j] - data) < end) {
                adm_fail(err, ADM_ERR_FORMAT, "%s: the %s and %s sections overlap", name, k_sec_name[id], k_sec_name[j]);
                goto fail;
            }
        s->sec[id] = data + off;
        ends[id] = end;
        sums[id] = adm_rd_u64(e + 24);
    }
    for (int id = 1; id < SEC_COUNT; id++)
        if (L->size[id] && !s->sec[id]) {
            adm_fail(err, ADM_ERR_FORMAT, "%s: the %s section is missing", name, k_sec_name[id]);
            goto fail;
        }
    /* The small sections carry their own checksum (bulk rows: SUMS). */
    const int small[] = {SEC_TOKENS, SEC_LOGITS, SEC_ADAMAS, SEC_SUMS};
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        const int id = small[i];
        if (s->sec[id] && adm_snapshot_hash(s->sec[id], (size_t)L->size[id], (uint64_t)id) != sums[id]) {
            adm_fail(err, ADM_ERR_FORMAT, "%s: the %s section is damaged (checksum mismatch)", name, k_sec_name[id]);
            goto fail;
        }
    }
    if (L->flags & FLAG_ADAMAS) {
        /* The blob's own description must agree with the header's. */
        const uint8_t *b = s->sec[SEC_ADAMAS];
        if (adm_rd_u32(b) != L->code_dim || adm_rd_u32(b + 4) != L->n_sparse ||
            adm_rd_u32(b + 8) + L->n_sparse != L->n_layer || adm_rd_u32(b + 12) != L->n_head ||
            adm_rd_u32(b + 16) != L->n_head_kv || adm_rd_u32(b + 20) > ADM_THRESHOLDS_CALIBRATED) {
            adm_fail(err, ADM_ERR_FORMAT, "%s: the Adamas state does not match the header", name);
            goto fail;
        }
    }
    s->tokens = adm_alloc((size_t)L->n_tokens * sizeof(int32_t));
    if (!s->tokens) {
        st = adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    memcpy(s->tokens, s->sec[SEC_TOKENS], (size_t)L->n_tokens * sizeof(int32_t));
    for (uint32_t i = 0; i < L->n_tokens; i++)
        if (s->tokens[i] < 0 || (uint32_t)s->tokens[i] >= L->n_vocab) {
            adm_fail(err, ADM_ERR_FORMAT, "%s: token id %d at position %u is outside the vocabulary (0 to %u)", name,
                     s->tokens[i], i, L->n_vocab - 1);
            goto fail;
        }
    *out = s;
    return ADM_OK;
fail:
    adm_snapshot_free(s);
    return st;
}

adm_status adm_snapshot_open(const char *path, adm_snapshot **out, adm_error *err) {
    *out = NULL;
    adm_mapped_file *f;
    adm_status st = adm_mapped_file_open(path, &f, err);
    if (st != ADM_OK) return st;
    st = adm_snapshot_parse(f->data, f->size, path, out, err);
    if (st != ADM_OK) {
        adm_mapped_file_free(f);
        return st;
    }
    (*out)->file = f;
    return ADM_OK;
}

void adm_snapshot_free(adm_snapshot *s) {
    if (!s) return;
    adm_free(s->tokens);
    adm_mapped_file_free(s->file);
    adm_free(s);
}

int adm_snapshot_n_tokens(const adm_snapshot *s) { return (int)s->L.n_tokens; }
const int32_t *adm_snapshot_tokens(const adm_snapshot *s) { return s->tokens; }
bool adm_snapshot_has_adamas(const adm_snapshot *s) { return (s->L.flags & FLAG_ADAMAS) != 0; }
adm_type adm_snapshot_type_k(const adm_snapshot *s) { return s->L.type_k; }
int adm_snapshot_ring_lo(const adm_snapshot *s) { return (int)s->L.ring_lo; }

adm_snapshot_shape adm_snapshot_get_shape(const adm_snapshot *s) {
    const layout *L = &s->L;
    const bool ad = (L->flags & FLAG_ADAMAS) != 0;
    adm_snapshot_shape sh = {(int)L->n_layer, (int)L->n_head_kv, (int)L->hd_k, (int)L->hd_v, (int)L->n_vocab,
                             ad ? (int)L->n_head : 0, ad ? (int)L->n_sparse : 0, ad ? (int)L->code_dim : 0,
                             ad ? (adm_thresholds)adm_rd_u32(s->sec[SEC_ADAMAS] + 20) : ADM_THRESHOLDS_PAPER};
    return sh;
}
adm_type adm_snapshot_type_v(const adm_snapshot *s) { return s->L.type_v; }

bool adm_snapshot_logits(const adm_snapshot *s, float *out) {
    if (!(s->L.flags & FLAG_LOGITS)) return false;
    memcpy(out, s->sec[SEC_LOGITS], (size_t)s->L.n_vocab * sizeof(float));
    return true;
}

adm_status adm_snapshot_check_model(const adm_snapshot *s, const adm_model *m, adm_error *err) {
    char desc[DESC_BYTES];
    const uint64_t fp = adm_model_fingerprint(m, desc, sizeof(desc));
    if (fp != s->model_fp)
        return adm_fail(err, ADM_ERR_UNSUPPORTED, "%s was made with another model: %s [%016llx]; this one is %s "
                        "[%016llx]", s->name, s->model_desc, (unsigned long long)s->model_fp, desc,
                        (unsigned long long)fp);
    const adm_hparams *hp = &m->hp;
    if (s->L.n_layer != (uint32_t)hp->n_layer || s->L.n_head_kv != (uint32_t)hp->n_head_kv ||
        s->L.hd_k != (uint32_t)hp->head_dim || s->L.hd_v != (uint32_t)hp->head_dim_v ||
        s->L.n_vocab != (uint32_t)hp->n_vocab)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: the snapshot's dimensions disagree with its model fingerprint",
                        s->name);
    return ADM_OK;
}

/* ---- restore ---- */

/* Checksum index of chunk c of block b of a bulk section. */
static const uint8_t *sum_at(const adm_snapshot *s, uint64_t block, uint64_t c) {
    return s->sec[SEC_SUMS] + (block * s->L.n_chunks + c) * 8;
}

/* First position of layer l's rows that a cache continuing from n needs
 * and the snapshot holds. */
static int first_row(const layout *L, const adm_kv_cache *kv, int l, int n) {
    if (!kv->windowed[l]) return 0;
    return ADM_MAX(0, ADM_MAX((int)L->ring_lo, n - kv->cap[l]));
}

/* Copies the rows of positions < n of every (layer, head) block of a K or V
 * section into the cache (those it keeps), verifying each chunk read. */
static adm_status restore_rows(const adm_snapshot *s, int id, adm_kv_cache *kv, uint64_t row, uint64_t sum_block0,
                               int n, adm_error *err) {
    const layout *L = &s->L;
    const uint64_t blocks = (uint64_t)L->n_layer * L->n_head_kv, n_chunks = ((uint64_t)n + ADM_SNAPSHOT_CHUNK - 1) / ADM_SNAPSHOT_CHUNK;
    for (uint64_t b = 0; b < blocks; b++) {
        const int l = (int)(b / L->n_head_kv), h = (int)(b % L->n_head_kv), lo = first_row(L, kv, l, n);
        const uint8_t *src = s->sec[id] + b * L->n_tokens * row;
        for (uint64_t c = 0; c < n_chunks; c++) {
            const uint64_t t0 = c * ADM_SNAPSHOT_CHUNK, t1 = ADM_MIN(t0 + ADM_SNAPSHOT_CHUNK, (uint64_t)L->n_tokens);
            if (adm_snapshot_hash(src + t0 * row, (size_t)((t1 - t0) * row), (uint64_t)id) !=
                adm_rd_u64(sum_at(s, sum_block0 + b, c)))
                return adm_fail(err, ADM_ERR_FORMAT, "%s: the %s of layer %llu, KV head %llu, tokens %llu-%llu are "
                                "damaged (checksum mismatch)", s->name, k_sec_name[id],
                                (unsigned long long)(b / L->n_head_kv), (unsigned long long)(b % L->n_head_kv),
                                (unsigned long long)t0, (unsigned long long)t1 - 1);
        }
        if (lo < n) adm_kv_rows(kv, id == SEC_V, l, h, lo, n, (uint8_t *)(uintptr_t)(src + (uint64_t)lo * row), true);
    }
    return ADM_OK;
}

static adm_status restore_codes(const adm_snapshot *s, adm_adamas *a, int n, adm_error *err) {
    const layout *L = &s->L;
    const uint64_t blocks = (uint64_t)L->n_sparse * L->n_head_kv, sum0 = 2 * (uint64_t)L->n_layer * L->n_head_kv;
    const uint64_t n_chunks = ((uint64_t)n + ADM_SNAPSHOT_CHUNK - 1) / ADM_SNAPSHOT_CHUNK;
    const int cd = (int)L->code_dim;
    for (uint64_t b = 0; b < blocks; b++) {
        const uint8_t *src = s->sec[SEC_CODES] + b * L->code_bytes;
        uint8_t *dst = adm_adamas_head_codes(a, (int)(b / L->n_head_kv), (int)(b % L->n_head_kv));
        for (uint64_t c = 0; c < n_chunks; c++) {
            const int t0 = (int)(c * ADM_SNAPSHOT_CHUNK), t1 = ADM_MIN(t0 + ADM_SNAPSHOT_CHUNK, (int)L->n_tokens);
            const size_t o0 = adm_adamas_code_bytes_for(cd, t0), o1 = adm_adamas_code_bytes_for(cd, t1);
            if (adm_snapshot_hash(src + o0, o1 - o0, SEC_CODES) != adm_rd_u64(sum_at(s, sum0 + b, c)))
                return adm_fail(err, ADM_ERR_FORMAT, "%s: the Adamas codes of sparse layer %llu, KV head %llu, tokens "
                                "%d-%d are damaged (checksum mismatch)", s->name, (unsigned long long)(b / L->n_head_kv),
                                (unsigned long long)(b % L->n_head_kv), t0, t1 - 1);
            memcpy(dst + o0, src + o0, adm_adamas_code_bytes_for(cd, ADM_MIN(t1, n)) - o0);
        }
    }
    return ADM_OK;
}

adm_status adm_snapshot_restore(const adm_snapshot *s, adm_kv_cache *kv, adm_adamas *a, adm_pool *pool,
                                const adm_kernels *k, int n, adm_error *err) {
    const layout *L = &s->L;
    kv->n = 0;
    if (n < 0 || (uint32_t)n > L->n_tokens)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "%s: cannot restore %d of its %u tokens", s->name, n, L->n_tokens);
    if ((uint32_t)kv->n_layer != L->n_layer || (uint32_t)kv->n_head_kv != L->n_head_kv ||
        (uint32_t)kv->head_dim_k != L->hd_k || (uint32_t)kv->head_dim_v != L->hd_v)
        return adm_fail(err, ADM_ERR_UNSUPPORTED, "%s: the snapshot's KV cache shape (%u layers, %u KV heads of %u) "
                        "is not this model's", s->name, L->n_layer, L->n_head_kv, L->hd_k);
    if (kv->type_k != L->type_k || kv->type_v != L->type_v)
        return adm_fail(err, ADM_ERR_UNSUPPORTED, "%s holds %s/%s K/V rows but the cache is %s/%s; use "
                        "--cache-type-k %s --cache-type-v %s", s->name, adm_type_name(L->type_k),
                        adm_type_name(L->type_v), adm_type_name(kv->type_k), adm_type_name(kv->type_v),
                        adm_type_name(L->type_k), adm_type_name(L->type_v));
    if (n > kv->n_ctx)
        return adm_fail(err, ADM_ERR_CONTEXT_FULL, "%s: %d tokens do not fit in a context of %d", s->name, n,
                        kv->n_ctx);
    const uint64_t blocks = (uint64_t)L->n_layer * L->n_head_kv;
    adm_status st = restore_rows(s, SEC_K, kv, kv->k_row, 0, n, err);
    if (st == ADM_OK) st = restore_rows(s, SEC_V, kv, kv->v_row, blocks, n, err);
    if (st != ADM_OK) {
        if (a) adm_adamas_reset(a);
        return st;
    }
    kv->n = n;
    kv->ring_lo = 0;
    for (int l = 0; l < kv->n_layer; l++) kv->ring_lo = ADM_MAX(kv->ring_lo, first_row(L, kv, l, n));
    if (!adm_adamas_has_codes(a)) return ADM_OK;
    const uint8_t *blob = s->sec[SEC_ADAMAS];
    if (blob && adm_adamas_state_compatible(a, blob, (size_t)L->size[SEC_ADAMAS])) {
        st = restore_codes(s, a, n, err);
        if (st == ADM_OK && (st = adm_adamas_state_load(a, blob, (size_t)L->size[SEC_ADAMAS], n, err)) != ADM_OK)
            adm_error_prefix(err, "%s", s->name);
        if (st != ADM_OK) {
            adm_adamas_reset(a);
            kv->n = 0;
        }
        return st;
    }
    /* Taken densely, or with another code layout: build the index now
     * (docs/snapshot.md says why here rather than at save). */
    adm_adamas_rebuild(a, pool, k, kv, n);
    return ADM_OK;
}

/* ---- writing ---- */

static adm_status write_all(int fd, const void *p, uint64_t n, const char *path, adm_error *err) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, (size_t)ADM_MIN(n, (uint64_t)1 << 30));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return adm_fail(err, ADM_ERR_IO, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no space");
        b += w;
        n -= (uint64_t)w;
    }
    return ADM_OK;
}

static adm_status pad_to(int fd, uint64_t *pos, uint64_t target, const char *path, adm_error *err) {
    static const uint8_t zeros[PAGE];
    while (*pos < target) {
        const uint64_t n = ADM_MIN(target - *pos, (uint64_t)PAGE);
        adm_status st = write_all(fd, zeros, n, path, err);
        if (st != ADM_OK) return st;
        *pos += n;
    }
    return ADM_OK;
}

/* The chunk checksums of one block of rows. */
static void sum_block(uint8_t *out, const uint8_t *rows, uint64_t row, int n, uint64_t seed) {
    for (int t0 = 0, c = 0; t0 < n; t0 += ADM_SNAPSHOT_CHUNK, c++) {
        const int t1 = ADM_MIN(t0 + ADM_SNAPSHOT_CHUNK, n);
        const uint64_t h = adm_snapshot_hash(rows + (uint64_t)t0 * row, (size_t)((uint64_t)(t1 - t0) * row), seed);
        memcpy(out + 8 * (size_t)c, &h, 8);
    }
}

/* Whether layer l's first n rows must be gathered: a sliding-window layer
 * that dropped rows or whose ring wrapped. */
static bool gathered(const adm_kv_cache *kv, const layout *L, int l, int n) {
    return kv->windowed[l] && (L->ring_lo > 0 || n > kv->cap[l]);
}

/* Rows t0 .. t1-1 of one (layer, head) of a gathered layer, zeros before ring_lo. */
static void gather_chunk(const adm_kv_cache *kv, const layout *L, bool is_v, int l, int h, int t0, int t1,
                         uint8_t *buf) {
    const uint64_t row = is_v ? L->v_row : L->k_row;
    const int lo = ADM_MAX(t0, ADM_MIN((int)L->ring_lo, t1));
    memset(buf, 0, (size_t)((uint64_t)(lo - t0) * row));
    if (lo < t1) adm_kv_rows(kv, is_v, l, h, lo, t1, buf + (uint64_t)(lo - t0) * row, false);
}

adm_status adm_snapshot_write(const char *path, const adm_model *m, const adm_kv_cache *kv, const adm_adamas *a,
                              const int32_t *tokens, int n, const float *logits, adm_error *err) {
    const adm_hparams *hp = &m->hp;
    if (n < 1 || n > kv->n_ctx)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "%s: a snapshot needs 1 to %d tokens, not %d", path, kv->n_ctx, n);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return adm_fail(err, ADM_ERR_INVALID_ARG, "%s: token id %d at position %d is outside the vocabulary", path,
                            tokens[i], i);
    const bool with_codes = adm_adamas_has_codes(a);
    layout L = {0};
    L.n_layer = (uint32_t)kv->n_layer;
    L.n_head_kv = (uint32_t)kv->n_head_kv;
    L.hd_k = (uint32_t)kv->head_dim_k;
    L.hd_v = (uint32_t)kv->head_dim_v;
    L.n_vocab = (uint32_t)hp->n_vocab;
    L.type_k = kv->type_k;
    L.type_v = kv->type_v;
    L.n_tokens = (uint32_t)n;
    L.ring_lo = (uint32_t)ADM_MIN(kv->ring_lo, n - 1);
    L.flags = (logits ? FLAG_LOGITS : 0) | (with_codes ? FLAG_ADAMAS : 0);
    if (with_codes) {
        L.code_dim = (uint32_t)adm_adamas_code_dim(a);
        L.n_sparse = (uint32_t)adm_adamas_n_sparse(a);
        L.n_head = (uint32_t)hp->n_head;
    }
    if (!layout_sizes(&L, path, err)) return err ? err->code : ADM_ERR_INVALID_ARG;

    /* Offsets, then the small sections and every checksum in memory. */
    uint64_t off[SEC_COUNT] = {0}, pos = PAGE;
    uint32_t n_sections = 0;
    for (size_t i = 0; i < sizeof(k_order) / sizeof(k_order[0]); i++)
        if (L.size[k_order[i]]) {
            off[k_order[i]] = pos;
            pos = page_up(pos + L.size[k_order[i]]);
            n_sections++;
        }
    const uint64_t file_size = pos;
    uint8_t *state = NULL, *sums = adm_alloc((size_t)L.size[SEC_SUMS]);
    /* Ring rows are gathered a chunk at a time (zeros before ring_lo). */
    uint8_t *gather = adm_calloc(ADM_SNAPSHOT_CHUNK, ADM_MAX(L.k_row, L.v_row));
    if (with_codes) state = adm_alloc((size_t)L.size[SEC_ADAMAS]);
    char *tmp = adm_alloc(strlen(path) + 32);
    int fd = -1;
    adm_status st = ADM_OK;
    if (!sums || !tmp || !gather || (with_codes && !state)) {
        st = adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    const uint64_t blocks = (uint64_t)L.n_layer * L.n_head_kv;
    for (uint64_t b = 0; b < blocks; b++) {
        const int l = (int)(b / L.n_head_kv), h = (int)(b % L.n_head_kv);
        if (!gathered(kv, &L, l, n)) {
            sum_block(sums + b * L.n_chunks * 8, adm_kv_k(kv, l, h, 0), L.k_row, n, SEC_K);
            sum_block(sums + (blocks + b) * L.n_chunks * 8, adm_kv_v(kv, l, h, 0), L.v_row, n, SEC_V);
            continue;
        }
        for (int is_v = 0; is_v < 2; is_v++)
            for (int t0 = 0, c = 0; t0 < n; t0 += ADM_SNAPSHOT_CHUNK, c++) {
                const int t1 = ADM_MIN(t0 + ADM_SNAPSHOT_CHUNK, n);
                const uint64_t row = is_v ? L.v_row : L.k_row;
                gather_chunk(kv, &L, is_v, l, h, t0, t1, gather);
                const uint64_t hs = adm_snapshot_hash(gather, (size_t)((uint64_t)(t1 - t0) * row), is_v ? SEC_V : SEC_K);
                memcpy(sums + (((is_v ? blocks : 0) + b) * L.n_chunks + (uint64_t)c) * 8, &hs, 8);
            }
    }
    if (with_codes) {
        adm_adamas_state_save(a, state);
        const int cd = (int)L.code_dim;
        for (uint64_t b = 0; b < (uint64_t)L.n_sparse * L.n_head_kv; b++) {
            const uint8_t *codes = adm_adamas_head_codes(a, (int)(b / L.n_head_kv), (int)(b % L.n_head_kv));
            for (int t0 = 0, c = 0; t0 < n; t0 += ADM_SNAPSHOT_CHUNK, c++) {
                const int t1 = ADM_MIN(t0 + ADM_SNAPSHOT_CHUNK, n);
                const size_t o0 = adm_adamas_code_bytes_for(cd, t0), o1 = adm_adamas_code_bytes_for(cd, t1);
                const uint64_t hsum = adm_snapshot_hash(codes + o0, o1 - o0, SEC_CODES);
                memcpy(sums + ((2 * blocks + b) * L.n_chunks + (uint64_t)c) * 8, &hsum, 8);
            }
        }
    }
    const void *small[SEC_COUNT] = {NULL};
    small[SEC_TOKENS] = tokens;
    small[SEC_LOGITS] = logits;
    small[SEC_ADAMAS] = state;
    small[SEC_SUMS] = sums;

    uint8_t head[PAGE];
    memset(head, 0, sizeof(head));
    memcpy(head + H_MAGIC, k_magic, sizeof(k_magic));
    const uint32_t u32s[][2] = {
        {H_VERSION, ADM_SNAPSHOT_VERSION}, {H_HEADER_SIZE, HEADER_BYTES + SECTION_BYTES * n_sections},
        {H_N_LAYER, L.n_layer}, {H_N_HEAD_KV, L.n_head_kv}, {H_HD_K, L.hd_k}, {H_HD_V, L.hd_v},
        {H_N_VOCAB, L.n_vocab}, {H_TYPE_K, (uint32_t)L.type_k}, {H_TYPE_V, (uint32_t)L.type_v},
        {H_N_TOKENS, L.n_tokens}, {H_CHUNK, ADM_SNAPSHOT_CHUNK}, {H_N_SECTIONS, n_sections}, {H_FLAGS, L.flags},
        {H_CODE_DIM, L.code_dim}, {H_N_SPARSE, L.n_sparse}, {H_N_HEAD, L.n_head}, {H_RING_LO, L.ring_lo},
    };
    for (size_t i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++) memcpy(head + u32s[i][0], &u32s[i][1], 4);
    memcpy(head + H_FILE_SIZE, &file_size, 8);
    const uint64_t fp = adm_model_fingerprint(m, (char *)head + H_DESC, DESC_BYTES);
    memcpy(head + H_MODEL, &fp, 8);
    uint32_t si = 0;
    for (size_t i = 0; i < sizeof(k_order) / sizeof(k_order[0]); i++) {
        const int id = k_order[i];
        if (!L.size[id]) continue;
        uint8_t *e = head + HEADER_BYTES + SECTION_BYTES * si++;
        const uint32_t uid = (uint32_t)id;
        const uint64_t sum = small[id] ? adm_snapshot_hash(small[id], (size_t)L.size[id], (uint64_t)id) : 0;
        memcpy(e, &uid, 4);
        memcpy(e + 8, &off[id], 8);
        memcpy(e + 16, &L.size[id], 8);
        memcpy(e + 24, &sum, 8);
    }
    const uint64_t hsum = adm_snapshot_hash(head, HEADER_BYTES + SECTION_BYTES * n_sections, 0);
    memcpy(head + H_SUM, &hsum, 8);

    snprintf(tmp, strlen(path) + 32, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = adm_fail(err, ADM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    st = write_all(fd, head, PAGE, tmp, err);
    pos = PAGE;
    for (size_t i = 0; st == ADM_OK && i < sizeof(k_order) / sizeof(k_order[0]); i++) {
        const int id = k_order[i];
        if (!L.size[id]) continue;
        st = pad_to(fd, &pos, off[id], tmp, err);
        if (st != ADM_OK) break;
        if (small[id]) {
            st = write_all(fd, small[id], L.size[id], tmp, err);
        } else if (id == SEC_K || id == SEC_V) {
            /* One write per (layer, head) where its rows are contiguous in
             * the cache; a ring's are gathered, the rows it dropped skipped
             * (a hole reads as zeros). */
            const uint64_t row = id == SEC_K ? L.k_row : L.v_row;
            for (uint64_t b = 0; st == ADM_OK && b < blocks; b++) {
                const int l = (int)(b / L.n_head_kv), h = (int)(b % L.n_head_kv);
                if (!gathered(kv, &L, l, n)) {
                    st = id == SEC_K ? write_all(fd, adm_kv_k(kv, l, h, 0), (uint64_t)n * L.k_row, tmp, err)
                                     : write_all(fd, adm_kv_v(kv, l, h, 0), (uint64_t)n * L.v_row, tmp, err);
                    continue;
                }
                const int lo = (int)L.ring_lo;
                if (lo > 0 && lseek(fd, (off_t)((uint64_t)lo * row), SEEK_CUR) < 0)
                    st = adm_fail(err, ADM_ERR_IO, "%s: seek failed: %s", tmp, strerror(errno));
                for (int t0 = lo; st == ADM_OK && t0 < n; t0 += ADM_SNAPSHOT_CHUNK) {
                    const int t1 = ADM_MIN(t0 + ADM_SNAPSHOT_CHUNK, n);
                    adm_kv_rows(kv, id == SEC_V, l, h, t0, t1, gather, false);
                    st = write_all(fd, gather, (uint64_t)(t1 - t0) * row, tmp, err);
                }
            }
        } else {
            for (uint64_t b = 0; st == ADM_OK && b < (uint64_t)L.n_sparse * L.n_head_kv; b++)
                st = write_all(fd, adm_adamas_head_codes(a, (int)(b / L.n_head_kv), (int)(b % L.n_head_kv)),
                               L.code_bytes, tmp, err);
        }
        pos += L.size[id];
    }
    if (st == ADM_OK) st = pad_to(fd, &pos, file_size, tmp, err);
    if (close(fd) != 0 && st == ADM_OK) st = adm_fail(err, ADM_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    fd = -1;
    if (st == ADM_OK && rename(tmp, path) != 0)
        st = adm_fail(err, ADM_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (st != ADM_OK) unlink(tmp);
done:
    if (fd >= 0) close(fd);
    adm_free(tmp);
    adm_free(state);
    adm_free(sums);
    adm_free(gather);
    return st;
}

/* ---- the public calls on sequences ---- */

adm_status adm_seq_save(const adm_seq *s, const char *path, const float *logits, adm_error *err) {
    if (s->n_past < 1) return adm_fail(err, ADM_ERR_INVALID_ARG, "%s: the sequence is empty; nothing to save", path);
    return adm_snapshot_write(path, s->e->model, s->kv, s->adamas, s->tokens, s->n_past, logits, err);
}

adm_status adm_seq_restore(adm_seq *s, const char *path, const int32_t *prompt, int n_prompt, float *logits,
                           int *n_restored, adm_error *err) {
    *n_restored = 0;
    if (prompt && n_prompt < 1) return adm_fail(err, ADM_ERR_INVALID_ARG, "the prompt is empty");
    adm_snapshot *snap;
    adm_status st = adm_snapshot_open(path, &snap, err);
    if (st != ADM_OK) {
        adm_seq_clear(s);
        return st;
    }
    st = adm_snapshot_check_model(snap, s->e->model, err);
    const int n_snap = adm_snapshot_n_tokens(snap);
    const int32_t *toks = adm_snapshot_tokens(snap);
    int n = n_snap;
    bool use_logits = false;
    if (prompt) {
        n = 0;
        while (n < n_snap && n < n_prompt && toks[n] == prompt[n]) n++;
        use_logits = n == n_prompt && n == n_snap && logits && (snap->L.flags & FLAG_LOGITS);
        if (n == n_prompt && !use_logits) n--;
    }
    /* The saving sequence's sliding-window rings kept positions ring_lo
     * on: a shorter common prefix cannot be continued from. */
    const int ring_lo = adm_snapshot_ring_lo(snap);
    if (n > 0 && ring_lo > 0 && n - s->e->model->hp.n_swa + 1 < ring_lo) {
        n = 0;
        use_logits = false;
    }
    adm_seq_clear(s);
    adm_engine *e = s->e;
    const uint64_t need = adm_seq_mem(s, n);
    if (st == ADM_OK && e->mem_budget && e->mem_used + need > e->mem_budget)
        st = adm_fail(err, ADM_ERR_MEM_BUDGET, "%s: %d tokens need %.1f MiB, more than the %.1f MiB left of the "
                      "sequences' memory budget", path, n, (double)need / 1048576.0,
                      (double)(e->mem_budget - e->mem_used) / 1048576.0);
    /* Nothing in common: the sequence stays as new (no borrowed calibration). */
    if (st == ADM_OK && n > 0) st = adm_snapshot_restore(snap, s->kv, s->adamas, e->pool, e->k, n, err);
    if (st == ADM_OK) {
        memcpy(s->tokens, toks, (size_t)n * sizeof(int32_t));
        s->n_past = n;
        s->n_touched = n;
        e->mem_used += need;
        if (use_logits) adm_snapshot_logits(snap, logits);
        *n_restored = n;
    } else {
        adm_seq_clear(s);
    }
    adm_snapshot_free(snap);
    return st;
}

adm_status adm_snapshot_read_tokens(const char *path, int32_t *out, int max, int *n, adm_error *err) {
    *n = 0;
    adm_snapshot *snap;
    adm_status st = adm_snapshot_open(path, &snap, err);
    if (st != ADM_OK) return st;
    *n = adm_snapshot_n_tokens(snap);
    if (out && max > 0) memcpy(out, snap->tokens, (size_t)ADM_MIN(max, *n) * sizeof(int32_t));
    adm_snapshot_free(snap);
    return ADM_OK;
}
