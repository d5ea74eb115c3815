/*
 * quantize.c — r1_quantize_file: GGUF in, GGUF out with quantized weights (contract in
 * quantize.h).
 *
 * Plan, then stream: every tensor's output type is decided first (quant_mix.c rules,
 * visited in llama.cpp's order: by layer number, then by name), so that every error
 * (unknown type, a row the target cannot hold, quantized input without
 * allow_requantize) is reported before anything is written. Tensors whose type does not
 * change are copied from the input map at write time; the others are produced at write
 * time (gguf_add_tensor_lazy), row-parallel over n_threads pthreads:
 * each thread dequantizes its rows to a float buffer (one row) and quantizes them into
 * the writer's buffer. The writer writes to a temp file and renames it when complete.
 */
#include "quantize.h"
#include "gguf.h"
#include <pthread.h>

typedef struct qjob {
    const gguf_tensor *t;
    r1_type            out;
    int                n_threads;
    int                index, count;    /* for the progress line */
    bool               progress;
} qjob;

typedef struct qslice {
    const qjob *job;
    void       *dst;
    int64_t     row0, row1;
    bool        nomem;
} qslice;

static void *quantize_rows(void *arg) {
    qslice *s = arg;
    const gguf_tensor *t = s->job->t;
    const int64_t ne0 = t->ne[0];
    const r1_type_traits *in = r1_type_get_traits(t->type), *out = r1_type_get_traits(s->job->out);
    size_t in_row = r1_row_size(t->type, ne0), out_row = r1_row_size(s->job->out, ne0);
    float *buf = malloc((size_t)ne0 * sizeof(float));  /* [ne0] one dequantized row */
    if (!buf) { s->nomem = true; return NULL; }
    for (int64_t r = s->row0; r < s->row1; r++) {
        in->to_float((const char *)t->data + r * in_row, buf, ne0);
        out->from_float(buf, (char *)s->dst + r * out_row, ne0);
    }
    free(buf);
    return NULL;
}

static void progress_line(const qjob *j) {
    const int width = 30;
    int done = (int)((int64_t)width * (j->index + 1) / j->count);
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++) fputc(i < done ? '#' : '.', stderr);
    fprintf(stderr, "] %4d/%-4d %-36.36s %-6s -> %-6s", j->index + 1, j->count, j->t->name,
            r1_type_name(j->t->type), r1_type_name(j->out));
    if (j->index + 1 == j->count) fputc('\n', stderr);
    fflush(stderr);
}

/* gguf_produce_fn: quantizes job->t into dst (nbytes = output size); a tensor whose type
 * does not change is copied. */
static r1_status produce_tensor(void *user, void *dst, size_t nbytes, r1_error *err) {
    const qjob *j = user;
    if (j->out == j->t->type) {
        if (nbytes != j->t->nbytes) return r1_set_error(err, R1_ERR_INTERNAL, "%s: size mismatch", j->t->name);
        memcpy(dst, j->t->data, nbytes);
        if (j->progress) progress_line(j);
        return R1_OK;
    }
    const int64_t rows = j->t->ne[1] * j->t->ne[2] * j->t->ne[3];
    if (nbytes != r1_row_size(j->out, j->t->ne[0]) * (size_t)rows)
        return r1_set_error(err, R1_ERR_INTERNAL, "%s: output size mismatch", j->t->name);
    int nt = j->n_threads < 1 ? 1 : j->n_threads;
    if (nt > rows) nt = (int)rows;
    if (nt > 64) nt = 64;
    qslice sl[64];
    pthread_t th[64];
    bool started[64] = {false};
    for (int i = 0; i < nt; i++) {
        sl[i] = (qslice){j, dst, rows * i / nt, rows * (i + 1) / nt, false};
        if (i > 0) started[i] = pthread_create(&th[i], NULL, quantize_rows, &sl[i]) == 0;
    }
    quantize_rows(&sl[0]);
    for (int i = 1; i < nt; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        else quantize_rows(&sl[i]);         /* thread creation failed: do it here */
    }
    for (int i = 0; i < nt; i++)
        if (sl[i].nomem) return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", j->t->name);
    if (j->progress) progress_line(j);
    return R1_OK;
}

/* llama.cpp's tensor order (its model loader's weight map): the layer number parsed from
 * "blk.N." (-1 when absent) first, then the name. The mixture rules' counters advance in
 * this order, so with more than 10 layers it decides which layers get more bits: in plain
 * name order "blk.10" would come before "blk.2". */
static int llama_layer_of(const char *name) {
    int layer = -1;
    if (sscanf(name, "blk.%d.", &layer) < 1) layer = -1;
    return layer;
}
static int cmp_names(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    int lx = llama_layer_of(x->name), ly = llama_layer_of(y->name);
    if (lx != ly) return lx < ly ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Model facts for the mixture rules from the metadata ("<arch>.block_count", ...). */
static void model_facts(const gguf_file *f, r1_qmix_model *m) {
    char *arch = gguf_get_str_dup(f, "general.architecture");
    char key[256];
    uint32_t v;
    memset(m, 0, sizeof *m);
    m->n_gqa = 1;
    if (arch) {
        snprintf(key, sizeof key, "%s.block_count", arch);
        if (gguf_get_u32(f, key, &v)) m->n_layer = (int)v;
        uint32_t nh = 0, nkv = 0;
        snprintf(key, sizeof key, "%s.attention.head_count", arch);
        gguf_get_u32(f, key, &nh);
        snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
        if (!gguf_get_u32(f, key, &nkv)) nkv = nh;
        if (nh && nkv) m->n_gqa = (int)(nh / nkv);
        snprintf(key, sizeof key, "%s.expert_count", arch);
        if (gguf_get_u32(f, key, &v)) m->n_expert = (int)v;
        m->llama_70b = !strcmp(arch, "llama") && m->n_layer == 80 && nh != nkv;
        free(arch);
    }
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const char *n = gguf_tensor_at(f, i)->name;
        if (strstr(n, "attn_v.weight") || strstr(n, "attn_qkv.weight") || strstr(n, "attn_kv_b.weight"))
            m->n_attention_wv++;
        else if (!strcmp(n, "output.weight")) m->has_output = true;
    }
}

r1_status r1_quantize_file(const char *in_path, const char *out_path, const r1_quantize_params *p,
                           r1_error *err) {
    if (r1_ftype_default_type(p->ftype) == R1_TYPE_COUNT_)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "unknown file type %d (valid: %s)", (int)p->ftype,
                            r1_ftype_valid_names());
    if (!strcmp(in_path, out_path))
        return r1_set_error(err, R1_ERR_INVALID_ARG, "%s: output must differ from the input", out_path);
    gguf_file *f = NULL;
    r1_status st = gguf_open(in_path, &f, err);
    if (st != R1_OK) return st;
    const int64_t n = gguf_n_tensors(f);
    const gguf_tensor **sorted = calloc((size_t)n + 1, sizeof *sorted);
    qjob *jobs = calloc((size_t)n + 1, sizeof *jobs);
    gguf_writer *w = gguf_writer_create();
    if (!sorted || !jobs || !w) { st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", in_path); goto done; }

    /* 1. decide every tensor's type (llama.cpp's order), reporting errors up front */
    r1_qmix_model m;
    model_facts(f, &m);
    r1_qmix_state qs = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) sorted[i] = gguf_tensor_at(f, i);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_names);
    int n_requant = 0;
    for (int64_t k = 0; k < n; k++) {
        const gguf_tensor *t = sorted[k];
        int64_t i = 0;
        while (gguf_tensor_at(f, i) != t) i++;
        r1_type out = t->type;
        if (r1_qmix_should_quantize(t->name, t->n_dims)) {
            st = r1_qmix_tensor_type(p->ftype, &m, &qs, t->name, t->ne[0], &out, err);
            if (st != R1_OK) goto done;
        }
        if (out != t->type && r1_type_get_traits(t->type)->is_quantized) {
            if (!p->allow_requantize) {
                st = r1_set_error(err, R1_ERR_INVALID_ARG,
                                  "%s: tensor %s is already %s; requantizing loses quality, pass "
                                  "--allow-requantize to do it anyway", in_path, t->name, r1_type_name(t->type));
                goto done;
            }
            n_requant++;
        }
        jobs[i] = (qjob){t, out, p->n_threads, 0, 0, p->progress};
    }
    if (n_requant && p->report)
        fprintf(stderr, "r1 quantize: warning: requantizing %d already-quantized tensor(s); quality will be "
                        "worse than quantizing from F16/BF16/F32\n", n_requant);
    if (qs.n_fallback && p->report)
        fprintf(stderr, "r1 quantize: %d tensor(s) use a fallback type (row length not a multiple of 256)\n",
                qs.n_fallback);

    /* 2. metadata and tensors, in the input's order */
    if ((st = gguf_set_all_from(w, f)) != R1_OK ||
        (st = gguf_set_u32(w, "general.file_type", (uint32_t)p->ftype)) != R1_OK ||
        (st = gguf_set_u32(w, "general.quantization_version", 2)) != R1_OK) {
        r1_set_error(err, st, "%s: cannot build metadata", out_path);
        goto done;
    }
    size_t bytes_in = 0, bytes_out = 0;
    for (int64_t i = 0; i < n; i++) {
        qjob *j = &jobs[i];
        const gguf_tensor *t = j->t;
        j->index = (int)i;
        j->count = (int)n;
        size_t rows = (size_t)(t->ne[1] * t->ne[2] * t->ne[3]);
        size_t nbytes = r1_row_size(j->out, t->ne[0]) * rows;
        bytes_in += t->nbytes;
        bytes_out += nbytes;
        if (p->verbose)
            fprintf(stderr, "  %-40s [%lld x %lld x %lld] %-6s -> %s\n", t->name, (long long)t->ne[0],
                    (long long)t->ne[1], (long long)(t->ne[2] * t->ne[3]), r1_type_name(t->type), r1_type_name(j->out));
        st = gguf_add_tensor_lazy(w, t->name, j->out, t->n_dims, t->ne, nbytes, produce_tensor, j, err);
        if (st != R1_OK) goto done;
    }
    st = gguf_writer_write(w, out_path, err);
    if (st == R1_OK && p->report)
        fprintf(stderr, "r1 quantize: %s -> %s (%s): %.2f MiB -> %.2f MiB\n", in_path, out_path,
                r1_ftype_name(p->ftype), bytes_in / 1048576.0, bytes_out / 1048576.0);
done:
    gguf_writer_free(w);
    free(jobs);
    free(sorted);
    gguf_close(f);
    return st;
}
