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
 * Cost per token on a 150k vocab: greedy is one scan of the logits (no copy); otherwise
 * one O(V) copy with the penalty, one O(V) quickselect for top-k, one O(V) softmax.
 * Sorting happens only for top-p, and only on the survivors of a cheap bound (top-p
 * cannot keep a token whose probability is below (1-p)/(V-1)); of those, only the top k
 * are sorted (quickselect, k = 64, 1024, ... until they hold mass >= p). Without top-p
 * the draw walks the unsorted survivors.
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
    s->history = p.repeat_last_n ? malloc((size_t)p.repeat_last_n * sizeof *s->history) : NULL;
    if (!s->cand || !s->seen || (p.repeat_last_n && !s->history)) {
        r1_sampler_free(s);
        return r1_set_error(err, R1_ERR_NOMEM, "sampler: out of memory for %d candidates", n_vocab);
    }
    r1_sampler_reset(s);
    *out = s;
    return R1_OK;
}

void r1_sampler_free(r1_sampler *s) {
    if (!s) return;
    free(s->cand); free(s->seen); free(s->history); free(s);
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

/* Greedy pick straight from the logits: the penalty is applied on the fly to the tokens of
 * the history (marked in seen[]), so no O(V) copy is made. NaN never wins. */
static int32_t argmax_penalised(r1_sampler *s, const float *logits) {
    bool pen = s->p.repeat_penalty != 1.0f && s->n_hist;
    if (pen) for (int i = 0; i < s->n_hist; i++) s->seen[s->history[i]] = 1;
    int32_t best = -1;
    float bv = 0;
    for (int i = 0; i < s->n_vocab; i++) {
        float v = logits[i];
        if (pen && s->seen[i]) v = v > 0 ? v / s->p.repeat_penalty : v * s->p.repeat_penalty;
        if (best < 0 ? v == v : v > bv) { best = i; bv = v; }
    }
    if (pen) for (int i = 0; i < s->n_hist; i++) s->seen[s->history[i]] = 0;
    return best < 0 ? 0 : best;
}

/* Runs the chain (see sampler.h) leaving the m survivors with renormalised probabilities
 * in cand[0..m). sorted: order them by descending probability (top-p needs the order
 * anyway; without top-p the draw does not, so sample() skips the O(m log m) sort). */
static int run_chain(r1_sampler *s, const float *logits, bool sorted) {
    cand_t *c = s->cand;
    if (s->p.temperature <= 0) {
        c[0].id = argmax_penalised(s, logits); c[0].v = 1.0f;
        return 1;
    }
    load_penalised(s, logits);
    int n = s->n_vocab;
    /* top-k on the logits (temperature is monotonic) */
    float inv_t = 1.0f / s->p.temperature;
    if (s->p.top_k > 0 && s->p.top_k < n) { select_top(c, n, s->p.top_k); n = s->p.top_k; }
    /* softmax at temperature T over the n kept */
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) if (c[i].v > mx) mx = c[i].v;
    if (!isfinite(mx)) {  /* all -inf / NaN: fall back to the first token deterministically */
        c[0].v = 1.0f;
        return 1;
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float e = (c[i].v == c[i].v) ? expf((c[i].v - mx) * inv_t) : 0.0f;
        c[i].v = e; sum += e;
    }
    float pmax = (float)(1.0 / sum);   /* the max logit's probability */
    for (int i = 0; i < n; i++) c[i].v = (float)(c[i].v / sum);
    int m = n;
    if (s->p.top_p < 1.0f && n > 1) {
        /* a token below (1-p)/(n-1) can never be inside the nucleus: drop those first so
         * that only the few plausible tokens get sorted */
        float bound = (1.0f - s->p.top_p) / (float)(n - 1);
        m = 0;
        for (int i = 0; i < n; i++) if (c[i].v >= bound) c[m++] = c[i];
        if (m == 0) m = n;  /* cannot happen (the max is >= 1/n >= bound), defensive */
        /* sort only the top k, growing k until they hold mass >= p */
        for (int k = 64;; k *= 16) {
            if (k >= m) { qsort(c, (size_t)m, sizeof *c, cmp_desc); break; }
            select_top(c, m, k);   /* c[0..k) = the k most probable, unordered */
            double mass = 0;
            for (int i = 0; i < k; i++) mass += c[i].v;
            if (mass >= s->p.top_p) { m = k; qsort(c, (size_t)k, sizeof *c, cmp_desc); break; }
        }
        double cum = 0;
        for (int i = 0; i < m; i++) { cum += c[i].v; if (cum >= s->p.top_p) { m = i + 1; break; } }
    }
    if (s->p.min_p > 0) {
        float thr = s->p.min_p * pmax;
        int keep = 0;
        for (int i = 0; i < m; i++) if (c[i].v >= thr) c[keep++] = c[i];   /* order kept */
        m = keep ? keep : 1;
    }
    if (sorted && !(s->p.top_p < 1.0f && n > 1)) qsort(c, (size_t)m, sizeof *c, cmp_desc);
    double z = 0;
    for (int i = 0; i < m; i++) z += c[i].v;
    for (int i = 0; i < m; i++) c[i].v = (float)(c[i].v / z);
    return m;
}

int r1_sampler_candidates(r1_sampler *s, const float *logits, int32_t *ids, float *probs) {
    int m = run_chain(s, logits, true);
    for (int i = 0; i < m; i++) { ids[i] = s->cand[i].id; probs[i] = s->cand[i].v; }
    return m;
}

int32_t r1_sampler_sample(r1_sampler *s, const float *logits) {
    int n = run_chain(s, logits, false);
    const cand_t *c = s->cand;
    if (n == 1) return c[0].id;
    double r = r1_sampler_uniform(s), cum = 0;
    for (int i = 0; i < n; i++) {
        cum += c[i].v;
        if (r < cum) return c[i].id;
    }
    return c[n - 1].id;  /* rounding: r landed above the float sum */
}
