/*
 * cmd_perplexity.c - `adamas perplexity`: llama.cpp's method. The text is
 * tokenized once (BOS first), cut into chunks of -c tokens; each chunk is
 * evaluated from an empty cache with its first token replaced by BOS, and
 * the second half of each chunk is scored (position i predicts token i+1).
 * --save-logits stores the scored distributions; --kl-base compares against
 * such a file (mean KL divergence, top-1 agreement, max |dp|), which is how
 * sparse attention is judged against dense.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: adamas perplexity -m MODEL -f TEXT [-c 512] [--chunks N] [--save-logits FILE | --kl-base FILE]\n"
               "Perplexity over a text file, llama.cpp's method (second half of each chunk scored).\n\n"
               "  -f, --file FILE         the text (- for standard input)\n"
               "  -c, --ctx-size N        tokens per chunk (default 512, or the model's training length if shorter)\n"
               "  --chunks N              score at most N chunks\n"
               "  --save-logits FILE      save the scored distributions (for --kl-base)\n"
               "  --kl-base FILE          compare with saved distributions: mean KL, top-1 agreement, max |dp|\n");
    model_opts_usage(f, USAGE_NO_CTX);
}

/* Saved distributions: a header, then per scored position its log-probs
 * quantized to 16 bits between the row's min (clamped at max - 32) and max,
 * as llama.cpp's --kl-divergence-base does to keep files small. */
#define LOGITS_MAGIC "ADMLGT01"
#define LOGPROB_RANGE 32.0f

typedef struct lp_file {
    FILE *f;
    int n_ctx, n_vocab, n_chunk;
} lp_file;

static void log_softmax(const float *logits, int n, float *out) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)(logits[i] - max));
    const float lse = max + (float)log(sum);
    for (int i = 0; i < n; i++) out[i] = logits[i] - lse;
}

static float quantize_row(const float *lp, int n, uint16_t *q) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++) max = lp[i] > max ? lp[i] : max;
    const float min = max - LOGPROB_RANGE, scale = 65535.0f / LOGPROB_RANGE;
    for (int i = 0; i < n; i++) {
        float v = lp[i] < min ? min : lp[i];
        q[i] = (uint16_t)lrintf((v - min) * scale);
    }
    return min;
}

static void dequantize_row(float min, const uint16_t *q, int n, float *lp) {
    for (int i = 0; i < n; i++) lp[i] = min + (float)q[i] * (LOGPROB_RANGE / 65535.0f);
}

static bool write_row(FILE *f, const float *lp, int n, uint16_t *q) {
    const float min = quantize_row(lp, n, q);
    return fwrite(&min, 4, 1, f) == 1 && fwrite(q, 2, (size_t)n, f) == (size_t)n;
}

static bool read_row(FILE *f, float *lp, int n, uint16_t *q) {
    float min;
    if (fread(&min, 4, 1, f) != 1 || fread(q, 2, (size_t)n, f) != (size_t)n) return false;
    dequantize_row(min, q, n, lp);
    return true;
}

int cmd_perplexity(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    const char *file = NULL, *save = NULL, *base = NULL;
    long max_chunks = 0;
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        int r = model_opts_parse(&o, "perplexity", argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(file = args_value("perplexity", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--chunks")) {
            const char *v = args_value("perplexity", argc, argv, &i);
            if (!v || !args_int("perplexity", a, v, 1, 1 << 30, &max_chunks)) return 2;
        } else if (!strcmp(a, "--save-logits")) {
            if (!(save = args_value("perplexity", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--kl-base") || !strcmp(a, "--kl-divergence-base")) {
            if (!(base = args_value("perplexity", argc, argv, &i))) return 2;
        } else {
            return args_unknown("perplexity", a);
        }
    }
    if (!o.model) {
        args_error("perplexity", "no model given (-m FILE.gguf)");
        return 2;
    }
    if (!file || (save && base)) {
        args_error("perplexity", !file ? "no text file (-f)" : "--save-logits and --kl-base exclude each other");
        return 2;
    }
    if (o.ctx_set && o.cp.n_ctx < 4) {
        args_error("perplexity", "the chunk size (-c) must be at least 4");
        return 2;
    }
    if (o.cp.attention != ADM_ATTN_DENSE) o.cp.sparse_eval = true;
    size_t len;
    char *text = args_read_file("perplexity", file, &len);
    if (!text) return 1;
    adm_model *m = model_opts_load(&o, "perplexity");
    int rc = 1;
    int32_t *toks = NULL;
    float *logits = NULL, *lp = NULL, *lpb = NULL;
    uint16_t *q16 = NULL;
    adm_ctx *ctx = NULL;
    FILE *fs = NULL, *fb = NULL;
    if (!m) goto done;
    const adm_vocab *v = adm_model_vocab(m);
    if (!v) {
        args_error("perplexity", "the model has no vocabulary");
        goto done;
    }
    /* llama.cpp's 512-token chunks, unless the model was trained on fewer. */
    if (!o.ctx_set) {
        const int train = adm_model_get_info(m).n_ctx_train;
        o.cp.n_ctx = train >= 4 && train < 512 ? train : 512;
        o.ctx_set = true;
    } else {
        default_ctx_size("perplexity", m, &o, false); /* warns past the training length */
    }
    int n_tok;
    if (!(toks = tokenize_alloc("perplexity", v, text, len, ADM_TOKENIZE_ADD_SPECIAL, 0, &n_tok))) goto done;
    const int n_ctx = o.cp.n_ctx, n_vocab = adm_model_n_vocab(m);
    int n_chunk = (int)(n_tok / n_ctx);
    if (max_chunks > 0 && n_chunk > max_chunks) n_chunk = (int)max_chunks;
    if (n_chunk < 1) {
        args_error("perplexity", "the text has %lld tokens, fewer than one chunk of %d; use a smaller -c",
                   (long long)n_tok, n_ctx);
        goto done;
    }
    if (!(ctx = model_opts_ctx(&o, "perplexity", m, 0))) goto done;
    fprintf(stderr, "perplexity: %lld tokens, %d chunks of %d, scoring the second half of each\n", (long long)n_tok,
            n_chunk, n_ctx);
    const int first = n_ctx / 2;
    logits = malloc((size_t)n_ctx * (size_t)n_vocab * sizeof(float));
    lp = malloc((size_t)n_vocab * sizeof(float));
    lpb = malloc((size_t)n_vocab * sizeof(float));
    q16 = malloc((size_t)n_vocab * sizeof(uint16_t));
    if (!logits || !lp || !lpb || !q16) {
        args_error("perplexity", "out of memory for %d x %d logits", n_ctx, n_vocab);
        goto done;
    }
    if (save) {
        fs = fopen(save, "wb");
        int32_t hdr[3] = {n_ctx, n_vocab, n_chunk};
        if (!fs || fwrite(LOGITS_MAGIC, 8, 1, fs) != 1 || fwrite(hdr, sizeof(hdr), 1, fs) != 1) {
            args_error("perplexity", "cannot write '%s': %s", save, strerror(errno));
            goto done;
        }
    }
    if (base) {
        fb = fopen(base, "rb");
        char magic[8];
        int32_t hdr[3];
        if (!fb || fread(magic, 8, 1, fb) != 1 || memcmp(magic, LOGITS_MAGIC, 8) || fread(hdr, sizeof(hdr), 1, fb) != 1) {
            args_error("perplexity", "'%s' is not a file written by --save-logits", base);
            goto done;
        }
        if (hdr[0] != n_ctx || hdr[1] != n_vocab || hdr[2] < n_chunk) {
            args_error("perplexity", "'%s' was made with -c %d, %d tokens of vocabulary and %d chunks; this run has "
                       "-c %d, %d and %d", base, hdr[0], hdr[1], hdr[2], n_ctx, n_vocab, n_chunk);
            goto done;
        }
    }
    double nll = 0, nll2 = 0, kl_sum = 0, max_dp = 0;
    int64_t count = 0, agree = 0;
    const int32_t bos = adm_vocab_bos(v);
    const bool add_bos = adm_vocab_add_bos(v) && bos >= 0;
    progress_state ps;
    progress_init(&ps, "perplexity");
    double t0 = args_now();
    for (int c = 0; c < n_chunk; c++) {
        int32_t *chunk = toks + (size_t)c * n_ctx;
        const int32_t saved = chunk[0];
        if (add_bos) chunk[0] = bos;
        adm_ctx_truncate(ctx, 0);
        adm_error err;
        adm_status st = adm_ctx_eval(ctx, chunk, n_ctx, logits, true, &err);
        chunk[0] = saved;
        if (st != ADM_OK) {
            progress_done(&ps);
            args_error("perplexity", "%s", err.msg);
            goto done;
        }
        for (int i = first; i < n_ctx - 1; i++) {
            const float *row = logits + (size_t)i * n_vocab;
            log_softmax(row, n_vocab, lp);
            const int32_t next = chunk[i + 1];
            const double l = -(double)lp[next];
            nll += l;
            nll2 += l * l;
            count++;
            if (fs && !write_row(fs, lp, n_vocab, q16)) {
                progress_done(&ps);
                args_error("perplexity", "cannot write '%s': %s", save, strerror(errno));
                goto done;
            }
            if (fb) {
                if (!read_row(fb, lpb, n_vocab, q16)) {
                    progress_done(&ps);
                    args_error("perplexity", "'%s' ends early", base);
                    goto done;
                }
                /* Compare at the stored precision: ours goes through the same
                 * 16-bit rounding, so identical runs give exactly 0. */
                dequantize_row(quantize_row(lp, n_vocab, q16), q16, n_vocab, lp);
                double kl = 0;
                int am = 0, bm = 0;
                for (int j = 0; j < n_vocab; j++) {
                    const double pb = exp((double)lpb[j]);
                    kl += pb * ((double)lpb[j] - (double)lp[j]);
                    if (lp[j] > lp[am]) am = j;
                    if (lpb[j] > lpb[bm]) bm = j;
                }
                kl_sum += kl;
                agree += am == bm;
                const double dp = fabs(exp((double)lp[next]) - exp((double)lpb[next]));
                max_dp = dp > max_dp ? dp : max_dp;
            }
        }
        progress_draw((uint64_t)c + 1, (uint64_t)n_chunk, &ps);
        if (!ps.drawn) {
            printf("[%d]%.4f%s", c + 1, exp(nll / (double)count), c + 1 < n_chunk ? "," : "\n");
            fflush(stdout);
        }
    }
    progress_done(&ps);
    const double mean = nll / (double)count, ppl = exp(mean);
    const double err_ppl = count > 1 ? sqrt((nll2 / (double)count - mean * mean) / (double)(count - 1)) * ppl : 0;
    printf("Final estimate: PPL = %.4f +/- %.4f\n", ppl, err_ppl);
    if (fb) {
        printf("mean KL = %.6f\n", kl_sum / (double)count);
        printf("top-1 agreement = %.4f\n", (double)agree / (double)count);
        printf("max |dp| = %.4f\n", max_dp);
    }
    fprintf(stderr, "perplexity: %lld tokens scored in %.2f s\n", (long long)count, args_now() - t0);
    model_opts_print_stats(&o, m, ctx);
    if (fs) {
        int e = fclose(fs);
        fs = NULL;
        if (e != 0) {
            args_error("perplexity", "cannot write '%s': %s", save, strerror(errno));
            goto done;
        }
    }
    rc = 0;
done:
    if (fs) fclose(fs);
    if (fb) fclose(fb);
    free(q16);
    free(lp);
    free(lpb);
    free(logits);
    free(toks);
    free(text);
    adm_ctx_free(ctx);
    adm_model_free(m);
    return rc;
}
