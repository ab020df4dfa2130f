/*
 * fuzz_schema.c - libFuzzer target: arbitrary bytes as a JSON schema. The
 * converter must give GBNF or an error; the GBNF it gives must parse, or
 * be refused only for what a schema can mean (no text at all, a cycle of
 * bare $refs, a size limit): a syntax error there is a converter bug. A
 * matcher of it must run over a few JSON texts.
 */
#include "grammar/grammar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *gbnf;
    size_t n;
    adm_error err;
    if (gr_schema_to_gbnf((const char *)data, size, &gbnf, &n, &err) != ADM_OK) return 0;
    gr_program *p;
    const adm_status st = gr_parse_gbnf(gbnf, n, &p, &err);
    if (st != ADM_OK && !strstr(err.msg, "matches no text") && !strstr(err.msg, "left-recursive") &&
        !strstr(err.msg, "too large") && st != ADM_ERR_NOMEM) {
        fprintf(stderr, "fuzz_schema: the converter's grammar is refused: %s\n%s\n", err.msg, gbnf);
        abort();
    }
    if (st == ADM_OK) {
        gr_matcher *m;
        if (gr_matcher_create(p, NULL, &m, &err) == ADM_OK) {
            static const char *const texts[] = {"{\"a\": 1, \"b\": [true, null, \"x\"]}", "[1, 2.5e3, -0]", "\"2024-02-28\"",
                                                "null"};
            for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
                gr_matcher_reset(m);
                gr_matcher_accept_bytes(m, (const uint8_t *)texts[k], strlen(texts[k]));
                (void)gr_matcher_can_end(m);
            }
            gr_matcher_free(m);
        }
        gr_program_free(p);
    }
    free(gbnf);
    return 0;
}
