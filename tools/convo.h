/*
 * convo.h - a chat conversation as messages (role, content), what `adamas
 * chat` renders in the model's format each turn: adding, dropping the
 * oldest turns when the context fills, rendering, and /save and /load as
 * JSON ({"messages": [{"role": "user", "content": "..."}, ...]}, the shape
 * of OpenAI-style chat requests, so a saved file can be edited or sent).
 */
#ifndef ADM_TOOLS_CONVO_H
#define ADM_TOOLS_CONVO_H

#include "adamas.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct convo {
    adm_chat_msg *msgs;   /* roles point to string literals, contents to `owned` */
    char **owned;
    int n, cap;
} convo;

/* Appends a copy of content[0..len). role must be "system", "user" or
 * "assistant". False when out of memory. */
bool convo_add(convo *c, const char *role, const char *content, size_t len);

/* Drops every message from index `keep` on. */
void convo_truncate(convo *c, int keep);

/* Drops the oldest turn after the first `fixed` messages (the system
 * prompt): a user message and the answers that follow it, never the last
 * message. Returns the number of messages dropped (0: nothing droppable). */
int convo_drop_oldest_turn(convo *c, int fixed);

void convo_free(convo *c);

/* The rendering in format f (with the assistant header when add), malloc'd;
 * NULL when out of memory. */
char *convo_render(adm_chat_format f, const convo *c, bool add, size_t *len);

/* The rendering cut right after the content of the last (assistant)
 * message: found by rendering a one-byte stand-in for the content first,
 * so it works for every format without knowing its markers. */
char *convo_render_through_last(adm_chat_format f, convo *c, size_t *len);

/* The leading system messages. */
int convo_n_system(const convo *c);

/* Writes / reads the JSON form. On failure both leave c as it was, put a
 * message in err (err_size bytes) and return false. */
bool convo_save(const convo *c, const char *path, char *err, size_t err_size);
bool convo_load(convo *c, const char *path, char *err, size_t err_size);

#endif
