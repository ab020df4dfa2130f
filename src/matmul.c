/*
 * matmul.c - see matmul.h. Work split: the output rows of all jobs form one
 * index space, cut into chunks of ROW_CHUNK rows that threads take in a
 * fixed round-robin order (deterministic, and balanced because every row
 * costs the same). Inside a chunk, tiles of gemm_nr rows x gemm_nc tokens
 * let the kernel reuse loaded weight blocks across tokens.
 */
#include "matmul.h"

#define ROW_CHUNK 16
#define ACT_BLOCK_BYTES ((size_t)256 * 1024)
/* Batches of two rows or more use the kernels' prepared columns where the
 * weight type has them, PREP_TB columns at a time: the weights of a
 * thread's rows pass once per PREP_TB tokens (through L3 mostly), each
 * 16-row chunk stays in L1 for the column groups, and the prepared block
 * (16 x 136 bytes per block of 32 values) stays in L2. 16 measured best on
 * Zen 4 against 32 and 64 (pp512 of Qwen2.5-0.5B Q8_0: 274 t/s, the tiles
 * 219). */
#define PREP_TB 16

size_t adm_matmul_scratch_size(int64_t n_in, int n_tok) {
    /* Q8_0/Q8_1/Q8_K rows are at most 36/32 bytes per value; f32 is 4. */
    return (size_t)n_tok * (size_t)n_in * sizeof(float) + 64 + (size_t)n_tok * adm_prep_size(n_in) + 64;
}

typedef struct mm_ctx {
    const adm_kernels *k;
    const adm_matmul_job *jobs;
    int n_jobs;
    const float *x;
    int64_t n_in;
    int n_tok;
    uint8_t *q;         /* quantized activations, n_tok rows of q_row bytes */
    size_t q_row;
    adm_type dot_type;
    int64_t total_rows;
    int64_t n_chunks;   /* of ROW_CHUNK rows, split among the slices */
    uint8_t *prep;      /* prepared columns (NULL: not used), for weights of prep_type */
    size_t prep_stride;
    adm_type prep_type;
} mm_ctx;

static void quantize_rows(void *arg, int ith, int nth) {
    mm_ctx *c = arg;
    int64_t lo, hi;
    adm_split_range(c->n_tok, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) {
        c->k->from_float[c->dot_type](c->x + t * c->n_in, c->q + (size_t)t * c->q_row, c->n_in);
        if (c->prep)
            c->k->prep[c->prep_type]((int)c->n_in, c->q + (size_t)t * c->q_row, c->prep + (size_t)t * c->prep_stride);
    }
}

static void run_rows(const mm_ctx *c, const adm_matmul_job *job, int64_t r0, int64_t r1) {
    const adm_weight *w = job->w;
    const adm_kernels *k = c->k;
    adm_gemm_fn gemm = k->gemm[w->type];
    adm_vec_dot_fn dot = k->vec_dot[w->type];
    const int n = (int)c->n_in;
    const int n_tok = job->n_tok ? job->n_tok : c->n_tok;
    const uint8_t *q = c->q + (size_t)job->x0 * c->q_row;
    const bool prepped = c->prep && w->type == c->prep_type;
    if (n_tok == 1 && !(prepped && k->block_sums)) {
        float *out = job->out;
        if (gemm) {
            for (int64_t r = r0; r < r1; r += k->gemm_nr) {
                int nr = (int)ADM_MIN((int64_t)k->gemm_nr, r1 - r);
                gemm(n, nr, 1, w->data + (size_t)r * w->row_size, w->row_size, q, c->q_row, out + r, 0);
            }
        } else {
            for (int64_t r = r0; r < r1; r++) dot(n, out + r, w->data + (size_t)r * w->row_size, q);
        }
        return;
    }
    if (prepped) {
        const uint8_t *prep = c->prep + (size_t)job->x0 * c->prep_stride;
        /* Packed weights for 2+ columns (bench_batch, Zen 4: 8 columns 5-20%
         * faster; one column, a pure DRAM stream, up to 10% slower), the
         * rows as they are for one; the same bits either way. Packed groups
         * start at rows that are multiples of 16 (ROW_CHUNK); a chunk that
         * does not (a job after one of 16k + j rows) reads the rows too. */
        const adm_gemm_pack16_fn packed =
            k->block_sums && w->pack16 && n_tok >= 2 ? k->gemm_pack16[w->type] : NULL;
        const size_t group = adm_pack16_group_bytes(n);
        for (int t0 = 0; t0 < n_tok; t0 += PREP_TB) {
            const int t1 = ADM_MIN(n_tok, t0 + PREP_TB);
            for (int64_t r = r0; r < r1; r += ROW_CHUNK) {
                const int nr = (int)ADM_MIN((int64_t)ROW_CHUNK, r1 - r);
                for (int t = t0; t < t1; t += ADM_TILE_MAX) {
                    const int nc = ADM_MIN(ADM_TILE_MAX, t1 - t);
                    const uint8_t *pt = prep + (size_t)t * c->prep_stride;
                    float *out = job->out + (size_t)t * job->ldo + (size_t)r;
                    if (packed && r % 16 == 0)
                        packed(n, nr, nc, w->pack16 + (size_t)(r / 16) * group, pt, c->prep_stride, out, job->ldo);
                    else
                        k->gemm_prep[w->type](n, nr, nc, w->data + (size_t)r * w->row_size, w->row_size, pt,
                                              c->prep_stride, out, job->ldo);
                }
            }
        }
        return;
    }
    const int tr = gemm ? k->gemm_nr : 1, tc = gemm ? k->gemm_nc : 1;
    /* Token blocks of about ACT_BLOCK_BYTES of quantized activations stay
     * in L2 while this thread's weight rows pass over them; without them a
     * long row (e.g. 4864 values, 5.5 KiB as Q8_K) times 512 tokens is
     * re-read from L3 for every row tile. The block is a multiple of tc,
     * so the tiles (and results) are the same as without blocking. */
    const int tb = (int)ADM_MAX((size_t)tc, ACT_BLOCK_BYTES / c->q_row / (size_t)tc * (size_t)tc);
    for (int t0 = 0; t0 < n_tok; t0 += tb) {
        const int t1 = ADM_MIN(n_tok, t0 + tb);
        for (int64_t r = r0; r < r1; r += tr) {
            int nr = (int)ADM_MIN((int64_t)tr, r1 - r);
            for (int t = t0; t < t1; t += tc) {
                int nc = ADM_MIN(tc, t1 - t);
                float *out = job->out + (size_t)t * job->ldo + (size_t)r;
                const uint8_t *a = q + (size_t)t * c->q_row;
                const uint8_t *wr = w->data + (size_t)r * w->row_size;
                if (gemm) gemm(n, nr, nc, wr, w->row_size, a, c->q_row, out, job->ldo);
                else adm_gemm_from_vec_dot(dot, n, nr, nc, wr, w->row_size, a, c->q_row, out, job->ldo);
            }
        }
    }
}

static void compute_rows(void *arg, int ith, int nth) {
    const mm_ctx *c = arg;
    /* Contiguous chunk ranges per slice keep a thread streaming one part of
     * the weights at a time (better for the hardware prefetcher than
     * striding). */
    int64_t lo, hi;
    adm_split_range(c->n_chunks, ith, nth, &lo, &hi);
    int64_t row = lo * ROW_CHUNK, end = ADM_MIN(hi * ROW_CHUNK, c->total_rows);
    int64_t base = 0;
    for (int j = 0; j < c->n_jobs && row < end; j++) {
        int64_t n_out = c->jobs[j].w->n_out;
        if (row < base + n_out) {
            int64_t r1 = ADM_MIN(end, base + n_out);
            run_rows(c, &c->jobs[j], row - base, r1 - base);
            row = r1;
        }
        base += n_out;
    }
}

void adm_matmul_multi(adm_pool *pool, const adm_kernels *k, const adm_matmul_job *jobs, int n_jobs, const float *x,
                      int n_tok, void *scratch) {
    mm_ctx c = {0};
    c.k = k;
    c.jobs = jobs;
    c.n_jobs = n_jobs;
    c.x = x;
    c.n_in = jobs[0].w->n_in;
    c.n_tok = n_tok;
    c.dot_type = adm_type_get_traits(jobs[0].w->type)->dot_type;
    c.q_row = adm_row_size(c.dot_type, c.n_in);
    c.q = scratch;
    bool wide = false; /* a job of 2+ columns: prepared columns pay */
    for (int j = 0; j < n_jobs; j++) {
        c.total_rows += jobs[j].w->n_out;
        wide |= (jobs[j].n_tok ? jobs[j].n_tok : n_tok) >= 2;
    }
    wide |= k->block_sums; /* one order for every column count */
    if (wide && k->prep[jobs[0].w->type] && k->gemm_prep[jobs[0].w->type]) {
        c.prep_type = jobs[0].w->type;
        c.prep_stride = adm_prep_size(c.n_in);
        c.prep = (uint8_t *)scratch + (((size_t)n_tok * c.q_row + 63) & ~(size_t)63);
    }
    if (n_tok >= 4 && adm_pool_size(pool) > 1) adm_pool_run(pool, quantize_rows, &c);
    else quantize_rows(&c, 0, 1);
    c.n_chunks = (c.total_rows + ROW_CHUNK - 1) / ROW_CHUNK;
    adm_pool_run_n(pool, compute_rows, &c,
                   (int)ADM_MIN(c.n_chunks, (int64_t)adm_pool_size(pool) * ADM_SLICES_PER_THREAD));
}

void adm_matmul(adm_pool *pool, const adm_kernels *k, const adm_weight *w, const float *x, int n_tok, float *out,
                size_t ldo, void *scratch) {
    adm_matmul_job job = {w, out, ldo, 0, 0};
    adm_matmul_multi(pool, k, &job, 1, x, n_tok, scratch);
}
