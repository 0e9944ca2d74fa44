/*
 * cmd_tokenize.c — `suanchi tokenize (--vocab FILE | --model FILE.gguf) [--json] [--no-bos]
 * [--special] (TEXT | --file FILE | --jsonl FILE | --chat FILE [--chat-template NAME] [--print-prompt]
 * [--no-gen-prompt])`: shows how a model's tokenizer splits text and how its chat template renders.
 *
 * Output: one "ID<TAB>TOKEN" line per token (the token text JSON-escaped); with --json one object
 * {"count", "tokens", "pieces"}; with --jsonl FILE (each line a JSON string) one JSON array of ids
 * per input line, which is what the reference comparison test reads. With --chat FILE each line is
 * a JSON array of {"role","content"} messages, rendered with the chat template and tokenized as the
 * engine does (no added BOS, special tokens parsed): one JSON array of ids per line, or with
 * --print-prompt the rendered prompt as a JSON string.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/flags.h"
#include "base/util.h"
#include "cli/commands.h"
#include "engine/chat_template.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"

#define MAX_INPUT (256u << 20)

static void usage(FILE *f, const sc_flag *flags) {
  fprintf(f, "usage: suanchi tokenize (--vocab FILE | --model FILE.gguf) [--json] [--no-bos] [--special]\n"
             "                        (TEXT | --file FILE | --jsonl FILE)\n"
             "       suanchi tokenize (--vocab FILE | --model FILE.gguf) --chat FILE [--chat-template NAME]\n"
             "                        [--print-prompt] [--no-gen-prompt]\n");
  sc_flags_usage(f, flags);
}

static int load(const char *vocab, const char *model, sc_tokenizer **t, sc_err *e) {
  if (vocab) {
    sc_vocab *v = NULL;
    int rc = sc_vocab_load_json(vocab, &v, e);
    if (rc) return rc;
    rc = sc_tokenizer_from_vocab(v, t, e);
    sc_vocab_destroy(v);
    return rc;
  }
  sc_gguf *g = NULL;
  int rc = sc_gguf_open(model, &g, e);
  if (rc) return rc;
  rc = sc_tokenizer_from_gguf(g, t, e);
  sc_gguf_close(g);
  return rc;
}

static json_t *piece_json(const sc_tokenizer *t, int32_t id) {
  size_t len;
  const char *s = sc_token_text(t, id, &len);
  json_t *j = json_stringn(s, len);
  return j ? j : json_string("\xEF\xBF\xBD"); /* not valid UTF-8 (possible in a GGUF vocabulary) */
}

static int print_tokens(const sc_tokenizer *t, const int32_t *ids, int n, bool as_json) {
  if (as_json) {
    json_t *o = json_object(), *arr = json_array(), *pieces = json_array();
    for (int i = 0; i < n; i++) {
      json_array_append_new(arr, json_integer(ids[i]));
      json_array_append_new(pieces, piece_json(t, ids[i]));
    }
    json_object_set_new(o, "count", json_integer(n));
    json_object_set_new(o, "tokens", arr);
    json_object_set_new(o, "pieces", pieces);
    char *s = json_dumps(o, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(o);
    return 0;
  }
  for (int i = 0; i < n; i++) {
    json_t *p = piece_json(t, ids[i]);
    char *s = json_dumps(p, JSON_ENCODE_ANY);
    printf("%d\t%s\n", ids[i], s);
    free(s);
    json_decref(p);
  }
  return 0;
}

/* Each line of the file is a JSON string; prints one JSON array of ids per line. */
static int run_jsonl(const sc_tokenizer *t, const char *path, bool bos, bool special) {
  char *text = NULL;
  size_t len = 0;
  int rc = sc_read_file(path, MAX_INPUT, &text, &len);
  if (rc) {
    fprintf(stderr, "suanchi tokenize: %s: %s\n", path, rc == SC_ETOOBIG ? "file too large" : sc_strerror(rc));
    return 1;
  }
  int status = 0, line = 0;
  for (char *p = text; p < text + len && status == 0;) {
    char *nl = memchr(p, '\n', (size_t)(text + len - p));
    size_t ll = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
    line++;
    if (ll == 0) {
      p += 1;
      continue;
    }
    json_error_t je;
    json_t *j = json_loadb(p, ll, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j || !json_is_string(j)) {
      fprintf(stderr, "suanchi tokenize: %s line %d: expected a JSON string%s%s\n", path, line, j ? "" : ": ",
              j ? "" : je.text);
      json_decref(j);
      status = 1;
      break;
    }
    int32_t *ids = NULL;
    int n = 0;
    sc_err e;
    if (sc_tokenize(t, json_string_value(j), json_string_length(j), bos, special, &ids, &n, &e)) {
      fprintf(stderr, "suanchi tokenize: %s line %d: %s\n", path, line, e.msg);
      status = 1;
    } else {
      putchar('[');
      for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
      puts("]");
    }
    free(ids);
    json_decref(j);
    p += ll + 1;
  }
  free(text);
  return status;
}

/* Parses one --chat line into messages pointing into j. */
static int parse_messages(json_t *j, sc_chat_msg **out, int *n, char *why, size_t whylen) {
  if (!json_is_array(j)) {
    snprintf(why, whylen, "expected a JSON array of messages");
    return -1;
  }
  size_t k = json_array_size(j);
  sc_chat_msg *m = sc_xcalloc(k ? k : 1, sizeof *m);
  for (size_t i = 0; i < k; i++) {
    json_t *o = json_array_get(j, i);
    json_t *role = json_object_get(o, "role"), *content = json_object_get(o, "content");
    if (!json_is_object(o) || !json_is_string(role) || !json_is_string(content)) {
      snprintf(why, whylen, "messages[%zu] must be an object with string \"role\" and \"content\"", i);
      free(m);
      return -1;
    }
    m[i] = (sc_chat_msg){json_string_value(role), json_string_value(content)};
  }
  *out = m;
  *n = (int)k;
  return 0;
}

static int run_chat(const sc_tokenizer *t, const char *path, const char *tmpl_name, bool print_prompt, bool gen) {
  sc_chat_template ct;
  sc_err e;
  if ((tmpl_name ? sc_chat_template_by_name(tmpl_name, &ct, &e)
                 : sc_chat_template_detect(sc_tokenizer_chat_template(t), &ct, &e))) {
    fprintf(stderr, "suanchi tokenize: %s\n", e.msg);
    return tmpl_name ? 2 : 1;
  }
  /* The template writes BOS/EOS with the vocabulary's texts for them, BOS only when the model wants
   * one (as the engine's chat endpoint does). */
  size_t bl = 0, el = 0;
  const char *bos = sc_tokenizer_add_bos(t) ? sc_token_text(t, sc_tokenizer_bos(t), &bl) : NULL;
  const char *eos = sc_token_text(t, sc_tokenizer_eos(t), &el);
  char *text = NULL;
  size_t len = 0;
  int rc = sc_read_file(path, MAX_INPUT, &text, &len);
  if (rc) {
    fprintf(stderr, "suanchi tokenize: %s: %s\n", path, rc == SC_ETOOBIG ? "file too large" : sc_strerror(rc));
    return 1;
  }
  int status = 0, line = 0;
  for (char *p = text; p < text + len && status == 0;) {
    char *nl = memchr(p, '\n', (size_t)(text + len - p));
    size_t ll = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
    line++;
    if (ll == 0) {
      p += 1;
      continue;
    }
    json_error_t je;
    json_t *j = json_loadb(p, ll, 0, &je);
    sc_chat_msg *msgs = NULL;
    int n = 0;
    char why[160];
    char *prompt = NULL;
    if (!j) {
      fprintf(stderr, "suanchi tokenize: %s line %d: %s\n", path, line, je.text);
      status = 1;
    } else if (parse_messages(j, &msgs, &n, why, sizeof why)) {
      fprintf(stderr, "suanchi tokenize: %s line %d: %s\n", path, line, why);
      status = 1;
    } else if (sc_chat_render(ct, msgs, n, gen, bos ? bos : "", eos ? eos : "", &prompt, &e)) {
      fprintf(stderr, "suanchi tokenize: %s line %d: %s\n", path, line, e.msg);
      status = 1;
    } else if (print_prompt) {
      json_t *js = json_string(prompt);
      char *s = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
      puts(s ? s : "null");
      free(s);
      json_decref(js);
    } else {
      int32_t *ids = NULL;
      int nid = 0;
      if (sc_tokenize(t, prompt, strlen(prompt), false, true, &ids, &nid, &e)) {
        fprintf(stderr, "suanchi tokenize: %s line %d: %s\n", path, line, e.msg);
        status = 1;
      } else {
        putchar('[');
        for (int i = 0; i < nid; i++) printf(i ? ",%d" : "%d", ids[i]);
        puts("]");
      }
      free(ids);
    }
    free(prompt);
    free(msgs);
    json_decref(j);
    p += ll + 1;
  }
  free(text);
  return status;
}

int sc_cmd_tokenize(int argc, char **argv) {
  const char *vocab = NULL, *model = NULL, *file = NULL, *jsonl = NULL, *chat = NULL, *tmpl = NULL;
  bool as_json = false, no_bos = false, special = false, print_prompt = false, no_gen = false;
  sc_flag flags[] = {
      {.name = "vocab", .type = SC_FLAG_STR, .out = &vocab, .help = "vocabulary JSON file (docs/internals/tokenizer.md)"},
      {.name = "model", .type = SC_FLAG_STR, .out = &model, .help = "GGUF model file (its tokenizer.* metadata)"},
      {.name = "file", .type = SC_FLAG_STR, .out = &file, .help = "tokenize the whole content of FILE"},
      {.name = "jsonl", .type = SC_FLAG_STR, .out = &jsonl, .help = "each line of FILE is a JSON string; one id array per line"},
      {.name = "json", .type = SC_FLAG_BOOL, .out = &as_json, .help = "print a JSON object"},
      {.name = "no-bos", .type = SC_FLAG_BOOL, .out = &no_bos, .help = "do not add the BOS token the model asks for"},
      {.name = "special", .type = SC_FLAG_BOOL, .out = &special, .help = "parse special tokens (<|eot_id|>, <s>, ...) in the text"},
      {.name = "chat", .type = SC_FLAG_STR, .out = &chat, .help = "each line of FILE is a JSON array of {role, content} messages"},
      {.name = "chat-template", .type = SC_FLAG_STR, .out = &tmpl, .help = "chatml, llama2 or llama3 (default: detected from the model)"},
      {.name = "print-prompt", .type = SC_FLAG_BOOL, .out = &print_prompt, .help = "with --chat: print the rendered prompt, not ids"},
      {.name = "no-gen-prompt", .type = SC_FLAG_BOOL, .out = &no_gen, .help = "with --chat: do not open the assistant's turn"},
      {0}};
  sc_args args;
  sc_err e;
  if (sc_flags_parse(flags, argc, argv, &args, &e)) {
    fprintf(stderr, "suanchi tokenize: %s\n", e.msg);
    return 2;
  }
  if (args.help) {
    usage(stdout, flags);
    return 0;
  }
  if (!vocab == !model) {
    fprintf(stderr, "suanchi tokenize: give exactly one of --vocab FILE or --model FILE.gguf\n");
    return 2;
  }
  int inputs = (args.npos > 0) + (file != NULL) + (jsonl != NULL) + (chat != NULL);
  if (inputs != 1 || args.npos > 1) {
    fprintf(stderr, "suanchi tokenize: give exactly one input: a TEXT argument, --file FILE, --jsonl FILE or --chat FILE\n");
    return 2;
  }
  if (!chat && (tmpl || print_prompt || no_gen)) {
    fprintf(stderr, "suanchi tokenize: --chat-template, --print-prompt and --no-gen-prompt go with --chat FILE\n");
    return 2;
  }
  sc_tokenizer *t = NULL;
  if (load(vocab, model, &t, &e)) {
    fprintf(stderr, "suanchi tokenize: %s\n", e.msg);
    return 1;
  }
  bool bos = !no_bos && sc_tokenizer_add_bos(t);
  int status = 0;
  if (chat) {
    status = run_chat(t, chat, tmpl, print_prompt, !no_gen);
  } else if (jsonl) {
    status = run_jsonl(t, jsonl, bos, special);
  } else {
    char *text = NULL;
    size_t len;
    const char *src = args.pos[0];
    if (file) {
      int rc = sc_read_file(file, MAX_INPUT, &text, &len);
      if (rc) {
        fprintf(stderr, "suanchi tokenize: %s: %s\n", file, rc == SC_ETOOBIG ? "file too large" : sc_strerror(rc));
        sc_tokenizer_destroy(t);
        return 1;
      }
      src = text;
    } else {
      len = strlen(src);
    }
    int32_t *ids = NULL;
    int n = 0;
    if (sc_tokenize(t, src, len, bos, special, &ids, &n, &e)) {
      fprintf(stderr, "suanchi tokenize: %s\n", e.msg);
      status = 1;
    } else {
      print_tokens(t, ids, n, as_json);
    }
    free(ids);
    free(text);
  }
  sc_tokenizer_destroy(t);
  return status;
}
