/*
 * chat_input.h - what `adamas chat` reads: on a terminal, lines edited with
 * libedit (arrows, Ctrl-R, history kept in ~/.adamas_history); from a pipe
 * or file, plain lines, so scripts drive chat line by line. In both, a
 * message that starts with three double quotes (""") runs over several
 * lines, up to a line that ends with them, as in ollama.
 */
#ifndef ADM_TOOLS_CHAT_INPUT_H
#define ADM_TOOLS_CHAT_INPUT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct chat_input {
    bool tty;              /* line editing (stdin and stdout are terminals) */
    char *history_path;    /* malloc'd; NULL: no history file */
} chat_input;

void chat_input_init(chat_input *in, bool tty);
void chat_input_free(chat_input *in); /* saves the history */

typedef enum chat_read { CHAT_READ_LINE, CHAT_READ_BLOCK, CHAT_READ_EOF, CHAT_READ_INTERRUPT, CHAT_READ_NOMEM } chat_read;

/* The next message, malloc'd in *out (length *len, NUL-terminated):
 * CHAT_READ_LINE for one line (which may be a /command), CHAT_READ_BLOCK
 * for a """ block (never a command). CHAT_READ_INTERRUPT when *interrupt
 * became nonzero while waiting (Ctrl-C at the prompt). */
chat_read chat_input_read(chat_input *in, volatile sig_atomic_t *interrupt, char **out, size_t *len);

#endif
