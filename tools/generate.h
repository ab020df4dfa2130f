/*
 * generate.h - the token loop shared by `run` and `chat`: sample, stream
 * the text (complete UTF-8 only, holding back what might start a stop
 * string), evaluate the token, repeat until an end-of-generation token, a
 * stop string, the token limit, a full context or an interrupt.
 */
#ifndef ADM_TOOLS_GENERATE_H
#define ADM_TOOLS_GENERATE_H

#include "adamas.h"

#include <signal.h>
#include <stdio.h>

#define GEN_MAX_STOPS 8

typedef struct gen_params {
    int n_predict;                  /* -1: no limit */
    const char *stops[GEN_MAX_STOPS];
    int n_stops;
    bool strip_space;               /* the first piece directly follows BOS */
    bool special;                   /* print control tokens' text */
    bool ignore_eos;                /* never sample end-of-generation tokens */
    volatile sig_atomic_t *interrupt; /* optional: stop when it becomes nonzero */
} gen_params;

typedef enum gen_end { GEN_EOG, GEN_STOP, GEN_LIMIT, GEN_CTX_FULL, GEN_INTERRUPT, GEN_ERROR } gen_end;

typedef struct gen_result {
    int n_gen;          /* tokens sampled */
    double seconds;     /* generation time */
    gen_end end;
    char *text;         /* everything printed (malloc'd; caller frees) */
    size_t len;
} gen_result;

/* Generates from `logits` (those of the last evaluated token, n_vocab
 * floats, overwritten as generation goes on). Tokens are appended to
 * `history` (capacity *cap, grown with realloc) so callers know what the
 * cache holds. Returns false on an error (message printed with cmd). */
bool generate(const char *cmd, adm_ctx *ctx, const adm_vocab *vocab, adm_sampler *smp, float *logits,
              const gen_params *gp, FILE *out, int32_t **history, int *n_history, int *cap, gen_result *res);

#endif
