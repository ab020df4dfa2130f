/*
 * moe.h - the feed-forward block of a mixture-of-experts layer (qwen3moe):
 *
 *   p = softmax(x Wrouter);  E = the n_expert_used largest p (descending)
 *   w_j = p[E_j] (/ sum over E when the file normalizes) * expert_scale
 *   out = sum_j w_j * ( act(x Wgate[E_j]) * (x Wup[E_j]) ) Wdown[E_j]
 *
 * The rows routed to one expert are gathered into one matrix, so each
 * expert's weights are read once per batch and a single-token step reads
 * only the chosen experts. A batch whose (token, expert) pairs fit the
 * batch scratch (decode steps, a few sequences) runs all chosen experts in
 * two parallel passes (gate and up, then down); a longer one (prompt
 * processing) expert by expert. The per-token sums run over j in order,
 * as ggml adds its expert views.
 */
#ifndef ADM_MOE_H
#define ADM_MOE_H

#include "model.h"
#include "threadpool.h"

typedef struct adm_moe_scratch adm_moe_scratch;

/* Scratch for batches of up to n_batch tokens; NULL model->hp.n_expert == 0
 * gives *out = NULL and ADM_OK. */
adm_status adm_moe_scratch_create(const adm_model *model, int n_batch, adm_moe_scratch **out, uint64_t *bytes,
                                  adm_error *err);
void adm_moe_scratch_free(adm_moe_scratch *s);

/* out[t] = the experts' sum for x[t], t < n_tok (rows of n_embd floats;
 * out may not alias x). mm_scratch: adm_matmul_scratch_size(max(n_embd,
 * n_ff_exp), n_batch) bytes. */
void adm_moe_forward(adm_pool *pool, const adm_kernels *k, const adm_model *model, const adm_layer *l,
                     adm_moe_scratch *s, const float *x, int n_tok, float *out, void *mm_scratch);

/* The gated activation of one row: out[i] = act(g[i]) * u[i] with the
 * model's activation (SiLU, or GELU through the model's f16 table). */
void adm_ffn_activate(const adm_kernels *k, const adm_model *model, int n, const float *g, const float *u, float *out);

#endif
