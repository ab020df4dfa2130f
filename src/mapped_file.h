/*
 * mapped_file.h - a read-only view of a whole file. Uses mmap so weights are
 * paged in on demand and shared between processes; falls back to reading the
 * file into memory where mmap is unavailable (pipes, some filesystems).
 */
#ifndef ADM_MAPPED_FILE_H
#define ADM_MAPPED_FILE_H

#include "base.h"

typedef struct adm_mapped_file {
    const uint8_t *data;
    uint64_t size;
    bool is_mmap;
    char *path; /* owned copy, for error messages */
} adm_mapped_file;

/* Maps `path`. On success the caller owns *out and frees it with adm_mapped_file_free. */
adm_status adm_mapped_file_open(const char *path, adm_mapped_file **out, adm_error *err);
void adm_mapped_file_free(adm_mapped_file *f);

/* Touches every page (optionally reporting progress) so later accesses do not fault. */
bool adm_mapped_file_prefault(const adm_mapped_file *f, adm_progress_fn progress, void *user);

#endif
