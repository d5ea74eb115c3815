/*
 * sampler.c — token sampling: repetition penalty, greedy, temperature, top-k, top-p,
 * min-p and a seeded xoshiro256** RNG.
 *
 * Invariants
 *   - logits are never modified; the sampler works on its own candidate buffer
 *     cand[n_vocab] (id, logit/prob pairs).
 *   - history[repeat_last_n] is a ring of the last accepted tokens (r1_sampler_accept);
 *     sample() itself never records anything, so the caller decides what is "accepted".
 *   - Same seed + same logits + same accepted tokens => same draws (no global state).
 *
 * Cost per token on a 150k vocab: one O(V) pass for the penalty/temperature copy, one
 * O(V) quickselect for top-k, one O(V) softmax; sorting is done only on the survivors of
 * a cheap bound (top-p cannot keep a token whose probability is below (1-p)/(V-1)),
 * which is a few hundred tokens for peaked distributions.
 *
 * Repetition penalty (llama.cpp semantics): for each distinct token in the window,
 * logit > 0 ? logit / penalty : logit * penalty.
 */
#include "sampler.h"
#include "common.h"
#include <math.h>

typedef struct { float v; int32_t id; } cand_t;

struct r1_sampler {
    r1_sampler_params p;
    int n_vocab;
    uint64_t rng[4];        /* xoshiro256** state                                   */
    int32_t *history;       /* [repeat_last_n] ring of accepted tokens              */
    int n_hist, hist_head;  /* valid entries, next write index                      */
    cand_t *cand;           /* [n_vocab] scratch                                    */
    uint8_t *seen;          /* [n_vocab] scratch for the penalty (distinct tokens)  */
    int32_t *out_ids;       /* [n_vocab] survivors of the chain, by descending prob */
    float *out_probs;       /* [n_vocab] their renormalised probabilities            */
};

/* ---- RNG: splitmix64 seeding + xoshiro256** --------------------------------- */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return r;
}
double r1_sampler_uniform(r1_sampler *s) { return (double)(xoshiro_next(s->rng) >> 11) * 0x1.0p-53; }

r1_sampler_params r1_sampler_default_params(void) {
    r1_sampler_params p = {.temperature = 0.6f, .top_k = 0, .top_p = 0.95f, .min_p = 0.0f,
                           .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 0x5eed};
    return p;
}

r1_status r1_sampler_create(const r1_sampler_params *params, int n_vocab, r1_sampler **out, r1_error *err) {
    *out = NULL;
    r1_sampler_params p = params ? *params : r1_sampler_default_params();
    if (n_vocab <= 0) return r1_set_error(err, R1_ERR_INVALID_ARG, "sampler: n_vocab %d must be > 0", n_vocab);
    if (!(p.temperature >= 0) || !isfinite(p.temperature))
        return r1_set_error(err, R1_ERR_INVALID_ARG, "sampler: temperature %g must be >= 0", p.temperature);
    if (p.top_k < 0) return r1_set_error(err, R1_ERR_INVALID_ARG, "sampler: top_k %d must be >= 0", p.top_k);
    if (!(p.top_p > 0 && p.top_p <= 1))
        return r1_set_error(err, R1_ERR_INVALID_ARG, "sampler: top_p %g must be in (0, 1]", p.top_p);
    if (!(p.min_p >= 0 && p.min_p <= 1))
        return r1_set_error(err, R1_ERR_INVALID_ARG, "sampler: min_p %g must be in [0, 1]", p.min_p);
    if (!(p.repeat_penalty > 0) || !isfinite(p.repeat_penalty))
        return r1_set_error(err, R1_ERR_INVALID_ARG, "sampler: repeat_penalty %g must be > 0", p.repeat_penalty);
    if (p.repeat_last_n < 0)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "sampler: repeat_last_n %d must be >= 0", p.repeat_last_n);
    r1_sampler *s = calloc(1, sizeof *s);
    if (!s) return r1_set_error(err, R1_ERR_NOMEM, "sampler: out of memory");
    s->p = p;
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->seen = calloc((size_t)n_vocab, 1);
    s->out_ids = malloc((size_t)n_vocab * sizeof *s->out_ids);
    s->out_probs = malloc((size_t)n_vocab * sizeof *s->out_probs);
    s->history = p.repeat_last_n ? malloc((size_t)p.repeat_last_n * sizeof *s->history) : NULL;
    if (!s->cand || !s->seen || !s->out_ids || !s->out_probs || (p.repeat_last_n && !s->history)) {
        r1_sampler_free(s);
        return r1_set_error(err, R1_ERR_NOMEM, "sampler: out of memory for %d candidates", n_vocab);
    }
    r1_sampler_reset(s);
    *out = s;
    return R1_OK;
}

void r1_sampler_free(r1_sampler *s) {
    if (!s) return;
    free(s->cand); free(s->seen); free(s->out_ids); free(s->out_probs); free(s->history); free(s);
}

void r1_sampler_reset(r1_sampler *s) {
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    s->n_hist = s->hist_head = 0;
}

void r1_sampler_accept(r1_sampler *s, int32_t id) {
    if (!s->p.repeat_last_n || id < 0 || id >= s->n_vocab) return;
    s->history[s->hist_head] = id;
    s->hist_head = (s->hist_head + 1) % s->p.repeat_last_n;
    if (s->n_hist < s->p.repeat_last_n) s->n_hist++;
}

/* Penalised logit of every token, in cand[0..V) (cand[i].id == i). */
static void load_penalised(r1_sampler *s, const float *logits) {
    for (int i = 0; i < s->n_vocab; i++) { s->cand[i].v = logits[i]; s->cand[i].id = i; }
    if (s->p.repeat_penalty == 1.0f || !s->n_hist) return;
    for (int i = 0; i < s->n_hist; i++) {
        int32_t id = s->history[i];
        if (s->seen[id]) continue;
        s->seen[id] = 1;
        float *v = &s->cand[id].v;
        *v = *v > 0 ? *v / s->p.repeat_penalty : *v * s->p.repeat_penalty;
    }
    for (int i = 0; i < s->n_hist; i++) s->seen[s->history[i]] = 0;
}

static inline int cand_gt(cand_t a, cand_t b) { return a.v > b.v || (a.v == b.v && a.id < b.id); }

/* Reorders c[0..n) so that c[0..k) are the k greatest (by cand_gt), unordered. O(n). */
static void select_top(cand_t *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        cand_t pivot = c[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (cand_gt(c[i], pivot)) i++;
            while (cand_gt(pivot, c[j])) j--;
            if (i <= j) { cand_t t = c[i]; c[i] = c[j]; c[j] = t; i++; j--; }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

static int cmp_desc(const void *a, const void *b) {
    cand_t x = *(const cand_t *)a, y = *(const cand_t *)b;
    return cand_gt(x, y) ? -1 : cand_gt(y, x) ? 1 : 0;
}

int r1_sampler_candidates(r1_sampler *s, const float *logits, int32_t *ids, float *probs) {
    load_penalised(s, logits);
    cand_t *c = s->cand;
    int n = s->n_vocab;
    if (s->p.temperature <= 0) {
        int best = 0;  /* NaN never wins (unless everything is NaN) */
        for (int i = 1; i < n; i++) if (c[i].v > c[best].v || c[best].v != c[best].v) best = i;
        ids[0] = c[best].id; probs[0] = 1.0f;
        return 1;
    }
    /* temperature, then top-k */
    float inv_t = 1.0f / s->p.temperature;
    if (s->p.top_k > 0 && s->p.top_k < n) { select_top(c, n, s->p.top_k); n = s->p.top_k; }
    /* softmax over the n kept (probabilities in .v, unnormalised until divided by sum) */
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) if (c[i].v > mx) mx = c[i].v;
    if (!isfinite(mx)) {  /* all -inf / NaN: fall back to the first token deterministically */
        ids[0] = c[0].id; probs[0] = 1.0f;
        return 1;
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float e = (c[i].v == c[i].v) ? expf((c[i].v - mx) * inv_t) : 0.0f;
        c[i].v = e; sum += e;
    }
    for (int i = 0; i < n; i++) c[i].v = (float)(c[i].v / sum);
    /* top-p: a token below (1-p)/(n-1) can never be inside the nucleus; drop those first
     * so that only the few plausible tokens get sorted. */
    int m = n;
    if (s->p.top_p < 1.0f && n > 1) {
        float bound = (1.0f - s->p.top_p) / (float)(n - 1);
        m = 0;
        for (int i = 0; i < n; i++) if (c[i].v >= bound) c[m++] = c[i];
        if (m == 0) { m = n; }  /* cannot happen (the max is >= 1/n >= bound), defensive */
    }
    qsort(c, (size_t)m, sizeof *c, cmp_desc);
    if (s->p.top_p < 1.0f) {
        double cum = 0;
        int keep = m;
        for (int i = 0; i < m; i++) { cum += c[i].v; if (cum >= s->p.top_p) { keep = i + 1; break; } }
        m = keep;
    }
    if (s->p.min_p > 0) {
        float thr = s->p.min_p * c[0].v;
        int keep = 1;
        while (keep < m && c[keep].v >= thr) keep++;
        m = keep;
    }
    double z = 0;
    for (int i = 0; i < m; i++) z += c[i].v;
    for (int i = 0; i < m; i++) { ids[i] = c[i].id; probs[i] = (float)(c[i].v / z); }
    return m;
}

int32_t r1_sampler_sample(r1_sampler *s, const float *logits) {
    int n = r1_sampler_candidates(s, logits, s->out_ids, s->out_probs);
    if (n == 1) return s->out_ids[0];
    double r = r1_sampler_uniform(s), cum = 0;
    for (int i = 0; i < n; i++) {
        cum += s->out_probs[i];
        if (r < cum) return s->out_ids[i];
    }
    return s->out_ids[n - 1];  /* rounding: r landed above the float sum */
}
