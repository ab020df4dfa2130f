/*
 * serve_http.c - the HTTP side of `adamas serve`, on libmicrohttpd with one
 * thread per connection: routing, API keys, body and header limits,
 * turning a validated request into a task (chat template, tokenization,
 * context check), and writing the answer back as one JSON object or as
 * server-sent events.
 *
 * A connection thread blocks while its task runs (in the access handler
 * for a plain answer, in the response's content reader for a stream),
 * waking at least every 100 ms to see whether the client hung up
 * (POLLRDHUP on its socket): then the task is cancelled, so a vanished
 * client frees its slot within a tick. Errors known before the first byte
 * (bad request, prompt too long, queue full) are plain HTTP errors even
 * for streams; one that happens later ends the stream with an error event
 * and no [DONE], which the clients raise as an exception.
 */
#include "serve.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 32
#define WAIT_MS 100

struct srv_http {
    srv_http_params p;
    struct MHD_Daemon *d;
    int port;
    srv_limits lim;
    atomic_int stopping;
    atomic_int n_answering;     /* connections waiting for or streaming an answer */
};

/* One request's state across the access handler's calls. */
typedef struct conn_state {
    char *body;
    size_t len, cap;
    bool too_big;
    srv_task *task;             /* the task a plain (non-stream) answer waits for */
} conn_state;

/* A streamed answer, owned by the MHD response (freed by its callback). */
typedef struct sse_state {
    srv_http *h;
    srv_task *task;
    srv_reply reply;
    char id[48];
    char *model;
    int fd;
    bool include_usage;
    int n_top;                  /* -1: no logprobs */
    size_t sent_text;
    int sent_toks;
    char *out;                  /* events formatted, not yet handed to MHD */
    size_t out_len, out_off;
    bool finished;              /* the last event is in `out` */
    double last_write;
} sse_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void random_id(char *out, size_t size, const char *prefix) {
    static const char k_alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[24];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        const uint64_t x = (uint64_t)(now_s() * 1e9);
        for (size_t i = 0; i < sizeof(r); i++) r[i] = (unsigned char)(x >> (i % 8 * 8)) ^ (unsigned char)(i * 37);
    }
    size_t n = (size_t)snprintf(out, size, "%s", prefix);
    for (size_t i = 0; i < sizeof(r) && n + 1 < size; i++) out[n++] = k_alnum[r[i] % (sizeof(k_alnum) - 1)];
    out[n] = 0;
}

static uint64_t random_seed(void) {
    uint64_t s;
    if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s)) s = (uint64_t)(now_s() * 1e9);
    return s;
}

static bool peer_gone(int fd) {
    if (fd < 0) return false;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static int conn_fd(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

static void add_common_headers(struct MHD_Response *r) {
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type, char *body,
                                 size_t len) {
    struct MHD_Response *r =
        body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    add_common_headers(r);
    const enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, char *json) {
    if (!json) return MHD_NO;
    return send_body(c, status, "application/json", json, strlen(json));
}

static enum MHD_Result send_error(struct MHD_Connection *c, const srv_error *e) {
    char *json = srv_error_json(e);
    if (!json) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(json);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    add_common_headers(r);
    if (e->status == 503) MHD_add_response_header(r, "Retry-After", "1");
    if (e->status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    const enum MHD_Result ret = MHD_queue_response(c, (unsigned)e->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_errorf(struct MHD_Connection *c, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_errorf(struct MHD_Connection *c, int status, const char *type, const char *fmt, ...) {
    srv_error e = {.status = status, .type = type};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
    va_end(ap);
    return send_error(c, &e);
}

static bool key_matches(const char *given, const char *key) {
    if (!given) return false;
    const size_t n = strlen(key), m = strlen(given);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned)(key[i] ^ given[i < m ? i : 0]);
    return diff == 0;
}

static bool authorized(const srv_http *h, struct MHD_Connection *c) {
    if (!h->p.api_key) return true;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7) && key_matches(auth + 7, h->p.api_key)) return true;
    return key_matches(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Api-Key"), h->p.api_key);
}

static bool is_public(const char *method, const char *url) {
    if (!strcmp(method, "OPTIONS")) return true;
    if (strcmp(method, "GET")) return false;
    return !strcmp(url, "/") || !strcmp(url, "/index.html") || !strcmp(url, "/health") || !strcmp(url, "/v1/health") ||
           !strcmp(url, "/v1/models") || !strcmp(url, "/models");
}

/* ---- GET endpoints ---- */

static enum MHD_Result get_models(srv_http *h, struct MHD_Connection *c) {
    const adm_model_info mi = adm_model_get_info(h->p.model);
    json_t *m = json_pack("{s:s, s:s, s:I, s:s, s:{s:s, s:i, s:i, s:i, s:I}}", "id", h->p.alias, "object", "model",
                          "created", (json_int_t)time(NULL), "owned_by", "adamas", "meta", "arch", mi.arch, "n_vocab",
                          mi.n_vocab, "n_ctx_train", mi.n_ctx_train, "n_embd", mi.n_embd, "n_params",
                          (json_int_t)mi.n_params);
    json_t *o = json_pack("{s:s, s:[o]}", "object", "list", "data", m);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return send_json(c, 200, s);
}

static const char *attention_str(adm_attention a) {
    return a == ADM_ATTN_ADAMAS ? "adamas" : a == ADM_ATTN_WINDOW ? "window" : "dense";
}

static enum MHD_Result get_props(srv_http *h, struct MHD_Connection *c) {
    json_t *o = json_pack("{s:{s:i, s:s, s:i}, s:i, s:s, s:s, s:s, s:[s]}", "default_generation_settings", "n_ctx",
                          h->p.n_ctx, "attention", attention_str(h->p.attention), "budget", h->p.budget,
                          "total_slots", srv_engine_n_slots(h->p.engine), "model_path", h->p.model_path, "model_alias",
                          h->p.alias, "chat_format", adm_chat_format_name(h->p.chat_format), "modalities", "text");
    json_object_set_new(o, "build_info", json_string("adamas 0.1.0"));
    json_object_set_new(o, "kernels", json_string(adm_isa_name()));
    json_object_set_new(o, "n_batch", json_integer(srv_engine_n_batch(h->p.engine)));
    json_object_set_new(o, "tick_tokens", json_integer(srv_engine_tick_tokens(h->p.engine)));
    /* Where slots are saved and the prompt cache lives are the operator's
     * business: say whether they are on, not the paths. */
    json_object_set_new(o, "slot_save", json_boolean(h->p.slot_save_path != NULL));
    json_object_set_new(o, "disk_cache",
                        h->p.cache_dir ? json_pack("{s:i, s:i}", "max_mib", h->p.cache_max_mib, "min_tokens",
                                                   h->p.cache_min_tokens)
                                       : json_null());
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return send_json(c, 200, s);
}

static enum MHD_Result get_route(srv_http *h, struct MHD_Connection *c, const char *url) {
    if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
        return send_body(c, 200, "text/html; charset=utf-8", strdup(srv_page_html), srv_page_len);
    if (!strcmp(url, "/health") || !strcmp(url, "/v1/health"))
        return send_json(c, 200, strdup("{\"status\":\"ok\"}"));
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/models")) return get_models(h, c);
    if (!strcmp(url, "/props")) return get_props(h, c);
    if (!strcmp(url, "/slots")) return send_json(c, 200, srv_engine_slots_json(h->p.engine));
    if (!strcmp(url, "/metrics")) {
        char *m = srv_engine_metrics(h->p.engine, h->p.alias);
        return m ? send_body(c, 200, "text/plain; version=0.0.4", m, strlen(m)) : MHD_NO;
    }
    return send_errorf(c, 404, "not_found_error", "no such endpoint: GET %.200s", url);
}

/* ---- tokenize / detokenize ---- */

static enum MHD_Result post_tokenize(srv_http *h, struct MHD_Connection *c, const char *body, size_t len) {
    srv_error e;
    json_t *o = srv_parse_body(body, len, MAX_DEPTH, &e);
    if (!o) return send_error(c, &e);
    const json_t *content = json_object_get(o, "content");
    const json_t *as = json_object_get(o, "add_special"), *ps = json_object_get(o, "parse_special"),
                 *wp = json_object_get(o, "with_pieces");
    if (!json_is_string(content) || (as && !json_is_boolean(as)) || (ps && !json_is_boolean(ps)) ||
        (wp && !json_is_boolean(wp))) {
        json_decref(o);
        return send_errorf(c, 400, "invalid_request_error",
                           "expected {\"content\": STRING, \"add_special\": BOOL, \"parse_special\": BOOL, "
                           "\"with_pieces\": BOOL}");
    }
    const unsigned flags = (json_is_true(as) ? ADM_TOKENIZE_ADD_SPECIAL : 0) |
                           (ps && json_is_false(ps) ? 0 : ADM_TOKENIZE_PARSE_SPECIAL);
    const adm_vocab *v = adm_model_vocab(h->p.model);
    const int64_t n = adm_tokenize(v, json_string_value(content), (int64_t)json_string_length(content), NULL, 0, flags);
    int32_t *t = n >= 0 ? malloc(sizeof(int32_t) * (size_t)(n + 1)) : NULL;
    if (!t) {
        json_decref(o);
        return send_errorf(c, 400, "invalid_request_error", "the text is too long to tokenize");
    }
    adm_tokenize(v, json_string_value(content), (int64_t)json_string_length(content), t, n, flags);
    json_t *arr = json_array();
    for (int64_t i = 0; i < n; i++) {
        if (json_is_true(wp)) {
            char buf[256];
            int k = adm_token_to_bytes(v, t[i], buf, (int)sizeof(buf), true);
            if (k < 0) k = 0;
            if (k > (int)sizeof(buf)) k = (int)sizeof(buf);
            json_array_append_new(arr, json_pack("{s:i, s:o}", "id", t[i], "piece", srv_json_lossy(buf, (size_t)k)));
        } else {
            json_array_append_new(arr, json_integer(t[i]));
        }
    }
    free(t);
    json_decref(o);
    json_t *r = json_pack("{s:o}", "tokens", arr);
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return send_json(c, 200, s);
}

static enum MHD_Result post_detokenize(srv_http *h, struct MHD_Connection *c, const char *body, size_t len) {
    srv_error e;
    json_t *o = srv_parse_body(body, len, MAX_DEPTH, &e);
    if (!o) return send_error(c, &e);
    const json_t *toks = json_object_get(o, "tokens");
    const adm_vocab *v = adm_model_vocab(h->p.model);
    const int nv = adm_vocab_n_tokens(v);
    size_t n = json_array_size(toks), i;
    int32_t *ids = malloc(sizeof(int32_t) * (n + 1));
    bool ok = json_is_array(toks) && ids;
    json_t *t;
    if (ok) json_array_foreach(toks, i, t) {
            if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= nv) {
                ok = false;
                break;
            }
            ids[i] = (int32_t)json_integer_value(t);
        }
    json_decref(o);
    if (!ok) {
        free(ids);
        return send_errorf(c, 400, "invalid_request_error", "expected {\"tokens\": [token ids below %d]}", nv);
    }
    const int64_t need = adm_detokenize(v, ids, (int64_t)n, NULL, 0, 0);
    char *text = malloc((size_t)need + 1);
    if (!text) {
        free(ids);
        return MHD_NO;
    }
    adm_detokenize(v, ids, (int64_t)n, text, need + 1, 0);
    free(ids);
    json_t *r = json_pack("{s:o}", "content", srv_json_lossy(text, (size_t)need));
    free(text);
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return send_json(c, 200, s);
}

/* ---- POST /slots/{id}?action=save|restore|erase (llama-server's shapes) ---- */

/* A library message names the file by the path the server made, "DIR/NAME":
 * show the client NAME only (the server's directories are none of its
 * business). */
static void strip_dir(char *msg, const char *dir) {
    char needle[1024];
    const int n = snprintf(needle, sizeof(needle), "%s/", dir);
    if (n <= 0 || (size_t)n >= sizeof(needle)) return;
    for (char *p; (p = strstr(msg, needle));) memmove(p, p + n, strlen(p + n) + 1);
}

static enum MHD_Result post_slot(srv_http *h, struct MHD_Connection *c, const char *id_str, const char *body,
                                 size_t len) {
    const char *action = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "action");
    char *end = NULL;
    errno = 0;
    const long id = strtol(id_str, &end, 10);
    const bool digits = id_str[0] >= '0' && id_str[0] <= '9' && !*end; /* no sign, space or trailing text */
    if (!digits || errno || id < 0 || id >= srv_engine_n_slots(h->p.engine))
        return send_errorf(c, 400, "invalid_request_error", "invalid slot id '%.32s': this server has slots 0 to %d",
                           id_str, srv_engine_n_slots(h->p.engine) - 1);
    srv_slot_op op = {.slot = (int)id};
    if (action && !strcmp(action, "save")) op.action = SRV_SLOT_SAVE;
    else if (action && !strcmp(action, "restore")) op.action = SRV_SLOT_RESTORE;
    else if (action && !strcmp(action, "erase")) op.action = SRV_SLOT_ERASE;
    else
        return send_errorf(c, 400, "invalid_request_error", "invalid action '%.32s': expected ?action=save, restore "
                                                            "or erase", action ? action : "");
    char filename[SRV_SNAPSHOT_NAME_MAX + 1] = "";
    char *path = NULL;
    if (op.action != SRV_SLOT_ERASE) {
        if (!h->p.slot_save_path)
            return send_errorf(c, 501, "not_supported_error",
                               "this server does not save or restore slots: start it with --slot-save-path DIR");
        srv_error e;
        json_t *o = srv_parse_body(body, len, MAX_DEPTH, &e);
        if (!o) return send_error(c, &e);
        const json_t *f = json_object_get(o, "filename");
        char why[256] = "";
        if (!json_is_string(f)) snprintf(why, sizeof(why), "expected {\"filename\": STRING}");
        else if (strlen(json_string_value(f)) != json_string_length(f)) snprintf(why, sizeof(why), "invalid filename");
        else if (srv_snapshot_name_ok(json_string_value(f), why, sizeof(why)))
            snprintf(filename, sizeof(filename), "%s", json_string_value(f));
        json_decref(o);
        if (!filename[0]) return send_errorf(c, 400, "invalid_request_error", "%s", why);
        const size_t n = strlen(h->p.slot_save_path) + strlen(filename) + 2;
        if (!(path = malloc(n))) return MHD_NO;
        snprintf(path, n, "%s/%s", h->p.slot_save_path, filename);
        struct stat sb;
        if (op.action == SRV_SLOT_RESTORE && stat(path, &sb) != 0) {
            free(path);
            return send_errorf(c, 404, "not_found_error", "no snapshot named '%s' in the slot save path", filename);
        }
        op.path = path;
    }
    srv_engine_slot_op(h->p.engine, &op);
    uint64_t bytes = 0;
    struct stat sb;
    if (op.status == 200 && path && stat(path, &sb) == 0) bytes = (uint64_t)sb.st_size;
    free(path);
    if (op.status != 200) {
        if (h->p.slot_save_path) strip_dir(op.errmsg, h->p.slot_save_path);
        const char *type = op.status == 503 ? "unavailable_error" : op.status >= 500 ? "server_error"
                                                                                      : "invalid_request_error";
        return send_errorf(c, op.status, type, "%s", op.errmsg);
    }
    json_t *r;
    if (op.action == SRV_SLOT_ERASE)
        r = json_pack("{s:i, s:i}", "id_slot", op.slot, "n_erased", op.n_tokens);
    else if (op.action == SRV_SLOT_SAVE)
        r = json_pack("{s:i, s:s, s:i, s:I, s:{s:f}}", "id_slot", op.slot, "filename", filename, "n_saved", op.n_tokens,
                      "n_written", (json_int_t)bytes, "timings", "save_ms", op.ms);
    else
        r = json_pack("{s:i, s:s, s:i, s:I, s:{s:f}}", "id_slot", op.slot, "filename", filename, "n_restored",
                      op.n_tokens, "n_read", (json_int_t)bytes, "timings", "restore_ms", op.ms);
    char *out = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    return send_json(c, 200, out);
}

/* ---- completions ---- */

static const char *finish_str(adm_finish f) {
    return f == ADM_FINISH_LENGTH || f == ADM_FINISH_CTX_FULL ? "length" : "stop";
}

/* The request's prompt as tokens, checked against a slot's context. */
static bool build_prompt(srv_http *h, const serve_req *r, srv_task *t, srv_error *e) {
    const adm_vocab *v = adm_model_vocab(h->p.model);
    if (r->prompt_tokens) {
        t->prompt = malloc(sizeof(int32_t) * (size_t)r->n_prompt_tokens);
        if (!t->prompt) return srv_fail(e, 503, "server_error", NULL, "out of memory");
        memcpy(t->prompt, r->prompt_tokens, sizeof(int32_t) * (size_t)r->n_prompt_tokens);
        t->n_prompt = r->n_prompt_tokens;
    } else {
        char *rendered = NULL;
        const char *text = r->prompt;
        int64_t len = (int64_t)r->prompt_len;
        unsigned flags = ADM_TOKENIZE_ADD_SPECIAL;
        if (r->kind == SRV_CHAT) {
            len = adm_chat_render(h->p.chat_format, r->msgs, r->n_msgs, true, NULL, 0);
            if (len < 0 || !(rendered = malloc((size_t)len + 1)))
                return srv_fail(e, 400, "invalid_request_error", "messages", "the conversation is too large");
            adm_chat_render(h->p.chat_format, r->msgs, r->n_msgs, true, rendered, len + 1);
            text = rendered;
            flags |= ADM_TOKENIZE_PARSE_SPECIAL;
        }
        const int64_t n = adm_tokenize(v, text, len, NULL, 0, flags);
        if (n < 0 || n > INT32_MAX / 2) {
            free(rendered);
            return srv_fail(e, 400, "invalid_request_error", NULL, "the prompt is too long to tokenize");
        }
        t->prompt = malloc(sizeof(int32_t) * (size_t)(n + 1));
        if (!t->prompt) {
            free(rendered);
            return srv_fail(e, 503, "server_error", NULL, "out of memory");
        }
        adm_tokenize(v, text, len, t->prompt, n, flags);
        free(rendered);
        t->n_prompt = (int)n;
    }
    if (t->n_prompt == 0)
        return srv_fail(e, 400, "invalid_request_error", "prompt",
                        "the prompt is empty and the model adds no BOS token; give a prompt");
    if (t->n_prompt >= h->p.n_ctx) {
        srv_fail(e, 400, "invalid_request_error", r->kind == SRV_CHAT ? "messages" : "prompt",
                 "the prompt has %d tokens but a slot's context holds %d (start the server with a larger -c)",
                 t->n_prompt, h->p.n_ctx);
        e->code = "context_length_exceeded";
        e->n_prompt_tokens = t->n_prompt;
        e->n_ctx = h->p.n_ctx;
        return false;
    }
    return true;
}

static bool check_extensions(const srv_http *h, const serve_req *r, srv_error *e) {
    if (r->attention_set && r->attention != h->p.attention && r->attention != ADM_ATTN_DENSE)
        return srv_fail(e, 400, "invalid_request_error", "attention",
                        "this server's slots were created with --attention %s: a request may ask for '%s' or 'dense'",
                        attention_str(h->p.attention), attention_str(h->p.attention));
    if (r->budget && (h->p.attention == ADM_ATTN_DENSE || r->budget != h->p.budget))
        return srv_fail(e, 400, "invalid_request_error", "budget",
                        "the budget is fixed when the server starts (--budget; this one: %d with --attention %s)",
                        h->p.budget, attention_str(h->p.attention));
    return true;
}

static bool fill_gen(srv_http *h, serve_req *r, srv_task *t) {
    adm_gen_params *gp = &t->gp;
    gp->sampling = r->sp;
    if (!r->seed_set) gp->sampling.seed = random_seed();
    gp->n_predict = r->max_tokens >= 0 ? r->max_tokens : h->p.n_predict;
    for (int i = 0; i < r->n_stops; i++)
        if (!(gp->stops[i] = t->stops[i] = strdup(r->stops[i]))) return false;
    gp->n_stops = r->n_stops;
    gp->ignore_eos = r->ignore_eos;
    gp->strip_space = r->kind == SRV_COMPLETION && !r->prompt_tokens && r->prompt_len == 0;
    gp->lookup = h->p.lookup;
    if (h->p.lookup_ngram) gp->lookup_ngram = h->p.lookup_ngram;
    if (h->p.draft_max) gp->draft_max = h->p.draft_max;
    if (h->p.draft_p_min >= 0) gp->draft_p_min = h->p.draft_p_min;
    gp->n_probs = r->logprobs;
    /* The compiled grammar moves to the task (freed with it). */
    gp->grammar = t->grammar = r->grammar;
    r->grammar = NULL;
    t->attention_set = r->attention_set;
    t->attention = r->attention;
    return true;
}

static json_t *logprobs_of(srv_http *h, const srv_task *t, int from, int to, int n_top) {
    json_t *content = json_array();
    const adm_vocab *v = adm_model_vocab(h->p.model);
    for (int i = from; i < to; i++) {
        if (adm_vocab_is_eog(v, t->toks[i].id)) continue;
        srv_logprobs_append(content, v, &t->toks[i], n_top);
    }
    return json_pack("{s:o}", "content", content);
}

static srv_usage usage_of(const srv_task *t) {
    return (srv_usage){.prompt_tokens = t->info.n_prompt ? t->info.n_prompt : t->n_prompt,
                       .completion_tokens = t->info.n_gen,
                       .cached_tokens = t->info.n_cached};
}

static void sse_append(sse_state *s, const char *json, bool raw) {
    if (!json) return;
    const size_t n = strlen(json) + (raw ? 0 : 8);
    char *p = realloc(s->out, s->out_len + n + 1);
    if (!p) return;
    s->out = p;
    s->out_len += (size_t)(raw ? snprintf(p + s->out_len, n + 1, "%s", json)
                               : snprintf(p + s->out_len, n + 1, "data: %s\n\n", json));
}

/* Formats what the task produced since the last call (mutex held). */
static void sse_collect_locked(sse_state *s) {
    srv_task *t = s->task;
    const bool chat = s->reply.kind == SRV_CHAT;
    if (t->len > s->sent_text || (s->n_top >= 0 && t->n_toks > s->sent_toks)) {
        json_t *lp = s->n_top >= 0 ? logprobs_of(s->h, t, s->sent_toks, t->n_toks, s->n_top) : NULL;
        char *j = srv_chunk_json(&s->reply, false, t->text ? t->text + s->sent_text : "", t->len - s->sent_text, NULL,
                                 NULL, lp);
        sse_append(s, j, false);
        free(j);
        s->sent_text = t->len;
        s->sent_toks = t->n_toks;
    }
    if (t->state != SRV_DONE) return;
    s->finished = true;
    if (t->failed) {
        srv_error e = {.status = 500, .type = "server_error"};
        snprintf(e.msg, sizeof(e.msg), "%s", t->errmsg);
        char *j = srv_error_json(&e);
        sse_append(s, j, false);
        free(j);
        return;
    }
    char *j = srv_chunk_json(&s->reply, false, chat ? NULL : "", 0, finish_str(t->info.finish), NULL, NULL);
    sse_append(s, j, false);
    free(j);
    if (s->include_usage) {
        const srv_usage u = usage_of(t);
        j = srv_chunk_json(&s->reply, false, NULL, 0, NULL, &u, NULL);
        sse_append(s, j, false);
        free(j);
    }
    sse_append(s, "data: [DONE]\n\n", true);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    sse_state *s = cls;
    srv_engine *e = s->h->p.engine;
    while (s->out_off == s->out_len) {
        free(s->out);
        s->out = NULL;
        s->out_len = s->out_off = 0;
        if (s->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        srv_engine_lock(e);
        if (s->task->state != SRV_DONE && s->task->len == s->sent_text && s->task->n_toks == s->sent_toks)
            srv_task_wait(e, s->task, WAIT_MS);
        sse_collect_locked(s);
        srv_engine_unlock(e);
        if (s->out_len) break;
        if (peer_gone(s->fd)) {
            srv_engine_cancel(e, s->task);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (now_s() - s->last_write > s->h->p.sse_ping) sse_append(s, ": ping\n\n", true);
    }
    const size_t n = s->out_len - s->out_off < max ? s->out_len - s->out_off : max;
    memcpy(buf, s->out + s->out_off, n);
    s->out_off += n;
    s->last_write = now_s();
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    sse_state *s = cls;
    atomic_fetch_sub(&s->h->n_answering, 1);
    srv_engine_cancel(s->h->p.engine, s->task); /* a no-op when it ended */
    srv_task_unref(s->h->p.engine, s->task);
    free(s->out);
    free(s->model);
    free(s);
}

static enum MHD_Result post_completion(srv_http *h, struct MHD_Connection *c, conn_state *cs, srv_kind kind) {
    serve_req r;
    srv_error e;
    if (!serve_req_parse(kind, cs->body, cs->len, &h->lim, &r, &e)) return send_error(c, &e);
    srv_task *t = srv_task_new();
    if (!t) {
        serve_req_free(&r);
        return send_errorf(c, 503, "server_error", "out of memory");
    }
    /* The grammar is compiled here, before anything is queued or streamed,
     * so that a grammar the compiler refuses is a plain 400. */
    if (!check_extensions(h, &r, &e) || !build_prompt(h, &r, t, &e) ||
        !serve_req_compile(&r, adm_model_vocab(h->p.model), &e)) {
        serve_req_free(&r);
        srv_task_unref(h->p.engine, t);
        return send_error(c, &e);
    }
    if (!fill_gen(h, &r, t)) {
        serve_req_free(&r);
        srv_task_unref(h->p.engine, t);
        return send_errorf(c, 503, "server_error", "out of memory");
    }
    const bool stream = r.stream, include_usage = r.include_usage;
    const int n_top = r.logprobs;
    const int sub = srv_engine_submit(h->p.engine, t);
    serve_req_free(&r); /* the task owns copies of what it needs */
    if (sub != 0) {
        srv_task_unref(h->p.engine, t);
        return send_errorf(c, 503, "unavailable_error", sub == 1 ? "the server is busy (every slot is working and the "
                                                                   "queue is full); retry later"
                                                                 : "the server is shutting down");
    }
    /* No timeout while the answer is being produced: silence is the model thinking. */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    srv_reply reply = {.kind = kind, .created = (long long)time(NULL), .model = h->p.alias};
    char id[48];
    random_id(id, sizeof(id), kind == SRV_CHAT ? "chatcmpl-" : "cmpl-");
    reply.id = id;
    const int fd = conn_fd(c);
    if (stream) {
        sse_state *s = calloc(1, sizeof(*s));
        if (!s) {
            srv_engine_cancel(h->p.engine, t);
            srv_task_unref(h->p.engine, t);
            return MHD_NO;
        }
        atomic_fetch_add(&h->n_answering, 1);
        s->h = h;
        s->task = t;
        s->reply = reply;
        memcpy(s->id, id, sizeof(id));
        s->reply.id = s->id;
        s->fd = fd;
        s->include_usage = include_usage;
        s->n_top = n_top;
        s->last_write = now_s();
        if (kind == SRV_CHAT) {
            char *j = srv_chunk_json(&s->reply, true, NULL, 0, NULL, NULL, NULL);
            sse_append(s, j, false);
            free(j);
        }
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, s, sse_free);
        if (!resp) {
            sse_free(s);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        add_common_headers(resp);
        const enum MHD_Result ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    cs->task = t;
    srv_engine *eng = h->p.engine;
    atomic_fetch_add(&h->n_answering, 1);
    srv_engine_lock(eng);
    while (t->state != SRV_DONE) {
        srv_task_wait(eng, t, WAIT_MS);
        if (t->state == SRV_DONE) break;
        srv_engine_unlock(eng);
        if (peer_gone(fd)) {
            srv_engine_cancel(eng, t);
            atomic_fetch_sub(&h->n_answering, 1);
            return MHD_NO; /* nobody to answer; the completion callback drops the task */
        }
        srv_engine_lock(eng);
    }
    srv_engine_unlock(eng); /* done: the engine no longer writes to t */
    enum MHD_Result ret;
    if (t->failed) {
        ret = send_errorf(c, 503, "unavailable_error", "%s", t->errmsg);
    } else {
        const srv_usage u = usage_of(t);
        json_t *lp = n_top >= 0 ? logprobs_of(h, t, 0, t->n_toks, n_top) : NULL;
        ret = send_json(c, 200, srv_completion_json(&reply, t->text ? t->text : "", t->len, finish_str(t->info.finish),
                                                    &u, lp));
    }
    atomic_fetch_sub(&h->n_answering, 1);
    return ret;
}

/* ---- dispatch ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    srv_http *h = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        /* First call: headers only. Refuse early what needs no body. */
        if (!(cs = calloc(1, sizeof(*cs)))) return MHD_NO;
        *con_cls = cs;
        if (!is_public(method, url) && !authorized(h, c))
            return send_errorf(c, 401, "authentication_error", "invalid or missing API key (send 'Authorization: "
                                                               "Bearer KEY')");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > h->p.max_body)
            return send_errorf(c, 413, "invalid_request_error",
                               "the body is %s bytes; this server accepts at most %zu (--max-body)", cl, h->p.max_body);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cs->too_big && cs->len + *upload_size > h->p.max_body) {
            cs->too_big = true;
            free(cs->body);
            cs->body = NULL;
            cs->len = cs->cap = 0;
        }
        if (!cs->too_big) {
            if (cs->len + *upload_size + 1 > cs->cap) {
                size_t cap = cs->cap ? cs->cap : 4096;
                while (cap < cs->len + *upload_size + 1) cap *= 2;
                char *p = realloc(cs->body, cap);
                if (!p) return MHD_NO;
                cs->body = p;
                cs->cap = cap;
            }
            memcpy(cs->body + cs->len, upload, *upload_size);
            cs->len += *upload_size;
            cs->body[cs->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (h->stopping) return send_errorf(c, 503, "unavailable_error", "the server is shutting down");
    if (cs->too_big)
        return send_errorf(c, 413, "invalid_request_error", "the body is larger than %zu bytes (--max-body)",
                           h->p.max_body);
    if (!strcmp(method, "OPTIONS")) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        add_common_headers(r);
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key");
        MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
        const enum MHD_Result ret = MHD_queue_response(c, 204, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) return get_route(h, c, url);
    if (strcmp(method, "POST"))
        return send_errorf(c, 405, "invalid_request_error", "method %.20s is not allowed here", method);
    if (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/chat/completions"))
        return post_completion(h, c, cs, SRV_CHAT);
    if (!strcmp(url, "/v1/completions") || !strcmp(url, "/completions"))
        return post_completion(h, c, cs, SRV_COMPLETION);
    if (!strcmp(url, "/tokenize")) return post_tokenize(h, c, cs->body, cs->len);
    if (!strcmp(url, "/detokenize")) return post_detokenize(h, c, cs->body, cs->len);
    if (!strncmp(url, "/slots/", 7)) return post_slot(h, c, url + 7, cs->body, cs->len);
    return send_errorf(c, 404, "not_found_error", "no such endpoint: POST %.200s", url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why) {
    (void)why;
    srv_http *h = cls;
    conn_state *cs = *con_cls;
    if (!cs) return;
    if (cs->task) {
        srv_engine_cancel(h->p.engine, cs->task); /* a no-op when it ended */
        srv_task_unref(h->p.engine, cs->task);
    }
    free(cs->body);
    free(cs);
    *con_cls = NULL;
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)h->p.timeout);
}

srv_http *srv_http_start(const srv_http_params *p, char *errbuf, size_t errlen) {
    srv_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    h->p = *p;
    h->lim = (srv_limits){.max_depth = MAX_DEPTH,
                          .max_messages = 4096,
                          .max_prompt_tokens = p->n_ctx,
                          .n_vocab = adm_model_n_vocab(p->model)};
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", p->port);
    const int gai = getaddrinfo(p->host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(errbuf, errlen, "cannot resolve --host %s: %s", p->host, gai_strerror(gai));
        free(h);
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, (uint16_t)p->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)p->timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            p->max_header, MHD_OPTION_CONNECTION_LIMIT, (unsigned)p->max_conns,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d (in use, or not an address of this machine?)", p->host,
                 p->port);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : p->port;
    return h;
}

int srv_http_port(const srv_http *h) { return h->port; }

void srv_http_stop(srv_http *h) {
    if (!h) return;
    atomic_store(&h->stopping, 1);
    MHD_socket ls = MHD_quiesce_daemon(h->d); /* no new connections */
    /* The engine has ended every task: give the answers up to 5 s to be written. */
    for (int i = 0; i < 500 && atomic_load(&h->n_answering) > 0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(h->d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    free(h);
}
