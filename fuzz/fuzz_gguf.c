/*
 * fuzz_gguf.c - libFuzzer target: arbitrary bytes as a GGUF file. The
 * parser must accept or refuse them without crashing or reading out of
 * bounds; accepted files are then bound as a model (through a temporary
 * file) and, when that works, evaluated for one token.
 */
#include "adamas.h"
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    adm_gguf *g;
    adm_error err;
    if (adm_gguf_parse(data, size, "fuzz.gguf", &g, &err) != ADM_OK) return 0;
    adm_gguf_free(g);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/adamas-fuzz-%d.gguf", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    adm_model *m;
    if (adm_model_load(path, NULL, &m, &err) == ADM_OK) {
        adm_ctx_params p = adm_ctx_default_params();
        p.n_ctx = 8;
        p.n_threads = 1;
        adm_ctx *ctx;
        if (adm_ctx_create(m, &p, &ctx, &err) == ADM_OK) {
            float *logits = malloc(sizeof(float) * (size_t)adm_model_n_vocab(m));
            int32_t tok = 0;
            if (logits) adm_ctx_eval(ctx, &tok, 1, logits, false, &err);
            free(logits);
            adm_ctx_free(ctx);
        }
        adm_model_free(m);
    }
    unlink(path);
    return 0;
}
