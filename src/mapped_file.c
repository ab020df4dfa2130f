/*
 * mapped_file.c - open + mmap (or read) a file read-only. The model keeps the
 * mapping alive for its whole life because weight tensors point into it.
 */
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = adm_alloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static adm_status read_all(int fd, uint8_t *buf, uint64_t size, const char *path, adm_error *err) {
    uint64_t done = 0;
    while (done < size) {
        ssize_t r = read(fd, buf + done, (size_t)ADM_MIN(size - done, (uint64_t)1 << 30));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return adm_fail(err, ADM_ERR_IO, "%s: read failed: %s", path, r < 0 ? strerror(errno) : "unexpected end of file");
        done += (uint64_t)r;
    }
    return ADM_OK;
}

adm_status adm_mapped_file_open(const char *path, adm_mapped_file **out, adm_error *err) {
    *out = NULL;
    adm_status st = ADM_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return adm_fail(err, ADM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    adm_mapped_file *f = adm_calloc(1, sizeof(*f));
    if (!f) { st = adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", path); goto fail; }
    f->path = dup_str(path);
    if (!f->path) { st = adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", path); goto fail; }
    struct stat sb;
    if (fstat(fd, &sb) != 0) { st = adm_fail(err, ADM_ERR_IO, "%s: cannot stat: %s", path, strerror(errno)); goto fail; }
    if (S_ISDIR(sb.st_mode)) { st = adm_fail(err, ADM_ERR_IO, "%s: is a directory, not a model file", path); goto fail; }
    f->size = (uint64_t)sb.st_size;
    if (f->size > 0 && S_ISREG(sb.st_mode)) {
        void *m = mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            f->data = m;
            f->is_mmap = true;
            /* Weights are read front to back once per token; tell the kernel. */
            madvise(m, (size_t)f->size, MADV_WILLNEED);
        }
    }
    if (!f->data && f->size > 0) {
        uint8_t *buf = adm_alloc((size_t)f->size);
        if (!buf) { st = adm_fail(err, ADM_ERR_NOMEM, "%s: cannot allocate %llu bytes", path, (unsigned long long)f->size); goto fail; }
        f->data = buf;
        st = read_all(fd, buf, f->size, path, err);
        if (st != ADM_OK) goto fail;
    }
    close(fd);
    *out = f;
    return ADM_OK;
fail:
    close(fd);
    adm_mapped_file_free(f);
    return st;
}

void adm_mapped_file_free(adm_mapped_file *f) {
    if (!f) return;
    if (f->data) {
        if (f->is_mmap) munmap((void *)f->data, (size_t)f->size);
        else adm_free((void *)f->data);
    }
    adm_free(f->path);
    adm_free(f);
}

bool adm_mapped_file_prefault(const adm_mapped_file *f, adm_progress_fn progress, void *user) {
    const uint64_t chunk = 64u << 20;
    volatile uint8_t sink = 0;
    for (uint64_t off = 0; off < f->size; off += 4096) {
        sink ^= f->data[off];
        if (progress && (off % chunk) == 0 && !progress(off, f->size, user)) return false;
    }
    (void)sink;
    if (progress) progress(f->size, f->size, user);
    return true;
}
