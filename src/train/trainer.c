/*
 * trainer.c — SFT and GRPO loops, held-out evaluation and rollouts (KV-cached decoding
 * with the project's r1_sampler), multithreaded over the sequences of a batch.
 *
 * GRPO as implemented (one policy-gradient step per batch of fresh rollouts):
 *   for each prompt, G completions are sampled at temperature T (default 1); reward r_i
 *   (tasks.h: accuracy counts only when the trace is valid); advantage A_i = r_i − mean(r) (Dr. GRPO:
 *   no division by the group std, which would up-weight nearly-solved/unsolved groups);
 *   loss = −Σ_i Σ_t A_i · log π(y_it) / Σ_i |y_i| (token-level normalisation over the whole
 *   batch, as DAPO, so long completions are not down-weighted per token as in the original
 *   per-sequence mean). With one update per rollout batch the policy ratio is exactly 1,
 *   so the PPO clip is inactive and the gradient equals that of the clipped objective;
 *   no KL term (β = 0) — the valid-trace gate, not a KL leash, keeps traces faithful.
 *   π is the model's softmax, or with --tempered-policy softmax(logits / T), the
 *   distribution the rollouts were drawn from, so the update stays on-policy at T ≠ 1.
 */
#include "train/trainer.h"
#include "train/tgemm.h"
#include <math.h>
#include <pthread.h>

#define MAX_SEQ 512

struct tr_state {
    tr_opts o;
    tm_config c;
    size_t n;
    float *params, *m, *v;
    tm_params p;
    int nt;
    float *gbuf[16];          /* per-thread gradient buffers (n floats each) */
    tm_params g[16];
    tm_scratch *scr[16];
    int64_t step;             /* steps done (SFT then GRPO)                  */
    uint64_t rng;
    FILE *log;
};

/* ---- KV-cached decoding (inference only) ---------------------------------------------- */
typedef struct kvdec {
    const tm_config *c;
    const tm_params *p;
    tm_params pt;             /* the matrices transposed ([in][out]) for tg_gemm; norms as p */
    float *kc, *vc;           /* [L][MAX_SEQ][KV] */
    float *x, *h, *q, *k, *v, *o, *a, *b, *att, *logits; /* single-token buffers */
    float *mem, *tmem;
} kvdec;

static size_t kvd(const tm_config *c) { return (size_t)c->n_kv_heads * (c->dim / c->n_heads); }

static kvdec *kvdec_new(const tm_config *c, const tm_params *p) {
    size_t D = c->dim, H = c->hidden, KV = kvd(c);
    size_t tot = 2 * (size_t)c->n_layers * MAX_SEQ * KV + 4 * D + 2 * KV + 2 * H + MAX_SEQ + c->vocab;
    kvdec *d = calloc(1, sizeof *d);
    if (!d || !(d->mem = calloc(tot, sizeof(float)))) { free(d); return NULL; }
    d->c = c; d->p = p;
    float *q = d->mem;
    d->kc = q; q += (size_t)c->n_layers * MAX_SEQ * KV;
    d->vc = q; q += (size_t)c->n_layers * MAX_SEQ * KV;
    d->x = q; q += D; d->h = q; q += D; d->q = q; q += D; d->o = q; q += D;
    d->k = q; q += KV; d->v = q; q += KV; d->a = q; q += H; d->b = q; q += H;
    d->att = q; q += MAX_SEQ; d->logits = q;
    if (!(d->tmem = malloc(tm_n_params(c) * sizeof(float)))) { free(d->mem); free(d); return NULL; }
    tm_params_view(c, d->tmem, &d->pt);
    for (int l = 0; l < c->n_layers; l++) {
        const tm_layer *L = &p->l[l];
        tm_layer *T = &d->pt.l[l];
        tg_transpose(T->wq, L->wq, (int)D, (int)D);
        tg_transpose(T->wk, L->wk, (int)KV, (int)D);
        tg_transpose(T->wv, L->wv, (int)KV, (int)D);
        tg_transpose(T->wo, L->wo, (int)D, (int)D);
        tg_transpose(T->wg, L->wg, (int)H, (int)D);
        tg_transpose(T->wu, L->wu, (int)H, (int)D);
        tg_transpose(T->wd, L->wd, (int)D, (int)H);
    }
    tg_transpose(d->pt.output, p->output, c->vocab, (int)D);
    return d;
}
static void kvdec_free(kvdec *d) { if (d) { free(d->mem); free(d->tmem); free(d); } }

/* y[O] = W[O][I] · x, given Wt = Wᵀ ([I][O]) */
static void mv(float *y, const float *Wt, const float *x, int I, int O) {
    tg_gemm(1, O, I, x, I, Wt, O, y, O, 0);
}
static void rms1(float *h, const float *x, const float *g, int D, float eps) {
    double ss = 0;
    for (int i = 0; i < D; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / D + eps));
    for (int i = 0; i < D; i++) h[i] = x[i] * r * g[i];
}
static void rope1(float *x, int nh, int HD, int pos, float base) {
    for (int h = 0; h < nh; h++)
        for (int i = 0; i < HD / 2; i++) {
            double th = pos * pow(base, -2.0 * i / HD);
            float c = (float)cos(th), s = (float)sin(th), *v = x + h * HD + 2 * i;
            float a = v[0], b = v[1];
            v[0] = a * c - b * s; v[1] = a * s + b * c;
        }
}

/* Feeds token tok at position pos (< MAX_SEQ); leaves next-token logits in d->logits. */
static void kvdec_step(kvdec *d, int32_t tok, int pos) {
    const tm_config *c = d->c;
    const tm_params *p = d->p;
    int D = c->dim, H = c->hidden, NH = c->n_heads, HD = D / NH, KV = (int)kvd(c), grp = NH / c->n_kv_heads;
    memcpy(d->x, p->embd + (size_t)tok * D, sizeof(float) * D);
    for (int l = 0; l < c->n_layers; l++) {
        const tm_layer *L = &p->l[l], *T = &d->pt.l[l];
        float *kc = d->kc + (size_t)l * MAX_SEQ * KV, *vc = d->vc + (size_t)l * MAX_SEQ * KV;
        rms1(d->h, d->x, L->attn_norm, D, c->eps);
        mv(d->q, T->wq, d->h, D, D);
        mv(kc + (size_t)pos * KV, T->wk, d->h, D, KV);
        mv(vc + (size_t)pos * KV, T->wv, d->h, D, KV);
        rope1(d->q, NH, HD, pos, c->rope_base);
        rope1(kc + (size_t)pos * KV, c->n_kv_heads, HD, pos, c->rope_base);
        float scale = 1.0f / sqrtf((float)HD);
        for (int h = 0; h < NH; h++) {
            int kh = h / grp;
            float mx = -INFINITY, sum = 0;
            for (int u = 0; u <= pos; u++) {
                const float *k = kc + (size_t)u * KV + kh * HD;
                float s = 0;
                for (int i = 0; i < HD; i++) s += d->q[h * HD + i] * k[i];
                d->att[u] = s * scale;
                if (d->att[u] > mx) mx = d->att[u];
            }
            for (int u = 0; u <= pos; u++) { d->att[u] = expf(d->att[u] - mx); sum += d->att[u]; }
            float *o = d->o + h * HD;
            memset(o, 0, sizeof(float) * HD);
            for (int u = 0; u <= pos; u++) {
                const float *v = vc + (size_t)u * KV + kh * HD;
                for (int i = 0; i < HD; i++) o[i] += d->att[u] / sum * v[i];
            }
        }
        mv(d->h, T->wo, d->o, D, D);
        for (int i = 0; i < D; i++) d->x[i] += d->h[i];
        rms1(d->h, d->x, L->ffn_norm, D, c->eps);
        mv(d->a, T->wg, d->h, D, H);
        mv(d->b, T->wu, d->h, D, H);
        for (int i = 0; i < H; i++) d->a[i] = d->a[i] / (1.0f + expf(-d->a[i])) * d->b[i];
        mv(d->h, T->wd, d->a, H, D);
        for (int i = 0; i < D; i++) d->x[i] += d->h[i];
    }
    rms1(d->h, d->x, p->out_norm, D, c->eps);
    mv(d->logits, d->pt.output, d->h, D, c->vocab);
}

/* Generates a completion for the prompt tokens (up to EOS or the length limit).
 * seq receives prompt + completion tokens; returns the total length. text gets the
 * completion text (specials as their strings, EOS not included). */
static int generate(kvdec *d, r1_sampler *smp, const int32_t *prompt, int np, int32_t *seq,
                    int max_total, char *text, size_t cap) {
    memcpy(seq, prompt, sizeof(int32_t) * np);
    for (int i = 0; i < np - 1; i++) kvdec_step(d, prompt[i], i);
    int n = np;
    size_t tl = 0;
    text[0] = 0;
    while (n < max_total) {
        kvdec_step(d, seq[n - 1], n - 1);
        int32_t t = r1_sampler_sample(smp, d->logits);
        seq[n++] = t;
        if (t == TOK_EOS) break;
        char buf[64];
        int k = task_token_text(t, buf, sizeof buf);
        if (tl + (size_t)k < cap) { memcpy(text + tl, buf, (size_t)k); tl += (size_t)k; text[tl] = 0; }
    }
    return n;
}

/* ---- batches -------------------------------------------------------------------------- */
typedef struct seqitem {
    task t;
    int32_t tok[MAX_SEQ];
    float w[MAX_SEQ];
    int n;
    float reward, adv;
    task_verdict v;
    char text[640];    /* rollout completion (truncated), for showing samples and --eval-dump */
} seqitem;

static task_kind pick_kind(const tr_opts *o, uint64_t *rng) {
    int kinds[TASK_KINDS], nk = 0;
    bool cd = o->task_mask >> TASK_COUNTDOWN & 1;
    if (o->cd_share >= 0 && cd) {
        /* Countdown-heavy mix; uniform over the others otherwise */
        if (tm_rng_uniform(rng) < o->cd_share) return TASK_COUNTDOWN;
        for (int k = 0; k < TASK_KINDS; k++) if (k != TASK_COUNTDOWN && (o->task_mask >> k & 1)) kinds[nk++] = k;
        if (!nk) return TASK_COUNTDOWN;
        return (task_kind)kinds[tm_rng_int(rng, 0, nk - 1)];
    }
    for (int k = 0; k < TASK_KINDS; k++) if (o->task_mask >> k & 1) kinds[nk++] = k;
    return (task_kind)kinds[tm_rng_int(rng, 0, nk - 1)];
}

/* SFT item: prompt + synthetic trace + EOS; weight 1 on every completion token.
 * Sequences longer than the context are truncated (they still train their prefix, but
 * never the answer); returns true when it was cut. */
static bool make_sft_item(const tr_opts *o, seqitem *it, uint64_t *rng) {
    char text[2048];
    int32_t tmp[2 * MAX_SEQ];
    task_make(&it->t, pick_kind(o, rng), o->digits, false, rng);
    task_trace(&it->t, o->err_rate, o->cd_misses, o->cfg.seq_len, rng, text, sizeof text);
    int np = task_encode_prompt(&it->t, tmp, MAX_SEQ);
    int nc = task_encode(text, tmp + np, MAX_SEQ);
    if (nc < 0) nc = 0;
    tmp[np + nc] = TOK_EOS;
    it->n = R1_MIN(np + nc + 1, o->cfg.seq_len);
    memcpy(it->tok, tmp, sizeof(int32_t) * it->n);
    for (int t = 0; t < it->n - 1; t++) it->w[t] = t >= np - 1 ? 1.0f : 0.0f;
    return np + nc + 1 > o->cfg.seq_len;
}

/* ---- threads ---------------------------------------------------------------------------- */
typedef struct job {
    tr_state *s;
    int tid;
    seqitem *items;
    int n_items;
    int mode;          /* 0: fwd+bwd, 1: rollouts */
    double loss;
    uint64_t seed;
    float temp;        /* mode 1: rollout temperature (0 = greedy); mode 0: the policy's
                        * temperature (tm_forward_backward gets 1/temp)                   */
} job;

/* The sampler seed of rollout i of a run_jobs call with this seed. */
static uint64_t item_seed(uint64_t seed, int i) { return seed * 1000003u + (uint64_t)i; }
#define EVAL_SEED 777   /* run_jobs seed of tr_evaluate's rollouts */

static void *worker(void *arg) {
    job *j = arg;
    tr_state *s = j->s;
    if (j->mode == 0) {
        for (int i = j->tid; i < j->n_items; i += s->nt)
            j->loss += tm_forward_backward(&s->c, &s->p, s->scr[j->tid], j->items[i].tok, j->items[i].n,
                                           j->items[i].w, 1.0f / j->temp, &s->g[j->tid], NULL);
        return NULL;
    }
    kvdec *d = kvdec_new(&s->c, &s->p);
    if (!d) return NULL;
    for (int i = j->tid; i < j->n_items; i += s->nt) {
        seqitem *it = &j->items[i];
        r1_sampler_params sp = r1_sampler_default_params();
        sp.temperature = j->temp; sp.top_p = 1.0f; sp.seed = item_seed(j->seed, i);
        r1_sampler *smp = NULL;
        if (r1_sampler_create(&sp, s->c.vocab, &smp, NULL) != R1_OK) continue;
        int32_t prompt[MAX_SEQ];
        int np = task_encode_prompt(&it->t, prompt, MAX_SEQ);
        char text[4096];
        it->n = generate(d, smp, prompt, np, it->tok, s->c.seq_len, text, sizeof text);
        it->v = task_check(&it->t, text);
        snprintf(it->text, sizeof it->text, "%s", text);
        it->reward = task_reward(&it->v, (task_reward_w){.format_w = s->o.format_reward, .verdict_w = s->o.verdict_reward});
        for (int t = 0; t < it->n - 1; t++) it->w[t] = t >= np - 1 ? 1.0f : 0.0f;
        r1_sampler_free(smp);
    }
    kvdec_free(d);
    return NULL;
}

uint64_t tr_eval_seed(int item) { return item_seed(EVAL_SEED, item); }

static double run_jobs(tr_state *s, seqitem *items, int n, int mode, uint64_t seed, float temp) {
    pthread_t th[16];
    job jobs[16];
    for (int k = 0; k < s->nt; k++) {
        jobs[k] = (job){.s = s, .tid = k, .items = items, .n_items = n, .mode = mode, .seed = seed, .temp = temp};
        if (mode == 0) memset(s->gbuf[k], 0, s->n * sizeof(float));
        if (k > 0) pthread_create(&th[k], NULL, worker, &jobs[k]);
    }
    worker(&jobs[0]);
    double loss = jobs[0].loss;
    for (int k = 1; k < s->nt; k++) { pthread_join(th[k], NULL); loss += jobs[k].loss; }
    if (mode == 0)
        for (int k = 1; k < s->nt; k++)
            for (size_t i = 0; i < s->n; i++) s->gbuf[0][i] += s->gbuf[k][i];
    return loss;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */
r1_status tr_create(const tr_opts *o, bool resume, tr_state **out, r1_error *err) {
    tr_state *s = calloc(1, sizeof *s);
    if (!s) return r1_set_error(err, R1_ERR_NOMEM, "out of memory for the trainer");
    s->o = *o;
    s->c = o->cfg;
    r1_status st = R1_OK;
    if (resume) {
        st = tm_checkpoint_load(o->ckpt, &s->c, &s->step, &s->rng, &s->params, &s->m, &s->v, err);
        if (st != R1_OK) { free(s); return st; }
        s->o.cfg = s->c;
        if (o->seed_override) s->rng = o->seed;
    } else {
        if ((st = tm_config_check(&s->c, err)) != R1_OK) { free(s); return st; }
        size_t n = tm_n_params(&s->c);
        s->params = malloc(n * 4); s->m = calloc(n, 4); s->v = calloc(n, 4);
        s->rng = o->seed;
    }
    if (s->c.seq_len > MAX_SEQ) { tr_free(s); return r1_set_error(err, R1_ERR_INVALID_ARG, "model config: seq_len (--ctx) %d > %d", s->c.seq_len, MAX_SEQ); }
    s->n = tm_n_params(&s->c);
    tm_params_view(&s->c, s->params, &s->p);
    if (!resume) tm_params_init(&s->c, &s->p, o->seed);
    s->nt = R1_MAX(1, R1_MIN(16, o->threads));
    for (int k = 0; k < s->nt; k++) {
        s->gbuf[k] = calloc(s->n, sizeof(float));
        s->scr[k] = tm_scratch_new(&s->c);
        if (!s->gbuf[k] || !s->scr[k]) { tr_free(s); return r1_set_error(err, R1_ERR_NOMEM, "out of memory for the trainer"); }
        tm_scratch_use_loops(s->scr[k], o->loops);
        tm_params_view(&s->c, s->gbuf[k], &s->g[k]);
    }
    if (o->log) {
        s->log = fopen(o->log, resume ? "a" : "w");
        if (!s->log) { tr_free(s); return r1_set_error(err, R1_ERR_IO, "%s: cannot open log", o->log); }
        if (!resume) fprintf(s->log, "step,phase,lr,loss,grad_norm,mean_reward,zero_var_groups,completion_len,think_len,heldout_acc,heldout_faithful,tok_per_s\n");
    }
    *out = s;
    return R1_OK;
}

void tr_free(tr_state *s) {
    if (!s) return;
    for (int k = 0; k < s->nt; k++) { free(s->gbuf[k]); tm_scratch_free(s->scr[k]); }
    if (s->log) fclose(s->log);
    free(s->params); free(s->m); free(s->v);
    free(s);
}

int tr_heldout_set(unsigned task_mask, int digits, int n_per_task, task *out) {
    uint64_t rng = 0xE7A1ull;  /* fixed held-out set, independent of the training seed */
    int i = 0;
    for (int k = 0; k < TASK_KINDS; k++) {
        if (!(task_mask >> k & 1)) continue;
        for (int j = 0; j < n_per_task; j++) task_make(&out[i++], (task_kind)k, digits, true, &rng);
    }
    return i;
}

void tr_evaluate(tr_state *s, int n_per_task, int samples, float temp, tr_eval *ev, FILE *dump) {
    memset(ev, 0, sizeof *ev);
    int nk = 0;
    for (int k = 0; k < TASK_KINDS; k++) nk += s->o.task_mask >> k & 1;
    int total = nk * n_per_task * samples;
    seqitem *items = calloc((size_t)total, sizeof *items);
    if (!items) return;
    task *set = malloc(sizeof *set * (size_t)(nk * n_per_task + 1));
    if (!set) { free(items); return; }
    int n_set = tr_heldout_set(s->o.task_mask, s->o.digits, n_per_task, set), i = 0;
    for (int j = 0; j < n_set; j++)
        for (int r = 0; r < samples; r++) items[i++].t = set[j];
    free(set);
    run_jobs(s, items, total, 1, EVAL_SEED, temp);
    double len = 0;
    for (int a = 0; a < total; a += samples) {
        int k = items[a].t.kind;
        if (ev->n[k] == 0) snprintf(ev->sample[k], sizeof ev->sample[k], "%.79s -> %.300s", items[a].t.prompt, items[a].text);
        bool any = false, any_faithful = false;
        for (int r = 0; r < samples; r++) {
            seqitem *it = &items[a + r];
            ev->acc[k] += it->v.correct;
            ev->faithful[k] += it->v.trace_valid;
            any |= it->v.correct;
            any_faithful |= it->v.correct && it->v.trace_valid;
            if (dump) {
                fprintf(dump, "%s\t%d\t%d\t%d\t%d\t%s\t", task_kind_name[k], r, it->v.correct, it->v.trace_valid,
                        it->v.format_ok, it->t.prompt);
                for (const char *c = it->text; *c; c++)
                    if (*c == '\n') fputs("\\n", dump);
                    else fputc(*c, dump);
                fputc('\n', dump);
            }
            if (it->v.n_steps) ev->steps_ok[k] += (double)it->v.n_steps_ok / it->v.n_steps;
            ev->wrong_yes[k] += it->v.wrong_yes;
            ev->unformed[k] += !it->v.format_ok;
            ev->mean_steps[k] += it->v.n_steps;
            len += it->v.think_len;
        }
        ev->pass_any[k] += any;
        ev->pass_faithful[k] += any_faithful;
        ev->n[k] += samples;
    }
    for (int k = 0; k < TASK_KINDS; k++)
        if (ev->n[k]) { ev->acc[k] /= ev->n[k]; ev->faithful[k] /= ev->n[k]; ev->pass_any[k] /= ev->n[k] / samples; ev->pass_faithful[k] /= ev->n[k] / samples;
                      ev->steps_ok[k] /= ev->n[k]; ev->wrong_yes[k] /= ev->n[k]; ev->unformed[k] /= ev->n[k];
                      ev->mean_steps[k] /= ev->n[k]; }
    ev->mean_len = total ? len / total : 0;
    free(items);
}

const tm_params *tr_params(const tr_state *s) { return &s->p; }
const tm_config *tr_config(const tr_state *s) { return &s->c; }

static uint64_t step_seed(uint64_t seed, int64_t step) {
    uint64_t x = seed ^ ((uint64_t)step * 0x9E3779B97F4A7C15ull);
    return tm_rng_next(&x);
}

static void log_eval(tr_state *s, tr_eval *ev, double *acc, double *faith) {
    int nk = 0;
    *acc = *faith = 0;
    for (int k = 0; k < TASK_KINDS; k++)
        if (ev->n[k]) { *acc += ev->acc[k]; *faith += ev->faithful[k]; nk++; }
    if (nk) { *acc /= nk; *faith /= nk; }
    fprintf(stderr, "  held-out greedy:");
    for (int k = 0; k < TASK_KINDS; k++)
        if (ev->n[k]) fprintf(stderr, " %s %.1f%% (faithful %.1f%%)", task_kind_name[k], 100 * ev->acc[k], 100 * ev->faithful[k]);
    fprintf(stderr, "\n");
    (void)s;
}

/* One optimiser step on the gradient in gbuf[0] (already normalised). */
static double apply_step(tr_state *s, float lr) {
    double gn = tm_clip_grad(&s->g[0], s->o.clip);
    tm_adamw h = {.lr = lr, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .wd = s->o.wd};
    tm_adamw_step(&s->c, &h, &s->p, &s->g[0], s->m, s->v, s->step + 1);
    return gn;
}

r1_status tr_run(tr_state *s, r1_error *err) {
    const tr_opts *o = &s->o;
    int64_t total = o->sft_steps + o->grpo_steps;
    int nitems = R1_MAX(o->batch, o->batch * R1_MAX(1, o->group));
    seqitem *items = calloc((size_t)nitems, sizeof *items);
    if (!items) return r1_set_error(err, R1_ERR_NOMEM, "out of memory for the trainer");
    r1_status st = R1_OK;
    long n_sft = 0, n_cut = 0;
    while (s->step < total && !(o->stop_at > 0 && s->step >= o->stop_at)) {
        bool sft = s->step < o->sft_steps;
        uint64_t rng = step_seed(s->rng, s->step);
        double t0 = r1_time_s(), loss = 0, mean_r = NAN, zero_var = NAN, clen = 0, tlen = NAN;
        float lr;
        long ntok = 0;
        if (sft) {
            lr = tm_lr_at(o->lr, s->step, o->warmup, o->sft_steps, 0.1f);
            for (int i = 0; i < o->batch; i++) n_cut += make_sft_item(o, &items[i], &rng);
            n_sft += o->batch;
            for (int i = 0; i < o->batch; i++) for (int t = 0; t < items[i].n - 1; t++) ntok += items[i].w[t] != 0;
            for (int i = 0; i < o->batch; i++) for (int t = 0; t < items[i].n - 1; t++) items[i].w[t] /= (float)ntok;
            loss = run_jobs(s, items, o->batch, 0, 0, 1.0f);
            clen = (double)ntok / o->batch;
        } else {
            int64_t gs = s->step - o->sft_steps;
            lr = tm_lr_at(o->grpo_lr, gs, R1_MIN(10, o->grpo_steps), o->grpo_steps, 1.0f);
            int G = o->group, n = o->batch * G;
            for (int b = 0; b < o->batch; b++) {
                task t;
                task_make(&t, pick_kind(o, &rng), o->digits, false, &rng);
                for (int g = 0; g < G; g++) items[b * G + g].t = t;
            }
            run_jobs(s, items, n, 1, rng, o->grpo_temp);
            double sr = 0, sl = 0;
            int zv = 0;
            for (int b = 0; b < o->batch; b++) {
                double mean = 0;
                for (int g = 0; g < G; g++) mean += items[b * G + g].reward;
                mean /= G;
                bool same = true;
                for (int g = 0; g < G; g++) {
                    seqitem *it = &items[b * G + g];
                    it->adv = (float)(it->reward - mean);
                    if (fabsf(it->adv) > 1e-6f) same = false;
                    sr += it->reward; sl += it->v.think_len;
                }
                zv += same;
            }
            for (int i = 0; i < n; i++) for (int t = 0; t < items[i].n - 1; t++) ntok += items[i].w[t] != 0;
            /* keep only items with a non-zero advantage; weight = A / (all completion tokens) */
            int m = 0;
            for (int i = 0; i < n; i++) {
                if (fabsf(items[i].adv) <= 1e-6f) continue;
                if (m != i) items[m] = items[i];
                for (int t = 0; t < items[m].n - 1; t++) items[m].w[t] *= items[m].adv / (float)ntok;
                m++;
            }
            if (m > 0) loss = run_jobs(s, items, m, 0, 0, o->tempered ? o->grpo_temp : 1.0f);
            else for (size_t i = 0; i < s->n; i++) s->gbuf[0][i] = 0;
            mean_r = sr / n; zero_var = (double)zv / o->batch; clen = (double)ntok / n; tlen = sl / n;
        }
        double gn = apply_step(s, lr);
        s->step++;
        double dt = r1_time_s() - t0;
        double acc = NAN, faith = NAN;
        bool last_of_phase = s->step == o->sft_steps || s->step == total;
        if ((o->eval_every > 0 && s->step % o->eval_every == 0) || last_of_phase) {
            tr_eval ev;
            tr_evaluate(s, o->eval_n, 1, 0.0f, &ev, NULL);
            log_eval(s, &ev, &acc, &faith);
        }
        if (s->step % 10 == 0 || !isnan(acc))
            fprintf(stderr, "step %lld %s lr %.2e loss %.4f |g| %.3f reward %.3f zero-var %.2f len %.1f think %.1f %.0f tok/s\n",
                    (long long)s->step, sft ? "sft" : "grpo", lr, loss, gn, mean_r, zero_var, clen, tlen, ntok / dt);
        if (s->log)
            fprintf(s->log, "%lld,%s,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g\n", (long long)s->step, sft ? "sft" : "grpo", lr, loss, gn,
                    mean_r, zero_var, clen, tlen, acc, faith, ntok / dt), fflush(s->log);
        bool stop = o->stop_at > 0 && s->step >= o->stop_at;
        if (o->ckpt && ((o->ckpt_every > 0 && s->step % o->ckpt_every == 0) || s->step == total || stop))
            if ((st = tm_checkpoint_save(o->ckpt, &s->c, s->step, s->rng, s->params, s->m, s->v, err)) != R1_OK) break;
    }
    free(items);
    if (n_cut)
        fprintf(stderr, "r1 train: warning: %ld of %ld SFT sequences were longer than the context (%d tokens) and were "
                "cut before their answer; raise --ctx\n", n_cut, n_sft, o->cfg.seq_len);
    if (st == R1_OK && o->out && s->step >= total) st = tr_export_gguf(&s->c, &s->p, o->chat_template, o->out, err);
    return st;
}

/* Throughput of SFT steps (forward + backward + AdamW) on the trainer's threads: every
 * token of every sequence counts (prompt positions are computed too). FLOPs per token:
 * 6 × (matmul parameters, output head included) + 12 × n_layers × dim × (t+1)/1 for the
 * causal attention at position t (QKᵀ and PV, forward ×2 backward). */
void tr_bench(tr_state *s, int steps, double *tok_per_s, double *gflop_per_s) {
    const tm_config *c = &s->c;
    seqitem *items = calloc((size_t)s->o.batch, sizeof *items);
    *tok_per_s = *gflop_per_s = 0;
    if (!items) return;
    double P = (double)tm_n_params(c) - (double)c->vocab * c->dim;  /* embedding is a lookup */
    double flops = 0, tok = 0, t0 = r1_time_s();
    for (int st = 0; st < steps; st++) {
        uint64_t rng = step_seed(s->rng, st);
        for (int i = 0; i < s->o.batch; i++) {
            make_sft_item(&s->o, &items[i], &rng);
            tok += items[i].n;
            flops += 6.0 * P * items[i].n + 12.0 * c->n_layers * c->dim * (double)items[i].n * (items[i].n + 1) / 2;
            for (int t = 0; t < items[i].n - 1; t++) items[i].w[t] /= 1000.0f;
        }
        run_jobs(s, items, s->o.batch, 0, 0, 1.0f);
        apply_step(s, 1e-4f);
    }
    double dt = r1_time_s() - t0;
    *tok_per_s = tok / dt;
    *gflop_per_s = flops / dt * 1e-9;
    free(items);
}
