/*
 * prompt_cache.h - `--prompt-cache FILE` and `--prompt-cache-ro` for the
 * commands that evaluate a prompt (run, chat): the longest common token
 * prefix of the snapshot in FILE and the prompt is restored instead of
 * evaluated, and the state after the prompt is saved back to FILE (unless
 * read-only). A missing, damaged or foreign snapshot only costs the full
 * evaluation (with a note on stderr); a FILE that exists but is not a
 * snapshot is never overwritten.
 */
#ifndef ADM_TOOLS_PROMPT_CACHE_H
#define ADM_TOOLS_PROMPT_CACHE_H

#include "adamas.h"

#include <stdio.h>

typedef struct prompt_cache {
    const char *path;   /* NULL: no prompt cache */
    bool read_only;
} prompt_cache;

/* Same conventions as model_opts_parse: 1 consumed, 0 not ours, -1 bad value. */
int prompt_cache_parse(prompt_cache *pc, const char *cmd, int argc, char **argv, int *i);
void prompt_cache_usage(FILE *f);

/* Restores what the cache holds of the prompt into ctx's sequence and
 * returns how many prompt tokens it holds now (0 without a usable cache);
 * when that is n_prompt, `logits` holds the last token's logits. */
int prompt_cache_load(const prompt_cache *pc, const char *cmd, adm_ctx *ctx, const int32_t *prompt, int n_prompt,
                      float *logits);

/* Saves ctx's sequence with the last token's logits, unless read-only or
 * nothing was evaluated since the load (n_loaded == the sequence's length). */
void prompt_cache_save(const prompt_cache *pc, const char *cmd, adm_ctx *ctx, int n_loaded, const float *logits);

#endif
