/*
 * serve_request.c - turns the JSON body of POST /v1/chat/completions or
 * POST /v1/completions into a validated serve_req.
 *
 * Every field OpenAI defines is either honoured, accepted because it has
 * no effect on a local server (user, store, metadata, service_tier,
 * parallel_tool_calls), accepted in its "off" value only (n = 1, empty
 * tools, echo false, ...), or refused with a 400
 * that names it. A field nobody defines is refused too: a typo such as
 * "max_token" must not silently give a 2000-token answer. Every failure is
 * a 400 (the official clients retry 5xx responses), with a message that
 * names the field and what was expected.
 */
#include "serve.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVALID "invalid_request_error"
#define MAX_STOP_LEN 1024

bool srv_fail(srv_error *err, int status, const char *type, const char *param, const char *fmt, ...) {
    err->status = status;
    err->type = type;
    snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
    err->code = NULL;
    err->n_prompt_tokens = err->n_ctx = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return false;
}

bool srv_utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        const unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int n;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) n = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) n = 2, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0) n = 3, cp = c & 0x07, min = 0x10000;
        else return false;
        if (len - i <= (size_t)n) return false;
        for (int k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += (size_t)n + 1;
    }
    return true;
}

/* Deepest nesting of arrays and objects, scanning the raw text (strings
 * skipped), so that a hostile body is refused before any recursive code
 * sees it. Stops counting once over the limit. */
static int json_depth(const char *s, size_t len, int limit) {
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        const char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max) max = depth;
            if (max > limit) return max;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static bool want_bool(const char *key, const json_t *v, bool *out, srv_error *err) {
    if (json_is_null(v)) return true;
    if (!json_is_boolean(v)) return srv_fail(err, 400, INVALID, key, "'%s' must be a boolean, not %s", key, type_name(v));
    *out = json_is_true(v);
    return true;
}

static bool want_int(const char *key, const json_t *v, long long lo, long long hi, bool *set, long long *out,
                     srv_error *err) {
    if (json_is_null(v)) return true;
    long long x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9e18) {
        x = (long long)json_real_value(v); /* 16.0 is an integer to JavaScript clients */
    } else {
        return srv_fail(err, 400, INVALID, key, "'%s' must be an integer, not %s", key, type_name(v));
    }
    if (x < lo || x > hi)
        return srv_fail(err, 400, INVALID, key, "'%s' must be between %lld and %lld (got %lld)", key, lo, hi, x);
    if (set) *set = true;
    *out = x;
    return true;
}

static bool want_num(const char *key, const json_t *v, double lo, double hi, float *out, srv_error *err) {
    if (json_is_null(v)) return true;
    if (!json_is_number(v)) return srv_fail(err, 400, INVALID, key, "'%s' must be a number, not %s", key, type_name(v));
    const double x = json_number_value(v);
    if (!(x >= lo && x <= hi))
        return srv_fail(err, 400, INVALID, key, "'%s' must be between %g and %g (got %g)", key, lo, hi, x);
    *out = (float)x;
    return true;
}

static bool unsupported(const char *key, srv_error *err, const char *why) {
    return srv_fail(err, 400, INVALID, key, "'%s' is not supported by this server%s", key, why);
}

static bool parse_stop(const json_t *v, serve_req *r, srv_error *err) {
    if (json_is_null(v)) return true;
    if (json_is_string(v)) {
        if (json_string_length(v) > MAX_STOP_LEN)
            return srv_fail(err, 400, INVALID, "stop", "a stop string may be at most %d bytes", MAX_STOP_LEN);
        if (json_string_length(v)) r->stops[r->n_stops++] = json_string_value(v);
        return true;
    }
    if (!json_is_array(v))
        return srv_fail(err, 400, INVALID, "stop", "'stop' must be a string or an array of strings, not %s",
                        type_name(v));
    if (json_array_size(v) > ADM_MAX_STOPS)
        return srv_fail(err, 400, INVALID, "stop", "at most %d stop strings (got %zu)", ADM_MAX_STOPS,
                        json_array_size(v));
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s))
            return srv_fail(err, 400, INVALID, "stop", "'stop' must be a string or an array of strings; element %zu is %s",
                            i, type_name(s));
        if (json_string_length(s) > MAX_STOP_LEN)
            return srv_fail(err, 400, INVALID, "stop", "a stop string may be at most %d bytes", MAX_STOP_LEN);
        if (json_string_length(s)) r->stops[r->n_stops++] = json_string_value(s);
    }
    return true;
}

/* A message's content: a string, null (an assistant turn with nothing to
 * say), or an array of {"type":"text","text":...} parts, joined. */
static bool parse_content(const json_t *v, int idx, serve_req *r, const char **out, srv_error *err) {
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return true;
    }
    if (json_is_null(v)) {
        *out = "";
        return true;
    }
    if (!json_is_array(v))
        return srv_fail(err, 400, INVALID, "messages", "messages[%d].content must be a string or an array of text parts, not %s",
                        idx, type_name(v));
    size_t total = 0, i;
    json_t *part;
    json_array_foreach(v, i, part) {
        const json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_object(part) || !json_is_string(type) || strcmp(json_string_value(type), "text") != 0)
            return srv_fail(err, 400, INVALID, "messages",
                            "messages[%d].content[%zu]: only {\"type\": \"text\", \"text\": ...} parts are supported", idx,
                            i);
        if (!json_is_string(text) || json_object_size(part) != 2)
            return srv_fail(err, 400, INVALID, "messages",
                            "messages[%d].content[%zu] must be {\"type\": \"text\", \"text\": STRING}", idx, i);
        total += json_string_length(text);
    }
    char *joined = malloc(total + 1);
    if (!joined) return srv_fail(err, 400, INVALID, "messages", "the messages are too large");
    size_t at = 0;
    json_array_foreach(v, i, part) {
        const json_t *text = json_object_get(part, "text");
        memcpy(joined + at, json_string_value(text), json_string_length(text));
        at += json_string_length(text);
    }
    joined[at] = 0;
    r->owned[idx] = joined;
    *out = joined;
    return true;
}

static bool parse_messages(const json_t *v, const srv_limits *lim, serve_req *r, srv_error *err) {
    if (!json_is_array(v))
        return srv_fail(err, 400, INVALID, "messages", "'messages' must be an array of messages, not %s", type_name(v));
    const size_t n = json_array_size(v);
    if (n == 0) return srv_fail(err, 400, INVALID, "messages", "'messages' is empty");
    if (n > (size_t)lim->max_messages)
        return srv_fail(err, 400, INVALID, "messages", "at most %d messages per request (got %zu)", lim->max_messages, n);
    r->msgs = calloc(n, sizeof(*r->msgs));
    r->owned = calloc(n, sizeof(*r->owned));
    if (!r->msgs || !r->owned) return srv_fail(err, 400, INVALID, "messages", "the messages are too large");
    r->n_msgs = (int)n;
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
        const int idx = (int)i;
        if (!json_is_object(m))
            return srv_fail(err, 400, INVALID, "messages", "messages[%d] must be an object, not %s", idx, type_name(m));
        const char *key;
        json_t *val;
        const char *role = NULL;
        bool has_content = false;
        json_object_foreach(m, key, val) {
            if (!strcmp(key, "role")) {
                if (!json_is_string(val))
                    return srv_fail(err, 400, INVALID, "messages", "messages[%d].role must be a string", idx);
                role = json_string_value(val);
            } else if (!strcmp(key, "content")) {
                has_content = true;
                if (!parse_content(val, idx, r, &r->msgs[i].content, err)) return false;
            } else if (!strcmp(key, "name")) {
                if (!json_is_string(val))
                    return srv_fail(err, 400, INVALID, "messages", "messages[%d].name must be a string", idx);
            } else if (!strcmp(key, "tool_calls") || !strcmp(key, "function_call")) {
                if (!json_is_null(val) && !(json_is_array(val) && json_array_size(val) == 0))
                    return srv_fail(err, 400, INVALID, "messages", "messages[%d].%s: tool calls are not supported", idx,
                                    key);
            } else if (!strcmp(key, "refusal")) {
                if (!json_is_null(val) && !json_is_string(val))
                    return srv_fail(err, 400, INVALID, "messages", "messages[%d].refusal must be a string", idx);
            } else {
                return srv_fail(err, 400, INVALID, "messages", "messages[%d]: unknown field '%s'", idx, key);
            }
        }
        if (!role) return srv_fail(err, 400, INVALID, "messages", "messages[%d] has no 'role'", idx);
        if (!strcmp(role, "developer")) role = "system"; /* OpenAI's newer name for it */
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
            return srv_fail(err, 400, INVALID, "messages",
                            "messages[%d].role must be 'system', 'developer', 'user' or 'assistant' (got '%.40s')", idx,
                            role);
        if (!has_content && strcmp(role, "assistant"))
            return srv_fail(err, 400, INVALID, "messages", "messages[%d] has no 'content'", idx);
        if (!has_content) r->msgs[i].content = "";
        /* Roles are compared by the renderer; keep pointers to constants. */
        r->msgs[i].role = !strcmp(role, "system") ? "system" : !strcmp(role, "user") ? "user" : "assistant";
    }
    return true;
}

static bool parse_prompt(const json_t *v, const srv_limits *lim, serve_req *r, srv_error *err) {
    if (json_is_array(v) && json_array_size(v) == 1 && json_is_string(json_array_get(v, 0)))
        v = json_array_get(v, 0); /* ["text"]: one prompt in a list */
    if (json_is_string(v)) {
        r->prompt = json_string_value(v);
        r->prompt_len = json_string_length(v);
        return true;
    }
    if (!json_is_array(v))
        return srv_fail(err, 400, INVALID, "prompt", "'prompt' must be a string or an array of token ids, not %s",
                        type_name(v));
    const size_t n = json_array_size(v);
    if (n == 0) return srv_fail(err, 400, INVALID, "prompt", "'prompt' is empty");
    if (n > (size_t)lim->max_prompt_tokens)
        return srv_fail(err, 400, INVALID, "prompt", "a prompt may have at most %d tokens (got %zu)",
                        lim->max_prompt_tokens, n);
    r->prompt_tokens = malloc(n * sizeof(int32_t));
    if (!r->prompt_tokens) return srv_fail(err, 400, INVALID, "prompt", "the prompt is too large");
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t) {
        if (!json_is_integer(t)) {
            if (json_is_string(t) || json_is_array(t))
                return srv_fail(err, 400, INVALID, "prompt",
                                "one prompt per request ('prompt' holds several; send them as separate requests)");
            return srv_fail(err, 400, INVALID, "prompt", "prompt[%zu] must be a token id, not %s", i, type_name(t));
        }
        const json_int_t id = json_integer_value(t);
        if (id < 0 || (lim->n_vocab > 0 && id >= lim->n_vocab) || id > INT32_MAX)
            return srv_fail(err, 400, INVALID, "prompt", "prompt[%zu] = %lld is not a token id of this model (0..%d)", i,
                            (long long)id, lim->n_vocab - 1);
        r->prompt_tokens[i] = (int32_t)id;
    }
    r->n_prompt_tokens = (int)n;
    return true;
}

/* The fields that may constrain the output, gathered while parsing and
 * checked together afterwards (at most one of them may be set). */
typedef struct gram_fields {
    bool rf;                 /* response_format asks for JSON */
    const json_t *rf_schema; /* ... under this schema (NULL: any JSON object) */
    bool rf_any;             /* ... json_schema without a schema: any JSON value */
    const char *rf_where;    /* the schema's place, for messages */
    const json_t *gbnf;      /* `grammar`: a non-empty string */
    const json_t *schema;    /* `json_schema`: an object */
} gram_fields;

static const json_t *want_schema(const char *where, const json_t *v, srv_error *err) {
    if (!json_is_object(v))
        return srv_fail(err, 400, INVALID, "response_format", "%s must be a JSON schema (an object), not %s", where,
                        type_name(v)),
               NULL;
    return v;
}

/* OpenAI's {"type": "text" | "json_object" | "json_schema", ...}; also
 * llama-server's {"type": "json_object", "schema": {...}}. */
static bool parse_response_format(const json_t *v, gram_fields *g, srv_error *err) {
    const char *P = "response_format";
    if (json_is_null(v)) return true;
    if (!json_is_object(v))
        return srv_fail(err, 400, INVALID, P,
                        "'response_format' must be an object such as {\"type\": \"json_object\"}, not %s",
                        type_name(v));
    const json_t *t = json_object_get(v, "type");
    if (!t) return srv_fail(err, 400, INVALID, P, "'response_format' has no 'type'");
    const char *type = json_string_value(t);
    if (!type || (strcmp(type, "text") && strcmp(type, "json_object") && strcmp(type, "json_schema")))
        return srv_fail(err, 400, INVALID, P,
                        "response_format.type must be 'text', 'json_object' or 'json_schema' (got %s%.40s%s)",
                        type ? "'" : "", type ? type : type_name(t), type ? "'" : "");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (!strcmp(key, "type")) continue;
        if (!strcmp(type, "json_object") && !strcmp(key, "schema")) {
            if (json_is_null(val)) continue;
            if (!(g->rf_schema = want_schema("response_format.schema", val, err))) return false;
            g->rf_where = "response_format.schema";
        } else if (!strcmp(type, "json_schema") && !strcmp(key, "json_schema")) {
            if (!json_is_object(val))
                return srv_fail(err, 400, INVALID, P,
                                "response_format.json_schema must be an object {\"name\", \"schema\", \"strict\", "
                                "\"description\"}, not %s",
                                type_name(val));
            const char *k;
            json_t *x;
            json_object_foreach(val, k, x) {
                if (!strcmp(k, "schema")) {
                    if (!(g->rf_schema = want_schema("response_format.json_schema.schema", x, err))) return false;
                    g->rf_where = "response_format.json_schema.schema";
                } else if (!strcmp(k, "name") || !strcmp(k, "description")) {
                    if (!json_is_string(x))
                        return srv_fail(err, 400, INVALID, P, "response_format.json_schema.%s must be a string, not %s",
                                        k, type_name(x));
                } else if (!strcmp(k, "strict")) {
                    /* The output follows the schema whatever strict says. */
                    if (!json_is_null(x) && !json_is_boolean(x))
                        return srv_fail(err, 400, INVALID, P, "response_format.json_schema.strict must be a boolean, "
                                        "not %s", type_name(x));
                } else {
                    return srv_fail(err, 400, INVALID, P, "response_format.json_schema: unknown field '%.64s'", k);
                }
            }
        } else {
            return srv_fail(err, 400, INVALID, P, "response_format of type '%s': unknown field '%.64s'", type, key);
        }
    }
    if (!strcmp(type, "json_schema")) {
        if (!json_object_get(v, "json_schema"))
            return srv_fail(err, 400, INVALID, P, "response_format of type 'json_schema' needs 'json_schema': "
                            "{\"name\": ..., \"schema\": {...}}");
        g->rf_any = !g->rf_schema;
    }
    g->rf = strcmp(type, "text") != 0;
    return true;
}

static bool parse_field(const char *key, json_t *v, const srv_limits *lim, serve_req *r, bool *have_main,
                        bool *logprobs_on, long long *top_logprobs, bool *top_set, gram_fields *g, srv_error *err) {
    const bool chat = r->kind == SRV_CHAT;
    long long x = 0;
    bool set = false;
    if (chat && !strcmp(key, "messages")) {
        *have_main = true;
        return parse_messages(v, lim, r, err);
    }
    if (!chat && !strcmp(key, "prompt")) {
        *have_main = true;
        return parse_prompt(v, lim, r, err);
    }
    if (!strcmp(key, "model")) {
        if (!json_is_null(v) && !json_is_string(v))
            return srv_fail(err, 400, INVALID, key, "'model' must be a string, not %s", type_name(v));
        r->model = json_string_value(v);
        return true;
    }
    if (!strcmp(key, "stream")) return want_bool(key, v, &r->stream, err);
    if (!strcmp(key, "stream_options")) {
        if (json_is_null(v)) return true;
        if (!json_is_object(v))
            return srv_fail(err, 400, INVALID, key, "'stream_options' must be an object, not %s", type_name(v));
        const char *k;
        json_t *val;
        json_object_foreach(v, k, val) {
            if (!strcmp(k, "include_usage")) {
                if (!want_bool("stream_options.include_usage", val, &r->include_usage, err)) return false;
            } else if (!strcmp(k, "include_obfuscation")) {
                bool ignored;
                if (!want_bool("stream_options.include_obfuscation", val, &ignored, err)) return false;
            } else {
                return srv_fail(err, 400, INVALID, key, "stream_options: unknown field '%s'", k);
            }
        }
        return true;
    }
    if (!strcmp(key, "max_tokens") || (chat && !strcmp(key, "max_completion_tokens"))) {
        if (!want_int(key, v, 0, INT32_MAX, &set, &x, err)) return false;
        /* max_completion_tokens is the newer name; it wins when both are given */
        if (set && (r->max_tokens < 0 || !strcmp(key, "max_completion_tokens"))) r->max_tokens = (int)x;
        return true;
    }
    if (!strcmp(key, "n_predict")) { /* llama.cpp's name; -1 = no limit */
        if (!want_int(key, v, -1, INT32_MAX, &set, &x, err)) return false;
        if (set) r->max_tokens = (int)x;
        return true;
    }
    if (!strcmp(key, "temperature")) return want_num(key, v, 0, 2, &r->sp.temp, err);
    if (!strcmp(key, "top_p")) return want_num(key, v, 0, 1, &r->sp.top_p, err);
    if (!strcmp(key, "min_p")) return want_num(key, v, 0, 1, &r->sp.min_p, err);
    if (!strcmp(key, "presence_penalty")) return want_num(key, v, -2, 2, &r->sp.presence_penalty, err);
    if (!strcmp(key, "frequency_penalty")) return want_num(key, v, -2, 2, &r->sp.freq_penalty, err);
    if (!strcmp(key, "repeat_penalty")) return want_num(key, v, 0.01, 10, &r->sp.repeat_penalty, err);
    if (!strcmp(key, "top_k")) {
        if (!want_int(key, v, 0, INT32_MAX, &set, &x, err)) return false;
        if (set) r->sp.top_k = (int)x;
        return true;
    }
    if (!strcmp(key, "repeat_last_n")) {
        if (!want_int(key, v, 0, 1 << 20, &set, &x, err)) return false;
        if (set) r->sp.penalty_last_n = (int)x;
        return true;
    }
    if (!strcmp(key, "seed")) {
        if (!want_int(key, v, LLONG_MIN, LLONG_MAX, &set, &x, err)) return false;
        if (set && x != -1) { /* -1: random, as in llama.cpp */
            r->sp.seed = (uint64_t)x;
            r->seed_set = true;
        }
        return true;
    }
    if (!strcmp(key, "stop")) return parse_stop(v, r, err);
    if (!strcmp(key, "n") || !strcmp(key, "best_of")) {
        if (!want_int(key, v, 1, INT32_MAX, &set, &x, err)) return false;
        if (x > 1)
            return srv_fail(err, 400, INVALID, key,
                            "'%s' must be 1: this server generates one choice per request (send %lld requests)", key, x);
        return true;
    }
    if (!strcmp(key, "logprobs")) {
        if (chat) return want_bool(key, v, logprobs_on, err);
        /* legacy completions: logprobs = how many alternatives (0..5) */
        if (!want_int(key, v, 0, 5, &set, &x, err)) return false;
        if (set) *logprobs_on = true, *top_logprobs = x, *top_set = true;
        return true;
    }
    if (chat && !strcmp(key, "top_logprobs")) return want_int(key, v, 0, ADM_MAX_LOGPROBS, top_set, top_logprobs, err);
    if (!strcmp(key, "ignore_eos")) return want_bool(key, v, &r->ignore_eos, err);
    if (!strcmp(key, "cache_prompt")) { /* llama.cpp's; prefixes are always reused here */
        bool ignored;
        return want_bool(key, v, &ignored, err);
    }
    if (!strcmp(key, "attention")) {
        if (json_is_null(v)) return true;
        const char *s = json_string_value(v);
        if (!s) return srv_fail(err, 400, INVALID, key, "'attention' must be a string, not %s", type_name(v));
        if (!strcmp(s, "dense")) r->attention = ADM_ATTN_DENSE;
        else if (!strcmp(s, "adamas")) r->attention = ADM_ATTN_ADAMAS;
        else if (!strcmp(s, "window")) r->attention = ADM_ATTN_WINDOW;
        else return srv_fail(err, 400, INVALID, key, "'attention' must be 'dense', 'adamas' or 'window' (got '%.40s')", s);
        r->attention_set = true;
        return true;
    }
    if (!strcmp(key, "budget")) {
        if (!want_int(key, v, 1, INT32_MAX, &set, &x, err)) return false;
        if (set) r->budget = (int)x;
        return true;
    }
    /* Structured output (both endpoints, as llama-server). */
    if (!strcmp(key, "response_format")) return parse_response_format(v, g, err);
    if (!strcmp(key, "grammar")) { /* llama-server's; "" means none, as there */
        if (json_is_null(v)) return true;
        if (!json_is_string(v))
            return srv_fail(err, 400, INVALID, key, "'grammar' must be a string of GBNF, not %s", type_name(v));
        if (json_string_length(v)) g->gbnf = v;
        return true;
    }
    if (!strcmp(key, "json_schema")) { /* llama-server's */
        if (json_is_null(v)) return true;
        if (!json_is_object(v))
            return srv_fail(err, 400, INVALID, key, "'json_schema' must be a JSON schema (an object), not %s",
                            type_name(v));
        g->schema = v;
        return true;
    }
    /* Accepted because they change nothing here. */
    if (!strcmp(key, "user") || !strcmp(key, "metadata") || !strcmp(key, "store") || !strcmp(key, "service_tier") ||
        !strcmp(key, "parallel_tool_calls") || !strcmp(key, "safety_identifier") || !strcmp(key, "prompt_cache_key"))
        return true;
    /* Accepted in their "off" value only. */
    if (!strcmp(key, "logit_bias")) {
        if (json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0)) return true;
        return unsupported(key, err, "");
    }
    if (chat && (!strcmp(key, "tools") || !strcmp(key, "functions"))) {
        if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0)) return true;
        return unsupported(key, err, " (no tool calls)");
    }
    if (chat && (!strcmp(key, "tool_choice") || !strcmp(key, "function_call"))) {
        const char *s = json_string_value(v);
        if (json_is_null(v) || (s && (!strcmp(s, "none") || !strcmp(s, "auto")))) return true;
        return unsupported(key, err, " (no tool calls)");
    }
    if (chat && !strcmp(key, "modalities")) {
        if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 1 &&
                                json_is_string(json_array_get(v, 0)) &&
                                !strcmp(json_string_value(json_array_get(v, 0)), "text")))
            return true;
        return unsupported(key, err, " (text only)");
    }
    if (chat && (!strcmp(key, "audio") || !strcmp(key, "prediction") || !strcmp(key, "reasoning_effort") ||
                 !strcmp(key, "web_search_options") || !strcmp(key, "verbosity"))) {
        if (json_is_null(v)) return true;
        return unsupported(key, err, "");
    }
    if (!chat && !strcmp(key, "echo")) {
        bool echo = false;
        if (!want_bool(key, v, &echo, err)) return false;
        return echo ? unsupported(key, err, " (echo must be false)") : true;
    }
    if (!chat && !strcmp(key, "suffix")) {
        if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) return true;
        return unsupported(key, err, " (no fill-in-the-middle)");
    }
    return srv_fail(err, 400, INVALID, key, "unknown field '%.64s'", key);
}

json_t *srv_parse_body(const char *body, size_t len, int max_depth, srv_error *err) {
    if (len == 0) return srv_fail(err, 400, INVALID, NULL, "the request body is empty; send a JSON object"), NULL;
    if (!srv_utf8_valid(body, len)) return srv_fail(err, 400, INVALID, NULL, "the request body is not valid UTF-8"), NULL;
    if (json_depth(body, len, max_depth) > max_depth)
        return srv_fail(err, 400, INVALID, NULL, "the JSON is nested more than %d levels deep", max_depth), NULL;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return srv_fail(err, 400, INVALID, NULL, "the body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                        je.column),
               NULL;
    if (!json_is_object(root)) {
        srv_fail(err, 400, INVALID, NULL, "the body must be a JSON object, not %s", type_name(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Checks that at most one field constrains the output and turns it into
 * GBNF: a schema is converted here (pure text work, bounded by the
 * converter's limits), so that a schema it refuses is a 400 naming the
 * keyword and its JSON pointer. */
static bool take_grammar(const gram_fields *g, serve_req *r, srv_error *err) {
    const int n = (int)g->rf + (g->gbnf != NULL) + (g->schema != NULL);
    if (n == 0) return true;
    if (n > 1)
        return srv_fail(err, 400, INVALID, g->rf ? "response_format" : "grammar",
                        "only one of 'response_format' (json_object or json_schema), 'grammar' and 'json_schema' may "
                        "constrain the output");
    if (r->ignore_eos)
        return srv_fail(err, 400, INVALID, "ignore_eos",
                        "'ignore_eos' cannot be combined with a grammar or schema: the grammar decides where the answer "
                        "ends");
    if (g->gbnf) {
        r->grammar_src = SRV_GRAMMAR_GBNF;
        r->gbnf = json_string_value(g->gbnf);
        r->gbnf_len = json_string_length(g->gbnf);
        return true;
    }
    const char *param = g->rf ? "response_format" : "json_schema";
    const char *where = g->rf ? (g->rf_where ? g->rf_where : "response_format") : "json_schema";
    r->grammar_src = g->rf ? SRV_GRAMMAR_RESPONSE_FORMAT : SRV_GRAMMAR_JSON_SCHEMA;
    const json_t *schema = g->rf ? g->rf_schema : g->schema;
    /* response_format json_object without a schema: any JSON object;
     * json_schema without one: any JSON value (the empty schema). */
    char *text = schema ? json_dumps(schema, JSON_COMPACT) : strdup(g->rf_any ? "{}" : "{\"type\":\"object\"}");
    if (!text) return srv_fail(err, 400, INVALID, param, "%s: the schema is too large", where);
    adm_error e = {0};
    const int64_t len = adm_json_schema_to_gbnf(text, -1, NULL, 0, &e);
    char *gbnf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (gbnf && adm_json_schema_to_gbnf(text, -1, gbnf, len + 1, &e) != len) {
        free(gbnf);
        gbnf = NULL;
    }
    free(text);
    if (!gbnf) {
        if (len >= 0 && !e.msg[0]) snprintf(e.msg, sizeof(e.msg), "out of memory");
        return srv_fail(err, 400, INVALID, param, "%s: %s", where, e.msg);
    }
    r->gbnf = r->gbnf_owned = gbnf;
    r->gbnf_len = (size_t)len;
    return true;
}

bool serve_req_compile(serve_req *r, const adm_vocab *v, srv_error *err) {
    if (!r->gbnf || r->grammar) return true;
    adm_error e = {0};
    if (adm_grammar_create_gbnf(v, r->gbnf, (int64_t)r->gbnf_len, &r->grammar, &e) == ADM_OK) return true;
    if (e.code == ADM_ERR_NOMEM) return srv_fail(err, 503, "server_error", NULL, "out of memory compiling the grammar");
    if (r->grammar_src == SRV_GRAMMAR_GBNF) return srv_fail(err, 400, INVALID, "grammar", "%s", e.msg); /* "grammar: line L, column C: ..." */
    /* The converter's output that the compiler refused: over a limit. */
    return srv_fail(err, 400, INVALID, r->grammar_src == SRV_GRAMMAR_RESPONSE_FORMAT ? "response_format" : "json_schema",
                    "the JSON schema converted to a grammar the grammar compiler refused: %s", e.msg);
}

bool serve_req_parse(srv_kind kind, const char *body, size_t len, const srv_limits *lim, serve_req *r,
                     srv_error *err) {
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->max_tokens = -1;
    r->logprobs = -1;
    r->sp = adm_sampler_default_params();
    if (!(r->root = srv_parse_body(body, len, lim->max_depth, err))) return false;
    bool have_main = false, logprobs_on = false, top_set = false;
    long long top = 0;
    const char *key;
    json_t *v;
    gram_fields g = {0};
    json_object_foreach(r->root, key, v) {
        if (!parse_field(key, v, lim, r, &have_main, &logprobs_on, &top, &top_set, &g, err)) {
            serve_req_free(r);
            return false;
        }
    }
    if (!have_main) {
        srv_fail(err, 400, INVALID, kind == SRV_CHAT ? "messages" : "prompt", "'%s' is required",
                 kind == SRV_CHAT ? "messages" : "prompt");
        serve_req_free(r);
        return false;
    }
    if (top_set && !logprobs_on && kind == SRV_CHAT) {
        srv_fail(err, 400, INVALID, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
        serve_req_free(r);
        return false;
    }
    if (logprobs_on) r->logprobs = (int)top;
    if (!take_grammar(&g, r, err)) {
        serve_req_free(r);
        return false;
    }
    return true;
}

void serve_req_free(serve_req *r) {
    if (r->owned)
        for (int i = 0; i < r->n_msgs; i++) free(r->owned[i]);
    free(r->owned);
    free(r->msgs);
    free(r->prompt_tokens);
    free(r->gbnf_owned);
    adm_grammar_free(r->grammar);
    json_decref(r->root);
    memset(r, 0, sizeof(*r));
}
