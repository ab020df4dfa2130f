/*
 * fuzz_chat.c - libFuzzer target: chat templates. The text of a GGUF's
 * tokenizer.chat_template goes to adm_chat_detect, and conversations with
 * arbitrary roles and contents are rendered in every format.
 *
 * Input: byte 0 is flags (bit 0: add_assistant), then NUL-separated
 * fields: the template text, then role, content, role, content, ... A role
 * field of one byte stands for "system", "user", "assistant" or "tool"
 * (byte % 4), so that the fuzzer reaches the roles the renderers treat
 * specially without having to find their spelling.
 *
 * Checked, aborting on a violation: detection returns a format that has a
 * name which maps back to it; rendering returns the same length whatever
 * the buffer, writes nothing into a zero-size buffer, fills a short buffer
 * (exactly sized on the heap, so ASan sees any overflow) with a
 * NUL-terminated prefix of the full text, and the full text has no NUL
 * before its end. Every message's content appears in the output, in order.
 */
#include "adamas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz_chat: check failed at line %d: %s\n", __LINE__, #cond);       \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

#define N_FORMATS 6 /* ADM_CHAT_CHATML .. ADM_CHAT_PHI3 */
#define MAX_MSGS 64

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

static void check_detect(const char *tmpl) {
    bool recognized = true;
    adm_chat_format f = adm_chat_detect(tmpl, &recognized);
    CHECK((unsigned)f < N_FORMATS);
    if (!recognized) CHECK(f == ADM_CHAT_CHATML);
    adm_chat_format back;
    CHECK(adm_chat_format_from_name(adm_chat_format_name(f), &back) && back == f);
    /* The template text taken as a format name: only the six names match. */
    if (adm_chat_format_from_name(tmpl, &back)) CHECK(strcmp(adm_chat_format_name(back), tmpl) == 0);
}

static void check_render(adm_chat_format f, const adm_chat_msg *msgs, int n, bool add) {
    const int64_t need = adm_chat_render(f, msgs, n, add, NULL, 0);
    CHECK(need >= 0);
    char *full = xmalloc((size_t)need + 1);
    CHECK(adm_chat_render(f, msgs, n, add, full, need + 1) == need);
    CHECK(full[need] == 0 && strlen(full) == (size_t)need);

    char canary = 'x';
    CHECK(adm_chat_render(f, msgs, n, add, &canary, 0) == need);
    CHECK(canary == 'x');
    const int64_t sizes[] = {1, 2, need / 2 + 1, need};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        const int64_t s = sizes[i];
        if (s < 1 || s > need) continue;
        char *part = xmalloc((size_t)s);
        CHECK(adm_chat_render(f, msgs, n, add, part, s) == need);
        CHECK(part[s - 1] == 0 && memcmp(part, full, (size_t)s - 1) == 0);
        free(part);
    }

    /* Every content is rendered, in order (the system prompt of formats
     * without a system role goes into the first user turn, and only the
     * last one is kept, so only user and assistant turns are checked). */
    const char *at = full;
    for (int i = 0; i < n; i++) {
        if (strcmp(msgs[i].role, "user") && strcmp(msgs[i].role, "assistant")) continue;
        const char *hit = strstr(at, msgs[i].content);
        CHECK(hit != NULL);
        at = hit + strlen(msgs[i].content);
    }
    free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const bool add = data[0] & 1;
    /* A NUL-terminated copy: fields end at NULs, the last at the end. */
    char *buf = xmalloc(size);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    const char *end = buf + size - 1;

    const char *tmpl = buf;
    check_detect(tmpl);
    static const char *const k_roles[] = {"system", "user", "assistant", "tool"};
    adm_chat_msg msgs[MAX_MSGS];
    int n = 0;
    const char *p = tmpl + strlen(tmpl);
    while (p < end && n < MAX_MSGS) {
        const char *role = p + 1;
        if (role >= end) break;
        const char *content = role + strlen(role);
        content = content < end ? content + 1 : end;
        msgs[n].role = strlen(role) == 1 ? k_roles[(uint8_t)role[0] % 4] : role;
        msgs[n].content = content;
        n++;
        p = content + strlen(content);
    }
    for (int f = 0; f < N_FORMATS; f++) check_render((adm_chat_format)f, msgs, n, add);
    /* The templates' own text as the only message. */
    adm_chat_msg one = {"user", tmpl};
    check_render(adm_chat_detect(tmpl, &(bool){false}), &one, 1, add);
    check_detect("");
    free(buf);
    return 0;
}
