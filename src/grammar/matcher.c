/*
 * matcher.c - where a sequence stands in its grammar, and which tokens may
 * come next.
 *
 * The position is a set of stacks (the grammar is context-free, and
 * ambiguous grammars keep several readings alive). A stack is a chain of
 * frames, each "continue at element pos, then return to the parent frame";
 * the top frame always stands at a byte set. Frames are hash-consed, so a
 * stack is one frame id and a set of stacks is a sorted array of ids;
 * frame 0 is the bottom sentinel, and a set containing it may end here.
 * Calls in tail position push nothing, so repetitions (x*, strings of any
 * length) run in constant stack depth.
 *
 * Sets of stacks are interned as the states of a lazily built automaton:
 * the transition of a state by a byte class is computed once (advance
 * every stack whose top set holds the byte, then expand rule calls until
 * every top stands at a byte set) and cached in a dense row. The allowed
 * tokens are then found by one preorder walk of the vocabulary's byte trie,
 * carrying the state per depth and skipping every subtree whose prefix
 * kills all stacks: a node costs one table load once the automaton is warm.
 * The resulting bitmap is cached per starting state, since generation keeps
 * coming back to the same places (inside a string, after a comma).
 *
 * Memory is bounded: past soft limits the automaton is dropped and rebuilt
 * from the current position at the next call; past hard limits (mid-walk)
 * transitions are treated as dead without being cached. Stacks deeper than
 * GR_MAX_DEPTH and sets over GR_MAX_STACKS stacks are cut, and so is the
 * work of one transition (GR_MAX_CLOSURE frames expanded) and of one mask
 * (GR_MAX_MASK_WORK in all: transitions past it count as dead, and such a
 * mask is not cached).
 */
#include "grammar/grammar.h"

#include <stdlib.h>

#define FR_SOFT (1u << 20)
#define FR_HARD (1u << 22)
#define TR_SOFT (1u << 22) /* transition entries */
#define TR_HARD (1u << 24)
#define POOL_SOFT (1u << 22)
#define POOL_HARD (1u << 24)
#define N_MASK_CACHE 8

typedef struct frame {
    uint32_t pos, parent, depth;
} frame;

typedef struct mask_entry {
    uint32_t state;  /* 0: empty slot */
    uint64_t used;   /* LRU stamp */
    uint64_t *bits;
} mask_entry;

struct gr_matcher {
    const gr_program *g;
    const gr_trie *t;
    uint32_t nc; /* byte classes */

    frame *fr;
    uint32_t n_fr, cap_fr;
    uint32_t *fr_slot; /* hash (pos, parent) -> frame id + 1 */
    uint32_t fr_slot_cap;
    uint32_t *mark;    /* per frame: visit stamp */
    uint32_t cap_mark;
    uint32_t stamp;

    uint32_t *st_off, *st_len; /* state -> its frames in pool */
    uint32_t n_st, cap_st;
    uint32_t *pool;
    uint32_t n_pool, cap_pool;
    uint32_t *st_slot;
    uint32_t st_slot_cap;
    int32_t *trans;   /* n_st * nc, -1: not computed */
    uint32_t cap_trans; /* in states */

    uint32_t init, cur;
    bool overflow;    /* a limit cut something (diagnostics) */
    uint64_t spent;   /* frames expanded by closures so far (for GR_MAX_MASK_WORK) */
    bool no_cache;    /* benchmarks: recompute every mask */

    uint32_t *work, cap_work;
    uint32_t *out, cap_out;
    uint32_t *walk; /* per trie depth */

    uint64_t *mask;
    uint32_t mask_words;
    mask_entry cache[N_MASK_CACHE];
    uint64_t clock;
};

static bool grow_u32(uint32_t **p, uint32_t *cap, uint64_t need) {
    if (need <= *cap) return true;
    uint64_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    if (nc > UINT32_MAX / 8) return false;
    uint32_t *q = adm_alloc((size_t)nc * sizeof(uint32_t));
    if (!q) return false;
    if (*p) memcpy(q, *p, (size_t)*cap * sizeof(uint32_t));
    adm_free(*p);
    *p = q;
    *cap = (uint32_t)nc;
    return true;
}

static inline uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* ------------------------------------------------------------------------ */
/* Frames                                                                   */
/* ------------------------------------------------------------------------ */

static bool fr_rehash(gr_matcher *m, uint32_t cap) {
    uint32_t *s = adm_calloc(cap, sizeof(uint32_t));
    if (!s) return false;
    for (uint32_t f = 1; f < m->n_fr; f++) {
        uint32_t k = (uint32_t)mix(((uint64_t)m->fr[f].pos << 32) | m->fr[f].parent) & (cap - 1);
        while (s[k]) k = (k + 1) & (cap - 1);
        s[k] = f + 1;
    }
    adm_free(m->fr_slot);
    m->fr_slot = s;
    m->fr_slot_cap = cap;
    return true;
}

/* The frame (pos, parent), created if new; 0 on a limit or no memory. */
static uint32_t fr_get(gr_matcher *m, uint32_t pos, uint32_t parent) {
    const uint64_t key = ((uint64_t)pos << 32) | parent;
    uint32_t k = (uint32_t)mix(key) & (m->fr_slot_cap - 1);
    for (; m->fr_slot[k]; k = (k + 1) & (m->fr_slot_cap - 1)) {
        const frame *f = &m->fr[m->fr_slot[k] - 1];
        if (f->pos == pos && f->parent == parent) return m->fr_slot[k] - 1;
    }
    const uint32_t depth = m->fr[parent].depth + 1;
    if (depth > GR_MAX_DEPTH || m->n_fr >= FR_HARD) {
        m->overflow = true;
        return 0;
    }
    /* keep the table at most half full (a failed growth refuses the frame) */
    if ((uint64_t)(m->n_fr + 1) * 2 > m->fr_slot_cap) {
        if (!fr_rehash(m, m->fr_slot_cap * 2)) return 0;
        k = (uint32_t)mix(key) & (m->fr_slot_cap - 1);
        while (m->fr_slot[k]) k = (k + 1) & (m->fr_slot_cap - 1);
    }
    if (m->n_fr >= m->cap_fr) {
        const uint32_t nc = m->cap_fr * 2;
        frame *q = adm_alloc((size_t)nc * sizeof(frame));
        if (!q) return 0;
        memcpy(q, m->fr, (size_t)m->n_fr * sizeof(frame));
        adm_free(m->fr);
        m->fr = q;
        m->cap_fr = nc;
    }
    if (!grow_u32(&m->mark, &m->cap_mark, (uint64_t)m->n_fr + 1)) return 0;
    const uint32_t id = m->n_fr++;
    m->fr[id] = (frame){pos, parent, depth};
    m->mark[id] = 0;
    m->fr_slot[k] = id + 1;
    return id;
}

/* ------------------------------------------------------------------------ */
/* Closure: expand calls until every stack's top stands at a byte set       */
/* ------------------------------------------------------------------------ */

static bool push_work(gr_matcher *m, uint32_t *n_work, uint32_t f) {
    if (m->mark[f] == m->stamp) return true;
    m->mark[f] = m->stamp;
    if (!grow_u32(&m->work, &m->cap_work, (uint64_t)*n_work + 1)) return false;
    m->work[(*n_work)++] = f;
    return true;
}

/* Queues "continue at pos, return to parent". */
static bool visit(gr_matcher *m, uint32_t *n_work, uint32_t pos, uint32_t parent, bool *accept) {
    if (m->g->elems[pos].kind == GR_END) {
        if (parent == 0) {
            *accept = true;
            return true;
        }
        return push_work(m, n_work, parent);
    }
    const uint32_t f = fr_get(m, pos, parent);
    if (f == 0) return !m->overflow ? false : true;
    return push_work(m, n_work, f);
}

/* Runs the work list; the resulting tops go to m->out[0 .. *n_out). */
static bool closure(gr_matcher *m, uint32_t n_work, uint32_t *n_out, bool *accept) {
    const gr_program *g = m->g;
    for (uint32_t done = 0; n_work; done++) {
        if (done >= GR_MAX_CLOSURE) { /* the rest of the work list is dropped */
            m->overflow = true;
            break;
        }
        m->spent++;
        const uint32_t f = m->work[--n_work];
        const frame fr = m->fr[f];
        const gr_elem e = g->elems[fr.pos];
        if (e.kind == GR_SET) {
            if (*n_out >= GR_MAX_STACKS) {
                m->overflow = true;
                continue;
            }
            if (!grow_u32(&m->out, &m->cap_out, (uint64_t)*n_out + 2)) return false;
            m->out[(*n_out)++] = f;
            continue;
        }
        /* a call: return to the element after it, or straight to our
         * parent when the call is the last element (tail call) */
        uint32_t cont = fr.parent;
        if (g->elems[fr.pos + 1].kind != GR_END) {
            cont = fr_get(m, fr.pos + 1, fr.parent);
            if (cont == 0) {
                if (!m->overflow) return false;
                continue;
            }
        }
        for (uint32_t a = g->rule_alt[e.arg]; a < g->rule_alt[e.arg + 1]; a++)
            if (!visit(m, &n_work, g->alt_start[a], cont, accept)) return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* States                                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t set_hash(const uint32_t *s, uint32_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (uint32_t k = 0; k < n; k++) h = mix(h ^ s[k]) + k;
    return h;
}

static bool st_rehash(gr_matcher *m, uint32_t cap) {
    uint32_t *s = adm_calloc(cap, sizeof(uint32_t));
    if (!s) return false;
    for (uint32_t i = 1; i < m->n_st; i++) {
        uint32_t k = (uint32_t)set_hash(m->pool + m->st_off[i], m->st_len[i]) & (cap - 1);
        while (s[k]) k = (k + 1) & (cap - 1);
        s[k] = i + 1;
    }
    adm_free(m->st_slot);
    m->st_slot = s;
    m->st_slot_cap = cap;
    return true;
}

static int u32_cmp(const void *a, const void *b) {
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The state of the set m->out[0..n) (sorted here); 0 for the empty set,
 * UINT32_MAX on a limit or no memory. */
static uint32_t st_intern(gr_matcher *m, uint32_t n) {
    if (n == 0) return 0;
    uint32_t *s = m->out;
    if (n > 1) qsort(s, n, sizeof(uint32_t), u32_cmp);
    const uint64_t h = set_hash(s, n);
    uint32_t k = (uint32_t)h & (m->st_slot_cap - 1);
    for (; m->st_slot[k]; k = (k + 1) & (m->st_slot_cap - 1)) {
        const uint32_t i = m->st_slot[k] - 1;
        if (m->st_len[i] == n && !memcmp(m->pool + m->st_off[i], s, (size_t)n * sizeof(uint32_t))) return i;
    }
    if ((uint64_t)(m->n_st + 1) * m->nc > TR_HARD || (uint64_t)m->n_pool + n > POOL_HARD) {
        m->overflow = true;
        return UINT32_MAX;
    }
    if ((uint64_t)(m->n_st + 1) * 2 > m->st_slot_cap) {
        if (!st_rehash(m, m->st_slot_cap * 2)) return UINT32_MAX;
        k = (uint32_t)h & (m->st_slot_cap - 1);
        while (m->st_slot[k]) k = (k + 1) & (m->st_slot_cap - 1);
    }
    if (!grow_u32(&m->pool, &m->cap_pool, (uint64_t)m->n_pool + n)) return UINT32_MAX;
    if (m->n_st >= m->cap_st) {
        uint32_t c1 = m->cap_st, c2 = m->cap_st;
        if (!grow_u32(&m->st_off, &c1, (uint64_t)m->n_st + 1) || !grow_u32(&m->st_len, &c2, (uint64_t)m->n_st + 1))
            return UINT32_MAX;
        m->cap_st = c1 < c2 ? c1 : c2;
    }
    if (m->n_st >= m->cap_trans) {
        const uint32_t nc = m->cap_trans * 2;
        int32_t *q = adm_alloc((size_t)nc * m->nc * sizeof(int32_t));
        if (!q) return UINT32_MAX;
        memcpy(q, m->trans, (size_t)m->n_st * m->nc * sizeof(int32_t));
        adm_free(m->trans);
        m->trans = q;
        m->cap_trans = nc;
    }
    const uint32_t id = m->n_st++;
    m->st_off[id] = m->n_pool;
    m->st_len[id] = n;
    if (n) memcpy(m->pool + m->n_pool, s, (size_t)n * sizeof(uint32_t));
    m->n_pool += n;
    memset(m->trans + (size_t)id * m->nc, 0xFF, (size_t)m->nc * sizeof(int32_t));
    m->st_slot[k] = id + 1;
    return id;
}

static inline bool st_accepts(const gr_matcher *m, uint32_t s) {
    return s != 0 && m->pool[m->st_off[s]] == 0;
}

/* The state after byte class c from state s (0: dead). */
static uint32_t step_slow(gr_matcher *m, uint32_t s, uint32_t c) {
    const gr_program *g = m->g;
    const unsigned byte = g->rep[c];
    if (++m->stamp == 0) {
        memset(m->mark, 0, (size_t)m->n_fr * sizeof(uint32_t));
        m->stamp = 1;
    }
    uint32_t n_work = 0;
    bool accept = false, ok = true;
    const uint32_t off = m->st_off[s], len = m->st_len[s];
    for (uint32_t k = 0; k < len && ok; k++) {
        const uint32_t f = m->pool[off + k];
        if (f == 0) continue;
        const frame fr = m->fr[f];
        if (gr_set_has(g, g->elems[fr.pos].arg, byte)) ok = visit(m, &n_work, fr.pos + 1, fr.parent, &accept);
    }
    uint32_t n_out = 0;
    if (!ok || !closure(m, n_work, &n_out, &accept)) return 0;
    if (accept) { /* the bottom sentinel marks "may end here" */
        if (!grow_u32(&m->out, &m->cap_out, (uint64_t)n_out + 1)) return 0;
        m->out[n_out++] = 0;
    }
    const uint32_t t = st_intern(m, n_out);
    if (t == UINT32_MAX) return 0; /* not cached: retried after the next flush */
    m->trans[(size_t)s * m->nc + c] = (int32_t)t;
    return t;
}

static inline uint32_t step(gr_matcher *m, uint32_t s, unsigned byte) {
    const uint32_t c = m->g->byte_class[byte];
    const int32_t t = m->trans[(size_t)s * m->nc + c];
    return t >= 0 ? (uint32_t)t : step_slow(m, s, c);
}

/* The start state: every alternative of root. */
static uint32_t initial_state(gr_matcher *m) {
    const gr_program *g = m->g;
    if (++m->stamp == 0) {
        memset(m->mark, 0, (size_t)m->n_fr * sizeof(uint32_t));
        m->stamp = 1;
    }
    uint32_t n_work = 0, n_out = 0;
    bool accept = false;
    for (uint32_t a = g->rule_alt[g->root]; a < g->rule_alt[g->root + 1]; a++)
        if (!visit(m, &n_work, g->alt_start[a], 0, &accept)) return 0;
    if (!closure(m, n_work, &n_out, &accept)) return 0;
    if (accept) {
        if (!grow_u32(&m->out, &m->cap_out, (uint64_t)n_out + 1)) return 0;
        m->out[n_out++] = 0;
    }
    const uint32_t s = st_intern(m, n_out);
    return s == UINT32_MAX ? 0 : s;
}

/* Empties the tables (frame 0 and dead state 0 stay). */
static bool clear_tables(gr_matcher *m) {
    m->n_fr = 1;
    m->fr[0] = (frame){m->g->n_elems, 0, 0};
    m->mark[0] = 0;
    m->stamp = 0;
    memset(m->fr_slot, 0, (size_t)m->fr_slot_cap * sizeof(uint32_t));
    m->n_st = 1;
    m->st_off[0] = 0;
    m->st_len[0] = 0;
    m->n_pool = 0;
    memset(m->st_slot, 0, (size_t)m->st_slot_cap * sizeof(uint32_t));
    memset(m->trans, 0, (size_t)m->nc * sizeof(int32_t)); /* dead stays dead */
    for (int i = 0; i < N_MASK_CACHE; i++) m->cache[i].state = 0;
    return true;
}

/* Drops the automaton when it grew past the soft limits, keeping the
 * current position (its stacks are re-interned frame by frame). */
static void maybe_flush(gr_matcher *m) {
    if (m->n_fr < FR_SOFT && (uint64_t)m->n_st * m->nc < TR_SOFT && m->n_pool < POOL_SOFT) return;
    /* Save the current stacks as position lists, top first, 0-separated
     * ... positions are < n_elems, so n_elems + 1 marks "accept". */
    const uint32_t off = m->st_off[m->cur], len = m->st_len[m->cur];
    uint32_t *save = NULL, n_save = 0, cap_save = 0;
    bool ok = true;
    for (uint32_t k = 0; k < len && ok; k++) {
        uint32_t f = m->pool[off + k];
        const uint32_t start = n_save;
        if (!grow_u32(&save, &cap_save, (uint64_t)n_save + m->fr[f].depth + 2)) ok = false;
        for (; ok && f != 0; f = m->fr[f].parent) save[n_save++] = m->fr[f].pos;
        if (ok) save[n_save++] = UINT32_MAX; /* end of this stack */
        (void)start;
    }
    clear_tables(m);
    m->init = initial_state(m);
    if (!ok) {
        m->cur = m->init;
        adm_free(save);
        return;
    }
    /* Rebuild every stack bottom-up. */
    uint32_t n_out = 0, k = 0;
    uint32_t *ids = NULL, n_ids = 0, cap_ids = 0;
    while (k < n_save && ok) {
        uint32_t e = k;
        while (save[e] != UINT32_MAX) e++;
        uint32_t f = 0;
        for (uint32_t q = e; q > k && ok; q--) {
            f = fr_get(m, save[q - 1], f);
            if (f == 0) ok = false;
        }
        if (ok && !grow_u32(&ids, &cap_ids, (uint64_t)n_ids + 1)) ok = false;
        if (ok) ids[n_ids++] = f; /* f == 0 for the accept marker */
        k = e + 1;
    }
    if (ok && grow_u32(&m->out, &m->cap_out, (uint64_t)n_ids + 1)) {
        if (n_ids) memcpy(m->out, ids, (size_t)n_ids * sizeof(uint32_t));
        n_out = n_ids;
        const uint32_t s = st_intern(m, n_out);
        m->cur = s == UINT32_MAX ? m->init : s;
    } else {
        m->cur = m->init;
    }
    adm_free(ids);
    adm_free(save);
}

/* ------------------------------------------------------------------------ */
/* Public (internal) interface                                              */
/* ------------------------------------------------------------------------ */

void gr_matcher_free(gr_matcher *m) {
    if (!m) return;
    adm_free(m->fr);
    adm_free(m->fr_slot);
    adm_free(m->mark);
    adm_free(m->st_off);
    adm_free(m->st_len);
    adm_free(m->pool);
    adm_free(m->st_slot);
    adm_free(m->trans);
    adm_free(m->work);
    adm_free(m->out);
    adm_free(m->walk);
    adm_free(m->mask);
    for (int i = 0; i < N_MASK_CACHE; i++) adm_free(m->cache[i].bits);
    adm_free(m);
}

adm_status gr_matcher_create(const gr_program *g, const gr_trie *t, gr_matcher **out, adm_error *err) {
    *out = NULL;
    gr_matcher *m = adm_calloc(1, sizeof(*m));
    if (!m) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    m->g = g;
    m->t = t;
    m->nc = g->n_classes;
    m->cap_fr = 1024;
    m->fr = adm_alloc(m->cap_fr * sizeof(frame));
    m->cap_mark = 1024;
    m->mark = adm_alloc(m->cap_mark * sizeof(uint32_t));
    m->fr_slot_cap = 4096;
    m->fr_slot = adm_calloc(m->fr_slot_cap, sizeof(uint32_t));
    m->cap_st = 256;
    m->st_off = adm_alloc(m->cap_st * sizeof(uint32_t));
    m->st_len = adm_alloc(m->cap_st * sizeof(uint32_t));
    m->st_slot_cap = 1024;
    m->st_slot = adm_calloc(m->st_slot_cap, sizeof(uint32_t));
    m->cap_trans = 256;
    m->trans = adm_alloc((size_t)m->cap_trans * m->nc * sizeof(int32_t));
    m->walk = adm_alloc(((size_t)(t ? t->max_depth : 0) + 1) * sizeof(uint32_t));
    m->mask_words = t ? (uint32_t)((t->n_tokens + 63) / 64) : 0;
    m->mask = adm_alloc(((size_t)m->mask_words + 1) * sizeof(uint64_t));
    if (!m->fr || !m->mark || !m->fr_slot || !m->st_off || !m->st_len || !m->st_slot || !m->trans || !m->walk ||
        !m->mask) {
        gr_matcher_free(m);
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    }
    clear_tables(m);
    m->init = m->cur = initial_state(m);
    if (m->init == 0) {
        gr_matcher_free(m);
        return adm_fail(err, ADM_ERR_NOMEM, "grammar: out of memory (or over the matcher's limits) at the start");
    }
    *out = m;
    return ADM_OK;
}

void gr_matcher_reset(gr_matcher *m) {
    maybe_flush(m);
    m->cur = m->init;
}

bool gr_matcher_can_end(const gr_matcher *m) { return st_accepts(m, m->cur); }

bool gr_matcher_stuck(const gr_matcher *m) { return m->cur == 0; }

bool gr_matcher_cut(const gr_matcher *m) { return m->overflow; }

/* The state after the token's bytes from state s (0: not allowed). */
static uint32_t run_token(gr_matcher *m, uint32_t s, int32_t tok) {
    const gr_trie *t = m->t;
    if (tok < 0 || tok >= t->n_tokens) return 0;
    if (t->kind[tok] != GR_TOK_TEXT) return 0;
    for (uint32_t k = t->tok_off[tok]; k < t->tok_off[tok + 1] && s != 0; k++) s = step(m, s, t->bytes[k]);
    return s;
}

bool gr_matcher_allows(gr_matcher *m, int32_t tok) {
    maybe_flush(m);
    if (tok >= 0 && tok < m->t->n_tokens && m->t->kind[tok] == GR_TOK_EOG) return st_accepts(m, m->cur);
    return run_token(m, m->cur, tok) != 0;
}

bool gr_matcher_accept(gr_matcher *m, int32_t tok) {
    maybe_flush(m);
    if (tok >= 0 && tok < m->t->n_tokens && m->t->kind[tok] == GR_TOK_EOG) return st_accepts(m, m->cur);
    const uint32_t s = run_token(m, m->cur, tok);
    if (s == 0) return false;
    m->cur = s;
    return true;
}

bool gr_matcher_accept_bytes(gr_matcher *m, const uint8_t *b, size_t n) {
    maybe_flush(m);
    uint32_t s = m->cur;
    for (size_t k = 0; k < n && s != 0; k++) s = step(m, s, b[k]);
    if (s == 0) return false;
    m->cur = s;
    return true;
}

const uint64_t *gr_matcher_mask(gr_matcher *m) {
    maybe_flush(m);
    const gr_trie *t = m->t;
    const uint32_t start = m->cur;
    mask_entry *hit = NULL, *victim = &m->cache[0];
    for (int i = 0; i < N_MASK_CACHE; i++) {
        mask_entry *e = &m->cache[i];
        if (e->state == start && e->bits && start != 0 && !m->no_cache) hit = e;
        if (e->used < victim->used) victim = e;
    }
    m->clock++;
    if (hit) {
        hit->used = m->clock;
        return hit->bits;
    }
    uint64_t *mask = m->mask;
    memset(mask, 0, (size_t)m->mask_words * sizeof(uint64_t));
    const uint64_t budget = m->spent + GR_MAX_MASK_WORK;
    bool cut = false;
    if (start != 0) {
        uint32_t *st = m->walk;
        st[0] = start;
        const gr_tnode *nodes = t->nodes;
        const uint8_t *cls = m->g->byte_class;
        const int32_t *trans = m->trans;
        const uint32_t nc = m->nc, n = t->n_nodes;
        for (uint32_t i = 0; i < n;) {
            const gr_tnode *nd = &nodes[i];
            const uint32_t s = st[nd->depth - 1], c = cls[nd->byte];
            int32_t x = trans[(size_t)s * nc + c];
            if (x < 0 && m->spent >= budget) {
                x = 0; /* over the work bound: counted as dead, not cached */
                cut = true;
            } else if (x < 0) {
                x = (int32_t)step_slow(m, s, c);
                trans = m->trans; /* may have moved */
            }
            if (x == 0) {
                i = (uint32_t)nd->end;
                continue;
            }
            st[nd->depth] = (uint32_t)x;
            if (nd->tok >= 0) mask[nd->tok >> 6] |= 1ull << (nd->tok & 63);
            i++;
        }
        for (uint32_t k = 0; k < t->n_dup; k++) {
            const int32_t d = t->dup[k][0], c = t->dup[k][1];
            if ((mask[c >> 6] >> (c & 63)) & 1) mask[d >> 6] |= 1ull << (d & 63);
        }
        if (st_accepts(m, start))
            for (uint32_t k = 0; k < t->n_eog; k++) mask[t->eog[k] >> 6] |= 1ull << (t->eog[k] & 63);
    }
    /* Cache it, unless the automaton was reset meanwhile or the work bound
     * cut it (limits). */
    if (cut) m->overflow = true;
    if (m->cur == start && !cut && (uint64_t)m->n_st * m->nc < TR_SOFT) {
        if (!victim->bits) victim->bits = adm_alloc(((size_t)m->mask_words + 1) * sizeof(uint64_t));
        if (victim->bits) {
            memcpy(victim->bits, mask, (size_t)m->mask_words * sizeof(uint64_t));
            victim->state = start;
            victim->used = m->clock;
        }
    }
    return mask;
}

void gr_matcher_cache_masks(gr_matcher *m, bool on) { m->no_cache = !on; }
