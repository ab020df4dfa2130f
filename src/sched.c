/*
 * sched.c - the scheduler: one tick evaluates one batch holding the next
 * token (and guesses) of every generating slot, then prompt chunks of the
 * slots still reading their prompts, first come first served, up to
 * tick_tokens prompt tokens, so that a long prompt never stalls the
 * others' decoding.
 *
 * A prompt is fed in chunks of tick_tokens aligned to its own start: a
 * chunk that does not fit in this tick's batch waits for the next tick
 * instead of being cut, so a sequence's chunks, and hence its results, do
 * not depend on what else shares its batches (forward.c computes every
 * row's products and attention the same way in any batch).
 *
 * Speculation that knows the batch: a tick costs about a + b * rows (a:
 * reading the weights, b: one row's compute; fitted online from the ticks'
 * times). Guess i of a slot pays b and, with probability p^i (p: the slot's
 * recent per-guess acceptance), saves what the token would cost later,
 * about tick/G for G generating slots. So guess i is made while
 *     p^i > b G / (a + b R)         (R: rows already in the batch)
 * Alone on a memory-bound step (a >> b) guesses are nearly free; with many
 * slots the step turns compute-bound and only likely guesses remain.
 */
#include "slot.h"

#include <math.h>
#include <stdlib.h>

#define PRIOR_A_OVER_B 3.0  /* a 9-row batch costs ~3 single-row steps (docs/benchmarks.md) */
#define COST_DECAY 0.95

struct adm_sched {
    adm_engine *e;
    adm_sched_params p;
    adm_slot **slots;
    int n_slots, cap_slots;
    adm_batch_row *rows;    /* (n_batch) */
    int *first_row;         /* (cap_slots) a slot's first row in the batch, -1 if none */
    int *n_rows;            /* (cap_slots) its rows */
    int *lidx;              /* (cap_slots) its first row of logits */
    float *logits;          /* (cap_logits, n_vocab) */
    int cap_logits;
    /* Draft model scratch. */
    adm_batch_row *drows;
    int cap_drows;
    float *dlogits;         /* (cap_dlogits, n_vocab of the draft model) */
    int cap_dlogits;
    uint64_t order, use;
    adm_sched_stats stats;
    double s0, s1, s2, st, srt; /* decayed sums of (1, R, R^2, T, R T) over ticks */
};

adm_sched_params adm_sched_default_params(void) {
    adm_sched_params p = {0};
    return p;
}

adm_status adm_sched_create(adm_engine *e, const adm_sched_params *params, adm_sched **out, adm_error *err) {
    *out = NULL;
    adm_sched_params p = params ? *params : adm_sched_default_params();
    if (p.tick_tokens <= 0 || p.tick_tokens > e->n_batch) p.tick_tokens = e->n_batch;
    adm_sched *s = adm_calloc(1, sizeof(*s));
    if (!s) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    s->e = e;
    s->p = p;
    s->rows = adm_alloc((size_t)e->n_batch * sizeof(adm_batch_row));
    if (!s->rows) {
        adm_free(s);
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    }
    *out = s;
    return ADM_OK;
}

int adm_sched_tick_tokens(const adm_sched *s) { return s->p.tick_tokens; }

void adm_sched_free(adm_sched *s) {
    if (!s) return;
    adm_free(s->slots);
    adm_free(s->rows);
    adm_free(s->first_row);
    adm_free(s->n_rows);
    adm_free(s->lidx);
    adm_free(s->logits);
    adm_free(s->drows);
    adm_free(s->dlogits);
    adm_free(s);
}

adm_status adm_sched_add(adm_sched *s, adm_slot *slot, adm_error *err) {
    if (slot->seq->e != s->e)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "the slot's sequence belongs to another engine");
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i] == slot) return ADM_OK;
    if (s->n_slots >= s->e->n_batch)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "at most %d slots (the engine's batch size)", s->e->n_batch);
    if (s->n_slots == s->cap_slots) {
        const int cap = s->cap_slots ? 2 * s->cap_slots : 8;
        adm_slot **ns = adm_alloc((size_t)cap * sizeof(*ns));
        int *fr = adm_alloc((size_t)cap * sizeof(int)), *nr = adm_alloc((size_t)cap * sizeof(int));
        int *li = adm_alloc((size_t)cap * sizeof(int));
        if (!ns || !fr || !nr || !li) {
            adm_free(ns);
            adm_free(fr);
            adm_free(nr);
            adm_free(li);
            return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
        }
        if (s->n_slots) memcpy(ns, s->slots, (size_t)s->n_slots * sizeof(*ns));
        adm_free(s->slots);
        adm_free(s->first_row);
        adm_free(s->n_rows);
        adm_free(s->lidx);
        s->lidx = li;
        s->slots = ns;
        s->first_row = fr;
        s->n_rows = nr;
        s->cap_slots = cap;
    }
    s->slots[s->n_slots++] = slot;
    return ADM_OK;
}

void adm_sched_remove(adm_sched *s, adm_slot *slot) {
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i] == slot) {
            memmove(s->slots + i, s->slots + i + 1, (size_t)(s->n_slots - i - 1) * sizeof(*s->slots));
            s->n_slots--;
            return;
        }
}

adm_slot *adm_sched_pick(adm_sched *s, const int32_t *prompt, int n_prompt) {
    adm_slot *best = NULL;
    int best_c = -1;
    for (int i = 0; i < s->n_slots; i++) {
        adm_slot *sl = s->slots[i];
        if (sl->state == ADM_SLOT_PROMPT || sl->state == ADM_SLOT_GENERATING) continue;
        const int32_t *t = sl->seq->tokens;
        int c = 0;
        while (c < sl->seq->n_past && c < n_prompt && t[c] == prompt[c]) c++;
        if (c > best_c || (c == best_c && sl->used < best->used)) {
            best = sl;
            best_c = c;
        }
    }
    if (best) best->used = ++s->use;
    return best;
}

bool adm_sched_busy(const adm_sched *s) {
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i]->state == ADM_SLOT_PROMPT || s->slots[i]->state == ADM_SLOT_GENERATING) return true;
    return false;
}

adm_sched_stats adm_sched_get_stats(const adm_sched *s) { return s->stats; }

static bool ensure_logits(float **buf, int *cap, int rows, int n_vocab) {
    if (rows <= *cap) return true;
    float *nb = adm_alloc((size_t)rows * (size_t)n_vocab * sizeof(float));
    if (!nb) return false;
    adm_free(*buf);
    *buf = nb;
    *cap = rows;
    return true;
}

/* The marginal-row threshold b G / (a + b R) of the cost model. */
static double guess_threshold(const adm_sched *s, int G, int R) {
    double r = PRIOR_A_OVER_B;
    const double den = s->s0 * s->s2 - s->s1 * s->s1;
    if (s->s0 > 4.0 && den > 1e-9 * s->s0 * s->s2) {
        const double b = (s->s0 * s->srt - s->s1 * s->st) / den, a = (s->st - b * s->s1) / s->s0;
        if (a > 0.0 && b > 0.0) r = a / b;
    }
    r = r < 0.5 ? 0.5 : r > 200.0 ? 200.0 : r;
    return (double)G / (r + (double)R);
}

static void note_tick(adm_sched *s, int rows, double t) {
    s->s0 = COST_DECAY * s->s0 + 1.0;
    s->s1 = COST_DECAY * s->s1 + rows;
    s->s2 = COST_DECAY * s->s2 + (double)rows * rows;
    s->st = COST_DECAY * s->st + t;
    s->srt = COST_DECAY * s->srt + rows * t;
}

/* Draft-model guesses for the slots given a budget in want[]: each draft
 * sequence catches up with its target's text (keeping their longest common
 * prefix), then all drafting slots take greedy steps together, one batch a
 * step, each stopping at its budget or at a choice under draft_p_min. The
 * last guess is not evaluated: the next tick starts from what was taken. */
static adm_status draft_guesses(adm_sched *s, const int *want, adm_error *err) {
    adm_engine *de = NULL;
    int nd = 0, n_sync = 0;
    for (int i = 0; i < s->n_slots; i++)
        if (want[i] > 0) {
            adm_slot *sl = s->slots[i];
            if (de && sl->draft->e != de) continue; /* one draft engine per tick (the usual case: one) */
            de = sl->draft->e;
            nd++;
            n_sync += sl->seq->n_past + 1; /* at most: nothing in common */
        }
    if (!nd) return ADM_OK;
    const int dv = de->model->hp.n_vocab;
    if (n_sync > s->cap_drows) {
        adm_batch_row *r = adm_alloc((size_t)n_sync * sizeof(*r));
        if (!r) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
        adm_free(s->drows);
        s->drows = r;
        s->cap_drows = n_sync;
    }
    if (!ensure_logits(&s->dlogits, &s->cap_dlogits, nd, dv)) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    int ds[256], lrow[256];
    nd = 0;
    int n = 0;
    for (int i = 0; i < s->n_slots && nd < 256; i++) {
        if (want[i] <= 0 || s->slots[i]->draft->e != de) continue;
        adm_slot *sl = s->slots[i];
        adm_seq *q = sl->seq, *d = sl->draft;
        const int L = q->n_past + 1;
        if (L > d->p.n_ctx) continue;
        q->tokens[q->n_past] = sl->pending; /* the text so far: the cache and the pending token */
        int c = 0;
        while (c < d->n_past && c < L && d->tokens[c] == q->tokens[c]) c++;
        if (c == L) c--; /* the last token's logits are needed again */
        adm_seq_truncate(d, c);
        c = d->n_past; /* less when its sliding-window rings do not reach back to c */
        for (int t = c; t < L; t++) s->drows[n++] = (adm_batch_row){d, q->tokens[t], t == L - 1};
        lrow[nd] = nd;
        ds[nd++] = i;
    }
    adm_status st = n ? adm_engine_decode(de, s->drows, n, s->dlogits, err) : ADM_OK;
    int active = nd;
    for (int step = 0; st == ADM_OK && active > 0; step++) {
        n = 0;
        for (int j = 0; j < nd; j++) {
            if (lrow[j] < 0) continue;
            adm_slot *sl = s->slots[ds[j]];
            const float *l = s->dlogits + (size_t)lrow[j] * dv;
            int best = 0;
            for (int v = 1; v < dv; v++)
                if (l[v] > l[best]) best = v;
            bool ok = best < sl->n_vocab;
            if (ok && step > 0 && sl->gp.draft_p_min > 0.0f) {
                /* The top choice's probability, 1 / sum(exp(l - l_top)). */
                float z = 0.0f;
                for (int v = 0; v < dv; v++) z += expf(l[v] - l[best]);
                ok = z * sl->gp.draft_p_min <= 1.0f;
            }
            if (ok) sl->guess[sl->n_guess++] = best;
            if (!ok || sl->n_guess == want[ds[j]] || sl->draft->n_past >= sl->draft->p.n_ctx) {
                lrow[j] = -1;
                active--;
                continue;
            }
            lrow[j] = n; /* its next logits: row n of the next batch */
            s->drows[n++] = (adm_batch_row){sl->draft, best, true};
        }
        if (n) st = adm_engine_decode(de, s->drows, n, s->dlogits, err);
    }
    return st;
}

/* Ends every slot with rows in the batch: the engine failed. */
static void fail_batch(adm_sched *s, const adm_error *err) {
    for (int i = 0; i < s->n_slots; i++)
        if (s->first_row[i] >= 0) slot_end(s->slots[i], ADM_FINISH_ERROR, err);
}

/* Frees the memory of finished slots' sequences, least recently used
 * first, until `need` more bytes fit in the engine's budget. */
static void evict(adm_sched *s, uint64_t need) {
    adm_engine *e = s->e;
    while (e->mem_used + need > e->mem_budget) {
        adm_slot *lru = NULL;
        for (int i = 0; i < s->n_slots; i++) {
            adm_slot *sl = s->slots[i];
            if ((sl->state == ADM_SLOT_IDLE || sl->state == ADM_SLOT_DONE) && sl->seq->n_touched > 0 &&
                (!lru || sl->used < lru->used))
                lru = sl;
        }
        if (!lru) return;
        adm_seq_clear(lru->seq);
    }
}

adm_status adm_sched_step(adm_sched *s, adm_error *err) {
    adm_engine *e = s->e;
    const double t0 = adm_time_s();
    for (int i = 0; i < s->n_slots; i++) {
        adm_slot *sl = s->slots[i];
        if ((sl->state == ADM_SLOT_PROMPT || sl->state == ADM_SLOT_GENERATING) && atomic_load(&sl->cancel)) {
            adm_error ce;
            adm_fail(&ce, ADM_ERR_CANCELLED, "the request was cancelled");
            slot_end(sl, ADM_FINISH_CANCELLED, &ce);
        }
        s->first_row[i] = -1;
        s->n_rows[i] = 0;
    }
    /* Guesses: how many each generating slot may make this tick. */
    int G = 0, P = 0;
    for (int i = 0; i < s->n_slots; i++) {
        if (s->slots[i]->state == ADM_SLOT_GENERATING) G++;
        if (s->slots[i]->state == ADM_SLOT_PROMPT) P++;
    }
    int want[256];
    int *wantp = s->n_slots <= 256 ? want : adm_calloc((size_t)s->n_slots, sizeof(int));
    if (!wantp) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    const int room_rows = e->n_batch - G - (P ? s->p.tick_tokens : 0);
    const double thr = guess_threshold(s, G, G + (P ? s->p.tick_tokens : 0));
    int spare = ADM_MAX(0, room_rows);
    for (int i = 0; i < s->n_slots; i++) {
        adm_slot *sl = s->slots[i];
        wantp[i] = 0;
        sl->n_guess = 0;
        if (sl->state != ADM_SLOT_GENERATING) continue;
        /* Prompt lookup when asked for, else the draft model if the slot has one. */
        const bool draft = sl->gp.lookup == 0 && sl->draft;
        const int room = sl->seq->p.n_ctx - sl->seq->n_past - 1;
        int max = draft ? sl->gp.draft_max : sl->gp.lookup;
        max = ADM_MIN(ADM_MIN(max, room), ADM_MIN(spare, ADM_MAX_DRAFT));
        if (max <= 0) continue;
        const int k = slot_guess_budget(sl, max, thr);
        if (draft) wantp[i] = k;
        else slot_lookup(sl, k);
        spare -= draft ? k : sl->n_guess;
    }
    adm_status st = draft_guesses(s, wantp, err);
    if (wantp != want) adm_free(wantp);
    if (st != ADM_OK) {
        /* The draft model failed: go on without guesses this tick. */
        for (int i = 0; i < s->n_slots; i++) s->slots[i]->n_guess = 0;
        adm_log(ADM_LOG_WARN, "draft model: %s", err->msg);
    }

    /* Rows: generating slots first, then prompt chunks in start order. */
    int n = 0, n_logits = 0, gen_rows = 0;
    for (int i = 0; i < s->n_slots; i++) {
        adm_slot *sl = s->slots[i];
        if (sl->state != ADM_SLOT_GENERATING || !sl->has_pending) continue;
        s->first_row[i] = n;
        s->lidx[i] = n_logits;
        s->rows[n++] = (adm_batch_row){sl->seq, sl->pending, true};
        for (int j = 0; j < sl->n_guess; j++) s->rows[n++] = (adm_batch_row){sl->seq, sl->guess[j], true};
        s->n_rows[i] = 1 + sl->n_guess;
        n_logits += 1 + sl->n_guess;
        if (sl->n_guess) s->stats.n_drafted += (uint64_t)sl->n_guess;
    }
    gen_rows = n;
    int prompt_left = s->p.tick_tokens;
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i]->state == ADM_SLOT_PROMPT && s->slots[i]->order == 0) s->slots[i]->order = ++s->order;
    for (;;) {
        int pick = -1;
        for (int i = 0; i < s->n_slots; i++) {
            adm_slot *sl = s->slots[i];
            if (sl->state == ADM_SLOT_PROMPT && s->first_row[i] == -1 &&
                (pick < 0 || sl->order < s->slots[pick]->order))
                pick = i;
        }
        if (pick < 0) break;
        adm_slot *sl = s->slots[pick];
        const int chunk = ADM_MIN(sl->n_prompt - sl->fed, s->p.tick_tokens);
        if (chunk > e->n_batch - n || (chunk > prompt_left && n > gen_rows)) {
            s->first_row[pick] = -2; /* waits for a later tick */
            continue;
        }
        s->first_row[pick] = n;
        s->n_rows[pick] = chunk;
        s->lidx[pick] = n_logits;
        for (int j = 0; j < chunk; j++) {
            const bool last = sl->fed + j == sl->n_prompt - 1;
            s->rows[n++] = (adm_batch_row){sl->seq, sl->prompt[sl->fed + j], last};
            n_logits += last;
        }
        prompt_left -= chunk;
    }
    for (int i = 0; i < s->n_slots; i++)
        if (s->first_row[i] == -2) s->first_row[i] = -1;
    if (n == 0) return ADM_OK;

    if (!ensure_logits(&s->logits, &s->cap_logits, n_logits, e->model->hp.n_vocab)) {
        adm_error me;
        adm_fail(&me, ADM_ERR_NOMEM, "out of memory for the batch's logits");
        fail_batch(s, &me);
        if (err) *err = me;
        return ADM_ERR_NOMEM;
    }
    if (e->mem_budget) {
        uint64_t need = 0;
        for (int i = 0; i < s->n_slots; i++) {
            const adm_seq *q = s->slots[i]->seq;
            if (s->first_row[i] >= 0 && q->n_past + s->n_rows[i] > q->n_touched)
                need += adm_seq_mem(q, q->n_past + s->n_rows[i]) - adm_seq_mem(q, q->n_touched);
        }
        if (e->mem_used + need > e->mem_budget) evict(s, need);
    }
    st = adm_engine_decode(e, s->rows, n, s->logits, err);
    if (st == ADM_ERR_MEM_BUDGET && n > gen_rows) {
        /* Prompts wait until generating slots finish and free memory. */
        for (int i = 0; i < s->n_slots; i++)
            if (s->slots[i]->state == ADM_SLOT_PROMPT) s->first_row[i] = -1;
        n_logits = 0;
        for (int i = 0; i < s->n_slots; i++) n_logits += s->first_row[i] >= 0 ? s->n_rows[i] : 0;
        n = gen_rows;
        if (n == 0) {
            /* Nothing else runs that could free memory: the prompts fail. */
            for (int i = 0; i < s->n_slots; i++)
                if (s->slots[i]->state == ADM_SLOT_PROMPT) slot_end(s->slots[i], ADM_FINISH_ERROR, err);
            return ADM_OK;
        }
        st = adm_engine_decode(e, s->rows, n, s->logits, err);
    }
    if (st != ADM_OK) {
        fail_batch(s, err);
        /* Over the budget the slots carry the error; the engine is fine. */
        return st == ADM_ERR_MEM_BUDGET ? ADM_OK : st;
    }

    /* Each slot samples from its rows. */
    uint64_t gen0 = 0;
    for (int i = 0; i < s->n_slots; i++) gen0 += (uint64_t)s->slots[i]->n_gen;
    const size_t nv = (size_t)e->model->hp.n_vocab;
    const int n_prompt_rows = n - gen_rows;
    for (int i = 0; i < s->n_slots; i++) {
        if (s->first_row[i] < 0) continue;
        adm_slot *sl = s->slots[i];
        sl->used = ++s->use;
        if (sl->state == ADM_SLOT_GENERATING) {
            sl->n_guess = s->n_rows[i] - 1;
            const int before = sl->n_accepted;
            slot_after_rows(sl, s->logits + (size_t)s->lidx[i] * nv, s->n_rows[i]);
            s->stats.n_accepted += (uint64_t)(sl->n_accepted - before);
        } else {
            sl->fed += s->n_rows[i];
            s->stats.n_prompt_tokens += (uint64_t)s->n_rows[i];
            if (sl->fed == sl->n_prompt) {
                sl->state = ADM_SLOT_GENERATING;
                slot_after_rows(sl, s->logits + (size_t)s->lidx[i] * nv, 1);
            }
        }
    }
    uint64_t gen1 = 0;
    for (int i = 0; i < s->n_slots; i++) gen1 += (uint64_t)s->slots[i]->n_gen;
    s->stats.n_gen_tokens += gen1 - gen0;
    const double dt = adm_time_s() - t0;
    note_tick(s, n, dt);
    s->stats.n_ticks++;
    s->stats.t_prompt += dt * n_prompt_rows / n;
    s->stats.t_gen += dt * gen_rows / n;
    return ADM_OK;
}
