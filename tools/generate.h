/*
 * generate.h - the token loop shared by `run` and `chat`: sample, stream
 * the text (complete UTF-8 only, holding back what might start a stop
 * string), evaluate the token, repeat until an end-of-generation token, a
 * stop string, the token limit, a full context or an interrupt.
 *
 * With --lookup (prompt-lookup speculative decoding), the tokens that
 * followed the latest earlier occurrence of the context's last n-gram are
 * guessed to come next, or with --draft-model a smaller model's greedy
 * continuation; the guesses are evaluated in one batch with the sampled token;
 * each guess whose turn comes and which is what the sampler picks from
 * the batch's logits is then taken without another pass over the weights.
 * The sampler sees exactly the calls it would without guesses, so what is
 * generated is what would be generated without them, up to the float
 * rounding that separates batched evaluation from token-by-token evaluation
 * (as in llama.cpp); the first wrong guess and those after it are dropped
 * from the cache.
 */
#ifndef ADM_TOOLS_GENERATE_H
#define ADM_TOOLS_GENERATE_H

#include "adamas.h"
#include "opts.h"

#include <signal.h>
#include <stdio.h>

#define GEN_MAX_STOPS 8
#define GEN_MAX_LOOKUP 32           /* longest draft of --lookup */

typedef struct gen_params {
    int n_predict;                  /* -1: no limit */
    const char *stops[GEN_MAX_STOPS];
    int n_stops;
    bool strip_space;               /* the first piece directly follows BOS */
    bool special;                   /* print control tokens' text */
    bool ignore_eos;                /* never sample end-of-generation tokens */
    volatile sig_atomic_t *interrupt; /* optional: stop when it becomes nonzero */
    int lookup;                     /* n-gram lookup drafts of up to this many tokens (0: off) */
    int lookup_ngram;               /* longest n-gram matched (down to 1) */
    const char *draft_model;        /* --draft-model: path of a smaller model of the same vocabulary */
    int draft_max;                  /* its drafts: at most this many tokens ... */
    float draft_p_min;              /* ... each its top choice with at least this probability */
    struct gen_drafter *drafter;    /* set by the caller from draft_model (gen_drafter_create) */
} gen_params;

typedef enum gen_end { GEN_EOG, GEN_STOP, GEN_LIMIT, GEN_CTX_FULL, GEN_INTERRUPT, GEN_ERROR } gen_end;

typedef struct gen_result {
    int n_gen;          /* tokens sampled */
    double seconds;     /* generation time */
    gen_end end;
    char *text;         /* everything printed (malloc'd; caller frees) */
    size_t len;
    int n_drafted;      /* --lookup: draft tokens evaluated */
    int n_accepted;     /* --lookup: draft tokens that were the sampled ones */
} gen_result;

/* Defaults: no token limit, no stop strings, no speculation (drafts of 8
 * with p >= 0.8 once --draft-model is given). */
void gen_params_init(gen_params *gp);

/* The generation options (-n, --stop, --ignore-eos) and the speculative
 * decoding ones (--lookup, --lookup-ngram, --draft-model, --draft,
 * --draft-p-min), shared by `run` and `chat`:
 * returns 1 if argv[*i] was one of them (consuming its value), 0 if not, -1
 * on a bad value (message printed). */
int gen_opts_parse(gen_params *gp, const char *cmd, int argc, char **argv, int *i);
void gen_opts_usage(FILE *f);

/* A draft model for speculative decoding: loaded beside the target, run
 * on the target context's threads with o's KV cache types, dense attention
 * and the target's context size; its vocabulary is checked against the
 * target's. Its own KV cache follows the target's text (resynchronized
 * before each draft). Free it before target_ctx. NULL on failure (message
 * printed). */
typedef struct gen_drafter gen_drafter;
gen_drafter *gen_drafter_create(const char *cmd, const model_opts *o, const char *path, const adm_model *target,
                                adm_ctx *target_ctx);
void gen_drafter_free(gen_drafter *d);

/* Generates from `logits` (those of the last evaluated token, n_vocab
 * floats, overwritten as generation goes on). Tokens are appended to
 * `history` (capacity *cap, grown with realloc) so callers know what the
 * cache holds. Returns false on an error (message printed with cmd). */
bool generate(const char *cmd, adm_ctx *ctx, const adm_vocab *vocab, adm_sampler *smp, float *logits,
              const gen_params *gp, FILE *out, int32_t **history, int *n_history, int *cap, gen_result *res);

#endif
