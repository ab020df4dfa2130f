/*
 * slot.c - one generation request: the sampling loop that tools/generate.c
 * used to own (sample, hold back text that may start a stop string, stream
 * complete UTF-8, stop at end of generation, a stop string, the token limit
 * or a full context), prompt lookup guesses, and verification of guesses
 * against the batch's logits. The sampler sees exactly the calls it would
 * see without guesses: a guess is kept only when the sampler returns it.
 */
#include "slot.h"

#include <math.h>
#include <stdlib.h>

adm_gen_params adm_gen_default_params(void) {
    adm_gen_params p;
    memset(&p, 0, sizeof(p));
    p.sampling = adm_sampler_default_params();
    p.n_predict = -1;
    p.lookup_ngram = 3;
    p.draft_max = 8;
    p.draft_p_min = 0.8f;
    p.adaptive = true;
    p.n_probs = -1;
    return p;
}

adm_status adm_slot_create(adm_seq *seq, adm_seq *draft, adm_slot **out, adm_error *err) {
    *out = NULL;
    if (!seq) return adm_fail(err, ADM_ERR_INVALID_ARG, "a slot needs a sequence");
    const adm_model *m = seq->e->model;
    const adm_vocab *v = adm_model_vocab(m);
    if (!v) return adm_fail(err, ADM_ERR_INVALID_ARG, "the model has no vocabulary");
    if (draft) {
        if (draft->e->pool != seq->e->pool)
            return adm_fail(err, ADM_ERR_INVALID_ARG, "the draft sequence's engine must run on the target's threads "
                            "(adm_engine_params.threads_from)");
        const adm_vocab *dv = adm_model_vocab(draft->e->model);
        if (!dv) return adm_fail(err, ADM_ERR_INVALID_ARG, "the draft model has no vocabulary");
        /* Same tokens, same ids: pieces must agree on the ids both have
         * (vocabularies of one family may differ in trailing padding ids). */
        const int nt = adm_vocab_n_tokens(v), nd = adm_vocab_n_tokens(dv), common = ADM_MIN(nt, nd);
        if (abs(nt - nd) > 128)
            return adm_fail(err, ADM_ERR_INVALID_ARG, "the draft model's vocabulary has %d tokens, the model's %d: "
                            "not the same tokenizer", nd, nt);
        for (int i = 0; i < common; i++) {
            size_t la, lb;
            const char *a = adm_vocab_piece(v, i, &la), *b = adm_vocab_piece(dv, i, &lb);
            if (la != lb || (la && memcmp(a, b, la) != 0))
                return adm_fail(err, ADM_ERR_INVALID_ARG, "the draft model's token %d differs from the model's: not "
                                "the same tokenizer", i);
        }
    }
    adm_slot *s = adm_calloc(1, sizeof(*s));
    if (!s) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    s->seq = seq;
    s->draft = draft;
    s->vocab = v;
    s->n_vocab = m->hp.n_vocab;
    s->row = adm_alloc((size_t)s->n_vocab * sizeof(float));
    if (!s->row) {
        adm_free(s);
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    }
    atomic_init(&s->cancel, false);
    *out = s;
    return ADM_OK;
}

void adm_slot_free(adm_slot *s) {
    if (!s) return;
    adm_sampler_free(s->own_smp);
    adm_detok_free(s->dt);
    adm_free(s->row);
    adm_free(s->prompt);
    adm_free(s->stop_store);
    adm_free(s->text);
    adm_free(s->out);
    adm_free(s->toks);
    adm_free(s);
}

adm_seq *adm_slot_seq(const adm_slot *s) { return s->seq; }

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap *= 2;
    void *np = adm_alloc(ncap * elem);
    if (!np) return false;
    if (*p) memcpy(np, *p, *cap * elem);
    adm_free(*p);
    *p = np;
    *cap = ncap;
    return true;
}

/* Common setup of start and resume: parameters, sampler, detokenizer, text. */
static adm_status begin(adm_slot *s, const adm_gen_params *gp, adm_error *err) {
    if (s->state == ADM_SLOT_PROMPT || s->state == ADM_SLOT_GENERATING)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "the slot is busy with another request");
    adm_gen_params p = gp ? *gp : adm_gen_default_params();
    if (p.n_stops < 0 || p.n_stops > ADM_MAX_STOPS)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "at most %d stop strings", ADM_MAX_STOPS);
    if (p.lookup < 0 || p.lookup > ADM_MAX_DRAFT || p.draft_max < 0 || p.draft_max > ADM_MAX_DRAFT)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "at most %d speculative guesses per step", ADM_MAX_DRAFT);
    if (p.n_probs > ADM_MAX_LOGPROBS)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "at most %d alternatives per token (logprobs)", ADM_MAX_LOGPROBS);
    if (p.lookup_ngram <= 0) p.lookup_ngram = 3;
    if (p.draft_max == 0) p.draft_max = 8;
    /* Stop strings are copied: the request's buffers may go away. */
    size_t total = 0, longest = 0;
    for (int i = 0; i < p.n_stops; i++) {
        if (!p.stops[i] || !p.stops[i][0]) return adm_fail(err, ADM_ERR_INVALID_ARG, "stop strings must not be empty");
        total += strlen(p.stops[i]) + 1;
        longest = ADM_MAX(longest, strlen(p.stops[i]));
    }
    char *store = total ? adm_alloc(total) : NULL;
    if (total && !store) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    for (int i = 0, off = 0; i < p.n_stops; i++) {
        const size_t l = strlen(p.stops[i]) + 1;
        memcpy(store + off, p.stops[i], l);
        p.stops[i] = store + off;
        off += (int)l;
    }
    adm_detok *dt = NULL;
    adm_status st = adm_detok_create(s->vocab, (p.special ? ADM_DETOK_SPECIAL : 0) |
                                                   (p.strip_space ? ADM_DETOK_STRIP_SPACE : 0), &dt, err);
    adm_sampler *smp = NULL;
    if (st == ADM_OK && !p.sampler) st = adm_sampler_create(&p.sampling, s->n_vocab, &smp, err);
    /* The grammar lives in the sampler: every token it returns is taken. */
    if (st == ADM_OK && smp && p.grammar) st = adm_sampler_set_grammar(smp, p.grammar, err);
    if (st != ADM_OK) {
        adm_free(store);
        adm_detok_free(dt);
        adm_sampler_free(smp);
        return st;
    }
    adm_free(s->stop_store);
    s->stop_store = store;
    s->max_stop = longest;
    adm_detok_free(s->dt);
    s->dt = dt;
    adm_sampler_free(s->own_smp);
    s->own_smp = smp;
    s->smp = p.sampler ? p.sampler : smp;
    s->gp = p;
    atomic_store(&s->cancel, false);
    s->finish = ADM_FINISH_NONE;
    memset(&s->error, 0, sizeof(s->error));
    s->len = s->ready = s->taken = 0;
    s->n_toks = s->n_cached = s->n_gen = s->n_drafted = s->n_accepted = 0;
    s->has_pending = false;
    s->n_guess = 0;
    s->acc_hits = 1.0; /* a prior of one hit in two tries */
    s->acc_tries = 2.0;
    s->n_prompt = s->fed = 0;
    s->t_start = adm_time_s();
    s->t_first = s->t_end = 0.0;
    return ADM_OK;
}

adm_status adm_slot_start(adm_slot *s, const int32_t *prompt, int n_prompt, const adm_gen_params *gp,
                          adm_error *err) {
    if (n_prompt < 1 || !prompt) return adm_fail(err, ADM_ERR_INVALID_ARG, "the prompt is empty");
    const int n_ctx = s->seq->p.n_ctx;
    if (n_prompt > n_ctx)
        return adm_fail(err, ADM_ERR_CONTEXT_FULL, "the prompt has %d tokens but the context holds %d", n_prompt, n_ctx);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= s->n_vocab)
            return adm_fail(err, ADM_ERR_INVALID_ARG, "token id %d at index %d is outside the vocabulary (0 to %d)",
                            prompt[i], i, s->n_vocab - 1);
    size_t cap = (size_t)s->cap_prompt;
    if (!grow((void **)&s->prompt, &cap, (size_t)n_prompt, sizeof(int32_t)))
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    s->cap_prompt = (int)cap;
    adm_status st = begin(s, gp, err);
    if (st != ADM_OK) return st;
    memcpy(s->prompt, prompt, (size_t)n_prompt * sizeof(int32_t));
    s->n_prompt = n_prompt;
    /* Keep the longest common prefix; the last prompt token is evaluated
     * again in any case, its logits being needed. */
    const int32_t *have = s->seq->tokens;
    int c = 0;
    while (c < s->seq->n_past && c < n_prompt - 1 && have[c] == prompt[c]) c++;
    adm_seq_truncate(s->seq, c);
    c = s->seq->n_past; /* less when the sliding-window rings do not reach back to c */
    s->fed = c;
    s->n_cached = c;
    if (!s->gp.sampler) {
        adm_sampler_reset(s->smp, true, s->gp.sampling.seed);
        for (int i = 0; i < n_prompt; i++) adm_sampler_accept(s->smp, prompt[i]);
    }
    s->state = ADM_SLOT_PROMPT;
    return ADM_OK;
}

adm_status adm_slot_resume(adm_slot *s, const float *logits, const adm_gen_params *gp, adm_error *err) {
    if (!logits) return adm_fail(err, ADM_ERR_INVALID_ARG, "no logits to resume from");
    if (s->seq->n_past < 1) return adm_fail(err, ADM_ERR_INVALID_ARG, "the sequence is empty: start it with a prompt");
    adm_status st = begin(s, gp, err);
    if (st != ADM_OK) return st;
    s->n_cached = s->seq->n_past;
    if (!s->gp.sampler) {
        adm_sampler_reset(s->smp, true, s->gp.sampling.seed);
        for (int i = 0; i < s->seq->n_past; i++) adm_sampler_accept(s->smp, s->seq->tokens[i]);
    }
    s->state = ADM_SLOT_GENERATING;
    memcpy(s->row, logits, (size_t)s->n_vocab * sizeof(float));
    slot_after_rows(s, s->row, 1);
    return ADM_OK;
}

void adm_slot_cancel(adm_slot *s) { atomic_store(&s->cancel, true); }

const char *adm_slot_take_text(adm_slot *s, size_t *len) {
    const size_t n = s->ready - s->taken;
    size_t cap = s->out_cap;
    if (!grow((void **)&s->out, &cap, n + 1, 1)) {
        *len = 0; /* kept for the next call */
        return "";
    }
    s->out_cap = cap;
    if (n) memcpy(s->out, s->text + s->taken, n);
    s->out[n] = 0;
    s->taken = s->ready;
    *len = n;
    return s->out;
}

adm_slot_info adm_slot_get_info(const adm_slot *s) {
    adm_slot_info i;
    memset(&i, 0, sizeof(i));
    i.state = s->state;
    i.finish = s->finish;
    i.error = s->error;
    i.n_prompt = s->n_prompt;
    i.n_cached = s->n_cached;
    i.n_gen = s->n_gen;
    i.n_drafted = s->n_drafted;
    i.n_accepted = s->n_accepted;
    const double now = s->state == ADM_SLOT_DONE ? s->t_end : adm_time_s();
    if (s->state != ADM_SLOT_IDLE) {
        i.t_prompt = (s->t_first > 0 ? s->t_first : now) - s->t_start;
        i.t_gen = s->t_first > 0 ? now - s->t_first : 0.0;
    }
    return i;
}

void adm_slot_release(adm_slot *s) {
    if (s->state != ADM_SLOT_DONE) return;
    s->state = ADM_SLOT_IDLE;
    /* The request's grammar is borrowed only until here: drop the
     * sampler's position in it (and its automaton's memory), so that the
     * caller may free the grammar now. */
    if (s->own_smp) adm_sampler_set_grammar(s->own_smp, NULL, NULL);
}

int adm_slot_n_tokens(const adm_slot *s) { return s->n_toks; }

const adm_gen_token *adm_slot_token(const adm_slot *s, int i) {
    return i >= 0 && i < s->n_toks ? &s->toks[i] : NULL;
}

/* ---- generation ---- */

void slot_end(adm_slot *s, adm_finish f, const adm_error *err) {
    if (s->n_guess > 0) {
        adm_seq_truncate(s->seq, s->seq->n_past - s->n_guess);
        s->n_guess = 0;
    }
    s->has_pending = false;
    s->finish = f;
    if (err) s->error = *err;
    if (f != ADM_FINISH_STOP && f != ADM_FINISH_ERROR) {
        /* Whatever the detokenizer held back is text now. */
        size_t n;
        const char *rest = adm_detok_flush(s->dt, &n);
        size_t cap = s->cap;
        if (grow((void **)&s->text, &cap, s->len + n + 1, 1)) {
            s->cap = cap;
            memcpy(s->text + s->len, rest, n);
            s->len += n;
            s->text[s->len] = 0;
        }
    }
    if (f != ADM_FINISH_STOP) s->ready = s->len;
    if (s->t_first == 0.0) s->t_first = adm_time_s();
    s->t_end = adm_time_s();
    s->order = 0;
    s->state = ADM_SLOT_DONE;
}

/* Length of the longest suffix of text[0..len) that is a proper prefix of a stop string. */
static size_t stop_prefix_tail(const adm_slot *s) {
    size_t best = 0;
    for (int i = 0; i < s->gp.n_stops; i++) {
        const char *st = s->gp.stops[i];
        for (size_t k = strlen(st) - 1; k > best; k--)
            if (k <= s->len && memcmp(s->text + s->len - k, st, k) == 0) {
                best = k;
                break;
            }
    }
    return best;
}

/* Earliest occurrence of a stop string at or after `from` (a stop cannot
 * start before the text handed out, which never ends in a stop's prefix). */
static long find_stop(const adm_slot *s, size_t from) {
    long best = -1;
    for (int i = 0; i < s->gp.n_stops; i++) {
        const char *p = strstr(s->text + from, s->gp.stops[i]);
        if (p && (best < 0 || p - s->text < best)) best = p - s->text;
    }
    return best;
}

/* The token's log-probability and the n_probs best under softmax(logits). */
static void record_probs(const float *logits, int n_vocab, int n_top, adm_gen_token *t) {
    float mx = -INFINITY;
    for (int i = 0; i < n_vocab; i++) mx = logits[i] > mx ? logits[i] : mx;
    double z = 0.0;
    for (int i = 0; i < n_vocab; i++) z += exp((double)(logits[i] - mx));
    const float lz = (float)log(z) + mx;
    t->logprob = logits[t->id] - lz;
    /* The n_top largest, kept sorted (n_top <= ADM_MAX_LOGPROBS: insertion is cheap). */
    t->n_top = 0;
    for (int i = 0; i < n_vocab && n_top > 0; i++) {
        const float l = logits[i];
        if (t->n_top == n_top && l <= t->top[n_top - 1].logprob) continue;
        int j = t->n_top < n_top ? t->n_top++ : n_top - 1;
        while (j > 0 && t->top[j - 1].logprob < l) {
            t->top[j] = t->top[j - 1];
            j--;
        }
        t->top[j] = (adm_token_prob){i, l};
    }
    for (int j = 0; j < t->n_top; j++) t->top[j].logprob -= lz;
}

/* Takes one sampled token: text, stop strings, limits. Returns false when
 * the request ended with it (the token itself is then not evaluated). */
static bool take(adm_slot *s, int32_t tok, const float *raw) {
    s->n_gen++;
    if (s->t_first == 0.0) s->t_first = adm_time_s();
    if (adm_vocab_is_eog(s->vocab, tok)) {
        slot_end(s, ADM_FINISH_EOG, NULL);
        return false;
    }
    adm_sampler_accept(s->smp, tok);
    adm_error err;
    size_t cap = (size_t)s->cap_toks;
    if (!grow((void **)&s->toks, &cap, (size_t)s->n_toks + 1, sizeof(adm_gen_token))) {
        adm_fail(&err, ADM_ERR_NOMEM, "out of memory");
        slot_end(s, ADM_FINISH_ERROR, &err);
        return false;
    }
    s->cap_toks = (int)cap;
    adm_gen_token *t = &s->toks[s->n_toks++];
    memset(t, 0, sizeof(*t));
    t->id = tok;
    if (s->gp.n_probs >= 0) record_probs(raw, s->n_vocab, s->gp.n_probs, t);
    size_t n;
    const char *piece = adm_detok_push(s->dt, tok, &n);
    cap = s->cap;
    if (!grow((void **)&s->text, &cap, s->len + n + 1, 1)) {
        adm_fail(&err, ADM_ERR_NOMEM, "out of memory");
        slot_end(s, ADM_FINISH_ERROR, &err);
        return false;
    }
    s->cap = cap;
    memcpy(s->text + s->len, piece, n);
    s->len += n;
    s->text[s->len] = 0;
    const long stop = s->gp.n_stops ? find_stop(s, s->ready) : -1;
    if (stop >= 0) {
        s->len = (size_t)stop;
        s->text[s->len] = 0;
        s->ready = s->len;
        slot_end(s, ADM_FINISH_STOP, NULL);
        return false;
    }
    const size_t ready = s->len - stop_prefix_tail(s);
    if (ready > s->ready) s->ready = ready;
    if (s->gp.n_predict >= 0 && s->n_gen >= s->gp.n_predict) {
        slot_end(s, ADM_FINISH_LENGTH, NULL);
        return false;
    }
    return true;
}

void slot_after_rows(adm_slot *s, float *logits, int n_rows) {
    const size_t nv = (size_t)s->n_vocab;
    const int k = n_rows - 1; /* guesses evaluated after the pending token */
    if (k > 0) s->n_drafted += k;
    int confirmed = 0;
    for (int i = 0; i < n_rows; i++) {
        float *row = logits + (size_t)i * nv;
        if (s->gp.n_predict >= 0 && s->n_gen >= s->gp.n_predict) {
            slot_end(s, ADM_FINISH_LENGTH, NULL);
            break;
        }
        /* Log-probabilities describe the model, before --ignore-eos masks. */
        const float *raw = row;
        if (s->gp.ignore_eos && s->gp.n_probs >= 0) {
            if (row != s->row) memcpy(s->row, row, nv * sizeof(float));
            raw = s->row;
        }
        if (s->gp.ignore_eos)
            for (int v = 0; v < s->n_vocab; v++)
                if (adm_vocab_is_eog(s->vocab, v)) row[v] = -INFINITY;
        const int32_t tok = adm_sampler_sample(s->smp, row);
        /* Guesses i .. k-1 stay in the cache only if confirmed below. */
        s->n_guess = k - i;
        if (!take(s, tok, raw)) break;
        if (s->seq->n_past - s->n_guess >= s->seq->p.n_ctx) {
            slot_end(s, ADM_FINISH_CTX_FULL, NULL);
            break;
        }
        if (i < k && tok == s->guess[i]) {
            /* A confirmed guess: the batch that put it in the cache also
             * computed the logits that follow it. */
            s->n_accepted++;
            confirmed++;
            continue;
        }
        if (s->n_guess > 0) adm_seq_truncate(s->seq, s->seq->n_past - s->n_guess);
        s->n_guess = 0;
        s->pending = tok;
        s->has_pending = true;
        break;
    }
    if (k > 0) {
        /* Acceptance per guess judged (those after a miss are not judged). */
        s->acc_hits = 0.9 * s->acc_hits + confirmed;
        s->acc_tries = 0.9 * s->acc_tries + ADM_MIN(k, confirmed + 1);
    }
    s->n_guess = 0;
}

/* The tokens that followed the latest earlier occurrence of the last n
 * tokens of seq[0..len), for n from `ngram` down to 1; at most max of them.
 * The latest occurrence followed by max tokens wins, or else the one
 * followed by the most (in a loop the latest occurrence is the previous
 * turn of it, followed by a single token). A linear scan from the end:
 * ~len compares per step, microseconds next to a decode step. */
static int lookup_draft(const int32_t *seq, int len, int ngram, int max, int32_t *draft) {
    for (int n = ngram < len - 1 ? ngram : len - 1; n >= 1; n--) {
        const int32_t *key = seq + len - n;
        int best = -1;
        for (int p = len - n - 1; p >= 0; p--) {
            if (seq[p] != key[0] || memcmp(seq + p, key, (size_t)n * sizeof(int32_t)) != 0) continue;
            best = p;
            if (len - (p + n) >= max) break;
        }
        if (best >= 0) {
            const int from = best + n, k = max < len - from ? max : len - from;
            memcpy(draft, seq + from, (size_t)k * sizeof(int32_t));
            return k;
        }
    }
    return 0;
}

void slot_lookup(adm_slot *s, int max) {
    s->n_guess = 0;
    if (max <= 0 || !s->has_pending) return;
    /* The text so far is the sequence's tokens and the pending one: the
     * cache has room for it (the token array holds n_ctx ids). */
    adm_seq *q = s->seq;
    if (q->n_past >= q->p.n_ctx) return;
    q->tokens[q->n_past] = s->pending;
    s->n_guess = lookup_draft(q->tokens, q->n_past + 1, s->gp.lookup_ngram, max, s->guess);
}

int slot_guess_budget(const adm_slot *s, int max, double threshold) {
    if (!s->gp.adaptive || max <= 0) return max;
    /* Guess i (from 1) is worth a row while the chance that guesses 1..i
     * are all confirmed, p^i, exceeds the row's cost relative to what a
     * confirmed token saves (threshold, from the scheduler's cost model). */
    const double p = s->acc_hits / s->acc_tries;
    int k = 0;
    double pk = p;
    while (k < max && pk > threshold) {
        k++;
        pk *= p;
    }
    /* Keep probing with one guess, so a slot whose text turns repetitive
     * gets its guesses back. */
    return k > 0 ? k : 1;
}
