/*
 * serve_response.c - OpenAI's response shapes: chat.completion,
 * chat.completion.chunk, text_completion, usage, log-probabilities and
 * errors, as the official clients parse them.
 */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dump(json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

json_t *srv_json_lossy(const char *s, size_t len) {
    if (srv_utf8_valid(s, len)) return json_stringn(s, len);
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = 1;
        const unsigned char c = (unsigned char)s[i];
        if (c >= 0xc0) n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (i + n <= len && srv_utf8_valid(s + i, n)) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        } else if (c < 0x80) {
            out[o++] = (char)c;
            i++;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(out, o);
    free(out);
    return j;
}

char *srv_error_json(const srv_error *e) {
    json_t *inner = json_pack("{s:o, s:s, s:o, s:o}", "message", srv_json_lossy(e->msg, strlen(e->msg)), "type",
                              e->type ? e->type : "invalid_request_error", "param",
                              e->param[0] ? srv_json_lossy(e->param, strlen(e->param)) : json_null(), "code",
                              e->code ? json_string(e->code) : json_null());
    if (e->n_ctx > 0) {
        json_object_set_new(inner, "n_prompt_tokens", json_integer(e->n_prompt_tokens));
        json_object_set_new(inner, "n_ctx", json_integer(e->n_ctx));
    }
    return dump(json_pack("{s:o}", "error", inner));
}

static json_t *usage_json(const srv_usage *u) {
    return json_pack("{s:i, s:i, s:i, s:{s:i}}", "prompt_tokens", u->prompt_tokens, "completion_tokens",
                     u->completion_tokens, "total_tokens", u->prompt_tokens + u->completion_tokens,
                     "prompt_tokens_details", "cached_tokens", u->cached_tokens);
}

static json_t *envelope(const srv_reply *r, const char *object) {
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", r->id, "object", object, "created", (json_int_t)r->created,
                     "model", r->model, "system_fingerprint", "adamas");
}

char *srv_completion_json(const srv_reply *r, const char *text, size_t len, const char *finish, const srv_usage *u,
                          json_t *logprobs) {
    const bool chat = r->kind == SRV_CHAT;
    json_t *o = envelope(r, chat ? "chat.completion" : "text_completion");
    json_t *choice;
    if (chat)
        choice = json_pack("{s:i, s:{s:s, s:o}, s:o, s:s}", "index", 0, "message", "role", "assistant", "content",
                           srv_json_lossy(text, len), "logprobs", logprobs ? logprobs : json_null(),
                           "finish_reason", finish);
    else
        choice = json_pack("{s:i, s:o, s:o, s:s}", "index", 0, "text", srv_json_lossy(text, len), "logprobs",
                           logprobs ? srv_logprobs_legacy(logprobs) : json_null(), "finish_reason", finish);
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    json_object_set_new(o, "usage", usage_json(u));
    return dump(o);
}

char *srv_chunk_json(const srv_reply *r, bool role, const char *text, size_t len, const char *finish,
                     const srv_usage *usage, json_t *logprobs) {
    const bool chat = r->kind == SRV_CHAT;
    json_t *o = envelope(r, chat ? "chat.completion.chunk" : "text_completion");
    if (usage) {
        json_object_set_new(o, "choices", json_array());
        json_object_set_new(o, "usage", usage_json(usage));
        json_decref(logprobs);
        return dump(o);
    }
    json_t *choice = json_pack("{s:i, s:o}", "index", 0, "finish_reason", finish ? json_string(finish) : json_null());
    if (chat) {
        json_t *delta = json_object();
        if (role) {
            json_object_set_new(delta, "role", json_string("assistant"));
            json_object_set_new(delta, "content", json_string(""));
        }
        if (text) json_object_set_new(delta, "content", srv_json_lossy(text, len));
        json_object_set_new(choice, "delta", delta);
        json_object_set_new(choice, "logprobs", logprobs ? logprobs : json_null());
    } else {
        json_object_set_new(choice, "text", srv_json_lossy(text ? text : "", text ? len : 0));
        json_object_set_new(choice, "logprobs", logprobs ? srv_logprobs_legacy(logprobs) : json_null());
    }
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    return dump(o);
}

static json_t *token_entry(const adm_vocab *v, int32_t id, float logprob) {
    char buf[256];
    int n = adm_token_to_bytes(v, id, buf, (int)sizeof(buf), false);
    if (n < 0) n = 0;
    if (n > (int)sizeof(buf)) n = (int)sizeof(buf);
    json_t *bytes = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(bytes, json_integer((unsigned char)buf[i]));
    /* OpenAI's floor for "very unlikely" */
    const double lp = logprob < -9999.0f || logprob != logprob ? -9999.0 : (double)logprob;
    return json_pack("{s:o, s:f, s:o}", "token", srv_json_lossy(buf, (size_t)n), "logprob", lp, "bytes", bytes);
}

void srv_logprobs_append(json_t *content, const adm_vocab *v, const srv_tok *t, int n_top) {
    json_t *e = token_entry(v, t->id, t->logprob);
    json_t *top = json_array();
    for (int i = 0; i < t->n_top && i < n_top; i++) json_array_append_new(top, token_entry(v, t->top[i].id, t->top[i].logprob));
    json_object_set_new(e, "top_logprobs", top);
    json_array_append_new(content, e);
}

json_t *srv_logprobs_legacy(json_t *content) {
    json_t *arr = json_object_get(content, "content");
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    size_t i, off = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        json_t *tok = json_object_get(e, "token");
        json_array_append(tokens, tok);
        json_array_append(lps, json_object_get(e, "logprob"));
        json_t *top = json_object(), *alt;
        size_t k;
        json_array_foreach(json_object_get(e, "top_logprobs"), k, alt)
            json_object_set(top, json_string_value(json_object_get(alt, "token")), json_object_get(alt, "logprob"));
        json_array_append_new(tops, top);
        json_array_append_new(offs, json_integer((json_int_t)off));
        off += json_string_length(tok);
    }
    json_t *o = json_pack("{s:o, s:o, s:o, s:o}", "tokens", tokens, "token_logprobs", lps, "top_logprobs", tops,
                          "text_offset", offs);
    json_decref(content);
    return o;
}
