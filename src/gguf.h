/*
 * gguf.h — GGUF reader and writer (internal).
 *
 * Format (v2 and v3; all integers little-endian):
 *   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv × { string key | u32 value_type | value }
 *   n_tensors × { string name | u32 n_dims (1..4) | u64 ne[n_dims] | u32 type | u64 offset }
 *   padding to `general.alignment` (default 32) | tensor data (each tensor at its offset,
 *   relative to the start of the data section, aligned)
 *   string = u64 len | len bytes (no NUL); array = u32 elem_type | u64 count | elems
 *
 * Invariants the reader guarantees on success (the file is hostile input):
 *   - every string, array and tensor lies inside the mapped file; counts and sizes were
 *     checked with overflow guards before any allocation or access;
 *   - every tensor has 1..4 dims, ne[i] >= 1 (n_dims padded with 1), a known type whose
 *     block size divides ne[0], and data_size == r1_row_size(type, ne[0]) * rows;
 *   - tensor names are unique.
 * Split models ("name-00001-of-0000N.gguf"): gguf_open on part 1 opens every part
 * (key split.count), metadata comes from part 1, tensors from all parts.
 */
#ifndef R1_GGUF_H
#define R1_GGUF_H

#include "common.h"
#include "quant.h"
#include <stdbool.h>

typedef enum gguf_vtype {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4,
    GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9,
    GGUF_UINT64 = 10, GGUF_INT64 = 11, GGUF_FLOAT64 = 12,
} gguf_vtype;

/* A string inside the mapped file: NOT NUL-terminated. */
typedef struct gguf_str { const char *ptr; uint64_t len; } gguf_str;

typedef struct gguf_kv {
    char      *key;        /* NUL-terminated copy                                    */
    gguf_vtype type;
    /* scalars (type != ARRAY): the value, widened */
    union { uint64_t u; int64_t i; double f; bool b; gguf_str s; } v;
    /* arrays (type == ARRAY) */
    gguf_vtype arr_type;
    uint64_t   arr_n;
    const void *arr_data;  /* numeric arrays: raw little-endian elements in the map   */
    gguf_str   *arr_str;   /* string arrays: arr_n entries                            */
    /* arrays: bytes of the elements as stored in the file (from arr_data). Arrays of
     * arrays are bounds-checked but opaque: arr_type == ARRAY, arr_data + arr_bytes
     * hold the encoded inner arrays (each: u32 type | u64 count | elems). */
    uint64_t    arr_bytes;
} gguf_kv;

typedef struct gguf_tensor {
    char       *name;      /* NUL-terminated copy */
    int         n_dims;
    int64_t     ne[4];     /* ne[0] = row length (contiguous); unused dims are 1      */
    r1_type     type;
    size_t      nbytes;
    const void *data;      /* in the map */
} gguf_tensor;

typedef struct gguf_file gguf_file;

r1_status gguf_open(const char *path, gguf_file **out, r1_error *err);
void      gguf_close(gguf_file *f);

uint32_t        gguf_version(const gguf_file *f);
uint64_t        gguf_file_bytes(const gguf_file *f);      /* sum over all parts */
int64_t         gguf_n_kv(const gguf_file *f);
const gguf_kv  *gguf_kv_at(const gguf_file *f, int64_t i);
const gguf_kv  *gguf_find_kv(const gguf_file *f, const char *key);  /* NULL if absent */
int64_t             gguf_n_tensors(const gguf_file *f);
const gguf_tensor  *gguf_tensor_at(const gguf_file *f, int64_t i);
const gguf_tensor  *gguf_find_tensor(const gguf_file *f, const char *name); /* NULL if absent */

/* ---- tensor data in anonymous huge-page memory -----------------------------------
 * gguf_load_anon copies the data of the wanted tensors (all when want is NULL) out of the
 * file into one anonymous, 2 MiB-aligned region advised MADV_HUGEPAGE (pread, n_threads
 * readers, <= 16 MiB per read; EINTR and short reads handled), makes it read-only and
 * points those tensors' `data` at it; other tensors and all metadata stay in the map.
 * Decode reads every weight once per token: with 4 KiB page-cache pages the TLB misses,
 * not DRAM bandwidth, bounded it (docs/engine.md). Each tensor keeps its file alignment
 * (at least 64 bytes). Nothing changes, *copied = false and note says why (R1_OK), when:
 * THP is "never" or absent, the copy (+1/16 + 256 MiB) exceeds MemAvailable, or the
 * region cannot be allocated/advised — the caller then uses the map as before. A read
 * error, or a file replaced/resized since gguf_open (same path, other inode/size), is
 * R1_ERR_IO with the tensors still in the map. progress (loading thread only): 0 first,
 * after each read, total last (bytes of the copied tensors). gguf_close frees the copy. */
typedef struct gguf_anon_opts {
    bool (*want)(void *user, const gguf_tensor *t);   /* NULL: every tensor             */
    void *want_user;
    void (*progress)(void *user, uint64_t done, uint64_t total);   /* optional           */
    void *progress_user;
    int   n_threads;                                  /* readers, 1..8 (<= 1: one)      */
} gguf_anon_opts;
r1_status gguf_load_anon(gguf_file *f, const gguf_anon_opts *o, bool *copied, char *note, size_t note_len,
                         r1_error *err);
size_t    gguf_anon_bytes(const gguf_file *f);   /* size of the copy (0: none)          */
/* Whether p lies in the copy (the caller owns that memory: it may rewrite it in place
 * between gguf_anon_writable(f, true) and (f, false), e.g. to repack weights at load). */
bool      gguf_anon_owns(const gguf_file *f, const void *p, size_t n);
/* Makes the copy writable (true) or read-only again (false); false if there is no copy or
 * mprotect failed. */
bool      gguf_anon_writable(gguf_file *f, bool writable);

/* Typed getters: return false if absent or not convertible (ints of any width that fit,
 * float32/64 for get_f32/f64). Missing keys leave *out unchanged. */
bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
bool gguf_get_f32(const gguf_file *f, const char *key, float *out);
bool gguf_get_bool(const gguf_file *f, const char *key, bool *out);
/* String value as a malloc'd NUL-terminated copy (NULL if absent/not a string). */
char *gguf_get_str_dup(const gguf_file *f, const char *key);
/* Element i of a numeric array as int64/double; false if out of range or wrong kind. */
bool gguf_arr_i64(const gguf_kv *kv, uint64_t i, int64_t *out);
bool gguf_arr_f64(const gguf_kv *kv, uint64_t i, double *out);

/* ---- writer ---------------------------------------------------------------------
 * Collects metadata and tensors, then writes a v3 file. Tensor data is referenced,
 * not copied: it must stay valid until gguf_writer_write returns. The file is written
 * to "<path>.tmp" and renamed to path only when complete (no half-written files). */
typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_create(void);               /* NULL on OOM */
void         gguf_writer_free(gguf_writer *w);
/* Setters replace an existing key of the same name. Return R1_OK, R1_ERR_NOMEM, or
 * R1_ERR_INVALID_ARG (empty key, NULL string, non-scalar array element type). */
r1_status gguf_set_u16(gguf_writer *w, const char *key, uint16_t v);  /* e.g. split.no / split.count */
r1_status gguf_set_u32(gguf_writer *w, const char *key, uint32_t v);
r1_status gguf_set_i32(gguf_writer *w, const char *key, int32_t v);
r1_status gguf_set_u64(gguf_writer *w, const char *key, uint64_t v);
r1_status gguf_set_f32(gguf_writer *w, const char *key, float v);
r1_status gguf_set_bool(gguf_writer *w, const char *key, bool v);
r1_status gguf_set_str(gguf_writer *w, const char *key, const char *v);
/* Numeric array: elem_type is a scalar vtype, data holds n little-endian elements. */
r1_status gguf_set_arr(gguf_writer *w, const char *key, gguf_vtype elem_type, const void *data, uint64_t n);
r1_status gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Copies every key/value of f (later setters override them in place), except split.*
 * keys, which describe f's parts; arrays of arrays are copied verbatim. */
r1_status gguf_set_all_from(gguf_writer *w, const gguf_file *f);
/* ne has n_dims entries (ne[0] = row length). nbytes must equal r1_row_size × rows. */
r1_status gguf_add_tensor(gguf_writer *w, const char *name, r1_type type, int n_dims,
                          const int64_t *ne, const void *data, size_t nbytes, r1_error *err);
/* Same, but the data is produced at write time (streaming: quantize never holds the
 * whole output in memory): produce(user, dst, nbytes, err) fills dst. */
typedef r1_status (*gguf_produce_fn)(void *user, void *dst, size_t nbytes, r1_error *err);
r1_status gguf_add_tensor_lazy(gguf_writer *w, const char *name, r1_type type, int n_dims,
                               const int64_t *ne, size_t nbytes, gguf_produce_fn produce,
                               void *user, r1_error *err);
r1_status gguf_writer_write(gguf_writer *w, const char *path, r1_error *err);

#endif
