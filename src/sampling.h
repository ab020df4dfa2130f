/*
 * sampling.h - the sampler's internals that tests reach (include/adamas.h
 * has the API).
 */
#ifndef ADM_SAMPLING_H
#define ADM_SAMPLING_H

#include "adamas.h"

/* adm_sampler_sample without the fast selection of the best few tokens:
 * every candidate filled, partitioned and sorted. The plain reference the
 * fast path must equal token for token (grammar samplers: the same as
 * adm_sampler_sample). */
int32_t adm_sampler_sample_reference(adm_sampler *s, const float *logits);

#endif
