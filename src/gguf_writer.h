/*
 * gguf_writer.h - writes GGUF v3 files: metadata first, then tensor data
 * streamed in the order the tensors were declared (so a multi-gigabyte
 * model never has to sit in memory). Used by `adamas gen-model` and tests.
 */
#ifndef ADM_GGUF_WRITER_H
#define ADM_GGUF_WRITER_H

#include "gguf.h"

/* The writer API is public: see "GGUF inspection" in include/adamas.h. */

/* Copies one parsed key/value pair (any type, nested arrays included). */
adm_status adm_gguf_writer_copy_kv(adm_gguf_writer *w, const adm_gguf_kv *kv);

#endif
