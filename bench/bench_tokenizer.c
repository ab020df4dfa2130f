/*
 * bench_tokenizer.c - tokenizer throughput: about 1 MiB of English text (the
 * license texts every Debian system has in /usr/share/common-licenses,
 * repeated) tokenized with a vocabulary (default: the Llama 3 byte-level BPE
 * vocabulary in $SHARED/testdata/tokenizer), median of several runs.
 *
 *   build/bench/bench_tokenizer [VOCAB.gguf] [runs]
 */
#include "adamas.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET_BYTES (1u << 20)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Appends every regular file of dir (sorted by name) to buf. */
static size_t append_dir(const char *dir, char *buf, size_t len, size_t cap) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) return len;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        FILE *f = names[i]->d_name[0] != '.' ? fopen(path, "rb") : NULL;
        if (f) {
            len += fread(buf + len, 1, cap - len, f);
            fclose(f);
        }
        free(names[i]);
    }
    free(names);
    return len;
}

int main(int argc, char **argv) {
    const char *shared = getenv("SHARED");
    char vocab_path[1024];
    snprintf(vocab_path, sizeof(vocab_path), "%s/testdata/tokenizer/ggml-vocab-llama-bpe.gguf",
             shared && *shared ? shared : "../shared");
    const char *path = argc > 1 ? argv[1] : vocab_path;
    int runs = argc > 2 ? atoi(argv[2]) : 9;
    if (runs < 1 || runs > 1000) runs = 9;

    /* One pass over the licenses, then repeat it up to 1 MiB, ending at a line break. */
    size_t cap = 4u << 20;
    char *base = malloc(cap), *text = malloc(TARGET_BYTES + 1);
    if (!base || !text) return 1;
    size_t n_base = append_dir("/usr/share/common-licenses", base, 0, cap);
    if (n_base < 1000) {
        fprintf(stderr, "bench_tokenizer: no text in /usr/share/common-licenses\n");
        return 1;
    }
    size_t len = 0;
    while (len < TARGET_BYTES) {
        size_t k = n_base < TARGET_BYTES - len ? n_base : TARGET_BYTES - len;
        memcpy(text + len, base, k);
        len += k;
    }
    while (len > 0 && text[len - 1] != '\n') len--;
    text[len] = 0;

    adm_error err;
    adm_vocab *vocab;
    double t0 = now();
    if (adm_vocab_load(path, &vocab, &err) != ADM_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }
    double t_load = now() - t0;
    int64_t cap_ids = (int64_t)len + 16;
    int32_t *ids = malloc((size_t)cap_ids * sizeof(int32_t));
    double *t = malloc((size_t)runs * sizeof(double));
    if (!ids || !t) return 1;
    int64_t n = adm_tokenize(vocab, text, (int64_t)len, ids, cap_ids, 0); /* warm-up */
    for (int r = 0; r < runs; r++) {
        t0 = now();
        int64_t m = adm_tokenize(vocab, text, (int64_t)len, ids, cap_ids, 0);
        t[r] = now() - t0;
        if (m != n || m < 0) {
            fprintf(stderr, "bench_tokenizer: tokenization failed or is not deterministic\n");
            return 1;
        }
    }
    qsort(t, (size_t)runs, sizeof(double), cmp_double);
    double med = t[runs / 2], mb = (double)len / 1e6;
    printf("vocab:        %s (%d tokens), loaded in %.3f s\n", path, adm_vocab_n_tokens(vocab), t_load);
    printf("text:         %zu bytes (/usr/share/common-licenses/*, repeated), %lld tokens (%.2f bytes/token)\n", len,
           (long long)n, (double)len / (double)n);
    printf("tokenize:     median %.4f s of %d runs (min %.4f, max %.4f)\n", med, runs, t[0], t[runs - 1]);
    printf("throughput:   %.2f MB/s, %.2f M tokens/s\n", mb / med, (double)n / med / 1e6);
    adm_vocab_free(vocab);
    free(ids);
    free(t);
    free(base);
    free(text);
    return 0;
}
