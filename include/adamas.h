/*
 * adamas.h - the public C API of adamas, an LLM inference engine for CPUs.
 *
 * adamas loads GGUF model files (llama, qwen2, qwen3 architectures; F32, F16,
 * BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and the K-quants Q2_K..Q6_K), evaluates
 * them with SIMD kernels, and can replace dense attention with Adamas sparse
 * attention (Hadamard-coded keys, L1 code distance, exact attention over the
 * top-k keys) during decoding.
 *
 * Usage:
 *
 *     adm_error err;
 *     adm_model *model;
 *     adm_model_params mp = adm_model_default_params();
 *     if (adm_model_load("model.gguf", &mp, &model, &err) != ADM_OK) {
 *         fprintf(stderr, "%s\n", err.msg);
 *         return 1;
 *     }
 *     adm_ctx_params cp = adm_ctx_default_params();
 *     adm_ctx *ctx;
 *     if (adm_ctx_create(model, &cp, &ctx, &err) != ADM_OK) { ... }
 *     int32_t toks[64];
 *     int n = adm_tokenize(adm_model_vocab(model), "Once upon", -1, toks, 64, ADM_TOKENIZE_ADD_SPECIAL);
 *     float *logits = malloc(sizeof(float) * adm_model_n_vocab(model));
 *     adm_ctx_eval(ctx, toks, n, logits, 0, &err);   // logits of the last token
 *     ...
 *     adm_ctx_free(ctx);
 *     adm_model_free(model);
 *
 * Conventions:
 *  - Functions that can fail return adm_status and, when `err` is not NULL,
 *    fill it with a message a user can act on. Nothing in the library prints
 *    to stdout, calls exit() or abort().
 *  - Every adm_x_create / adm_x_load has an adm_x_free; free(NULL) is a no-op.
 *  - A model is immutable after loading and may be shared by many contexts
 *    (each on its own thread). A context must not be used from two threads
 *    at once.
 */
#ifndef ADAMAS_H
#define ADAMAS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ADM_BUILD) && defined(__GNUC__)
#define ADM_API __attribute__((visibility("default")))
#else
#define ADM_API
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum adm_status {
    ADM_OK = 0,
    ADM_ERR_IO,            /* a file could not be opened, mapped or read */
    ADM_ERR_FORMAT,        /* the input is malformed (GGUF, tokens, JSON) */
    ADM_ERR_UNSUPPORTED,   /* well-formed, but not something adamas runs */
    ADM_ERR_NOMEM,         /* an allocation failed */
    ADM_ERR_INVALID_ARG,   /* a parameter is out of range */
    ADM_ERR_CONTEXT_FULL,  /* the tokens do not fit in the context */
    ADM_ERR_INTERNAL,      /* a broken invariant (a bug in adamas) */
    ADM_ERR_CANCELLED,     /* the caller cancelled the work (adm_slot_cancel, a progress callback) */
    ADM_ERR_MEM_BUDGET,    /* the engine's memory budget for sequences would be exceeded */
} adm_status;

typedef struct adm_error {
    adm_status code;
    char msg[512];
} adm_error;

/* Short constant name of a status ("ADM_ERR_FORMAT"). */
ADM_API const char *adm_status_str(adm_status s);

/* ------------------------------------------------------------------------ */
/* Logging and CPU features (the only process-wide state)                   */
/* ------------------------------------------------------------------------ */

typedef enum adm_log_level { ADM_LOG_ERROR = 0, ADM_LOG_WARN, ADM_LOG_INFO, ADM_LOG_DEBUG } adm_log_level;
typedef void (*adm_log_fn)(adm_log_level level, const char *msg, void *user);

/* Sets the log sink (NULL restores the default: stderr, WARN and above).
 * Call it before loading models; it is not synchronized with running work. */
ADM_API void adm_log_set(adm_log_fn fn, void *user, adm_log_level max_level);

/* The kernel set chosen for this CPU: "avx512", "avx2" or "scalar". The
 * environment variable ADM_ISA=scalar|avx2|avx512 forces a lower level (for
 * tests and benchmarks); the choice is made once, on first use. */
ADM_API const char *adm_isa_name(void);

/* The default thread count: physical cores among the CPUs this process may
 * run on (its affinity mask), capped by its cgroup's CPU quota. */
ADM_API int adm_default_threads(void);

/* CPUs this process may run on at once: its affinity mask, capped by its
 * cgroup's CPU quota (rounded up). More threads than this wait for each
 * other; they still work, slower. */
ADM_API int adm_usable_cpus(void);

/* This machine's memory read bandwidth in GB/s (1e9 bytes/s): the median of
 * `passes` timed STREAM-style sums over a fresh buffer of `bytes` (make it
 * several times the last-level cache) with n_threads threads (0 = default).
 * Decode speed is bounded by it; benchmarks report weights read per second
 * as a share of it. */
ADM_API adm_status adm_read_bandwidth(int n_threads, size_t bytes, int passes, double *gb_per_s, adm_error *err);

/* ------------------------------------------------------------------------ */
/* Tensor types (numbering identical to ggml's, as stored in GGUF)          */
/* ------------------------------------------------------------------------ */

typedef enum adm_type {
    ADM_TYPE_F32 = 0,
    ADM_TYPE_F16 = 1,
    ADM_TYPE_Q4_0 = 2,
    ADM_TYPE_Q4_1 = 3,
    ADM_TYPE_Q5_0 = 6,
    ADM_TYPE_Q5_1 = 7,
    ADM_TYPE_Q8_0 = 8,
    ADM_TYPE_Q8_1 = 9,
    ADM_TYPE_Q2_K = 10,
    ADM_TYPE_Q3_K = 11,
    ADM_TYPE_Q4_K = 12,
    ADM_TYPE_Q5_K = 13,
    ADM_TYPE_Q6_K = 14,
    ADM_TYPE_Q8_K = 15,
    ADM_TYPE_BF16 = 30,
    ADM_TYPE_COUNT = 40,
} adm_type;

/* Lower-case name ("q4_k"), or NULL for a type adamas does not know. */
ADM_API const char *adm_type_name(adm_type t);
/* Parses a type name (case-insensitive). Returns false if unknown. */
ADM_API bool adm_type_from_name(const char *name, adm_type *out);

/* ------------------------------------------------------------------------ */
/* GGUF inspection (read-only, validated; for tools such as `adamas info`)  */
/* ------------------------------------------------------------------------ */

typedef struct adm_gguf adm_gguf;

/* Maps and validates a GGUF file (any architecture, vocab-only files too). */
ADM_API adm_status adm_gguf_open(const char *path, adm_gguf **out, adm_error *err);
ADM_API void adm_gguf_free(adm_gguf *g);
ADM_API uint32_t adm_gguf_version(const adm_gguf *g);
ADM_API uint64_t adm_gguf_n_kv(const adm_gguf *g);
/* Key i as a NUL-terminated string copied into buf (truncated to size). */
ADM_API const char *adm_gguf_key(const adm_gguf *g, uint64_t i, char *buf, size_t size);
/* Index of a key, or -1 if absent. */
ADM_API int64_t adm_gguf_find_key(const adm_gguf *g, const char *key);
/* Element count of value i if it is an array, else 0. */
ADM_API uint64_t adm_gguf_array_len(const adm_gguf *g, uint64_t i);
/* Value i rendered as text: numbers, quoted strings, arrays as
 * "[n x type] first elements ..." (at most max_elems shown). */
ADM_API const char *adm_gguf_value_str(const adm_gguf *g, uint64_t i, int max_elems, char *buf, size_t size);

typedef struct adm_tensor_info {
    const char *name;       /* borrowed; valid until adm_gguf_free */
    adm_type type;
    int n_dims;
    int64_t ne[4];
    uint64_t offset;        /* within the data section */
    uint64_t size;          /* bytes */
} adm_tensor_info;

ADM_API uint64_t adm_gguf_n_tensors(const adm_gguf *g);
ADM_API adm_tensor_info adm_gguf_tensor_info(const adm_gguf *g, uint64_t i);

/* Writing GGUF v3 files: declare metadata and tensors, then stream each
 * tensor's bytes in declaration order (a multi-gigabyte model never has to
 * be held in memory). Used by `adamas gen-model`. */
typedef struct adm_gguf_writer adm_gguf_writer;
ADM_API adm_status adm_gguf_writer_create(adm_gguf_writer **out, adm_error *err);
ADM_API void adm_gguf_writer_free(adm_gguf_writer *w);
ADM_API adm_status adm_gguf_writer_set_u32(adm_gguf_writer *w, const char *key, uint32_t v);
ADM_API adm_status adm_gguf_writer_set_i32(adm_gguf_writer *w, const char *key, int32_t v);
ADM_API adm_status adm_gguf_writer_set_f32(adm_gguf_writer *w, const char *key, float v);
ADM_API adm_status adm_gguf_writer_set_bool(adm_gguf_writer *w, const char *key, bool v);
ADM_API adm_status adm_gguf_writer_set_str(adm_gguf_writer *w, const char *key, const char *v);
/* Copies key i of src. */
ADM_API adm_status adm_gguf_writer_copy_key(adm_gguf_writer *w, const adm_gguf *src, uint64_t i);
/* Copies every key of src whose name starts with prefix (all keys for ""). */
ADM_API adm_status adm_gguf_writer_copy_keys(adm_gguf_writer *w, const adm_gguf *src, const char *prefix);
ADM_API adm_status adm_gguf_writer_add_tensor(adm_gguf_writer *w, const char *name, adm_type type, int n_dims,
                                              const int64_t *ne);
/* Writes the header, metadata and tensor directory to path. */
ADM_API adm_status adm_gguf_writer_begin(adm_gguf_writer *w, const char *path, adm_error *err);
/* Writes the bytes of the next declared tensor (exactly its size). */
ADM_API adm_status adm_gguf_writer_write_tensor(adm_gguf_writer *w, const void *data, size_t size, adm_error *err);
/* Closes the file; every declared tensor must have been written. */
ADM_API adm_status adm_gguf_writer_finish(adm_gguf_writer *w, adm_error *err);

/* ------------------------------------------------------------------------ */
/* Block formats                                                            */
/* ------------------------------------------------------------------------ */

/* Values per block (1 for f32/f16/bf16, 32, or 256 for K-quants). */
ADM_API int adm_type_block_size(adm_type t);
/* Bytes of a row of n values (n a multiple of the block size). */
ADM_API size_t adm_type_row_size(adm_type t, int64_t n);
/* Reference conversions of n values (n a multiple of the block size).
 * Quantization is plain round-to-nearest per block, not llama-quantize's
 * error-minimizing search: good for tests and random models. */
ADM_API void adm_quantize(adm_type t, const float *src, void *dst, int64_t n);
ADM_API void adm_dequantize(adm_type t, const void *src, float *dst, int64_t n);

/* ------------------------------------------------------------------------ */
/* Models                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct adm_model adm_model;
typedef struct adm_vocab adm_vocab;
typedef struct adm_ctx adm_ctx;

/* Called during long operations with done <= total; return false to cancel. */
typedef bool (*adm_progress_fn)(uint64_t done, uint64_t total, void *user);

typedef struct adm_model_params {
    adm_progress_fn progress; /* optional: called while weights are checked/paged in */
    void *progress_user;
    bool prefault;            /* touch every weight page at load (predictable first-token time) */
} adm_model_params;

ADM_API adm_model_params adm_model_default_params(void);

/* Loads a GGUF model. The file stays memory-mapped until adm_model_free.
 * On failure *out is NULL and err says what is wrong with which file. */
ADM_API adm_status adm_model_load(const char *path, const adm_model_params *params, adm_model **out,
                                  adm_error *err);
ADM_API void adm_model_free(adm_model *model);

/* Hyperparameters. */
typedef struct adm_model_info {
    const char *arch;       /* "llama", "qwen2", "qwen3", "qwen3moe", "gemma3", "phi3" */
    const char *name;       /* general.name or "" */
    int n_vocab;
    int n_ctx_train;
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    int n_embd_head;        /* head dimension */
    int n_ff;
    int n_rot;              /* rotary dimensions */
    float rope_freq_base;
    float rms_eps;
    uint64_t n_params;      /* total weight elements */
    uint64_t weight_bytes;  /* bytes of all tensors */
    uint64_t decode_bytes;  /* weight bytes one decode step reads: all but an
                               untied token-embedding table (one row of it) and
                               the experts a token does not use */
    int n_swa;              /* sliding window of local layers (0: none) */
    int n_swa_layers;       /* how many layers are local */
    float rope_freq_base_swa; /* RoPE base of local layers */
    float attn_softcap;     /* attention scores soft-capped at this (gemma2; 0: none) */
    float final_softcap;    /* logits soft-capped at this (0: none) */
    int n_expert;           /* mixture of experts: experts per layer (0: dense) */
    int n_expert_used;      /* experts per token */
    int n_ff_exp;           /* feed-forward length of one expert */
    bool longrope;          /* LongRoPE factors (chosen by the context size) */
    int n_ctx_orig;         /* LongRoPE: the original context length */
    float attn_scale;       /* scale of q.k */
} adm_model_info;

ADM_API adm_model_info adm_model_get_info(const adm_model *model);
ADM_API int adm_model_n_vocab(const adm_model *model);
/* Borrowed; valid until adm_model_free. NULL if the file carries no vocabulary. */
ADM_API const adm_vocab *adm_model_vocab(const adm_model *model);
/* Bytes the KV cache needs per token of context with these cache types. */
ADM_API uint64_t adm_model_kv_bytes_per_token(const adm_model *model, adm_type type_k, adm_type type_v);
/* Bytes of one sequence's KV cache of n_ctx tokens in an engine of n_batch
 * rows: sliding-window layers hold a ring of window + n_batch + ADM_MAX_DRAFT
 * rows unless swa_full (what adm_seq_get_memory reports and the engine's
 * memory budget counts for a full context). */
ADM_API uint64_t adm_model_kv_bytes(const adm_model *model, adm_type type_k, adm_type type_v, int n_ctx, int n_batch,
                                    bool swa_full);
/* The longest context, a multiple of 256 from 256 up to the model's
 * training length, whose KV cache (adm_model_kv_bytes with these
 * settings) fits in `bytes`; 256 when even that does not fit. Sliding-
 * window layers count as their rings, so a gemma3 file gets a context
 * about six times longer than a full cache per layer would allow. */
ADM_API int adm_model_ctx_for_memory(const adm_model *model, adm_type type_k, adm_type type_v, int n_batch,
                                     bool swa_full, uint64_t bytes);
/* Looks up a metadata string value (e.g. "tokenizer.chat_template").
 * Returns a borrowed NUL-terminated string, or NULL if absent or not a string. */
ADM_API const char *adm_model_meta_str(const adm_model *model, const char *key);

/* ------------------------------------------------------------------------ */
/* Contexts: one sequence's state (KV cache, scratch buffers, thread pool)  */
/* ------------------------------------------------------------------------ */

typedef enum adm_attention {
    ADM_ATTN_DENSE = 0,   /* exact attention over every cached token */
    ADM_ATTN_ADAMAS,      /* Adamas sparse attention during decode */
    ADM_ATTN_WINDOW,      /* StreamingLLM baseline: first `sink` + most recent tokens */
} adm_attention;

typedef enum adm_thresholds {
    ADM_THRESHOLDS_PAPER = 0,    /* fixed -10/0/+10 of the reference code */
    ADM_THRESHOLDS_CALIBRATED,   /* per-layer, per-KV-head from the keys seen so far */
} adm_thresholds;

typedef struct adm_ctx_params {
    int n_ctx;              /* tokens the KV cache holds; 0 = the model's training length */
    int n_batch;            /* max tokens per forward pass (prompt chunks); default 512 */
    int n_threads;          /* 0 = adm_default_threads() */
    adm_type type_k;        /* KV cache types: F16 (default), F32 or Q8_0 */
    adm_type type_v;
    adm_attention attention;
    int budget;             /* Adamas/window: KV tokens attended per head (incl. the current one) */
    int dense_layers;       /* the first N layers always attend densely */
    int sink;               /* always keep the first N tokens (-1: 4) */
    int window;             /* always keep the last N tokens (-1: budget / 4 for adamas) */
    adm_thresholds thresholds;
    bool group_select;      /* Adamas: one selection per KV head, from the summed code distances of
                               its query heads (GQA-shared scoring: faster, approximate) */
    bool collect_stats;     /* measure the dense softmax mass the sparse set captured (slow) */
    bool sparse_eval;       /* evaluate positions past the budget one token at a time, so that
                               each attends sparsely (perplexity and logits of sparse methods) */
    adm_progress_fn progress; /* optional: called during long prompt evaluation */
    void *progress_user;
    adm_ctx *threads_from;  /* optional: run on this context's threads instead of starting n_threads
                               new ones (a draft model beside its target: two pools would spin against
                               each other). The two must not evaluate at the same time, and this one
                               must be freed first. */
    bool swa_full;          /* sliding-window layers keep every position, not a ring (adm_seq_params) */
    bool llama_order;       /* llama.cpp's summation order (adm_engine_params); default true */
} adm_ctx_params;

ADM_API adm_ctx_params adm_ctx_default_params(void);

ADM_API adm_status adm_ctx_create(const adm_model *model, const adm_ctx_params *params, adm_ctx **out,
                                  adm_error *err);
ADM_API void adm_ctx_free(adm_ctx *ctx);

/* Appends n_tokens tokens at positions n_past .. n_past+n_tokens-1 and
 * evaluates them in batches of n_batch. If logits is not NULL it receives
 * the logits of every token (logits_all: n_tokens * n_vocab floats) or of
 * the last token only (n_vocab floats). Fails with ADM_ERR_CONTEXT_FULL
 * (changing nothing) if the tokens do not fit, ADM_ERR_INVALID_ARG for a
 * token id outside the vocabulary. */
ADM_API adm_status adm_ctx_eval(adm_ctx *ctx, const int32_t *tokens, int n_tokens, float *logits, bool logits_all,
                                adm_error *err);

/* Number of tokens in the KV cache. */
ADM_API int adm_ctx_n_past(const adm_ctx *ctx);
ADM_API int adm_ctx_n_ctx(const adm_ctx *ctx);
/* Forgets every cached token at position >= n_keep (n_keep <= n_past). */
ADM_API void adm_ctx_truncate(adm_ctx *ctx, int n_keep);

/* Adamas statistics of one layer (collect_stats): the mean share of the
 * dense softmax mass the selected keys captured, over n_steps sparse steps
 * (NaN when the layer never attended sparsely). */
ADM_API double adm_ctx_adamas_mass(const adm_ctx *ctx, int layer, int64_t *n_steps);

/* Switches the attention method of later decode steps. A context created
 * with ADM_ATTN_ADAMAS keeps its code index up to date and may switch to
 * dense and back (benchmarks compare both on one filled cache); a dense
 * context cannot become sparse. */
ADM_API adm_status adm_ctx_set_attention(adm_ctx *ctx, adm_attention attention, adm_error *err);

/* Time spent inside attention (dense or sparse) since the last reset. */
typedef struct adm_ctx_perf {
    double attn_seconds;
    uint64_t n_tokens;      /* tokens evaluated */
} adm_ctx_perf;
ADM_API adm_ctx_perf adm_ctx_get_perf(const adm_ctx *ctx);
ADM_API void adm_ctx_reset_perf(adm_ctx *ctx);

/* Memory held by the context. */
typedef struct adm_ctx_memory {
    uint64_t kv_bytes;      /* K and V caches */
    uint64_t code_bytes;    /* Adamas key-code index */
    uint64_t scratch_bytes; /* activations and work buffers */
} adm_ctx_memory;
ADM_API adm_ctx_memory adm_ctx_get_memory(const adm_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Engines and sequences: many sequences decoded in one pass over weights   */
/* ------------------------------------------------------------------------ */

/* An engine holds what every sequence of one model shares: the thread pool,
 * the kernel table and the scratch of one forward pass (sized for n_batch
 * rows). A sequence holds what belongs to one text: its KV cache, its
 * Adamas code index and calibration, its tokens (the one record of its
 * length) and its attention settings. adm_engine_decode evaluates a batch
 * of rows that may mix the prompt chunks of some sequences with the next
 * tokens of others: every weight is read once per batch, and each
 * sequence's result does not depend on what else is in the batch.
 *
 * Threading: an engine and its sequences are driven by one thread at a
 * time (create, decode, truncate, free); adm_slot_cancel is the only call
 * meant for other threads. (An adm_ctx is an engine with one sequence.) */

typedef struct adm_engine adm_engine;
typedef struct adm_seq adm_seq;

typedef struct adm_engine_params {
    int n_batch;            /* max rows per forward pass (longer batches are split); default 512 */
    int n_threads;          /* 0 = adm_default_threads() */
    uint64_t mem_budget;    /* bytes of KV cache and code index all sequences may use together
                               (counted as they fill, so n_ctx may be overcommitted); 0 = no limit */
    adm_engine *threads_from; /* optional: run on that engine's threads (a draft model beside its
                               target); the two must not decode at the same time, and this one
                               must be freed first */
    bool llama_order;       /* products in llama.cpp's order: logits bit-identical to llama.cpp's CPU
                               backend for F32, F16, BF16 and Q8_0 files. By default (false) Q8_0
                               blocks are summed in integers first where the CPU has kernels for it
                               (AVX-512 VNNI): products of several rows 1.5-2x faster, logits within
                               float rounding of llama.cpp's (which a random-weight model can
                               amplify); the engine then keeps a packed copy of the model's Q8_0
                               matrices (as many bytes as in the file), made when it is created.
                               Either way a sequence's results do not depend on what else shares
                               its batches. */
} adm_engine_params;

ADM_API adm_engine_params adm_engine_default_params(void);
ADM_API adm_status adm_engine_create(const adm_model *model, const adm_engine_params *params, adm_engine **out,
                                     adm_error *err);
/* Frees the engine; its sequences must have been freed. */
ADM_API void adm_engine_free(adm_engine *e);
ADM_API const adm_model *adm_engine_model(const adm_engine *e);
ADM_API int adm_engine_n_threads(const adm_engine *e);
ADM_API int adm_engine_n_batch(const adm_engine *e);
/* Bytes the engine's sequences use now (KV rows and codes of their tokens) and its budget (0: none). */
ADM_API uint64_t adm_engine_mem_used(const adm_engine *e);
ADM_API uint64_t adm_engine_mem_budget(const adm_engine *e);

typedef struct adm_seq_params {
    int n_ctx;              /* tokens this sequence can hold; 0 = the model's training length */
    adm_type type_k;        /* KV cache types: F16 (default), F32 or Q8_0 */
    adm_type type_v;
    adm_attention attention;
    int budget;             /* Adamas/window: KV tokens attended per head (incl. the current one) */
    int dense_layers;       /* the first N layers always attend densely */
    int sink;               /* always keep the first N tokens (-1: min(4, budget / 4)) */
    int window;             /* always keep the last N tokens (-1: budget / 4 for adamas, 0 for window) */
    adm_thresholds thresholds;
    bool group_select;
    bool collect_stats;
    /* Sliding-window layers keep every position instead of a ring of the
     * window plus one batch and ADM_MAX_DRAFT rows (so truncation and
     * prefix copies can go back anywhere, at n_ctx's memory). */
    bool swa_full;
} adm_seq_params;

ADM_API adm_seq_params adm_seq_default_params(void);
/* A new, empty sequence of engine e. Fails with ADM_ERR_MEM_BUDGET when
 * even one full context of it cannot fit in the engine's budget. */
ADM_API adm_status adm_seq_create(adm_engine *e, const adm_seq_params *params, adm_seq **out, adm_error *err);
ADM_API void adm_seq_free(adm_seq *s);
ADM_API adm_engine *adm_seq_engine(const adm_seq *s);
ADM_API adm_seq_params adm_seq_get_params(const adm_seq *s);
/* Tokens in the cache, and their ids (borrowed, valid until the sequence changes). */
ADM_API int adm_seq_n_past(const adm_seq *s);
ADM_API int adm_seq_n_ctx(const adm_seq *s);
ADM_API const int32_t *adm_seq_tokens(const adm_seq *s);
/* Forgets every token at position >= n_keep. A model with sliding-window
 * layers keeps only a ring of their recent rows (unless swa_full): going
 * back further than the ring holds forgets every token; adm_seq_n_past
 * says how many remain. Rolling back the last batch (speculative guesses)
 * always keeps n_keep. */
ADM_API void adm_seq_truncate(adm_seq *s, int n_keep);
/* Forgets every token and returns the memory to the system. */
ADM_API void adm_seq_clear(adm_seq *s);
/* Makes dst hold the first n tokens of src (KV rows, codes, Adamas
 * calibration): the basis of prefix reuse. Both sequences must belong to
 * the same engine and have the same cache types; dst's context must hold n
 * tokens, and src's sliding-window rings the window before n. With Adamas attention dst continues with src's thresholds
 * (docs/adamas.md). */
ADM_API adm_status adm_seq_copy_prefix(adm_seq *dst, const adm_seq *src, int n, adm_error *err);
/* Switches the attention method of later decode steps (as adm_ctx_set_attention). */
ADM_API adm_status adm_seq_set_attention(adm_seq *s, adm_attention attention, adm_error *err);
ADM_API adm_ctx_memory adm_seq_get_memory(const adm_seq *s);
ADM_API adm_ctx_perf adm_seq_get_perf(const adm_seq *s);
ADM_API double adm_seq_adamas_mass(const adm_seq *s, int layer, int64_t *n_steps);

/* Snapshots: a sequence's state on disk (docs/snapshot.md), so that a long
 * prompt is paid for once. A snapshot holds the token ids, the K and V
 * rows, the Adamas code index and calibration, optionally the last token's
 * logits, and a fingerprint of the model; restoring is a validation and one
 * copy per (layer, KV head), and the restored sequence continues exactly as
 * the saved one would have (bit-identical logits). */

/* Saves the sequence (at least one token) to path, replacing it atomically
 * (written to a temporary file, then renamed). logits: optional, the last
 * token's n_vocab logits, kept so that restoring exactly these tokens needs
 * no evaluation. */
ADM_API adm_status adm_seq_save(const adm_seq *s, const char *path, const float *logits, adm_error *err);

/* Replaces what s holds with the longest common prefix of the snapshot at
 * path and prompt (all of the snapshot when prompt is NULL), and sets
 * *n_restored. The prompt's last token is left to evaluate (its logits are
 * needed) unless the prompt is exactly the snapshot's tokens, the snapshot
 * holds their logits and `logits` is not NULL: they are then copied there
 * and *n_restored == n_prompt. A snapshot of another model (the message
 * names both), other KV cache types, a damaged or truncated file is refused
 * with a message naming the file and the problem, and s is left empty. An
 * Adamas sequence gets the snapshot's code index, or one built from the
 * restored keys when the snapshot was taken densely. */
ADM_API adm_status adm_seq_restore(adm_seq *s, const char *path, const int32_t *prompt, int n_prompt, float *logits,
                                   int *n_restored, adm_error *err);

/* The token ids of a snapshot (validated, whatever model it is for):
 * writes at most max of them to out and sets *n to how many it holds. */
ADM_API adm_status adm_snapshot_read_tokens(const char *path, int32_t *out, int max, int *n, adm_error *err);

/* One row of a batch: token `token` appended to `seq`, its logits wanted or not. */
typedef struct adm_batch_row {
    adm_seq *seq;
    int32_t token;
    bool logits;
} adm_batch_row;

/* Evaluates n_rows rows. The rows of one sequence must be consecutive and
 * take its next positions (n_past, n_past + 1, ...); a sequence appears in
 * one run of rows only. `logits` receives n_vocab floats for every row
 * whose `logits` is set, in row order (may be NULL when none is set).
 * Everything is checked before anything is evaluated: on ADM_ERR_CONTEXT_FULL,
 * ADM_ERR_MEM_BUDGET or ADM_ERR_INVALID_ARG no sequence has changed. */
ADM_API adm_status adm_engine_decode(adm_engine *e, const adm_batch_row *rows, int n_rows, float *logits,
                                     adm_error *err);

/* The engine and sequence behind a context (borrowed: the context frees them). */
ADM_API adm_engine *adm_ctx_engine(adm_ctx *ctx);
ADM_API adm_seq *adm_ctx_seq(adm_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Sampling                                                                 */
/* ------------------------------------------------------------------------ */

/* A sampler chain in llama.cpp's order: repetition/frequency/presence
 * penalties over the last `penalty_last_n` tokens, top-k, top-p, min-p,
 * temperature, then a draw from a seeded generator. temp <= 0 is greedy
 * (argmax after penalties). The same seed and inputs give the same tokens. */
typedef struct adm_sampler_params {
    float temp;             /* default 0.8 */
    int top_k;              /* 0 = off; default 40 */
    float top_p;            /* 1 = off; default 0.95 */
    float min_p;            /* 0 = off; default 0.05 */
    float repeat_penalty;   /* 1 = off (default) */
    float freq_penalty;     /* 0 = off */
    float presence_penalty; /* 0 = off */
    int penalty_last_n;     /* tokens of history the penalties look at; default 64 */
    uint64_t seed;
} adm_sampler_params;

typedef struct adm_sampler adm_sampler;

ADM_API adm_sampler_params adm_sampler_default_params(void);
ADM_API adm_status adm_sampler_create(const adm_sampler_params *params, int n_vocab, adm_sampler **out,
                                      adm_error *err);
ADM_API void adm_sampler_free(adm_sampler *s);
/* Picks a token from n_vocab logits (not modified). */
ADM_API int32_t adm_sampler_sample(adm_sampler *s, const float *logits);
/* Records a token in the penalty history (prompt tokens and sampled ones). */
ADM_API void adm_sampler_accept(adm_sampler *s, int32_t token);
/* Clears the history (and restarts the grammar, if any); with a new seed
 * when reseed is true. */
ADM_API void adm_sampler_reset(adm_sampler *s, bool reseed, uint64_t seed);

/* ------------------------------------------------------------------------ */
/* Grammars: structured output                                              */
/* ------------------------------------------------------------------------ */

/* A compiled grammar constrains what a sampler may return, so that the
 * output always matches it: GBNF text (llama.cpp's syntax, start rule
 * `root`; see docs/grammar.md) or a JSON schema (converted to GBNF). A
 * grammar is immutable and bound to one vocabulary, which it borrows (the
 * vocabulary must outlive it); it can be shared by many samplers/threads.
 * The vocabulary's byte trie that the allowed tokens are found with is
 * built on the first grammar created for it (~0.1 s for 150K tokens) and
 * kept by the vocabulary, so creating a grammar per request stays cheap. */
typedef struct adm_grammar adm_grammar;

/* Errors give "line L, column C" (GBNF) or the JSON pointer of the schema
 * keyword at fault; a schema keyword adamas cannot enforce is refused
 * (ADM_ERR_UNSUPPORTED naming it), never ignored. len < 0: NUL-terminated. */
ADM_API adm_status adm_grammar_create_gbnf(const adm_vocab *vocab, const char *gbnf, int64_t len, adm_grammar **out,
                                           adm_error *err);
/* A JSON schema, or {"type":"json_object"} for any JSON object. */
ADM_API adm_status adm_grammar_create_json_schema(const adm_vocab *vocab, const char *schema, int64_t len,
                                                  adm_grammar **out, adm_error *err);
ADM_API void adm_grammar_free(adm_grammar *g);
/* The GBNF a JSON schema converts to (for inspection): writes at most size
 * bytes (NUL-terminated when there is room) and returns the length needed,
 * or -1 with err set. */
ADM_API int64_t adm_json_schema_to_gbnf(const char *schema, int64_t len, char *out, int64_t size, adm_error *err);

/* One sequence's position in a grammar. Samplers keep their own (see
 * adm_sampler_set_grammar); this is for callers that drive one by hand. */
typedef struct adm_grammar_state adm_grammar_state;
ADM_API adm_status adm_grammar_state_create(const adm_grammar *g, adm_grammar_state **out, adm_error *err);
ADM_API void adm_grammar_state_free(adm_grammar_state *s);
/* Back to the start of the grammar. */
ADM_API void adm_grammar_state_reset(adm_grammar_state *s);
/* Whether token may come next (an end-of-generation token: whether the
 * grammar may end here; control tokens never). */
ADM_API bool adm_grammar_state_allows(adm_grammar_state *s, int32_t token);
/* Takes token if allowed (true); otherwise returns false and stays put. */
ADM_API bool adm_grammar_state_accept(adm_grammar_state *s, int32_t token);
/* Takes raw text if the grammar allows it (true); otherwise stays put. */
ADM_API bool adm_grammar_state_accept_text(adm_grammar_state *s, const char *text, size_t len);
/* Whether the text so far is a complete match. */
ADM_API bool adm_grammar_state_can_end(const adm_grammar_state *s);
/* The tokens allowed next as a bitmap (bit i of word i / 64 for token i,
 * adm_vocab_n_tokens bits); borrowed until the next call on s. NULL when
 * out of memory. */
ADM_API const uint64_t *adm_grammar_state_mask(adm_grammar_state *s);

/* Constrains the sampler with g (NULL removes it; g is borrowed and must
 * outlive its use). adm_sampler_sample then returns only tokens g allows
 * next (an end-of-generation token only where g may end) and advances the
 * sampler's grammar position by the token it returns, so that a generation
 * loop taking every returned token follows the grammar with no other
 * change (speculative guesses are taken only when the sampler returns
 * them). Sampling first draws from the unconstrained distribution and
 * checks that one token; only when it is refused does it compute the mask
 * of allowed tokens and draw again among them (the same settings applied
 * to the allowed tokens alone). Resets with adm_sampler_reset. */
ADM_API adm_status adm_sampler_set_grammar(adm_sampler *s, const adm_grammar *g, adm_error *err);

/* ------------------------------------------------------------------------ */
/* Slots and the scheduler: generation requests stepped together           */
/* ------------------------------------------------------------------------ */

/* A slot is one generation request on one sequence: it feeds the prompt
 * (keeping whatever prefix the sequence already holds), samples, holds back
 * text that may start a stop string, streams complete UTF-8, and speculates
 * (prompt lookup, or a draft model's sequence) with verification and
 * rollback. A scheduler steps many slots together: each tick evaluates one
 * batch with the next token (and guesses) of every generating slot, then
 * prompt chunks of slots still reading their prompts, up to a per-tick
 * token budget, so that a long prompt never stalls the others' decoding. */

#define ADM_MAX_STOPS 16
#define ADM_MAX_DRAFT 32
#define ADM_MAX_LOGPROBS 20

typedef struct adm_gen_params {
    adm_sampler_params sampling;
    int n_predict;              /* tokens to generate; -1 = until end of generation or a full context */
    const char *stops[ADM_MAX_STOPS]; /* stop strings (copied by adm_slot_start); never part of the text */
    int n_stops;
    bool ignore_eos;            /* never sample end-of-generation tokens */
    bool special;               /* render control tokens' text */
    bool strip_space;           /* the first piece directly follows BOS (drop SentencePiece's space) */
    int lookup;                 /* prompt-lookup guesses of up to this many tokens (0: off) */
    int lookup_ngram;           /* longest n-gram looked up (0: 3) */
    int draft_max;              /* draft-model guesses (needs the slot's draft sequence): at most this many (0: 8) */
    float draft_p_min;          /* ... each the draft model's top choice with at least this probability */
    bool adaptive;              /* adapt the number of guesses to acceptance and batch load (default true) */
    int n_probs;                /* record each generated token's log-probability and this many top
                                   alternatives (0..ADM_MAX_LOGPROBS); -1 = none */
    const adm_grammar *grammar; /* optional: constrain the output (borrowed until adm_slot_release
                                   or the slot's next start) */
    adm_sampler *sampler;       /* optional: use this sampler as it is (borrowed; its history is the
                                   caller's, e.g. across chat turns) instead of one made from
                                   `sampling` and the prompt */
} adm_gen_params;

ADM_API adm_gen_params adm_gen_default_params(void);

typedef struct adm_slot adm_slot;

typedef enum adm_slot_state {
    ADM_SLOT_IDLE = 0,      /* no request (the sequence keeps its tokens for prefix reuse) */
    ADM_SLOT_PROMPT,        /* feeding the prompt */
    ADM_SLOT_GENERATING,
    ADM_SLOT_DONE,          /* finished; text and info stay readable until adm_slot_release */
} adm_slot_state;

typedef enum adm_finish {
    ADM_FINISH_NONE = 0,
    ADM_FINISH_EOG,         /* an end-of-generation token */
    ADM_FINISH_STOP,        /* a stop string */
    ADM_FINISH_LENGTH,      /* n_predict tokens */
    ADM_FINISH_CTX_FULL,    /* the sequence's context is full */
    ADM_FINISH_CANCELLED,   /* adm_slot_cancel */
    ADM_FINISH_ERROR,       /* see adm_slot_info.error */
} adm_finish;

typedef struct adm_slot_info {
    adm_slot_state state;
    adm_finish finish;
    adm_error error;        /* when finish == ADM_FINISH_ERROR */
    int n_prompt;           /* prompt tokens of the request */
    int n_cached;           /* of which were already in the sequence (not evaluated) */
    int n_gen;              /* tokens generated (including a final end-of-generation token) */
    int n_drafted;          /* speculative guesses evaluated */
    int n_accepted;         /* guesses taken */
    double t_prompt;        /* seconds from start to the first sampled token */
    double t_gen;           /* seconds from then to the end */
} adm_slot_info;

/* A slot on sequence seq; draft_seq (optional) is a sequence of a smaller
 * model of the same vocabulary, on an engine sharing seq's threads, that
 * drafts guesses. Both are borrowed and must outlive the slot. */
ADM_API adm_status adm_slot_create(adm_seq *seq, adm_seq *draft_seq, adm_slot **out, adm_error *err);
ADM_API void adm_slot_free(adm_slot *s);
ADM_API adm_seq *adm_slot_seq(const adm_slot *s);
/* Starts a request (the slot must be IDLE or DONE). The sequence keeps its
 * longest common prefix with the prompt (at least the last prompt token is
 * evaluated again, its logits being needed); the rest is fed by the
 * scheduler. Fails with ADM_ERR_CONTEXT_FULL when the prompt does not fit
 * the sequence's context. */
ADM_API adm_status adm_slot_start(adm_slot *s, const int32_t *prompt, int n_prompt, const adm_gen_params *gp,
                                  adm_error *err);
/* Starts generating right after the sequence's last token, whose logits
 * the caller evaluated (a caller that feeds the prompt itself, e.g. to show
 * progress). The slot samples its first token at once. */
ADM_API adm_status adm_slot_resume(adm_slot *s, const float *logits, const adm_gen_params *gp, adm_error *err);
/* Stops the request at the next tick with ADM_FINISH_CANCELLED; the other
 * slots are not affected. Safe to call from any thread. */
ADM_API void adm_slot_cancel(adm_slot *s);
/* Text completed since the last call (valid UTF-8, stop strings held back
 * until they can be ruled out; borrowed until the next call on the slot). */
ADM_API const char *adm_slot_take_text(adm_slot *s, size_t *len);
ADM_API adm_slot_info adm_slot_get_info(const adm_slot *s);
/* DONE -> IDLE: the sequence keeps the prompt and generated tokens; the
 * request's grammar (adm_gen_params.grammar) is no longer used. */
ADM_API void adm_slot_release(adm_slot *s);

/* A generated token, with log-probabilities when the request asked for them
 * (n_probs >= 0): logprob of the token under the model's distribution
 * (softmax of the logits, before sampling settings), and the n_top most
 * likely tokens with theirs. */
typedef struct adm_token_prob {
    int32_t id;
    float logprob;
} adm_token_prob;
typedef struct adm_gen_token {
    int32_t id;
    float logprob;
    int n_top;
    adm_token_prob top[ADM_MAX_LOGPROBS];
} adm_gen_token;
/* Generated tokens so far (those whose text was taken or is held back alike). */
ADM_API int adm_slot_n_tokens(const adm_slot *s);
ADM_API const adm_gen_token *adm_slot_token(const adm_slot *s, int i);

typedef struct adm_sched adm_sched;

typedef struct adm_sched_params {
    /* Most prompt tokens fed per tick, over all slots (0: the engine's
     * n_batch). Prompts go in chunks of this size from their start, and a
     * chunk waits for a tick with room for all of it beside the generating
     * slots' rows: with several slots, leave them room (n_batch - slots). */
    int tick_tokens;
} adm_sched_params;

ADM_API adm_sched_params adm_sched_default_params(void);
ADM_API adm_status adm_sched_create(adm_engine *e, const adm_sched_params *params, adm_sched **out, adm_error *err);
/* Frees the scheduler (not its slots). */
ADM_API void adm_sched_free(adm_sched *s);
/* The prompt tokens a tick may carry (the parameter as clamped to the
 * engine's batch). */
ADM_API int adm_sched_tick_tokens(const adm_sched *s);
/* Attaches a slot (its sequence must belong to the scheduler's engine). */
ADM_API adm_status adm_sched_add(adm_sched *s, adm_slot *slot, adm_error *err);
ADM_API void adm_sched_remove(adm_sched *s, adm_slot *slot);
/* The IDLE or DONE slot whose sequence shares the longest prefix with
 * prompt (ties: the least recently used); NULL when every slot is busy. */
ADM_API adm_slot *adm_sched_pick(adm_sched *s, const int32_t *prompt, int n_prompt);
/* True while some slot is feeding its prompt or generating. */
ADM_API bool adm_sched_busy(const adm_sched *s);
/* One tick. A slot's failure ends that slot (ADM_FINISH_ERROR); an error
 * returned here is one of the engine (the batch could not be evaluated)
 * and has ended every slot of the batch. */
ADM_API adm_status adm_sched_step(adm_sched *s, adm_error *err);

typedef struct adm_sched_stats {
    uint64_t n_ticks;
    uint64_t n_prompt_tokens;   /* prompt tokens evaluated */
    uint64_t n_gen_tokens;      /* tokens generated */
    uint64_t n_drafted, n_accepted;
    double t_prompt, t_gen;     /* seconds of ticks spent on prompt rows / on generation rows (split by rows) */
} adm_sched_stats;
ADM_API adm_sched_stats adm_sched_get_stats(const adm_sched *s);

/* ------------------------------------------------------------------------ */
/* Chat templates                                                           */
/* ------------------------------------------------------------------------ */

/* The template families adamas renders. A model's tokenizer.chat_template
 * (a Jinja program) is not executed; its family is recognized by its
 * distinctive markers and rendered by hand-written code. */
typedef enum adm_chat_format {
    ADM_CHAT_CHATML = 0, /* <|im_start|>role\n...<|im_end|> (Qwen, SmolLM, many others) */
    ADM_CHAT_LLAMA3,     /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    ADM_CHAT_LLAMA2,     /* [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] (Llama 2 chat) */
    ADM_CHAT_MISTRAL,    /* [INST] ... [/INST] without a system block (Mistral, Mixtral) */
    ADM_CHAT_GEMMA,      /* <start_of_turn>user\n...<end_of_turn> (Gemma; no system role) */
    ADM_CHAT_PHI3,       /* <|user|>\n...<|end|>\n (Phi-3) */
} adm_chat_format;

typedef struct adm_chat_msg {
    const char *role;    /* "system", "user" or "assistant" */
    const char *content;
} adm_chat_msg;

/* The family of a Jinja chat template, or ChatML with *recognized = false
 * when tmpl is NULL or has no known markers. */
ADM_API adm_chat_format adm_chat_detect(const char *tmpl, bool *recognized);
/* "chatml", "llama3", "llama2", "mistral", "gemma", "phi3". */
ADM_API const char *adm_chat_format_name(adm_chat_format f);
ADM_API bool adm_chat_format_from_name(const char *name, adm_chat_format *out);
/* Renders messages as the model expects them (without BOS, which the
 * tokenizer adds); with add_assistant, ends with the header of the
 * assistant's reply. Writes at most size bytes (NUL-terminated when there
 * is room) and returns the length needed. Text is rendered with special
 * tokens, so tokenize it with ADM_TOKENIZE_PARSE_SPECIAL. */
ADM_API int64_t adm_chat_render(adm_chat_format f, const adm_chat_msg *msgs, int n_msgs, bool add_assistant, char *out,
                                int64_t size);

/* ------------------------------------------------------------------------ */
/* Vocabulary and tokenization                                              */
/* ------------------------------------------------------------------------ */

/* Loads only the vocabulary of a GGUF file (model or vocab-only file).
 * Fails with ADM_ERR_UNSUPPORTED, naming the value, when the file's
 * tokenizer.ggml.model or tokenizer.ggml.pre is one adamas does not know. */
ADM_API adm_status adm_vocab_load(const char *path, adm_vocab **out, adm_error *err);
/* Frees a vocabulary from adm_vocab_load (not one borrowed from a model). */
ADM_API void adm_vocab_free(adm_vocab *vocab);

ADM_API int adm_vocab_n_tokens(const adm_vocab *vocab);
/* Special token ids, or -1 when the vocabulary has none. */
ADM_API int32_t adm_vocab_bos(const adm_vocab *vocab);
ADM_API int32_t adm_vocab_eos(const adm_vocab *vocab);
ADM_API int32_t adm_vocab_eot(const adm_vocab *vocab);
/* True for tokens that end a generation (EOS, EOT, <|im_end|>, <|eot_id|>, ...). */
ADM_API bool adm_vocab_is_eog(const adm_vocab *vocab, int32_t id);
/* True for control tokens (BOS, EOS, chat markers), which are not text. */
ADM_API bool adm_vocab_is_control(const adm_vocab *vocab, int32_t id);
/* Whether tokenizing with ADM_TOKENIZE_ADD_SPECIAL prepends BOS / appends EOS. */
ADM_API bool adm_vocab_add_bos(const adm_vocab *vocab);
ADM_API bool adm_vocab_add_eos(const adm_vocab *vocab);
/* The token's text exactly as stored in the vocabulary (e.g. "\xe2\x96\x81the"
 * or "Ġthe"); borrowed, valid while the vocabulary lives. NULL if id is out of range. */
ADM_API const char *adm_vocab_piece(const adm_vocab *vocab, int32_t id, size_t *len);
/* Looks up a token by its exact stored text; -1 if absent. */
ADM_API int32_t adm_vocab_find(const adm_vocab *vocab, const char *piece, size_t len);

enum {
    ADM_TOKENIZE_ADD_SPECIAL = 1,   /* add BOS/EOS as the vocabulary says */
    ADM_TOKENIZE_PARSE_SPECIAL = 2, /* recognize special-token text such as "<|im_start|>" */
};

/* Tokenizes `len` bytes of text (len < 0: NUL-terminated). Writes at most
 * max ids to out and returns the number of tokens the text needs (which may
 * exceed max: call again with a larger buffer), or -1 on an allocation
 * failure (or for a text over 1 GiB). Text that is not valid UTF-8 is
 * tokenized byte by byte where the vocabulary allows it. */
ADM_API int64_t adm_tokenize(const adm_vocab *vocab, const char *text, int64_t len, int32_t *out, int64_t max,
                             unsigned flags);

/* The bytes a token stands for (SentencePiece "\xe2\x96\x81" -> " ", <0x0A> -> "\n",
 * byte-level BPE characters -> bytes). Control tokens give their text only
 * if `special`. Writes at most size bytes (no NUL) and returns the number
 * of bytes the token needs, or -1 if id is out of range. */
ADM_API int adm_token_to_bytes(const adm_vocab *vocab, int32_t id, char *buf, int size, bool special);

/* Detokenizes a whole sequence into out (at most size bytes, NUL-terminated
 * when there is room). Returns the byte count needed (excluding the NUL).
 * flags: ADM_DETOK_* below. */
ADM_API int64_t adm_detokenize(const adm_vocab *vocab, const int32_t *ids, int64_t n, char *out, int64_t size,
                               unsigned flags);

enum {
    ADM_DETOK_SPECIAL = 1,        /* render control tokens' text */
    ADM_DETOK_STRIP_SPACE = 2,    /* drop the leading space SentencePiece adds to the first word */
};

/* Streaming detokenizer: feeds tokens one at a time and hands out only
 * complete UTF-8 characters, holding back bytes of a character that spans
 * several tokens. */
typedef struct adm_detok adm_detok;
ADM_API adm_status adm_detok_create(const adm_vocab *vocab, unsigned flags, adm_detok **out, adm_error *err);
ADM_API void adm_detok_free(adm_detok *d);
/* Returns the text that became complete with this token (borrowed until
 * the next call; *len bytes, NUL-terminated). */
ADM_API const char *adm_detok_push(adm_detok *d, int32_t id, size_t *len);
/* Returns whatever is held back (an incomplete character becomes U+FFFD). */
ADM_API const char *adm_detok_flush(adm_detok *d, size_t *len);
/* Forgets held-back bytes and starts a new text (the leading-space rule applies again). */
ADM_API void adm_detok_reset(adm_detok *d);

#ifdef __cplusplus
}
#endif

#endif /* ADAMAS_H */
