/*
 * testutil.c - see testutil.h.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tu_shared(const char *rel) {
    static char buf[8][1024];
    static int k;
    const char *base = getenv("SHARED");
    char *p = buf[k++ % 8];
    snprintf(p, sizeof(buf[0]), "%s/%s", base && *base ? base : "../shared", rel);
    return p;
}

const char *tu_tmp(const char *name) {
    static char dir[256];
    static char buf[8][1024];
    static int k;
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/adamas-test-%d", (int)getpid());
        mkdir(dir, 0700);
    }
    char *p = buf[k++ % 8];
    snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
    return p;
}

uint8_t *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) *len = (size_t)n;
    return b;
}

bool tu_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

bool tu_logits_load(const char *path, tu_logits *out) {
    size_t len;
    uint8_t *b = tu_read_file(path, &len);
    memset(out, 0, sizeof(*out));
    if (!b || len < 8) {
        free(b);
        return false;
    }
    memcpy(&out->n, b, 4);
    memcpy(&out->n_vocab, b + 4, 4);
    size_t need = 8 + 4 * (size_t)out->n + 4 * (size_t)out->n * (size_t)out->n_vocab;
    if (out->n <= 0 || out->n_vocab <= 0 || len != need) {
        free(b);
        return false;
    }
    out->tokens = malloc(4 * (size_t)out->n);
    out->logits = malloc(4 * (size_t)out->n * (size_t)out->n_vocab);
    memcpy(out->tokens, b + 8, 4 * (size_t)out->n);
    memcpy(out->logits, b + 8 + 4 * (size_t)out->n, 4 * (size_t)out->n * (size_t)out->n_vocab);
    free(b);
    return true;
}

void tu_logits_free(tu_logits *l) {
    free(l->tokens);
    free(l->logits);
    memset(l, 0, sizeof(*l));
}

uint64_t tu_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float tu_randf(uint64_t *s) { return (float)((double)(tu_rand(s) >> 11) * 0x1.0p-52 - 1.0); }
