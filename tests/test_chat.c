/*
 * test_chat.c - chat template detection and rendering, checked against
 * strings written out by hand from each family's template.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adamas.h"

#include <string.h>

static const adm_chat_msg k_conv[] = {
    {"system", "You are terse."},
    {"user", "Hi"},
    {"assistant", "Hello."},
    {"user", "Bye"},
};

static void check(adm_chat_format f, int n, bool add, const char *want) {
    char buf[1024];
    int64_t len = adm_chat_render(f, k_conv, n, add, buf, sizeof(buf));
    assert_int_equal(len, (int64_t)strlen(want));
    if (strcmp(buf, want)) fail_msg("%s:\n got: [%s]\nwant: [%s]", adm_chat_format_name(f), buf, want);
    /* Truncated output stays NUL-terminated and reports the full length. */
    char small[8];
    assert_int_equal(adm_chat_render(f, k_conv, n, add, small, sizeof(small)), len);
    assert_int_equal(strlen(small), 7);
}

static void test_render(void **state) {
    (void)state;
    check(ADM_CHAT_CHATML, 4, true,
          "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
          "Hello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
    check(ADM_CHAT_LLAMA3, 4, true,
          "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    check(ADM_CHAT_LLAMA2, 4, true,
          "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello.</s>[INST] Bye [/INST]");
    check(ADM_CHAT_MISTRAL, 4, true, "[INST] You are terse.\n\nHi [/INST] Hello.</s>[INST] Bye [/INST]");
    check(ADM_CHAT_GEMMA, 4, true,
          "<start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
          "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n");
    check(ADM_CHAT_PHI3, 4, true,
          "<|system|>\nYou are terse.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nBye<|end|>\n"
          "<|assistant|>\n");
    /* Without the assistant header, and without a system message. */
    char buf[256];
    adm_chat_render(ADM_CHAT_CHATML, k_conv + 1, 1, false, buf, sizeof(buf));
    assert_string_equal(buf, "<|im_start|>user\nHi<|im_end|>\n");
    adm_chat_render(ADM_CHAT_LLAMA2, k_conv + 1, 1, true, buf, sizeof(buf));
    assert_string_equal(buf, "[INST] Hi [/INST]");
}

static void test_detect(void **state) {
    (void)state;
    bool known;
    assert_int_equal(adm_chat_detect("{% for m in messages %}<|im_start|>{{ m.role }}", &known), ADM_CHAT_CHATML);
    assert_true(known);
    assert_int_equal(adm_chat_detect("<|start_header_id|>' + message['role'] + '<|end_header_id|>", &known), ADM_CHAT_LLAMA3);
    assert_int_equal(adm_chat_detect("{{ '<start_of_turn>' + role }}", &known), ADM_CHAT_GEMMA);
    assert_int_equal(adm_chat_detect("{{'<|user|>' }}{{'<|end|>'}}{{'<|assistant|>'}}", &known), ADM_CHAT_PHI3);
    assert_int_equal(adm_chat_detect("[INST] <<SYS>>\\n' + system", &known), ADM_CHAT_LLAMA2);
    assert_int_equal(adm_chat_detect("{{ '[INST] ' + message['content'] + ' [/INST]' }}", &known), ADM_CHAT_MISTRAL);
    assert_true(known);
    assert_int_equal(adm_chat_detect("{{ something else }}", &known), ADM_CHAT_CHATML);
    assert_false(known);
    assert_int_equal(adm_chat_detect(NULL, &known), ADM_CHAT_CHATML);
    assert_false(known);
    adm_chat_format f;
    for (int i = 0; i <= ADM_CHAT_PHI3; i++) {
        assert_true(adm_chat_format_from_name(adm_chat_format_name((adm_chat_format)i), &f));
        assert_int_equal(f, i);
    }
    assert_false(adm_chat_format_from_name("jinja", &f));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_render), cmocka_unit_test(test_detect)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
