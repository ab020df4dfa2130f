/*
 * cmd_chat.c - `adamas chat`: a multi-turn conversation in the terminal (or
 * scripted through stdin, one user message per line) in the model's chat
 * format. The KV cache is kept between turns: each turn evaluates only the
 * text that is new since the last one (the end of the previous answer, the
 * new user message and the assistant header), never the whole conversation.
 * Ctrl-C stops the current answer; Ctrl-D (end of input) or /exit leaves.
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

static volatile sig_atomic_t g_interrupt;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: adamas chat -m MODEL [--system TEXT] [options]\n"
               "Talk with a model. Each line of input is a user message; an empty line is ignored.\n"
               "Commands: /clear forgets the conversation, /exit (or end of input) leaves.\n"
               "Ctrl-C stops the current answer.\n\n"
               "  -sys, --system TEXT     system prompt\n"
               "  -e, --escape            process escapes (\\n, \\t, \\\\, ...) in the system prompt\n"
               "  --chat-template NAME    chatml, llama3, llama2, mistral, gemma or phi3 (default: from the model)\n"
               "  --verbose-prompt        print the text evaluated for each turn to stderr\n");
    model_opts_usage(f, 0);
    sample_opts_usage(f);
    gen_opts_usage(f);
    prompt_cache_usage(f);
    fprintf(f, "  (chat: the first turn's prompt, i.e. the system prompt and first message, is cached)\n");
}

typedef struct convo {
    adm_chat_msg *msgs;
    char **owned;          /* copies of the message texts */
    int n, cap;
    char *rendered;        /* what the cache holds, as text */
    size_t rendered_len;
} convo;

static bool convo_add(convo *c, const char *role, const char *content, size_t len) {
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        adm_chat_msg *nm = realloc(c->msgs, (size_t)cap * sizeof(*nm));
        char **no = nm ? realloc(c->owned, (size_t)cap * sizeof(*no)) : NULL;
        if (!nm) return false;
        c->msgs = nm;
        if (!no) return false;
        c->owned = no;
        c->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return false;
    memcpy(copy, content, len);
    copy[len] = 0;
    c->owned[c->n] = copy;
    c->msgs[c->n].role = role;
    c->msgs[c->n].content = copy;
    c->n++;
    return true;
}

static void convo_clear(convo *c, int keep) {
    while (c->n > keep) free(c->owned[--c->n]);
    free(c->rendered);
    c->rendered = NULL;
    c->rendered_len = 0;
}

/* The rendering of the conversation cut right after the content of its
 * last (assistant) message: found by rendering a one-byte stand-in for the
 * content first, so it works for every format without knowing its markers. */
static char *rendered_through_answer(adm_chat_format f, convo *c, size_t *len) {
    adm_chat_msg *last = &c->msgs[c->n - 1];
    const char *content = last->content;
    last->content = "\x01";
    int64_t n = adm_chat_render(f, c->msgs, c->n, false, NULL, 0);
    char *s = malloc((size_t)n + 1);
    if (s) adm_chat_render(f, c->msgs, c->n, false, s, n + 1);
    last->content = content;
    const char *mark = s ? strchr(s, 1) : NULL;
    if (!mark) {
        free(s);
        return NULL;
    }
    const size_t cut = (size_t)(mark - s) + strlen(content);
    free(s);
    n = adm_chat_render(f, c->msgs, c->n, false, NULL, 0);
    s = malloc((size_t)n + 1);
    if (!s) return NULL;
    adm_chat_render(f, c->msgs, c->n, false, s, n + 1);
    s[cut] = 0;
    *len = cut;
    return s;
}

static char *render(adm_chat_format f, const convo *c, bool add, size_t *len) {
    int64_t n = adm_chat_render(f, c->msgs, c->n, add, NULL, 0);
    char *s = malloc((size_t)n + 1);
    if (s) adm_chat_render(f, c->msgs, c->n, add, s, n + 1);
    *len = (size_t)n;
    return s;
}

/* Reads one line of any length (without the newline); NULL at end of input. */
static char *read_line(FILE *f, size_t *len) {
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    int ch;
    while (s && (ch = fgetc(f)) != EOF && ch != '\n') {
        if (n + 1 == cap) {
            char *ns = realloc(s, cap *= 2);
            if (!ns) {
                free(s);
                return NULL;
            }
            s = ns;
        }
        s[n++] = (char)ch;
    }
    if (!s || (n == 0 && ch == EOF)) {
        free(s);
        return NULL;
    }
    if (n && s[n - 1] == '\r') n--;
    s[n] = 0;
    *len = n;
    return s;
}

int cmd_chat(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    sample_opts so;
    sample_opts_init(&so);
    gen_params gp;
    gen_params_init(&gp);
    prompt_cache pc = {0};
    gp.interrupt = &g_interrupt;
    char *system = NULL;
    const char *tmpl_name = NULL;
    bool verbose = false, escape = false;
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        int r = model_opts_parse(&o, "chat", argc, argv, &i);
        if (r == 0) r = sample_opts_parse(&so, "chat", argc, argv, &i);
        if (r == 0) r = gen_opts_parse(&gp, "chat", argc, argv, &i);
        if (r == 0) r = prompt_cache_parse(&pc, "chat", argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--system") || !strcmp(a, "-sys") || !strcmp(a, "--system-prompt")) {
            if (!args_value("chat", argc, argv, &i)) return 2;
            system = argv[i];
        } else if (!strcmp(a, "--chat-template")) {
            if (!(tmpl_name = args_value("chat", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-e") || !strcmp(a, "--escape")) {
            escape = true;
        } else if (!strcmp(a, "--verbose-prompt")) {
            verbose = true;
        } else {
            return args_unknown("chat", a);
        }
    }
    if (!o.model) {
        args_error("chat", "no model given (-m FILE.gguf)");
        return 2;
    }
    if (system && escape) args_unescape(system);
    adm_chat_format fmt = ADM_CHAT_CHATML;
    if (tmpl_name && !adm_chat_format_from_name(tmpl_name, &fmt)) {
        args_error("chat", "unknown chat template '%s' (chatml, llama3, llama2, mistral, gemma, phi3)", tmpl_name);
        return 2;
    }
    sample_opts_finish(&so, "chat");
    adm_model *m = model_opts_load(&o, "chat");
    if (!m) return 1;
    int rc = 1;
    adm_ctx *ctx = NULL;
    adm_sampler *smp = NULL;
    float *logits = NULL;
    int32_t *hist = NULL, *toks = NULL;
    int n_hist = 0, cap = 0;
    convo c = {0};
    const adm_vocab *v = adm_model_vocab(m);
    if (!v) {
        args_error("chat", "the model has no vocabulary");
        goto done;
    }
    if (!tmpl_name) {
        bool known;
        const char *t = adm_model_meta_str(m, "tokenizer.chat_template");
        fmt = adm_chat_detect(t, &known);
        if (!known)
            fprintf(stderr, "adamas chat: warning: %s; using ChatML (choose with --chat-template)\n",
                    t ? "the model's chat template is not one adamas recognizes" : "the model has no chat template");
    }
    o.cp.n_ctx = default_ctx_size("chat", m, &o, true);
    o.ctx_set = true;
    adm_error err;
    if (!(ctx = model_opts_ctx(&o, "chat", m, 0))) goto done;
    if (gp.draft_model && !(gp.drafter = gen_drafter_create("chat", &o, gp.draft_model, m, ctx))) goto done;
    if (adm_sampler_create(&so.sp, adm_model_n_vocab(m), &smp, &err) != ADM_OK) {
        args_error("chat", "%s", err.msg);
        goto done;
    }
    if (!sample_opts_apply_grammar(&so, "chat", v, smp)) goto done;
    logits = malloc(sizeof(float) * (size_t)adm_model_n_vocab(m));
    if (!logits || (system && !convo_add(&c, "system", system, strlen(system)))) {
        args_error("chat", "out of memory");
        goto done;
    }
    const int n_fixed = c.n;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    const bool tty = isatty(0) && isatty(1);
    fprintf(stderr, "adamas chat: %s format; /clear forgets, /exit or Ctrl-D leaves, Ctrl-C stops an answer\n",
            adm_chat_format_name(fmt));
    for (;;) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        g_interrupt = 0;
        size_t len;
        char *line = read_line(stdin, &len);
        if (!line) {
            if (g_interrupt && tty) {
                clearerr(stdin);
                fputs("\n(use Ctrl-D or /exit to leave)\n", stdout);
                continue;
            }
            break;
        }
        if (len == 0) {
            free(line);
            continue;
        }
        if (!strcmp(line, "/exit") || !strcmp(line, "/bye")) {
            free(line);
            break;
        }
        if (!strcmp(line, "/clear")) {
            free(line);
            convo_clear(&c, n_fixed);
            adm_ctx_truncate(ctx, 0);
            adm_sampler_reset(smp, false, 0);
            n_hist = 0;
            fputs("(conversation cleared)\n", stderr);
            continue;
        }
        bool ok = convo_add(&c, "user", line, len);
        free(line);
        if (!ok) {
            args_error("chat", "out of memory");
            goto done;
        }
        /* The new text: everything the full rendering adds to what the
         * cache already holds. */
        size_t full_len;
        char *full = render(fmt, &c, true, &full_len);
        if (!full) {
            args_error("chat", "out of memory");
            goto done;
        }
        size_t from = 0;
        if (c.rendered && full_len >= c.rendered_len && !memcmp(full, c.rendered, c.rendered_len)) {
            from = c.rendered_len;
        } else if (n_hist > 0) {
            /* The rendering of earlier turns changed (a format that moves
             * the system prompt, say): start the cache over. */
            adm_ctx_truncate(ctx, 0);
            n_hist = 0;
        }
        const char *delta = full + from;
        const int64_t dlen = (int64_t)(full_len - from);
        if (verbose) fprintf(stderr, "--- prompt ---\n%s\n--- end ---\n", delta);
        const unsigned flags = ADM_TOKENIZE_PARSE_SPECIAL | (n_hist == 0 ? ADM_TOKENIZE_ADD_SPECIAL : 0);
        int nt;
        free(toks);
        if (!(toks = tokenize_alloc("chat", v, delta, (size_t)dlen, flags, 0, &nt))) {
            free(full);
            goto done;
        }
        if (n_hist + nt >= adm_ctx_n_ctx(ctx)) {
            free(full);
            c.n--;
            free(c.owned[c.n]);
            args_error("chat", "the conversation no longer fits in the context (%d tokens); /clear to start over or "
                       "use a larger -c", adm_ctx_n_ctx(ctx));
            continue;
        }
        progress_init(&o.prefill, "prompt");
        /* The first turn (system prompt and first message) goes through the prompt cache. */
        const int n_cached = n_hist == 0 ? prompt_cache_load(&pc, "chat", ctx, toks, nt, logits) : 0;
        adm_status st = n_cached < nt ? adm_ctx_eval(ctx, toks + n_cached, nt - n_cached, logits, false, &err) : ADM_OK;
        progress_done(&o.prefill);
        if (st == ADM_OK && n_hist == 0) prompt_cache_save(&pc, "chat", ctx, n_cached, logits);
        if (st != ADM_OK) {
            free(full);
            args_error("chat", "%s", err.msg);
            goto done;
        }
        if (n_hist + nt > cap) {
            int ncap = (int)(n_hist + nt) * 2 + 1024;
            int32_t *nh = realloc(hist, sizeof(int32_t) * (size_t)ncap);
            if (!nh) {
                free(full);
                args_error("chat", "out of memory");
                goto done;
            }
            hist = nh;
            cap = ncap;
        }
        memcpy(hist + n_hist, toks, sizeof(int32_t) * (size_t)nt);
        n_hist += (int)nt;
        for (int64_t i = 0; i < nt; i++) adm_sampler_accept(smp, toks[i]);
        gen_result res;
        g_interrupt = 0;
        if (!sample_opts_apply_grammar(&so, "chat", v, smp)) goto done; /* each reply starts the grammar afresh */
        ok = generate("chat", ctx, v, smp, logits, &gp, stdout, &hist, &n_hist, &cap, &res);
        fputs("\n", stdout);
        fflush(stdout);
        if (!ok) {
            free(full);
            free(res.text);
            goto done;
        }
        if (res.end == GEN_INTERRUPT) fputs("(stopped)\n", stderr);
        if (res.end == GEN_CTX_FULL) fputs("(the context is full; /clear to start over)\n", stderr);
        /* The [INST] formats put one space before an answer themselves. */
        const char *answer = res.text;
        size_t alen = res.len;
        if ((fmt == ADM_CHAT_LLAMA2 || fmt == ADM_CHAT_MISTRAL) && alen && answer[0] == ' ') answer++, alen--;
        ok = convo_add(&c, "assistant", answer, alen);
        /* What the cache holds, in the template's terms: the rendering up to
         * the end of the answer (its closing marker comes with the next turn). */
        char *r = ok ? rendered_through_answer(fmt, &c, &c.rendered_len) : NULL;
        free(c.rendered);
        c.rendered = r;
        free(full);
        free(res.text);
        if (!ok || !r) {
            args_error("chat", "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    convo_clear(&c, 0);
    free(c.msgs);
    free(c.owned);
    free(toks);
    free(hist);
    free(logits);
    adm_sampler_free(smp);
    sample_opts_free(&so);
    gen_drafter_free(gp.drafter);
    adm_ctx_free(ctx);
    adm_model_free(m);
    return rc;
}
