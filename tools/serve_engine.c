/*
 * serve_engine.c - the server's inference thread. It alone owns the
 * engine, the scheduler, the sequences and the slots: it starts queued
 * tasks on the idle slot whose sequence shares the longest prefix with
 * their prompt (adm_sched_pick), steps the scheduler while anything is
 * active (one tick = one batch over every active slot), and after each
 * tick copies each slot's new text and tokens into its task under the
 * mutex and wakes the connection waiting on it. It sleeps on a condition
 * variable when nothing is active.
 *
 * A connection that goes away cancels its task: a queued task is dropped
 * before it starts, a running one is stopped by adm_slot_cancel (the one
 * slot call other threads may make) at the next tick.
 *
 * Slot save/restore/erase (POST /slots/{id}) and the --cache-dir prefix
 * cache also run here, between ticks, with the mutex released during the
 * file I/O (only this thread touches sequences, so none is decoding): a
 * task whose prompt the slots hold less of than a cached file first gets
 * that file restored into its slot; a long prompt is saved once the tick
 * that evaluates its last token has run (the sequence then holds exactly
 * the prompt).
 */
#include "serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct slot_view {      /* what GET /slots shows, refreshed each tick */
    bool busy;
    int n_past, n_prompt, n_cached, n_gen;
    long long task;
} slot_view;

struct srv_engine {
    adm_model *model;
    const adm_vocab *vocab;
    adm_engine *eng;
    adm_model *dmodel;          /* -md */
    adm_engine *deng;
    adm_sched *sched;
    int n_slots, n_ctx;
    adm_seq **seqs, **dseqs;
    adm_slot **slots;
    srv_task **running;         /* per slot */
    slot_view *view;
    adm_attention attention;    /* the sequences' method (a request may ask for dense instead) */

    pthread_mutex_t mu;
    pthread_cond_t cv;          /* work for the inference thread */
    srv_task *qhead, *qtail;
    int n_queued, max_queue;
    bool stopping, quit;
    pthread_t thread;
    bool started;
    long long n_tasks;

    srv_slot_op *ophead, *optail;   /* POST /slots/{id} waiting for the thread */
    srv_dcache *dcache;             /* --cache-dir, or NULL */
    int *dc_save;                   /* per slot: prompt tokens to save once evaluated (0: none) */
    srv_dcache_stats dstats;        /* copied under the mutex for /metrics */
    uint64_t n_slot_saves, n_slot_restores, n_slot_erases;

    /* for GET /metrics, refreshed each tick */
    adm_sched_stats stats;
    uint64_t kv_bytes, code_bytes, mem_used;
    uint64_t n_requests_done;
};

static void cond_init_monotonic(pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

srv_task *srv_task_new(void) {
    srv_task *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    cond_init_monotonic(&t->cv);
    t->refs = 1;
    t->slot_id = -1;
    t->gp = adm_gen_default_params();
    return t;
}

static void task_free(srv_task *t) {
    pthread_cond_destroy(&t->cv);
    for (int i = 0; i < ADM_MAX_STOPS; i++) free(t->stops[i]);
    adm_grammar_free(t->grammar); /* the slot let go of it in adm_slot_release */
    free(t->prompt);
    free(t->text);
    free(t->toks);
    free(t);
}

static void unref_locked(srv_task *t) {
    if (--t->refs == 0) task_free(t);
}

void srv_task_unref(srv_engine *e, srv_task *t) {
    if (!t) return;
    pthread_mutex_lock(&e->mu);
    unref_locked(t);
    pthread_mutex_unlock(&e->mu);
}

void srv_engine_lock(srv_engine *e) { pthread_mutex_lock(&e->mu); }
void srv_engine_unlock(srv_engine *e) { pthread_mutex_unlock(&e->mu); }

void srv_task_wait(srv_engine *e, srv_task *t, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&t->cv, &e->mu, &ts);
}

/* Ends a task that never ran or failed (mutex held). */
static void fail_locked(srv_task *t, const char *msg) {
    t->failed = true;
    snprintf(t->errmsg, sizeof(t->errmsg), "%s", msg);
    t->state = SRV_DONE;
    pthread_cond_broadcast(&t->cv);
    unref_locked(t);
}

static bool append_text(srv_task *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1) cap *= 2;
        char *p = realloc(t->text, cap);
        if (!p) return false;
        t->text = p;
        t->cap = cap;
    }
    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len] = 0;
    return true;
}

/* Copies slot i's new text and tokens into its task; ends the task when
 * the slot is done (mutex held). */
static void collect_locked(srv_engine *e, int i) {
    srv_task *t = e->running[i];
    adm_slot *s = e->slots[i];
    size_t n = 0;
    const char *txt = adm_slot_take_text(s, &n);
    bool oom = n && !append_text(t, txt, n);
    if (t->gp.n_probs >= 0) {
        const int nt = adm_slot_n_tokens(s);
        for (int k = t->n_toks; k < nt && !oom; k++) {
            if (t->n_toks == t->cap_toks) {
                const int cap = t->cap_toks ? t->cap_toks * 2 : 64;
                srv_tok *p = realloc(t->toks, (size_t)cap * sizeof(*p));
                if (!p) {
                    oom = true;
                    break;
                }
                t->toks = p;
                t->cap_toks = cap;
            }
            const adm_gen_token *g = adm_slot_token(s, k);
            srv_tok *d = &t->toks[t->n_toks++];
            d->id = g->id;
            d->logprob = g->logprob;
            d->n_top = g->n_top;
            memcpy(d->top, g->top, sizeof(d->top));
        }
    }
    if (oom) adm_slot_cancel(s);
    const adm_slot_info info = adm_slot_get_info(s);
    slot_view *v = &e->view[i];
    v->n_prompt = info.n_prompt;
    v->n_cached = info.n_cached;
    v->n_gen = info.n_gen;
    v->n_past = adm_seq_n_past(e->seqs[i]);
    if (info.state == ADM_SLOT_DONE) {
        t->info = info;
        if (oom) {
            t->failed = true;
            snprintf(t->errmsg, sizeof(t->errmsg), "out of memory while collecting the answer");
        } else if (info.finish == ADM_FINISH_ERROR) {
            t->failed = true;
            snprintf(t->errmsg, sizeof(t->errmsg), "%s", info.error.msg);
        } else if (info.finish == ADM_FINISH_CANCELLED && e->stopping) {
            t->failed = true;
            snprintf(t->errmsg, sizeof(t->errmsg), "the server is shutting down");
        }
        adm_slot_release(s);
        v->busy = false;
        v->n_past = adm_seq_n_past(e->seqs[i]);
        e->running[i] = NULL;
        t->slot = NULL;
        t->state = SRV_DONE;
        e->n_requests_done++;
        pthread_cond_broadcast(&t->cv);
        unref_locked(t);
    } else if (n || t->gp.n_probs >= 0) {
        pthread_cond_broadcast(&t->cv);
    }
}

static int slot_index(const srv_engine *e, const adm_slot *s) {
    for (int i = 0; i < e->n_slots; i++)
        if (e->slots[i] == s) return i;
    return -1;
}

/* Before task t starts on slot i: when a --cache-dir file holds at least
 * min_tokens more of its prompt than the slot does, restore it into the
 * slot (adm_slot_start then keeps it as the cached prefix). The mutex is
 * released during the restore; t is out of the queue, so a cancel only
 * marks it. Returns false when t ended meanwhile (mutex held). */
static bool dcache_before_start_locked(srv_engine *e, int i, srv_task *t) {
    adm_seq *q = e->seqs[i];
    const int32_t *have = adm_seq_tokens(q);
    int c = 0;
    while (c < adm_seq_n_past(q) && c < t->n_prompt - 1 && have[c] == t->prompt[c]) c++;
    int entry;
    const int d = srv_dcache_lookup(e->dcache, t->prompt, t->n_prompt, &entry);
    if (entry >= 0 && d - c >= srv_dcache_min_tokens(e->dcache)) {
        pthread_mutex_unlock(&e->mu);
        srv_dcache_restore(e->dcache, entry, q, t->prompt, t->n_prompt);
        pthread_mutex_lock(&e->mu);
        e->dstats = srv_dcache_get_stats(e->dcache);
        e->view[i].n_past = adm_seq_n_past(q);
    }
    if (t->cancel || e->stopping) {
        fail_locked(t, e->stopping ? "the server is shutting down" : "cancelled");
        return false;
    }
    return true;
}

/* After a tick: saves the sequences of long prompts whose last token has
 * been evaluated (mutex held; released during the writes). */
static void dcache_after_tick_locked(srv_engine *e) {
    for (int i = 0; i < e->n_slots; i++) {
        if (!e->dc_save[i]) continue;
        if (e->running[i] && adm_slot_get_info(e->slots[i]).state == ADM_SLOT_PROMPT) continue;
        const int n = e->dc_save[i];
        e->dc_save[i] = 0;
        /* Fewer tokens: the prompt failed or was cancelled before its end. */
        if (adm_seq_n_past(e->seqs[i]) < n) continue;
        pthread_mutex_unlock(&e->mu);
        srv_dcache_save(e->dcache, e->seqs[i]);
        pthread_mutex_lock(&e->mu);
        e->dstats = srv_dcache_get_stats(e->dcache);
    }
}

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* One POST /slots/{id} operation on an idle slot (mutex released). */
static void slot_op_run(srv_engine *e, srv_slot_op *op) {
    adm_seq *q = e->seqs[op->slot];
    adm_error err = {0};
    const double t0 = mono_ms();
    op->status = 200;
    if (op->action == SRV_SLOT_ERASE) {
        op->n_tokens = adm_seq_n_past(q);
        adm_seq_clear(q);
    } else if (op->action == SRV_SLOT_SAVE) {
        op->n_tokens = adm_seq_n_past(q);
        if (op->n_tokens == 0) {
            op->status = 400;
            snprintf(op->errmsg, sizeof(op->errmsg), "slot %d is empty: there is nothing to save", op->slot);
        } else if (adm_seq_save(q, op->path, NULL, &err) != ADM_OK) {
            op->status = 500;
            snprintf(op->errmsg, sizeof(op->errmsg), "%s", err.msg);
        }
    } else {
        /* A failed restore leaves the slot empty (as the library does). */
        if (adm_seq_restore(q, op->path, NULL, 0, NULL, &op->n_tokens, &err) != ADM_OK) {
            op->status = err.code == ADM_ERR_MEM_BUDGET ? 503 : 400;
            snprintf(op->errmsg, sizeof(op->errmsg), "%s", err.msg);
        }
    }
    op->ms = mono_ms() - t0;
}

/* Runs the waiting slot operations (mutex held; released during each). */
static void slot_ops_locked(srv_engine *e) {
    while (e->ophead) {
        srv_slot_op *op = e->ophead;
        e->ophead = op->next;
        if (!e->ophead) e->optail = NULL;
        if (e->stopping) {
            op->status = 503;
            snprintf(op->errmsg, sizeof(op->errmsg), "the server is shutting down");
        } else if (op->slot < 0 || op->slot >= e->n_slots) {
            op->status = 400;
            snprintf(op->errmsg, sizeof(op->errmsg), "invalid slot id %d: this server has slots 0 to %d", op->slot,
                     e->n_slots - 1);
        } else if (e->running[op->slot]) {
            op->status = 409;
            snprintf(op->errmsg, sizeof(op->errmsg), "slot %d is processing a request; retry when it is idle",
                     op->slot);
        } else {
            pthread_mutex_unlock(&e->mu);
            slot_op_run(e, op);
            pthread_mutex_lock(&e->mu);
            const int i = op->slot;
            e->view[i].n_past = adm_seq_n_past(e->seqs[i]);
            if (op->status == 200) {
                if (op->action == SRV_SLOT_SAVE) e->n_slot_saves++;
                else if (op->action == SRV_SLOT_RESTORE) e->n_slot_restores++;
                else e->n_slot_erases++;
            }
        }
        op->done = true;
        pthread_cond_broadcast(op->cv);
    }
}

int srv_engine_slot_op(srv_engine *e, srv_slot_op *op) {
    pthread_cond_t cv;
    pthread_cond_init(&cv, NULL);
    op->cv = &cv;
    op->done = false;
    op->next = NULL;
    op->errmsg[0] = 0;
    op->n_tokens = 0;
    op->ms = 0;
    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        op->status = 503;
        snprintf(op->errmsg, sizeof(op->errmsg), "the server is shutting down");
    } else {
        if (e->optail) e->optail->next = op;
        else e->ophead = op;
        e->optail = op;
        pthread_cond_signal(&e->cv);
        /* The thread drains operations before it may quit: this ends. */
        while (!op->done) pthread_cond_wait(&cv, &e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    pthread_cond_destroy(&cv);
    return op->status;
}

/* Drops queued tasks whose connection went away (or all, when stopping),
 * then starts queued tasks while slots are free (mutex held). */
static void start_queued_locked(srv_engine *e) {
    for (srv_task **pp = &e->qhead; *pp;) {
        srv_task *t = *pp;
        if (t->cancel || e->stopping) {
            *pp = t->next;
            e->n_queued--;
            fail_locked(t, e->stopping ? "the server is shutting down" : "cancelled");
        } else {
            pp = &t->next;
        }
    }
    while (e->qhead) {
        srv_task *t = e->qhead;
        adm_slot *s = adm_sched_pick(e->sched, t->prompt, t->n_prompt);
        if (!s) break;
        const int i = slot_index(e, s);
        e->qhead = t->next;
        if (!e->qhead) e->qtail = NULL;
        e->n_queued--;
        if (e->dcache && !dcache_before_start_locked(e, i, t)) continue;
        adm_error err = {0};
        adm_status st = ADM_OK;
        if (e->attention != ADM_ATTN_DENSE)
            st = adm_seq_set_attention(e->seqs[i], t->attention_set ? t->attention : e->attention, &err);
        if (st == ADM_OK) st = adm_slot_start(s, t->prompt, t->n_prompt, &t->gp, &err);
        if (st != ADM_OK) {
            fail_locked(t, err.msg);
            continue;
        }
        t->state = SRV_RUNNING;
        t->slot = s;
        t->slot_id = i;
        e->running[i] = t;
        e->view[i] = (slot_view){.busy = true, .n_prompt = t->n_prompt, .task = ++e->n_tasks};
        if (e->dcache) e->dc_save[i] = t->n_prompt >= srv_dcache_min_tokens(e->dcache) ? t->n_prompt : 0;
        pthread_cond_broadcast(&t->cv);
    }
    e->qtail = NULL;
    for (srv_task *t = e->qhead; t; t = t->next) e->qtail = t;
}

static void refresh_stats_locked(srv_engine *e) {
    e->stats = adm_sched_get_stats(e->sched);
    e->mem_used = adm_engine_mem_used(e->eng);
    uint64_t kv = 0, code = 0;
    for (int i = 0; i < e->n_slots; i++) {
        const adm_ctx_memory m = adm_seq_get_memory(e->seqs[i]);
        kv += m.kv_bytes;
        code += m.code_bytes;
    }
    e->kv_bytes = kv;
    e->code_bytes = code;
}

static void *inference_main(void *arg) {
    srv_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        slot_ops_locked(e);
        start_queued_locked(e);
        if (!adm_sched_busy(e->sched)) {
            refresh_stats_locked(e);
            if (e->quit) break; /* only once the cancelled slots have ended */
            pthread_cond_wait(&e->cv, &e->mu);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        adm_error err = {0};
        const adm_status st = adm_sched_step(e->sched, &err);
        pthread_mutex_lock(&e->mu);
        if (st != ADM_OK) fprintf(stderr, "adamas serve: a batch failed: %s\n", err.msg);
        for (int i = 0; i < e->n_slots; i++)
            if (e->running[i]) collect_locked(e, i);
        if (e->dcache) dcache_after_tick_locked(e);
        refresh_stats_locked(e);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int srv_engine_submit(srv_engine *e, srv_task *t) {
    pthread_mutex_lock(&e->mu);
    int r = 0;
    if (e->stopping) {
        r = 2;
    } else {
        /* A task waits only when no slot is free; the queue bounds those. */
        int busy = 0;
        for (int i = 0; i < e->n_slots; i++) busy += e->running[i] != NULL;
        if (busy + e->n_queued >= e->n_slots && e->n_queued >= e->max_queue) {
            r = 1;
        } else {
            t->refs++;
            t->state = SRV_QUEUED;
            t->next = NULL;
            if (e->qtail) e->qtail->next = t;
            else e->qhead = t;
            e->qtail = t;
            e->n_queued++;
            pthread_cond_signal(&e->cv);
        }
    }
    pthread_mutex_unlock(&e->mu);
    return r;
}

void srv_engine_cancel(srv_engine *e, srv_task *t) {
    pthread_mutex_lock(&e->mu);
    if (t->state != SRV_DONE && !t->cancel) {
        t->cancel = true;
        if (t->slot) adm_slot_cancel(t->slot);
        pthread_cond_signal(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
}

void srv_engine_shutdown(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    for (int i = 0; i < e->n_slots; i++)
        if (e->running[i]) adm_slot_cancel(e->slots[i]);
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

int srv_engine_n_slots(const srv_engine *e) { return e->n_slots; }
int srv_engine_n_batch(const srv_engine *e) { return adm_engine_n_batch(e->eng); }
int srv_engine_tick_tokens(const srv_engine *e) { return adm_sched_tick_tokens(e->sched); }
int srv_engine_n_ctx(const srv_engine *e) { return e->n_ctx; }

int srv_engine_n_idle(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    int n = 0;
    for (int i = 0; i < e->n_slots; i++) n += !e->running[i];
    pthread_mutex_unlock(&e->mu);
    return n;
}

char *srv_engine_slots_json(srv_engine *e) {
    json_t *a = json_array();
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < e->n_slots; i++) {
        const slot_view *v = &e->view[i];
        json_array_append_new(a, json_pack("{s:i, s:i, s:b, s:I, s:i, s:{s:i, s:i, s:i}}", "id", i, "n_ctx", e->n_ctx,
                                           "is_processing", v->busy, "id_task", (json_int_t)(v->busy ? v->task : -1),
                                           "n_past", v->n_past, "next_token", "n_prompt", v->n_prompt, "n_cached",
                                           v->n_cached, "n_decoded", v->n_gen));
    }
    pthread_mutex_unlock(&e->mu);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

char *srv_engine_metrics(srv_engine *e, const char *model) {
    pthread_mutex_lock(&e->mu);
    const adm_sched_stats s = e->stats;
    int busy = 0;
    for (int i = 0; i < e->n_slots; i++) busy += e->running[i] != NULL;
    const int queued = e->n_queued;
    const uint64_t kv = e->kv_bytes, code = e->code_bytes, used = e->mem_used, done = e->n_requests_done;
    const srv_dcache_stats d = e->dstats;
    const bool have_dcache = e->dcache != NULL;
    const uint64_t n_saves = e->n_slot_saves, n_restores = e->n_slot_restores, n_erases = e->n_slot_erases;
    pthread_mutex_unlock(&e->mu);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
#define METRIC(name, type, help, fmt, val)                                                                             \
    fprintf(f, "# HELP adamas_" name " " help "\n# TYPE adamas_" name " " type "\nadamas_" name "{model=\"%s\"} " fmt  \
               "\n", model, val)
    METRIC("prompt_tokens_total", "counter", "Prompt tokens evaluated.", "%llu", (unsigned long long)s.n_prompt_tokens);
    METRIC("prompt_seconds_total", "counter", "Seconds of batches spent on prompt rows.", "%.6f", s.t_prompt);
    METRIC("tokens_predicted_total", "counter", "Tokens generated.", "%llu", (unsigned long long)s.n_gen_tokens);
    METRIC("tokens_predicted_seconds_total", "counter", "Seconds of batches spent on generation rows.", "%.6f", s.t_gen);
    METRIC("decode_ticks_total", "counter", "Scheduler ticks (batches evaluated).", "%llu",
           (unsigned long long)s.n_ticks);
    METRIC("requests_processing", "gauge", "Requests generating or reading their prompt.", "%d", busy);
    METRIC("requests_deferred", "gauge", "Requests waiting for a free slot.", "%d", queued);
    METRIC("requests_completed_total", "counter", "Requests finished (any reason).", "%llu",
           (unsigned long long)done);
    METRIC("spec_draft_tokens_total", "counter", "Speculative guesses evaluated.", "%llu",
           (unsigned long long)s.n_drafted);
    METRIC("spec_accepted_tokens_total", "counter", "Speculative guesses taken.", "%llu",
           (unsigned long long)s.n_accepted);
    METRIC("kv_cache_bytes", "gauge", "Bytes of K and V cache held by the slots' sequences.", "%llu",
           (unsigned long long)kv);
    METRIC("code_index_bytes", "gauge", "Bytes of Adamas key-code index held by the slots' sequences.", "%llu",
           (unsigned long long)code);
    METRIC("memory_used_bytes", "gauge", "Bytes counted against the engine's memory budget.", "%llu",
           (unsigned long long)used);
    METRIC("slot_saves_total", "counter", "POST /slots/{id}?action=save done.", "%llu", (unsigned long long)n_saves);
    METRIC("slot_restores_total", "counter", "POST /slots/{id}?action=restore done.", "%llu",
           (unsigned long long)n_restores);
    METRIC("slot_erases_total", "counter", "POST /slots/{id}?action=erase done.", "%llu", (unsigned long long)n_erases);
    if (have_dcache) {
        METRIC("disk_cache_files", "gauge", "Prompt snapshots in --cache-dir.", "%llu", (unsigned long long)d.n_files);
        METRIC("disk_cache_bytes", "gauge", "Bytes of the prompt snapshots in --cache-dir.", "%llu",
               (unsigned long long)d.bytes);
        METRIC("disk_cache_hits_total", "counter", "Requests that started from a --cache-dir snapshot.", "%llu",
               (unsigned long long)d.hits);
        METRIC("disk_cache_restored_tokens_total", "counter", "Prompt tokens restored from --cache-dir.", "%llu",
               (unsigned long long)d.restored_tokens);
        METRIC("disk_cache_saves_total", "counter", "Prompt snapshots written to --cache-dir.", "%llu",
               (unsigned long long)d.saves);
        METRIC("disk_cache_saved_tokens_total", "counter", "Tokens of the prompt snapshots written.", "%llu",
               (unsigned long long)d.saved_tokens);
        METRIC("disk_cache_evictions_total", "counter", "Snapshots deleted as least recently used.", "%llu",
               (unsigned long long)d.evictions);
        METRIC("disk_cache_failures_total", "counter", "Snapshots that could not be written or were refused.",
               "%llu", (unsigned long long)d.failures);
    }
#undef METRIC
    fclose(f);
    return buf;
}

srv_engine *srv_engine_create(adm_model *model, const srv_engine_params *p, adm_error *err) {
    srv_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        srv_dcache_free(p->dcache);
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->model = model;
    e->vocab = adm_model_vocab(model);
    e->n_slots = p->n_slots;
    e->n_ctx = p->seq.n_ctx;
    e->max_queue = p->max_queue;
    e->attention = p->seq.attention;
    e->seqs = calloc((size_t)e->n_slots, sizeof(*e->seqs));
    e->dseqs = calloc((size_t)e->n_slots, sizeof(*e->dseqs));
    e->slots = calloc((size_t)e->n_slots, sizeof(*e->slots));
    e->running = calloc((size_t)e->n_slots, sizeof(*e->running));
    e->view = calloc((size_t)e->n_slots, sizeof(*e->view));
    e->dc_save = calloc((size_t)e->n_slots, sizeof(*e->dc_save));
    e->dcache = p->dcache;
    if (e->dcache) e->dstats = srv_dcache_get_stats(e->dcache);
    if (!e->seqs || !e->dseqs || !e->slots || !e->running || !e->view || !e->dc_save) {
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        goto fail;
    }
    if (adm_engine_create(model, &p->eng, &e->eng, err) != ADM_OK) goto fail;
    if (p->draft_path) {
        if (adm_model_load(p->draft_path, NULL, &e->dmodel, err) != ADM_OK) goto fail;
        const adm_vocab *dv = adm_model_vocab(e->dmodel);
        if (!dv || adm_vocab_n_tokens(dv) != adm_vocab_n_tokens(e->vocab)) {
            snprintf(err->msg, sizeof(err->msg), "the draft model %s does not have the target model's vocabulary",
                     p->draft_path);
            goto fail;
        }
        adm_engine_params dp = p->eng;
        dp.threads_from = e->eng;
        if (adm_engine_create(e->dmodel, &dp, &e->deng, err) != ADM_OK) goto fail;
    }
    adm_sched_params sp = adm_sched_default_params();
    sp.tick_tokens = p->tick_tokens;
    if (sp.tick_tokens <= 0) {
        /* A prompt chunk waits for a tick whose batch has room for all of
         * it (chunks never move, so results do not depend on the load):
         * with chunks of the whole batch, one generating slot would hold
         * every new prompt back until it finished. Leave a row per slot. */
        sp.tick_tokens = (adm_engine_n_batch(e->eng) - p->n_slots) / 32 * 32;
        if (sp.tick_tokens < 32) sp.tick_tokens = 32;
    }
    if (adm_sched_create(e->eng, &sp, &e->sched, err) != ADM_OK) goto fail;
    for (int i = 0; i < e->n_slots; i++) {
        if (adm_seq_create(e->eng, &p->seq, &e->seqs[i], err) != ADM_OK) goto fail;
        if (e->deng) {
            adm_seq_params dsp = p->seq;
            dsp.attention = ADM_ATTN_DENSE;
            if (adm_seq_create(e->deng, &dsp, &e->dseqs[i], err) != ADM_OK) goto fail;
        }
        if (adm_slot_create(e->seqs[i], e->dseqs[i], &e->slots[i], err) != ADM_OK) goto fail;
        if (adm_sched_add(e->sched, e->slots[i], err) != ADM_OK) goto fail;
    }
    refresh_stats_locked(e);
    if (pthread_create(&e->thread, NULL, inference_main, e) != 0) {
        snprintf(err->msg, sizeof(err->msg), "could not start the inference thread");
        goto fail;
    }
    e->started = true;
    return e;
fail:
    srv_engine_free(e);
    return NULL;
}

void srv_engine_free(srv_engine *e) {
    if (!e) return;
    if (e->started) {
        srv_engine_shutdown(e);
        pthread_mutex_lock(&e->mu);
        e->quit = true;
        pthread_cond_signal(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);
    }
    for (int i = 0; i < e->n_slots && e->slots; i++) {
        if (e->slots[i]) {
            if (e->sched) adm_sched_remove(e->sched, e->slots[i]);
            adm_slot_free(e->slots[i]);
        }
        if (e->dseqs[i]) adm_seq_free(e->dseqs[i]);
        if (e->seqs[i]) adm_seq_free(e->seqs[i]);
    }
    adm_sched_free(e->sched);
    adm_engine_free(e->deng);
    adm_engine_free(e->eng);
    adm_model_free(e->dmodel);
    free(e->seqs);
    free(e->dseqs);
    free(e->slots);
    free(e->running);
    free(e->view);
    free(e->dc_save);
    srv_dcache_free(e->dcache);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}
