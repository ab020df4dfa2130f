/*
 * prompt_cache.c - see prompt_cache.h.
 */
#include "prompt_cache.h"

#include "args.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int prompt_cache_parse(prompt_cache *pc, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (!strcmp(a, "--prompt-cache")) {
        if (!(pc->path = args_value(cmd, argc, argv, i))) return -1;
        return 1;
    }
    if (!strcmp(a, "--prompt-cache-ro")) {
        pc->read_only = true;
        return 1;
    }
    return 0;
}

void prompt_cache_usage(FILE *f) {
    fprintf(f, "\nprompt cache (docs/snapshot.md):\n"
               "  --prompt-cache FILE     restore the longest common prefix of FILE's snapshot and the prompt instead\n"
               "                          of evaluating it, then save the state after the prompt to FILE\n"
               "                          (snapshots from `adamas prefill` work too)\n"
               "  --prompt-cache-ro       use FILE but never write it\n");
}

static double mib(double b) { return b / (1024.0 * 1024.0); }

int prompt_cache_load(const prompt_cache *pc, const char *cmd, adm_ctx *ctx, const int32_t *prompt, int n_prompt,
                      float *logits) {
    if (!pc->path) return 0;
    struct stat sb;
    if (stat(pc->path, &sb) != 0) {
        if (errno == ENOENT && !pc->read_only) {
            fprintf(stderr, "adamas %s: prompt cache %s does not exist yet; it will be saved after the prompt\n", cmd,
                    pc->path);
            return 0;
        }
        args_error(cmd, "warning: prompt cache %s: %s; evaluating the whole prompt", pc->path, strerror(errno));
        return 0;
    }
    const double t0 = args_now();
    adm_error err;
    int n = 0;
    if (adm_seq_restore(adm_ctx_seq(ctx), pc->path, prompt, n_prompt, logits, &n, &err) != ADM_OK) {
        args_error(cmd, "warning: prompt cache not used: %s; evaluating the whole prompt", err.msg);
        return 0;
    }
    fprintf(stderr, "adamas %s: prompt cache %s: %d of %d prompt tokens restored in %.2f s\n", cmd, pc->path, n,
            n_prompt, args_now() - t0);
    return n;
}

/* A snapshot begins with "ADMSNAP" (docs/snapshot.md); anything else at
 * the path is a user's file and stays untouched. */
static bool replaceable(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT;
    char magic[8] = {0};
    const size_t got = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    return got == 0 || (got == sizeof(magic) && !memcmp(magic, "ADMSNAP", 8));
}

void prompt_cache_save(const prompt_cache *pc, const char *cmd, adm_ctx *ctx, int n_loaded, const float *logits) {
    const adm_seq *s = adm_ctx_seq(ctx);
    if (!pc->path || pc->read_only || adm_seq_n_past(s) == n_loaded) return;
    if (!replaceable(pc->path)) {
        args_error(cmd, "warning: %s exists and is not an adamas snapshot; the prompt cache is not saved over it",
                   pc->path);
        return;
    }
    const double t0 = args_now();
    adm_error err;
    if (adm_seq_save(s, pc->path, logits, &err) != ADM_OK) {
        args_error(cmd, "warning: prompt cache not saved: %s", err.msg);
        return;
    }
    struct stat sb;
    const double size = stat(pc->path, &sb) == 0 ? (double)sb.st_size : 0.0;
    fprintf(stderr, "adamas %s: prompt cache %s: %d tokens saved (%.1f MiB) in %.2f s\n", cmd, pc->path,
            adm_seq_n_past(s), mib(size), args_now() - t0);
}
