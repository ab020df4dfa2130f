/*
 * opts.h - the options every model-running command shares (model path,
 * threads, context, batch, KV cache types, attention method) and the code
 * that turns them into a loaded model and context, with the same error
 * messages and progress display everywhere.
 */
#ifndef ADM_TOOLS_OPTS_H
#define ADM_TOOLS_OPTS_H

#include "adamas.h"
#include "args.h"

#include <stdio.h>

typedef struct model_opts {
    const char *model;
    adm_ctx_params cp;
    bool ctx_set;       /* -c given */
    bool batch_set;     /* -b given (serve's default batch differs) */
    bool order_set;     /* --sum-order given (cp.llama_order; engines default to the block order) */
    bool adamas_stats;
    progress_state prefill; /* drawn during long prompt evaluation (progress_init before, progress_done after) */
} model_opts;

void model_opts_init(model_opts *o);

/* If argv[*i] is a shared option, consumes it (and its value), stores it
 * and returns 1; returns 0 if not a shared option; -1 on an invalid value
 * (message printed). */
int model_opts_parse(model_opts *o, const char *cmd, int argc, char **argv, int *i);

/* The summation order of an engine the command creates (serve,
 * batched-bench): the block order unless --sum-order llama was given
 * (contexts keep cp.llama_order, true by default). */
bool model_opts_engine_llama_order(const model_opts *o);

/* With --adamas-stats: per-layer captured mass and code-index memory, to stderr. */
void model_opts_print_stats(const model_opts *o, adm_model *m, adm_ctx *ctx);

/* Help text for the shared options, but for those in `omit` (a command
 * that gives -c or --attention another meaning documents them itself). */
enum { USAGE_NO_CTX = 1, USAGE_NO_ATTENTION = 2, USAGE_NO_BATCH = 4 /* the command prints its own -b */ };
void model_opts_usage(FILE *f, unsigned omit);

/* Loads the model (progress on a terminal), printing errors as
 * "adamas <cmd>: <message>". Returns NULL on failure. */
adm_model *model_opts_load(const model_opts *o, const char *cmd);

/* Creates a context; n_ctx defaults to the model's training length capped
 * to `cap` tokens when -c was not given (0 = no cap). */
adm_ctx *model_opts_ctx(model_opts *o, const char *cmd, adm_model *m, int cap);

/* Sampling options (--temp, --top-k, --top-p, --min-p, --seed, penalties),
 * same conventions as model_opts_parse. seed_set tells whether --seed was given. */
typedef struct sample_opts {
    adm_sampler_params sp;
    bool seed_set;
    const char *grammar;      /* --grammar / --json-schema text, or */
    const char *grammar_file; /* --grammar-file / --json-schema-file */
    bool json_schema;         /* the grammar is a JSON schema */
    adm_grammar *compiled;    /* made by sample_opts_apply_grammar */
} sample_opts;
void sample_opts_init(sample_opts *o);
int sample_opts_parse(sample_opts *o, const char *cmd, int argc, char **argv, int *i);
void sample_opts_usage(FILE *f);
/* Picks a random seed unless one was given, and says which on stderr. */
void sample_opts_finish(sample_opts *o, const char *cmd);
/* With a grammar option: compiles it (the first time) and sets it on the
 * sampler, which restarts it. Returns false (message printed) on failure. */
bool sample_opts_apply_grammar(sample_opts *o, const char *cmd, const adm_vocab *v, adm_sampler *smp);
/* Frees the compiled grammar (after the samplers using it). */
void sample_opts_free(sample_opts *o);

/* The --attention names ("dense", "adamas", "window"), both ways. */
const char *attention_name(adm_attention a);
bool attention_from_name(const char *s, adm_attention *out);

/* Tokenizes len bytes into a malloc'd array with `spare` free slots after
 * the tokens (for generation to append to); *n gets the token count.
 * Returns NULL (message printed) on failure. */
int32_t *tokenize_alloc(const char *cmd, const adm_vocab *v, const char *text, size_t len, unsigned flags, int spare,
                        int *n);

/* The context size -c gives (warning when it is above the model's training
 * length), or by default the model's training length capped to what fits
 * in half of the free memory; with `say`, says what it chose. */
int default_ctx_size(const char *cmd, adm_model *m, const model_opts *o, bool say);
/* MemAvailable from /proc/meminfo, in bytes (0 if unknown). */
uint64_t mem_available_bytes(void);

#endif
