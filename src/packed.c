/*
 * packed.c - see packed.h.
 */
#include "packed.h"

#include <string.h>

/* The matrices of a layer that go through the products. */
#define LAYER_WEIGHTS(l) {&(l)->wq, &(l)->wk, &(l)->wv, &(l)->wo, &(l)->w_gate, &(l)->w_up, &(l)->w_down, &(l)->router}
#define N_LAYER_WEIGHTS 8

static bool packable(const adm_weight *w) {
    return w->type == ADM_TYPE_Q8_0 && w->data && w->n_in % 32 == 0 && w->n_in > 0 && w->n_out > 0;
}


/* One matrix to pack: its groups go at mem + off. */
typedef struct pack_job {
    adm_weight *w;
    size_t off;
} pack_job;

typedef struct pack_ctx {
    uint8_t *mem;
    const pack_job *jobs;
    int n_jobs;
    int64_t n_groups;   /* over all jobs */
} pack_ctx;

static void pack_groups(void *arg, int ith, int nth) {
    const pack_ctx *c = arg;
    int64_t lo, hi;
    adm_split_range(c->n_groups, ith, nth, &lo, &hi);
    int64_t base = 0;
    for (int j = 0; j < c->n_jobs && lo < hi; j++) {
        const adm_weight *w = c->jobs[j].w;
        const int64_t ng = (w->n_out + 15) / 16;
        for (int64_t g = ADM_MAX(lo, base); g < ADM_MIN(hi, base + ng); g++) {
            const int64_t r = (g - base) * 16;
            adm_pack16_q8_0((int)w->n_in, (int)ADM_MIN(16, w->n_out - r), w->data + (size_t)r * w->row_size,
                            w->row_size, c->mem + c->jobs[j].off + (size_t)(g - base) * adm_pack16_group_bytes(w->n_in));
        }
        base += ng;
    }
}

adm_status adm_packed_create(const adm_model *m, adm_pool *pool, adm_packed **out, adm_error *err) {
    *out = NULL;
    const int n_layer = m->hp.n_layer;
    adm_packed *p = adm_calloc(1, sizeof(*p));
    pack_job *jobs = adm_calloc((size_t)n_layer * N_LAYER_WEIGHTS + 1, sizeof(*jobs));
    if (p) p->layers = adm_calloc((size_t)ADM_MAX(n_layer, 1), sizeof(adm_layer));
    if (!p || !jobs || !p->layers) {
        adm_free(jobs);
        adm_packed_free(p);
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    }
    memcpy(p->layers, m->layers, (size_t)n_layer * sizeof(adm_layer));
    p->output = m->output;
    /* Every matrix to pack, in order, with its byte offset. */
    pack_ctx c = {NULL, jobs, 0, 0};
    size_t total = 0;
    for (int il = 0; il < n_layer; il++) {
        adm_weight *ws[N_LAYER_WEIGHTS] = LAYER_WEIGHTS(&p->layers[il]);
        for (int i = 0; i < N_LAYER_WEIGHTS; i++)
            if (packable(ws[i])) {
                jobs[c.n_jobs++] = (pack_job){ws[i], total};
                total += adm_pack16_bytes(ws[i]->n_in, ws[i]->n_out);
            }
    }
    if (packable(&p->output)) {
        jobs[c.n_jobs++] = (pack_job){&p->output, total};
        total += adm_pack16_bytes(p->output.n_in, p->output.n_out);
    }
    if (total == 0) {
        adm_free(jobs);
        adm_packed_free(p);
        return ADM_OK;
    }
    p->mem = adm_map_zeroed(total);
    if (!p->mem) {
        adm_free(jobs);
        adm_packed_free(p);
        return adm_fail(err, ADM_ERR_NOMEM, "cannot allocate %.1f MiB for the packed Q8_0 weights of a block-order engine",
                        (double)total / (1 << 20));
    }
    p->bytes = total;
    c.mem = p->mem;
    for (int j = 0; j < c.n_jobs; j++) {
        c.n_groups += (jobs[j].w->n_out + 15) / 16;
        jobs[j].w->pack16 = p->mem + jobs[j].off;
    }
    adm_pool_run(pool, pack_groups, &c);
    adm_free(jobs);
    *out = p;
    return ADM_OK;
}

void adm_packed_free(adm_packed *p) {
    if (!p) return;
    adm_unmap(p->mem, p->bytes);
    adm_free(p->layers);
    adm_free(p);
}
