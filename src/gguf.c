/*
 * gguf.c — GGUF v2/v3 reader (mmap, hostile-input safe) and v3 writer.
 *
 * Layout (see gguf.h for the byte format). The reader maps each file read-only
 * (MAP_PRIVATE) and parses it with a bounds-checked cursor: every read first checks
 * that the bytes lie inside the map, every count is bounded by the bytes left before
 * anything is allocated (an element needs at least 1 byte, a string 8, a tensor info
 * 32), and every size product goes through overflow-checked arithmetic. Strings and
 * numeric arrays point into the map; keys and tensor names are NUL-terminated copies.
 *
 * Invariants after a successful gguf_open (beyond those listed in gguf.h):
 *   - general.alignment, if present, is a u32 power of two (default 32); each tensor's
 *     offset is a multiple of it and data = map + align_up(end of tensor infos) + offset;
 *   - keys are unique within a part; tensor names are unique across all parts;
 *   - arrays of arrays are validated recursively (depth <= GGUF_MAX_DEPTH) and exposed
 *     opaquely (arr_type == GGUF_ARRAY, arr_data/arr_bytes).
 * Split models: part 1 (path "<prefix>-00001-of-000NN.gguf") carries split.count = N;
 * parts 2..N are "<prefix>-0000k-of-000NN.gguf", each a complete GGUF file whose
 * metadata is validated but not exposed (only part 1's is); split.no, when present,
 * must equal k-1.
 *
 * gguf_load_anon (see gguf.h) can afterwards move tensor data into one anonymous,
 * 2 MiB-aligned MADV_HUGEPAGE region, read with pread from the same files.
 *
 * The writer keeps each key/value pre-encoded (type + value bytes) and a list of tensor
 * descriptions whose data is either borrowed memory or a producer callback; write()
 * streams header, metadata, tensor infos and the (aligned) data into "<path>.tmp" with
 * a 1 MiB buffer, fsyncs and renames. Lazy tensors are produced one at a time into a
 * single reused buffer (peak extra memory = the largest lazy tensor).
 */
#include "gguf.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u   /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGN 32
#define GGUF_MAX_DEPTH 8         /* nesting limit for arrays of arrays                 */
#define GGUF_MAX_NAME 65535      /* longest key / tensor name accepted                 */
#define GGUF_MAX_PARTS 9999

/* ---- name index: open addressing hash of strings → index ---------------------- */
typedef struct name_index { int64_t *slot; size_t cap; } name_index; /* slot: -1 = empty */

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Builds an index of n names (name(i) gives name i). Returns R1_ERR_FORMAT with *dup set
 * to the duplicate's index if two names are equal, R1_ERR_NOMEM on OOM. */
static r1_status index_build(name_index *ix, int64_t n, const char *(*name)(const void *, int64_t),
                             const void *ctx, int64_t *dup) {
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    ix->slot = malloc(cap * sizeof *ix->slot);
    if (!ix->slot) return R1_ERR_NOMEM;
    ix->cap = cap;
    for (size_t i = 0; i < cap; i++) ix->slot[i] = -1;
    for (int64_t i = 0; i < n; i++) {
        const char *s = name(ctx, i);
        size_t h = (size_t)fnv1a(s) & (cap - 1);
        while (ix->slot[h] >= 0) {
            if (strcmp(name(ctx, ix->slot[h]), s) == 0) { *dup = i; return R1_ERR_FORMAT; }
            h = (h + 1) & (cap - 1);
        }
        ix->slot[h] = i;
    }
    return R1_OK;
}

static int64_t index_find(const name_index *ix, const char *s,
                          const char *(*name)(const void *, int64_t), const void *ctx) {
    if (!ix->slot) return -1;
    size_t h = (size_t)fnv1a(s) & (ix->cap - 1);
    while (ix->slot[h] >= 0) {
        if (strcmp(name(ctx, ix->slot[h]), s) == 0) return ix->slot[h];
        h = (h + 1) & (ix->cap - 1);
    }
    return -1;
}

/* ---- reader data structures --------------------------------------------------- */
typedef struct gguf_part {
    char          *path;
    const uint8_t *map;     /* size bytes, or NULL for an empty file */
    size_t         size;
    size_t         align;   /* general.alignment of this part (tensor offsets are multiples) */
    dev_t          dev;     /* identity of the mapped file: gguf_load_anon re-opens the    */
    ino_t          ino;     /* path and refuses a different file                          */
} gguf_part;

struct gguf_file {
    uint32_t     version;        /* of part 1 */
    gguf_part   *parts;  int n_parts;
    uint8_t     *anon;   size_t anon_len;   /* gguf_load_anon's copy (NULL: none)   */
    gguf_kv     *kv;     int64_t n_kv;      /* part 1's metadata */
    gguf_tensor *t;      int64_t n_t, cap_t;
    name_index   kv_ix, t_ix;
};

/* Bounds-checked cursor over one mapped part. */
typedef struct cursor {
    const uint8_t *p;
    size_t size, off;
    const char *path;
    r1_error *err;
} cursor;

static r1_status truncated(cursor *c, const char *what) {
    return r1_set_error(c->err, R1_ERR_FORMAT, "%s: truncated file: %s at byte %zu runs past the end (size %zu)",
                        c->path, what, c->off, c->size);
}

static size_t left(const cursor *c) { return c->size - c->off; }

static r1_status rd_bytes(cursor *c, void *dst, size_t n, const char *what) {
    if (left(c) < n) return truncated(c, what);
    memcpy(dst, c->p + c->off, n);
    c->off += n;
    return R1_OK;
}
static r1_status rd_u32(cursor *c, uint32_t *v, const char *what) { return rd_bytes(c, v, 4, what); }
static r1_status rd_u64(cursor *c, uint64_t *v, const char *what) { return rd_bytes(c, v, 8, what); }

static r1_status rd_str(cursor *c, gguf_str *s, const char *what) {
    uint64_t len = 0;
    r1_status st = rd_u64(c, &len, what);
    if (st) return st;
    if (len > left(c)) {
        c->off -= 8;
        return r1_set_error(c->err, R1_ERR_FORMAT, "%s: %s at byte %zu has length %llu past the end of the file (size %zu)",
                            c->path, what, c->off, (unsigned long long)len, c->size);
    }
    s->ptr = (const char *)c->p + c->off;
    s->len = len;
    c->off += (size_t)len;
    return R1_OK;
}

/* Copies a key/name string: rejects embedded NULs and absurd lengths. */
static r1_status dup_name(cursor *c, const gguf_str *s, const char *what, char **out) {
    if (s->len == 0 || s->len > GGUF_MAX_NAME || memchr(s->ptr, 0, (size_t)s->len))
        return r1_set_error(c->err, R1_ERR_FORMAT, "%s: %s before byte %zu is empty, too long or contains NUL",
                            c->path, what, c->off);
    *out = malloc((size_t)s->len + 1);
    if (!*out) return r1_set_error(c->err, R1_ERR_NOMEM, "%s: out of memory", c->path);
    memcpy(*out, s->ptr, (size_t)s->len);
    (*out)[s->len] = 0;
    return R1_OK;
}

static size_t scalar_size(uint32_t t) {
    switch (t) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* Reads one scalar of type t into kv->v (widened). */
static r1_status rd_scalar(cursor *c, uint32_t t, gguf_kv *kv, const char *key) {
    uint8_t b[8];
    size_t n = scalar_size(t);
    r1_status st = rd_bytes(c, b, n, "metadata value");
    if (st) return st;
    (void)key;
    switch (t) {
    case GGUF_UINT8: kv->v.u = b[0]; break;
    case GGUF_INT8: kv->v.i = (int8_t)b[0]; break;
    case GGUF_BOOL: kv->v.b = b[0] != 0; break;
    case GGUF_UINT16: { uint16_t x; memcpy(&x, b, 2); kv->v.u = x; break; }
    case GGUF_INT16: { int16_t x; memcpy(&x, b, 2); kv->v.i = x; break; }
    case GGUF_UINT32: { uint32_t x; memcpy(&x, b, 4); kv->v.u = x; break; }
    case GGUF_INT32: { int32_t x; memcpy(&x, b, 4); kv->v.i = x; break; }
    case GGUF_FLOAT32: { float x; memcpy(&x, b, 4); kv->v.f = x; break; }
    case GGUF_UINT64: { uint64_t x; memcpy(&x, b, 8); kv->v.u = x; break; }
    case GGUF_INT64: { int64_t x; memcpy(&x, b, 8); kv->v.i = x; break; }
    case GGUF_FLOAT64: { double x; memcpy(&x, b, 8); kv->v.f = x; break; }
    }
    return R1_OK;
}

/* Skips (validating) the elements of an array of elem_type × n; used for nested arrays.
 * depth counts enclosing arrays. */
static r1_status skip_array(cursor *c, uint32_t elem_type, uint64_t n, int depth, const char *key) {
    if (depth > GGUF_MAX_DEPTH)
        return r1_set_error(c->err, R1_ERR_FORMAT, "%s: key '%s': arrays nested deeper than %d", c->path, key, GGUF_MAX_DEPTH);
    size_t es = scalar_size(elem_type);
    if (es) {
        if (n > left(c) / es) return truncated(c, "array elements");
        c->off += (size_t)n * es;
        return R1_OK;
    }
    if (elem_type == GGUF_STRING) {
        if (n > left(c) / 8) return truncated(c, "string array");
        for (uint64_t i = 0; i < n; i++) {
            gguf_str s;
            r1_status st = rd_str(c, &s, "array string");
            if (st) return st;
        }
        return R1_OK;
    }
    if (elem_type == GGUF_ARRAY) {
        if (n > left(c) / 12) return truncated(c, "nested array");
        for (uint64_t i = 0; i < n; i++) {
            uint32_t t; uint64_t m;
            r1_status st;
            if ((st = rd_u32(c, &t, "nested array type")) || (st = rd_u64(c, &m, "nested array count"))) return st;
            if ((st = skip_array(c, t, m, depth + 1, key))) return st;
        }
        return R1_OK;
    }
    return r1_set_error(c->err, R1_ERR_FORMAT, "%s: key '%s': unknown array element type %u", c->path, key, elem_type);
}

static r1_status rd_kv(cursor *c, gguf_kv *kv) {
    gguf_str ks;
    uint32_t t;
    r1_status st = rd_str(c, &ks, "metadata key");
    if (st || (st = dup_name(c, &ks, "metadata key", &kv->key))) return st;
    if ((st = rd_u32(c, &t, "metadata value type"))) return st;
    if (scalar_size(t)) { kv->type = (gguf_vtype)t; return rd_scalar(c, t, kv, kv->key); }
    if (t == GGUF_STRING) { kv->type = GGUF_STRING; return rd_str(c, &kv->v.s, "string value"); }
    if (t != GGUF_ARRAY)
        return r1_set_error(c->err, R1_ERR_FORMAT, "%s: key '%s' has unknown value type %u", c->path, kv->key, t);
    kv->type = GGUF_ARRAY;
    uint32_t et; uint64_t n;
    if ((st = rd_u32(c, &et, "array type")) || (st = rd_u64(c, &n, "array count"))) return st;
    kv->arr_n = n;
    size_t start = c->off;
    kv->arr_data = c->p + start;
    if (scalar_size(et) || et == GGUF_ARRAY) {
        kv->arr_type = (gguf_vtype)et;
        st = skip_array(c, et, n, 1, kv->key);
    } else if (et == GGUF_STRING) {
        kv->arr_type = GGUF_STRING;
        if (n > left(c) / 8) return truncated(c, "string array");
        if (n) {
            kv->arr_str = malloc((size_t)n * sizeof *kv->arr_str);
            if (!kv->arr_str) return r1_set_error(c->err, R1_ERR_NOMEM, "%s: out of memory", c->path);
        }
        for (uint64_t i = 0; i < n && !st; i++) st = rd_str(c, &kv->arr_str[i], "array string");
    } else {
        return r1_set_error(c->err, R1_ERR_FORMAT, "%s: key '%s': unknown array element type %u", c->path, kv->key, et);
    }
    if (st) return st;
    kv->arr_bytes = c->off - start;
    return R1_OK;
}

static void free_kvs(gguf_kv *kv, int64_t n) {
    for (int64_t i = 0; kv && i < n; i++) { free(kv[i].key); free(kv[i].arr_str); }
    free(kv);
}

static const char *kv_name(const void *ctx, int64_t i) { return ((const gguf_kv *)ctx)[i].key; }
static const char *t_name(const void *ctx, int64_t i) { return ((const gguf_tensor *)ctx)[i].name; }

static const gguf_kv *find_kv_in(const gguf_kv *kv, int64_t n, const char *key) {
    for (int64_t i = 0; i < n; i++) if (strcmp(kv[i].key, key) == 0) return &kv[i];
    return NULL;
}

/* Integer value of a scalar kv (any int width), false if not an int or out of int64. */
static bool kv_int(const gguf_kv *kv, int64_t *out) {
    switch (kv->type) {
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_UINT64:
        if (kv->v.u > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)kv->v.u; return true;
    case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64:
        *out = kv->v.i; return true;
    default: return false;
    }
}

static r1_status map_file(const char *path, gguf_part *part, r1_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);  /* a FIFO must not block */
    if (fd < 0) return r1_set_error(err, R1_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return r1_set_error(err, R1_ERR_IO, "%s: not a regular file", path);
    }
    part->size = (size_t)sb.st_size;
    part->dev = sb.st_dev;
    part->ino = sb.st_ino;
    part->map = NULL;
    if (part->size > 0) {
        void *m = mmap(NULL, part->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return r1_set_error(err, R1_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        }
        part->map = m;
    }
    close(fd);
    return R1_OK;
}

/* Ensures *p (an array of *cap elements of size elem) holds at least need elements,
 * doubling, so that a hostile count only costs memory as entries are actually parsed. */
static bool grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return true;
    int64_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *np = realloc(*p, (size_t)c * elem);
    if (!np) return false;
    *p = np;
    *cap = c;
    return true;
}

/* Parses one mapped part: header, metadata (returned in kv_out and n_kv_out; the caller frees),
 * tensor infos (appended to f->t). */
static r1_status parse_part(gguf_file *f, gguf_part *part, uint32_t *version, gguf_kv **kv_out,
                            int64_t *n_kv_out, r1_error *err) {
    cursor c = { part->map, part->size, 0, part->path, err };
    uint32_t magic, ver;
    uint64_t n_t, n_kv;
    r1_status st;
    *kv_out = NULL; *n_kv_out = 0;
    if (part->size < 4 || (memcpy(&magic, part->map, 4), magic != GGUF_MAGIC))
        return r1_set_error(err, R1_ERR_FORMAT, "%s: not a GGUF file (bad magic)", part->path);
    c.off = 4;
    if ((st = rd_u32(&c, &ver, "version"))) return st;
    if (ver == 1)
        return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: GGUF version 1 is not supported (only 2 and 3)", part->path);
    if (ver != 2 && ver != 3) {
        if ((ver & 0xffff) == 0)
            return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: big-endian GGUF files are not supported", part->path);
        return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: unsupported GGUF version %u (only 2 and 3)", part->path, ver);
    }
    *version = ver;
    if ((st = rd_u64(&c, &n_t, "tensor count")) || (st = rd_u64(&c, &n_kv, "metadata count"))) return st;
    /* a key/value needs >= 8 (key len) + 1 + 4 (type) + 1 bytes; a tensor info >= 33 */
    if (n_kv > left(&c) / 14)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: metadata count %llu is impossible for a file of %zu bytes",
                            part->path, (unsigned long long)n_kv, part->size);
    if (n_t > left(&c) / 33)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: tensor count %llu is impossible for a file of %zu bytes",
                            part->path, (unsigned long long)n_t, part->size);
    gguf_kv *kv = NULL;
    int64_t cap_kv = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (!grow((void **)&kv, &cap_kv, (int64_t)i + 1, sizeof *kv))
            return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", part->path);
        *kv_out = kv;
        memset(&kv[i], 0, sizeof kv[i]);
        *n_kv_out = (int64_t)i + 1;
        if ((st = rd_kv(&c, &kv[i]))) return st;
    }
    {   /* duplicate keys (hash index, linear time) */
        name_index ix = {0};
        int64_t dup = -1;
        st = index_build(&ix, (int64_t)n_kv, kv_name, kv, &dup);
        free(ix.slot);
        if (st == R1_ERR_NOMEM) return r1_set_error(err, st, "%s: out of memory", part->path);
        if (st) return r1_set_error(err, st, "%s: duplicate metadata key '%s'", part->path, kv[dup].key);
    }
    /* alignment */
    uint64_t align = GGUF_DEFAULT_ALIGN;
    const gguf_kv *ak = find_kv_in(kv, (int64_t)n_kv, "general.alignment");
    if (ak) {
        if (ak->type != GGUF_UINT32 || ak->v.u == 0 || (ak->v.u & (ak->v.u - 1)))
            return r1_set_error(err, R1_ERR_FORMAT, "%s: general.alignment must be a u32 power of two", part->path);
        align = ak->v.u;
    }
    part->align = (size_t)align;
    /* tensor infos */
    int64_t first = f->n_t, cap_offs = 0;
    uint64_t *offs = NULL;
    for (uint64_t i = 0; i < n_t; i++) {
        if (!grow((void **)&f->t, &f->cap_t, f->n_t + 1, sizeof *f->t) ||
            !grow((void **)&offs, &cap_offs, (int64_t)i + 1, sizeof *offs)) {
            st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", part->path);
            goto out;
        }
        gguf_tensor *t = &f->t[f->n_t];
        memset(t, 0, sizeof *t);
        gguf_str ns;
        uint32_t nd, type;
        if ((st = rd_str(&c, &ns, "tensor name")) || (st = dup_name(&c, &ns, "tensor name", &t->name))) goto out;
        f->n_t++;
        if ((st = rd_u32(&c, &nd, "tensor n_dims"))) goto out;
        if (nd < 1 || nd > 4) {
            st = r1_set_error(err, R1_ERR_FORMAT, "%s: tensor '%s' has %u dimensions (must be 1..4)", part->path, t->name, nd);
            goto out;
        }
        t->n_dims = (int)nd;
        uint64_t nel = 1;
        for (int d = 0; d < 4; d++) {
            uint64_t ne = 1;
            if ((uint32_t)d < nd && (st = rd_u64(&c, &ne, "tensor shape"))) goto out;
            if (ne < 1 || ne > (uint64_t)INT64_MAX || __builtin_mul_overflow(nel, ne, &nel) || nel > (uint64_t)INT64_MAX) {
                st = r1_set_error(err, R1_ERR_FORMAT, "%s: tensor '%s' has an invalid or overflowing shape (dim %d = %llu)",
                                  part->path, t->name, d, (unsigned long long)ne);
                goto out;
            }
            t->ne[d] = (int64_t)ne;
        }
        if ((st = rd_u32(&c, &type, "tensor type")) || (st = rd_u64(&c, &offs[i], "tensor offset"))) goto out;
        /* the internal repacked type is never valid in a file */
        const r1_type_traits *tr =
            type < R1_TYPE_COUNT_ && type != R1_TYPE_Q8_0_R16 ? r1_type_get_traits((r1_type)type) : NULL;
        if (!tr) {
            st = r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: tensor '%s' has unknown or unsupported type id %u",
                              part->path, t->name, type);
            goto out;
        }
        t->type = (r1_type)type;
        if (t->ne[0] % tr->blck_size) {
            st = r1_set_error(err, R1_ERR_FORMAT, "%s: tensor '%s' row length %lld is not a multiple of the %s block size %d",
                              part->path, t->name, (long long)t->ne[0], tr->name, tr->blck_size);
            goto out;
        }
        size_t row = r1_row_size(t->type, t->ne[0]), rows, nbytes;
        if (!r1_mul_ok((size_t)t->ne[1], (size_t)t->ne[2], &rows) || !r1_mul_ok(rows, (size_t)t->ne[3], &rows) ||
            row == 0 || !r1_mul_ok(row, rows, &nbytes)) {
            st = r1_set_error(err, R1_ERR_FORMAT, "%s: tensor '%s' size overflows", part->path, t->name);
            goto out;
        }
        t->nbytes = nbytes;
        if (offs[i] % align) {
            st = r1_set_error(err, R1_ERR_FORMAT, "%s: tensor '%s' offset %llu is not a multiple of the alignment %llu",
                              part->path, t->name, (unsigned long long)offs[i], (unsigned long long)align);
            goto out;
        }
    }
    /* data section: starts at the next multiple of align */
    size_t data_start = c.off, pad = (size_t)(align - (c.off % align)) % (size_t)align;
    if (!r1_add_ok(data_start, pad, &data_start)) { st = truncated(&c, "data section"); goto out; }
    for (uint64_t i = 0; i < n_t; i++) {
        gguf_tensor *t = &f->t[first + (int64_t)i];
        size_t beg, end;
        if (offs[i] > SIZE_MAX || !r1_add_ok(data_start, (size_t)offs[i], &beg) || !r1_add_ok(beg, t->nbytes, &end) ||
            end > part->size) {
            unsigned long long b0, b1;
            if (__builtin_add_overflow((unsigned long long)data_start, offs[i], &b0) ||
                __builtin_add_overflow(b0, (unsigned long long)t->nbytes, &b1))
                st = r1_set_error(err, R1_ERR_FORMAT, "%s: tensor '%s' data offset %llu lies past the end of the file (size %zu)",
                                  part->path, t->name, (unsigned long long)offs[i], part->size);
            else
                st = r1_set_error(err, R1_ERR_FORMAT, "%s: tensor '%s' data [%llu..%llu) lies past the end of the file (size %zu)",
                                  part->path, t->name, b0, b1, part->size);
            goto out;
        }
        t->data = part->map + beg;
    }
    st = R1_OK;
out:
    free(offs);
    return st;
}

/* If path ends in "-NNNNN-of-MMMMM.gguf", sets *prefix_len to the length before the dash
 * and returns true. */
static bool split_name(const char *path, size_t *prefix_len) {
    size_t n = strlen(path);
    const char *tail = "-00000-of-00000.gguf";
    size_t tl = strlen(tail);
    if (n < tl) return false;
    const char *s = path + n - tl;
    for (size_t i = 0; i < tl; i++) {
        if (tail[i] == '0') { if (s[i] < '0' || s[i] > '9') return false; }
        else if (s[i] != tail[i]) return false;
    }
    *prefix_len = n - tl;
    return true;
}

static r1_status add_part(gguf_file *f, const char *path, r1_error *err) {
    gguf_part *np = realloc(f->parts, (size_t)(f->n_parts + 1) * sizeof *np);
    if (!np) return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path);
    f->parts = np;
    gguf_part *p = &f->parts[f->n_parts];
    memset(p, 0, sizeof *p);
    p->path = strdup(path);
    if (!p->path) return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path);
    f->n_parts++;
    return map_file(path, p, err);
}

r1_status gguf_open(const char *path, gguf_file **out, r1_error *err) {
    *out = NULL;
    if (!path) return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf_open: NULL path");
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path);
    r1_status st;
    char *pp = NULL;
    if ((st = add_part(f, path, err))) goto fail;
    if ((st = parse_part(f, &f->parts[0], &f->version, &f->kv, &f->n_kv, err))) goto fail;
    const gguf_kv *sc = find_kv_in(f->kv, f->n_kv, "split.count");
    int64_t n_split = 1;
    if (sc && (!kv_int(sc, &n_split) || n_split < 1 || n_split > GGUF_MAX_PARTS)) {
        st = r1_set_error(err, R1_ERR_FORMAT, "%s: split.count must be an integer in 1..%d", path, GGUF_MAX_PARTS);
        goto fail;
    }
    if (n_split > 1) {
        size_t plen;
        int64_t no = 0;
        const gguf_kv *sn = find_kv_in(f->kv, f->n_kv, "split.no");
        if (sn && (!kv_int(sn, &no) || no != 0)) {
            st = r1_set_error(err, R1_ERR_FORMAT, "%s: split.no is not 0: open the first part of a split model", path);
            goto fail;
        }
        if (!split_name(path, &plen)) {
            st = r1_set_error(err, R1_ERR_FORMAT, "%s: split.count = %lld but the name is not <prefix>-00001-of-%05lld.gguf",
                              path, (long long)n_split, (long long)n_split);
            goto fail;
        }
        pp = malloc(plen + 64);
        if (!pp) { st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); goto fail; }
        for (int64_t k = 2; k <= n_split; k++) {
            memcpy(pp, path, plen);
            snprintf(pp + plen, 64, "-%05lld-of-%05lld.gguf", (long long)k, (long long)n_split);
            if ((st = add_part(f, pp, err))) {
                if (st == R1_ERR_IO)
                    r1_set_error(err, R1_ERR_IO, "%s: split part %lld of %lld missing or unreadable: %s", path,
                                 (long long)k, (long long)n_split, pp);
                goto fail;
            }
            gguf_kv *pkv; int64_t pn; uint32_t pv;
            st = parse_part(f, &f->parts[f->n_parts - 1], &pv, &pkv, &pn, err);
            if (!st) {
                const gguf_kv *pno = find_kv_in(pkv, pn, "split.no");
                if (pno && (!kv_int(pno, &no) || no != k - 1))
                    st = r1_set_error(err, R1_ERR_FORMAT, "%s: split.no is not %lld", pp, (long long)(k - 1));
            }
            free_kvs(pkv, pn);
            if (st) goto fail;
        }
    }
    int64_t dup = -1;
    if ((st = index_build(&f->kv_ix, f->n_kv, kv_name, f->kv, &dup))) {
        if (st == R1_ERR_NOMEM) r1_set_error(err, st, "%s: out of memory", path);
        else r1_set_error(err, st, "%s: duplicate metadata key '%s'", path, f->kv[dup].key);
        goto fail;
    }
    if ((st = index_build(&f->t_ix, f->n_t, t_name, f->t, &dup))) {
        if (st == R1_ERR_NOMEM) r1_set_error(err, st, "%s: out of memory", path);
        else r1_set_error(err, st, "%s: duplicate tensor name '%s'", path, f->t[dup].name);
        goto fail;
    }
    free(pp);
    *out = f;
    return R1_OK;
fail:
    free(pp);
    gguf_close(f);
    return st;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    free_kvs(f->kv, f->n_kv);
    for (int64_t i = 0; i < f->n_t; i++) free(f->t[i].name);
    free(f->t);
    for (int i = 0; i < f->n_parts; i++) {
        if (f->parts[i].map) munmap((void *)f->parts[i].map, f->parts[i].size);
        free(f->parts[i].path);
    }
    free(f->parts);
    if (f->anon) munmap(f->anon, f->anon_len);
    free(f->kv_ix.slot);
    free(f->t_ix.slot);
    free(f);
}


/* ---- tensor data in anonymous huge-page memory (gguf_load_anon) ---------------------- */
#define GGUF_HUGE  ((size_t)2 << 20)    /* x86-64 / arm64 (4 KiB granule) PMD huge page   */
#define GGUF_CHUNK ((size_t)16 << 20)   /* one pread, one progress step                   */

/* Transparent huge pages as the kernel offers them to MADV_HUGEPAGE: 1 = "always" or
 * "madvise" selected, 0 = "never", -1 = no THP (file absent/unreadable: not Linux, or a
 * kernel built without it). */
static int thp_enabled(void) {
    char buf[128] = {0};
    FILE *fp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!fp) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    if (strstr(buf, "[never]")) return 0;
    if (strstr(buf, "[always]") || strstr(buf, "[madvise]")) return 1;
    return -1;
}

/* MemAvailable from /proc/meminfo in bytes; false if unknown. */
static bool mem_available(uint64_t *out) {
    FILE *fp = fopen("/proc/meminfo", "r");
    if (!fp) return false;
    char line[256];
    bool ok = false;
    while (fgets(line, sizeof line, fp)) {
        unsigned long long kb;
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) { *out = (uint64_t)kb * 1024; ok = true; break; }
    }
    fclose(fp);
    return ok;
}

/* One pread range: n bytes at file offset off of part `part` into dst. */
typedef struct copy_item { int part; uint64_t off; uint8_t *dst; size_t n; } copy_item;

/* Reads exactly n bytes at off (EINTR retried, short reads continued); a premature end of
 * file (the file shrank after it was mapped) or a read error is R1_ERR_IO. */
static r1_status read_full(int fd, uint8_t *dst, size_t n, uint64_t off, const char *path, r1_error *err) {
    while (n > 0) {
        ssize_t r = pread(fd, dst, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return r1_set_error(err, R1_ERR_IO, "%s: read failed at byte %llu: %s", path, (unsigned long long)off,
                                strerror(errno));
        }
        if (r == 0)
            return r1_set_error(err, R1_ERR_IO, "%s: unexpected end of file at byte %llu (the file changed while loading)",
                                path, (unsigned long long)off);
        dst += r; off += (uint64_t)r; n -= (size_t)r;
    }
    return R1_OK;
}

/* Shared state of the reader threads: items are claimed in order with an atomic counter. */
typedef struct copy_run {
    const copy_item *items;
    size_t           n_items;
    const int       *fds;
    const gguf_part *parts;
    size_t           next;      /* atomic: next item to claim        */
    uint64_t         done;      /* atomic: bytes copied so far       */
    int              failed;    /* atomic: set by the first error    */
} copy_run;

typedef struct copy_worker { copy_run *run; r1_status st; r1_error err; } copy_worker;

/* Claims and copies items until none are left or a reader failed. The loading thread
 * (progress != NULL) reports progress after each of its items. */
static void copy_items(copy_worker *w, const gguf_anon_opts *o, uint64_t total) {
    copy_run *r = w->run;
    w->st = R1_OK;
    for (;;) {
        if (__atomic_load_n(&r->failed, __ATOMIC_RELAXED)) return;
        size_t i = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
        if (i >= r->n_items) return;
        const copy_item *it = &r->items[i];
        w->st = read_full(r->fds[it->part], it->dst, it->n, it->off, r->parts[it->part].path, &w->err);
        if (w->st) { __atomic_store_n(&r->failed, 1, __ATOMIC_RELAXED); return; }
        uint64_t d = __atomic_add_fetch(&r->done, (uint64_t)it->n, __ATOMIC_RELAXED);
        if (o && o->progress && d < total) o->progress(o->progress_user, d, total);
    }
}

static void *copy_thread(void *arg) {
    copy_worker *w = arg;
    copy_items(w, NULL, 0);
    return NULL;
}

/* Sort key of a wanted tensor: (part, file offset). */
typedef struct want_ent { int64_t t; int part; uint64_t off; } want_ent;
static int want_cmp(const void *a, const void *b) {
    const want_ent *x = a, *y = b;
    if (x->part != y->part) return x->part < y->part ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int part_of(const gguf_file *f, const void *p) {
    const uint8_t *q = p;
    for (int i = 0; i < f->n_parts; i++)
        if (f->parts[i].map && q >= f->parts[i].map && q < f->parts[i].map + f->parts[i].size) return i;
    return -1;
}

r1_status gguf_load_anon(gguf_file *f, const gguf_anon_opts *o, bool *copied, char *note, size_t note_len,
                         r1_error *err) {
    *copied = false;
    if (note_len) note[0] = 0;
    if (f->anon) return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf_load_anon: tensor data already copied");
#ifndef MADV_HUGEPAGE
    snprintf(note, note_len, "no transparent huge pages on this platform");
    return R1_OK;
#else
    const int thp = thp_enabled();
    if (thp <= 0) {
        snprintf(note, note_len, thp == 0 ? "transparent huge pages are disabled (THP \"never\")"
                                          : "transparent huge pages are not available");
        return R1_OK;
    }
    /* the wanted tensors in file order, their offsets in the copy, its size */
    want_ent *we = malloc((size_t)(f->n_t > 0 ? f->n_t : 1) * sizeof *we);
    if (!we) return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", f->parts[0].path);
    size_t n_w = 0;
    for (int64_t i = 0; i < f->n_t; i++) {
        const gguf_tensor *t = &f->t[i];
        if (!t->nbytes || (o && o->want && !o->want(o->want_user, t))) continue;
        const int p = part_of(f, t->data);
        if (p < 0) continue;   /* cannot happen: every tensor lies in its part's map */
        we[n_w++] = (want_ent){i, p, (uint64_t)((const uint8_t *)t->data - f->parts[p].map)};
    }
    qsort(we, n_w, sizeof *we, want_cmp);
    size_t len = 0, n_items = 0;
    uint64_t total = 0;
    size_t *dst_off = malloc((n_w ? n_w : 1) * sizeof *dst_off);
    if (!dst_off) { free(we); return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", f->parts[0].path); }
    for (size_t k = 0; k < n_w; k++) {
        const gguf_tensor *t = &f->t[we[k].t];
        size_t a = f->parts[we[k].part].align;   /* each tensor keeps its file alignment, >= 64 */
        a = a < 64 ? 64 : a > GGUF_HUGE ? GGUF_HUGE : a;
        len = (len + a - 1) & ~(a - 1);
        dst_off[k] = len;
        if (len > SIZE_MAX - GGUF_HUGE - t->nbytes) { free(we); free(dst_off); snprintf(note, note_len, "tensor data too large"); return R1_OK; }
        len += t->nbytes;
        total += t->nbytes;
        n_items += (t->nbytes + GGUF_CHUNK - 1) / GGUF_CHUNK;
    }
    len = (len + GGUF_HUGE - 1) & ~(GGUF_HUGE - 1);
    if (n_w == 0) { free(we); free(dst_off); snprintf(note, note_len, "no tensor data to copy"); return R1_OK; }
    uint64_t avail;
    if (mem_available(&avail) && (uint64_t)len + (uint64_t)len / 16 + ((uint64_t)256 << 20) > avail) {
        snprintf(note, note_len, "tensor data (%llu MiB) does not fit in available memory (MemAvailable %llu MiB)",
                 (unsigned long long)(len >> 20), (unsigned long long)(avail >> 20));
        free(we); free(dst_off);
        return R1_OK;
    }
    /* 2 MiB-aligned anonymous region */
    uint8_t *base = r1_map_aligned(len, GGUF_HUGE);
    if (!base) {
        snprintf(note, note_len, "cannot allocate %llu MiB of anonymous memory: %s", (unsigned long long)(len >> 20),
                 strerror(errno));
        free(we); free(dst_off);
        return R1_OK;
    }
    if (madvise(base, len, MADV_HUGEPAGE) != 0) {
        snprintf(note, note_len, "madvise(MADV_HUGEPAGE) failed: %s", strerror(errno));
        munmap(base, len);
        free(we); free(dst_off);
        return R1_OK;
    }
    /* read: one item per <= 16 MiB of a tensor */
    r1_status st = R1_OK;
    copy_item *items = malloc(n_items * sizeof *items);
    int *fds = malloc((size_t)f->n_parts * sizeof *fds);
    if (!items || !fds) { st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", f->parts[0].path); goto out; }
    for (int p = 0; p < f->n_parts; p++) fds[p] = -1;
    size_t ni = 0;
    for (size_t k = 0; k < n_w; k++) {
        const gguf_tensor *t = &f->t[we[k].t];
        for (size_t b = 0; b < t->nbytes; b += GGUF_CHUNK)
            items[ni++] = (copy_item){we[k].part, we[k].off + b, base + dst_off[k] + b,
                                      t->nbytes - b < GGUF_CHUNK ? t->nbytes - b : GGUF_CHUNK};
        if (fds[we[k].part] >= 0) continue;
        const gguf_part *gp = &f->parts[we[k].part];
        int fd = open(gp->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        struct stat sb;
        if (fd < 0) { st = r1_set_error(err, R1_ERR_IO, "%s: cannot open: %s", gp->path, strerror(errno)); goto out; }
        fds[we[k].part] = fd;
        if (fstat(fd, &sb) != 0 || sb.st_dev != gp->dev || sb.st_ino != gp->ino || (size_t)sb.st_size != gp->size) {
            st = r1_set_error(err, R1_ERR_IO, "%s: the file was replaced or changed while loading", gp->path);
            goto out;
        }
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    int nt = o && o->n_threads > 1 ? o->n_threads : 1;
    if (nt > 8) nt = 8;
    if ((size_t)nt > n_items) nt = (int)n_items;
    copy_run run = {items, n_items, fds, f->parts, 0, 0, 0};
    copy_worker wk[8];
    pthread_t th[8];
    int started = 0;
    for (int i = 0; i < nt; i++) wk[i] = (copy_worker){&run, R1_OK, {0}};
    if (o && o->progress) o->progress(o->progress_user, 0, total);
    for (int i = 1; i < nt; i++) {
        if (pthread_create(&th[i], NULL, copy_thread, &wk[i]) != 0) break;   /* fewer readers */
        started++;
    }
    copy_items(&wk[0], o, total);
    for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
    for (int i = 0; i <= started; i++)
        if (wk[i].st) {
            st = wk[i].st;
            if (err) *err = wk[i].err;
            break;
        }
    if (st) goto out;
    if (o && o->progress) o->progress(o->progress_user, total, total);
    (void)mprotect(base, len, PROT_READ);   /* weights are read-only, as in the map */
    for (size_t k = 0; k < n_w; k++) f->t[we[k].t].data = base + dst_off[k];
    f->anon = base;
    f->anon_len = len;
    *copied = true;
out:
    if (fds)
        for (int p = 0; p < f->n_parts; p++) if (fds[p] >= 0) close(fds[p]);
    if (!*copied) munmap(base, len);
    free(fds); free(items); free(we); free(dst_off);
    return st;
#endif
}

size_t gguf_anon_bytes(const gguf_file *f) { return f->anon_len; }

bool gguf_anon_owns(const gguf_file *f, const void *p, size_t n) {
    const uintptr_t a = (uintptr_t)p, lo = (uintptr_t)f->anon;
    return f->anon && a >= lo && n <= f->anon_len && a - lo <= f->anon_len - n;
}

bool gguf_anon_writable(gguf_file *f, bool writable) {
    return f->anon && mprotect(f->anon, f->anon_len, writable ? PROT_READ | PROT_WRITE : PROT_READ) == 0;
}

uint32_t gguf_version(const gguf_file *f) { return f->version; }
uint64_t gguf_file_bytes(const gguf_file *f) {
    uint64_t s = 0;
    for (int i = 0; i < f->n_parts; i++) s += f->parts[i].size;
    return s;
}
int64_t gguf_n_kv(const gguf_file *f) { return f->n_kv; }
const gguf_kv *gguf_kv_at(const gguf_file *f, int64_t i) { return i >= 0 && i < f->n_kv ? &f->kv[i] : NULL; }
const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) {
    int64_t i = index_find(&f->kv_ix, key, kv_name, f->kv);
    return i >= 0 ? &f->kv[i] : NULL;
}
int64_t gguf_n_tensors(const gguf_file *f) { return f->n_t; }
const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i) { return i >= 0 && i < f->n_t ? &f->t[i] : NULL; }
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    int64_t i = index_find(&f->t_ix, name, t_name, f->t);
    return i >= 0 ? &f->t[i] : NULL;
}

bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    int64_t v;
    if (!kv || !kv_int(kv, &v) || v < 0 || v > (int64_t)UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}
bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    return kv && kv_int(kv, out);
}
bool gguf_get_f32(const gguf_file *f, const char *key, float *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    int64_t v;
    if (!kv) return false;
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) { *out = (float)kv->v.f; return true; }
    if (kv_int(kv, &v)) { *out = (float)v; return true; }
    return false;
}
bool gguf_get_bool(const gguf_file *f, const char *key, bool *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv || kv->type != GGUF_BOOL) return false;
    *out = kv->v.b;
    return true;
}
char *gguf_get_str_dup(const gguf_file *f, const char *key) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv || kv->type != GGUF_STRING || kv->v.s.len >= SIZE_MAX) return NULL;
    char *s = malloc((size_t)kv->v.s.len + 1);
    if (!s) return NULL;
    memcpy(s, kv->v.s.ptr, (size_t)kv->v.s.len);
    s[kv->v.s.len] = 0;
    return s;
}

bool gguf_arr_i64(const gguf_kv *kv, uint64_t i, int64_t *out) {
    if (!kv || kv->type != GGUF_ARRAY || i >= kv->arr_n) return false;
    size_t es = scalar_size(kv->arr_type);
    if (!es || kv->arr_type == GGUF_FLOAT32 || kv->arr_type == GGUF_FLOAT64) return false;
    gguf_kv tmp = { .type = kv->arr_type };
    const uint8_t *p = (const uint8_t *)kv->arr_data + i * es;
    uint8_t b[8] = {0};
    memcpy(b, p, es);
    switch (kv->arr_type) {
    case GGUF_UINT8: case GGUF_BOOL: *out = b[0]; return true;
    case GGUF_INT8: *out = (int8_t)b[0]; return true;
    case GGUF_UINT16: { uint16_t x; memcpy(&x, b, 2); *out = x; return true; }
    case GGUF_INT16: { int16_t x; memcpy(&x, b, 2); *out = x; return true; }
    case GGUF_UINT32: { uint32_t x; memcpy(&x, b, 4); *out = x; return true; }
    case GGUF_INT32: { int32_t x; memcpy(&x, b, 4); *out = x; return true; }
    case GGUF_INT64: { int64_t x; memcpy(&x, b, 8); *out = x; return true; }
    case GGUF_UINT64: memcpy(&tmp.v.u, b, 8); return kv_int(&tmp, out);
    default: return false;
    }
}

bool gguf_arr_f64(const gguf_kv *kv, uint64_t i, double *out) {
    if (!kv || kv->type != GGUF_ARRAY || i >= kv->arr_n) return false;
    const uint8_t *p = kv->arr_data;
    if (kv->arr_type == GGUF_FLOAT32) { float x; memcpy(&x, p + i * 4, 4); *out = x; return true; }
    if (kv->arr_type == GGUF_FLOAT64) { double x; memcpy(&x, p + i * 8, 8); *out = x; return true; }
    int64_t v;
    if (!gguf_arr_i64(kv, i, &v)) return false;
    *out = (double)v;
    return true;
}

/* ---- writer ---------------------------------------------------------------------- */
typedef struct wkv { char *key; uint8_t *val; size_t len; } wkv;   /* val = u32 type | value */
typedef struct wtensor {
    char *name;
    r1_type type;
    int n_dims;
    int64_t ne[4];
    size_t nbytes;
    const void *data;
    gguf_produce_fn produce;
    void *user;
} wtensor;

struct gguf_writer {
    wkv *kv; int64_t n_kv, cap_kv;
    wtensor *t; int64_t n_t, cap_t;
};

gguf_writer *gguf_writer_create(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) { free(w->kv[i].key); free(w->kv[i].val); }
    for (int64_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

/* Stores key → encoded value (takes ownership of val), replacing an existing key. */
static r1_status put_kv(gguf_writer *w, const char *key, uint8_t *val, size_t len) {
    if (!val) return R1_ERR_NOMEM;
    if (!key || !*key || strlen(key) > GGUF_MAX_NAME) { free(val); return R1_ERR_INVALID_ARG; }
    for (int64_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].val);
            w->kv[i].val = val; w->kv[i].len = len;
            return R1_OK;
        }
    }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *nk = realloc(w->kv, (size_t)cap * sizeof *nk);
        if (!nk) { free(val); return R1_ERR_NOMEM; }
        w->kv = nk; w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) { free(val); return R1_ERR_NOMEM; }
    w->kv[w->n_kv++] = (wkv){ k, val, len };
    return R1_OK;
}

/* Encodes u32 type followed by n raw bytes. */
static r1_status put_raw(gguf_writer *w, const char *key, uint32_t type, const void *v, size_t n) {
    uint8_t *val = malloc(4 + n);
    if (!val) return R1_ERR_NOMEM;
    memcpy(val, &type, 4);
    if (n) memcpy(val + 4, v, n);
    return put_kv(w, key, val, 4 + n);
}

r1_status gguf_set_u16(gguf_writer *w, const char *key, uint16_t v) { return put_raw(w, key, GGUF_UINT16, &v, 2); }
r1_status gguf_set_u32(gguf_writer *w, const char *key, uint32_t v) { return put_raw(w, key, GGUF_UINT32, &v, 4); }
r1_status gguf_set_i32(gguf_writer *w, const char *key, int32_t v) { return put_raw(w, key, GGUF_INT32, &v, 4); }
r1_status gguf_set_u64(gguf_writer *w, const char *key, uint64_t v) { return put_raw(w, key, GGUF_UINT64, &v, 8); }
r1_status gguf_set_f32(gguf_writer *w, const char *key, float v) { return put_raw(w, key, GGUF_FLOAT32, &v, 4); }
r1_status gguf_set_bool(gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return put_raw(w, key, GGUF_BOOL, &b, 1);
}

/* string value bytes: u64 len | bytes */
static r1_status put_str_len(gguf_writer *w, const char *key, const char *s, uint64_t len) {
    uint8_t *val = malloc(12 + (size_t)len);
    if (!val) return R1_ERR_NOMEM;
    uint32_t t = GGUF_STRING;
    memcpy(val, &t, 4);
    memcpy(val + 4, &len, 8);
    if (len) memcpy(val + 12, s, (size_t)len);
    return put_kv(w, key, val, 12 + (size_t)len);
}
r1_status gguf_set_str(gguf_writer *w, const char *key, const char *v) {
    return v ? put_str_len(w, key, v, strlen(v)) : R1_ERR_INVALID_ARG;
}

/* array header + raw element bytes */
static r1_status put_arr_raw(gguf_writer *w, const char *key, uint32_t et, const void *data, uint64_t n, size_t bytes) {
    uint8_t *val = malloc(16 + bytes);
    if (!val) return R1_ERR_NOMEM;
    uint32_t t = GGUF_ARRAY;
    memcpy(val, &t, 4);
    memcpy(val + 4, &et, 4);
    memcpy(val + 8, &n, 8);
    if (bytes) memcpy(val + 16, data, bytes);
    return put_kv(w, key, val, 16 + bytes);
}

r1_status gguf_set_arr(gguf_writer *w, const char *key, gguf_vtype elem_type, const void *data, uint64_t n) {
    size_t es = scalar_size(elem_type), bytes;
    if (!es || !r1_mul_ok(es, (size_t)n, &bytes)) return R1_ERR_INVALID_ARG;
    return put_arr_raw(w, key, elem_type, data, n, bytes);
}

/* String array from n (ptr,len) pairs given by get(i). */
static r1_status put_arr_str(gguf_writer *w, const char *key, uint64_t n,
                             gguf_str (*get)(const void *, uint64_t), const void *ctx) {
    size_t bytes = 16;
    for (uint64_t i = 0; i < n; i++)
        if (!r1_add_ok(bytes, 8 + (size_t)get(ctx, i).len, &bytes)) return R1_ERR_NOMEM;
    uint8_t *val = malloc(bytes), *p = val;
    if (!val) return R1_ERR_NOMEM;
    uint32_t t = GGUF_ARRAY, et = GGUF_STRING;
    memcpy(p, &t, 4); memcpy(p + 4, &et, 4); memcpy(p + 8, &n, 8);
    p += 16;
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s = get(ctx, i);
        memcpy(p, &s.len, 8);
        if (s.len) memcpy(p + 8, s.ptr, (size_t)s.len);
        p += 8 + s.len;
    }
    return put_kv(w, key, val, bytes);
}
static gguf_str cstr_at(const void *ctx, uint64_t i) {
    const char *s = ((const char *const *)ctx)[i];
    return (gguf_str){ s, strlen(s) };
}
static gguf_str gstr_at(const void *ctx, uint64_t i) { return ((const gguf_str *)ctx)[i]; }

r1_status gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) if (!strs[i]) return R1_ERR_INVALID_ARG;
    return put_arr_str(w, key, n, cstr_at, strs);
}

r1_status gguf_set_all_from(gguf_writer *w, const gguf_file *f) {
    r1_status st = R1_OK;
    for (int64_t i = 0; i < f->n_kv && !st; i++) {
        const gguf_kv *kv = &f->kv[i];
        if (strncmp(kv->key, "split.", 6) == 0) continue;  /* describes the source's parts */
        uint8_t b[8];
        switch (kv->type) {
        case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: b[0] = kv->type == GGUF_BOOL ? kv->v.b : (uint8_t)kv->v.u;
            st = put_raw(w, kv->key, kv->type, b, 1); break;
        case GGUF_UINT16: case GGUF_INT16: { uint16_t x = (uint16_t)kv->v.u; st = put_raw(w, kv->key, kv->type, &x, 2); break; }
        case GGUF_UINT32: case GGUF_INT32: { uint32_t x = (uint32_t)kv->v.u; st = put_raw(w, kv->key, kv->type, &x, 4); break; }
        case GGUF_UINT64: case GGUF_INT64: st = put_raw(w, kv->key, kv->type, &kv->v.u, 8); break;
        case GGUF_FLOAT32: { float x = (float)kv->v.f; st = put_raw(w, kv->key, kv->type, &x, 4); break; }
        case GGUF_FLOAT64: st = put_raw(w, kv->key, kv->type, &kv->v.f, 8); break;
        case GGUF_STRING: st = put_str_len(w, kv->key, kv->v.s.ptr, kv->v.s.len); break;
        case GGUF_ARRAY:
            if (kv->arr_type == GGUF_STRING) st = put_arr_str(w, kv->key, kv->arr_n, gstr_at, kv->arr_str);
            else st = put_arr_raw(w, kv->key, kv->arr_type, kv->arr_data, kv->arr_n, (size_t)kv->arr_bytes);
            break;
        }
    }
    return st;
}

static r1_status add_tensor(gguf_writer *w, const char *name, r1_type type, int n_dims, const int64_t *ne,
                            const void *data, size_t nbytes, gguf_produce_fn produce, void *user, r1_error *err) {
    if (!name || !*name || strlen(name) > GGUF_MAX_NAME)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf writer: empty or too long tensor name");
    if (n_dims < 1 || n_dims > 4)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf writer: tensor '%s': n_dims %d not in 1..4", name, n_dims);
    size_t rows = 1;
    for (int d = 1; d < n_dims; d++)
        if (ne[d] < 1 || !r1_mul_ok(rows, (size_t)ne[d], &rows))
            return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf writer: tensor '%s': bad dim %d", name, d);
    size_t row = ne[0] >= 1 ? r1_row_size(type, ne[0]) : 0, want;
    if (!row) return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf writer: tensor '%s': type %s cannot hold rows of %lld",
                                  name, r1_type_name(type), (long long)ne[0]);
    if (!r1_mul_ok(row, rows, &want) || want != nbytes)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf writer: tensor '%s': %zu bytes given, shape needs %zu",
                            name, nbytes, want);
    for (int64_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf writer: duplicate tensor name '%s'", name);
    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *nt = realloc(w->t, (size_t)cap * sizeof *nt);
        if (!nt) return r1_set_error(err, R1_ERR_NOMEM, "gguf writer: out of memory");
        w->t = nt; w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return r1_set_error(err, R1_ERR_NOMEM, "gguf writer: out of memory");
    t->type = type; t->n_dims = n_dims; t->nbytes = nbytes; t->data = data; t->produce = produce; t->user = user;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    w->n_t++;
    return R1_OK;
}

r1_status gguf_add_tensor(gguf_writer *w, const char *name, r1_type type, int n_dims, const int64_t *ne,
                          const void *data, size_t nbytes, r1_error *err) {
    if (!data && nbytes) return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf writer: tensor '%s': NULL data", name);
    return add_tensor(w, name, type, n_dims, ne, data, nbytes, NULL, NULL, err);
}

r1_status gguf_add_tensor_lazy(gguf_writer *w, const char *name, r1_type type, int n_dims, const int64_t *ne,
                               size_t nbytes, gguf_produce_fn produce, void *user, r1_error *err) {
    if (!produce) return r1_set_error(err, R1_ERR_INVALID_ARG, "gguf writer: tensor '%s': NULL producer", name);
    return add_tensor(w, name, type, n_dims, ne, NULL, nbytes, produce, user, err);
}

/* Buffered output to an fd; the first error sticks. */
typedef struct wout { int fd; uint8_t *buf; size_t n, cap; uint64_t pos; int err; } wout;

static void out_flush(wout *o) {
    size_t done = 0;
    while (!o->err && done < o->n) {
        ssize_t r = write(o->fd, o->buf + done, o->n - done);
        if (r < 0) { if (errno == EINTR) continue; o->err = errno; break; }
        done += (size_t)r;
    }
    o->n = 0;
}
static void out_put(wout *o, const void *p, size_t n) {
    const uint8_t *s = p;
    o->pos += n;
    while (n && !o->err) {
        size_t k = R1_MIN(n, o->cap - o->n);
        memcpy(o->buf + o->n, s, k);
        o->n += k; s += k; n -= k;
        if (o->n == o->cap) out_flush(o);
    }
}
static void out_pad(wout *o, uint64_t align) {
    static const uint8_t zeros[64] = {0};
    uint64_t pad = (align - o->pos % align) % align;
    while (pad) { size_t k = (size_t)R1_MIN(pad, (uint64_t)sizeof zeros); out_put(o, zeros, k); pad -= k; }
}

r1_status gguf_writer_write(gguf_writer *w, const char *path, r1_error *err) {
    uint64_t align = GGUF_DEFAULT_ALIGN;
    for (int64_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment") != 0) continue;
        uint32_t t, a = 0;
        memcpy(&t, w->kv[i].val, 4);
        if (t == GGUF_UINT32) memcpy(&a, w->kv[i].val + 4, 4);
        if (t != GGUF_UINT32 || a == 0 || (a & (a - 1)))
            return r1_set_error(err, R1_ERR_INVALID_ARG, "%s: general.alignment must be a u32 power of two", path);
        align = a;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    wout o = { .fd = -1, .cap = 1 << 20 };
    uint8_t *lazy = NULL;
    size_t lazy_cap = 0;
    r1_status st = R1_OK;
    o.buf = malloc(o.cap);
    if (!o.buf) { st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); goto done; }
    o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o.fd < 0) { st = r1_set_error(err, R1_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno)); goto done; }
    /* header + metadata */
    uint32_t magic = GGUF_MAGIC, version = 3;
    uint64_t nt = (uint64_t)w->n_t, nkv = (uint64_t)w->n_kv;
    out_put(&o, &magic, 4); out_put(&o, &version, 4); out_put(&o, &nt, 8); out_put(&o, &nkv, 8);
    for (int64_t i = 0; i < w->n_kv; i++) {
        uint64_t kl = strlen(w->kv[i].key);
        out_put(&o, &kl, 8); out_put(&o, w->kv[i].key, kl);
        out_put(&o, w->kv[i].val, w->kv[i].len);
    }
    /* tensor infos with aligned offsets */
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        uint64_t nl = strlen(t->name), ne;
        uint32_t nd = (uint32_t)t->n_dims, type = (uint32_t)t->type;
        out_put(&o, &nl, 8); out_put(&o, t->name, nl); out_put(&o, &nd, 4);
        for (int d = 0; d < t->n_dims; d++) { ne = (uint64_t)t->ne[d]; out_put(&o, &ne, 8); }
        out_put(&o, &type, 4); out_put(&o, &off, 8);
        off += (t->nbytes + align - 1) / align * align;
    }
    out_pad(&o, align);
    /* data */
    for (int64_t i = 0; i < w->n_t && !o.err; i++) {
        const wtensor *t = &w->t[i];
        const void *src = t->data;
        if (t->produce) {
            if (t->nbytes > lazy_cap) {
                free(lazy);
                lazy_cap = t->nbytes;
                if (!(lazy = malloc(lazy_cap))) {
                    lazy_cap = 0;
                    st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory for tensor '%s' (%zu bytes)", path, t->name, t->nbytes);
                    goto done;
                }
            }
            if ((st = t->produce(t->user, lazy, t->nbytes, err))) goto done;
            src = lazy;
        }
        out_put(&o, src, t->nbytes);
        out_pad(&o, align);
    }
    out_flush(&o);
    if (o.err) { st = r1_set_error(err, R1_ERR_IO, "%s: write failed: %s", tmp, strerror(o.err)); goto done; }
    if (fsync(o.fd) != 0) { st = r1_set_error(err, R1_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno)); goto done; }
    if (close(o.fd) != 0) { o.fd = -1; st = r1_set_error(err, R1_ERR_IO, "%s: close failed: %s", tmp, strerror(errno)); goto done; }
    o.fd = -1;
    if (rename(tmp, path) != 0) { st = r1_set_error(err, R1_ERR_IO, "%s: rename from %s failed: %s", path, tmp, strerror(errno)); goto done; }
done:
    if (o.fd >= 0) close(o.fd);
    if (st != R1_OK) unlink(tmp);
    free(o.buf);
    free(lazy);
    free(tmp);
    return st;
}
