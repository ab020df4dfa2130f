/*
 * cmd_logits.c - `adamas logits`: evaluate a prompt in one pass and write
 * the logits of every position in the layout of llama.cpp reference files
 * (int32 n, int32 n_vocab, int32 tokens[n], float32 logits[n][n_vocab]).
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prompts up to this long go in one batch unless -b says otherwise. */
#define LOGITS_ONE_BATCH 4096

static void usage(FILE *f) {
    fprintf(f, "usage: adamas logits -m MODEL (-p PROMPT | -f FILE | --tokens \"1 403 ...\") -o OUT [options]\n"
               "Evaluates every position of the prompt in one batch and writes the logits.\n\n"
               "  -p, --prompt TEXT       prompt text (BOS added as the model says)\n"
               "  -f, --file FILE         read the prompt from a file (- for standard input)\n"
               "  -e, --escape            process escapes (\\n, \\t, \\\\, \\\", \\xNN, ...) in -p's text\n"
               "  --tokens \"IDS\"          token ids instead of text (space or comma separated)\n"
               "  --no-bos                do not add BOS when tokenizing\n"
               "  -c, --ctx-size N        context size (default: the prompt's length; a prompt longer than the\n"
               "                          model's training length, capped to fit in half of the free memory, is\n"
               "                          refused; warns above the training length)\n"
               "  --truncate              keep the end of a prompt longer than the context (and its BOS)\n"
               "  -o, --output FILE       where to write the logits\n"
               "  --top K                 also print the top K logits of each position to stdout\n"
               "  --greedy N              then continue greedily (argmax) for N tokens and print their ids\n"
               "Prompts of up to %d tokens are evaluated in one batch (as llama.cpp's reference files are\n"
               "made), longer ones in batches of -b, with progress on a terminal.\n",
            LOGITS_ONE_BATCH);
    model_opts_usage(f, USAGE_NO_CTX);
}

static int32_t *parse_tokens(const char *s, int *n_out) {
    size_t cap = 64;
    int n = 0;
    int32_t *t = malloc(cap * sizeof(int32_t));
    while (t && *s) {
        while (*s == ' ' || *s == ',' || *s == '\t' || *s == '\n' || *s == '[' || *s == ']') s++;
        if (!*s) break;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v > INT32_MAX) {
            free(t);
            return NULL;
        }
        if ((size_t)n == cap) {
            int32_t *nt = realloc(t, (cap *= 2) * sizeof(int32_t));
            if (!nt) {
                free(t);
                return NULL;
            }
            t = nt;
        }
        t[n++] = (int32_t)v;
        s = end;
    }
    *n_out = n;
    return t;
}

/* "pos: id=logit id=logit ..." for the k largest logits, largest first. */
static void print_top(int pos, const float *row, int n_vocab, int k) {
    int idx[64];
    if (k > 64) k = 64;
    int n = 0;
    for (int j = 0; j < n_vocab; j++) {
        if (n == k && row[j] <= row[idx[n - 1]]) continue;
        int p = n < k ? n++ : n - 1;
        while (p > 0 && row[idx[p - 1]] < row[j]) {
            idx[p] = idx[p - 1];
            p--;
        }
        idx[p] = j;
    }
    printf("%d:", pos);
    for (int i = 0; i < n; i++) printf(" %d=%.4f", idx[i], (double)row[idx[i]]);
    printf("\n");
}

int cmd_logits(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    char *prompt = NULL;
    const char *file = NULL, *tok_str = NULL, *out_path = NULL;
    bool bos = true, escape = false, truncate = false, batch_set = false;
    long top = 0, greedy = 0;
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        batch_set |= !strcmp(argv[i], "-b") || !strcmp(argv[i], "--batch-size");
        int r = model_opts_parse(&o, "logits", argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!args_value("logits", argc, argv, &i)) return 2;
            prompt = argv[i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(file = args_value("logits", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--tokens")) {
            if (!(tok_str = args_value("logits", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out_path = args_value("logits", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--top")) {
            const char *v = args_value("logits", argc, argv, &i);
            if (!v || !args_int("logits", a, v, 1, 1000000, &top)) return 2;
        } else if (!strcmp(a, "--greedy")) {
            const char *v = args_value("logits", argc, argv, &i);
            if (!v || !args_int("logits", a, v, 1, 1 << 20, &greedy)) return 2;
        } else if (!strcmp(a, "--no-bos")) {
            bos = false;
        } else if (!strcmp(a, "-e") || !strcmp(a, "--escape")) {
            escape = true;
        } else if (!strcmp(a, "--truncate")) {
            truncate = true;
        } else {
            return args_unknown("logits", a);
        }
    }
    if (!o.model) {
        args_error("logits", "no model given (-m FILE.gguf)");
        return 2;
    }
    if ((prompt != NULL) + (file != NULL) + (tok_str != NULL) != 1 || (!out_path && !top && !greedy)) {
        args_error("logits", "give exactly one of -p, -f, --tokens, and -o (or --top, --greedy)");
        return 2;
    }
    int32_t *tokens = NULL;
    int n = 0;
    if (tok_str && !(tokens = parse_tokens(tok_str, &n))) {
        args_error("logits", "invalid --tokens list: '%s'", tok_str);
        return 2;
    }
    if (tok_str && n == 0) {
        args_error("logits", "--tokens is empty");
        free(tokens);
        return 2;
    }
    adm_model *m = model_opts_load(&o, "logits");
    if (!m) {
        free(tokens);
        return 1;
    }
    int rc = 1;
    char *text = NULL;
    float *logits = NULL;
    adm_ctx *ctx = NULL;
    FILE *f = NULL;
    if (!tokens) {
        size_t len = prompt ? (escape ? args_unescape(prompt) : strlen(prompt)) : 0;
        if (file && !(text = args_read_file("logits", file, &len))) goto done;
        if (!adm_model_vocab(m)) {
            args_error("logits", "the model has no vocabulary; pass --tokens");
            goto done;
        }
        tokens = tokenize_alloc("logits", adm_model_vocab(m), prompt ? prompt : text, len,
                                bos ? ADM_TOKENIZE_ADD_SPECIAL : 0, 0, &n);
        if (!tokens) goto done;
        if (n == 0) {
            args_error("logits", "the prompt is empty");
            goto done;
        }
    }
    /* The context holds the prompt, up to what -c or the model allows
     * (a 5 MB file is not a 1.6M-token context). */
    const int limit = default_ctx_size("logits", m, &o, false);
    if (n > limit) {
        const bool is_bos = adm_model_vocab(m) && n > 0 && tokens[0] == adm_vocab_bos(adm_model_vocab(m));
        if (!truncate) {
            args_error("logits", "the prompt has %d tokens but the context holds at most %d (%s); use --truncate to "
                       "keep its last %d%s", n, limit, o.ctx_set ? "-c" : "the model's training length, capped by memory",
                       limit, is_bos ? " and BOS" : "");
            goto done;
        }
        const int keep = limit, head = is_bos ? 1 : 0;
        memmove(tokens + head, tokens + n - (keep - head), (size_t)(keep - head) * sizeof(int32_t));
        fprintf(stderr, "adamas logits: prompt truncated from %d to %d tokens\n", n, keep);
        n = keep;
    }
    if (!o.ctx_set) { /* -c stays as given: RoPE scaling may depend on it */
        o.cp.n_ctx = n + (int)greedy;
        o.ctx_set = true;
    }
    /* One batch, as the reference files were made, unless that is long. */
    if (!batch_set && n <= LOGITS_ONE_BATCH && o.cp.n_batch < n) o.cp.n_batch = n;
    /* Sparse methods: positions past the budget go one at a time, so each
     * of them really attends sparsely. */
    if (o.cp.attention != ADM_ATTN_DENSE) o.cp.sparse_eval = true;
    if (!(ctx = model_opts_ctx(&o, "logits", m, 0))) goto done;
    const int n_vocab = adm_model_n_vocab(m);
    logits = malloc((size_t)n * (size_t)n_vocab * sizeof(float));
    if (!logits) {
        args_error("logits", "cannot allocate %d x %d logits", n, n_vocab);
        goto done;
    }
    adm_error err;
    if (adm_ctx_eval(ctx, tokens, n, logits, true, &err) != ADM_OK) {
        args_error("logits", "%s", err.msg);
        goto done;
    }
    if (out_path) {
        f = fopen(out_path, "wb");
        int32_t hdr[2] = {n, n_vocab};
        if (!f || fwrite(hdr, sizeof(hdr), 1, f) != 1 || fwrite(tokens, sizeof(int32_t), (size_t)n, f) != (size_t)n ||
            fwrite(logits, sizeof(float) * (size_t)n_vocab, (size_t)n, f) != (size_t)n || fclose(f) != 0) {
            f = NULL;
            args_error("logits", "cannot write '%s': %s", out_path, strerror(errno));
            goto done;
        }
        f = NULL;
    }
    for (int t = 0; t < n && top > 0; t++) print_top(t, logits + (size_t)t * n_vocab, n_vocab, (int)top);
    if (greedy > 0) {
        const float *row = logits + (size_t)(n - 1) * n_vocab;
        printf("greedy:");
        for (long i = 0; i < greedy; i++) {
            int32_t best = 0;
            for (int j = 1; j < n_vocab; j++)
                if (row[j] > row[best]) best = j;
            printf(" %d", best);
            if (adm_ctx_eval(ctx, &best, 1, logits, false, &err) != ADM_OK) {
                printf("\n");
                args_error("logits", "%s", err.msg);
                goto done;
            }
            row = logits;
        }
        printf("\n");
    }
    model_opts_print_stats(&o, m, ctx);
    rc = 0;
done:
    if (f) fclose(f);
    free(logits);
    free(text);
    free(tokens);
    adm_ctx_free(ctx);
    adm_model_free(m);
    return rc;
}
