/* gen.c — generation session shared by `r1 run` and `r1 chat` (see gen.h). */
#include "gen.h"
#include "common.h"
#include "term.h"
#include "cli.h"
#include <unistd.h>
#include <errno.h>
#include <math.h>

void gen_opts_init(gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->n_ctx = -1;   /* default: min(4096, trained context) */
    o->sp = r1_sampler_default_params();
    o->sp.seed = (uint64_t)(r1_time_s() * 1e9) ^ (uint64_t)getpid() << 32;
    o->think_budget = -1;
}


int gen_parse_opt(gen_opts *o, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    static const char *const with_val[] = {"-m", "--model", "-p", "--prompt", "-n", "--n-predict", "-c", "--ctx-size",
        "-t", "--threads", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--repeat-last-n",
        "--seed", "--template", "--system", "--think-budget"};
    bool needs = false;
    for (size_t k = 0; k < R1_ARRAY_LEN(with_val); k++) if (!strcmp(a, with_val[k])) needs = true;
    const char *v = NULL;
    if (needs) {
        if (*i + 1 >= argc) { fprintf(stderr, "r1 %s: option %s needs a value\n", cmd, a); return -1; }
        v = argv[++*i];
    }
    bool ok = true;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
    else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) o->prompt = v;
    else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) ok = cli_parse_int(v, -1, 1 << 30, &o->n_predict);
    else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) ok = cli_parse_int(v, 0, 1 << 24, &o->n_ctx);
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = cli_parse_int(v, 0, 4096, &o->n_threads);
    else if (!strcmp(a, "--temp")) ok = cli_parse_float(v, 0, 100, &o->sp.temperature);
    else if (!strcmp(a, "--top-k")) ok = cli_parse_int(v, 0, 1 << 30, &o->sp.top_k);
    else if (!strcmp(a, "--top-p")) ok = cli_parse_float(v, 1e-6, 1, &o->sp.top_p);
    else if (!strcmp(a, "--min-p")) ok = cli_parse_float(v, 0, 1, &o->sp.min_p);
    else if (!strcmp(a, "--repeat-penalty")) ok = cli_parse_float(v, 1e-3, 100, &o->sp.repeat_penalty);
    else if (!strcmp(a, "--repeat-last-n")) ok = cli_parse_int(v, 0, 1 << 20, &o->sp.repeat_last_n);
    else if (!strcmp(a, "--seed")) {
        char *end; errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        ok = !errno && end != v && !*end;
        o->sp.seed = s;
    }
    else if (!strcmp(a, "--template")) {
        o->tpl_name = v;
        if (!chat_template_by_name(v)) {
            fprintf(stderr, "r1 %s: unknown template '%s' (known: %s)\n", cmd, v, chat_template_names());
            return -1;
        }
    }
    else if (!strcmp(a, "--system")) o->system = v;
    else if (!strcmp(a, "--think-budget")) ok = cli_parse_int(v, 0, 1 << 30, &o->think_budget);
    else if (!strcmp(a, "--raw")) o->raw = true;
    else if (!strcmp(a, "--hide-thinking")) o->hide_thinking = true;
    else if (!strcmp(a, "--no-think")) o->no_think = true;
    else if (!strcmp(a, "--json")) o->json = true;
    else if (!strcmp(a, "--kv-f16")) o->kv_f16 = true;
    else if (!strcmp(a, "--mmap")) o->mmap = true;
    else return 0;
    if (!ok) { fprintf(stderr, "r1 %s: bad value '%s' for %s\n", cmd, v, a); return -1; }
    return 1;
}

void gen_usage_opts(FILE *f) {
    fprintf(f,
        "  -m, --model FILE        GGUF model (default: the built-in demo model)\n"
        "  -n, --n-predict N       max tokens to generate (-1: until end of answer)\n"
        "  -c, --ctx-size N        context size in tokens (default min(4096, trained); 0 = trained)\n"
        "  -t, --threads N         threads (default: physical cores)\n"
        "  --kv-f16                KV cache in F16 (half the memory; default F32)\n"
        "  --mmap                  use the weights in place from the file map (default: copy\n"
        "                          them into huge pages, faster decode; also R1_MMAP=1)\n"
        "  --temp F                temperature (default 0.6; 0 = greedy)\n"
        "  --top-k N  --top-p F  --min-p F   sampling cuts (defaults 0, 0.95, 0)\n"
        "  --repeat-penalty F      penalty over the last --repeat-last-n tokens (default 1 = off, 64)\n"
        "  --seed N                RNG seed (default: from the clock)\n"
        "  --template NAME         chat template (%s)\n"
        "  --system TEXT           system text\n"
        "  --raw                   no chat template: the prompt as-is\n"
        "  --hide-thinking         don't print the reasoning, show a live token counter\n"
        "  --think-budget N        close the reasoning after N tokens\n"
        "  --no-think              pre-fill an empty reasoning block\n"
        "  --json                  print one JSON object instead of streaming\n", chat_template_names());
}

static bool abort_cb(void *user) { const gen_session *s = user; return s->stop && *s->stop; }

/* Load progress on a terminal: "loading NAME [#####.....] 1.2/3.4 GiB", redrawn at most
 * 20 times a second (and at 100 %), then replaced by "loaded NAME (3.4 GiB) in 1.2 s". */
typedef struct load_bar { const char *name; double last; bool drawn; } load_bar;

static void fmt_size(char *buf, size_t cap, uint64_t done, uint64_t total) {
    const bool gib = total >= (1ull << 30);
    const double u = gib ? 1073741824.0 : 1048576.0;
    if (done == total) snprintf(buf, cap, "%.1f %s", total / u, gib ? "GiB" : "MiB");
    else snprintf(buf, cap, "%.1f/%.1f %s", done / u, total / u, gib ? "GiB" : "MiB");
}

static void load_bar_cb(void *user, uint64_t done, uint64_t total) {
    load_bar *b = user;
    const double now = r1_time_s();
    if (b->drawn && done < total && now - b->last < 0.05) return;
    b->last = now;
    b->drawn = true;
    enum { W = 24 };
    char bar[W + 1], size[64];
    const int k = total ? (int)((double)done / (double)total * W) : W;
    for (int i = 0; i < W; i++) bar[i] = i < k ? '#' : '.';
    bar[W] = 0;
    fmt_size(size, sizeof size, done, total);
    term_status(stderr, "loading %s [%s] %s", b->name, bar, size);
}

r1_status gen_open(gen_session *s, const gen_opts *o, volatile sig_atomic_t *stop, r1_error *err) {
    memset(s, 0, sizeof *s);
    s->stop = stop;
    r1_model_params mp = r1_model_default_params();
    const char *path = o->model ? o->model : cli_default_model();
    const char *slash = strrchr(path, '/');
    load_bar bar = {slash ? slash + 1 : path, 0, false};
    mp.progress = term_is_tty(stderr);
    mp.progress_cb = load_bar_cb;
    mp.progress_user = &bar;
    mp.mmap_weights = o->mmap;
    const double t_load = r1_time_s();
    r1_status st = r1_model_load(path, &mp, &s->model, err);
    if (bar.drawn) {
        term_status_clear(stderr);
        if (st == R1_OK) {
            char size[64];
            const uint64_t fb = r1_model_get_info(s->model)->file_bytes;
            fmt_size(size, sizeof size, fb, fb);
            fprintf(stderr, "%sloaded %s (%s) in %.2f s%s\n", term_dim(stderr), bar.name, size,
                    r1_time_s() - t_load, term_reset(stderr));
        }
    }
    if (st) return st;
    s->tok = r1_model_get_tokenizer(s->model);
    s->n_vocab = r1_model_get_info(s->model)->n_vocab;
    if (!s->tok) {
        r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: the model has no usable tokenizer (%s)", path,
                     r1_model_tokenizer_error(s->model));
        gen_close(s);
        return R1_ERR_UNSUPPORTED;
    }
    r1_context_params cp = r1_context_default_params();
    int train_ctx = r1_model_get_info(s->model)->n_ctx_train;
    cp.n_ctx = o->n_ctx >= 0 ? o->n_ctx : (train_ctx > 0 && train_ctx < 4096 ? train_ctx : 4096);
    cp.n_threads = o->n_threads;
    cp.kv_f16 = o->kv_f16;
    if ((st = r1_context_create(s->model, &cp, &s->ctx, err))) { gen_close(s); return st; }
    r1_context_set_abort(s->ctx, abort_cb, s);
    s->n_ctx = r1_context_n_ctx(s->ctx);
    if ((st = r1_sampler_create(&o->sp, s->n_vocab, &s->smp, err))) { gen_close(s); return st; }
    s->logits = malloc((size_t)s->n_vocab * sizeof *s->logits);
    s->cache = malloc((size_t)(s->n_ctx > 0 ? s->n_ctx : 1) * sizeof *s->cache);
    if (!s->logits || !s->cache) { gen_close(s); return r1_set_error(err, R1_ERR_NOMEM, "out of memory for the logits"); }
    if (o->tpl_name) {
        s->tpl = chat_template_by_name(o->tpl_name);
    } else {
        bool known;
        const char *j = r1_model_meta_str(s->model, "tokenizer.chat_template");
        s->tpl = chat_template_detect(j, &known);
        if (!known && !o->raw)
            fprintf(stderr, "r1: note: %s chat template in %s; using the DeepSeek-R1 protocol (choose with --template)\n",
                    j ? "unrecognised" : "no", path);
    }
    return R1_OK;
}

void gen_close(gen_session *s) {
    r1_sampler_free(s->smp);
    r1_context_free(s->ctx);
    r1_model_free(s->model);
    free(s->logits); free(s->cache);
    memset(s, 0, sizeof *s);
}

r1_status gen_prefill(gen_session *s, const int32_t *ids, int n, int *n_evaluated, r1_error *err) {
    *n_evaluated = 0;
    if (n <= 0) return r1_set_error(err, R1_ERR_INVALID_ARG, "empty prompt");
    if (n > s->n_ctx)
        return r1_set_error(err, R1_ERR_CONTEXT_FULL, "the prompt is %d tokens but the context holds %d (raise -c)", n, s->n_ctx);
    int common = 0;
    while (common < n && common < s->n_cache && s->cache[common] == ids[common]) common++;
    if (common == n && s->n_cache == n && s->has_logits) return R1_OK;
    if (common == n) common = n - 1;   /* re-run the last token for its logits */
    r1_context_truncate(s->ctx, common);
    s->n_cache = common;
    s->has_logits = false;
    r1_status st = r1_eval(s->ctx, ids + common, n - common, s->logits, false, err);
    if (st) { s->n_cache = r1_context_pos(s->ctx); return st; }
    memcpy(s->cache + common, ids + common, (size_t)(n - common) * sizeof *ids);
    s->n_cache = n;
    s->has_logits = true;
    *n_evaluated = n - common;
    return R1_OK;
}

/* ---- streaming output ----------------------------------------------------------- */
typedef struct out_ctx {
    const gen_opts *o;
    gen_result *r;
    bool tty, dim_on, status_shown;
    bool answer_started;   /* TTY: newlines before the first answer byte are not shown */
} out_ctx;

static bool append(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1) c *= 2;
        char *t = realloc(*buf, c);
        if (!t) return false;
        *buf = t; *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
    return true;
}

static void emit(void *user, int kind, const char *s, size_t n) {
    out_ctx *oc = user;
    gen_result *r = oc->r;
    bool show = !oc->o->json;
    bool show_think = show && !oc->o->hide_thinking;
    switch (kind) {
    case CHAT_TAG_OPEN:
        if (show_think) { if (oc->tty) { fputs(term_dim(stdout), stdout); oc->dim_on = true; } else fputs("<think>", stdout); }
        break;
    case CHAT_TAG_CLOSE:
        if (show_think) { if (oc->tty) { fputs(term_reset(stdout), stdout); oc->dim_on = false; } else fputs("</think>", stdout); }
        break;
    case CHAT_REASONING:
        append(&r->reasoning, &r->n_reasoning_b, &r->cap_r, s, n);
        if (show_think) fwrite(s, 1, n, stdout);
        break;
    default:
        append(&r->content, &r->n_content_b, &r->cap_c, s, n);
        if (show) {
            if (oc->status_shown) { term_status_clear(stderr); oc->status_shown = false; }
            if (oc->tty && !oc->answer_started) {   /* the "\n\n" after </think> */
                while (n && (*s == '\n' || *s == '\r')) { s++; n--; }
                if (!n) break;
                if (oc->r->n_reasoning_b && !oc->o->hide_thinking) fputc('\n', stdout);
            }
            oc->answer_started = true;
            fwrite(s, 1, n, stdout);
        }
    }
    if (show) fflush(stdout);
}

void gen_result_free(gen_result *r) { free(r->reasoning); free(r->content); memset(r, 0, sizeof *r); }

/* Pushes the text of token id through the detokenizer (special tokens: their text
 * directly) into the splitter. */
static void push_token(const r1_tokenizer *tok, r1_detok *d, int32_t id, chat_splitter *sp, out_ctx *oc) {
    char buf[8192];
    if (r1_token_is_special(tok, id)) {
        int n = r1_detok_flush(d, buf, sizeof buf);
        if (n > 0) chat_split_push(sp, buf, (size_t)n, emit, oc);
        n = r1_token_to_bytes(tok, id, buf, sizeof buf);
        if (n > 0) chat_split_push(sp, buf, (size_t)R1_MIN(n, (int)sizeof buf), emit, oc);
        return;
    }
    int n = r1_detok_push(d, id, buf, sizeof buf);
    if (n > 0) chat_split_push(sp, buf, (size_t)n, emit, oc);
}

/* Evaluates ids[0..n) after the cache (generated or injected tokens). */
static r1_status eval_more(gen_session *s, const int32_t *ids, int n, r1_error *err) {
    if (s->n_cache + n > s->n_ctx) return r1_set_error(err, R1_ERR_CONTEXT_FULL, "context full (%d tokens)", s->n_ctx);
    s->has_logits = false;
    r1_status st = r1_eval(s->ctx, ids, n, s->logits, false, err);
    if (st) { s->n_cache = r1_context_pos(s->ctx); return st; }
    memcpy(s->cache + s->n_cache, ids, (size_t)n * sizeof *ids);
    s->n_cache += n;
    s->has_logits = true;
    return R1_OK;
}

r1_status gen_generate(gen_session *s, const gen_opts *o, bool in_think, gen_result *r, r1_error *err) {
    out_ctx oc = {.o = o, .r = r, .tty = term_is_tty(stdout)};
    r1_detok *d = NULL;
    r1_status st = r1_detok_create(s->tok, 0, &d, err);
    if (st) return st;
    chat_splitter sp;
    chat_split_init(&sp, in_think && !o->raw);
    if (in_think && !o->raw && !o->json && !o->hide_thinking) {
        if (oc.tty) { fputs(term_dim(stdout), stdout); oc.dim_on = true; }
        else fputs("<think>\n", stdout);
    }
    double t0 = r1_time_s();
    bool budget_done = false;
    st = R1_OK;
    for (;;) {
        if (sp.state == CHAT_REASONING && o->think_budget >= 0 && !budget_done && r->n_reasoning >= o->think_budget) {
            /* close the reasoning as the model would: "</think>" then the blank line */
            int32_t *ids = NULL; size_t n_ids = 0;
            budget_done = true;
            if ((st = r1_tokenize(s->tok, "</think>\n\n", 10, 0, &ids, &n_ids, err))) break;
            for (size_t i = 0; i < n_ids; i++) push_token(s->tok, d, ids[i], &sp, &oc);
            st = eval_more(s, ids, (int)n_ids, err);
            free(ids);
            if (st == R1_ERR_CONTEXT_FULL) { r->ctx_full = true; st = R1_OK; break; }
            if (st) break;
            continue;
        }
        if (o->n_predict >= 0 && r->n_gen >= o->n_predict) { r->hit_limit = true; break; }
        if (s->stop && *s->stop) { r->cancelled = true; break; }
        if (!s->has_logits) { st = r1_set_error(err, R1_ERR_INTERNAL, "generation without logits"); break; }
        int32_t id = r1_sampler_sample(s->smp, s->logits);
        r1_sampler_accept(s->smp, id);
        if (r->n_gen == 0) r->t_first = r1_time_s() - t0;
        if (r1_token_is_eog(s->tok, id)) break;
        r->n_gen++;
        bool was_reasoning = sp.state == CHAT_REASONING;
        push_token(s->tok, d, id, &sp, &oc);
        if (was_reasoning) {
            r->n_reasoning++;
            if (o->hide_thinking && !o->json && term_is_tty(stderr) && sp.state == CHAT_REASONING) {
                term_status(stderr, "thinking… %d tokens", r->n_reasoning);
                oc.status_shown = true;
            }
        }
        st = eval_more(s, &id, 1, err);
        if (st == R1_ERR_CONTEXT_FULL) { r->ctx_full = true; st = R1_OK; break; }
        if (st == R1_ERR_CANCELLED) { r->cancelled = true; st = R1_OK; break; }
        if (st) break;
    }
    char buf[256];
    int n = r1_detok_flush(d, buf, sizeof buf);
    if (n > 0) chat_split_push(&sp, buf, (size_t)n, emit, &oc);
    chat_split_flush(&sp, emit, &oc);
    if (oc.status_shown) term_status_clear(stderr);
    if (oc.dim_on) fputs(term_reset(stdout), stdout);
    if (!o->json) { fputc('\n', stdout); fflush(stdout); }
    r->t_gen = r1_time_s() - t0;
    if (!r->reasoning) append(&r->reasoning, &r->n_reasoning_b, &r->cap_r, "", 0);
    if (!r->content) append(&r->content, &r->n_content_b, &r->cap_c, "", 0);
    r1_detok_free(d);
    return st;
}

void gen_print_stats(const gen_result *r) {
    fprintf(stderr, "%sprompt %d tokens (%d evaluated) %.1f tok/s | generation %d tokens %.1f tok/s | "
                    "first token %.0f ms | reasoning %d tokens%s%s%s\n",
            term_dim(stderr), r->n_prompt, r->n_eval_prompt,
            r->t_prompt > 0 ? r->n_eval_prompt / r->t_prompt : 0.0, r->n_gen,
            r->t_gen > 0 ? r->n_gen / r->t_gen : 0.0, (r->t_prompt + r->t_first) * 1e3, r->n_reasoning,
            r->cancelled ? " | stopped" : "", r->ctx_full ? " | context full" : "", term_reset(stderr));
}
