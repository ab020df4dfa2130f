/*
 * gguf.h - a validated, read-only view of a GGUF file (versions 2 and 3).
 *
 * adm_gguf_open maps a file and checks everything before anything else looks
 * at it: the header, every key/value pair (nested arrays included), the tensor
 * directory, alignment, and that every tensor lies inside the file. After a
 * successful open, every pointer in the view is in bounds, so later layers
 * (model loading, the tokenizer) need no bounds checks of their own.
 * Strings point into the file and are not NUL-terminated (adm_str).
 */
#ifndef ADM_GGUF_H
#define ADM_GGUF_H

#include "base.h"
#include "mapped_file.h"

typedef enum adm_gguf_type {
    ADM_GGUF_UINT8 = 0,
    ADM_GGUF_INT8 = 1,
    ADM_GGUF_UINT16 = 2,
    ADM_GGUF_INT16 = 3,
    ADM_GGUF_UINT32 = 4,
    ADM_GGUF_INT32 = 5,
    ADM_GGUF_FLOAT32 = 6,
    ADM_GGUF_BOOL = 7,
    ADM_GGUF_STRING = 8,
    ADM_GGUF_ARRAY = 9,
    ADM_GGUF_UINT64 = 10,
    ADM_GGUF_INT64 = 11,
    ADM_GGUF_FLOAT64 = 12,
    ADM_GGUF_TYPE_COUNT
} adm_gguf_type;

#define ADM_GGUF_DEFAULT_ALIGNMENT 32
#define ADM_GGUF_MAX_DIMS 4

typedef struct adm_str {
    const char *ptr;
    uint64_t len;
} adm_str;

typedef struct adm_gguf_value adm_gguf_value;
struct adm_gguf_value {
    adm_gguf_type type;
    union {
        uint64_t u;   /* UINT8..UINT64 */
        int64_t i;    /* INT8..INT64 */
        double f;     /* FLOAT32, FLOAT64 */
        bool b;
        adm_str s;
        struct {
            adm_gguf_type type;          /* element type */
            uint64_t n;
            const uint8_t *raw;          /* numeric/bool elements, packed little-endian */
            const adm_str *strs;         /* STRING elements */
            const adm_gguf_value *vals;  /* ARRAY elements (nested arrays) */
        } arr;
    };
};

typedef struct adm_gguf_kv {
    adm_str key;
    adm_gguf_value val;
} adm_gguf_kv;

typedef struct adm_gguf_tensor {
    char name[256];          /* NUL-terminated copy */
    adm_type type;
    int n_dims;
    int64_t ne[ADM_GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    uint64_t n_elements;
    uint64_t offset;         /* from the start of the data section */
    uint64_t size;           /* bytes */
    const uint8_t *data;     /* into the mapping */
} adm_gguf_tensor;

struct adm_gguf {
    const char *path;        /* for messages; borrowed from file or the caller */
    adm_mapped_file *file;   /* owned when opened with adm_gguf_open */
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    adm_gguf_kv *kv;
    uint64_t n_tensors;
    adm_gguf_tensor *tensors;
    uint64_t data_offset;    /* start of the tensor data section */
    void *mem;               /* owned allocations (arena list) */
    uint32_t *kv_index;      /* hash tables: slot -> index + 1, 0 = empty */
    uint32_t *tensor_index;
    uint64_t kv_index_size, tensor_index_size;
};

/* adm_gguf_open and adm_gguf_free are declared in adamas.h (public). */

/* Validates GGUF bytes held by the caller (they must outlive the view);
 * `name` is used in messages. */
adm_status adm_gguf_parse(const uint8_t *data, uint64_t size, const char *name, adm_gguf **out, adm_error *err);


/* Lookups (NULL when absent). */
const adm_gguf_kv *adm_gguf_find(const adm_gguf *g, const char *key);
const adm_gguf_tensor *adm_gguf_find_tensor(const adm_gguf *g, const char *name);

/* Typed getters for keys whose type is fixed by convention. Each returns
 * ADM_OK and sets *found=false when the key is absent; ADM_ERR_FORMAT with a
 * message naming the file and key when it is present with the wrong type or
 * an out-of-range value. Integers of any width and signedness are accepted
 * when the value fits. */
adm_status adm_gguf_get_int(const adm_gguf *g, const char *key, int64_t lo, int64_t hi, int64_t *out, bool *found,
                            adm_error *err);
adm_status adm_gguf_get_float(const adm_gguf *g, const char *key, double *out, bool *found, adm_error *err);
adm_status adm_gguf_get_bool(const adm_gguf *g, const char *key, bool *out, bool *found, adm_error *err);
adm_status adm_gguf_get_str(const adm_gguf *g, const char *key, adm_str *out, bool *found, adm_error *err);
/* An array whose elements have type elem_type; ADM_GGUF_INT64 accepts any
 * integer element type and ADM_GGUF_FLOAT64 accepts float32 too. */
adm_status adm_gguf_get_arr(const adm_gguf *g, const char *key, adm_gguf_type elem_type, const adm_gguf_value **out,
                            bool *found, adm_error *err);

/* Element i of a numeric array as int64/double (the array is validated). */
int64_t adm_gguf_arr_int(const adm_gguf_value *arr, uint64_t i);
double adm_gguf_arr_float(const adm_gguf_value *arr, uint64_t i);

/* Size in bytes of one element of a fixed-size type, 0 for STRING/ARRAY. */
size_t adm_gguf_type_size(adm_gguf_type t);
const char *adm_gguf_type_name(adm_gguf_type t);
bool adm_gguf_type_is_int(adm_gguf_type t);

/* Compares an adm_str with a C string. */
static inline bool adm_str_eq(adm_str a, const char *b) {
    size_t n = strlen(b);
    return a.len == n && memcmp(a.ptr, b, n) == 0;
}

#endif
