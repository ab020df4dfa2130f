/*
 * gguf_writer.c - see gguf_writer.h. Metadata is serialized into a growing
 * byte buffer as it is set; tensor infos are kept until begin() computes
 * their aligned offsets.
 */
#include "gguf_writer.h"

#include "quant.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct tinfo {
    char name[256];
    adm_type type;
    int n_dims;
    int64_t ne[ADM_GGUF_MAX_DIMS];
    uint64_t size, offset;
} tinfo;

struct adm_gguf_writer {
    uint8_t *kv;        /* serialized key/value pairs */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    tinfo *tensors;
    size_t n_tensors, cap_tensors;
    FILE *f;
    size_t next;        /* next tensor to write */
    uint64_t written;   /* bytes of the data section written so far */
    bool oom;
};

adm_status adm_gguf_writer_create(adm_gguf_writer **out, adm_error *err) {
    *out = adm_calloc(1, sizeof(adm_gguf_writer));
    return *out ? ADM_OK : adm_fail(err, ADM_ERR_NOMEM, "out of memory");
}

void adm_gguf_writer_free(adm_gguf_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    free(w->kv);
    free(w->tensors);
    adm_free(w);
}

static void put(adm_gguf_writer *w, const void *p, size_t n) {
    if (w->oom) return;
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) cap *= 2;
        uint8_t *nb = realloc(w->kv, cap);
        if (!nb) {
            w->oom = true;
            return;
        }
        w->kv = nb;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
}

static void put_u32(adm_gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(adm_gguf_writer *w, uint64_t v) { put(w, &v, 8); }
static void put_str(adm_gguf_writer *w, const char *s, uint64_t n) {
    put_u64(w, n);
    put(w, s, (size_t)n);
}

static adm_status key_head(adm_gguf_writer *w, const char *key, adm_gguf_type t) {
    put_str(w, key, strlen(key));
    put_u32(w, (uint32_t)t);
    w->n_kv++;
    return w->oom ? ADM_ERR_NOMEM : ADM_OK;
}

adm_status adm_gguf_writer_set_u32(adm_gguf_writer *w, const char *key, uint32_t v) {
    key_head(w, key, ADM_GGUF_UINT32);
    put_u32(w, v);
    return w->oom ? ADM_ERR_NOMEM : ADM_OK;
}

adm_status adm_gguf_writer_set_i32(adm_gguf_writer *w, const char *key, int32_t v) {
    key_head(w, key, ADM_GGUF_INT32);
    put(w, &v, 4);
    return w->oom ? ADM_ERR_NOMEM : ADM_OK;
}

adm_status adm_gguf_writer_set_f32(adm_gguf_writer *w, const char *key, float v) {
    key_head(w, key, ADM_GGUF_FLOAT32);
    put(w, &v, 4);
    return w->oom ? ADM_ERR_NOMEM : ADM_OK;
}

adm_status adm_gguf_writer_set_bool(adm_gguf_writer *w, const char *key, bool v) {
    key_head(w, key, ADM_GGUF_BOOL);
    uint8_t b = v;
    put(w, &b, 1);
    return w->oom ? ADM_ERR_NOMEM : ADM_OK;
}

adm_status adm_gguf_writer_set_str(adm_gguf_writer *w, const char *key, const char *v) {
    key_head(w, key, ADM_GGUF_STRING);
    put_str(w, v, strlen(v));
    return w->oom ? ADM_ERR_NOMEM : ADM_OK;
}

static void put_value(adm_gguf_writer *w, const adm_gguf_value *v) {
    switch (v->type) {
    case ADM_GGUF_STRING: put_str(w, v->s.ptr, v->s.len); break;
    case ADM_GGUF_ARRAY: {
        put_u32(w, (uint32_t)v->arr.type);
        put_u64(w, v->arr.n);
        size_t es = adm_gguf_type_size(v->arr.type);
        if (es) put(w, v->arr.raw, (size_t)(v->arr.n * es));
        else if (v->arr.type == ADM_GGUF_STRING)
            for (uint64_t i = 0; i < v->arr.n; i++) put_str(w, v->arr.strs[i].ptr, v->arr.strs[i].len);
        else
            for (uint64_t i = 0; i < v->arr.n; i++) put_value(w, &v->arr.vals[i]);
        break;
    }
    case ADM_GGUF_FLOAT32: {
        float f = (float)v->f;
        put(w, &f, 4);
        break;
    }
    case ADM_GGUF_FLOAT64: put(w, &v->f, 8); break;
    case ADM_GGUF_BOOL: {
        uint8_t b = v->b;
        put(w, &b, 1);
        break;
    }
    default: {
        /* Integers: the union holds the value widened; write the low bytes. */
        uint64_t u = v->u;
        put(w, &u, adm_gguf_type_size(v->type));
        break;
    }
    }
}

adm_status adm_gguf_writer_copy_kv(adm_gguf_writer *w, const adm_gguf_kv *kv) {
    put_str(w, kv->key.ptr, kv->key.len);
    put_u32(w, (uint32_t)kv->val.type);
    put_value(w, &kv->val);
    w->n_kv++;
    return w->oom ? ADM_ERR_NOMEM : ADM_OK;
}

adm_status adm_gguf_writer_copy_key(adm_gguf_writer *w, const adm_gguf *src, uint64_t i) {
    return i < src->n_kv ? adm_gguf_writer_copy_kv(w, &src->kv[i]) : ADM_ERR_INVALID_ARG;
}

adm_status adm_gguf_writer_copy_keys(adm_gguf_writer *w, const adm_gguf *src, const char *prefix) {
    size_t n = strlen(prefix);
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const adm_gguf_kv *kv = &src->kv[i];
        if (kv->key.len < n || memcmp(kv->key.ptr, prefix, n) != 0) continue;
        adm_status st = adm_gguf_writer_copy_kv(w, kv);
        if (st != ADM_OK) return st;
    }
    return ADM_OK;
}

adm_status adm_gguf_writer_add_tensor(adm_gguf_writer *w, const char *name, adm_type type, int n_dims,
                                      const int64_t *ne) {
    if (n_dims < 1 || n_dims > ADM_GGUF_MAX_DIMS || strlen(name) >= sizeof(((tinfo *)0)->name))
        return ADM_ERR_INVALID_ARG;
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        tinfo *nt = realloc(w->tensors, cap * sizeof(tinfo));
        if (!nt) return ADM_ERR_NOMEM;
        w->tensors = nt;
        w->cap_tensors = cap;
    }
    tinfo *t = &w->tensors[w->n_tensors++];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->type = type;
    t->n_dims = n_dims;
    uint64_t n = 1;
    for (int d = 0; d < ADM_GGUF_MAX_DIMS; d++) {
        t->ne[d] = d < n_dims ? ne[d] : 1;
        n *= (uint64_t)t->ne[d];
    }
    const adm_type_traits *tr = adm_type_get_traits(type);
    t->size = n / (uint64_t)tr->block_size * tr->type_size;
    return ADM_OK;
}

static uint64_t align_up(uint64_t x) { return (x + ADM_GGUF_DEFAULT_ALIGNMENT - 1) / ADM_GGUF_DEFAULT_ALIGNMENT * ADM_GGUF_DEFAULT_ALIGNMENT; }

static adm_status write_bytes(adm_gguf_writer *w, const void *p, size_t n, adm_error *err) {
    if (n && fwrite(p, 1, n, w->f) != n) return adm_fail(err, ADM_ERR_IO, "write failed: %s", strerror(errno));
    return ADM_OK;
}

static adm_status pad(adm_gguf_writer *w, uint64_t pos, adm_error *err) {
    static const uint8_t zeros[ADM_GGUF_DEFAULT_ALIGNMENT];
    return write_bytes(w, zeros, (size_t)(align_up(pos) - pos), err);
}

adm_status adm_gguf_writer_begin(adm_gguf_writer *w, const char *path, adm_error *err) {
    if (w->oom) return adm_fail(err, ADM_ERR_NOMEM, "out of memory building GGUF metadata");
    w->f = fopen(path, "wb");
    if (!w->f) return adm_fail(err, ADM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        w->tensors[i].offset = off;
        off = align_up(off + w->tensors[i].size);
    }
    /* Header + kv + tensor infos, serialized into a temporary buffer. */
    adm_gguf_writer h = {0};
    put(&h, "GGUF", 4);
    put_u32(&h, 3);
    put_u64(&h, w->n_tensors);
    put_u64(&h, w->n_kv);
    put(&h, w->kv, w->kv_len);
    for (size_t i = 0; i < w->n_tensors; i++) {
        const tinfo *t = &w->tensors[i];
        put_str(&h, t->name, strlen(t->name));
        put_u32(&h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(&h, (uint64_t)t->ne[d]);
        put_u32(&h, (uint32_t)t->type);
        put_u64(&h, t->offset);
    }
    adm_status st = h.oom ? adm_fail(err, ADM_ERR_NOMEM, "out of memory") : write_bytes(w, h.kv, h.kv_len, err);
    if (st == ADM_OK && w->n_tensors) st = pad(w, h.kv_len, err);
    free(h.kv);
    return st;
}

adm_status adm_gguf_writer_write_tensor(adm_gguf_writer *w, const void *data, size_t size, adm_error *err) {
    if (w->next >= w->n_tensors) return adm_fail(err, ADM_ERR_INVALID_ARG, "more tensor data than declared tensors");
    const tinfo *t = &w->tensors[w->next];
    if (size != t->size)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "tensor '%s': %zu bytes given, %llu expected", t->name, size,
                        (unsigned long long)t->size);
    adm_status st = write_bytes(w, data, size, err);
    if (st != ADM_OK) return st;
    w->written = t->offset + size;
    w->next++;
    return w->next < w->n_tensors ? pad(w, w->written, err) : ADM_OK;
}

adm_status adm_gguf_writer_finish(adm_gguf_writer *w, adm_error *err) {
    if (w->next != w->n_tensors)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "%zu of %zu tensors were written", w->next, w->n_tensors);
    int rc = fclose(w->f);
    w->f = NULL;
    return rc == 0 ? ADM_OK : adm_fail(err, ADM_ERR_IO, "closing the file failed: %s", strerror(errno));
}
