/*
 * membw.h - this machine's memory read bandwidth, measured STREAM-style
 * (a sum over a buffer far larger than the caches).
 *
 * Decode speed is bounded by how fast the weights stream from memory, so
 * the benchmarks report weight bytes per second as a share of this number.
 * The pass is a plain vectorized sum, the cheapest work that still touches
 * every byte; a matvec kernel reaching ~100% of it is memory bound.
 */
#ifndef ADM_MEMBW_H
#define ADM_MEMBW_H

#include "threadpool.h"

typedef struct adm_membw adm_membw;

/* A buffer of `bytes` (rounded up to 256), filled so its pages are real. */
adm_membw *adm_membw_create(size_t bytes, adm_error *err);
void adm_membw_free(adm_membw *b);
size_t adm_membw_size(const adm_membw *b);

/* Seconds of one read pass over the whole buffer with the pool's threads. */
double adm_membw_pass(adm_membw *b, adm_pool *pool);

#endif
