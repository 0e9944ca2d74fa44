/*
 * chat_template.c — the three chat formats, written out by hand from their Jinja templates:
 *
 *   chatml: {% for m in messages %}<|im_start|>{{role}}\n{{content}}<|im_end|>\n{% endfor %}
 *           + "<|im_start|>assistant\n" with add_generation_prompt.
 *   llama3: bos + for each m: <|start_header_id|>{{role}}<|end_header_id|>\n\n{{content|trim}}<|eot_id|>
 *           + "<|start_header_id|>assistant<|end_header_id|>\n\n" with add_generation_prompt.
 *   llama2: an optional first system message is folded into the first user turn as
 *           "<<SYS>>\n{{system}}\n<</SYS>>\n\n{{user}}"; then user turns render as
 *           bos + "[INST] " + content.strip() + " [/INST]" and assistant turns as
 *           " " + content.strip() + " " + eos; roles must alternate user/assistant (the template
 *           raises an exception otherwise).
 * trim/strip remove Python's whitespace (str.isspace) from both ends, as Jinja does.
 */
#include "engine/chat_template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

typedef struct buf {
  char *p;
  size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t len) {
  if (b->n + len + 1 > b->cap) {
    while (b->n + len + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 256;
    b->p = sc_xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = 0;
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* Python's str.isspace() for the code point starting at s; returns its byte length or 0. */
static size_t space_len(const unsigned char *s, size_t n) {
  if (n == 0) return 0;
  unsigned c = s[0];
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  if (n >= 2 && c == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
  if (n >= 3 && c == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3; /* U+1680 */
  if (n >= 3 && c == 0xE2 && s[1] == 0x80 && (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
    return 3; /* U+2000..200A, 2028, 2029, 202F */
  if (n >= 3 && c == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3; /* U+205F */
  if (n >= 3 && c == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3; /* U+3000 */
  return 0;
}

/* Length of a whitespace char ending at s[n-1], or 0. */
static size_t space_len_back(const unsigned char *s, size_t n) {
  for (size_t k = 1; k <= 3 && k <= n; k++)
    if (space_len(s + n - k, k) == k) return k;
  return 0;
}

static void put_stripped(buf *b, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s), k;
  while ((k = space_len(p, n))) p += k, n -= k;
  while ((k = space_len_back(p, n))) n -= k;
  put(b, (const char *)p, n);
}

static const char *role_ok(const char *r) {
  if (!r) return NULL;
  if (strcmp(r, "system") == 0 || strcmp(r, "user") == 0 || strcmp(r, "assistant") == 0) return r;
  return NULL;
}

int sc_chat_template_detect(const char *jinja, sc_chat_template *out, sc_err *e) {
  if (!jinja || !*jinja)
    return sc_err_set(e, SC_EINVAL, "no_chat_template",
                      "the model has no chat template; pass --chat-template chatml|llama2|llama3");
  if (strstr(jinja, "<|start_header_id|>")) *out = SC_CHAT_LLAMA3;
  else if (strstr(jinja, "<|im_start|>")) *out = SC_CHAT_CHATML;
  else if (strstr(jinja, "[INST]")) *out = SC_CHAT_LLAMA2;
  else
    return sc_err_set(e, SC_EINVAL, "unknown_chat_template",
                      "the model's chat template is not one of chatml, llama2, llama3 (starts \"%.60s\"); pass "
                      "--chat-template NAME",
                      jinja);
  return 0;
}

int sc_chat_template_by_name(const char *name, sc_chat_template *out, sc_err *e) {
  if (name && strcmp(name, "chatml") == 0) *out = SC_CHAT_CHATML;
  else if (name && (strcmp(name, "llama2") == 0 || strcmp(name, "llama-2") == 0)) *out = SC_CHAT_LLAMA2;
  else if (name && (strcmp(name, "llama3") == 0 || strcmp(name, "llama-3") == 0)) *out = SC_CHAT_LLAMA3;
  else
    return sc_err_set(e, SC_EINVAL, "unknown_chat_template",
                      "unknown chat template '%.40s' (known: chatml, llama2, llama3)", name ? name : "");
  return 0;
}

const char *sc_chat_template_name(sc_chat_template t) {
  switch (t) {
  case SC_CHAT_CHATML: return "chatml";
  case SC_CHAT_LLAMA2: return "llama2";
  case SC_CHAT_LLAMA3: return "llama3";
  }
  return "unknown";
}

static int render_llama2(const sc_chat_msg *m, int n, const char *bos, const char *eos, buf *b, sc_err *e) {
  int i0 = 0;
  const char *sys = NULL;
  if (strcmp(m[0].role, "system") == 0) {
    sys = m[0].content;
    i0 = 1;
  }
  if (i0 >= n)
    return sc_err_set(e, SC_EINVAL, "invalid_messages", "the llama2 chat template needs a user message after the system message");
  for (int i = i0; i < n; i++) {
    const char *want = (i - i0) % 2 == 0 ? "user" : "assistant";
    if (strcmp(m[i].role, want) != 0)
      return sc_err_set(e, SC_EINVAL, "invalid_messages",
                        "messages[%d] has role '%s' but the llama2 chat template needs roles alternating "
                        "user/assistant after an optional first system message",
                        i, m[i].role);
    if (strcmp(want, "user") == 0) {
      puts_(b, bos);
      puts_(b, "[INST] ");
      if (i == i0 && sys) {
        buf c = {0};
        puts_(&c, "<<SYS>>\n");
        puts_(&c, sys);
        puts_(&c, "\n<</SYS>>\n\n");
        puts_(&c, m[i].content);
        put_stripped(b, c.p);
        free(c.p);
      } else {
        put_stripped(b, m[i].content);
      }
      puts_(b, " [/INST]");
    } else {
      puts_(b, " ");
      put_stripped(b, m[i].content);
      puts_(b, " ");
      puts_(b, eos);
    }
  }
  return 0;
}

int sc_chat_render(sc_chat_template t, const sc_chat_msg *msgs, int n, bool add_generation_prompt,
                   const char *bos_text, const char *eos_text, char **out, sc_err *e) {
  *out = NULL;
  if (!msgs || n <= 0) return sc_err_set(e, SC_EINVAL, "invalid_messages", "messages must not be empty");
  for (int i = 0; i < n; i++) {
    if (!msgs[i].role) return sc_err_set(e, SC_EINVAL, "invalid_messages", "messages[%d] has no role", i);
    if (!role_ok(msgs[i].role))
      return sc_err_set(e, SC_EINVAL, "invalid_messages",
                        "messages[%d] has unknown role '%.40s' (expected system, user or assistant)", i,
                        msgs[i].role);
    if (!msgs[i].content) return sc_err_set(e, SC_EINVAL, "invalid_messages", "messages[%d] has no content", i);
  }
  buf b = {0};
  put(&b, "", 0);
  int rc = 0;
  switch (t) {
  case SC_CHAT_CHATML:
    for (int i = 0; i < n; i++) {
      puts_(&b, "<|im_start|>");
      puts_(&b, msgs[i].role);
      puts_(&b, "\n");
      puts_(&b, msgs[i].content);
      puts_(&b, "<|im_end|>\n");
    }
    if (add_generation_prompt) puts_(&b, "<|im_start|>assistant\n");
    break;
  case SC_CHAT_LLAMA3:
    puts_(&b, bos_text ? bos_text : "<|begin_of_text|>");
    for (int i = 0; i < n; i++) {
      puts_(&b, "<|start_header_id|>");
      puts_(&b, msgs[i].role);
      puts_(&b, "<|end_header_id|>\n\n");
      put_stripped(&b, msgs[i].content);
      puts_(&b, "<|eot_id|>");
    }
    if (add_generation_prompt) puts_(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    break;
  case SC_CHAT_LLAMA2:
    rc = render_llama2(msgs, n, bos_text ? bos_text : "<s>", eos_text ? eos_text : "</s>", &b, e);
    break;
  default:
    rc = sc_err_set(e, SC_EINVAL, "unknown_chat_template", "unknown chat template %d", (int)t);
  }
  if (rc) {
    free(b.p);
    return rc;
  }
  *out = b.p;
  return 0;
}
