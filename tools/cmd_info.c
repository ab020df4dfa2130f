/*
 * cmd_info.c - `adamas info MODEL`: the GGUF metadata, the tensor table and,
 * for a model adamas can run, the derived hyperparameters.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: adamas info MODEL.gguf [--no-tensors] [--all-elems]\n"
               "Prints the metadata, the tensor table (name, type, shape, size) and the model's hyperparameters.\n");
}

static const char *human(uint64_t b, char *buf, size_t n) {
    if (b >= (1ull << 30)) snprintf(buf, n, "%.2f GiB", (double)b / (double)(1ull << 30));
    else if (b >= (1ull << 20)) snprintf(buf, n, "%.2f MiB", (double)b / (double)(1ull << 20));
    else if (b >= 1024) snprintf(buf, n, "%.2f KiB", (double)b / 1024.0);
    else snprintf(buf, n, "%llu B", (unsigned long long)b);
    return buf;
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool tensors = true;
    int max_elems = 8;
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--no-tensors")) {
            tensors = false;
        } else if (!strcmp(argv[i], "--all-elems")) {
            max_elems = 1 << 30;
        } else if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) {
            if (!(path = args_value("info", argc, argv, &i))) return 2;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            return args_unknown("info", argv[i]);
        }
    }
    if (!path) {
        args_error("info", "no model given (adamas info FILE.gguf)");
        return 2;
    }
    adm_error err;
    adm_gguf *g;
    if (adm_gguf_open(path, &g, &err) != ADM_OK) {
        fprintf(stderr, "adamas info: %s\n", err.msg);
        return 1;
    }
    char key[256], hb[32];
    static char val[1 << 16];
    printf("file: %s\nGGUF version: %u\nmetadata: %llu keys\n", path, adm_gguf_version(g),
           (unsigned long long)adm_gguf_n_kv(g));
    for (uint64_t i = 0; i < adm_gguf_n_kv(g); i++)
        printf("  %-44s = %s\n", adm_gguf_key(g, i, key, sizeof(key)), adm_gguf_value_str(g, i, max_elems, val, sizeof(val)));
    uint64_t total = 0;
    if (tensors) printf("tensors: %llu\n  %-36s %-6s %-22s %s\n", (unsigned long long)adm_gguf_n_tensors(g), "name", "type", "shape", "size");
    for (uint64_t i = 0; i < adm_gguf_n_tensors(g); i++) {
        adm_tensor_info t = adm_gguf_tensor_info(g, i);
        total += t.size;
        if (!tensors) continue;
        char shape[96];
        int o = snprintf(shape, sizeof(shape), "[");
        for (int d = 0; d < t.n_dims; d++) o += snprintf(shape + o, sizeof(shape) - (size_t)o, d ? ", %lld" : "%lld", (long long)t.ne[d]);
        snprintf(shape + o, sizeof(shape) - (size_t)o, "]");
        printf("  %-36s %-6s %-22s %s\n", t.name, adm_type_name(t.type), shape, human(t.size, hb, sizeof(hb)));
    }
    printf("tensor data: %s in %llu tensors\n", human(total, hb, sizeof(hb)), (unsigned long long)adm_gguf_n_tensors(g));
    adm_gguf_free(g);

    adm_model *m;
    adm_model_params mp = adm_model_default_params();
    if (adm_model_load(path, &mp, &m, &err) != ADM_OK) {
        printf("model: not loadable by adamas: %s\n", err.msg);
        return 0;
    }
    adm_model_info mi = adm_model_get_info(m);
    printf("model:\n  arch            %s\n  name            %s\n  n_vocab         %d\n  n_ctx_train     %d\n"
           "  n_embd          %d\n  n_layer         %d\n  n_head          %d\n  n_head_kv       %d\n"
           "  head_dim        %d\n  n_rot           %d\n  n_ff            %d\n  rope_freq_base  %g\n"
           "  rms_eps         %g\n  parameters      %llu (%.2f M)\n  weights         %s\n",
           mi.arch, mi.name, mi.n_vocab, mi.n_ctx_train, mi.n_embd, mi.n_layer, mi.n_head, mi.n_head_kv,
           mi.n_embd_head, mi.n_rot, mi.n_ff, (double)mi.rope_freq_base, (double)mi.rms_eps,
           (unsigned long long)mi.n_params, (double)mi.n_params / 1e6, human(mi.weight_bytes, hb, sizeof(hb)));
    printf("  attn_scale      %g\n", (double)mi.attn_scale);
    if (mi.n_swa > 0) {
        printf("  sliding window  %d (%d of %d layers), local rope base %g\n", mi.n_swa, mi.n_swa_layers, mi.n_layer,
               (double)mi.rope_freq_base_swa);
        /* What one sequence's f16 cache takes at the training length with
         * the default batch: local layers keep a ring (kv_cache.h). */
        const int nb = adm_engine_default_params().n_batch;
        const uint64_t full = adm_model_kv_bytes(m, ADM_TYPE_F16, ADM_TYPE_F16, mi.n_ctx_train, nb, true);
        const uint64_t ring = adm_model_kv_bytes(m, ADM_TYPE_F16, ADM_TYPE_F16, mi.n_ctx_train, nb, false);
        printf("  KV cache (f16)  %.1f MiB at %d tokens with rings of %d rows in the local layers (%.1f MiB with "
               "--swa-full: %.1f MiB saved)\n", (double)ring / 1048576.0, mi.n_ctx_train, mi.n_swa + nb + ADM_MAX_DRAFT,
               (double)full / 1048576.0, (double)(full - ring) / 1048576.0);
    }
    if (mi.attn_softcap > 0 || mi.final_softcap > 0)
        printf("  soft-capping    attention %g, logits %g\n", (double)mi.attn_softcap, (double)mi.final_softcap);
    if (mi.n_expert > 0)
        printf("  experts         %d, %d per token, feed-forward %d\n  decode reads    %s\n", mi.n_expert,
               mi.n_expert_used, mi.n_ff_exp, human(mi.decode_bytes, hb, sizeof(hb)));
    if (mi.longrope) printf("  longrope        original context %d\n", mi.n_ctx_orig);
    adm_model_free(m);
    return 0;
}
