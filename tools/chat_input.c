/*
 * chat_input.c - see chat_input.h.
 */
#include "chat_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>

#define HISTORY_MAX 1000
#define QUOTES "\"\"\""

void chat_input_init(chat_input *in, bool tty) {
    memset(in, 0, sizeof(*in));
    in->tty = tty;
    if (!tty) return;
    using_history();
    stifle_history(HISTORY_MAX);
    const char *home = getenv("HOME");
    if (home && *home) {
        const size_t n = strlen(home) + sizeof("/.adamas_history");
        if ((in->history_path = malloc(n))) {
            snprintf(in->history_path, n, "%s/.adamas_history", home);
            read_history(in->history_path); /* none yet is fine */
        }
    }
}

void chat_input_free(chat_input *in) {
    if (in->tty && in->history_path) write_history(in->history_path);
    free(in->history_path);
    in->history_path = NULL;
}

/* One line of any length without its newline (and a CR before it); NULL
 * at end of input. */
static char *read_plain(FILE *f) {
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    int ch = EOF;
    while (s && (ch = fgetc(f)) != EOF && ch != '\n') {
        if (n + 1 == cap) {
            char *ns = realloc(s, cap *= 2);
            if (!ns) {
                free(s);
                return NULL;
            }
            s = ns;
        }
        s[n++] = (char)ch;
    }
    if (!s || (n == 0 && ch == EOF)) {
        free(s);
        return NULL;
    }
    if (n && s[n - 1] == '\r') n--;
    s[n] = 0;
    return s;
}

static char *read_one(chat_input *in, const char *prompt) {
    if (!in->tty) return read_plain(stdin);
    char *s = readline(prompt);
    if (s && *s) add_history(s);
    return s;
}

static bool ends_with_quotes(const char *s, size_t n) {
    return n >= 3 && !memcmp(s + n - 3, QUOTES, 3);
}

chat_read chat_input_read(chat_input *in, volatile sig_atomic_t *interrupt, char **out, size_t *len) {
    char *line = read_one(in, "> ");
    if (!line) return interrupt && *interrupt ? CHAT_READ_INTERRUPT : CHAT_READ_EOF;
    size_t n = strlen(line);
    if (strncmp(line, QUOTES, 3) != 0) {
        *out = line;
        *len = n;
        return CHAT_READ_LINE;
    }
    /* A block: the text after the opening quotes, then whole lines, up to
     * closing quotes at the end of a line (the opening line's included). */
    memmove(line, line + 3, n - 2);
    n -= 3;
    char *block = line;
    const bool opening_empty = n == 0;
    bool closed = ends_with_quotes(block, n);
    while (!closed) {
        char *next = read_one(in, "... ");
        if (!next) {
            if (interrupt && *interrupt) {
                free(block);
                return CHAT_READ_INTERRUPT;
            }
            break; /* end of input: the block as it is */
        }
        const size_t k = strlen(next);
        closed = ends_with_quotes(next, k);
        char *nb = realloc(block, n + 1 + k + 1);
        if (!nb) {
            free(next);
            free(block);
            return CHAT_READ_NOMEM;
        }
        block = nb;
        block[n++] = '\n';
        memcpy(block + n, next, k + 1);
        n += k;
        free(next);
    }
    if (closed) block[n -= 3] = 0;
    /* The newline right after the opening quotes is layout, not text. */
    if (opening_empty && n && block[0] == '\n') {
        memmove(block, block + 1, n);
        n--;
    }
    *out = block;
    *len = n;
    return CHAT_READ_BLOCK;
}
