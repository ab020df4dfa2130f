/*
 * cmd_prefill.c - `adamas prefill`: evaluate a document once and save the
 * sequence as a snapshot (docs/snapshot.md), so that `run --prompt-cache`
 * with a prompt that starts with the document evaluates only the rest.
 * Progress and an ETA are drawn on stderr when it is a terminal.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f) {
    fprintf(f, "usage: adamas prefill -m MODEL (-f FILE | -p TEXT) -o SNAPSHOT [options]\n"
               "Evaluates a document and saves the KV cache, Adamas code index and tokens to SNAPSHOT, for\n"
               "`adamas run --prompt-cache SNAPSHOT` with prompts that start with the document.\n\n"
               "  -f, --file FILE         the document\n"
               "  -p, --prompt TEXT       ... or a text\n"
               "  -o, --output FILE       the snapshot to write (replaced atomically)\n"
               "  --special               parse special tokens in the text (as `run --special`)\n"
               "The context (-c) defaults to the document's length; a snapshot restores into any context that\n"
               "holds it. With --attention adamas the snapshot carries the calibrated code index; a dense one\n"
               "gets its index built when it is restored into an Adamas sequence. Restore with the same\n"
               "--cache-type-k/-v.\n");
    model_opts_usage(f, 0);
}

int cmd_prefill(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    const char *prompt = NULL, *file = NULL, *out = NULL;
    bool special = false;
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        int r = model_opts_parse(&o, "prefill", argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(prompt = args_value("prefill", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(file = args_value("prefill", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out = args_value("prefill", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--special")) {
            special = true;
        } else {
            return args_unknown("prefill", a);
        }
    }
    if (!o.model) {
        args_error("prefill", "no model given (-m FILE.gguf)");
        return 2;
    }
    if (!out || !!prompt == !!file) {
        args_error("prefill", "give -o and one of -f or -p");
        return 2;
    }
    size_t len = prompt ? strlen(prompt) : 0;
    char *text = NULL;
    if (file && !(text = args_read_file("prefill", file, &len))) return 1;
    adm_model *m = model_opts_load(&o, "prefill");
    int rc = 1;
    adm_ctx *ctx = NULL;
    int32_t *toks = NULL;
    float *logits = NULL;
    if (!m) goto done;
    const adm_vocab *v = adm_model_vocab(m);
    if (!v) {
        args_error("prefill", "the model has no vocabulary");
        goto done;
    }
    int n_tok;
    const unsigned flags = ADM_TOKENIZE_ADD_SPECIAL | (special ? ADM_TOKENIZE_PARSE_SPECIAL : 0);
    if (!(toks = tokenize_alloc("prefill", v, file ? text : prompt, len, flags, 0, &n_tok))) goto done;
    if (n_tok == 0) {
        args_error("prefill", "the text is empty and the model adds no BOS token");
        goto done;
    }
    if (!o.ctx_set) {
        o.cp.n_ctx = n_tok;
        o.ctx_set = true;
    } else if (o.cp.n_ctx < n_tok) {
        args_error("prefill", "the text has %d tokens but the context holds %d; use a larger -c", n_tok, o.cp.n_ctx);
        goto done;
    }
    if (!(ctx = model_opts_ctx(&o, "prefill", m, 0))) goto done;
    logits = malloc(sizeof(float) * (size_t)adm_model_n_vocab(m));
    if (!logits) {
        args_error("prefill", "out of memory");
        goto done;
    }
    adm_error err;
    const double t0 = args_now();
    progress_init(&o.prefill, "prefill");
    adm_status st = adm_ctx_eval(ctx, toks, n_tok, logits, false, &err);
    progress_done(&o.prefill);
    if (st != ADM_OK) {
        args_error("prefill", "%s", err.msg);
        goto done;
    }
    const double t_eval = args_now() - t0, t1 = args_now();
    if (adm_seq_save(adm_ctx_seq(ctx), out, logits, &err) != ADM_OK) {
        args_error("prefill", "%s", err.msg);
        goto done;
    }
    struct stat sb;
    const double size = stat(out, &sb) == 0 ? (double)sb.st_size : 0.0;
    const double kv_tok = (double)adm_model_kv_bytes_per_token(m, o.cp.type_k, o.cp.type_v);
    fprintf(stderr, "adamas prefill: %d tokens in %.1f s (%.1f tokens/s); %s: %.1f MiB written in %.2f s, %.1f KiB "
            "per token (KV cache: %.1f KiB per token)\n", n_tok, t_eval, t_eval > 0 ? n_tok / t_eval : 0.0, out,
            size / 1048576.0, args_now() - t1, size / n_tok / 1024.0, kv_tok / 1024.0);
    rc = 0;
done:
    free(logits);
    free(toks);
    free(text);
    adm_ctx_free(ctx);
    adm_model_free(m);
    return rc;
}
