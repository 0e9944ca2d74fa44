/* test_chat_template.c — chat template detection and the exact renderings of chatml, llama2, llama3
 * (src/engine/chat_template.c). Expected strings are what the models' Jinja templates produce. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/chat_template.h"

static const sc_chat_msg conv[] = {{"system", "You are terse."},
                                   {"user", "Hi there"},
                                   {"assistant", "Hello!"},
                                   {"user", "  What is 2+2?\n"}};

static void expect(sc_chat_template t, const sc_chat_msg *m, int n, bool gen, const char *want) {
  char *out = NULL;
  sc_err e = {0};
  cr_assert_eq(sc_chat_render(t, m, n, gen, NULL, NULL, &out, &e), 0, "%s", e.msg);
  cr_assert_str_eq(out, want);
  free(out);
}

static void expect_error(sc_chat_template t, const sc_chat_msg *m, int n, const char *needle) {
  char *out = NULL;
  sc_err e = {0};
  cr_assert_eq(sc_chat_render(t, m, n, true, NULL, NULL, &out, &e), SC_EINVAL);
  cr_assert_null(out);
  cr_assert(strstr(e.msg, needle), "message \"%s\" lacks \"%s\"", e.msg, needle);
}

Test(chat, chatml) {
  expect(SC_CHAT_CHATML, conv, 4, true,
         "<|im_start|>system\nYou are terse.<|im_end|>\n"
         "<|im_start|>user\nHi there<|im_end|>\n"
         "<|im_start|>assistant\nHello!<|im_end|>\n"
         "<|im_start|>user\n  What is 2+2?\n<|im_end|>\n"
         "<|im_start|>assistant\n");
  expect(SC_CHAT_CHATML, conv + 1, 1, false, "<|im_start|>user\nHi there<|im_end|>\n");
}

Test(chat, llama3) {
  expect(SC_CHAT_LLAMA3, conv, 4, true,
         "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\n");
  expect(SC_CHAT_LLAMA3, conv + 1, 1, false,
         "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>");
  /* trim removes Unicode whitespace too (Python's str.strip), here U+3000 and U+00A0. */
  sc_chat_msg m[] = {{"user", "\xe3\x80\x80 x \xc2\xa0"}};
  expect(SC_CHAT_LLAMA3, m, 1, false, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>");
  char *out = NULL;
  sc_err e;
  cr_assert_eq(sc_chat_render(SC_CHAT_LLAMA3, conv + 1, 1, false, "", NULL, &out, &e), 0);
  cr_assert_str_eq(out, "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>");
  free(out);
}

Test(chat, llama2) {
  expect(SC_CHAT_LLAMA2, conv, 4, true,
         "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! </s>"
         "<s>[INST] What is 2+2? [/INST]");
  expect(SC_CHAT_LLAMA2, conv + 1, 1, true, "<s>[INST] Hi there [/INST]");
  /* Python's Jinja2: "" != false, so an empty system message still renders its block. */
  sc_chat_msg empty_sys[] = {{"system", ""}, {"user", "Hi there"}};
  expect(SC_CHAT_LLAMA2, empty_sys, 2, true, "<s>[INST] <<SYS>>\n\n<</SYS>>\n\nHi there [/INST]");
  expect(SC_CHAT_LLAMA2, conv + 1, 2, false, "<s>[INST] Hi there [/INST] Hello! </s>");
  char *out = NULL;
  sc_err e;
  cr_assert_eq(sc_chat_render(SC_CHAT_LLAMA2, conv + 1, 2, false, "<BOS>", "<EOS>", &out, &e), 0);
  cr_assert_str_eq(out, "<BOS>[INST] Hi there [/INST] Hello! <EOS>");
  free(out);
}

Test(chat, bad_messages) {
  expect_error(SC_CHAT_CHATML, conv, 0, "messages must not be empty");
  expect_error(SC_CHAT_CHATML, NULL, 3, "messages must not be empty");
  sc_chat_msg tool[] = {{"user", "x"}, {"tool", "y"}};
  expect_error(SC_CHAT_LLAMA3, tool, 2, "messages[1] has unknown role 'tool'");
  sc_chat_msg norole[] = {{NULL, "x"}};
  expect_error(SC_CHAT_CHATML, norole, 1, "messages[0] has no role");
  sc_chat_msg nocontent[] = {{"user", NULL}};
  expect_error(SC_CHAT_CHATML, nocontent, 1, "messages[0] has no content");
  sc_chat_msg twice[] = {{"user", "a"}, {"user", "b"}};
  expect_error(SC_CHAT_LLAMA2, twice, 2, "messages[1] has role 'user'");
  sc_chat_msg assistant_first[] = {{"assistant", "a"}};
  expect_error(SC_CHAT_LLAMA2, assistant_first, 1, "alternating");
  sc_chat_msg only_system[] = {{"system", "s"}};
  expect_error(SC_CHAT_LLAMA2, only_system, 1, "needs a user message");
  sc_chat_msg late_system[] = {{"user", "a"}, {"system", "s"}};
  expect_error(SC_CHAT_LLAMA2, late_system, 2, "messages[1] has role 'system'");
}

Test(chat, detect_and_names) {
  sc_chat_template t;
  sc_err e = {0};
  cr_assert_eq(sc_chat_template_detect("{% for m in messages %}{{'<|im_start|>' + m['role'] }}{% endfor %}", &t, &e), 0);
  cr_assert_eq(t, SC_CHAT_CHATML);
  cr_assert_eq(sc_chat_template_detect("{{ '<|start_header_id|>' + role + '<|end_header_id|>' }}", &t, &e), 0);
  cr_assert_eq(t, SC_CHAT_LLAMA3);
  cr_assert_eq(sc_chat_template_detect("{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}", &t, &e), 0);
  cr_assert_eq(t, SC_CHAT_LLAMA2);
  cr_assert_eq(sc_chat_template_detect("{{ '<start_of_turn>user' }}", &t, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "not one of chatml, llama2, llama3"), "%s", e.msg);
  cr_assert(strstr(e.msg, "--chat-template NAME"), "%s", e.msg);
  cr_assert_eq(sc_chat_template_detect(NULL, &t, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "has no chat template"), "%s", e.msg);
  cr_assert_eq(sc_chat_template_detect("", &t, &e), SC_EINVAL);
  cr_assert_eq(sc_chat_template_by_name("llama3", &t, &e), 0);
  cr_assert_eq(t, SC_CHAT_LLAMA3);
  cr_assert_eq(sc_chat_template_by_name("llama-2", &t, &e), 0);
  cr_assert_eq(t, SC_CHAT_LLAMA2);
  cr_assert_eq(sc_chat_template_by_name("chatml", &t, &e), 0);
  cr_assert_str_eq(sc_chat_template_name(t), "chatml");
  cr_assert_eq(sc_chat_template_by_name("vicuna", &t, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "unknown chat template 'vicuna' (known: chatml, llama2, llama3)"), "%s", e.msg);
  cr_assert_eq(sc_chat_template_by_name(NULL, &t, &e), SC_EINVAL);
}
