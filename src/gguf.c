/*
 * gguf.c - parse and validate GGUF v2/v3 over a byte span.
 *
 * Layout (little-endian): magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 * then n_kv key/value pairs, then n_tensors tensor infos (name, u32 n_dims,
 * u64 ne[n_dims], u32 type, u64 offset), padding to `general.alignment`
 * (default 32), then the tensor data section.
 *
 * Every read goes through a cursor that refuses to step past the end, every
 * count is checked against the bytes that remain before anything is
 * allocated for it, and every size derived from file data is computed with
 * overflow checks. A file that passes is safe to use without further checks.
 */
#include "gguf.h"

#include "quant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Arena: a singly linked list of allocations freed together. */
typedef struct arena_node {
    struct arena_node *next;
    max_align_t align[];
} arena_node;

static void *arena_alloc(adm_gguf *g, uint64_t size) {
    uint64_t total;
    if (!adm_size_add(size, sizeof(arena_node), &total) || total > SIZE_MAX) return NULL;
    arena_node *n = adm_alloc((size_t)total);
    if (!n) return NULL;
    n->next = g->mem;
    g->mem = n;
    return n->align;
}

typedef struct cursor {
    const uint8_t *p;
    const uint8_t *base;
    uint64_t left;
    const char *name;
    adm_error *err;
} cursor;

static uint64_t cur_offset(const cursor *c) { return (uint64_t)(c->p - c->base); }

static adm_status truncated(cursor *c, const char *what) {
    return adm_fail(c->err, ADM_ERR_FORMAT, "%s: file is truncated: %s at byte %llu runs past the end of the file",
                    c->name, what, (unsigned long long)cur_offset(c));
}

static adm_status take(cursor *c, uint64_t n, const uint8_t **out, const char *what) {
    if (n > c->left) return truncated(c, what);
    *out = c->p;
    c->p += n;
    c->left -= n;
    return ADM_OK;
}

static adm_status rd_u32(cursor *c, uint32_t *v, const char *what) {
    const uint8_t *p = NULL;
    adm_status st = take(c, 4, &p, what);
    if (st == ADM_OK) *v = adm_rd_u32(p);
    return st;
}

static adm_status rd_u64(cursor *c, uint64_t *v, const char *what) {
    const uint8_t *p = NULL;
    adm_status st = take(c, 8, &p, what);
    if (st == ADM_OK) *v = adm_rd_u64(p);
    return st;
}

#define MAX_STRING_LEN ((uint64_t)1 << 30)

static adm_status rd_str(cursor *c, adm_str *s, const char *what) {
    uint64_t len;
    adm_status st = rd_u64(c, &len, what);
    if (st != ADM_OK) return st;
    if (len > c->left) return truncated(c, what);
    if (len > MAX_STRING_LEN)
        return adm_fail(c->err, ADM_ERR_FORMAT, "%s: %s at byte %llu has an implausible length %llu", c->name, what,
                        (unsigned long long)cur_offset(c), (unsigned long long)len);
    const uint8_t *p = NULL;
    st = take(c, len, &p, what);
    if (st != ADM_OK) return st;
    s->ptr = (const char *)p;
    s->len = len;
    return ADM_OK;
}

size_t adm_gguf_type_size(adm_gguf_type t) {
    switch (t) {
    case ADM_GGUF_UINT8: case ADM_GGUF_INT8: case ADM_GGUF_BOOL: return 1;
    case ADM_GGUF_UINT16: case ADM_GGUF_INT16: return 2;
    case ADM_GGUF_UINT32: case ADM_GGUF_INT32: case ADM_GGUF_FLOAT32: return 4;
    case ADM_GGUF_UINT64: case ADM_GGUF_INT64: case ADM_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *adm_gguf_type_name(adm_gguf_type t) {
    static const char *names[ADM_GGUF_TYPE_COUNT] = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
        "bool", "string", "array", "uint64", "int64", "float64",
    };
    return (unsigned)t < ADM_GGUF_TYPE_COUNT ? names[t] : "invalid";
}

bool adm_gguf_type_is_int(adm_gguf_type t) {
    return t == ADM_GGUF_UINT8 || t == ADM_GGUF_INT8 || t == ADM_GGUF_UINT16 || t == ADM_GGUF_INT16 ||
           t == ADM_GGUF_UINT32 || t == ADM_GGUF_INT32 || t == ADM_GGUF_UINT64 || t == ADM_GGUF_INT64;
}

static void decode_scalar(adm_gguf_type t, const uint8_t *p, adm_gguf_value *v) {
    v->type = t;
    switch (t) {
    case ADM_GGUF_UINT8: v->u = p[0]; break;
    case ADM_GGUF_INT8: v->i = (int8_t)p[0]; break;
    case ADM_GGUF_UINT16: v->u = adm_rd_u16(p); break;
    case ADM_GGUF_INT16: v->i = (int16_t)adm_rd_u16(p); break;
    case ADM_GGUF_UINT32: v->u = adm_rd_u32(p); break;
    case ADM_GGUF_INT32: v->i = (int32_t)adm_rd_u32(p); break;
    case ADM_GGUF_UINT64: v->u = adm_rd_u64(p); break;
    case ADM_GGUF_INT64: v->i = (int64_t)adm_rd_u64(p); break;
    case ADM_GGUF_FLOAT32: v->f = (double)adm_rd_f32(p); break;
    case ADM_GGUF_FLOAT64: v->f = adm_rd_f64(p); break;
    case ADM_GGUF_BOOL: v->b = p[0] != 0; break;
    default: break;
    }
}

#define MAX_ARRAY_DEPTH 8

static adm_status rd_value(adm_gguf *g, cursor *c, adm_gguf_type t, adm_gguf_value *v, int depth, const adm_str *key);

static adm_status bad_key(cursor *c, const adm_str *key, const char *what) {
    return adm_fail(c->err, ADM_ERR_FORMAT, "%s: key '%.*s': %s", c->name, (int)ADM_MIN(key->len, 200),
                    key->ptr, what);
}

static adm_status rd_array(adm_gguf *g, cursor *c, adm_gguf_value *v, int depth, const adm_str *key) {
    uint32_t et;
    uint64_t n;
    adm_status st = rd_u32(c, &et, "array element type");
    if (st != ADM_OK) return st;
    if (et >= ADM_GGUF_TYPE_COUNT) return bad_key(c, key, "array has an invalid element type");
    st = rd_u64(c, &n, "array length");
    if (st != ADM_OK) return st;
    if (depth >= MAX_ARRAY_DEPTH) return bad_key(c, key, "arrays nested too deeply");
    v->type = ADM_GGUF_ARRAY;
    v->arr.type = (adm_gguf_type)et;
    v->arr.n = n;
    v->arr.raw = NULL;
    v->arr.strs = NULL;
    v->arr.vals = NULL;
    size_t es = adm_gguf_type_size((adm_gguf_type)et);
    if (es) {
        uint64_t bytes;
        if (!adm_size_mul(n, es, &bytes) || bytes > c->left) return truncated(c, "array data");
        return take(c, bytes, &v->arr.raw, "array data");
    }
    /* Each string takes at least 8 bytes and each nested array 12, so a
     * count beyond that is a lie: refuse before allocating for it. */
    uint64_t min_elem = et == ADM_GGUF_STRING ? 8 : 12;
    if (n > c->left / min_elem) return truncated(c, "array elements");
    if (et == ADM_GGUF_STRING) {
        adm_str *strs = arena_alloc(g, n * sizeof(adm_str));
        if (!strs) return adm_fail(c->err, ADM_ERR_NOMEM, "%s: out of memory reading an array", c->name);
        for (uint64_t i = 0; i < n; i++) {
            st = rd_str(c, &strs[i], "array string");
            if (st != ADM_OK) return st;
        }
        v->arr.strs = strs;
        return ADM_OK;
    }
    adm_gguf_value *vals = arena_alloc(g, n * sizeof(adm_gguf_value));
    if (!vals) return adm_fail(c->err, ADM_ERR_NOMEM, "%s: out of memory reading an array", c->name);
    for (uint64_t i = 0; i < n; i++) {
        st = rd_value(g, c, ADM_GGUF_ARRAY, &vals[i], depth + 1, key);
        if (st != ADM_OK) return st;
    }
    v->arr.vals = vals;
    return ADM_OK;
}

static adm_status rd_value(adm_gguf *g, cursor *c, adm_gguf_type t, adm_gguf_value *v, int depth, const adm_str *key) {
    if (t == ADM_GGUF_STRING) {
        v->type = t;
        return rd_str(c, &v->s, "string value");
    }
    if (t == ADM_GGUF_ARRAY) return rd_array(g, c, v, depth, key);
    size_t es = adm_gguf_type_size(t);
    if (!es) return bad_key(c, key, "invalid value type");
    const uint8_t *p = NULL;
    adm_status st = take(c, es, &p, "value");
    if (st != ADM_OK) return st;
    decode_scalar(t, p, v);
    if (t == ADM_GGUF_BOOL && p[0] > 1) return bad_key(c, key, "bool value is neither 0 nor 1");
    return ADM_OK;
}

/* FNV-1a; the tables below map names to indices for O(1) lookups and
 * duplicate detection (a hostile file may hold millions of entries). */
static uint64_t hash_bytes(const char *p, uint64_t n) {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

static uint32_t *index_create(adm_gguf *g, uint64_t n, uint64_t *size_out) {
    uint64_t size = 16;
    while (size < n * 2) size <<= 1;
    uint32_t *t = arena_alloc(g, size * sizeof(uint32_t));
    if (t) memset(t, 0, size * sizeof(uint32_t));
    *size_out = size;
    return t;
}

/* Inserts entry idx with the given name; returns the index of an existing
 * entry with the same name, or -1 when inserted. */
typedef adm_str (*name_of_fn)(const adm_gguf *g, uint32_t idx);

static adm_str kv_name(const adm_gguf *g, uint32_t idx) { return g->kv[idx].key; }
static adm_str tensor_name(const adm_gguf *g, uint32_t idx) {
    adm_str s = {g->tensors[idx].name, strlen(g->tensors[idx].name)};
    return s;
}

static int64_t index_insert(const adm_gguf *g, uint32_t *t, uint64_t size, name_of_fn name_of, uint32_t idx) {
    adm_str s = name_of(g, idx);
    uint64_t h = hash_bytes(s.ptr, s.len) & (size - 1);
    while (t[h]) {
        adm_str o = name_of(g, t[h] - 1);
        if (o.len == s.len && memcmp(o.ptr, s.ptr, s.len) == 0) return t[h] - 1;
        h = (h + 1) & (size - 1);
    }
    t[h] = idx + 1;
    return -1;
}

static int64_t index_find(const adm_gguf *g, const uint32_t *t, uint64_t size, name_of_fn name_of, const char *name) {
    if (!t) return -1;
    uint64_t n = strlen(name);
    uint64_t h = hash_bytes(name, n) & (size - 1);
    while (t[h]) {
        adm_str o = name_of(g, t[h] - 1);
        if (o.len == n && memcmp(o.ptr, name, n) == 0) return t[h] - 1;
        h = (h + 1) & (size - 1);
    }
    return -1;
}

const adm_gguf_kv *adm_gguf_find(const adm_gguf *g, const char *key) {
    int64_t i = index_find(g, g->kv_index, g->kv_index_size, kv_name, key);
    return i < 0 ? NULL : &g->kv[i];
}

const adm_gguf_tensor *adm_gguf_find_tensor(const adm_gguf *g, const char *name) {
    int64_t i = index_find(g, g->tensor_index, g->tensor_index_size, tensor_name, name);
    return i < 0 ? NULL : &g->tensors[i];
}

static adm_status parse_kvs(adm_gguf *g, cursor *c) {
    adm_status st;
    if (g->n_kv > c->left / 13) /* key len (8) + 1 byte key + type (4) at least */
        return adm_fail(c->err, ADM_ERR_FORMAT, "%s: file is truncated or damaged: the header claims %llu key/value "
                        "pairs, more than the remaining %llu bytes can hold", c->name, (unsigned long long)g->n_kv,
                        (unsigned long long)c->left);
    g->kv = arena_alloc(g, (g->n_kv ? g->n_kv : 1) * sizeof(adm_gguf_kv));
    g->kv_index = index_create(g, g->n_kv, &g->kv_index_size);
    if (!g->kv || !g->kv_index) return adm_fail(c->err, ADM_ERR_NOMEM, "%s: out of memory", c->name);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        adm_gguf_kv *kv = &g->kv[i];
        st = rd_str(c, &kv->key, "key name");
        if (st != ADM_OK) return st;
        if (kv->key.len == 0 || kv->key.len > 65535 || memchr(kv->key.ptr, 0, kv->key.len))
            return adm_fail(c->err, ADM_ERR_FORMAT, "%s: key %llu has an invalid name", c->name, (unsigned long long)i);
        uint32_t t;
        st = rd_u32(c, &t, "value type");
        if (st != ADM_OK) return st;
        if (t >= ADM_GGUF_TYPE_COUNT)
            return adm_fail(c->err, ADM_ERR_FORMAT, "%s: key '%.*s' has invalid value type %u", c->name,
                            (int)ADM_MIN(kv->key.len, 200), kv->key.ptr, t);
        st = rd_value(g, c, (adm_gguf_type)t, &kv->val, 0, &kv->key);
        if (st != ADM_OK) return st;
        if (index_insert(g, g->kv_index, g->kv_index_size, kv_name, (uint32_t)i) >= 0)
            return adm_fail(c->err, ADM_ERR_FORMAT, "%s: duplicate key '%.*s'", c->name,
                            (int)ADM_MIN(kv->key.len, 200), kv->key.ptr);
    }
    return ADM_OK;
}

static adm_status check_tensor_shape(adm_gguf *g, cursor *c, adm_gguf_tensor *t, uint32_t type) {
    const adm_type_traits *tr = adm_type_get_traits((adm_type)type);
    if (type >= ADM_TYPE_COUNT || !tr->name || type == ADM_TYPE_Q8_1 || type == ADM_TYPE_Q8_K)
        return adm_fail(c->err, ADM_ERR_UNSUPPORTED,
                        "%s: tensor '%s' has type %u, which adamas does not support (supported: f32, f16, bf16, "
                        "q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k)",
                        c->name, t->name, type);
    t->type = (adm_type)type;
    if (t->ne[0] % tr->block_size != 0)
        return adm_fail(c->err, ADM_ERR_FORMAT,
                        "%s: tensor '%s' (%s) has rows of %lld elements, not a multiple of the %s block size %d "
                        "(written by an old converter; re-convert the model with a current llama.cpp)",
                        c->name, t->name, tr->name, (long long)t->ne[0], tr->name, tr->block_size);
    uint64_t n = 1;
    for (int d = 0; d < ADM_GGUF_MAX_DIMS; d++)
        if (!adm_size_mul(n, (uint64_t)t->ne[d], &n) || n > (uint64_t)INT64_MAX)
            return adm_fail(c->err, ADM_ERR_FORMAT, "%s: tensor '%s' has dimensions whose product overflows", c->name,
                            t->name);
    t->n_elements = n;
    uint64_t size;
    if (!adm_size_mul(n / (uint64_t)tr->block_size, tr->type_size, &size))
        return adm_fail(c->err, ADM_ERR_FORMAT, "%s: tensor '%s' is too large", c->name, t->name);
    t->size = size;
    (void)g;
    return ADM_OK;
}

static adm_status parse_tensor_infos(adm_gguf *g, cursor *c) {
    adm_status st;
    if (g->n_tensors > c->left / 24) /* name len 8 + n_dims 4 + 1 dim 8 + type 4 + offset 8 = 32 */
        return adm_fail(c->err, ADM_ERR_FORMAT, "%s: file is truncated or damaged: the header claims %llu tensors, "
                        "more than the remaining %llu bytes can hold", c->name, (unsigned long long)g->n_tensors,
                        (unsigned long long)c->left);
    g->tensors = arena_alloc(g, (g->n_tensors ? g->n_tensors : 1) * sizeof(adm_gguf_tensor));
    g->tensor_index = index_create(g, g->n_tensors, &g->tensor_index_size);
    if (!g->tensors || !g->tensor_index) return adm_fail(c->err, ADM_ERR_NOMEM, "%s: out of memory", c->name);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        adm_gguf_tensor *t = &g->tensors[i];
        memset(t, 0, sizeof(*t));
        adm_str name;
        st = rd_str(c, &name, "tensor name");
        if (st != ADM_OK) return st;
        if (name.len == 0 || name.len >= sizeof(t->name) || memchr(name.ptr, 0, name.len))
            return adm_fail(c->err, ADM_ERR_FORMAT, "%s: tensor %llu has an invalid name (empty, too long or with NUL)",
                            c->name, (unsigned long long)i);
        memcpy(t->name, name.ptr, name.len);
        t->name[name.len] = 0;
        uint32_t n_dims;
        st = rd_u32(c, &n_dims, "tensor dimension count");
        if (st != ADM_OK) return st;
        if (n_dims < 1 || n_dims > ADM_GGUF_MAX_DIMS)
            return adm_fail(c->err, ADM_ERR_FORMAT, "%s: tensor '%s' has %u dimensions (1 to %d allowed)", c->name,
                            t->name, n_dims, ADM_GGUF_MAX_DIMS);
        t->n_dims = (int)n_dims;
        for (int d = 0; d < ADM_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < n_dims; d++) {
            uint64_t ne;
            st = rd_u64(c, &ne, "tensor dimension");
            if (st != ADM_OK) return st;
            if (ne > (uint64_t)INT64_MAX)
                return adm_fail(c->err, ADM_ERR_FORMAT, "%s: tensor '%s' dimension %u is negative or too large", c->name,
                                t->name, d);
            t->ne[d] = (int64_t)ne;
        }
        uint32_t type;
        st = rd_u32(c, &type, "tensor type");
        if (st != ADM_OK) return st;
        st = rd_u64(c, &t->offset, "tensor offset");
        if (st != ADM_OK) return st;
        st = check_tensor_shape(g, c, t, type);
        if (st != ADM_OK) return st;
        if (index_insert(g, g->tensor_index, g->tensor_index_size, tensor_name, (uint32_t)i) >= 0)
            return adm_fail(c->err, ADM_ERR_FORMAT, "%s: duplicate tensor '%s'", c->name, t->name);
    }
    return ADM_OK;
}

static adm_status resolve_alignment(adm_gguf *g, cursor *c) {
    g->alignment = ADM_GGUF_DEFAULT_ALIGNMENT;
    const adm_gguf_kv *kv = adm_gguf_find(g, "general.alignment");
    if (!kv) return ADM_OK;
    if (kv->val.type != ADM_GGUF_UINT32)
        return adm_fail(c->err, ADM_ERR_FORMAT, "%s: key 'general.alignment' has type %s, expected uint32", c->name,
                        adm_gguf_type_name(kv->val.type));
    uint64_t a = kv->val.u;
    if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20))
        return adm_fail(c->err, ADM_ERR_FORMAT, "%s: general.alignment = %llu is not a power of two up to 1 MiB",
                        c->name, (unsigned long long)a);
    g->alignment = (uint32_t)a;
    return ADM_OK;
}

static adm_status place_tensors(adm_gguf *g, cursor *c, uint64_t file_size) {
    uint64_t off = cur_offset(c);
    uint64_t pad = (g->alignment - off % g->alignment) % g->alignment;
    g->data_offset = off + pad;
    if (g->n_tensors == 0) return ADM_OK; /* vocab-only files end after the KV block */
    if (g->data_offset > file_size)
        return adm_fail(c->err, ADM_ERR_FORMAT, "%s: file is truncated: the tensor data section would start at byte "
                        "%llu, past the end of the file (%llu bytes)", c->name,
                        (unsigned long long)g->data_offset, (unsigned long long)file_size);
    uint64_t data_size = file_size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        adm_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return adm_fail(c->err, ADM_ERR_FORMAT, "%s: tensor '%s' data offset %llu is not a multiple of the "
                            "alignment %u", c->name, t->name, (unsigned long long)t->offset, g->alignment);
        uint64_t end;
        if (!adm_size_add(t->offset, t->size, &end) || end > data_size)
            return adm_fail(c->err, ADM_ERR_FORMAT, "%s: tensor '%s' (%llu bytes at data offset %llu) runs past the "
                            "end of the file: the file is truncated or damaged", c->name, t->name,
                            (unsigned long long)t->size, (unsigned long long)t->offset);
        t->data = c->base + g->data_offset + t->offset;
    }
    return ADM_OK;
}

adm_status adm_gguf_parse(const uint8_t *data, uint64_t size, const char *name, adm_gguf **out, adm_error *err) {
    *out = NULL;
    adm_gguf *g = adm_calloc(1, sizeof(*g));
    if (!g) return adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", name);
    g->path = name;
    cursor c = {data, data, size, name, err};
    const uint8_t *magic;
    adm_status st;
    if (size < 4 || memcmp(data, "GGUF", 4) != 0) {
        st = adm_fail(err, ADM_ERR_FORMAT, "%s: not a GGUF file (the first four bytes are not 'GGUF')", name);
        goto fail;
    }
    st = take(&c, 4, &magic, "magic");
    if (st != ADM_OK) goto fail;
    st = rd_u32(&c, &g->version, "version");
    if (st != ADM_OK) goto fail;
    if (g->version == 1) {
        st = adm_fail(err, ADM_ERR_UNSUPPORTED, "%s: GGUF version 1 is not supported (it predates Aug 2023 and uses "
                      "32-bit counts); convert the model again with a current llama.cpp", name);
        goto fail;
    }
    if (g->version != 2 && g->version != 3) {
        st = adm_fail(err, ADM_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (versions 2 and 3 are)%s", name,
                      g->version, (g->version & 0xFFFF) == 0 ? "; this looks like a big-endian file" : "");
        goto fail;
    }
    st = rd_u64(&c, &g->n_tensors, "tensor count");
    if (st != ADM_OK) goto fail;
    st = rd_u64(&c, &g->n_kv, "key/value count");
    if (st != ADM_OK) goto fail;
    if ((st = parse_kvs(g, &c)) != ADM_OK) goto fail;
    if ((st = resolve_alignment(g, &c)) != ADM_OK) goto fail;
    if ((st = parse_tensor_infos(g, &c)) != ADM_OK) goto fail;
    if ((st = place_tensors(g, &c, size)) != ADM_OK) goto fail;
    *out = g;
    return ADM_OK;
fail:
    adm_gguf_free(g);
    return st;
}

adm_status adm_gguf_open(const char *path, adm_gguf **out, adm_error *err) {
    adm_mapped_file *f;
    *out = NULL;
    adm_status st = adm_mapped_file_open(path, &f, err);
    if (st != ADM_OK) return st;
    st = adm_gguf_parse(f->data, f->size, f->path, out, err);
    if (st != ADM_OK) {
        adm_mapped_file_free(f);
        return st;
    }
    (*out)->file = f;
    return ADM_OK;
}

void adm_gguf_free(adm_gguf *g) {
    if (!g) return;
    arena_node *n = g->mem;
    while (n) {
        arena_node *next = n->next;
        adm_free(n);
        n = next;
    }
    adm_mapped_file_free(g->file);
    adm_free(g);
}

/* ---- typed getters ---- */

static adm_status wrong_type(const adm_gguf *g, const char *key, const char *expected, adm_gguf_type got,
                             adm_error *err) {
    return adm_fail(err, ADM_ERR_FORMAT, "%s: key '%s' has type %s, expected %s", g->path, key,
                    adm_gguf_type_name(got), expected);
}

static bool value_as_int(const adm_gguf_value *v, int64_t *out) {
    switch (v->type) {
    case ADM_GGUF_UINT8: case ADM_GGUF_UINT16: case ADM_GGUF_UINT32: case ADM_GGUF_UINT64:
        if (v->u > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v->u;
        return true;
    case ADM_GGUF_INT8: case ADM_GGUF_INT16: case ADM_GGUF_INT32: case ADM_GGUF_INT64:
        *out = v->i;
        return true;
    default: return false;
    }
}

adm_status adm_gguf_get_int(const adm_gguf *g, const char *key, int64_t lo, int64_t hi, int64_t *out, bool *found,
                            adm_error *err) {
    const adm_gguf_kv *kv = adm_gguf_find(g, key);
    *found = kv != NULL;
    if (!kv) return ADM_OK;
    if (!adm_gguf_type_is_int(kv->val.type)) return wrong_type(g, key, "an integer", kv->val.type, err);
    int64_t v;
    if (!value_as_int(&kv->val, &v) || v < lo || v > hi)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: key '%s' is out of range (allowed %lld to %lld)", g->path, key,
                        (long long)lo, (long long)hi);
    *out = v;
    return ADM_OK;
}

adm_status adm_gguf_get_float(const adm_gguf *g, const char *key, double *out, bool *found, adm_error *err) {
    const adm_gguf_kv *kv = adm_gguf_find(g, key);
    *found = kv != NULL;
    if (!kv) return ADM_OK;
    if (kv->val.type == ADM_GGUF_FLOAT32 || kv->val.type == ADM_GGUF_FLOAT64) {
        *out = kv->val.f;
    } else {
        int64_t v;
        if (!value_as_int(&kv->val, &v)) return wrong_type(g, key, "a number", kv->val.type, err);
        *out = (double)v;
    }
    if (*out != *out) return adm_fail(err, ADM_ERR_FORMAT, "%s: key '%s' is NaN", g->path, key);
    return ADM_OK;
}

adm_status adm_gguf_get_bool(const adm_gguf *g, const char *key, bool *out, bool *found, adm_error *err) {
    const adm_gguf_kv *kv = adm_gguf_find(g, key);
    *found = kv != NULL;
    if (!kv) return ADM_OK;
    if (kv->val.type != ADM_GGUF_BOOL) return wrong_type(g, key, "bool", kv->val.type, err);
    *out = kv->val.b;
    return ADM_OK;
}

adm_status adm_gguf_get_str(const adm_gguf *g, const char *key, adm_str *out, bool *found, adm_error *err) {
    const adm_gguf_kv *kv = adm_gguf_find(g, key);
    *found = kv != NULL;
    if (!kv) return ADM_OK;
    if (kv->val.type != ADM_GGUF_STRING) return wrong_type(g, key, "string", kv->val.type, err);
    *out = kv->val.s;
    return ADM_OK;
}

adm_status adm_gguf_get_arr(const adm_gguf *g, const char *key, adm_gguf_type elem_type, const adm_gguf_value **out,
                            bool *found, adm_error *err) {
    const adm_gguf_kv *kv = adm_gguf_find(g, key);
    *found = kv != NULL;
    if (!kv) return ADM_OK;
    char expected[64];
    snprintf(expected, sizeof(expected), "array of %s", adm_gguf_type_name(elem_type));
    if (kv->val.type != ADM_GGUF_ARRAY) return wrong_type(g, key, expected, kv->val.type, err);
    bool ok = kv->val.arr.type == elem_type ||
              (elem_type == ADM_GGUF_INT64 && adm_gguf_type_is_int(kv->val.arr.type)) ||
              (elem_type == ADM_GGUF_FLOAT64 && kv->val.arr.type == ADM_GGUF_FLOAT32);
    if (!ok)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: key '%s' is an array of %s, expected %s", g->path, key,
                        adm_gguf_type_name(kv->val.arr.type), expected);
    *out = &kv->val;
    return ADM_OK;
}

int64_t adm_gguf_arr_int(const adm_gguf_value *arr, uint64_t i) {
    adm_gguf_value v;
    decode_scalar(arr->arr.type, arr->arr.raw + i * adm_gguf_type_size(arr->arr.type), &v);
    int64_t out = 0;
    value_as_int(&v, &out);
    return out;
}

double adm_gguf_arr_float(const adm_gguf_value *arr, uint64_t i) {
    adm_gguf_value v;
    decode_scalar(arr->arr.type, arr->arr.raw + i * adm_gguf_type_size(arr->arr.type), &v);
    if (v.type == ADM_GGUF_FLOAT32 || v.type == ADM_GGUF_FLOAT64) return v.f;
    int64_t x = 0;
    value_as_int(&v, &x);
    return (double)x;
}

/* ---- public inspection API (adamas.h) ---- */

uint32_t adm_gguf_version(const adm_gguf *g) { return g->version; }
uint64_t adm_gguf_n_kv(const adm_gguf *g) { return g->n_kv; }
uint64_t adm_gguf_n_tensors(const adm_gguf *g) { return g->n_tensors; }

const char *adm_gguf_key(const adm_gguf *g, uint64_t i, char *buf, size_t size) {
    if (i >= g->n_kv || size == 0) return "";
    snprintf(buf, size, "%.*s", (int)ADM_MIN(g->kv[i].key.len, (uint64_t)INT32_MAX), g->kv[i].key.ptr);
    return buf;
}

int64_t adm_gguf_find_key(const adm_gguf *g, const char *key) {
    const adm_gguf_kv *kv = adm_gguf_find(g, key);
    return kv ? (int64_t)(kv - g->kv) : -1;
}

uint64_t adm_gguf_array_len(const adm_gguf *g, uint64_t i) {
    return i < g->n_kv && g->kv[i].val.type == ADM_GGUF_ARRAY ? g->kv[i].val.arr.n : 0;
}

typedef struct sbuf {
    char *p;
    size_t size, len;
} sbuf;

static void sb_put(sbuf *b, const char *fmt, ...) ADM_PRINTF(2, 3);
static void sb_put(sbuf *b, const char *fmt, ...) {
    if (b->len + 1 >= b->size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len = ADM_MIN(b->len + (size_t)n, b->size - 1);
}

/* Strings are shown with control characters escaped, cut at 60 bytes. */
static void sb_str(sbuf *b, adm_str s) {
    sb_put(b, "\"");
    for (uint64_t i = 0; i < s.len && i < 60; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '\n') sb_put(b, "\\n");
        else if (c == '"' || c == '\\') sb_put(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) sb_put(b, "\\x%02x", c);
        else sb_put(b, "%c", c);
    }
    sb_put(b, s.len > 60 ? "\"... (%llu bytes)" : "\"", (unsigned long long)s.len);
}

static void sb_value(sbuf *b, const adm_gguf_value *v, int max_elems) {
    switch (v->type) {
    case ADM_GGUF_UINT8: case ADM_GGUF_UINT16: case ADM_GGUF_UINT32: case ADM_GGUF_UINT64:
        sb_put(b, "%llu", (unsigned long long)v->u);
        break;
    case ADM_GGUF_INT8: case ADM_GGUF_INT16: case ADM_GGUF_INT32: case ADM_GGUF_INT64:
        sb_put(b, "%lld", (long long)v->i);
        break;
    case ADM_GGUF_FLOAT32: case ADM_GGUF_FLOAT64: sb_put(b, "%g", v->f); break;
    case ADM_GGUF_BOOL: sb_put(b, "%s", v->b ? "true" : "false"); break;
    case ADM_GGUF_STRING: sb_str(b, v->s); break;
    case ADM_GGUF_ARRAY: {
        sb_put(b, "[%llu x %s]", (unsigned long long)v->arr.n, adm_gguf_type_name(v->arr.type));
        uint64_t n = ADM_MIN(v->arr.n, (uint64_t)(max_elems > 0 ? max_elems : 0));
        for (uint64_t i = 0; i < n; i++) {
            sb_put(b, " ");
            if (v->arr.type == ADM_GGUF_STRING) sb_str(b, v->arr.strs[i]);
            else if (v->arr.type == ADM_GGUF_ARRAY) sb_value(b, &v->arr.vals[i], max_elems);
            else {
                adm_gguf_value e;
                decode_scalar(v->arr.type, v->arr.raw + i * adm_gguf_type_size(v->arr.type), &e);
                sb_value(b, &e, max_elems);
            }
        }
        if (n < v->arr.n) sb_put(b, " ...");
        break;
    }
    default: sb_put(b, "?"); break;
    }
}

const char *adm_gguf_value_str(const adm_gguf *g, uint64_t i, int max_elems, char *buf, size_t size) {
    if (size == 0) return "";
    buf[0] = 0;
    if (i >= g->n_kv) return buf;
    sbuf b = {buf, size, 0};
    sb_value(&b, &g->kv[i].val, max_elems);
    return buf;
}

adm_tensor_info adm_gguf_tensor_info(const adm_gguf *g, uint64_t i) {
    adm_tensor_info info;
    memset(&info, 0, sizeof(info));
    if (i >= g->n_tensors) return info;
    const adm_gguf_tensor *t = &g->tensors[i];
    info.name = t->name;
    info.type = t->type;
    info.n_dims = t->n_dims;
    memcpy(info.ne, t->ne, sizeof(info.ne));
    info.offset = t->offset;
    info.size = t->size;
    return info;
}
