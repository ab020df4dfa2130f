/*
 * args.h - helpers shared by the subcommands: strict number parsing, error
 * reporting in one format, and whether stderr is a terminal (progress bars).
 */
#ifndef ADM_TOOLS_ARGS_H
#define ADM_TOOLS_ARGS_H

#include "adamas.h"

#include <stdbool.h>
#include <stdint.h>

/* Parses a whole string as an integer in [lo, hi]. On failure prints
 * "adamas <cmd>: invalid value for <opt>: ..." and returns false. */
bool args_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
bool args_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);

/* The value of option argv[*i] (advancing *i), or NULL after printing
 * "option X needs a value" when it is the last argument. */
const char *args_value(const char *cmd, int argc, char **argv, int *i);

/* Prints "adamas <cmd>: <message>" to stderr. */
void args_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a whole file into a NUL-terminated buffer (exact bytes). Returns
 * NULL and prints an error on failure. */
char *args_read_file(const char *cmd, const char *path, size_t *len);

/* Progress callback drawing "label: done/total" on stderr when it is a TTY.
 * `user` must point to a progress_state. */
typedef struct progress_state {
    const char *label;
    double t_start;
    double t_last;
    bool active;
    bool drawn;
} progress_state;
bool progress_draw(uint64_t done, uint64_t total, void *user);
void progress_init(progress_state *p, const char *label);
void progress_done(progress_state *p);

double args_now(void);

#endif
