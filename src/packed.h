/*
 * packed.h - a block-order engine's copies of the model's Q8_0 matrices,
 * packed in groups of 16 rows for the kernels' gemm_pack16 (kernels.h).
 *
 * The model stays immutable and shared: the engine keeps its own copy of
 * the layer and output views (adm_layer, adm_weight) whose Q8_0 matrices
 * point at the packed rows (pack16) as well as at the model's. The products
 * give the same bits either way; packed, 8-column products cost 5-20% less
 * on Zen 4 (no transpose in registers; adm_matmul uses them for 2+
 * columns). The price is memory: a copy of every Q8_0 matrix, as many
 * bytes as in the file (the model's pages are read once, while packing).
 */
#ifndef ADM_PACKED_H
#define ADM_PACKED_H

#include "model.h"
#include "threadpool.h"

typedef struct adm_packed {
    adm_layer *layers;  /* (n_layer) the model's views, pack16 set where packed */
    adm_weight output;
    uint8_t *mem;       /* every packed group, one mapping */
    size_t bytes;
} adm_packed;

/* Packs every Q8_0 matrix of the model's layers and output, the work split
 * over the pool. *out is NULL when the model has none to pack. */
adm_status adm_packed_create(const adm_model *m, adm_pool *pool, adm_packed **out, adm_error *err);
void adm_packed_free(adm_packed *p);

#endif
