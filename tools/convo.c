/*
 * convo.c - see convo.h.
 */
#include "convo.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The role literals messages point to. */
static const char *role_literal(const char *role) {
    static const char *const roles[] = {"system", "user", "assistant"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(role, roles[i])) return roles[i];
    return NULL;
}

bool convo_add(convo *c, const char *role, const char *content, size_t len) {
    const char *r = role_literal(role);
    if (!r) return false;
    if (c->n == c->cap) {
        const int cap = c->cap ? c->cap * 2 : 16;
        adm_chat_msg *nm = realloc(c->msgs, (size_t)cap * sizeof(*nm));
        if (!nm) return false;
        c->msgs = nm;
        char **no = realloc(c->owned, (size_t)cap * sizeof(*no));
        if (!no) return false;
        c->owned = no;
        c->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return false;
    memcpy(copy, content, len);
    copy[len] = 0;
    c->owned[c->n] = copy;
    c->msgs[c->n].role = r;
    c->msgs[c->n].content = copy;
    c->n++;
    return true;
}

void convo_truncate(convo *c, int keep) {
    while (c->n > keep) free(c->owned[--c->n]);
}

int convo_drop_oldest_turn(convo *c, int fixed) {
    /* The turn: the first message after the fixed ones and the non-user
     * messages after it, up to the next user message. */
    int end = fixed + 1;
    while (end < c->n && strcmp(c->msgs[end].role, "user") != 0) end++;
    if (fixed >= c->n - 1 || end >= c->n) return 0; /* the last message stays */
    const int k = end - fixed;
    for (int i = fixed; i < end; i++) free(c->owned[i]);
    memmove(c->msgs + fixed, c->msgs + end, (size_t)(c->n - end) * sizeof(*c->msgs));
    memmove(c->owned + fixed, c->owned + end, (size_t)(c->n - end) * sizeof(*c->owned));
    c->n -= k;
    return k;
}

void convo_free(convo *c) {
    convo_truncate(c, 0);
    free(c->msgs);
    free(c->owned);
    memset(c, 0, sizeof(*c));
}

char *convo_render(adm_chat_format f, const convo *c, bool add, size_t *len) {
    const int64_t n = adm_chat_render(f, c->msgs, c->n, add, NULL, 0);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) return NULL;
    adm_chat_render(f, c->msgs, c->n, add, s, n + 1);
    *len = (size_t)n;
    return s;
}

char *convo_render_through_last(adm_chat_format f, convo *c, size_t *len) {
    adm_chat_msg *last = &c->msgs[c->n - 1];
    const char *content = last->content;
    last->content = "\x01";
    size_t n;
    char *s = convo_render(f, c, false, &n);
    last->content = content;
    const char *mark = s ? strchr(s, 1) : NULL;
    if (!mark) {
        free(s);
        return NULL;
    }
    const size_t cut = (size_t)(mark - s) + strlen(content);
    free(s);
    if (!(s = convo_render(f, c, false, &n))) return NULL;
    s[cut] = 0;
    *len = cut;
    return s;
}

int convo_n_system(const convo *c) {
    int n = 0;
    while (n < c->n && !strcmp(c->msgs[n].role, "system")) n++;
    return n;
}

bool convo_save(const convo *c, const char *path, char *err, size_t err_size) {
    json_t *msgs = json_array(), *root = json_object();
    bool ok = msgs && root && json_object_set(root, "messages", msgs) == 0;
    for (int i = 0; ok && i < c->n; i++)
        ok = json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", c->msgs[i].role, "content",
                                                   c->msgs[i].content)) == 0;
    json_decref(msgs);
    if (!ok) {
        snprintf(err, err_size, "out of memory");
    } else if (json_dump_file(root, path, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0) {
        snprintf(err, err_size, "cannot write '%s': %s", path, errno ? strerror(errno) : "error");
        ok = false;
    }
    json_decref(root);
    return ok;
}

bool convo_load(convo *c, const char *path, char *err, size_t err_size) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, err_size, "cannot read '%s': %s (line %d)", path, je.text, je.line);
        return false;
    }
    /* {"messages": [...]} as /save writes it, or the bare array. */
    json_t *msgs = json_is_array(root) ? root : json_object_get(root, "messages");
    convo fresh = {0};
    bool ok = json_is_array(msgs);
    if (!ok) snprintf(err, err_size, "'%s' holds no \"messages\" array", path);
    for (size_t i = 0; ok && i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        const json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_string(role) || !json_is_string(content) || !role_literal(json_string_value(role))) {
            snprintf(err, err_size, "'%s': message %zu needs a role (system, user or assistant) and a content string",
                     path, i + 1);
            ok = false;
        } else if (!convo_add(&fresh, json_string_value(role), json_string_value(content),
                              json_string_length(content))) {
            snprintf(err, err_size, "out of memory");
            ok = false;
        }
    }
    json_decref(root);
    if (!ok) {
        convo_free(&fresh);
        return false;
    }
    convo_free(c);
    *c = fresh;
    return true;
}
