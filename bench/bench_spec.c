/*
 * bench_spec.c - speculation under load: aggregate generation speed of N
 * slots stepped together by one scheduler, without guesses, with prompt
 * lookup at a fixed N guesses, and with the adaptive policy
 * (docs/runtime.md), on text that repeats itself.
 *
 *   build/bench/bench_spec MODEL [n_gen=128] [threads=2] [slots=1,4] [lookup=8]
 *
 * Every slot gets its own prompt (a paragraph repeated, as code and
 * extraction prompts repeat their context) and generates greedily; the
 * texts with and without guesses are compared, and the tokens/s of the
 * whole run (prompts excluded) are printed per configuration.
 */
#include "adamas.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *PARAS[] = {
    "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n\ndef mul(a, b):\n    return a * b\n\n",
    "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy cat. ",
    "Item 1: apples, 3 kg, 4.50 EUR\nItem 2: pears, 2 kg, 3.10 EUR\nItem 3: plums, 1 kg, 2.80 EUR\n",
    "<li><a href=\"/docs/a\">A</a></li>\n<li><a href=\"/docs/b\">B</a></li>\n<li><a href=\"/docs/c\">C</a></li>\n",
};

typedef struct run_result {
    double tps;
    int drafted, accepted, gen;
    char *text[16];
} run_result;

static int run(adm_model *m, int threads, int n_slots, int n_gen, int lookup, bool adaptive, run_result *r) {
    adm_error err;
    adm_engine_params ep = adm_engine_default_params();
    ep.n_threads = threads;
    adm_engine *e;
    if (adm_engine_create(m, &ep, &e, &err) != ADM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    adm_sched *sc;
    adm_sched_create(e, NULL, &sc, &err);
    adm_seq *seq[16];
    adm_slot *sl[16];
    const adm_vocab *v = adm_model_vocab(m);
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < n_slots; i++) {
        adm_seq_params sp = adm_seq_default_params();
        sp.n_ctx = 1024;
        if (adm_seq_create(e, &sp, &seq[i], &err) != ADM_OK || adm_slot_create(seq[i], NULL, &sl[i], &err) != ADM_OK ||
            adm_sched_add(sc, sl[i], &err) != ADM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        char prompt[2048] = "";
        for (int k = 0; k < 3; k++) strcat(prompt, PARAS[i % 4]);
        int32_t toks[1024];
        const int nt = (int)adm_tokenize(v, prompt, -1, toks, 1024, ADM_TOKENIZE_ADD_SPECIAL);
        adm_gen_params g = adm_gen_default_params();
        g.sampling.temp = 0.0f;
        g.n_predict = n_gen;
        g.lookup = lookup;
        g.adaptive = adaptive;
        g.ignore_eos = true;
        if (adm_slot_start(sl[i], toks, nt, &g, &err) != ADM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    /* Prompts first (not timed), then generation. */
    double t0 = 0.0;
    while (adm_sched_busy(sc)) {
        bool prompting = false;
        for (int i = 0; i < n_slots; i++) prompting |= adm_slot_get_info(sl[i]).state == ADM_SLOT_PROMPT;
        if (!prompting && t0 == 0.0) t0 = now();
        if (adm_sched_step(sc, &err) != ADM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    const double dt = now() - t0;
    for (int i = 0; i < n_slots; i++) {
        adm_slot_info info = adm_slot_get_info(sl[i]);
        r->drafted += info.n_drafted;
        r->accepted += info.n_accepted;
        r->gen += info.n_gen;
        size_t n;
        const char *t = adm_slot_take_text(sl[i], &n);
        r->text[i] = strdup(t);
        adm_slot_free(sl[i]);
        adm_seq_free(seq[i]);
    }
    r->tps = r->gen / dt;
    adm_sched_free(sc);
    adm_engine_free(e);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_spec MODEL [n_gen=128] [threads=2] [slots=1,4] [lookup=8]\n");
        return 2;
    }
    const int n_gen = argc > 2 ? atoi(argv[2]) : 128, threads = argc > 3 ? atoi(argv[3]) : 2;
    const char *slots = argc > 4 ? argv[4] : "1,4";
    const int lookup = argc > 5 ? atoi(argv[5]) : 8;
    adm_model *m;
    adm_error err;
    adm_model_params mp = adm_model_default_params();
    if (adm_model_load(argv[1], &mp, &m, &err) != ADM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("| slots | guesses | tokens/s | x plain | drafted | accepted | same text |\n|---|---|---|---|---|---|---|\n");
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", slots);
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        const int n = atoi(p);
        if (n < 1 || n > 16) continue;
        run_result plain, fixed, adapt;
        if (run(m, threads, n, n_gen, 0, false, &plain) || run(m, threads, n, n_gen, lookup, false, &fixed) ||
            run(m, threads, n, n_gen, lookup, true, &adapt))
            return 1;
        const run_result *rs[3] = {&plain, &fixed, &adapt};
        const char *names[3] = {"none", "lookup fixed", "lookup adaptive"};
        for (int k = 0; k < 3; k++) {
            bool same = true;
            for (int i = 0; i < n; i++) same &= !strcmp(rs[k]->text[i], plain.text[i]);
            printf("| %d | %s | %.1f | %.2f | %d | %d | %s |\n", n, names[k], rs[k]->tps, rs[k]->tps / plain.tps,
                   rs[k]->drafted, rs[k]->accepted, same ? "yes" : "NO");
        }
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < n; i++) free(rs[k]->text[i]);
        fflush(stdout);
    }
    adm_model_free(m);
    return 0;
}
