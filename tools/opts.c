/*
 * opts.c - see opts.h.
 */
#include "opts.h"

#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <string.h>

void model_opts_init(model_opts *o) {
    memset(o, 0, sizeof(*o));
    o->cp = adm_ctx_default_params();
}

/* In adm_attention order. */
static const char *const k_attention_names[] = {"dense", "adamas", "window"};
#define N_ATTENTION ((int)(sizeof(k_attention_names) / sizeof(k_attention_names[0])))

const char *attention_name(adm_attention a) {
    return (unsigned)a < (unsigned)N_ATTENTION ? k_attention_names[a] : "?";
}

bool attention_from_name(const char *s, adm_attention *out) {
    for (int k = 0; k < N_ATTENTION; k++)
        if (!strcmp(s, k_attention_names[k])) {
            *out = (adm_attention)k;
            return true;
        }
    return false;
}

/* The index of v among names[0..n); otherwise says "invalid value for OPT:
 * 'v' (expected a, b or c)" and returns -1. */
static int parse_choice(const char *cmd, const char *opt, const char *v, const char *const *names, int n) {
    for (int k = 0; k < n; k++)
        if (!strcmp(v, names[k])) return k;
    char expected[256] = "";
    for (int k = 0; k < n; k++) {
        const size_t used = strlen(expected);
        snprintf(expected + used, sizeof(expected) - used, "%s%s", k == 0 ? "" : k == n - 1 ? " or " : ", ", names[k]);
    }
    args_error(cmd, "invalid value for %s: '%s' (expected %s)", opt, v, expected);
    return -1;
}

static bool parse_kv_type(const char *cmd, const char *opt, const char *s, adm_type *out) {
    adm_type t;
    if (!adm_type_from_name(s, &t) || (t != ADM_TYPE_F16 && t != ADM_TYPE_F32 && t != ADM_TYPE_Q8_0)) {
        args_error(cmd, "invalid value for %s: '%s' (expected f16, f32 or q8_0)", opt, s);
        return false;
    }
    *out = t;
    return true;
}

int model_opts_parse(model_opts *o, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    long n;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
        if (!(v = args_value(cmd, argc, argv, i))) return -1;
        o->model = v;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 1, 1024, &n)) return -1;
        o->cp.n_threads = (int)n;
        const int usable = adm_usable_cpus();
        if (n > usable)
            fprintf(stderr,
                    "adamas %s: warning: -t %ld is more threads than the %d CPU%s this process may use (affinity mask, "
                    "cgroup CPU quota); they take turns, which is slower than -t %d\n",
                    cmd, n, usable, usable == 1 ? "" : "s", usable);
    } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 0, 1 << 24, &n)) return -1;
        o->cp.n_ctx = (int)n;
        o->ctx_set = n > 0;
    } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 1, 1 << 20, &n)) return -1;
        o->cp.n_batch = (int)n;
        o->batch_set = true;
    } else if (!strcmp(a, "--cache-type-k") || !strcmp(a, "-ctk")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !parse_kv_type(cmd, a, v, &o->cp.type_k)) return -1;
    } else if (!strcmp(a, "--cache-type-v") || !strcmp(a, "-ctv")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !parse_kv_type(cmd, a, v, &o->cp.type_v)) return -1;
    } else if (!strcmp(a, "--attention")) {
        int k;
        if (!(v = args_value(cmd, argc, argv, i)) || (k = parse_choice(cmd, a, v, k_attention_names, N_ATTENTION)) < 0)
            return -1;
        o->cp.attention = (adm_attention)k;
    } else if (!strcmp(a, "--budget")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 2, 1 << 24, &n)) return -1;
        o->cp.budget = (int)n;
    } else if (!strcmp(a, "--dense-layers")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 0, 4096, &n)) return -1;
        o->cp.dense_layers = (int)n;
    } else if (!strcmp(a, "--sink")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 0, 1 << 24, &n)) return -1;
        o->cp.sink = (int)n;
    } else if (!strcmp(a, "--window")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 0, 1 << 24, &n)) return -1;
        o->cp.window = (int)n;
    } else if (!strcmp(a, "--adamas-thresholds")) {
        static const char *const names[] = {"paper", "calibrated"};
        int k;
        if (!(v = args_value(cmd, argc, argv, i)) || (k = parse_choice(cmd, a, v, names, 2)) < 0) return -1;
        o->cp.thresholds = k == 0 ? ADM_THRESHOLDS_PAPER : ADM_THRESHOLDS_CALIBRATED;
    } else if (!strcmp(a, "--adamas-select")) {
        static const char *const names[] = {"head", "group"};
        int k;
        if (!(v = args_value(cmd, argc, argv, i)) || (k = parse_choice(cmd, a, v, names, 2)) < 0) return -1;
        o->cp.group_select = k == 1;
    } else if (!strcmp(a, "--swa-full")) {
        o->cp.swa_full = true;
    } else if (!strcmp(a, "--sum-order")) {
        static const char *const names[] = {"llama", "blocks"};
        int k;
        if (!(v = args_value(cmd, argc, argv, i)) || (k = parse_choice(cmd, a, v, names, 2)) < 0) return -1;
        o->cp.llama_order = k == 0;
        o->order_set = true;
    } else if (!strcmp(a, "--adamas-stats")) {
        o->adamas_stats = true;
        o->cp.collect_stats = true;
    } else {
        return args_ignored(cmd, argc, argv, i);
    }
    return 1;
}

void model_opts_print_stats(const model_opts *o, adm_model *m, adm_ctx *ctx) {
    if (!o->adamas_stats) return;
    adm_model_info mi = adm_model_get_info(m);
    adm_ctx_memory mem = adm_ctx_get_memory(ctx);
    fprintf(stderr, "adamas stats: attention %s, budget %d\n", attention_name(o->cp.attention), o->cp.budget);
    for (int l = 0; l < mi.n_layer; l++) {
        int64_t steps;
        double mass = adm_ctx_adamas_mass(ctx, l, &steps);
        if (steps > 0) fprintf(stderr, "  layer %3d: captured softmax mass %.4f over %lld sparse steps\n", l, mass, (long long)steps);
        else fprintf(stderr, "  layer %3d: dense\n", l);
    }
    fprintf(stderr, "  code index: %.2f MiB for %d tokens (KV cache %.2f MiB)\n", (double)mem.code_bytes / 1048576.0,
            adm_ctx_n_ctx(ctx), (double)mem.kv_bytes / 1048576.0);
}

bool model_opts_engine_llama_order(const model_opts *o) { return o->order_set && o->cp.llama_order; }

void model_opts_usage(FILE *f, unsigned omit) {
    fprintf(f, "model options:\n"
               "  -m, --model FILE        GGUF model file\n"
               "  -t, --threads N         threads (default: usable physical cores = %d)\n",
            adm_default_threads());
    if (!(omit & USAGE_NO_CTX))
        fprintf(f, "  -c, --ctx-size N        context size in tokens (default: the model's training length, capped\n"
                   "                          to fit in half of the free memory; warns above the training length)\n");
    if (!(omit & USAGE_NO_BATCH)) fprintf(f, "  -b, --batch-size N      prompt tokens per forward pass (default 512)\n");
    fprintf(f, "  -ctk, --cache-type-k T  K cache type: f16 (default), f32, q8_0\n"
               "  -ctv, --cache-type-v T  V cache type: f16 (default), f32, q8_0\n"
               "attention options:\n");
    if (!(omit & USAGE_NO_ATTENTION))
        fprintf(f, "  --attention M           dense (default), adamas (sparse decode), window (StreamingLLM baseline)\n");
    fprintf(f, "  --budget N              keys attended per head in sparse steps, current token included (default 128)\n"
               "  --dense-layers N        the first N layers stay dense (default 2)\n"
               "  --sink N                always keep the first N tokens (default 4)\n"
               "  --window N              always keep the last N tokens (default budget/4; adamas only)\n"
               "  --adamas-thresholds T   calibrated (default) or paper (fixed -10/0/+10)\n"
               "  --adamas-select S       head: a selection per query head (default, the paper's); group: one per\n"
               "                          KV head from its query heads' summed distances (faster for GQA models)\n"
               "  --adamas-stats          report the softmax mass the sparse selection captured, per layer\n"
               "  --swa-full              sliding-window layers keep the whole context, not a ring of the window\n"
               "                          (prefix reuse and truncation can then go back anywhere)\n"
               "  --sum-order O           llama: products in llama.cpp's order, logits bit-identical to llama.cpp's\n"
               "                          for F32/F16/BF16/Q8_0 files (default of run, chat, perplexity, ...);\n"
               "                          blocks: Q8_0 blocks summed in integers first on AVX-512, 1.5-2x faster\n"
               "                          prompts and batches (default of serve and batched-bench)\n"
               "Options take their value as the next argument or after '=' (--ctx-size=4096). llama.cpp options\n"
               "with no meaning here (-ngl, --no-mmap, --mlock, -fa, ...) are accepted with a note.\n");
}

adm_model *model_opts_load(const model_opts *o, const char *cmd) {
    if (!o->model) {
        args_error(cmd, "no model given (use -m FILE.gguf)");
        return NULL;
    }
    progress_state ps;
    progress_init(&ps, "loading model");
    adm_model_params mp = adm_model_default_params();
    mp.progress = progress_draw;
    mp.progress_user = &ps;
    mp.prefault = ps.active;
    adm_model *m;
    adm_error err;
    adm_status st = adm_model_load(o->model, &mp, &m, &err);
    progress_done(&ps);
    if (st != ADM_OK) {
        args_error(cmd, "%s", err.msg);
        return NULL;
    }
    return m;
}

adm_ctx *model_opts_ctx(model_opts *o, const char *cmd, adm_model *m, int cap) {
    adm_model_info mi = adm_model_get_info(m);
    if (!o->ctx_set) {
        o->cp.n_ctx = mi.n_ctx_train;
        if (cap > 0 && o->cp.n_ctx > cap) o->cp.n_ctx = cap;
    }
    progress_init(&o->prefill, "prompt");
    o->cp.progress = progress_draw;
    o->cp.progress_user = &o->prefill;
    adm_ctx *ctx;
    adm_error err;
    if (adm_ctx_create(m, &o->cp, &ctx, &err) != ADM_OK) {
        args_error(cmd, "%s", err.msg);
        return NULL;
    }
    return ctx;
}

void sample_opts_init(sample_opts *o) {
    memset(o, 0, sizeof(*o));
    o->sp = adm_sampler_default_params();
}

int sample_opts_parse(sample_opts *o, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    double d;
    long n;
    if (!strcmp(a, "--temp")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_float(cmd, a, v, 0, 100, &d)) return -1;
        o->sp.temp = (float)d;
    } else if (!strcmp(a, "--top-k")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 0, 1 << 30, &n)) return -1;
        o->sp.top_k = (int)n;
    } else if (!strcmp(a, "--top-p")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_float(cmd, a, v, 1e-9, 1, &d)) return -1;
        o->sp.top_p = (float)d;
    } else if (!strcmp(a, "--min-p")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_float(cmd, a, v, 0, 1, &d)) return -1;
        o->sp.min_p = (float)d;
    } else if (!strcmp(a, "--repeat-penalty")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_float(cmd, a, v, 1e-3, 100, &d)) return -1;
        o->sp.repeat_penalty = (float)d;
    } else if (!strcmp(a, "--repeat-last-n")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 0, 1 << 20, &n)) return -1;
        o->sp.penalty_last_n = (int)n;
    } else if (!strcmp(a, "--frequency-penalty")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_float(cmd, a, v, -10, 10, &d)) return -1;
        o->sp.freq_penalty = (float)d;
    } else if (!strcmp(a, "--presence-penalty")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_float(cmd, a, v, -10, 10, &d)) return -1;
        o->sp.presence_penalty = (float)d;
    } else if (!strcmp(a, "--seed")) {
        if (!(v = args_value(cmd, argc, argv, i))) return -1;
        if (!strcmp(v, "-1")) { /* llama.cpp's "random" */
            o->seed_set = false;
            return 1;
        }
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (errno || end == v || *end || *v == '-') {
            args_error(cmd, "invalid value for --seed: '%s' (expected a number from 0 to 2^64-1, or -1 for a random one)",
                       v);
            return -1;
        }
        o->sp.seed = s;
        o->seed_set = true;
    } else if (!strcmp(a, "--grammar") || !strcmp(a, "--grammar-file") || !strcmp(a, "--json-schema") ||
               !strcmp(a, "--json-schema-file")) {
        if (!(v = args_value(cmd, argc, argv, i))) return -1;
        if (o->grammar || o->grammar_file) {
            args_error(cmd, "only one of --grammar, --grammar-file, --json-schema, --json-schema-file");
            return -1;
        }
        const bool file = strstr(a, "-file") != NULL;
        if (file) o->grammar_file = v;
        else o->grammar = v;
        o->json_schema = !strncmp(a, "--json-schema", 13);
    } else {
        return 0;
    }
    return 1;
}

void sample_opts_usage(FILE *f) {
    fprintf(f, "sampling options:\n"
               "  --temp T                temperature (default 0.8; 0 = greedy)\n"
               "  --top-k K               keep the K most likely tokens (default 40; 0 = off)\n"
               "  --top-p P               keep the smallest set with probability >= P (default 0.95)\n"
               "  --min-p P               drop tokens below P x the top probability (default 0.05)\n"
               "  --repeat-penalty F      penalize repeats of the last --repeat-last-n tokens (default 1 = off)\n"
               "  --repeat-last-n N       history length for penalties (default 64)\n"
               "  --frequency-penalty F   --presence-penalty F   OpenAI-style penalties (default 0)\n"
               "  --seed S                random seed (default -1: random, printed to stderr to repeat the run)\n"
               "structured output (docs/grammar.md):\n"
               "  --grammar G             constrain the output to the GBNF grammar G (start rule: root)\n"
               "  --grammar-file F        ... read from file F (llama.cpp .gbnf files work)\n"
               "  --json-schema S         constrain the output to JSON valid under schema S;\n"
               "                          '{\"type\":\"json_object\"}' for any JSON object\n"
               "  --json-schema-file F    ... read from file F\n");
}

bool sample_opts_apply_grammar(sample_opts *o, const char *cmd, const adm_vocab *v, adm_sampler *smp) {
    if (!o->grammar && !o->grammar_file) return true;
    adm_error err;
    if (!o->compiled) {
        const char *text = o->grammar;
        char *buf = NULL;
        if (o->grammar_file) {
            FILE *f = fopen(o->grammar_file, "rb");
            long n = -1;
            if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
            if (n < 0 || n > (1L << 30) || fseek(f, 0, SEEK_SET) != 0 || !(buf = malloc((size_t)n + 1)) ||
                fread(buf, 1, (size_t)n, f) != (size_t)n) {
                args_error(cmd, "%s: cannot read the file", o->grammar_file);
                if (f) fclose(f);
                free(buf);
                return false;
            }
            fclose(f);
            buf[n] = 0;
            text = buf;
        }
        adm_status st = o->json_schema ? adm_grammar_create_json_schema(v, text, -1, &o->compiled, &err)
                                       : adm_grammar_create_gbnf(v, text, -1, &o->compiled, &err);
        free(buf);
        if (st != ADM_OK) {
            if (o->grammar_file) args_error(cmd, "%s: %s", o->grammar_file, err.msg);
            else args_error(cmd, "%s", err.msg);
            return false;
        }
    }
    if (adm_sampler_set_grammar(smp, o->compiled, &err) != ADM_OK) {
        args_error(cmd, "%s", err.msg);
        return false;
    }
    return true;
}

void sample_opts_free(sample_opts *o) {
    adm_grammar_free(o->compiled);
    o->compiled = NULL;
}

void sample_opts_finish(sample_opts *o, const char *cmd) {
    if (o->seed_set) return;
    o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(args_now() * 1e9);
    if (o->sp.temp > 0) fprintf(stderr, "adamas %s: seed %llu\n", cmd, (unsigned long long)o->sp.seed);
}

uint64_t mem_available_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

int default_ctx_size(const char *cmd, adm_model *m, const model_opts *o, bool say) {
    adm_model_info mi = adm_model_get_info(m);
    if (o->ctx_set) {
        if (mi.n_ctx_train > 0 && o->cp.n_ctx > mi.n_ctx_train)
            fprintf(stderr, "adamas %s: warning: -c %d is above the model's training length (%d tokens); past it the "
                            "model sees positions it was not trained on and quality usually drops\n",
                    cmd, o->cp.n_ctx, mi.n_ctx_train);
        return o->cp.n_ctx;
    }
    const uint64_t avail = mem_available_bytes();
    int n = mi.n_ctx_train;
    /* What the cache of that context takes with these settings (a sliding-
     * window layer holds only its ring). */
    const int fit = avail ? adm_model_ctx_for_memory(m, o->cp.type_k, o->cp.type_v, o->cp.n_batch, o->cp.swa_full,
                                                     avail / 2)
                          : n;
    if (n > 0 && fit < n) {
        n = fit;
        if (say) fprintf(stderr, "adamas %s: context %d tokens (the model's %d capped to fit in half of the %.1f GiB of free "
                        "memory; -c to change)\n", cmd, n, mi.n_ctx_train, (double)avail / (double)(1ull << 30));
    } else if (say) {
        fprintf(stderr, "adamas %s: context %d tokens (the model's training length; -c to change)\n", cmd, n);
    }
    return n;
}

int32_t *tokenize_alloc(const char *cmd, const adm_vocab *v, const char *text, size_t len, unsigned flags, int spare,
                        int *n) {
    const int64_t need = adm_tokenize(v, text, (int64_t)len, NULL, 0, flags);
    if (need < 0 || need > INT32_MAX - spare - 1) {
        args_error(cmd, need < 0 ? "tokenization failed (out of memory)" : "the text is too long (%lld tokens)",
                   (long long)need);
        return NULL;
    }
    int32_t *t = malloc(sizeof(int32_t) * (size_t)(need + spare + 1));
    if (!t || adm_tokenize(v, text, (int64_t)len, t, need, flags) != need) {
        free(t);
        args_error(cmd, "tokenization failed (out of memory)");
        return NULL;
    }
    *n = (int)need;
    return t;
}
