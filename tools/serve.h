/*
 * serve.h - the pieces of `adamas serve`, an OpenAI-compatible HTTP server.
 *
 *   serve_request.c   a JSON request body -> a validated serve_req (pure: no
 *                     model, no I/O; fuzzed by fuzz/fuzz_serve_request.c)
 *   serve_response.c  OpenAI's response, chunk and error objects
 *   serve_engine.c    the inference thread: owns the engine, the scheduler
 *                     and every slot; takes tasks from a bounded queue
 *   serve_http.c      libmicrohttpd: routes, auth, limits, SSE streaming
 *   serve_page.c      the chat page served at /
 *   cmd_serve.c       options, model loading, signals, shutdown
 *
 * Threads: libmicrohttpd runs one thread per connection. A connection
 * thread parses and validates the body, renders the chat template,
 * tokenizes, and submits a task; it then waits on the task's condition
 * variable and writes out what the inference thread appended to the
 * task's buffers. Only the inference thread touches slots, sequences and
 * the scheduler (adm_slot_cancel is the exception the library allows).
 */
#ifndef ADM_TOOLS_SERVE_H
#define ADM_TOOLS_SERVE_H

#include "adamas.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- requests (serve_request.c) ---- */

typedef enum srv_kind { SRV_CHAT = 0, SRV_COMPLETION } srv_kind;

/* Where a request's output constraint came from (at most one per request). */
typedef enum srv_grammar_src {
    SRV_GRAMMAR_NONE = 0,
    SRV_GRAMMAR_RESPONSE_FORMAT, /* response_format json_object / json_schema (OpenAI) */
    SRV_GRAMMAR_GBNF,            /* `grammar`: GBNF text (llama-server's extension) */
    SRV_GRAMMAR_JSON_SCHEMA,     /* `json_schema`: a schema object (llama-server's extension) */
} srv_grammar_src;

/* Bounds the parser enforces (fixed by the server's options). */
typedef struct srv_limits {
    int max_depth;          /* JSON nesting (objects and arrays) */
    int max_messages;
    int max_prompt_tokens;  /* a prompt given as token ids */
    int n_vocab;            /* token ids must be below it (0: unchecked) */
} srv_limits;

/* A client mistake, as an HTTP status and OpenAI's error fields. */
typedef struct srv_error {
    int status;             /* 400, 401, 404, 413, 503, ... */
    const char *type;       /* "invalid_request_error", ... */
    char param[64];         /* the offending field (a copy: the request's JSON is freed first), or "" */
    const char *code;       /* OpenAI's machine-readable code, or NULL */
    int n_prompt_tokens;    /* context_length_exceeded: both numbers (else 0) */
    int n_ctx;
    char msg[640];
} srv_error;

typedef struct serve_req {
    srv_kind kind;
    json_t *root;               /* the parsed body; the strings below point into it */
    adm_chat_msg *msgs;         /* chat: messages (content joined from text parts into owned copies) */
    char **owned;               /* chat: contents that had to be joined */
    int n_msgs;
    const char *prompt;         /* completion: prompt text, or NULL when given as tokens */
    size_t prompt_len;
    int32_t *prompt_tokens;     /* completion: prompt as token ids */
    int n_prompt_tokens;
    bool stream;
    bool include_usage;         /* stream_options.include_usage */
    int max_tokens;             /* -1: until the end of generation or a full context */
    adm_sampler_params sp;
    bool seed_set;
    const char *stops[ADM_MAX_STOPS];
    int n_stops;
    bool ignore_eos;
    int logprobs;               /* -1: none; else how many top alternatives per token */
    bool attention_set;
    adm_attention attention;
    int budget;                 /* 0: the server's */
    const char *model;          /* as the client named it (echoed back only if it is ours) */
    /* Structured output. The parser turns a schema into GBNF (no model
     * needed, so schema errors are 400s from the parser); serve_req_compile
     * compiles the GBNF for the model's vocabulary before the task is
     * queued. The compiled grammar belongs to the request until fill_gen
     * moves it into the task, which frees it after its slot was released. */
    srv_grammar_src grammar_src;
    const char *gbnf;           /* the GBNF the output must match: into root, or gbnf_owned */
    size_t gbnf_len;
    char *gbnf_owned;           /* a converted schema */
    adm_grammar *grammar;       /* serve_req_compile's result (owned), or NULL */
} serve_req;

/* Parses and validates a body. Returns false with *err (status 400) on any
 * problem: malformed JSON, invalid UTF-8, nesting deeper than the limit,
 * unknown or ill-typed fields, out-of-range values, refused features.
 * On success the caller frees with serve_req_free. */
bool serve_req_parse(srv_kind kind, const char *body, size_t len, const srv_limits *lim, serve_req *out,
                     srv_error *err);
void serve_req_free(serve_req *r);
/* Compiles r->gbnf (if any) into r->grammar for vocabulary v. A refusal
 * (a GBNF syntax error, a limit) is a 400 naming the request field. The
 * vocabulary's token trie is built on its first grammar and kept by the
 * vocabulary, so this costs only the grammar's own compilation. */
bool serve_req_compile(serve_req *r, const adm_vocab *v, srv_error *err);

/* The body as a JSON object, after the UTF-8 and nesting checks; NULL with *err. */
json_t *srv_parse_body(const char *body, size_t len, int max_depth, srv_error *err);

/* Fills *err (returns false for chaining). */
bool srv_fail(srv_error *err, int status, const char *type, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Whether len bytes are valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool srv_utf8_valid(const char *s, size_t len);

/* ---- responses (serve_response.c) ---- */

/* OpenAI's error object: {"error":{"message","type","param","code"}}. */
char *srv_error_json(const srv_error *e);

typedef struct srv_usage {
    int prompt_tokens;
    int completion_tokens;
    int cached_tokens;
} srv_usage;

typedef struct srv_reply {
    srv_kind kind;
    const char *id;             /* "chatcmpl-..." or "cmpl-..." */
    long long created;          /* one value for every chunk of a stream */
    const char *model;
} srv_reply;

/* finish: "stop", "length" or NULL (still going). logprobs (stolen; may be NULL). */
char *srv_completion_json(const srv_reply *r, const char *text, size_t len, const char *finish,
                          const srv_usage *u, json_t *logprobs);
/* One SSE chunk's JSON. role: the first chunk of a chat stream. text may be
 * NULL (no content). finish as above. usage: the final usage chunk
 * (choices: []). logprobs stolen, may be NULL. */
char *srv_chunk_json(const srv_reply *r, bool role, const char *text, size_t len, const char *finish,
                     const srv_usage *usage, json_t *logprobs);

/* A generated token's log-probabilities, OpenAI's shape for chat
 * ({token, logprob, bytes, top_logprobs}); appended to the array `content`. */
typedef struct srv_tok {
    int32_t id;
    float logprob;
    int n_top;
    adm_token_prob top[ADM_MAX_LOGPROBS];
} srv_tok;
void srv_logprobs_append(json_t *content, const adm_vocab *v, const srv_tok *t, int n_top);
/* Legacy completions' shape {tokens, token_logprobs, top_logprobs, text_offset} from a chat-shaped array. */
json_t *srv_logprobs_legacy(json_t *content);

/* A JSON string from bytes that may not be valid UTF-8 (invalid bytes become U+FFFD). */
json_t *srv_json_lossy(const char *s, size_t len);

/* ---- the inference thread (serve_engine.c) ---- */

typedef enum srv_task_state { SRV_QUEUED = 0, SRV_RUNNING, SRV_DONE } srv_task_state;

typedef struct srv_task {
    /* input: written before srv_engine_submit, read-only afterwards */
    int32_t *prompt;
    int n_prompt;
    adm_gen_params gp;
    bool attention_set;
    adm_attention attention;
    char *stops[ADM_MAX_STOPS]; /* owned copies of gp.stops (the request's JSON is freed first) */
    adm_grammar *grammar;       /* gp.grammar, owned: freed with the task, which the engine releases
                                   only after adm_slot_release (the slot borrows it until then) */
    /* output: guarded by the engine's mutex */
    srv_task_state state;
    char *text;                 /* everything generated so far */
    size_t len, cap;
    srv_tok *toks;              /* generated tokens with log-probabilities (when gp.n_probs >= 0) */
    int n_toks, cap_toks;
    adm_slot_info info;         /* final when state == SRV_DONE */
    bool failed;                /* info.error / errmsg explain */
    char errmsg[512];
    bool cancel;
    int slot_id;
    int refs;                   /* the connection and, while queued or running, the engine */
    pthread_cond_t cv;
    adm_slot *slot;             /* while running */
    struct srv_task *next;      /* queue link */
} srv_task;

typedef struct srv_engine srv_engine;
typedef struct srv_dcache srv_dcache;

typedef struct srv_engine_params {
    int n_slots;
    adm_seq_params seq;         /* each slot's sequence (n_ctx per slot) */
    adm_engine_params eng;
    const char *draft_path;     /* -md: a draft model (one draft sequence per slot) */
    int max_queue;              /* tasks waiting for a slot before 503 */
    int tick_tokens;
    srv_dcache *dcache;         /* --cache-dir (optional; the engine takes it and frees it) */
} srv_engine_params;

/* Creates the engine, the slots and the inference thread. NULL with err. */
srv_engine *srv_engine_create(adm_model *model, const srv_engine_params *p, adm_error *err);
/* Cancels everything, joins the thread, frees all (tasks still referenced
 * by connections stay valid until srv_task_unref). */
void srv_engine_free(srv_engine *e);
/* Begins shutdown: queued and running tasks end with "server shutting
 * down"; later submissions are refused. */
void srv_engine_shutdown(srv_engine *e);

srv_task *srv_task_new(void);
/* 0: queued; 1: the queue is full; 2: shutting down. The engine takes a reference. */
int srv_engine_submit(srv_engine *e, srv_task *t);
/* Stops a task (queued or running) whatever its state; idempotent. */
void srv_engine_cancel(srv_engine *e, srv_task *t);
void srv_task_unref(srv_engine *e, srv_task *t);
/* Locks the engine's mutex / waits on a task (up to ms milliseconds) / unlocks. */
void srv_engine_lock(srv_engine *e);
void srv_engine_unlock(srv_engine *e);
void srv_task_wait(srv_engine *e, srv_task *t, int ms);

int srv_engine_n_slots(const srv_engine *e);
int srv_engine_n_ctx(const srv_engine *e);
/* The batch's rows and the prompt tokens a tick may carry (GET /props). */
int srv_engine_n_batch(const srv_engine *e);
int srv_engine_tick_tokens(const srv_engine *e);
/* GET /slots and GET /metrics bodies (malloc'd). */
char *srv_engine_slots_json(srv_engine *e);
char *srv_engine_metrics(srv_engine *e, const char *model);
/* A slot is free (or could be freed by reuse) for GET /health's details. */
int srv_engine_n_idle(srv_engine *e);

/* POST /slots/{id}?action=...: runs on the inference thread between ticks
 * (a slot's sequence is never touched while it decodes). */
typedef enum srv_slot_action { SRV_SLOT_SAVE = 0, SRV_SLOT_RESTORE, SRV_SLOT_ERASE } srv_slot_action;
typedef struct srv_slot_op {
    srv_slot_action action;
    int slot;
    const char *path;           /* save, restore: the snapshot file */
    /* results */
    int status;                 /* 200, or the HTTP status of the refusal */
    char errmsg[640];
    int n_tokens;               /* saved, restored or erased */
    double ms;
    /* the engine's */
    bool done;
    pthread_cond_t *cv;
    struct srv_slot_op *next;
} srv_slot_op;
/* Blocks until the inference thread has done op (or refused it: a busy
 * slot is 409, a bad id 400, shutting down 503); returns op->status. */
int srv_engine_slot_op(srv_engine *e, srv_slot_op *op);

/* ---- what the server keeps on disk (serve_cache.c) ---- */

#define SRV_SNAPSHOT_NAME_MAX 128
/* A slot snapshot's file name: 1 to 128 bytes of [A-Za-z0-9._-], not
 * starting with a dot, without "..": a plain name inside --slot-save-path,
 * never a path. why (may be NULL) gets the reason of a refusal. */
bool srv_snapshot_name_ok(const char *name, char *why, size_t why_len);

/* The prefix cache of --cache-dir: snapshots of long prompts, found by the
 * longest common token prefix, least recently used deleted past max_bytes. */
typedef struct srv_dcache_stats {
    uint64_t n_files, bytes;
    uint64_t hits, restored_tokens;
    uint64_t saves, saved_tokens;
    uint64_t evictions, failures;
} srv_dcache_stats;
/* Creates dir if needed and indexes the snapshots in it (damaged or
 * unreadable ones are skipped with a warning). NULL with errbuf. */
srv_dcache *srv_dcache_open(const char *dir, uint64_t max_bytes, int min_tokens, char *errbuf, size_t errlen);
void srv_dcache_free(srv_dcache *c);
srv_dcache_stats srv_dcache_get_stats(const srv_dcache *c);
int srv_dcache_min_tokens(const srv_dcache *c);
/* The longest prefix some file shares with prompt, at most n_prompt - 1
 * (the last token is evaluated for its logits); *entry: that file, or -1. */
int srv_dcache_lookup(const srv_dcache *c, const int32_t *prompt, int n_prompt, int *entry);
/* Restores the entry's common prefix with prompt into seq; returns the
 * tokens restored, 0 when the file is refused (warned, then forgotten). */
int srv_dcache_restore(srv_dcache *c, int entry, adm_seq *seq, const int32_t *prompt, int n_prompt);
/* Whether a sequence of these tokens would be saved: at least min_tokens,
 * and min_tokens more than any file already holds of them. */
bool srv_dcache_wants(const srv_dcache *c, const int32_t *tokens, int n);
/* Saves seq when srv_dcache_wants it, then deletes the least recently
 * used files past the size bound. Failures are warnings. */
void srv_dcache_save(srv_dcache *c, const adm_seq *seq);

/* ---- HTTP (serve_http.c) ---- */

typedef struct srv_http_params {
    const char *host;
    int port;
    const char *api_key;        /* NULL: no auth */
    const char *alias;          /* model id reported */
    size_t max_body;            /* bytes */
    size_t max_header;          /* bytes of the request line and headers */
    int timeout;                /* seconds of inactivity before a connection is closed */
    int max_conns;
    int sse_ping;               /* seconds of silence before an SSE comment */
    adm_chat_format chat_format;
    const adm_model *model;
    srv_engine *engine;
    const char *model_path;
    int n_ctx;
    int budget;
    adm_attention attention;
    int n_predict;              /* max_tokens of a request that sets none (-1: no limit) */
    int lookup, lookup_ngram;   /* speculation settings every request gets */
    int draft_max;
    float draft_p_min;
    const char *slot_save_path; /* --slot-save-path (NULL: slot save/restore refused) */
    const char *cache_dir;      /* --cache-dir, for /props (NULL: none) */
    int cache_max_mib, cache_min_tokens;
} srv_http_params;

typedef struct srv_http srv_http;
srv_http *srv_http_start(const srv_http_params *p, char *errbuf, size_t errlen);
/* The port bound (useful with --port 0). */
int srv_http_port(const srv_http *h);
/* Stops accepting, lets open answers finish writing (the engine was shut
 * down first, so they end at once), then closes every connection. */
void srv_http_stop(srv_http *h);

/* ---- the chat page (serve_page.c) ---- */
extern const char srv_page_html[];
extern const size_t srv_page_len;

#endif
