/*
 * schema.c - JSON schema -> GBNF text.
 *
 * Every schema node becomes a rule; the primitive rules (string, number,
 * any value, ...) are written once at the end, only when used. Object
 * properties come out in the schema's order, the required ones always and
 * the others optionally, with commas right in every case: rules
 * first_i ("no member written yet") and next_i ("some written") per
 * property, built back to front. $refs become references to one rule per
 * target, so recursive schemas stay finite.
 *
 * Supported: type (incl. lists), properties, required, additionalProperties,
 * enum, const, items, minItems/maxItems, minLength/maxLength, anyOf, oneOf
 * (as anyOf), allOf with one schema, $ref (local JSON pointers: #/$defs/..,
 * #/definitions/.., #), format date/time/date-time/uuid, plus annotations
 * (title, description, default, ...). Anything else is refused with the
 * keyword's name and JSON pointer: a constraint silently dropped would let
 * through output the caller's validator rejects. The output is a subset of
 * what the schema allows: an object lists only the named properties (extra
 * ones, allowed by additionalProperties, are not generated), numbers have
 * at most 16 integer digits, and whitespace is at most a newline and 20
 * blanks between tokens.
 */
#include "grammar/grammar.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_DEPTH 64
#define MAX_BOUND 10000
#define MAX_OUTPUT (4u << 20)

enum {
    USE_WS = 1 << 0,
    USE_STRING = 1 << 1,
    USE_CHAR = 1 << 2,
    USE_NUMBER = 1 << 3,
    USE_INTEGER = 1 << 4,
    USE_BOOLEAN = 1 << 5,
    USE_NULL = 1 << 6,
    USE_VALUE = 1 << 7,
    USE_DATE = 1 << 8,
    USE_TIME = 1 << 9,
    USE_DATETIME = 1 << 10,
    USE_UUID = 1 << 11,
};

typedef struct sb {
    char *p;
    size_t n, cap;
    bool oom;
} sb;

static void sb_add(sb *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sb *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sb *b, const char *fmt, ...) ADM_PRINTF(2, 3);
static void sb_printf(sb *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->oom) return;
    sb_add(b, "", 0);
    if (b->oom) return;
    if (b->n + (size_t)n + 1 > b->cap) {
        size_t nc = b->cap * 2;
        while (nc < b->n + (size_t)n + 1) nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

typedef struct conv {
    json_t *root;
    sb rules;
    adm_error *err;
    adm_status st;
    int next;         /* rule counter */
    json_t *refs;     /* "$ref" -> rule number */
    unsigned used;
    int depth;
} conv;

static bool fail(conv *C, const char *ptr, adm_status code, const char *fmt, ...) ADM_PRINTF(4, 5);
static bool fail(conv *C, const char *ptr, adm_status code, const char *fmt, ...) {
    if (C->st != ADM_OK) return false;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    C->st = adm_fail(C->err, code, "JSON schema at %s: %s", *ptr ? ptr : "/ (the root)", msg);
    return false;
}

/* ptr + "/" + key, with ~ and / escaped as JSON pointers want. */
static void ptr_join(char *out, size_t size, const char *ptr, const char *key) {
    size_t n = (size_t)snprintf(out, size, "%s/", ptr);
    for (const char *k = key; *k && n + 3 < size; k++) {
        if (*k == '~' || *k == '/') {
            out[n++] = '~';
            out[n++] = *k == '~' ? '0' : '1';
        } else {
            out[n++] = *k;
        }
    }
    if (n < size) out[n] = 0;
}

/* A JSON value as a GBNF literal (its compact JSON text). */
static bool add_literal(conv *C, sb *b, json_t *v, const char *ptr) {
    char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!txt) return fail(C, ptr, ADM_ERR_NOMEM, "out of memory");
    sb_add(b, "\"", 1);
    for (const char *s = txt; *s; s++) {
        if (*s == '"' || *s == '\\') sb_add(b, "\\", 1);
        sb_add(b, s, 1);
    }
    sb_add(b, "\"", 1);
    free(txt);
    return true;
}

static const char *const k_annotations[] = {"title", "description", "$schema", "$id", "$comment", "default",
                                            "examples", "readOnly", "writeOnly", "deprecated", "$defs",
                                            "definitions", NULL};
static const char *const k_supported[] = {"type", "properties", "required", "additionalProperties", "enum", "const",
                                          "items", "minItems", "maxItems", "minLength", "maxLength", "anyOf",
                                          "oneOf", "allOf", "$ref", "format", NULL};

static bool in_list(const char *k, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (!strcmp(k, list[i])) return true;
    return false;
}

static int gen(conv *C, json_t *s, const char *ptr);

/* A non-negative integer keyword within MAX_BOUND; -1 when absent. */
static bool get_bound(conv *C, json_t *s, const char *key, const char *ptr, long *out) {
    json_t *v = json_object_get(s, key);
    *out = -1;
    if (!v) return true;
    char p[512];
    ptr_join(p, sizeof(p), ptr, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(C, p, ADM_ERR_FORMAT, "'%s' must be a non-negative integer", key);
    if (json_integer_value(v) > MAX_BOUND)
        return fail(C, p, ADM_ERR_UNSUPPORTED, "'%s' over %d is not supported", key, MAX_BOUND);
    *out = (long)json_integer_value(v);
    return true;
}

/* Writes "x{min,max}" bounds (max -1: unbounded). */
static void add_repeat(sb *b, long min, long max) {
    if (max < 0) sb_printf(b, "{%ld,}", min);
    else sb_printf(b, "{%ld,%ld}", min, max);
}

static bool gen_string(conv *C, json_t *s, const char *ptr, sb *e) {
    long min, max;
    if (!get_bound(C, s, "minLength", ptr, &min) || !get_bound(C, s, "maxLength", ptr, &max)) return false;
    json_t *f = json_object_get(s, "format");
    if (f) {
        char p[512];
        ptr_join(p, sizeof(p), ptr, "format");
        if (min >= 0 || max >= 0) return fail(C, p, ADM_ERR_UNSUPPORTED, "'format' with minLength/maxLength");
        const char *fs = json_string_value(f);
        if (!fs) return fail(C, p, ADM_ERR_FORMAT, "'format' must be a string");
        if (!strcmp(fs, "date")) {
            C->used |= USE_DATE;
            sb_str(e, "\"\\\"\" date \"\\\"\"");
        } else if (!strcmp(fs, "time")) {
            C->used |= USE_TIME;
            sb_str(e, "\"\\\"\" time \"\\\"\"");
        } else if (!strcmp(fs, "date-time")) {
            C->used |= USE_DATETIME | USE_DATE | USE_TIME;
            sb_str(e, "\"\\\"\" date-time \"\\\"\"");
        } else if (!strcmp(fs, "uuid")) {
            C->used |= USE_UUID;
            sb_str(e, "\"\\\"\" uuid \"\\\"\"");
        } else {
            return fail(C, p, ADM_ERR_UNSUPPORTED, "format '%s' is not supported (supported: date, time, date-time, "
                        "uuid)", fs);
        }
        return true;
    }
    if (min < 0 && max < 0) {
        C->used |= USE_STRING | USE_CHAR;
        sb_str(e, "string");
        return true;
    }
    if (max >= 0 && min > max) return fail(C, ptr, ADM_ERR_FORMAT, "minLength is above maxLength: no string fits");
    C->used |= USE_CHAR;
    sb_str(e, "\"\\\"\" char");
    add_repeat(e, min < 0 ? 0 : min, max);
    sb_str(e, " \"\\\"\"");
    return true;
}

static bool gen_array(conv *C, json_t *s, const char *ptr, sb *e) {
    long min, max;
    if (!get_bound(C, s, "minItems", ptr, &min) || !get_bound(C, s, "maxItems", ptr, &max)) return false;
    if (min < 0) min = 0;
    if (max >= 0 && min > max) return fail(C, ptr, ADM_ERR_FORMAT, "minItems is above maxItems: no array fits");
    json_t *items = json_object_get(s, "items");
    char item[32];
    if (items) {
        char p[512];
        ptr_join(p, sizeof(p), ptr, "items");
        if (json_is_array(items))
            return fail(C, p, ADM_ERR_UNSUPPORTED, "'items' as an array (tuples) is not supported");
        const int r = gen(C, items, p);
        if (r < 0) return false;
        snprintf(item, sizeof(item), "r%d", r);
    } else {
        C->used |= USE_VALUE;
        snprintf(item, sizeof(item), "value");
    }
    C->used |= USE_WS;
    if (max == 0) {
        sb_str(e, "\"[\" ws \"]\"");
        return true;
    }
    sb_printf(e, "\"[\" ws %s%s ( ws \",\" ws %s )", min == 0 ? "( " : "", item, item);
    add_repeat(e, min > 0 ? min - 1 : 0, max < 0 ? -1 : max - 1);
    sb_printf(e, " ws %s\"]\"", min == 0 ? ")? " : "");
    return true;
}

static bool gen_object(conv *C, json_t *s, const char *ptr, sb *e) {
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required"),
           *addl = json_object_get(s, "additionalProperties");
    char p[512];
    if (props && !json_is_object(props)) {
        ptr_join(p, sizeof(p), ptr, "properties");
        return fail(C, p, ADM_ERR_FORMAT, "'properties' must be an object");
    }
    if (req && !json_is_array(req)) {
        ptr_join(p, sizeof(p), ptr, "required");
        return fail(C, p, ADM_ERR_FORMAT, "'required' must be an array of names");
    }
    if (addl && !json_is_boolean(addl) && !json_is_object(addl)) {
        ptr_join(p, sizeof(p), ptr, "additionalProperties");
        return fail(C, p, ADM_ERR_FORMAT, "'additionalProperties' must be a boolean or a schema");
    }
    C->used |= USE_WS;
    const size_t n_props = props ? json_object_size(props) : 0, n_req = req ? json_array_size(req) : 0;
    if (n_props == 0 && n_req == 0) {
        if (json_is_false(addl)) {
            sb_str(e, "\"{\" ws \"}\"");
            return true;
        }
        /* any object, or a map whose values follow additionalProperties */
        char val[32] = "value";
        if (json_is_object(addl)) {
            ptr_join(p, sizeof(p), ptr, "additionalProperties");
            const int r = gen(C, addl, p);
            if (r < 0) return false;
            snprintf(val, sizeof(val), "r%d", r);
        } else {
            C->used |= USE_VALUE;
        }
        C->used |= USE_STRING | USE_CHAR;
        sb_printf(e, "\"{\" ws ( string ws \":\" ws %s ( ws \",\" ws string ws \":\" ws %s )* ws )? \"}\"", val, val);
        return true;
    }
    /* The members in order: names from properties, then required names
     * that properties does not describe (any value). */
    const size_t n = n_props + n_req;
    const char **names = calloc(n ? n : 1, sizeof(char *));
    int *rule = calloc(n ? n : 1, sizeof(int));
    bool *required = calloc(n ? n : 1, sizeof(bool));
    if (!names || !rule || !required) {
        free(names);
        free(rule);
        free(required);
        return fail(C, ptr, ADM_ERR_NOMEM, "out of memory");
    }
    size_t m = 0;
    bool ok = true;
    const char *key;
    json_t *val;
    json_object_foreach(props, key, val) {
        names[m] = key;
        char pp[512];
        ptr_join(pp, sizeof(pp), ptr, "properties");
        ptr_join(p, sizeof(p), pp, key);
        if ((rule[m] = gen(C, val, p)) < 0) {
            ok = false;
            break;
        }
        m++;
    }
    for (size_t k = 0; k < n_req && ok; k++) {
        const char *r = json_string_value(json_array_get(req, k));
        if (!r) {
            char idx[24];
            snprintf(idx, sizeof(idx), "%zu", k);
            ptr_join(p, sizeof(p), ptr, "required");
            char pi[512];
            ptr_join(pi, sizeof(pi), p, idx);
            ok = fail(C, pi, ADM_ERR_FORMAT, "'required' must list property names (strings)");
            break;
        }
        size_t j = 0;
        while (j < m && strcmp(names[j], r)) j++;
        if (j == m) {
            names[m] = r;
            rule[m] = -1;
            C->used |= USE_VALUE;
            m++;
        }
        required[j] = true;
    }
    if (ok) {
        /* first_i / next_i, back to front; the rule numbers are fixed
         * before the text is written. */
        const int base = C->next;
        C->next += 2 * (int)m + 2;
        sb r = {0};
        for (size_t i = m + 1; i-- > 0;) {
            const int fi = base + 2 * (int)i, ni = fi + 1;
            if (i == m) {
                sb_printf(&r, "r%d ::= \"\"\nr%d ::= \"\"\n", fi, ni);
                continue;
            }
            sb kv = {0};
            json_t *name = json_string(names[i]);
            if (!name) {
                ok = fail(C, ptr, ADM_ERR_NOMEM, "out of memory");
                break;
            }
            add_literal(C, &kv, name, ptr);
            json_decref(name);
            if (rule[i] >= 0) sb_printf(&kv, " ws \":\" ws r%d", rule[i]);
            else sb_str(&kv, " ws \":\" ws value");
            if (kv.oom) {
                free(kv.p);
                ok = fail(C, ptr, ADM_ERR_NOMEM, "out of memory");
                break;
            }
            if (required[i]) {
                sb_printf(&r, "r%d ::= %s r%d\n", fi, kv.p, ni + 2);
                sb_printf(&r, "r%d ::= ws \",\" ws %s r%d\n", ni, kv.p, ni + 2);
            } else {
                sb_printf(&r, "r%d ::= %s r%d | r%d\n", fi, kv.p, ni + 2, fi + 2);
                sb_printf(&r, "r%d ::= ( ws \",\" ws %s )? r%d\n", ni, kv.p, ni + 2);
            }
            free(kv.p);
        }
        if (ok) {
            if (r.oom) ok = fail(C, ptr, ADM_ERR_NOMEM, "out of memory");
            else sb_add(&C->rules, r.p, r.n);
        }
        free(r.p);
        if (ok) sb_printf(e, "\"{\" ws r%d ws \"}\"", base);
    }
    free(names);
    free(rule);
    free(required);
    return ok;
}

static bool gen_type(conv *C, json_t *s, const char *type, const char *ptr, sb *e) {
    if (!strcmp(type, "string")) return gen_string(C, s, ptr, e);
    if (!strcmp(type, "object")) return gen_object(C, s, ptr, e);
    if (!strcmp(type, "array")) return gen_array(C, s, ptr, e);
    if (!strcmp(type, "number")) {
        C->used |= USE_NUMBER;
        sb_str(e, "number");
    } else if (!strcmp(type, "integer")) {
        C->used |= USE_INTEGER;
        sb_str(e, "integer");
    } else if (!strcmp(type, "boolean")) {
        C->used |= USE_BOOLEAN;
        sb_str(e, "boolean");
    } else if (!strcmp(type, "null")) {
        C->used |= USE_NULL;
        sb_str(e, "null");
    } else {
        char p[512];
        ptr_join(p, sizeof(p), ptr, "type");
        return fail(C, p, ADM_ERR_FORMAT, "unknown type '%s'", type);
    }
    return true;
}

/* Resolves a local $ref ("#", "#/a/b" with ~0 ~1 escapes). */
static json_t *resolve(conv *C, const char *ref) {
    if (ref[0] != '#') return NULL;
    json_t *cur = C->root;
    const char *s = ref + 1;
    while (*s == '/' && cur) {
        s++;
        char key[256];
        size_t n = 0;
        while (*s && *s != '/' && n + 1 < sizeof(key)) {
            if (s[0] == '~' && (s[1] == '0' || s[1] == '1')) {
                key[n++] = s[1] == '0' ? '~' : '/';
                s += 2;
            } else {
                key[n++] = *s++;
            }
        }
        key[n] = 0;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, key);
        } else if (json_is_array(cur)) {
            char *end;
            long i = strtol(key, &end, 10);
            cur = *end || i < 0 ? NULL : json_array_get(cur, (size_t)i);
        } else {
            cur = NULL;
        }
    }
    return *s ? NULL : cur;
}

static bool is_type(json_t *v, const char *t) {
    if (!t) return false;
    if (!strcmp(t, "string")) return json_is_string(v);
    if (!strcmp(t, "number")) return json_is_number(v);
    if (!strcmp(t, "integer"))
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v));
    if (!strcmp(t, "boolean")) return json_is_boolean(v);
    if (!strcmp(t, "null")) return json_is_null(v);
    if (!strcmp(t, "object")) return json_is_object(v);
    if (!strcmp(t, "array")) return json_is_array(v);
    return false;
}

/* Whether value v has one of the types of "type" (true when absent). */
static bool of_type(json_t *v, json_t *type) {
    if (!type) return true;
    if (json_is_string(type)) return is_type(v, json_string_value(type));
    for (size_t k = 0; k < json_array_size(type); k++)
        if (is_type(v, json_string_value(json_array_get(type, k)))) return true;
    return false;
}

/* Emits a rule for schema s; returns its number or -1. */
static int gen(conv *C, json_t *s, const char *ptr) {
    if (C->st != ADM_OK) return -1;
    if (C->rules.n > MAX_OUTPUT) {
        fail(C, ptr, ADM_ERR_UNSUPPORTED, "the schema's grammar exceeds %u bytes", MAX_OUTPUT);
        return -1;
    }
    if (C->depth >= MAX_DEPTH) {
        fail(C, ptr, ADM_ERR_UNSUPPORTED, "schemas nested over %d deep", MAX_DEPTH);
        return -1;
    }
    const int id = C->next++;
    sb e = {0};
    bool ok = true;
    C->depth++;
    if (json_is_true(s)) {
        C->used |= USE_VALUE;
        sb_str(&e, "value");
    } else if (json_is_false(s)) {
        ok = fail(C, ptr, ADM_ERR_FORMAT, "schema 'false' matches nothing");
    } else if (!json_is_object(s)) {
        ok = fail(C, ptr, ADM_ERR_FORMAT, "a schema must be an object or a boolean");
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(s, key, v) {
            if (in_list(key, k_annotations) || in_list(key, k_supported)) continue;
            char p[512];
            ptr_join(p, sizeof(p), ptr, key);
            ok = fail(C, p, ADM_ERR_UNSUPPORTED, "keyword '%s' is not supported (adamas cannot enforce it)", key);
            break;
        }
        json_t *ref = json_object_get(s, "$ref"), *en = json_object_get(s, "enum"), *cn = json_object_get(s, "const");
        json_t *any = json_object_get(s, "anyOf"), *one = json_object_get(s, "oneOf"), *all = json_object_get(s, "allOf");
        json_t *type = json_object_get(s, "type");
        /* Combinators and $ref must stand alone: combining their result
         * with sibling constraints would need an intersection. */
        const int n_comb = (ref != NULL) + (en != NULL) + (cn != NULL) + (any != NULL) + (one != NULL) + (all != NULL);
        if (ok && n_comb > 0) {
            json_object_foreach(s, key, v) {
                if (in_list(key, k_annotations) || !strcmp(key, "$ref") || !strcmp(key, "enum") ||
                    !strcmp(key, "const") || !strcmp(key, "anyOf") || !strcmp(key, "oneOf") || !strcmp(key, "allOf"))
                    continue;
                if (!strcmp(key, "type") && (en || cn)) continue; /* enum values carry their own type */
                char p[512];
                ptr_join(p, sizeof(p), ptr, key);
                ok = fail(C, p, ADM_ERR_UNSUPPORTED, "'%s' beside $ref/enum/const/anyOf/oneOf/allOf is not supported",
                          key);
                break;
            }
            if (ok && n_comb > 1)
                ok = fail(C, ptr, ADM_ERR_UNSUPPORTED, "only one of $ref, enum, const, anyOf, oneOf, allOf per schema");
        }
        char p[512];
        if (!ok) {
        } else if (ref) {
            ptr_join(p, sizeof(p), ptr, "$ref");
            const char *rs = json_string_value(ref);
            json_t *target = rs ? resolve(C, rs) : NULL;
            if (!rs) {
                ok = fail(C, p, ADM_ERR_FORMAT, "'$ref' must be a string");
            } else if (!target) {
                ok = fail(C, p, rs[0] == '#' ? ADM_ERR_FORMAT : ADM_ERR_UNSUPPORTED,
                          rs[0] == '#' ? "'%s' points to nothing" : "'%s': only local references (#/...) are supported",
                          rs);
            } else {
                json_t *known = json_object_get(C->refs, rs);
                int r;
                if (known) {
                    r = (int)json_integer_value(known);
                } else {
                    /* The target's rule number is reserved before it is
                     * generated, so a recursive reference finds it. */
                    r = C->next;
                    json_t *num = json_integer(r);
                    if (!num || json_object_set_new(C->refs, rs, num) != 0) ok = fail(C, p, ADM_ERR_NOMEM, "out of memory");
                    else if (gen(C, target, rs + 1) != r) ok = false;
                }
                if (ok) sb_printf(&e, "r%d", r);
            }
        } else if (en || cn) {
            ptr_join(p, sizeof(p), ptr, en ? "enum" : "const");
            if (en && (!json_is_array(en) || json_array_size(en) == 0)) {
                ok = fail(C, p, ADM_ERR_FORMAT, "'enum' must be a non-empty array");
            } else if (cn) {
                if (!of_type(cn, type)) ok = fail(C, p, ADM_ERR_FORMAT, "the 'const' value does not have the schema's 'type'");
                else ok = add_literal(C, &e, cn, p);
            } else {
                /* values outside a sibling "type" can never validate: left out */
                size_t n_out = 0;
                for (size_t k = 0; k < json_array_size(en) && ok; k++) {
                    if (!of_type(json_array_get(en, k), type)) continue;
                    if (n_out++) sb_str(&e, " | ");
                    ok = add_literal(C, &e, json_array_get(en, k), p);
                }
                if (ok && n_out == 0) ok = fail(C, p, ADM_ERR_FORMAT, "no value of 'enum' has the schema's 'type'");
            }
        } else if (any || one || all) {
            json_t *list = any ? any : one ? one : all;
            const char *kw = any ? "anyOf" : one ? "oneOf" : "allOf";
            ptr_join(p, sizeof(p), ptr, kw);
            if (!json_is_array(list) || json_array_size(list) == 0) {
                ok = fail(C, p, ADM_ERR_FORMAT, "'%s' must be a non-empty array of schemas", kw);
            } else if (all && json_array_size(list) != 1) {
                ok = fail(C, p, ADM_ERR_UNSUPPORTED, "'allOf' with more than one schema is not supported");
            } else {
                for (size_t k = 0; k < json_array_size(list) && ok; k++) {
                    char idx[24], pi[512];
                    snprintf(idx, sizeof(idx), "%zu", k);
                    ptr_join(pi, sizeof(pi), p, idx);
                    const int r = gen(C, json_array_get(list, k), pi);
                    if (r < 0) ok = false;
                    else sb_printf(&e, "%sr%d", k ? " | " : "", r);
                }
            }
        } else if (type) {
            if (json_is_string(type)) {
                ok = gen_type(C, s, json_string_value(type), ptr, &e);
            } else if (json_is_array(type) && json_array_size(type) > 0) {
                for (size_t k = 0; k < json_array_size(type) && ok; k++) {
                    const char *t = json_string_value(json_array_get(type, k));
                    if (!t) {
                        ptr_join(p, sizeof(p), ptr, "type");
                        ok = fail(C, p, ADM_ERR_FORMAT, "'type' must list type names");
                        break;
                    }
                    if (k) sb_str(&e, " | ");
                    sb_str(&e, "( ");
                    ok = gen_type(C, s, t, ptr, &e);
                    sb_str(&e, " )");
                }
            } else {
                ptr_join(p, sizeof(p), ptr, "type");
                ok = fail(C, p, ADM_ERR_FORMAT, "'type' must be a type name or a non-empty list of them");
            }
        } else if (json_object_get(s, "properties") || json_object_get(s, "required") ||
                   json_object_get(s, "additionalProperties")) {
            ok = gen_object(C, s, ptr, &e);
        } else if (json_object_get(s, "items") || json_object_get(s, "minItems") || json_object_get(s, "maxItems")) {
            ok = gen_array(C, s, ptr, &e);
        } else if (json_object_get(s, "minLength") || json_object_get(s, "maxLength") ||
                   json_object_get(s, "format")) {
            ok = gen_string(C, s, ptr, &e);
        } else {
            C->used |= USE_VALUE;
            sb_str(&e, "value");
        }
    }
    C->depth--;
    if (ok && e.oom) ok = fail(C, ptr, ADM_ERR_NOMEM, "out of memory");
    if (ok) sb_printf(&C->rules, "r%d ::= %s\n", id, e.p);
    free(e.p);
    return ok && !C->rules.oom ? id : -1;
}

/* The primitive rules: our own definitions of JSON's lexical grammar. */
static void add_primitives(conv *C) {
    sb *b = &C->rules;
    const unsigned u = C->used;
    if (u & USE_VALUE)
        sb_str(b, "value ::= object | array | string | number | boolean | null\n"
                  "object ::= \"{\" ws ( string ws \":\" ws value ( ws \",\" ws string ws \":\" ws value )* ws )? \"}\"\n"
                  "array ::= \"[\" ws ( value ( ws \",\" ws value )* ws )? \"]\"\n");
    if (u & (USE_VALUE | USE_WS)) sb_str(b, "ws ::= ( \" \" | \"\\n\" [ \\t]{0,20} )?\n");
    if (u & (USE_VALUE | USE_STRING)) sb_str(b, "string ::= \"\\\"\" char* \"\\\"\"\n");
    if (u & (USE_VALUE | USE_STRING | USE_CHAR))
        sb_str(b, "char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} )\n");
    if (u & (USE_VALUE | USE_NUMBER))
        sb_str(b, "number ::= integer ( \".\" [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?\n");
    if (u & (USE_VALUE | USE_NUMBER | USE_INTEGER)) sb_str(b, "integer ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} )\n");
    if (u & (USE_VALUE | USE_BOOLEAN)) sb_str(b, "boolean ::= \"true\" | \"false\"\n");
    if (u & (USE_VALUE | USE_NULL)) sb_str(b, "null ::= \"null\"\n");
    if (u & USE_DATE)
        /* every day that exists in every year (no 29 February) */
        sb_str(b, "date ::= [0-9]{4} \"-\" ( ( \"0\" [13578] | \"1\" [02] ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"3\" [01] )"
                  " | ( \"0\" [469] | \"11\" ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"30\" )"
                  " | \"02-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] ) )\n");
    if (u & USE_TIME)
        sb_str(b, "time ::= ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,6} )?"
                  " ( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )\n");
    if (u & USE_DATETIME) sb_str(b, "date-time ::= date \"T\" time\n");
    if (u & USE_UUID)
        sb_str(b, "uuid ::= [0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{12}\n");
}

adm_status gr_schema_to_gbnf(const char *schema, size_t len, char **out, size_t *out_len, adm_error *err) {
    *out = NULL;
    *out_len = 0;
    json_error_t je;
    json_t *root = json_loadb(schema, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return adm_fail(err, ADM_ERR_FORMAT, "JSON schema: line %d, column %d: %s", je.line, je.column, je.text);
    conv C = {.root = root, .err = err, .st = ADM_OK};
    C.refs = json_object();
    if (!C.refs) {
        json_decref(root);
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    }
    int top;
    json_t *t = json_object_get(root, "type");
    if (json_is_object(root) && json_object_size(root) == 1 && json_is_string(t) &&
        !strcmp(json_string_value(t), "json_object")) {
        /* OpenAI's response_format {"type": "json_object"}: any object */
        top = C.next++;
        C.used |= USE_VALUE;
        sb_printf(&C.rules, "r%d ::= object\n", top);
    } else {
        top = gen(&C, root, "");
    }
    if (top >= 0) {
        C.used |= USE_WS;
        add_primitives(&C);
        sb_printf(&C.rules, "root ::= ws r%d ws\n", top);
        if (C.rules.oom) C.st = adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    }
    json_decref(C.refs);
    json_decref(root);
    if (C.st != ADM_OK || top < 0) {
        free(C.rules.p);
        return C.st != ADM_OK ? C.st : adm_fail(err, ADM_ERR_INTERNAL, "JSON schema: conversion failed");
    }
    *out = C.rules.p;
    *out_len = C.rules.n;
    return ADM_OK;
}
