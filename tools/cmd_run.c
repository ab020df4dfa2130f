/*
 * cmd_run.c - `adamas run`: continue a prompt. Only the generated text goes
 * to stdout, streamed as it is produced; load time, prompt and generation
 * speed go to stderr.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"
#include "generate.h"
#include "opts.h"
#include "prompt_cache.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Ctrl-C: the generation (or the prompt's evaluation) stops, and the
 * timings are printed as after a normal end. */
static volatile sig_atomic_t g_interrupt;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: adamas run -m MODEL [-p PROMPT | -f FILE] [-n N] [options]\n"
               "Generates a continuation of the prompt and prints it as it is produced.\n\n"
               "  -p, --prompt TEXT       the prompt (default: empty, i.e. start from BOS)\n"
               "  -f, --file FILE         read the prompt from a file (- for standard input)\n"
               "  -e, --escape            process escapes (\\n, \\t, \\\\, \\\", \\xNN, ...) in -p's text\n"
               "  --special               parse special tokens (e.g. <|im_start|>) in the prompt and print them\n"
               "  --truncate              drop the start of a prompt that does not fit the context\n"
               "The output ends with a newline (unless a grammar constrains it: then it is exactly that text).\n"
               "Ctrl-C stops the generation and still prints the timings (exit status 130).\n");
    model_opts_usage(f, 0);
    sample_opts_usage(f);
    gen_opts_usage(f);
    prompt_cache_usage(f);
}

int cmd_run(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    sample_opts so;
    sample_opts_init(&so);
    gen_params gp;
    gen_params_init(&gp);
    prompt_cache pc = {0};
    char *prompt = NULL;
    const char *file = NULL;
    bool truncate = false, escape = false;
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        int r = model_opts_parse(&o, "run", argc, argv, &i);
        if (r == 0) r = sample_opts_parse(&so, "run", argc, argv, &i);
        if (r == 0) r = gen_opts_parse(&gp, "run", argc, argv, &i);
        if (r == 0) r = prompt_cache_parse(&pc, "run", argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!args_value("run", argc, argv, &i)) return 2;
            prompt = argv[i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(file = args_value("run", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-e") || !strcmp(a, "--escape")) {
            escape = true;
        } else if (!strcmp(a, "--special")) {
            gp.special = true;
        } else if (!strcmp(a, "--truncate")) {
            truncate = true;
        } else {
            return args_unknown("run", a);
        }
    }
    if (prompt && file) {
        args_error("run", "give -p or -f, not both");
        return 2;
    }
    if (!o.model) {
        args_error("run", "no model given (-m FILE.gguf)");
        return 2;
    }
    size_t len = prompt ? (escape ? args_unescape(prompt) : strlen(prompt)) : 0;
    char *text = NULL;
    if (file && !(text = args_read_file("run", file, &len))) return 1;
    const char *ptext = file ? text : prompt ? prompt : "";
    sample_opts_finish(&so, "run");
    /* SA_RESETHAND: a second Ctrl-C ends the program at once. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    gp.interrupt = &g_interrupt;

    const double t_load = args_now();
    adm_model *m = model_opts_load(&o, "run");
    int rc = 1;
    adm_ctx *ctx = NULL;
    adm_sampler *smp = NULL;
    int32_t *toks = NULL;
    float *logits = NULL;
    gen_result res = {0};
    if (!m) goto done;
    const adm_vocab *v = adm_model_vocab(m);
    if (!v) {
        args_error("run", "the model has no vocabulary");
        goto done;
    }
    const double load_s = args_now() - t_load;
    o.cp.n_ctx = default_ctx_size("run", m, &o, true);
    o.ctx_set = true;
    unsigned flags = ADM_TOKENIZE_ADD_SPECIAL | (gp.special ? ADM_TOKENIZE_PARSE_SPECIAL : 0);
    int n_tok, cap;
    if (!(toks = tokenize_alloc("run", v, ptext, len, flags, 1024, &n_tok))) goto done;
    cap = n_tok + 1024;
    if (n_tok == 0) {
        args_error("run", "the prompt is empty and the model adds no BOS token; give a prompt");
        goto done;
    }
    int n_prompt = (int)n_tok;
    if (n_prompt >= o.cp.n_ctx) {
        if (!truncate) {
            args_error("run", "the prompt has %d tokens but the context holds %d; use a larger -c or --truncate",
                       n_prompt, o.cp.n_ctx);
            goto done;
        }
        /* Keep BOS and the end of the prompt, leaving room to generate. */
        const int keep = o.cp.n_ctx / 2, bos = adm_vocab_add_bos(v) ? 1 : 0;
        memmove(toks + bos, toks + n_prompt - (keep - bos), (size_t)(keep - bos) * sizeof(int32_t));
        fprintf(stderr, "adamas run: prompt truncated from %d to %d tokens\n", n_prompt, keep);
        n_prompt = keep;
    }
    if (!(ctx = model_opts_ctx(&o, "run", m, 0))) goto done;
    if (gp.draft_model && !(gp.drafter = gen_drafter_create("run", &o, gp.draft_model, m, ctx))) goto done;
    adm_error err;
    if (adm_sampler_create(&so.sp, adm_model_n_vocab(m), &smp, &err) != ADM_OK) {
        args_error("run", "%s", err.msg);
        goto done;
    }
    if (!sample_opts_apply_grammar(&so, "run", v, smp)) goto done;
    logits = malloc((size_t)adm_model_n_vocab(m) * sizeof(float));
    if (!logits) {
        args_error("run", "out of memory");
        goto done;
    }
    const double t_prompt = args_now();
    progress_init(&o.prefill, "prompt");
    o.prefill.cancel = &g_interrupt;
    const int n_cached = prompt_cache_load(&pc, "run", ctx, toks, n_prompt, logits);
    adm_status st = n_cached < n_prompt ? adm_ctx_eval(ctx, toks + n_cached, n_prompt - n_cached, logits, false, &err)
                                        : ADM_OK;
    progress_done(&o.prefill);
    const double prompt_s = args_now() - t_prompt;
    if (st != ADM_OK && g_interrupt) {
        fprintf(stderr, "adamas run: load %.2f s | prompt interrupted after %.2f s\n", load_s, prompt_s);
        rc = 130;
        goto done;
    }
    if (st != ADM_OK) {
        args_error("run", "%s", err.msg);
        goto done;
    }
    prompt_cache_save(&pc, "run", ctx, n_cached, logits);
    for (int i = 0; i < n_prompt; i++) adm_sampler_accept(smp, toks[i]);
    /* Text that starts right after BOS loses SentencePiece's leading space. */
    gp.strip_space = len == 0;
    int n_hist = n_prompt;
    if (!generate("run", ctx, v, smp, logits, &gp, stdout, &toks, &n_hist, &cap, &res)) goto done;
    /* The output is a text file: it ends with a newline; but output a
     * grammar constrains is data, given exactly. */
    if (res.len && res.text[res.len - 1] != '\n' && !so.grammar && !so.grammar_file) fputc('\n', stdout);
    fflush(stdout);
    fprintf(stderr, "adamas run: load %.2f s | prompt %d tokens, %.1f tokens/s | generated %d tokens, %.1f tokens/s%s\n",
            load_s, n_prompt, prompt_s > 0 ? n_prompt / prompt_s : 0.0, res.n_gen,
            res.seconds > 0 ? res.n_gen / res.seconds : 0.0,
            res.end == GEN_CTX_FULL ? " (context full)" : res.end == GEN_INTERRUPT ? " (interrupted)" : "");
    if (gp.lookup > 0 || gp.drafter)
        fprintf(stderr, "adamas run: %s drafted %d tokens, %d accepted (%.0f%%)\n", gp.drafter ? "draft model" : "lookup",
                res.n_drafted, res.n_accepted, res.n_drafted ? 100.0 * res.n_accepted / res.n_drafted : 0.0);
    model_opts_print_stats(&o, m, ctx);
    rc = res.end == GEN_INTERRUPT ? 130 : 0;
done:
    free(res.text);
    free(logits);
    free(toks);
    free(text);
    adm_sampler_free(smp);
    sample_opts_free(&so);
    gen_drafter_free(gp.drafter);
    adm_ctx_free(ctx);
    adm_model_free(m);
    return rc;
}
