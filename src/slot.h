/*
 * slot.h - the state of one generation request (adm_slot) as the scheduler
 * (sched.c) sees it. A slot alternates between two halves of a tick: the
 * scheduler puts its rows in a batch (the pending token and its guesses, or
 * a prompt chunk), and after the batch the slot samples from the rows'
 * logits (slot_after_rows), keeping each guess the sampler confirms and
 * dropping the rest from the cache.
 */
#ifndef ADM_SLOT_H
#define ADM_SLOT_H

#include "engine.h"

#include <stdatomic.h>

struct adm_slot {
    adm_seq *seq, *draft;
    const adm_vocab *vocab;
    int n_vocab;
    _Atomic bool cancel;
    adm_slot_state state;
    adm_finish finish;
    adm_error error;
    adm_gen_params gp;
    char *stop_store;          /* the stop strings' copies */
    size_t max_stop;           /* longest stop string */
    adm_sampler *own_smp;      /* made from gp.sampling, unless gp.sampler was given */
    adm_sampler *smp;          /* the one in use */
    adm_detok *dt;
    float *row;                /* (n_vocab) logits being sampled from */

    /* Prompt: tokens prompt[fed .. n_prompt) are still to be evaluated. */
    int32_t *prompt;
    int n_prompt, cap_prompt, fed;

    /* Generation: the sampled token to evaluate next, and guesses after it. */
    int32_t pending;
    bool has_pending;
    int32_t guess[ADM_MAX_DRAFT];
    int n_guess;
    double acc_hits, acc_tries; /* decayed counts of guesses confirmed / judged */

    /* Text: text[0 .. ready) may be handed out; [taken .. ready) not yet taken. */
    char *text;
    size_t len, cap, ready, taken;
    char *out;                 /* what adm_slot_take_text returned last */
    size_t out_cap;

    adm_gen_token *toks;
    int n_toks, cap_toks;

    int n_cached, n_gen, n_drafted, n_accepted;
    double t_start, t_first, t_end;
    uint64_t order;            /* start order (prompt feeding is first come, first served) */
    uint64_t used;             /* last use (adm_sched_pick's ties) */
};

/* Samples from n_rows rows of logits (row i follows the pending token and
 * guesses 0..i-1) until a sample differs from its guess or generation
 * ends; unconfirmed guesses leave the cache. `logits` is writable scratch. */
void slot_after_rows(adm_slot *s, float *logits, int n_rows);

/* Proposes guesses for the next tick from prompt lookup (no-op without it). */
void slot_lookup(adm_slot *s, int max);

/* Ends the request (truncating unconfirmed guesses). */
void slot_end(adm_slot *s, adm_finish f, const adm_error *err);

/* Guesses per slot for this tick given the acceptance seen so far, the
 * slot's limit, and the cost model's marginal-row threshold. */
int slot_guess_budget(const adm_slot *s, int max, double threshold);

#endif
