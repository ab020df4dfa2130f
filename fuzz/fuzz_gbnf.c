/*
 * fuzz_gbnf.c - libFuzzer target: arbitrary bytes as GBNF text. Up to the
 * first NUL byte the input is the grammar; what follows is fed to a
 * matcher of it byte by byte. Parsing must give a program or an error,
 * and matching must stay within its limits: no crash, hang or unbounded
 * memory.
 */
#include "grammar/grammar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    const size_t glen = nul ? (size_t)(nul - data) : size;
    gr_program *p;
    adm_error err;
    if (gr_parse_gbnf((const char *)data, glen, &p, &err) != ADM_OK) return 0;
    gr_matcher *m;
    if (gr_matcher_create(p, NULL, &m, &err) == ADM_OK) {
        /* At most MAX_INPUT bytes are matched: one byte's work is bounded
         * (GR_MAX_STACKS, GR_MAX_CLOSURE), not the input's, and an ambiguous
         * grammar at those limits costs ~6 ms a byte under the sanitizers
         * (a found 730-byte input: 9.5 s, matched twice). */
        const uint8_t *in = nul ? nul + 1 : data + size;
        const size_t n = (size_t)(data + size - in) < MAX_INPUT ? (size_t)(data + size - in) : MAX_INPUT;
        size_t taken = 0;
        while (taken < n && gr_matcher_accept_bytes(m, in + taken, 1)) taken++;
        const bool end1 = gr_matcher_can_end(m);
        gr_matcher_reset(m);
        const bool whole = gr_matcher_accept_bytes(m, in, taken);
        /* The property holds only while no limit has cut parses (past a
         * limit the matcher stays sound, never accepting what the grammar
         * rejects, but may drop parses differently per split). */
        if (!gr_matcher_cut(m) && (!whole || gr_matcher_can_end(m) != end1 ||
                                   (taken < n && gr_matcher_accept_bytes(m, in + taken, n - taken)))) {
            fprintf(stderr, "fuzz_gbnf: byte by byte took %zu of %zu bytes, in one piece disagrees\n", taken, n);
            abort();
        }
        gr_matcher_free(m);
    }
    gr_program_free(p);
    return 0;
}
