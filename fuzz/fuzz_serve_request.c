/*
 * fuzz_serve_request.c - libFuzzer target: arbitrary bytes as the body of
 * POST /v1/chat/completions (first byte even) or /v1/completions (odd).
 * The parser must accept or refuse them without crashing; a refusal must
 * be a 400 with a message; an accepted request must satisfy what the
 * server relies on, and its messages render in every chat format. Error
 * and response objects are built from what was parsed, as the server does.
 * Structured-output fields (response_format, grammar, json_schema) are
 * parsed and a schema converted to GBNF, as the server does before it
 * compiles the grammar.
 */
#include "adamas.h"
#include "../tools/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) check_at((cond), #cond, __LINE__)
static void check_at(bool ok, const char *what, int line) {
    if (ok) return;
    fprintf(stderr, "fuzz_serve_request.c:%d: %s does not hold\n", line, what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const srv_kind kind = data[0] & 1 ? SRV_COMPLETION : SRV_CHAT;
    const srv_limits lim = {.max_depth = 32, .max_messages = 64, .max_prompt_tokens = 256, .n_vocab = 1000};
    serve_req r;
    srv_error e;
    if (!serve_req_parse(kind, (const char *)data + 1, size - 1, &lim, &r, &e)) {
        check(e.status == 400 && e.type && e.msg[0]);
        char *j = srv_error_json(&e);
        check(j != NULL);
        free(j);
        return 0;
    }
    check(r.n_stops >= 0 && r.n_stops <= ADM_MAX_STOPS);
    for (int i = 0; i < r.n_stops; i++) check(r.stops[i] && r.stops[i][0]);
    check(r.max_tokens >= -1);
    check(r.logprobs >= -1 && r.logprobs <= ADM_MAX_LOGPROBS);
    /* A constraint was turned into GBNF text (a schema converted here, in
     * the parser); compiling it needs a vocabulary and is the server's. */
    check((r.grammar_src == SRV_GRAMMAR_NONE) == (r.gbnf == NULL) && !r.grammar);
    if (r.gbnf) check(r.gbnf_len > 0 && strlen(r.gbnf) <= r.gbnf_len && !r.ignore_eos);
    if (kind == SRV_CHAT) {
        check(r.n_msgs > 0 && r.n_msgs <= lim.max_messages);
        for (adm_chat_format f = ADM_CHAT_CHATML; f <= ADM_CHAT_PHI3; f++) {
            const int64_t n = adm_chat_render(f, r.msgs, r.n_msgs, true, NULL, 0);
            check(n >= 0);
            char *s = malloc((size_t)n + 1);
            if (s) check(adm_chat_render(f, r.msgs, r.n_msgs, true, s, n + 1) == n && strlen(s) <= (size_t)n);
            free(s);
        }
    } else {
        check((r.prompt != NULL) != (r.prompt_tokens != NULL));
        for (int i = 0; i < r.n_prompt_tokens; i++) check(r.prompt_tokens[i] >= 0 && r.prompt_tokens[i] < lim.n_vocab);
    }
    const srv_reply rep = {.kind = kind, .id = "x", .created = 1, .model = r.model ? r.model : "m"};
    const srv_usage u = {1, 2, 0};
    const char *text = kind == SRV_CHAT ? r.msgs[0].content : r.prompt ? r.prompt : "";
    char *j = srv_completion_json(&rep, text, strlen(text), "stop", &u, NULL);
    check(j != NULL);
    free(j);
    j = srv_chunk_json(&rep, true, text, strlen(text), NULL, NULL, NULL);
    check(j != NULL);
    free(j);
    serve_req_free(&r);
    return 0;
}
