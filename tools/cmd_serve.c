/*
 * cmd_serve.c - `adamas serve`: an OpenAI-compatible HTTP server (see
 * serve.h for its pieces). This file reads the options, loads the model,
 * starts the inference thread and the HTTP daemon, and waits for SIGINT or
 * SIGTERM: then it stops taking requests, ends the running ones (their
 * streams get an error event, waiting clients a 503), and exits.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"
#include "generate.h"
#include "opts.h"
#include "serve.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f, "usage: adamas serve -m MODEL [--host 127.0.0.1] [--port 8080] [-np N] [-c CTX] [options]\n"
               "An OpenAI-compatible HTTP server: POST /v1/chat/completions, /v1/completions (streaming or not),\n"
               "GET /v1/models, /health, /props, /slots, /metrics, POST /tokenize, /detokenize, /slots/{id}?action=...,\n"
               "and a chat page at /.\n"
               "Requests share every pass over the weights (continuous batching); each is routed to the slot\n"
               "whose cache shares the longest prefix with it, and only the rest of its prompt is evaluated.\n\n"
               "server options:\n"
               "  --host ADDR             address to listen on (default 127.0.0.1: this machine only)\n"
               "  --port N                TCP port (default 8080; 0 picks a free one, printed at start)\n"
               "  -np, --parallel N       slots: requests generated at once (default 4)\n"
               "  -c, --ctx-size N        context of EACH slot in tokens (default: the model's, at most 8192);\n"
               "                          memory is taken as slots fill, within --mem-budget\n"
               "  --mem-budget MIB        KV cache and code index of all slots together (default: 3/4 of the\n"
               "                          free memory at start); a request that would exceed it fails\n"
               "  --api-key KEY           require 'Authorization: Bearer KEY' (or X-Api-Key) on every endpoint\n"
               "                          but /, /health and /v1/models\n"
               "  --api-key-file FILE     ... the key read from the first line of FILE\n"
               "  --alias NAME            model id reported by /v1/models and in answers (default: file name)\n"
               "  --chat-template NAME    chatml, llama3, llama2, mistral, gemma or phi3 (default: from the model)\n"
               "  --max-queue N           requests waiting for a slot before 503 + Retry-After (default 64)\n"
               "  -b, --batch-size N      rows per forward pass, prompts and generating slots together\n"
               "                          (default 1024 here)\n"
               "  --tick-tokens N         most prompt tokens read per step beside the slots' next tokens:\n"
               "                          smaller keeps answers flowing while long prompts are read, larger\n"
               "                          reads prompts faster (default: the batch size minus one row per slot)\n"
               "  --max-body BYTES        largest request body (default 8388608)\n"
               "  --max-header BYTES      memory per connection for the request line and headers (default 65536)\n"
               "  --max-conns N           open connections at once (default 512)\n"
               "  --timeout S             close a connection idle for S seconds (default 30)\n"
               "  --sse-ping S            send an SSE comment after S silent seconds (default 15)\n"
               "  -n, --n-predict N       max_tokens of a request that sets none (default -1: until the end of\n"
               "                          the answer or a full slot)\n\n"
               "snapshots on disk (docs/snapshot.md):\n"
               "  --slot-save-path DIR    enable POST /slots/{id}?action=save|restore with {\"filename\": NAME}: a\n"
               "                          slot's tokens, KV cache and code index to and from DIR/NAME (a plain\n"
               "                          name of [A-Za-z0-9._-]; created if missing). ?action=erase needs no DIR\n"
               "  --cache-dir DIR         prompt cache on disk: the state after each prompt of at least\n"
               "                          --cache-min-tokens is saved in DIR (once per such prefix); a request\n"
               "                          whose prompt a file shares more of than the slots do starts from it.\n"
               "                          It survives restarts (*.snap files; prefill -o DIR/x.snap adds one)\n"
               "  --cache-max-mib N       size of DIR's snapshots; the least recently used go first (default 4096)\n"
               "  --cache-min-tokens N    shortest prompt saved, and least gain worth a restore (default 256)\n");
    model_opts_usage(f, USAGE_NO_BATCH);
    fprintf(f, "speculative decoding (every request):\n");
    gen_opts_usage(f);
}

static char *read_key_file(const char *path) {
    size_t len;
    char *s = args_read_file("serve", path, &len);
    if (!s) return NULL;
    s[strcspn(s, "\r\n")] = 0;
    if (!s[0]) {
        args_error("serve", "%s: the first line is empty (expected the API key)", path);
        free(s);
        return NULL;
    }
    return s;
}

int cmd_serve(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    gen_params gp;
    gen_params_init(&gp);
    const char *host = "127.0.0.1", *api_key = NULL, *key_file = NULL, *alias = NULL, *tmpl_name = NULL;
    long port = 8080, n_slots = 4, max_queue = 64, max_body = 8 << 20, max_header = 64 << 10, max_conns = 512,
         timeout = 30, sse_ping = 15, mem_budget_mib = -1, tick_tokens = 0, cache_max_mib = 4096, cache_min_tokens = 256;
    const char *slot_save_path = NULL, *cache_dir = NULL;
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, "serve", argc, argv, &i);
        if (r == 0) r = gen_opts_parse(&gp, "serve", argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i], *v;
        long *num = NULL, lo = 0, hi = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--host")) {
            if (!(host = args_value("serve", argc, argv, &i))) return 2;
            continue;
        } else if (!strcmp(a, "--api-key")) {
            if (!(api_key = args_value("serve", argc, argv, &i))) return 2;
            continue;
        } else if (!strcmp(a, "--api-key-file")) {
            if (!(key_file = args_value("serve", argc, argv, &i))) return 2;
            continue;
        } else if (!strcmp(a, "--alias")) {
            if (!(alias = args_value("serve", argc, argv, &i))) return 2;
            continue;
        } else if (!strcmp(a, "--slot-save-path")) {
            if (!(slot_save_path = args_value("serve", argc, argv, &i))) return 2;
            continue;
        } else if (!strcmp(a, "--cache-dir")) {
            if (!(cache_dir = args_value("serve", argc, argv, &i))) return 2;
            continue;
        } else if (!strcmp(a, "--chat-template")) {
            if (!(tmpl_name = args_value("serve", argc, argv, &i))) return 2;
            continue;
        } else if (!strcmp(a, "--port")) num = &port, lo = 0, hi = 65535;
        else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) num = &n_slots, lo = 1, hi = 256;
        else if (!strcmp(a, "--max-queue")) num = &max_queue, lo = 0, hi = 1 << 20;
        else if (!strcmp(a, "--tick-tokens")) num = &tick_tokens, lo = 1, hi = 1 << 16;
        else if (!strcmp(a, "--max-body")) num = &max_body, lo = 1024, hi = 1l << 30;
        else if (!strcmp(a, "--max-header")) num = &max_header, lo = 4096, hi = 16 << 20;
        else if (!strcmp(a, "--max-conns")) num = &max_conns, lo = 1, hi = 1 << 16;
        else if (!strcmp(a, "--timeout")) num = &timeout, lo = 1, hi = 86400;
        else if (!strcmp(a, "--sse-ping")) num = &sse_ping, lo = 1, hi = 86400;
        else if (!strcmp(a, "--mem-budget")) num = &mem_budget_mib, lo = 1, hi = 1l << 30;
        else if (!strcmp(a, "--cache-max-mib")) num = &cache_max_mib, lo = 1, hi = 1l << 30;
        else if (!strcmp(a, "--cache-min-tokens")) num = &cache_min_tokens, lo = 1, hi = 1 << 30;
        if (!num) {
            args_error("serve", "unknown option: '%s'", a);
            usage(stderr);
            return 2;
        }
        if (!(v = args_value("serve", argc, argv, &i)) || !args_int("serve", a, v, lo, hi, num)) return 2;
    }
    if (gp.n_stops || gp.ignore_eos) {
        args_error("serve", "--stop and --ignore-eos are request fields here ('stop', 'ignore_eos'), not options");
        return 2;
    }
    if (api_key && key_file) {
        args_error("serve", "give --api-key or --api-key-file, not both");
        return 2;
    }
    adm_chat_format fmt = ADM_CHAT_CHATML;
    if (tmpl_name && !adm_chat_format_from_name(tmpl_name, &fmt)) {
        args_error("serve", "unknown chat template '%s' (chatml, llama3, llama2, mistral, gemma or phi3)", tmpl_name);
        return 2;
    }
    if (slot_save_path && mkdir(slot_save_path, 0755) != 0 && errno != EEXIST) {
        args_error("serve", "--slot-save-path %s: cannot create it: %s", slot_save_path, strerror(errno));
        return 1;
    }
    char *key_owned = key_file ? read_key_file(key_file) : NULL;
    if (key_file && !key_owned) return 1;
    if (key_owned) api_key = key_owned;

    int rc = 1;
    srv_engine *eng = NULL;
    srv_http *http = NULL;
    adm_model *m = model_opts_load(&o, "serve");
    if (!m) goto done;
    if (!adm_model_vocab(m)) {
        args_error("serve", "the model has no vocabulary");
        goto done;
    }
    const adm_model_info mi = adm_model_get_info(m);
    if (!o.ctx_set) o.cp.n_ctx = mi.n_ctx_train < 8192 ? mi.n_ctx_train : 8192;
    if (!tmpl_name) {
        bool known;
        fmt = adm_chat_detect(adm_model_meta_str(m, "tokenizer.chat_template"), &known);
        if (!known)
            fprintf(stderr, "adamas serve: warning: the model has no chat template adamas recognizes; chat requests "
                            "use ChatML (--chat-template to choose)\n");
    }

    srv_engine_params ep = {.n_slots = (int)n_slots, .max_queue = (int)max_queue, .draft_path = gp.draft_model,
                            .tick_tokens = (int)tick_tokens};
    ep.eng = adm_engine_default_params();
    ep.eng.n_threads = o.cp.n_threads;
    ep.eng.llama_order = model_opts_engine_llama_order(&o);
    /* Twice run's batch: a prompt chunk stalls every generating slot for
     * its tick, so fewer, larger chunks keep the slowest inter-token gaps
     * short (8 streams of 512-token prompts: p95 158 -> 82 ms). */
    ep.eng.n_batch = o.batch_set ? o.cp.n_batch : 1024;
    ep.eng.mem_budget = mem_budget_mib > 0 ? (uint64_t)mem_budget_mib << 20 : mem_available_bytes() / 4 * 3;
    ep.seq = adm_seq_default_params();
    ep.seq.n_ctx = o.cp.n_ctx;
    ep.seq.type_k = o.cp.type_k;
    ep.seq.type_v = o.cp.type_v;
    ep.seq.attention = o.cp.attention;
    ep.seq.budget = o.cp.budget;
    ep.seq.dense_layers = o.cp.dense_layers;
    ep.seq.sink = o.cp.sink;
    ep.seq.window = o.cp.window;
    ep.seq.thresholds = o.cp.thresholds;
    ep.seq.group_select = o.cp.group_select;
    ep.seq.swa_full = o.cp.swa_full;
    ep.seq.collect_stats = o.cp.collect_stats;
    if (cache_dir) {
        char cbuf[512];
        if (!(ep.dcache = srv_dcache_open(cache_dir, (uint64_t)cache_max_mib << 20, (int)cache_min_tokens, cbuf,
                                          sizeof(cbuf)))) {
            args_error("serve", "%s", cbuf);
            goto done;
        }
        const srv_dcache_stats ds = srv_dcache_get_stats(ep.dcache);
        fprintf(stderr, "adamas serve: prompt cache %s: %llu snapshots, %.1f MiB\n", cache_dir,
                (unsigned long long)ds.n_files, (double)ds.bytes / 1048576.0);
    }
    adm_error err = {0};
    if (!(eng = srv_engine_create(m, &ep, &err))) {
        args_error("serve", "%s", err.msg);
        goto done;
    }

    /* SIGINT/SIGTERM are taken by sigwait below: block them before any
     * thread starts so that every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *base = strrchr(o.model, '/');
    srv_http_params hp = {.host = host,
                          .port = (int)port,
                          .api_key = api_key,
                          .alias = alias ? alias : base ? base + 1 : o.model,
                          .max_body = (size_t)max_body,
                          .max_header = (size_t)max_header,
                          .timeout = (int)timeout,
                          .max_conns = (int)max_conns,
                          .sse_ping = (int)sse_ping,
                          .chat_format = fmt,
                          .model = m,
                          .engine = eng,
                          .model_path = o.model,
                          .n_ctx = o.cp.n_ctx,
                          .budget = ep.seq.budget,
                          .attention = o.cp.attention,
                          .n_predict = gp.n_predict,
                          .lookup = gp.lookup,
                          .lookup_ngram = gp.lookup_ngram,
                          .draft_max = gp.draft_model ? gp.draft_max : 0,
                          .draft_p_min = gp.draft_model ? gp.draft_p_min : -1,
                          .slot_save_path = slot_save_path,
                          .cache_dir = cache_dir,
                          .cache_max_mib = (int)cache_max_mib,
                          .cache_min_tokens = (int)cache_min_tokens};
    char ebuf[256];
    if (!(http = srv_http_start(&hp, ebuf, sizeof(ebuf)))) {
        args_error("serve", "%s", ebuf);
        goto done;
    }
    fprintf(stderr, "adamas serve: listening on http://%s:%d (%ld slots of %d tokens, %s, %s chat format, %d threads)\n",
            host, srv_http_port(http), n_slots, o.cp.n_ctx, hp.alias, adm_chat_format_name(fmt),
            o.cp.n_threads ? o.cp.n_threads : adm_default_threads());
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "adamas serve: %s: finishing the open requests with an error and stopping\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv_engine_shutdown(eng);
    srv_http_stop(http);
    http = NULL;
    rc = 0;
done:
    srv_http_stop(http);
    srv_engine_free(eng);
    adm_model_free(m);
    free(key_owned);
    return rc;
}
