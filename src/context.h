/*
 * context.h - adm_ctx: an engine with one sequence, the simple interface of
 * the commands that evaluate one text (run's prompt, perplexity, logits,
 * bench). It adds what only such a caller needs: splitting long inputs
 * into n_batch chunks, progress, and sparse evaluation (positions past the
 * budget one at a time, so perplexity measures sparse attention).
 */
#ifndef ADM_CONTEXT_H
#define ADM_CONTEXT_H

#include "engine.h"

struct adm_ctx {
    adm_ctx_params params;
    adm_engine *e;
    adm_seq *s;
};

#endif
