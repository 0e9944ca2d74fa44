/*
 * model_codec.h — the sc_codec (server.h) of a real model: its tokenizer (tokenizer.h) and its
 * chat template (chat_template.h), detected from tokenizer.chat_template or named by the operator.
 */
#ifndef SC_ENGINE_MODEL_CODEC_H
#define SC_ENGINE_MODEL_CODEC_H

#include "engine/server.h"
#include "engine/tokenizer.h"

/* Fills *out for tok (borrowed: it must outlive the codec). template_name NULL = detect from the
 * model; an unknown template without a name is SC_EINVAL telling to pass --chat-template. Release
 * with sc_model_codec_fini. */
int sc_model_codec_init(sc_codec *out, const sc_tokenizer *tok, const char *template_name, sc_err *e);
void sc_model_codec_fini(sc_codec *c);

#endif
