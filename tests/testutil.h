/*
 * testutil.h - helpers shared by the unit tests: where ../shared is, a
 * scratch directory, reading whole files, and reading llama.cpp .logits files.
 */
#ifndef ADM_TESTUTIL_H
#define ADM_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Path of a file under the shared data directory ($SHARED or ../shared). */
const char *tu_shared(const char *rel);
/* Path of a file in a per-process scratch directory (created on demand). */
const char *tu_tmp(const char *name);
/* Whole file into a malloc'd buffer; NULL if unreadable. */
uint8_t *tu_read_file(const char *path, size_t *len);
bool tu_write_file(const char *path, const void *data, size_t len);

/* A llama.cpp reference logits file: int32 n, int32 n_vocab, int32 tokens[n],
 * float logits[n][n_vocab]. */
typedef struct tu_logits {
    int n, n_vocab;
    int32_t *tokens;
    float *logits;
} tu_logits;
bool tu_logits_load(const char *path, tu_logits *out);
void tu_logits_free(tu_logits *l);

/* Deterministic pseudo-random numbers for tests. */
uint64_t tu_rand(uint64_t *state);
float tu_randf(uint64_t *state); /* uniform in [-1, 1) */

#endif
