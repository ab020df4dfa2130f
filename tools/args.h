/*
 * args.h - helpers shared by the subcommands: strict number parsing, error
 * reporting in one format, and whether stderr is a terminal (progress bars).
 */
#ifndef ADM_TOOLS_ARGS_H
#define ADM_TOOLS_ARGS_H

#include "adamas.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Parses a whole string as an integer in [lo, hi]. On failure prints
 * "adamas <cmd>: invalid value for <opt>: ..." and returns false. */
bool args_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
bool args_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);

/* The value of option argv[*i] (advancing *i), or NULL after printing
 * "option X needs a value" when it is the last argument. */
const char *args_value(const char *cmd, int argc, char **argv, int *i);

/* `--name=value` at argv[i] (a position where an option is expected)
 * becomes the two arguments `--name` `value`, as getopt_long and llama.cpp
 * accept it; *argc grows by one. argv needs room for one more pointer per
 * argument: the command's argv from main() has it (args_prepare). */
void args_split_eq(int *argc, char **argv, int i);

/* A copy of argv with that room (argc + 1 more slots), for main(). */
char **args_prepare(int argc, char **argv);

/* Options that mean nothing on a CPU engine but appear in most llama.cpp
 * tutorials (-ngl N, --no-mmap, --mlock, -fa, ...): if argv[*i] is one,
 * consumes it (and its value), prints a one-line note and returns 1;
 * otherwise returns 0. */
int args_ignored(const char *cmd, int argc, char **argv, int *i);

/* An unknown option or stray argument: says so in one line, with where to
 * find the options, and returns 2 (the usage-error exit status). */
int args_unknown(const char *cmd, const char *arg);

/* -e: replaces the escapes \n \r \t \\ \' \" \a \b \f \v and \xNN in s by
 * the bytes they stand for, in place; returns the new length. Unknown
 * escapes are kept as they are. */
size_t args_unescape(char *s);

/* Prints "adamas <cmd>: <message>" to stderr. */
void args_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a whole file into a NUL-terminated buffer (exact bytes); "-" is
 * standard input. Returns NULL and prints an error on failure. */
char *args_read_file(const char *cmd, const char *path, size_t *len);

/* Progress callback drawing "label: done/total" on stderr when it is a TTY.
 * `user` must point to a progress_state. */
typedef struct progress_state {
    const char *label;
    double t_start;
    double t_last;
    bool active;
    bool drawn;
    volatile sig_atomic_t *cancel; /* optional: the work stops once it becomes nonzero (set after progress_init) */
} progress_state;
bool progress_draw(uint64_t done, uint64_t total, void *user);
void progress_init(progress_state *p, const char *label);
void progress_done(progress_state *p);

double args_now(void);

#endif
