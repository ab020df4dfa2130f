/*
 * vocab.h - internal entry points of the tokenizer module used by the model
 * loader. The public tokenizer API is in include/adamas.h.
 */
#ifndef ADM_TOKENIZER_VOCAB_H
#define ADM_TOKENIZER_VOCAB_H

#include "../gguf.h"

/* Builds the vocabulary described by a GGUF file's tokenizer.ggml.* keys.
 * Sets *out = NULL and returns ADM_OK when the file has no vocabulary
 * (no tokenizer.ggml.tokens, or tokenizer.ggml.model "none"/"no_vocab").
 * Fails with ADM_ERR_UNSUPPORTED, naming the value, for a tokenizer.ggml.model
 * or (BPE) tokenizer.ggml.pre adamas does not know, ADM_ERR_FORMAT for
 * malformed tokenizer keys. The vocabulary copies what it needs: it keeps no
 * pointer into g, which may be freed right after. Free it with
 * adm_vocab_free (declared in adamas.h). */
adm_status adm_vocab_from_gguf(const adm_gguf *g, adm_vocab **out, adm_error *err);

#endif
