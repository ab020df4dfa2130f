/*
 * cmd_gen_model.c - `adamas gen-model`: writes a random-weight GGUF model of
 * any llama/qwen2/qwen3/qwen3moe/gemma2/gemma3/phi3 shape in any weight type,
 * optionally with the real
 * vocabulary of another GGUF file. Such models run at real speed and memory
 * cost (benchmarks, memory tests) and exercise every kernel, but say
 * nothing about quality. Weights are seeded, so files are reproducible.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape {
    const char *arch;
    int n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx;
    float rope_base, rms_eps;
    bool tied;
    /* gemma3: sliding window (every swa_period-th layer global), local RoPE
     * base, linear RoPE scaling factor of the global layers (0: none) */
    int n_swa, swa_period;
    float rope_base_swa, rope_scale;
    /* qwen3moe */
    int n_expert, n_expert_used, n_ff_exp;
    /* phi3: rotary dimensions (0: head_dim), LongRoPE original context (0: none) */
    int n_rot, n_ctx_orig;
    /* gemma2: attention and final logit soft-capping (0: the file omits them, llama.cpp's 50 and 30) */
    float attn_softcap, final_softcap;
} shape;

typedef struct preset {
    const char *name;
    shape s;
} preset;

static const preset k_presets[] = {
    {"qwen2.5-0.5b", {"qwen2", 24, 896, 14, 2, 64, 4864, 151936, 32768, 1000000.0f, 1e-6f, true, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"qwen2.5-1.5b", {"qwen2", 28, 1536, 12, 2, 128, 8960, 151936, 32768, 1000000.0f, 1e-6f, true, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"qwen3-0.6b", {"qwen3", 28, 1024, 16, 8, 128, 3072, 151936, 40960, 1000000.0f, 1e-6f, true, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"llama-3.2-1b", {"llama", 16, 2048, 32, 8, 64, 8192, 128256, 131072, 500000.0f, 1e-5f, true, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"llama-3.2-3b", {"llama", 28, 3072, 24, 8, 128, 8192, 128256, 131072, 500000.0f, 1e-5f, true, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"llama-3.1-8b", {"llama", 32, 4096, 32, 8, 128, 14336, 128256, 131072, 500000.0f, 1e-5f, false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"smollm2-135m", {"llama", 30, 576, 9, 3, 64, 1536, 49152, 8192, 100000.0f, 1e-5f, true, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"gemma-2-2b", {"gemma2", 26, 2304, 8, 4, 256, 9216, 256000, 8192, 10000.0f, 1e-6f, true, 4096, 2, 0, 0, 0, 0, 0, 0, 0, 50.0f, 30.0f}},
    {"gemma-3-1b", {"gemma3", 26, 1152, 4, 1, 256, 6912, 262144, 32768, 1000000.0f, 1e-6f, true, 512, 6, 10000.0f, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"phi-4-mini", {"phi3", 32, 3072, 24, 8, 128, 8192, 200064, 131072, 10000.0f, 1e-5f, true, 0, 0, 0, 0, 0, 0, 0, 96, 4096, 0, 0}},
    /* 48 layers as released; about 17 GiB as Q4_K_M, so benchmarks may pass --n-layer 12 */
    {"qwen3-30b-a3b", {"qwen3moe", 48, 2048, 32, 4, 128, 6144, 151936, 40960, 1000000.0f, 1e-6f, false, 0, 0, 0, 0, 128, 8, 768, 0, 0, 0, 0}},
    /* tiny files of each mechanism for the reference tests (tests/arch_ref) */
    /* an attention cap low enough that random weights' scores reach it */
    {"tiny-gemma2", {"gemma2", 4, 256, 4, 2, 64, 768, 512, 2048, 10000.0f, 1e-6f, true, 24, 2, 0, 0, 0, 0, 0, 0, 0, 2.0f, 30.0f}},
    {"tiny-gemma3", {"gemma3", 4, 256, 4, 2, 64, 768, 512, 2048, 1000000.0f, 1e-6f, true, 24, 3, 10000.0f, 8.0f, 0, 0, 0, 0, 0, 0, 0}},
    {"tiny-phi3", {"phi3", 2, 256, 4, 2, 64, 768, 512, 4096, 10000.0f, 1e-5f, false, 0, 0, 0, 0, 0, 0, 0, 48, 1024, 0, 0}},
    {"tiny-qwen3moe", {"qwen3moe", 2, 256, 4, 2, 64, 768, 512, 2048, 1000000.0f, 1e-6f, false, 0, 0, 0, 0, 8, 3, 256, 0, 0, 0, 0}},
    {"tiny-llama-moe", {"llama", 2, 256, 4, 2, 64, 512, 512, 2048, 10000.0f, 1e-5f, false, 0, 0, 0, 0, 4, 2, 512, 0, 0, 0, 0}},
    {"tiny", {"llama", 2, 256, 4, 2, 64, 768, 512, 2048, 10000.0f, 1e-5f, false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: adamas gen-model -o OUT.gguf [--preset NAME] [--type TYPE] [shape options]\n"
            "Writes a GGUF model with random weights of a real shape.\n\n"
            "  -o FILE              output file\n"
            "  --preset NAME        start from a known shape:");
    for (size_t i = 0; i < sizeof(k_presets) / sizeof(k_presets[0]); i++) fprintf(f, " %s", k_presets[i].name);
    fprintf(f, "\n"
               "  --type TYPE          weight type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k,\n"
               "                       or the mixes q4_k_m and q5_k_m (default q8_0)\n"
               "  --arch llama|qwen2|qwen3|qwen3moe|gemma2|gemma3|phi3\n"
               "  --n-layer N --n-embd N --n-head N --n-head-kv N --head-dim N --n-ff N --n-vocab N --ctx N\n"
               "  --n-expert N --n-expert-used N --n-ff-exp N   experts (qwen3moe; llama as Mixtral)\n"
               "  --swa N --swa-period N  sliding window; every N-th layer global (gemma3; gemma2: every other)\n"
               "  --n-rot N            rotary dimensions (default: the head size)\n"
               "  --ctx-orig N         LongRoPE original context: writes rope_factors_long/short (phi3)\n"
               "  --rope-base F        RoPE frequency base\n"
               "  --tied / --untied    share the output matrix with the token embeddings\n"
               "  --vocab FILE.gguf    copy the tokenizer (tokenizer.* keys) of this file; n_vocab follows it\n"
               "  --seed N             random seed (default 1)\n");
}

/* xoshiro128+-style generator; only statistical quality matters here. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Approximately normal (sum of four uniforms), mean 0, standard deviation 1. */
static float rng_normal(rng *r) {
    uint64_t a = rng_next(r), b = rng_next(r);
    float s = (float)(a & 0xffffffff) + (float)(a >> 32) + (float)(b & 0xffffffff) + (float)(b >> 32);
    return (s * (1.0f / 4294967296.0f) - 2.0f) * 1.7320508f;
}

typedef struct tensor_plan {
    char name[96];
    adm_type type;
    int n_dims;
    int64_t ne[3];
    float std, mean;   /* mean != 0 for norm weights (around 1) */
} tensor_plan;

/* llama.cpp's Q4_K_M/Q5_K_M recipe, simplified: Q6_K output and, in about
 * half of the layers, Q6_K attn_v / ffn_down. */
static bool more_bits(int il, int n_layer) {
    return il < n_layer / 8 || il >= 7 * n_layer / 8 || (il - n_layer / 8) % 3 == 2;
}

static adm_type pick_type(const char *mix, adm_type base, const char *role, int il, int n_layer) {
    if (!mix) return base;
    if (!strcmp(role, "output")) return ADM_TYPE_Q6_K;
    if ((!strcmp(role, "attn_v") || !strcmp(role, "ffn_down")) && more_bits(il, n_layer)) return ADM_TYPE_Q6_K;
    return base;
}

/* A matrix type must divide the row length; fall back like llama-quantize. */
static adm_type fit_type(adm_type t, int64_t n_in) {
    if (n_in % adm_type_block_size(t) == 0) return t;
    return n_in % 32 == 0 ? ADM_TYPE_Q8_0 : ADM_TYPE_F16;
}

static int add_plan3(tensor_plan *p, int n, const char *name, adm_type t, int64_t ne0, int64_t ne1, int64_t ne2,
                     float std, float mean) {
    snprintf(p[n].name, sizeof(p[n].name), "%s", name);
    p[n].type = ne1 > 1 ? fit_type(t, ne0) : ADM_TYPE_F32;
    p[n].n_dims = ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1;
    p[n].ne[0] = ne0;
    p[n].ne[1] = ne1;
    p[n].ne[2] = ne2;
    p[n].std = std;
    p[n].mean = mean;
    return n + 1;
}

static int add_plan(tensor_plan *p, int n, const char *name, adm_type t, int64_t ne0, int64_t ne1, float std,
                    float mean) {
    return add_plan3(p, n, name, t, ne0, ne1, 1, std, mean);
}

static bool parse_shape_opt(const char *a, const char *v, shape *s, bool *ok) {
    long n;
    int *field = NULL;
    long hi = 1 << 20;
    if (!strcmp(a, "--n-layer")) field = &s->n_layer, hi = 512;
    else if (!strcmp(a, "--n-embd")) field = &s->n_embd;
    else if (!strcmp(a, "--n-head")) field = &s->n_head, hi = 1024;
    else if (!strcmp(a, "--n-head-kv")) field = &s->n_head_kv, hi = 1024;
    else if (!strcmp(a, "--head-dim")) field = &s->head_dim, hi = 1024;
    else if (!strcmp(a, "--n-ff")) field = &s->n_ff;
    else if (!strcmp(a, "--n-vocab")) field = &s->n_vocab, hi = 1 << 22;
    else if (!strcmp(a, "--ctx")) field = &s->n_ctx, hi = 1 << 24;
    else if (!strcmp(a, "--n-expert")) field = &s->n_expert, hi = 4096;
    else if (!strcmp(a, "--n-expert-used")) field = &s->n_expert_used, hi = 4096;
    else if (!strcmp(a, "--n-ff-exp")) field = &s->n_ff_exp;
    else if (!strcmp(a, "--swa")) field = &s->n_swa, hi = 1 << 24;
    else if (!strcmp(a, "--swa-period")) field = &s->swa_period, hi = 4096;
    else if (!strcmp(a, "--n-rot")) field = &s->n_rot, hi = 1024;
    else if (!strcmp(a, "--ctx-orig")) field = &s->n_ctx_orig, hi = 1 << 24;
    else return false;
    *ok = args_int("gen-model", a, v, 1, hi, &n);
    if (*ok) *field = (int)n;
    return true;
}

int cmd_gen_model(int argc, char **argv) {
    shape s = k_presets[sizeof(k_presets) / sizeof(k_presets[0]) - 1].s;
    const char *out = NULL, *vocab_path = NULL, *type_name = "q8_0";
    long seed = 1;
    /* Every option but these flags takes a value. */
    static const char *const k_valued[] = {"-o", "--type", "--vocab", "--seed", "--rope-base", "--arch", "--preset",
                                           "--n-layer", "--n-embd", "--n-head", "--n-head-kv", "--head-dim", "--n-ff",
                                           "--n-vocab", "--ctx", "--n-expert", "--n-expert-used", "--n-ff-exp",
                                           "--swa", "--swa-period", "--n-rot", "--ctx-orig"};
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--tied") || !strcmp(a, "--untied")) {
            s.tied = !strcmp(a, "--tied");
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < sizeof(k_valued) / sizeof(k_valued[0]); k++) known |= !strcmp(a, k_valued[k]);
        if (!known) return args_unknown("gen-model", a);
        const char *v = args_value("gen-model", argc, argv, &i);
        if (!v) return 2;
        bool ok = true;
        if (parse_shape_opt(a, v, &s, &ok)) {
            if (!ok) return 2;
        } else if (!strcmp(a, "-o")) {
            out = v;
        } else if (!strcmp(a, "--type")) {
            type_name = v;
        } else if (!strcmp(a, "--vocab")) {
            vocab_path = v;
        } else if (!strcmp(a, "--seed")) {
            if (!args_int("gen-model", a, v, 0, 1L << 62, &seed)) return 2;
        } else if (!strcmp(a, "--rope-base")) {
            double d;
            if (!args_float("gen-model", a, v, 1.0, 1e12, &d)) return 2;
            s.rope_base = (float)d;
        } else if (!strcmp(a, "--arch")) {
            if (strcmp(v, "llama") && strcmp(v, "qwen2") && strcmp(v, "qwen3") && strcmp(v, "qwen3moe") &&
                strcmp(v, "gemma2") && strcmp(v, "gemma3") && strcmp(v, "phi3")) {
                args_error("gen-model", "unknown --arch '%s' (llama, qwen2, qwen3, qwen3moe, gemma2, gemma3, phi3)", v);
                return 2;
            }
            s.arch = v;
        } else if (!strcmp(a, "--preset")) {
            size_t k = 0, np = sizeof(k_presets) / sizeof(k_presets[0]);
            while (k < np && strcmp(k_presets[k].name, v)) k++;
            if (k == np) {
                args_error("gen-model", "unknown preset '%s'", v);
                return 2;
            }
            s = k_presets[k].s;
        } else {
            return args_unknown("gen-model", a);
        }
    }
    if (!out) {
        args_error("gen-model", "no output file (-o)");
        return 2;
    }
    const char *mix = NULL;
    adm_type base;
    if (!strcmp(type_name, "q4_k_m")) mix = type_name, base = ADM_TYPE_Q4_K;
    else if (!strcmp(type_name, "q5_k_m")) mix = type_name, base = ADM_TYPE_Q5_K;
    else if (!adm_type_from_name(type_name, &base) || base == ADM_TYPE_Q8_1 || base == ADM_TYPE_Q8_K) {
        args_error("gen-model", "unknown --type '%s'", type_name);
        return 2;
    }
    if (s.n_head % s.n_head_kv || s.head_dim % 2) {
        args_error("gen-model", "n_head must be a multiple of n_head_kv and head_dim even");
        return 2;
    }
    const bool gemma2 = !strcmp(s.arch, "gemma2"), gemma = gemma2 || !strcmp(s.arch, "gemma3");
    const bool moe = s.n_expert > 0, phi3 = !strcmp(s.arch, "phi3");
    const int n_rot = s.n_rot > 0 ? s.n_rot : s.head_dim;
    if (!strcmp(s.arch, "llama") && moe) s.n_ff_exp = s.n_ff; /* llama's experts use feed_forward_length */
    if (n_rot > s.head_dim || n_rot % 2 || (!strcmp(s.arch, "qwen3moe") && !moe) ||
        (moe && (s.n_expert_used < 1 || s.n_expert_used > s.n_expert || s.n_ff_exp < 1)) ||
        (moe && strcmp(s.arch, "qwen3moe") && strcmp(s.arch, "llama"))) {
        args_error("gen-model", "experts (qwen3moe, or llama as Mixtral) need --n-expert, --n-expert-used <= n_expert "
                   "and --n-ff-exp; --n-rot must be even and at most the head size");
        return 2;
    }

    adm_error err;
    adm_gguf *vocab = NULL;
    if (vocab_path) {
        if (adm_gguf_open(vocab_path, &vocab, &err) != ADM_OK) {
            args_error("gen-model", "%s", err.msg);
            return 1;
        }
        /* The vocabulary decides n_vocab. */
        int64_t k = adm_gguf_find_key(vocab, "tokenizer.ggml.tokens");
        int64_t n_tok = k < 0 ? 0 : (int64_t)adm_gguf_array_len(vocab, (uint64_t)k);
        if (n_tok <= 0) {
            args_error("gen-model", "%s has no tokenizer.ggml.tokens", vocab_path);
            adm_gguf_free(vocab);
            return 1;
        }
        s.n_vocab = (int)n_tok;
    }

    tensor_plan *plan = calloc((size_t)s.n_layer * 16 + 8, sizeof(tensor_plan));
    adm_gguf_writer *w = NULL;
    float *row = NULL;
    void *buf = NULL;
    int rc = 1;
    if (!plan || adm_gguf_writer_create(&w, &err) != ADM_OK) {
        args_error("gen-model", "out of memory");
        goto done;
    }
    const int64_t nq = (int64_t)s.n_head * s.head_dim, nkv = (int64_t)s.n_head_kv * s.head_dim;
    /* Scales keep activations in a sane range through many layers. */
    const float w_std = 0.5f / sqrtf((float)s.n_embd), ff_std = 0.5f / sqrtf((float)s.n_ff);
    int n = 0;
    char name[96];
    n = add_plan(plan, n, "token_embd.weight", pick_type(mix, base, "token_embd", 0, s.n_layer), s.n_embd, s.n_vocab, 1.0f, 0);
    n = add_plan(plan, n, "output_norm.weight", ADM_TYPE_F32, s.n_embd, 1, 0.05f, 1.0f);
    if (!s.tied)
        n = add_plan(plan, n, "output.weight", pick_type(mix, base, "output", 0, s.n_layer), s.n_embd, s.n_vocab, w_std, 0);
    if (phi3 && s.n_ctx_orig > 0) {
        /* LongRoPE frequency divisors: long ones stretch low frequencies */
        n = add_plan(plan, n, "rope_factors_long.weight", ADM_TYPE_F32, n_rot / 2, 1, 0.5f, 2.0f);
        n = add_plan(plan, n, "rope_factors_short.weight", ADM_TYPE_F32, n_rot / 2, 1, 0.05f, 1.0f);
    }
    for (int il = 0; il < s.n_layer; il++) {
#define NAME(fmt) (snprintf(name, sizeof(name), "blk.%d." fmt, il), name)
        n = add_plan(plan, n, NAME("attn_norm.weight"), ADM_TYPE_F32, s.n_embd, 1, 0.05f, 1.0f);
        if (phi3) {
            n = add_plan(plan, n, NAME("attn_qkv.weight"), pick_type(mix, base, "attn_qkv", il, s.n_layer), s.n_embd,
                         nq + 2 * nkv, w_std, 0);
        } else {
            n = add_plan(plan, n, NAME("attn_q.weight"), pick_type(mix, base, "attn_q", il, s.n_layer), s.n_embd, nq, w_std, 0);
            n = add_plan(plan, n, NAME("attn_k.weight"), pick_type(mix, base, "attn_k", il, s.n_layer), s.n_embd, nkv, w_std, 0);
            n = add_plan(plan, n, NAME("attn_v.weight"), pick_type(mix, base, "attn_v", il, s.n_layer), s.n_embd, nkv, w_std, 0);
        }
        n = add_plan(plan, n, NAME("attn_output.weight"), pick_type(mix, base, "attn_output", il, s.n_layer), nq, s.n_embd, w_std, 0);
        if (!strcmp(s.arch, "qwen2")) {
            n = add_plan(plan, n, NAME("attn_q.bias"), ADM_TYPE_F32, nq, 1, 0.1f, 0);
            n = add_plan(plan, n, NAME("attn_k.bias"), ADM_TYPE_F32, nkv, 1, 0.1f, 0);
            n = add_plan(plan, n, NAME("attn_v.bias"), ADM_TYPE_F32, nkv, 1, 0.1f, 0);
        }
        if (!strcmp(s.arch, "qwen3") || !strcmp(s.arch, "qwen3moe") || (gemma && !gemma2)) {
            n = add_plan(plan, n, NAME("attn_q_norm.weight"), ADM_TYPE_F32, s.head_dim, 1, 0.05f, 1.0f);
            n = add_plan(plan, n, NAME("attn_k_norm.weight"), ADM_TYPE_F32, s.head_dim, 1, 0.05f, 1.0f);
        }
        if (gemma) n = add_plan(plan, n, NAME("post_attention_norm.weight"), ADM_TYPE_F32, s.n_embd, 1, 0.05f, 1.0f);
        n = add_plan(plan, n, NAME("ffn_norm.weight"), ADM_TYPE_F32, s.n_embd, 1, 0.05f, 1.0f);
        if (moe) {
            const float fe_std = 0.5f / sqrtf((float)s.n_ff_exp);
            n = add_plan(plan, n, NAME("ffn_gate_inp.weight"), ADM_TYPE_F32, s.n_embd, s.n_expert, 4.0f * w_std, 0);
            n = add_plan3(plan, n, NAME("ffn_gate_exps.weight"), pick_type(mix, base, "ffn_gate", il, s.n_layer), s.n_embd,
                          s.n_ff_exp, s.n_expert, w_std, 0);
            n = add_plan3(plan, n, NAME("ffn_up_exps.weight"), pick_type(mix, base, "ffn_up", il, s.n_layer), s.n_embd,
                          s.n_ff_exp, s.n_expert, w_std, 0);
            n = add_plan3(plan, n, NAME("ffn_down_exps.weight"), pick_type(mix, base, "ffn_down", il, s.n_layer),
                          s.n_ff_exp, s.n_embd, s.n_expert, fe_std, 0);
        } else if (phi3) {
            n = add_plan(plan, n, NAME("ffn_up.weight"), pick_type(mix, base, "ffn_up", il, s.n_layer), s.n_embd, 2 * s.n_ff, w_std, 0);
        } else {
            n = add_plan(plan, n, NAME("ffn_gate.weight"), pick_type(mix, base, "ffn_gate", il, s.n_layer), s.n_embd, s.n_ff, w_std, 0);
            n = add_plan(plan, n, NAME("ffn_up.weight"), pick_type(mix, base, "ffn_up", il, s.n_layer), s.n_embd, s.n_ff, w_std, 0);
        }
        if (!moe)
            n = add_plan(plan, n, NAME("ffn_down.weight"), pick_type(mix, base, "ffn_down", il, s.n_layer), s.n_ff, s.n_embd, ff_std, 0);
        if (gemma) n = add_plan(plan, n, NAME("post_ffw_norm.weight"), ADM_TYPE_F32, s.n_embd, 1, 0.05f, 1.0f);
#undef NAME
    }

    char key[128];
#define KEY(suffix) (snprintf(key, sizeof(key), "%s.%s", s.arch, suffix), key)
    adm_status st = adm_gguf_writer_set_str(w, "general.architecture", s.arch);
    if (st == ADM_OK) st = adm_gguf_writer_set_str(w, "general.name", "adamas random model");
    if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)s.n_layer);
    if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)s.n_ctx);
    if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)s.n_embd);
    if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)s.n_ff);
    if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)s.n_head);
    if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)s.n_head_kv);
    if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)s.head_dim);
    if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)s.head_dim);
    if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)n_rot);
    if (st == ADM_OK) st = adm_gguf_writer_set_f32(w, KEY("rope.freq_base"), s.rope_base);
    if (st == ADM_OK) st = adm_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), s.rms_eps);
    if (st == ADM_OK && gemma2) { /* every other layer slides, one RoPE base */
        st = adm_gguf_writer_set_u32(w, KEY("attention.sliding_window"), (uint32_t)s.n_swa);
        if (st == ADM_OK && s.attn_softcap > 0)
            st = adm_gguf_writer_set_f32(w, KEY("attn_logit_softcapping"), s.attn_softcap);
        if (st == ADM_OK && s.final_softcap > 0)
            st = adm_gguf_writer_set_f32(w, KEY("final_logit_softcapping"), s.final_softcap);
    } else if (st == ADM_OK && gemma && s.n_swa > 0) {
        st = adm_gguf_writer_set_u32(w, KEY("attention.sliding_window"), (uint32_t)s.n_swa);
        if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("attention.sliding_window_pattern"), (uint32_t)s.swa_period);
        if (st == ADM_OK) st = adm_gguf_writer_set_f32(w, KEY("rope.freq_base_swa"), s.rope_base_swa);
    }
    if (st == ADM_OK && s.rope_scale > 0) {
        st = adm_gguf_writer_set_str(w, KEY("rope.scaling.type"), "linear");
        if (st == ADM_OK) st = adm_gguf_writer_set_f32(w, KEY("rope.scaling.factor"), s.rope_scale);
    }
    if (st == ADM_OK && moe) {
        st = adm_gguf_writer_set_u32(w, KEY("expert_count"), (uint32_t)s.n_expert);
        if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("expert_used_count"), (uint32_t)s.n_expert_used);
        if (st == ADM_OK) st = adm_gguf_writer_set_u32(w, KEY("expert_feed_forward_length"), (uint32_t)s.n_ff_exp);
    }
    if (st == ADM_OK && phi3 && s.n_ctx_orig > 0) {
        /* Phi-3's converter: attn_factor = sqrt(1 + ln(ctx / orig) / ln(orig)) */
        const double scale = (double)s.n_ctx / s.n_ctx_orig;
        const float af = scale <= 1.0 ? 1.0f : (float)sqrt(1.0 + log(scale) / log((double)s.n_ctx_orig));
        st = adm_gguf_writer_set_u32(w, KEY("rope.scaling.original_context_length"), (uint32_t)s.n_ctx_orig);
        if (st == ADM_OK) st = adm_gguf_writer_set_f32(w, KEY("rope.scaling.attn_factor"), af);
    }
    if (st == ADM_OK && vocab) st = adm_gguf_writer_copy_keys(w, vocab, "tokenizer.");
#undef KEY
    for (int i = 0; i < n && st == ADM_OK; i++) st = adm_gguf_writer_add_tensor(w, plan[i].name, plan[i].type, plan[i].n_dims, plan[i].ne);
    if (st != ADM_OK) {
        args_error("gen-model", "out of memory building the metadata");
        goto done;
    }
    if (adm_gguf_writer_begin(w, out, &err) != ADM_OK) {
        args_error("gen-model", "%s", err.msg);
        goto done;
    }
    int64_t max_in = 0;
    size_t max_bytes = 0;
    for (int i = 0; i < n; i++) {
        max_in = plan[i].ne[0] > max_in ? plan[i].ne[0] : max_in;
        size_t b = adm_type_row_size(plan[i].type, plan[i].ne[0]) * (size_t)(plan[i].ne[1] * plan[i].ne[2]);
        max_bytes = b > max_bytes ? b : max_bytes;
    }
    row = malloc((size_t)max_in * sizeof(float));
    buf = malloc(max_bytes);
    if (!row || !buf) {
        args_error("gen-model", "cannot allocate %zu bytes", max_bytes);
        goto done;
    }
    rng r = {(uint64_t)seed * 0x2545F4914F6CDD1Dull + 1};
    progress_state ps;
    progress_init(&ps, "writing tensors");
    for (int i = 0; i < n; i++) {
        const tensor_plan *t = &plan[i];
        size_t rs = adm_type_row_size(t->type, t->ne[0]);
        for (int64_t rrow = 0; rrow < t->ne[1] * t->ne[2]; rrow++) {
            for (int64_t j = 0; j < t->ne[0]; j++) row[j] = t->mean + t->std * rng_normal(&r);
            adm_quantize(t->type, row, (uint8_t *)buf + (size_t)rrow * rs, t->ne[0]);
        }
        if (adm_gguf_writer_write_tensor(w, buf, rs * (size_t)(t->ne[1] * t->ne[2]), &err) != ADM_OK) {
            progress_done(&ps);
            args_error("gen-model", "%s: %s", out, err.msg);
            goto done;
        }
        progress_draw((uint64_t)i + 1, (uint64_t)n, &ps);
    }
    progress_done(&ps);
    if (adm_gguf_writer_finish(w, &err) != ADM_OK) {
        args_error("gen-model", "%s: %s", out, err.msg);
        goto done;
    }
    rc = 0;
done:
    free(row);
    free(buf);
    free(plan);
    adm_gguf_writer_free(w);
    adm_gguf_free(vocab);
    return rc;
}
