/*
 * model.c - bind a GGUF file's tensors to a transformer: read the family's
 * hyperparameters, find every weight by its llama.cpp name, check its shape
 * and type, and keep views into the mapping. Small vectors (norms, biases,
 * RoPE factors) are converted to f32 copies so the forward pass needs no
 * per-type code for them. Every failure names the file and what is wrong.
 */
#include "model.h"

#include "kernels/kernels.h"
#include "kv_cache.h"
#include "quant.h"
#include "tokenizer/vocab.h"

#include <math.h>
#include <stdio.h>

typedef struct loader {
    adm_model *m;
    const adm_gguf *g;
    const char *path;
    adm_error *err;
    float *owned_next;      /* bump allocator into m->owned */
    size_t owned_left;
} loader;

static adm_status get_int(loader *L, const char *suffix, bool required, int64_t lo, int64_t hi, int64_t def,
                          int64_t *out) {
    char key[160];
    snprintf(key, sizeof(key), "%s.%s", L->m->arch->name, suffix);
    bool found;
    adm_status st = adm_gguf_get_int(L->g, key, lo, hi, out, &found, L->err);
    if (st != ADM_OK) return st;
    if (!found) {
        if (required) return adm_fail(L->err, ADM_ERR_FORMAT, "%s: required key '%s' is missing", L->path, key);
        *out = def;
    }
    return ADM_OK;
}

static adm_status get_float(loader *L, const char *suffix, double def, double *out) {
    char key[160];
    snprintf(key, sizeof(key), "%s.%s", L->m->arch->name, suffix);
    bool found;
    adm_status st = adm_gguf_get_float(L->g, key, out, &found, L->err);
    if (st == ADM_OK && !found) *out = def;
    return st;
}

static const char *dims_str(const int64_t *ne, int n, char *buf, size_t size) {
    int o = snprintf(buf, size, "[");
    for (int i = 0; i < n && o < (int)size; i++) o += snprintf(buf + o, size - (size_t)o, i ? ", %lld" : "%lld", (long long)ne[i]);
    if (o < (int)size) snprintf(buf + o, size - (size_t)o, "]");
    return buf;
}

/* Finds a tensor and checks its shape: a vector of ne0, a matrix ne0 x ne1,
 * or (ne2 > 1) a stack of ne2 such matrices. */
static adm_status find_tensor3(loader *L, const char *name, int64_t ne0, int64_t ne1, int64_t ne2, bool required,
                               const adm_gguf_tensor **out) {
    const adm_gguf_tensor *t = adm_gguf_find_tensor(L->g, name);
    *out = t;
    if (!t) return required ? adm_fail(L->err, ADM_ERR_FORMAT, "%s: missing tensor '%s'", L->path, name) : ADM_OK;
    int64_t want[4] = {ne0, ne1, ne2, 1};
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != ne2 || t->ne[3] != 1) {
        char a[96], b[96];
        return adm_fail(L->err, ADM_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", L->path, name,
                        dims_str(t->ne, t->n_dims, a, sizeof(a)),
                        dims_str(want, ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1, b, sizeof(b)));
    }
    return ADM_OK;
}

static adm_status find_tensor(loader *L, const char *name, int64_t ne0, int64_t ne1, bool required,
                              const adm_gguf_tensor **out) {
    return find_tensor3(L, name, ne0, ne1, 1, required, out);
}

static adm_status load_matrix(loader *L, const char *name, int64_t n_in, int64_t n_out, bool required,
                              adm_weight *w) {
    const adm_gguf_tensor *t;
    adm_status st = find_tensor(L, name, n_in, n_out, required, &t);
    if (st != ADM_OK || !t) return st;
    w->type = t->type;
    w->n_in = n_in;
    w->n_out = n_out;
    w->row_size = adm_row_size(t->type, n_in);
    w->data = t->data;
    return ADM_OK;
}

/* n_expert matrices of n_in x n_out in one 3-D tensor. */
static adm_status load_experts(loader *L, const char *name, int64_t n_in, int64_t n_out, int64_t n_expert,
                               adm_experts *e) {
    const adm_gguf_tensor *t;
    adm_status st = find_tensor3(L, name, n_in, n_out, n_expert, true, &t);
    if (st != ADM_OK) return st;
    e->w = (adm_weight){t->type, n_in, n_out, adm_row_size(t->type, n_in), t->data, NULL};
    e->stride = e->w.row_size * (size_t)n_out;
    return ADM_OK;
}

/* Rows [first, first + n) of a matrix, as a matrix of its own: fused tensors
 * (attn_qkv, phi3's gate+up ffn_up) are products of independent rows, so
 * views give the same results as separate tensors. */
static adm_weight rows_view(const adm_weight *w, int64_t first, int64_t n) {
    adm_weight v = *w;
    v.data = w->data + (size_t)first * w->row_size;
    v.n_out = n;
    return v;
}

/* A small tensor converted to f32 in the model's owned buffer. */
static adm_status load_vector(loader *L, const char *name, int64_t n, bool required, const float **out) {
    const adm_gguf_tensor *t;
    *out = NULL;
    adm_status st = find_tensor(L, name, n, 1, required, &t);
    if (st != ADM_OK || !t) return st;
    if ((size_t)n > L->owned_left)
        return adm_fail(L->err, ADM_ERR_INTERNAL, "%s: vector buffer exhausted at '%s'", L->path, name);
    float *dst = L->owned_next;
    adm_dequantize_row(t->type, t->data, dst, n);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            return adm_fail(L->err, ADM_ERR_FORMAT, "%s: tensor '%s' contains NaN or infinity", L->path, name);
    L->owned_next += n;
    L->owned_left -= (size_t)n;
    *out = dst;
    return ADM_OK;
}

static adm_status read_hparams(loader *L) {
    adm_model *m = L->m;
    adm_hparams *hp = &m->hp;
    int64_t v;
    adm_status st;
#define INT_KEY(suffix, req, lo, hi, def, field)                          \
    if ((st = get_int(L, suffix, req, lo, hi, def, &v)) != ADM_OK) return st; \
    hp->field = (int)v;
    INT_KEY("block_count", true, 1, 4096, 0, n_layer)
    INT_KEY("embedding_length", true, 1, 1 << 20, 0, n_embd)
    INT_KEY("feed_forward_length", true, 1, 1 << 22, 0, n_ff)
    INT_KEY("attention.head_count", true, 1, 4096, 0, n_head)
    INT_KEY("attention.head_count_kv", false, 1, 4096, hp->n_head, n_head_kv)
    INT_KEY("context_length", false, 1, 1 << 26, 2048, n_ctx_train)
    /* Qwen3 and others decouple the head size from n_embd / n_head. */
    INT_KEY("attention.key_length", false, 1, 4096, hp->n_embd / hp->n_head, head_dim)
    INT_KEY("attention.value_length", false, 1, 4096, hp->head_dim, head_dim_v)
    INT_KEY("rope.dimension_count", false, 1, 4096, hp->head_dim, n_rot)
    if (hp->n_head % hp->n_head_kv != 0)
        return adm_fail(L->err, ADM_ERR_FORMAT, "%s: head_count %d is not a multiple of head_count_kv %d", L->path,
                        hp->n_head, hp->n_head_kv);
    if (hp->head_dim == 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return adm_fail(L->err, ADM_ERR_FORMAT, "%s: rope.dimension_count %d does not fit head size %d", L->path,
                        hp->n_rot, hp->head_dim);
    double d;
    if ((st = get_float(L, "attention.layer_norm_rms_epsilon", (double)m->arch->default_rms_eps, &d)) != ADM_OK) return st;
    hp->rms_eps = (float)d;
    if ((st = get_float(L, "rope.freq_base", (double)m->arch->default_rope_base, &d)) != ADM_OK) return st;
    hp->rope_base = (float)d;
    if (!(hp->rms_eps > 0.0f) || !(hp->rope_base > 1.0f))
        return adm_fail(L->err, ADM_ERR_FORMAT, "%s: rms epsilon %g or rope base %g is out of range", L->path,
                        (double)hp->rms_eps, (double)hp->rope_base);
    hp->rope_freq_scale = 1.0f;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    hp->embd_scale = 1.0f;
    hp->ffn_act = ADM_ACT_SILU;

    if (m->arch->gemma) {
        hp->ffn_act = ADM_ACT_GELU_TANH;
        hp->embd_scale = sqrtf((float)hp->n_embd);
        /* Gemma 3 27B scales queries by its n_embd / n_head (query_pre_attn_scalar),
         * the others by the head size, as llama.cpp decides from the layer count. */
        const bool g2 = m->arch->id == ADM_ARCH_GEMMA2;
        if (hp->n_layer == (g2 ? 46 : 62)) hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
        /* Gemma 2: a 4096-token window and caps of 50 (attention) and 30
         * (logits) unless the file says otherwise, as in llama.cpp. */
        INT_KEY("attention.sliding_window", false, 0, 1 << 26, g2 ? 4096 : 0, n_swa)
        if ((st = get_float(L, "final_logit_softcapping", g2 ? 30.0 : 0.0, &d)) != ADM_OK) return st;
        /* llama.cpp's gemma3 caps only models without local layers; gemma2 always */
        hp->final_softcap = hp->n_swa > 0 && !g2 ? 0.0f : (float)d;
        if (!(hp->final_softcap >= 0.0f))
            return adm_fail(L->err, ADM_ERR_FORMAT, "%s: final_logit_softcapping must not be negative", L->path);
        if (g2) {
            if ((st = get_float(L, "attn_logit_softcapping", 50.0, &d)) != ADM_OK) return st;
            hp->attn_softcap = (float)d;
            if (!(hp->attn_softcap >= 0.0f))
                return adm_fail(L->err, ADM_ERR_FORMAT, "%s: attn_logit_softcapping must not be negative", L->path);
        }
    }
    /* Experts: qwen3moe always; llama files (Mixtral) when they say so. */
    INT_KEY("expert_count", m->arch->moe, m->arch->moe ? 1 : 0, 4096, 0, n_expert)
    if (hp->n_expert > 0) {
        INT_KEY("expert_used_count", true, 1, hp->n_expert, 0, n_expert_used)
        /* qwen3moe's experts have their own length; llama's use feed_forward_length */
        if (m->arch->moe) {
            INT_KEY("expert_feed_forward_length", false, 1, 1 << 22, hp->n_ff / hp->n_expert_used, n_ff_exp)
        } else {
            hp->n_ff_exp = hp->n_ff;
        }
        bool found;
        char key[160];
        snprintf(key, sizeof(key), "%s.expert_weights_norm", m->arch->name);
        hp->expert_norm = true; /* Qwen3-MoE's norm_topk_prob */
        if ((st = adm_gguf_get_bool(L->g, key, &hp->expert_norm, &found, L->err)) != ADM_OK) return st;
        if ((st = get_float(L, "expert_weights_scale", 1.0, &d)) != ADM_OK) return st;
        hp->expert_scale = d == 0.0 ? 1.0f : (float)d;
    }
#undef INT_KEY
    return ADM_OK;
}

/* Which layers slide (gemma3): attention.sliding_window_pattern is either a
 * period N (every N-th layer global, the others local; 6 when absent) or
 * one bool per layer. */
static adm_status read_swa_layers(loader *L) {
    adm_model *m = L->m;
    adm_hparams *hp = &m->hp;
    if (hp->n_swa <= 0) return ADM_OK;
    char key[160];
    snprintf(key, sizeof(key), "%s.attention.sliding_window_pattern", m->arch->name);
    const adm_gguf_kv *kv = adm_gguf_find(L->g, key);
    if (kv && kv->val.type == ADM_GGUF_ARRAY) {
        if (kv->val.arr.type != ADM_GGUF_BOOL || kv->val.arr.n != (uint64_t)hp->n_layer)
            return adm_fail(L->err, ADM_ERR_FORMAT, "%s: '%s' must be a period or one bool per layer", L->path, key);
        for (int il = 0; il < hp->n_layer; il++) m->layers[il].swa = kv->val.arr.raw[il] != 0;
        return ADM_OK;
    }
    int64_t period = 2; /* gemma2: every other layer, whatever the file says (as llama.cpp) */
    adm_status st = m->arch->id == ADM_ARCH_GEMMA2
                        ? ADM_OK
                        : get_int(L, "attention.sliding_window_pattern", false, 0, 4096, 6, &period);
    if (st != ADM_OK) return st;
    hp->swa_period = (int)period;
    for (int il = 0; il < hp->n_layer; il++) m->layers[il].swa = period == 0 || il % period < period - 1;
    return ADM_OK;
}

/* RoPE scaling: "linear" divides positions; "llama3" (Llama 3.1+) divides
 * low frequencies by per-dimension factors, which converters usually store
 * as the rope_freqs.weight tensor and which we otherwise derive here from
 * the scaling keys with Meta's formula. */
static adm_status read_rope_scaling(loader *L) {
    adm_model *m = L->m;
    adm_hparams *hp = &m->hp;
    char key[160];
    snprintf(key, sizeof(key), "%s.rope.scaling.type", m->arch->name);
    adm_str type = {"none", 4};
    bool found;
    adm_status st = adm_gguf_get_str(L->g, key, &type, &found, L->err);
    if (st != ADM_OK) return st;
    double factor;
    if ((st = get_float(L, "rope.scaling.factor", 1.0, &factor)) != ADM_OK) return st;
    if (!(factor > 0.0)) return adm_fail(L->err, ADM_ERR_FORMAT, "%s: rope.scaling.factor must be positive", L->path);

    const int n_pairs = hp->n_rot / 2;
    if ((st = load_vector(L, "rope_freqs.weight", n_pairs, false, &hp->rope_factors)) != ADM_OK) return st;
    if (adm_str_eq(type, "none") || (adm_str_eq(type, "llama3") && hp->rope_factors)) return ADM_OK;
    if (adm_str_eq(type, "linear")) {
        hp->rope_freq_scale = (float)(1.0 / factor);
        return ADM_OK;
    }
    if (adm_str_eq(type, "llama3")) {
        double lo_f, hi_f, orig;
        if ((st = get_float(L, "rope.scaling.low_freq_factor", 1.0, &lo_f)) != ADM_OK) return st;
        if ((st = get_float(L, "rope.scaling.high_freq_factor", 4.0, &hi_f)) != ADM_OK) return st;
        if ((st = get_float(L, "rope.scaling.original_context_length", 8192.0, &orig)) != ADM_OK) return st;
        if (!(hi_f > lo_f) || !(orig > 0))
            return adm_fail(L->err, ADM_ERR_FORMAT, "%s: inconsistent llama3 rope scaling parameters", L->path);
        if ((size_t)n_pairs > L->owned_left) return adm_fail(L->err, ADM_ERR_INTERNAL, "vector buffer exhausted");
        float *f = L->owned_next;
        const double lo_wavelen = orig / lo_f, hi_wavelen = orig / hi_f, pi = 3.14159265358979323846;
        for (int i = 0; i < n_pairs; i++) {
            double freq = pow((double)hp->rope_base, -2.0 * i / hp->n_rot), wavelen = 2 * pi / freq;
            if (wavelen < hi_wavelen) f[i] = 1.0f;
            else if (wavelen > lo_wavelen) f[i] = (float)factor;
            else {
                double smooth = (orig / wavelen - lo_f) / (hi_f - lo_f);
                f[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
            }
        }
        L->owned_next += n_pairs;
        L->owned_left -= (size_t)n_pairs;
        hp->rope_factors = f;
        return ADM_OK;
    }
    return adm_fail(L->err, ADM_ERR_UNSUPPORTED, "%s: RoPE scaling type '%.*s' is not supported (none, linear and "
                    "llama3 are)", L->path, (int)ADM_MIN(type.len, 64), type.ptr);
}

/* The RoPE of global and of sliding-window layers. LongRoPE files (phi3)
 * carry rope_factors_long/short, chosen per context by its size against
 * rope.scaling.original_context_length, and an attn_factor that scales
 * cos and sin. Sliding-window layers (gemma3) have their own base
 * (rope.freq_base_swa, 10000 when absent) and no scaling. */
static adm_status read_rope_sets(loader *L) {
    adm_hparams *hp = &L->m->hp;
    adm_status st;
    double attn_factor, base_swa;
    int64_t orig;
    if ((st = get_float(L, "rope.scaling.attn_factor", 1.0, &attn_factor)) != ADM_OK) return st;
    if ((st = get_float(L, "rope.freq_base_swa", 10000.0, &base_swa)) != ADM_OK) return st;
    if ((st = get_int(L, "rope.scaling.original_context_length", false, 1, 1 << 26, hp->n_ctx_train, &orig)) != ADM_OK)
        return st;
    if (!(attn_factor > 0.0) || !(base_swa > 1.0))
        return adm_fail(L->err, ADM_ERR_FORMAT, "%s: rope.scaling.attn_factor %g or rope.freq_base_swa %g is out of "
                        "range", L->path, attn_factor, base_swa);
    adm_rope *g = &hp->rope[0];
    *g = (adm_rope){hp->rope_base, hp->rope_freq_scale, (float)attn_factor, hp->rope_factors, NULL, (int)orig, false};
    const int n_pairs = hp->n_rot / 2;
    const float *lng, *shrt;
    if ((st = load_vector(L, "rope_factors_long.weight", n_pairs, false, &lng)) != ADM_OK) return st;
    if ((st = load_vector(L, "rope_factors_short.weight", n_pairs, false, &shrt)) != ADM_OK) return st;
    if ((lng || shrt) && !g->factors) {
        g->factors = shrt;
        g->factors_long = lng;
        g->longrope = true;
    }
    hp->rope[1] = (adm_rope){(float)base_swa, 1.0f, (float)attn_factor, NULL, NULL, (int)orig, false};
    if (L->m->arch->id == ADM_ARCH_GEMMA2) hp->rope[1] = *g; /* one RoPE for every layer */
    return ADM_OK;
}

static adm_status load_layers(loader *L) {
    adm_model *m = L->m;
    const adm_hparams *hp = &m->hp;
    const adm_arch *a = m->arch;
    const int64_t n_q = (int64_t)hp->n_head * hp->head_dim, n_k = (int64_t)hp->n_head_kv * hp->head_dim;
    const int64_t n_v = (int64_t)hp->n_head_kv * hp->head_dim_v, n_o = (int64_t)hp->n_head * hp->head_dim_v;
    adm_status st;
    char name[128];
    for (int il = 0; il < hp->n_layer; il++) {
        adm_layer *l = &m->layers[il];
#define T(fmt) (snprintf(name, sizeof(name), "blk.%d." fmt, il), name)
        const bool moe = hp->n_expert > 0;
        if (!moe && adm_gguf_find_tensor(L->g, T("ffn_gate_exps.weight")))
            return adm_fail(L->err, ADM_ERR_FORMAT, "%s: expert tensors but no %s.expert_count", L->path, a->name);
        if ((st = load_vector(L, T("attn_norm.weight"), hp->n_embd, true, &l->attn_norm)) != ADM_OK) return st;
        if (adm_gguf_find_tensor(L->g, T("attn_qkv.weight"))) {
            adm_weight qkv;
            if ((st = load_matrix(L, T("attn_qkv.weight"), hp->n_embd, n_q + n_k + n_v, true, &qkv)) != ADM_OK) return st;
            l->wq = rows_view(&qkv, 0, n_q);
            l->wk = rows_view(&qkv, n_q, n_k);
            l->wv = rows_view(&qkv, n_q + n_k, n_v);
        } else {
            if ((st = load_matrix(L, T("attn_q.weight"), hp->n_embd, n_q, true, &l->wq)) != ADM_OK) return st;
            if ((st = load_matrix(L, T("attn_k.weight"), hp->n_embd, n_k, true, &l->wk)) != ADM_OK) return st;
            if ((st = load_matrix(L, T("attn_v.weight"), hp->n_embd, n_v, true, &l->wv)) != ADM_OK) return st;
        }
        if ((st = load_matrix(L, T("attn_output.weight"), n_o, hp->n_embd, true, &l->wo)) != ADM_OK) return st;
        if ((st = load_vector(L, T("attn_q.bias"), n_q, false, &l->bq)) != ADM_OK) return st;
        if ((st = load_vector(L, T("attn_k.bias"), n_k, false, &l->bk)) != ADM_OK) return st;
        if ((st = load_vector(L, T("attn_v.bias"), n_v, false, &l->bv)) != ADM_OK) return st;
        if ((st = load_vector(L, T("attn_q_norm.weight"), hp->head_dim, a->qk_norm, &l->q_norm)) != ADM_OK) return st;
        if ((st = load_vector(L, T("attn_k_norm.weight"), hp->head_dim, a->qk_norm, &l->k_norm)) != ADM_OK) return st;
        if ((st = load_vector(L, T("post_attention_norm.weight"), hp->n_embd, a->post_norms, &l->attn_post_norm)) != ADM_OK)
            return st;
        if ((st = load_vector(L, T("ffn_norm.weight"), hp->n_embd, true, &l->ffn_norm)) != ADM_OK) return st;
        if ((st = load_vector(L, T("post_ffw_norm.weight"), hp->n_embd, a->post_norms, &l->ffn_post_norm)) != ADM_OK)
            return st;
        if (moe) {
            const int64_t ne = hp->n_expert, nf = hp->n_ff_exp;
            if ((st = load_matrix(L, T("ffn_gate_inp.weight"), hp->n_embd, ne, true, &l->router)) != ADM_OK) return st;
            if ((st = load_experts(L, T("ffn_gate_exps.weight"), hp->n_embd, nf, ne, &l->gate_exps)) != ADM_OK) return st;
            if ((st = load_experts(L, T("ffn_up_exps.weight"), hp->n_embd, nf, ne, &l->up_exps)) != ADM_OK) return st;
            if ((st = load_experts(L, T("ffn_down_exps.weight"), nf, hp->n_embd, ne, &l->down_exps)) != ADM_OK) return st;
        } else if (!adm_gguf_find_tensor(L->g, T("ffn_gate.weight")) && adm_gguf_find_tensor(L->g, T("ffn_up.weight")) &&
                   adm_gguf_find_tensor(L->g, T("ffn_up.weight"))->ne[1] == 2 * (int64_t)hp->n_ff) {
            /* phi3: gate and up fused in ffn_up, the gate's rows first */
            adm_weight gu;
            if ((st = load_matrix(L, T("ffn_up.weight"), hp->n_embd, 2 * (int64_t)hp->n_ff, true, &gu)) != ADM_OK) return st;
            l->w_gate = rows_view(&gu, 0, hp->n_ff);
            l->w_up = rows_view(&gu, hp->n_ff, hp->n_ff);
        } else {
            if ((st = load_matrix(L, T("ffn_gate.weight"), hp->n_embd, hp->n_ff, true, &l->w_gate)) != ADM_OK) return st;
            if ((st = load_matrix(L, T("ffn_up.weight"), hp->n_embd, hp->n_ff, true, &l->w_up)) != ADM_OK) return st;
        }
        if (!moe &&
            (st = load_matrix(L, T("ffn_down.weight"), hp->n_ff, hp->n_embd, true, &l->w_down)) != ADM_OK)
            return st;
#undef T
    }
    return ADM_OK;
}

/* ggml evaluates GELU through a table over f16 inputs whose entries are
 * rounded to f16; the same table makes our GeGLU agree with llama.cpp's. */
static adm_status build_gelu_table(loader *L) {
    float *t = adm_alloc(65536 * sizeof(float));
    if (!t) return adm_fail(L->err, ADM_ERR_NOMEM, "%s: out of memory", L->path);
    for (uint32_t i = 0; i < 65536; i++) {
        const float x = adm_f16_to_f32((adm_f16)i);
        const float g = 0.5f * x * (1.0f + tanhf(0.79788456080286535587989211986876f * x * (1.0f + 0.044715f * x * x)));
        t[i] = adm_f16_to_f32(adm_f32_to_f16(g));
    }
    L->m->gelu_table = t;
    return ADM_OK;
}

static adm_status copy_meta_strings(loader *L) {
    adm_model *m = L->m;
    size_t n = 0, bytes = 0;
    for (uint64_t i = 0; i < L->g->n_kv; i++)
        if (L->g->kv[i].val.type == ADM_GGUF_STRING) {
            n++;
            bytes += L->g->kv[i].key.len + L->g->kv[i].val.s.len + 2;
        }
    m->meta_strs = adm_alloc((2 * n + 1) * sizeof(char *) + bytes);
    if (!m->meta_strs) return adm_fail(L->err, ADM_ERR_NOMEM, "%s: out of memory", L->path);
    char *p = (char *)(m->meta_strs + 2 * n + 1);
    for (uint64_t i = 0; i < L->g->n_kv; i++) {
        const adm_gguf_kv *kv = &L->g->kv[i];
        if (kv->val.type != ADM_GGUF_STRING) continue;
        m->meta_strs[2 * m->n_meta_strs] = p;
        memcpy(p, kv->key.ptr, kv->key.len);
        p += kv->key.len;
        *p++ = 0;
        m->meta_strs[2 * m->n_meta_strs + 1] = p;
        memcpy(p, kv->val.s.ptr, kv->val.s.len);
        p += kv->val.s.len;
        *p++ = 0;
        m->n_meta_strs++;
    }
    return ADM_OK;
}

adm_model_params adm_model_default_params(void) {
    adm_model_params p;
    memset(&p, 0, sizeof(p));
    return p;
}

adm_status adm_model_load(const char *path, const adm_model_params *params, adm_model **out, adm_error *err) {
    *out = NULL;
    adm_model_params defaults = adm_model_default_params();
    if (!params) params = &defaults;
    adm_model *m = adm_calloc(1, sizeof(*m));
    if (!m) return adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", path);
    adm_status st = adm_gguf_open(path, &m->gguf, err);
    if (st != ADM_OK) goto fail;
    loader L = {m, m->gguf, m->gguf->path, err, NULL, 0};
    /* The vocabulary files beside the models (ggml-vocab-*.gguf) carry a
     * model's metadata but no tensor: say so, not which key is missing. */
    if (adm_gguf_n_tensors(m->gguf) == 0) {
        st = adm_fail(err, ADM_ERR_FORMAT,
                      "%s: holds no weights (no tensors; a vocabulary-only GGUF serves tokenizing only)", path);
        goto fail;
    }

    adm_str arch;
    bool found;
    if ((st = adm_gguf_get_str(L.g, "general.architecture", &arch, &found, err)) != ADM_OK) goto fail;
    if (!found) {
        st = adm_fail(err, ADM_ERR_FORMAT, "%s: key 'general.architecture' is missing; is this a model file?", path);
        goto fail;
    }
    m->arch = adm_arch_find(arch.ptr, arch.len);
    if (!m->arch) {
        st = adm_fail(err, ADM_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not supported (supported: %s)", path,
                      (int)ADM_MIN(arch.len, 64), arch.ptr, adm_arch_supported());
        goto fail;
    }
    adm_str name = {"", 0};
    if ((st = adm_gguf_get_str(L.g, "general.name", &name, &found, err)) != ADM_OK) goto fail;
    snprintf(m->name, sizeof(m->name), "%.*s", (int)ADM_MIN(name.len, sizeof(m->name) - 1), name.ptr);
    if ((st = read_hparams(&L)) != ADM_OK) goto fail;

    adm_hparams *hp = &m->hp;
    /* Room for every small vector: norms (4 per layer at most), biases, QK
     * norms, RoPE factors (rope_freqs, LongRoPE's long and short). */
    size_t n_small = (size_t)hp->n_embd * (4 * (size_t)hp->n_layer + 1) +
                     (size_t)hp->n_layer * ((size_t)(hp->n_head + 2 * hp->n_head_kv) * (size_t)hp->head_dim +
                                            (size_t)hp->n_head_kv * (size_t)hp->head_dim_v + 2 * (size_t)hp->head_dim) +
                     3 * (size_t)hp->n_rot;
    m->owned = adm_calloc(n_small, sizeof(float));
    m->layers = adm_calloc((size_t)hp->n_layer, sizeof(adm_layer));
    if (!m->owned || !m->layers) {
        st = adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    L.owned_next = m->owned;
    L.owned_left = n_small;
    if ((st = read_rope_scaling(&L)) != ADM_OK) goto fail;
    if ((st = read_rope_sets(&L)) != ADM_OK) goto fail;
    if ((st = read_swa_layers(&L)) != ADM_OK) goto fail;
    if (hp->ffn_act == ADM_ACT_GELU_TANH && (st = build_gelu_table(&L)) != ADM_OK) goto fail;

    if ((st = adm_vocab_from_gguf(L.g, &m->vocab, err)) != ADM_OK) goto fail;
    const adm_gguf_tensor *te = adm_gguf_find_tensor(L.g, "token_embd.weight");
    if (!te) {
        st = adm_fail(err, ADM_ERR_FORMAT, "%s: missing tensor 'token_embd.weight'", path);
        goto fail;
    }
    hp->n_vocab = m->vocab ? adm_vocab_n_tokens(m->vocab) : (int)ADM_MIN(te->ne[1], (int64_t)INT32_MAX);
    if ((st = load_matrix(&L, "token_embd.weight", hp->n_embd, hp->n_vocab, true, &m->tok_embd)) != ADM_OK) goto fail;
    if ((st = load_vector(&L, "output_norm.weight", hp->n_embd, true, &m->output_norm)) != ADM_OK) goto fail;
    if ((st = load_matrix(&L, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output)) != ADM_OK) goto fail;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    if ((st = load_layers(&L)) != ADM_OK) goto fail;
    if ((st = copy_meta_strings(&L)) != ADM_OK) goto fail;

    for (uint64_t i = 0; i < L.g->n_tensors; i++) {
        m->n_params += L.g->tensors[i].n_elements;
        m->weight_bytes += L.g->tensors[i].size;
    }
    if (params->prefault && m->gguf->file &&
        !adm_mapped_file_prefault(m->gguf->file, params->progress, params->progress_user)) {
        st = adm_fail(err, ADM_ERR_INVALID_ARG, "%s: loading was cancelled", path);
        goto fail;
    }
    *out = m;
    return ADM_OK;
fail:
    adm_model_free(m);
    return st;
}

void adm_model_free(adm_model *m) {
    if (!m) return;
    adm_vocab_free(m->vocab);
    adm_free(m->layers);
    adm_free(m->owned);
    adm_free(m->gelu_table);
    adm_free(m->meta_strs);
    adm_gguf_free(m->gguf);
    adm_free(m);
}

adm_model_info adm_model_get_info(const adm_model *m) {
    adm_model_info i;
    memset(&i, 0, sizeof(i));
    i.arch = m->arch->name;
    i.name = m->name;
    i.n_vocab = m->hp.n_vocab;
    i.n_ctx_train = m->hp.n_ctx_train;
    i.n_embd = m->hp.n_embd;
    i.n_layer = m->hp.n_layer;
    i.n_head = m->hp.n_head;
    i.n_head_kv = m->hp.n_head_kv;
    i.n_embd_head = m->hp.head_dim;
    i.n_ff = m->hp.n_ff;
    i.n_rot = m->hp.n_rot;
    i.rope_freq_base = m->hp.rope_base;
    i.rms_eps = m->hp.rms_eps;
    i.n_params = m->n_params;
    i.weight_bytes = m->weight_bytes;
    i.decode_bytes = m->weight_bytes;
    if (m->output.data != m->tok_embd.data)
        i.decode_bytes -= (uint64_t)m->tok_embd.row_size * (uint64_t)(m->tok_embd.n_out - 1);
    const adm_hparams *hp = &m->hp;
    i.n_swa = hp->n_swa;
    for (int il = 0; il < hp->n_layer; il++) {
        const adm_layer *l = &m->layers[il];
        i.n_swa_layers += l->swa;
        if (hp->n_expert > 0)
            i.decode_bytes -= (uint64_t)(l->gate_exps.stride + l->up_exps.stride + l->down_exps.stride) *
                              (uint64_t)(hp->n_expert - hp->n_expert_used);
    }
    i.rope_freq_base_swa = hp->rope[1].base;
    i.attn_softcap = hp->attn_softcap;
    i.final_softcap = hp->final_softcap;
    i.n_expert = hp->n_expert;
    i.n_expert_used = hp->n_expert_used;
    i.n_ff_exp = hp->n_ff_exp;
    i.longrope = hp->rope[0].longrope;
    i.n_ctx_orig = hp->rope[0].n_ctx_orig;
    i.attn_scale = hp->attn_scale;
    return i;
}

int adm_model_n_vocab(const adm_model *m) { return m->hp.n_vocab; }

const adm_vocab *adm_model_vocab(const adm_model *m) { return m->vocab; }

const char *adm_model_meta_str(const adm_model *m, const char *key) {
    for (size_t i = 0; i < m->n_meta_strs; i++)
        if (strcmp(m->meta_strs[2 * i], key) == 0) return m->meta_strs[2 * i + 1];
    return NULL;
}

uint64_t adm_model_kv_bytes(const adm_model *m, adm_type type_k, adm_type type_v, int n_ctx, int n_batch,
                            bool swa_full) {
    const adm_hparams *hp = &m->hp;
    const int ring = hp->n_swa > 0 && !swa_full ? adm_kv_ring_rows(hp->n_swa, n_batch) : 0;
    uint64_t rows = 0;
    for (int l = 0; l < hp->n_layer; l++)
        rows += (uint64_t)(m->layers[l].swa && ring > 0 && ring < n_ctx ? ring : n_ctx);
    return rows * (uint64_t)hp->n_head_kv * (adm_row_size(type_k, hp->head_dim) + adm_row_size(type_v, hp->head_dim_v));
}

int adm_model_ctx_for_memory(const adm_model *m, adm_type type_k, adm_type type_v, int n_batch, bool swa_full,
                             uint64_t bytes) {
    const int train = m->hp.n_ctx_train > 0 ? m->hp.n_ctx_train : 4096;
    if (train <= 256 || adm_model_kv_bytes(m, type_k, type_v, train, n_batch, swa_full) <= bytes) return train;
    /* The bytes grow with the context (rings stop growing at their
     * window): the largest fitting multiple of 256 by bisection. */
    int lo = 0, hi = train / 256; /* lo * 256 fits (or is 0), hi * 256 does not */
    while (hi - lo > 1) {
        const int mid = lo + (hi - lo) / 2;
        if (adm_model_kv_bytes(m, type_k, type_v, mid * 256, n_batch, swa_full) <= bytes) lo = mid;
        else hi = mid;
    }
    return lo > 0 ? lo * 256 : 256;
}

uint64_t adm_model_kv_bytes_per_token(const adm_model *m, adm_type type_k, adm_type type_v) {
    const adm_hparams *hp = &m->hp;
    return (uint64_t)hp->n_layer * (uint64_t)hp->n_head_kv *
           (adm_row_size(type_k, hp->head_dim) + adm_row_size(type_v, hp->head_dim_v));
}
