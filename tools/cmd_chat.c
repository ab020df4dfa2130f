/*
 * cmd_chat.c - `adamas chat`: a multi-turn conversation in the terminal (or
 * scripted through stdin, one user message per line) in the model's chat
 * format. The KV cache is kept between turns: each turn evaluates only the
 * text that is new since the last one (the end of the previous answer, the
 * new user message and the assistant header), never the whole conversation.
 * When the context fills up, the oldest turns are dropped (the system
 * prompt stays) and what the cache holds is kept up to the first change.
 * Ctrl-C stops the current answer; Ctrl-D (end of input) or /exit leaves.
 */
#include "adamas.h"
#include "args.h"
#include "chat_input.h"
#include "commands.h"
#include "convo.h"
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

static const char k_commands_help[] =
    "  /help              this list\n"
    "  /clear             forget the conversation (the system prompt stays)\n"
    "  /save FILE         write the conversation to FILE (JSON: {\"messages\": [{\"role\", \"content\"}...]})\n"
    "  /load FILE         continue the conversation saved in FILE\n"
    "  /exit, /bye        leave (as does Ctrl-D)\n"
    "  \"\"\"                begin a message of several lines; a line ending with \"\"\" ends it\n"
    "  //TEXT             send /TEXT, a message that starts with a slash\n";

static void usage(FILE *f) {
    fprintf(f, "usage: adamas chat -m MODEL [--system TEXT] [options]\n"
               "Talk with a model. Each line of input is a user message; an empty line is ignored. On a\n"
               "terminal, lines are edited with libedit (history in ~/.adamas_history). When the context\n"
               "fills up, the oldest turns are dropped (the system prompt is kept). Ctrl-C stops the\n"
               "current answer. Commands:\n%s\n"
               "  -sys, --system TEXT     system prompt\n"
               "  -e, --escape            process escapes (\\n, \\t, \\\\, ...) in the system prompt\n"
               "  --chat-template NAME    chatml, llama3, llama2, mistral, gemma or phi3 (default: from the model)\n"
               "  --verbose-prompt        print the text evaluated for each turn to stderr\n",
            k_commands_help);
    model_opts_usage(f, 0);
    sample_opts_usage(f);
    gen_opts_usage(f);
    prompt_cache_usage(f);
    fprintf(f, "  (chat: the first turn's prompt, i.e. the system prompt and first message, is cached)\n");
}

/* Everything a conversation needs between turns. */
typedef struct chat {
    model_opts *o;
    gen_params *gp;
    sample_opts *so;       /* its grammar restarts with each answer */
    prompt_cache *pc;      /* --prompt-cache: the first turn's prompt (system prompt and first message) */
    adm_chat_format fmt;
    adm_ctx *ctx;
    const adm_vocab *v;
    adm_sampler *smp;
    float *logits;
    convo c;
    int n_fixed;           /* leading system messages, never dropped */
    char *rendered;        /* what the cache holds, as text (NULL: unknown, compare tokens) */
    size_t rendered_len;
    int32_t *hist;         /* what the cache holds, as tokens */
    int n_hist, cap;
    bool verbose;
} chat;

static void chat_forget_rendering(chat *ch) {
    free(ch->rendered);
    ch->rendered = NULL;
    ch->rendered_len = 0;
}

/* The cache keeps its first n tokens; the sampler's history follows. */
static void chat_keep(chat *ch, int n) {
    if (n >= ch->n_hist) return;
    adm_ctx_truncate(ch->ctx, n);
    n = adm_ctx_n_past(ch->ctx); /* less when a sliding-window ring does not reach back to n */
    ch->n_hist = n;
    adm_sampler_reset(ch->smp, false, 0);
    for (int i = 0; i < n; i++) adm_sampler_accept(ch->smp, ch->hist[i]);
}

static bool hist_append(chat *ch, const int32_t *t, int n) {
    if (ch->n_hist + n > ch->cap) {
        const int ncap = (ch->n_hist + n) * 2 + 1024;
        int32_t *nh = realloc(ch->hist, sizeof(int32_t) * (size_t)ncap);
        if (!nh) return false;
        ch->hist = nh;
        ch->cap = ncap;
    }
    memcpy(ch->hist + ch->n_hist, t, sizeof(int32_t) * (size_t)n);
    ch->n_hist += n;
    return true;
}

static void print_tokens(const adm_vocab *v, const int32_t *t, int n) {
    char buf[256];
    for (int i = 0; i < n; i++) {
        const int k = adm_token_to_bytes(v, t[i], buf, sizeof(buf), true);
        if (k > 0) fwrite(buf, 1, (size_t)(k < (int)sizeof(buf) ? k : (int)sizeof(buf)), stderr);
    }
}

/* What the next turn evaluates: the tokens of the conversation's rendering
 * (with the assistant header) past *base, the part of the cache that
 * stays. When the cache holds an earlier rendering of the same messages,
 * only the new text is tokenized; otherwise the whole rendering, kept up to
 * where it first differs from the cache. NULL when out of memory. */
static int32_t *chat_pending(chat *ch, int *base, int *n, bool *by_text, size_t *from, char **text) {
    size_t full_len;
    char *full = convo_render(ch->fmt, &ch->c, true, &full_len);
    if (!full) return NULL;
    int32_t *toks;
    const bool extends = ch->rendered && ch->n_hist > 0 && full_len >= ch->rendered_len &&
                         !memcmp(full, ch->rendered, ch->rendered_len);
    *by_text = extends || ch->n_hist == 0;
    if (*by_text) {
        *from = extends ? ch->rendered_len : 0;
        const unsigned flags = ADM_TOKENIZE_PARSE_SPECIAL | (ch->n_hist == 0 ? ADM_TOKENIZE_ADD_SPECIAL : 0);
        toks = tokenize_alloc("chat", ch->v, full + *from, full_len - *from, flags, 0, n);
        *base = ch->n_hist;
    } else {
        toks = tokenize_alloc("chat", ch->v, full, full_len, ADM_TOKENIZE_PARSE_SPECIAL | ADM_TOKENIZE_ADD_SPECIAL, 0, n);
        int common = 0;
        while (toks && common < ch->n_hist && common < *n && ch->hist[common] == toks[common]) common++;
        if (toks && common == *n) common--; /* the last token is evaluated again, for its logits */
        if (toks && common > 0) memmove(toks, toks + common, sizeof(int32_t) * (size_t)(*n - common));
        *n -= common;
        *base = common;
    }
    *text = full;
    return toks;
}

/* One turn: the user's message, evaluated, answered. False on a fatal
 * error (message printed). */
static bool chat_turn(chat *ch, const char *msg, size_t len) {
    if (!convo_add(&ch->c, "user", msg, len)) {
        args_error("chat", "out of memory");
        return false;
    }
    const int n_ctx = adm_ctx_n_ctx(ch->ctx);
    /* Room kept for the answer when deciding to drop turns. */
    const int reserve = ch->gp->n_predict >= 0 && ch->gp->n_predict < n_ctx / 4 ? ch->gp->n_predict : n_ctx / 4;
    int base, nt, dropped = 0;
    bool by_text;
    size_t from = 0;
    char *full;
    int32_t *toks;
    for (;;) {
        if (!(toks = chat_pending(ch, &base, &nt, &by_text, &from, &full))) {
            args_error("chat", "out of memory");
            return false;
        }
        if (base + nt + reserve <= n_ctx) break;
        const int k = convo_drop_oldest_turn(&ch->c, ch->n_fixed);
        if (k == 0) break;
        dropped += k;
        chat_forget_rendering(ch);
        free(toks);
        free(full);
    }
    if (dropped)
        fprintf(stderr, "(the context is full: dropped the %d oldest message%s%s)\n", dropped, dropped > 1 ? "s" : "",
                ch->n_fixed ? "; the system prompt stays" : "");
    if (base + nt >= n_ctx) {
        args_error("chat", "the message does not fit in the context (%d tokens with what must stay, the context "
                   "holds %d); use a larger -c", base + nt, n_ctx);
        free(toks);
        free(full);
        convo_truncate(&ch->c, ch->c.n - 1);
        return true;
    }
    if (ch->verbose) {
        fputs("--- prompt ---\n", stderr);
        if (by_text) fputs(full + from, stderr);
        else print_tokens(ch->v, toks, nt);
        fputs("\n--- end ---\n", stderr);
    }
    free(full);
    chat_keep(ch, base);
    adm_error err;
    progress_init(&ch->o->prefill, "prompt");
    /* A turn evaluated from an empty cache goes through the prompt cache. */
    const int n_cached = base == 0 ? prompt_cache_load(ch->pc, "chat", ch->ctx, toks, nt, ch->logits) : 0;
    adm_status st = n_cached < nt ? adm_ctx_eval(ch->ctx, toks + n_cached, nt - n_cached, ch->logits, false, &err) : ADM_OK;
    progress_done(&ch->o->prefill);
    if (st == ADM_OK && base == 0) prompt_cache_save(ch->pc, "chat", ch->ctx, n_cached, ch->logits);
    if (st != ADM_OK || !hist_append(ch, toks, nt)) {
        args_error("chat", "%s", st != ADM_OK ? err.msg : "out of memory");
        free(toks);
        return false;
    }
    for (int i = 0; i < nt; i++) adm_sampler_accept(ch->smp, toks[i]);
    free(toks);
    gen_result res;
    g_interrupt = 0;
    if (!sample_opts_apply_grammar(ch->so, "chat", ch->v, ch->smp)) return false; /* each answer starts it afresh */
    bool ok = generate("chat", ch->ctx, ch->v, ch->smp, ch->logits, ch->gp, stdout, &ch->hist, &ch->n_hist, &ch->cap,
                       &res);
    fputs("\n", stdout);
    fflush(stdout);
    if (!ok) {
        free(res.text);
        return false;
    }
    if (res.end == GEN_INTERRUPT) fputs("(stopped)\n", stderr);
    if (res.end == GEN_CTX_FULL) fputs("(the answer filled the context; the next turn drops the oldest ones)\n", stderr);
    /* The [INST] formats put one space before an answer themselves. */
    const char *answer = res.text;
    size_t alen = res.len;
    if ((ch->fmt == ADM_CHAT_LLAMA2 || ch->fmt == ADM_CHAT_MISTRAL) && alen && answer[0] == ' ') answer++, alen--;
    ok = convo_add(&ch->c, "assistant", answer, alen);
    free(res.text);
    /* What the cache holds, in the template's terms: the rendering up to
     * the end of the answer (its closing marker comes with the next turn). */
    char *r = ok ? convo_render_through_last(ch->fmt, &ch->c, &ch->rendered_len) : NULL;
    free(ch->rendered);
    ch->rendered = r;
    if (!r) {
        args_error("chat", "out of memory");
        return false;
    }
    return true;
}

/* The argument of "/cmd ARG" (spaces around it removed), or NULL. */
static char *command_arg(char *line, size_t cmd_len) {
    char *a = line + cmd_len;
    if (*a != ' ' && *a != '\t') return NULL;
    while (*a == ' ' || *a == '\t') a++;
    size_t n = strlen(a);
    while (n && (a[n - 1] == ' ' || a[n - 1] == '\t')) a[--n] = 0;
    return n ? a : NULL;
}

static bool is_command(const char *line, const char *name) {
    const size_t n = strlen(name);
    return !strncmp(line, name, n) && (line[n] == 0 || line[n] == ' ' || line[n] == '\t');
}

typedef enum { CMD_DONE, CMD_EXIT, CMD_FATAL } cmd_result;

static cmd_result chat_command(chat *ch, char *line) {
    char err[512];
    if (is_command(line, "/exit") || is_command(line, "/bye")) return CMD_EXIT;
    if (is_command(line, "/help") || is_command(line, "/?")) {
        fputs(k_commands_help, stderr);
    } else if (is_command(line, "/clear")) {
        convo_truncate(&ch->c, ch->n_fixed);
        chat_forget_rendering(ch);
        chat_keep(ch, 0);
        fputs("(conversation cleared)\n", stderr);
    } else if (is_command(line, "/save")) {
        const char *path = command_arg(line, 5);
        if (!path) fputs("(/save needs a file name: /save FILE)\n", stderr);
        else if (!convo_save(&ch->c, path, err, sizeof(err))) fprintf(stderr, "(/save: %s)\n", err);
        else fprintf(stderr, "(saved %d messages to %s)\n", ch->c.n, path);
    } else if (is_command(line, "/load")) {
        const char *path = command_arg(line, 5);
        if (!path) {
            fputs("(/load needs a file name: /load FILE)\n", stderr);
        } else if (!convo_load(&ch->c, path, err, sizeof(err))) {
            fprintf(stderr, "(/load: %s)\n", err);
        } else {
            /* The next turn evaluates it, keeping what the cache shares with it. */
            ch->n_fixed = convo_n_system(&ch->c);
            chat_forget_rendering(ch);
            fprintf(stderr, "(loaded %d messages from %s)\n", ch->c.n, path);
        }
    } else {
        size_t n = strcspn(line, " \t");
        fprintf(stderr, "(unknown command %.*s; /help lists them, //TEXT sends /TEXT)\n", (int)n, line);
    }
    return CMD_DONE;
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
    chat ch = {&o, &gp, &so, &pc, fmt, ctx, v, smp, logits, {0}, 0, NULL, 0, NULL, 0, 0, verbose};
    if (!logits || (system && !convo_add(&ch.c, "system", system, strlen(system)))) {
        args_error("chat", "out of memory");
        goto done_chat;
    }
    ch.n_fixed = ch.c.n;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    const bool tty = isatty(0) && isatty(1);
    chat_input in;
    chat_input_init(&in, tty);
    fprintf(stderr, "adamas chat: %s format; /help lists the commands, /exit or Ctrl-D leaves, Ctrl-C stops an answer\n",
            adm_chat_format_name(fmt));
    for (;;) {
        g_interrupt = 0;
        char *line;
        size_t len;
        const chat_read r = chat_input_read(&in, &g_interrupt, &line, &len);
        if (r == CHAT_READ_INTERRUPT && tty) {
            clearerr(stdin);
            fputs("\n(use Ctrl-D or /exit to leave)\n", stdout);
            continue;
        }
        if (r == CHAT_READ_NOMEM) {
            args_error("chat", "out of memory");
            break;
        }
        if (r != CHAT_READ_LINE && r != CHAT_READ_BLOCK) {
            rc = 0;
            break;
        }
        bool go_on = true;
        if (len == 0) {
            /* an empty line: nothing to say */
        } else if (r == CHAT_READ_LINE && line[0] == '/' && line[1] != '/') {
            const cmd_result cr = chat_command(&ch, line);
            go_on = cr == CMD_DONE;
            if (cr == CMD_EXIT) rc = 0;
        } else {
            const size_t skip = r == CHAT_READ_LINE && line[0] == '/' ? 1 : 0; /* "//TEXT" sends "/TEXT" */
            go_on = chat_turn(&ch, line + skip, len - skip);
        }
        free(line);
        if (!go_on) break;
    }
    chat_input_free(&in);
done_chat:
    free(ch.rendered);
    free(ch.hist);
    convo_free(&ch.c);
done:
    free(logits);
    adm_sampler_free(smp);
    sample_opts_free(&so);
    gen_drafter_free(gp.drafter);
    adm_ctx_free(ctx);
    adm_model_free(m);
    return rc;
}
