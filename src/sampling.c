/*
 * sampling.c - turning logits into a token. Pure: no model access, no
 * allocation after creation (the candidate buffer is sized for the
 * vocabulary once). The chain follows llama.cpp's default order so that
 * the same settings mean the same thing to users of both.
 */
#include "base.h"
#include "grammar/grammar.h"
#include "kernels/kernels.h"
#include "sampling.h"

#include <math.h>
#include <stdlib.h>

typedef struct cand {
    int32_t id;
    float logit;
} cand;

struct adm_sampler {
    adm_sampler_params p;
    int n_vocab;
    cand *c;              /* (n_vocab) working candidates */
    cand *pen;            /* (penalty_last_n) the penalized tokens, in id order */
    float *probs;         /* (n_vocab) */
    int32_t *hist;        /* ring buffer of the last penalty_last_n tokens */
    int n_hist, hist_pos;
    uint64_t rng[4];
    const adm_kernels *kern;    /* next_above */
    const adm_grammar *grammar; /* optional, borrowed */
    adm_grammar_state *gs;      /* its position (owned) */
};

adm_sampler_params adm_sampler_default_params(void) {
    adm_sampler_params p = {0.8f, 40, 0.95f, 0.05f, 1.0f, 0.0f, 0.0f, 64, 0};
    return p;
}

/* xoshiro256** seeded through splitmix64. */
static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t *s) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static void seed_rng(adm_sampler *s, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix(&x);
}

adm_status adm_sampler_create(const adm_sampler_params *params, int n_vocab, adm_sampler **out, adm_error *err) {
    *out = NULL;
    adm_sampler_params p = params ? *params : adm_sampler_default_params();
    if (n_vocab < 1) return adm_fail(err, ADM_ERR_INVALID_ARG, "vocabulary size %d is invalid", n_vocab);
    if (p.top_k < 0 || !(p.top_p > 0.0f && p.top_p <= 1.0f) || !(p.min_p >= 0.0f && p.min_p <= 1.0f) ||
        !(p.repeat_penalty > 0.0f) || p.penalty_last_n < 0 || !isfinite(p.temp))
        return adm_fail(err, ADM_ERR_INVALID_ARG, "sampler settings out of range (top-k >= 0, 0 < top-p <= 1, "
                        "0 <= min-p <= 1, repeat penalty > 0)");
    adm_sampler *s = adm_calloc(1, sizeof(*s));
    if (!s) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    s->p = p;
    s->n_vocab = n_vocab;
    s->kern = adm_kernels_get();
    s->c = adm_alloc((size_t)n_vocab * sizeof(cand));
    s->probs = adm_alloc((size_t)n_vocab * sizeof(float));
    s->hist = adm_alloc((size_t)(p.penalty_last_n > 0 ? p.penalty_last_n : 1) * sizeof(int32_t));
    s->pen = adm_alloc((size_t)(p.penalty_last_n > 0 ? p.penalty_last_n : 1) * sizeof(cand));
    if (!s->c || !s->probs || !s->hist || !s->pen) {
        adm_sampler_free(s);
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    }
    seed_rng(s, p.seed);
    *out = s;
    return ADM_OK;
}

void adm_sampler_free(adm_sampler *s) {
    if (!s) return;
    adm_free(s->c);
    adm_free(s->probs);
    adm_free(s->hist);
    adm_free(s->pen);
    adm_grammar_state_free(s->gs);
    adm_free(s);
}

adm_status adm_sampler_set_grammar(adm_sampler *s, const adm_grammar *g, adm_error *err) {
    adm_grammar_state *gs = NULL;
    if (g) {
        if (gr_grammar_n_tokens(g) > s->n_vocab)
            return adm_fail(err, ADM_ERR_INVALID_ARG, "grammar: its vocabulary has %d tokens, the sampler's %d",
                            gr_grammar_n_tokens(g), s->n_vocab);
        adm_status st = adm_grammar_state_create(g, &gs, err);
        if (st != ADM_OK) return st;
    }
    adm_grammar_state_free(s->gs);
    s->gs = gs;
    s->grammar = g;
    return ADM_OK;
}

void adm_sampler_accept(adm_sampler *s, int32_t token) {
    if (s->p.penalty_last_n == 0) return;
    s->hist[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % s->p.penalty_last_n;
    if (s->n_hist < s->p.penalty_last_n) s->n_hist++;
}

void adm_sampler_reset(adm_sampler *s, bool reseed, uint64_t seed) {
    s->n_hist = 0;
    s->hist_pos = 0;
    if (s->gs) adm_grammar_state_reset(s->gs);
    if (reseed) seed_rng(s, seed);
}

/* Where id is in c[0..n), sorted by id; -1 if absent. */
static int find_id(const cand *c, int n, int32_t id) {
    int lo = 0, hi = n;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (c[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && c[lo].id == id ? lo : -1;
}

/* Repetition penalty divides positive logits and multiplies negative ones
 * (CTRL / llama.cpp); frequency and presence penalties subtract (OpenAI). */
static void apply_penalties(adm_sampler *s, cand *c, int n) {
    const adm_sampler_params *p = &s->p;
    if (s->n_hist == 0 || (p->repeat_penalty == 1.0f && p->freq_penalty == 0.0f && p->presence_penalty == 0.0f)) return;
    for (int i = 0; i < s->n_hist; i++) {
        const int32_t t = s->hist[i];
        if (t < 0 || t >= s->n_vocab) continue;
        int count = 0, first = -1;
        for (int j = 0; j < s->n_hist; j++)
            if (s->hist[j] == t) {
                if (first < 0) first = j;
                count++;
            }
        if (first != i) continue; /* each distinct token once */
        /* c is in id order: the whole vocabulary (c[t].id == t), the
         * tokens a grammar allows, or the penalized ones (top_sorted) */
        const int at = find_id(c, n, t);
        if (at < 0) continue;
        float *l = &c[at].logit;
        *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)count * p->freq_penalty + (count > 0 ? p->presence_penalty : 0.0f);
    }
}

/* Higher logit first; ties by lower id, so the order is total and stable. */
static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

static bool cand_before(const cand *x, const cand *y) {
    return x->logit > y->logit || (x->logit == y->logit && x->id < y->id);
}

/* Moves the k best candidates to the front (quickselect), in no order. */
static void select_top(cand *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        cand pivot = c[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (cand_before(&c[i], &pivot)) i++;
            while (cand_before(&pivot, &c[j])) j--;
            if (i <= j) {
                cand t = c[i];
                c[i] = c[j];
                c[j] = t;
                i++;
                j--;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

static void fill_candidates(adm_sampler *s, const float *logits) {
    cand *c = s->c;
    for (int i = 0; i < s->n_vocab; i++) {
        c[i].id = i;
        c[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
    }
    apply_penalties(s, c, s->n_vocab);
}

/* Heap of the k best so far, the worst at the root (cand_before order). */
static void heap_sift_down(cand *h, int n, int i) {
    for (;;) {
        int w = i;
        const int l = 2 * i + 1, r = l + 1;
        if (l < n && cand_before(&h[w], &h[l])) w = l;
        if (r < n && cand_before(&h[w], &h[r])) w = r;
        if (w == i) return;
        const cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void heap_push(cand *h, int *n, cand x) {
    int i = (*n)++;
    h[i] = x;
    while (i > 0 && cand_before(&h[(i - 1) / 2], &h[i])) {
        const cand t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void heap_offer(cand *h, int *n, int k, cand x) {
    if (*n < k) {
        heap_push(h, n, x);
    } else if (cand_before(&x, &h[0])) {
        h[0] = x;
        heap_sift_down(h, k, 0);
    }
}

/* The k best tokens of the whole vocabulary (penalties applied) into
 * c[0..k), best first: one pass over the logits against the worst of the
 * k best so far, instead of filling, partitioning and sorting n_vocab
 * candidates (1.1-1.5 ms -> 0.3 ms per token with the 151,669-token
 * Qwen2 vocabulary, bench_grammar; 0.06 ms with the kernel's scan for
 * the next logit above the worst kept). Logit-then-id is a total order,
 * so the k best are one set and the result is that of the full selection
 * (test_sampling compares the two). */
static void top_sorted(adm_sampler *s, const float *logits, int k) {
    const adm_sampler_params *p = &s->p;
    cand *h = s->c, *pen = s->pen;
    int m = 0, n = 0;
    if (s->n_hist > 0 && (p->repeat_penalty != 1.0f || p->freq_penalty != 0.0f || p->presence_penalty != 0.0f)) {
        /* the distinct recent tokens, in id order, with penalized logits */
        for (int i = 0; i < s->n_hist; i++) {
            const int32_t t = s->hist[i];
            if (t < 0 || t >= s->n_vocab || find_id(pen, m, t) >= 0) continue;
            int j = m++;
            for (; j > 0 && pen[j - 1].id > t; j--) pen[j] = pen[j - 1];
            pen[j] = (cand){t, isnan(logits[t]) ? -INFINITY : logits[t]};
        }
        apply_penalties(s, pen, m);
        for (int i = 0; i < m; i++) heap_offer(h, &n, k, pen[i]);
    }
    for (int i = 0; i < s->n_vocab; i++) {
        float v = logits[i];
        if (n == k) {
            /* The common case: not above the worst kept (NaN never is).
             * Without penalized entries every kept id is below i, so a tie
             * never displaces one and the kernel skips to the next logit
             * strictly above it (most of the vocabulary, 16 at a time). */
            if (m == 0) {
                i = s->kern->next_above(logits, i, s->n_vocab, h[0].logit);
                if (i == s->n_vocab) break;
                v = logits[i];
            }
            if (!(v > h[0].logit || (v == h[0].logit && i < h[0].id))) continue;
        } else if (isnan(v)) {
            v = -INFINITY;
        }
        if (m > 0 && find_id(pen, m, i) >= 0) continue;
        heap_offer(h, &n, k, (cand){i, v});
    }
    qsort(h, (size_t)n, sizeof(cand), cand_cmp);
}

static int32_t chain_sorted(adm_sampler *s, cand *c, int n);

/* The sampling chain over candidates c[0..n) (n >= 1), penalties applied. */
static int32_t pick(adm_sampler *s, cand *c, int n) {
    const adm_sampler_params *p = &s->p;
    if (p->temp <= 0.0f) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (cand_before(&c[i], &c[best])) best = i;
        return c[best].id;
    }
    /* top-k, then sort what is left (k is small, or the whole vocabulary
     * when top-p/min-p need an order and top-k is off). */
    if (p->top_k > 0 && p->top_k < n) {
        select_top(c, n, p->top_k);
        n = p->top_k;
    }
    qsort(c, (size_t)n, sizeof(cand), cand_cmp);
    return chain_sorted(s, c, n);
}

/* top-p, min-p, temperature and the draw over c[0..n), sorted best first. */
static int32_t chain_sorted(adm_sampler *s, cand *c, int n) {
    const adm_sampler_params *p = &s->p;
    /* Probabilities at temperature 1 decide top-p and min-p (llama.cpp
     * applies temperature last). */
    const float max = c[0].logit;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        s->probs[i] = expf(c[i].logit - max);
        sum += (double)s->probs[i];
    }
    if (p->top_p < 1.0f) {
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += (double)s->probs[i] / sum;
            if (cum >= (double)p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0.0f) {
        /* Keep tokens whose probability is at least min_p times the best's. */
        const float cut = logf(p->min_p);
        int k = 1;
        while (k < n && c[k].logit - max >= cut) k++;
        n = k;
    }
    sum = 0;
    for (int i = 0; i < n; i++) {
        s->probs[i] = expf((c[i].logit - max) / p->temp);
        sum += (double)s->probs[i];
    }
    const double r = (double)(rng_next(s->rng) >> 11) * 0x1.0p-53 * sum;
    double cum = 0;
    for (int i = 0; i < n; i++) {
        cum += (double)s->probs[i];
        if (r < cum) return c[i].id;
    }
    return c[n - 1].id;
}

/* With a grammar and top-k on: the 4k best candidates are selected and
 * sorted (instead of k), the first k drawn from. When the grammar refuses
 * the token drawn, the restricted top-k (the k best allowed tokens, which
 * llama.cpp's order "grammar, then the chain" samples from) is found among
 * those 4k by checking each token alone, as soon as at least k of them are
 * allowed: any allowed token further down ranks below all of them. Only
 * when fewer are allowed is the full mask computed. */
#define GRAMMAR_WIDE 4

/* The whole vocabulary's chain. fast: top_sorted where only the best few
 * matter (greedy, top-k); otherwise (and for the tests' reference) every
 * candidate is filled and selected. */
static int32_t sample_plain(adm_sampler *s, const float *logits, bool fast) {
    const adm_sampler_params *p = &s->p;
    if (fast && p->temp <= 0.0f) {
        top_sorted(s, logits, 1);
        return s->c[0].id;
    }
    if (fast && p->top_k > 0 && p->top_k < s->n_vocab) {
        top_sorted(s, logits, p->top_k);
        return chain_sorted(s, s->c, p->top_k);
    }
    fill_candidates(s, logits);
    return pick(s, s->c, s->n_vocab);
}

int32_t adm_sampler_sample_reference(adm_sampler *s, const float *logits) {
    if (s->gs) return adm_sampler_sample(s, logits);
    return sample_plain(s, logits, false);
}

int32_t adm_sampler_sample(adm_sampler *s, const float *logits) {
    const adm_sampler_params *p = &s->p;
    cand *c = s->c;
    if (!s->gs) return sample_plain(s, logits, true);
    int32_t tok;
    const int k = p->top_k;
    if (p->temp > 0.0f && k > 0 && (int64_t)k * GRAMMAR_WIDE < s->n_vocab) {
        const int wide = k * GRAMMAR_WIDE;
        top_sorted(s, logits, wide);
        /* The cheap path: most of the time the token drawn freely is one
         * the grammar allows, and checking it costs a few table lookups. */
        tok = chain_sorted(s, c, k);
        if (adm_grammar_state_accept(s->gs, tok)) return tok;
        int m = 0;
        for (int i = 0; i < wide; i++)
            if (adm_grammar_state_allows(s->gs, c[i].id)) c[m++] = c[i]; /* stays sorted */
        if (m >= k) {
            tok = chain_sorted(s, c, k);
            adm_grammar_state_accept(s->gs, tok);
            return tok;
        }
    } else {
        fill_candidates(s, logits);
        tok = pick(s, c, s->n_vocab);
        if (adm_grammar_state_accept(s->gs, tok)) return tok;
    }
    /* Draw again among the allowed tokens only, gathered in id order
     * (often a few dozen: cheaper than refilling the whole vocabulary). */
    const uint64_t *mask = adm_grammar_state_mask(s->gs);
    const int n_tok = gr_grammar_n_tokens(s->grammar);
    int n = 0;
    if (mask) {
        for (int w = 0; w < (n_tok + 63) / 64; w++) {
            for (uint64_t bits = mask[w]; bits; bits &= bits - 1) {
                const int i = w * 64 + __builtin_ctzll(bits);
                c[n].id = i;
                c[n++].logit = isnan(logits[i]) ? -INFINITY : logits[i];
            }
        }
    }
    if (n == 0) return gr_grammar_fallback_end(s->grammar);
    apply_penalties(s, c, n);
    tok = pick(s, c, n);
    adm_grammar_state_accept(s->gs, tok);
    return tok;
}
