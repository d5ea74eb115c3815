/* cmd_train.c — `r1 train`: grow the built-in reasoning model (SFT on synthetic traces,
 * then GRPO with verifiable rewards) and export it as GGUF. `r1 train --eval` evaluates a
 * checkpoint on the held-out split (greedy and pass@1 / pass@k over samples). */
#include "cli.h"
#include "common.h"
#include "train/trainer.h"
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: r1 train [options]\n"
        "  -o, --out PATH        GGUF to write at the end (default models/r1-demo.gguf)\n"
        "  --ckpt PATH           checkpoint file (saved every --ckpt-every steps and at the end)\n"
        "  --resume              continue from --ckpt (exactly, with the same --threads)\n"
        "  --seed N              RNG seed (default 1; with --resume it replaces the checkpoint's)\n"
        "  --sft-steps N         supervised steps (default 600)\n"
        "  --grpo-steps N        GRPO steps (default 0)\n"
        "  --stop-at N           stop after N steps in all (checkpoint; resume later)\n"
        "  --batch N             SFT sequences / GRPO prompts per step (default 32)\n"
        "  --group N             GRPO samples per prompt (default 8)\n"
        "  --lr F, --grpo-lr F   peak learning rates (default 3e-3, 2e-4)\n"
        "  --err-rate F          share of SFT traces with a slip (default 0.1)\n"
        "  --cd-misses K         SFT Countdown traces: K > 0 = search traces, no repeated attempt,\n"
        "                        0..K wrong attempts (uniform) before the hit, each sequence\n"
        "                        within --ctx; 0 (default) = session 3's traces (<= 3 misses)\n"
        "  --cd-share F          share of Countdown prompts in training batches (SFT and GRPO;\n"
        "                        the rest uniform over the other --tasks; default: all uniform)\n"
        "  --verdict-reward F    GRPO: add F x (share of right Countdown attempt lines: true\n"
        "                        arithmetic, right yes/no verdict, no repeat) to a well-formed\n"
        "                        completion's reward (default 0)\n"
        "  --format-reward F     GRPO: reward for a well-formed completion (default 0.1; 0: the\n"
        "                        right answer derived by a valid trace is the whole reward)\n"
        "  --grpo-temp F         GRPO rollout temperature (default 1: samples of the policy)\n"
        "  --tempered-policy     GRPO: the policy is softmax(logits/F), the distribution the rollouts\n"
        "                        are sampled from, so the update is on-policy at any --grpo-temp\n"
        "                        (default: the model's own softmax, off-policy unless F = 1)\n"
        "  --tasks LIST          comma list of add,sub,mul,countdown (default add,sub)\n"
        "  --digits N            max digits per operand (default 3)\n"
        "  --dim N --layers N --heads N --kv-heads N --hidden N --ctx N   model shape\n"
        "  --threads N           worker threads (default 2)\n"
        "  --kernels K           gemm (default: SIMD GEMM, same result on every CPU) or loops\n"
        "                        (the plain loops that trained the add/sub demo model)\n"
        "  --eval-n N            held-out problems per task (default 100), --eval-every N\n"
        "  --eval-samples N      with --eval: also pass@1/pass@N over N samples at --temp\n"
        "  --eval-dump FILE      with --eval: every greedy completion to FILE, one per line (task, sample,\n"
        "                        correct, trace valid, well-formed, prompt, completion; tab-separated)\n"
        "  --eval-dump-sampled FILE   the same for the --eval-samples completions at --temp\n"
        "  --log PATH            CSV log of every step\n"
        "  --chat-template PATH  Jinja template stored in the GGUF (default models/chat_template.jinja)\n"
        "  --eval                only evaluate --ckpt (no training)\n"
        "  --bench N             throughput of N SFT steps (tokens/s fwd+bwd, GFLOP/s); no output\n"
        "  --logits-out PATH --tokens ID,...   write the trainer's own float32 logits of --ckpt\n"
        "                        for the token list (rows = positions; cross-check vs r1 logits)\n"
        "  --grad-out PATH --tokens ID,...     write f64 loss (weight 1 on every next-token\n"
        "                        prediction) then the f32 gradient of all parameters of --ckpt\n"
        "  --heldout-prompts PATH   write the held-out prompts (--tasks, --digits, --eval-n; the\n"
        "                        problems --eval uses, same order), one per line; no training\n"
        "  --heldout-seeds PATH  write the sampler seed --eval draws each of its --eval-samples\n"
        "                        completions of those prompts with (prompt i, sample r: line\n"
        "                        i x samples + r), for `r1 run --seed`; no training\n"
        "  --score DIR           score an engine's completions of those prompts: DIR/00000.txt ...\n"
        "                        = stdout of `r1 run` (text after <｜Assistant｜>, one final newline\n"
        "                        stripped); prints greedy accuracy and faithfulness per task\n"
        "  --score-sampled DIR   the same for --eval-samples completions per prompt (file i x\n"
        "                        samples + r = sample r of prompt i); prints pass@1 and pass@k\n");
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

/* --heldout-prompts / --heldout-seeds / --score / --score-sampled: the engine's own evaluation
 * of an exported GGUF goes through `r1 run` (tokenizer, chat template, decoding) on these
 * prompts; the verdicts come from the same checker (task_check) as the trainer's evaluation.
 * Sampled: completion r of prompt i is DIR/(i·samples + r).txt, drawn with the seed on line
 * i·samples + r of --heldout-seeds (the seed tr_evaluate draws that completion with). */
typedef struct heldout_req {
    const char *prompts_out, *seeds_out;
    const char *score_dir;
    int samples;          /* completions per prompt: 1 (greedy, --score) or --eval-samples */
    bool sampled;         /* --score-sampled: the completions are samples at --temp       */
} heldout_req;

static int heldout_io(const tr_opts *o, const heldout_req *q) {
    int nk = 0;
    for (int k = 0; k < TASK_KINDS; k++) nk += o->task_mask >> k & 1;
    task *set = malloc(sizeof *set * (size_t)(nk * o->eval_n + 1));
    if (!set) return 1;
    int n = tr_heldout_set(o->task_mask, o->digits, o->eval_n, set), rc = 0, ns = q->samples;
    if (q->prompts_out) {
        FILE *f = fopen(q->prompts_out, "w");
        for (int i = 0; f && i < n; i++) fprintf(f, "%s\n", set[i].prompt);
        if (!f || fclose(f) != 0) { fprintf(stderr, "r1 train: could not write %s\n", q->prompts_out); rc = 1; }
    }
    if (q->seeds_out && !rc) {
        FILE *f = fopen(q->seeds_out, "w");
        for (int i = 0; f && i < n * ns; i++) fprintf(f, "%llu\n", (unsigned long long)tr_eval_seed(i));
        if (!f || fclose(f) != 0) { fprintf(stderr, "r1 train: could not write %s\n", q->seeds_out); rc = 1; }
    }
    if (q->score_dir && !rc) {
        int cnt[TASK_KINDS] = {0}, acc[TASK_KINDS] = {0}, faith[TASK_KINDS] = {0}, fmt[TASK_KINDS] = {0};
        int any[TASK_KINDS] = {0}, missing = 0;
        double len = 0;
        for (int i = 0; i < n; i++) {
            int k = set[i].kind;
            bool right = false;
            for (int r = 0; r < ns; r++) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%05d.txt", q->score_dir, i * ns + r);
                char *text = read_file(path);
                cnt[k]++;
                if (!text) { missing++; continue; }
                size_t l = strlen(text);
                if (l && text[l - 1] == '\n') text[l - 1] = 0;   /* the newline r1 run prints at the end */
                task_verdict v = task_check(&set[i], text);
                acc[k] += v.correct; faith[k] += v.trace_valid; fmt[k] += v.format_ok;
                right |= v.correct;
                len += v.think_len;
                free(text);
            }
            any[k] += right;
        }
        if (!q->sampled) printf("task       n   greedy  faithful  well-formed\n");
        else printf("task       n   pass@1  faithful  well-formed  pass@%d\n", ns);
        for (int k = 0; k < TASK_KINDS; k++) {
            if (!cnt[k]) continue;
            printf("%-9s %4d  %6.1f%%  %7.1f%%  %10.1f%%", task_kind_name[k], cnt[k] / ns, 100.0 * acc[k] / cnt[k],
                   100.0 * faith[k] / cnt[k], 100.0 * fmt[k] / cnt[k]);
            if (q->sampled) printf("  %5.1f%%", 100.0 * any[k] * ns / cnt[k]);
            printf("\n");
        }
        printf("mean reasoning length: %.1f bytes\n", n ? len / (n * ns) : 0);
        if (missing) {
            fprintf(stderr, "r1 train: %d of %d completions missing in %s (counted wrong)\n", missing, n * ns, q->score_dir);
            rc = 1;
        }
    }
    free(set);
    return rc;
}

int cmd_train(int argc, char **argv) {
    tr_opts o = {
        .cfg = {.dim = 128, .n_layers = 4, .n_heads = 4, .n_kv_heads = 2, .hidden = 384, .vocab = TASK_VOCAB,
                .seq_len = 160, .rope_base = 10000.0f, .eps = 1e-5f},
        .seed = 1, .threads = 2, .batch = 32, .group = 8, .sft_steps = 600, .grpo_steps = 0,
        .lr = 3e-3f, .grpo_lr = 2e-4f, .wd = 0.01f, .clip = 1.0f, .err_rate = 0.1f, .warmup = 30,
        .digits = 3, .task_mask = 3, .cd_share = -1.0f, .verdict_reward = 0.0f, .format_reward = TASK_REWARD_DEFAULT.format_w, .grpo_temp = 1.0f, .eval_n = 100, .eval_every = 0, .ckpt_every = 50,
        .out = "models/r1-demo.gguf",
    };
    bool resume = false, eval_only = false;
    int bench = 0;
    int eval_samples = 8;
    float temp = 0.6f;
    const char *tmpl_path = "models/chat_template.jinja", *logits_out = NULL, *tokens = NULL, *grad_out = NULL;
    const char *dump_path = NULL, *dump_sampled = NULL;
    heldout_req hq = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && v && ++i)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--resume")) resume = true;
        else if (!strcmp(a, "--eval")) eval_only = true;
        else if (OPT("--bench")) bench = atoi(v);
        else if (OPT("-o") || OPT("--out")) o.out = v;
        else if (OPT("--ckpt")) o.ckpt = v;
        else if (OPT("--seed")) { o.seed = strtoull(v, NULL, 10); o.seed_override = true; }
        else if (OPT("--sft-steps")) o.sft_steps = atoll(v);
        else if (OPT("--grpo-steps")) o.grpo_steps = atoll(v);
        else if (OPT("--stop-at")) o.stop_at = atoll(v);
        else if (OPT("--batch")) o.batch = atoi(v);
        else if (OPT("--group")) o.group = atoi(v);
        else if (OPT("--lr")) o.lr = strtof(v, NULL);
        else if (OPT("--grpo-lr")) o.grpo_lr = strtof(v, NULL);
        else if (OPT("--err-rate")) o.err_rate = strtof(v, NULL);
        else if (OPT("--cd-share")) o.cd_share = strtof(v, NULL);
        else if (OPT("--verdict-reward")) o.verdict_reward = strtof(v, NULL);
        else if (OPT("--format-reward")) o.format_reward = strtof(v, NULL);
        else if (OPT("--cd-misses")) o.cd_misses = atoi(v);
        else if (OPT("--grpo-temp")) o.grpo_temp = strtof(v, NULL);
        else if (!strcmp(a, "--tempered-policy")) o.tempered = true;
        else if (OPT("--digits")) o.digits = atoi(v);
        else if (OPT("--dim")) o.cfg.dim = atoi(v);
        else if (OPT("--layers")) o.cfg.n_layers = atoi(v);
        else if (OPT("--heads")) o.cfg.n_heads = atoi(v);
        else if (OPT("--kv-heads")) o.cfg.n_kv_heads = atoi(v);
        else if (OPT("--hidden")) o.cfg.hidden = atoi(v);
        else if (OPT("--ctx")) o.cfg.seq_len = atoi(v);
        else if (OPT("--threads")) o.threads = atoi(v);
        else if (OPT("--kernels")) {
            if (!strcmp(v, "loops")) o.loops = true;
            else if (!strcmp(v, "gemm")) o.loops = false;
            else { fprintf(stderr, "r1 train: --kernels gemm|loops\n"); return 2; }
        }
        else if (OPT("--eval-n")) o.eval_n = atoi(v);
        else if (OPT("--eval-every")) o.eval_every = atoi(v);
        else if (OPT("--eval-samples")) eval_samples = atoi(v);
        else if (OPT("--temp")) temp = strtof(v, NULL);
        else if (OPT("--log")) o.log = v;
        else if (OPT("--ckpt-every")) o.ckpt_every = atoi(v);
        else if (OPT("--chat-template")) tmpl_path = v;
        else if (OPT("--logits-out")) { logits_out = v; eval_only = true; }
        else if (OPT("--tokens")) tokens = v;
        else if (OPT("--grad-out")) { grad_out = v; eval_only = true; }
        else if (OPT("--heldout-prompts")) hq.prompts_out = v;
        else if (OPT("--heldout-seeds")) hq.seeds_out = v;
        else if (OPT("--score")) { hq.score_dir = v; hq.sampled = false; }
        else if (OPT("--score-sampled")) { hq.score_dir = v; hq.sampled = true; }
        else if (OPT("--eval-dump")) dump_path = v;
        else if (OPT("--eval-dump-sampled")) dump_sampled = v;
        else if (OPT("--tasks")) {
            o.task_mask = 0;
            for (int k = 0; k < TASK_KINDS; k++) {
                const char *p = strstr(v, task_kind_name[k]);
                size_t l = strlen(task_kind_name[k]);
                if (p && (p == v || p[-1] == ',') && (p[l] == 0 || p[l] == ',')) o.task_mask |= 1u << k;
            }
            if (!o.task_mask) { fprintf(stderr, "r1 train: --tasks %s: no known task\n", v); return 2; }
        } else { fprintf(stderr, "r1 train: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
#undef OPT
    }
    if (o.digits < 1 || o.digits > 9 || o.batch < 1 || o.group < 1 || o.threads < 1 || o.eval_n < 0) {
        fprintf(stderr, "r1 train: --digits 1..9, --batch/--group/--threads >= 1\n");
        return 2;
    }
    if (!(o.grpo_temp >= 0) || (o.tempered && !(o.grpo_temp > 0))) {
        fprintf(stderr, "r1 train: --grpo-temp must be >= 0 (> 0 with --tempered-policy)\n");
        return 2;
    }
    if (hq.prompts_out || hq.seeds_out || hq.score_dir) {
        if (eval_samples < 1) { fprintf(stderr, "r1 train: --eval-samples must be >= 1\n"); return 2; }
        hq.samples = hq.seeds_out || hq.sampled ? eval_samples : 1;
        if (hq.seeds_out && hq.score_dir && !hq.sampled) {
            fprintf(stderr, "r1 train: --heldout-seeds goes with --score-sampled, not --score\n");
            return 2;
        }
        return heldout_io(&o, &hq);
    }
    if ((resume || eval_only) && !o.ckpt) { fprintf(stderr, "r1 train: --resume/--eval need --ckpt\n"); return 2; }
    char *tmpl = read_file(tmpl_path);
    if (!tmpl) fprintf(stderr, "r1 train: warning: %s not readable; the GGUF will have no chat template\n", tmpl_path);
    o.chat_template = tmpl;
    r1_error err = {0};
    tr_state *s = NULL;
    if (eval_only || bench) o.log = NULL;
    if (bench) { o.ckpt = NULL; resume = eval_only = false; }
    if (tr_create(&o, resume || eval_only, &s, &err) != R1_OK) { free(tmpl); return cli_fail("train", &err); }
    int rc = 0;
    if (bench > 0) {
        double tps, gf;
        tr_bench(s, bench, &tps, &gf);
        printf("train bench (%s kernels): %d steps x %d sequences, %d threads: %.0f tokens/s (fwd+bwd+AdamW), %.2f GFLOP/s\n",
               o.loops ? "loops" : "gemm", bench, o.batch, o.threads, tps, gf);
    } else if (logits_out || grad_out) {
        const tm_config *c = tr_config(s);
        int32_t ids[512];
        int n = 0;
        for (const char *p = tokens ? tokens : ""; *p && n < c->seq_len;) {
            char *e;
            long id = strtol(p, &e, 10);
            if (e == p || id < 0 || id >= c->vocab) { fprintf(stderr, "r1 train: bad --tokens near '%s'\n", p); n = -1; break; }
            ids[n++] = (int32_t)id;
            p = *e == ',' ? e + 1 : e;
        }
        tm_scratch *scr = n > 0 ? tm_scratch_new(c) : NULL;
        if (scr) tm_scratch_use_loops(scr, o.loops);
        float *row = malloc(sizeof(float) * c->vocab);
        FILE *f = scr && row ? fopen(logits_out ? logits_out : grad_out, "wb") : NULL;
        if (!f) rc = 1;
        if (f && grad_out && n >= 2) {
            size_t np = tm_n_params(c);
            float *gd = calloc(np, sizeof(float)), w[512];
            tm_params g;
            for (int t = 0; t < n - 1; t++) w[t] = 1.0f;
            if (gd) {
                tm_params_view(c, gd, &g);
                double loss = tm_forward_backward(c, tr_params(s), scr, ids, n, w, 1.0f, &g, NULL);
                fwrite(&loss, sizeof loss, 1, f);
                fwrite(gd, sizeof(float), np, f);
            } else rc = 1;
            free(gd);
            n = 0;
        }
        for (int t = 1; f && t <= n; t++) {
            tm_logits_last(c, tr_params(s), scr, ids, t, row);
            fwrite(row, sizeof(float), c->vocab, f);
        }
        if (f && fclose(f) != 0) rc = 1;
        if (rc) fprintf(stderr, "r1 train: could not write %s\n", logits_out ? logits_out : grad_out);
        tm_scratch_free(scr);
        free(row);
    } else if (eval_only) {
        tr_eval g, smp;
        FILE *dump = NULL, *dump_s = NULL;
        const char *bad = dump_path && !(dump = fopen(dump_path, "w")) ? dump_path
                        : dump_sampled && !(dump_s = fopen(dump_sampled, "w")) ? dump_sampled : NULL;
        if (bad) {
            fprintf(stderr, "r1 train: %s: cannot open for writing\n", bad);
            if (dump) fclose(dump);
            tr_free(s);
            free(tmpl);
            return 1;
        }
        tr_evaluate(s, o.eval_n, 1, 0.0f, &g, dump);
        tr_evaluate(s, o.eval_n, eval_samples, temp, &smp, dump_s);
        if (dump) fclose(dump);
        if (dump_s) fclose(dump_s);
        printf("task       n   greedy  faithful  pass@1(T=%.1f,k=%d)  pass@%d  faithful@T  faithful-pass@%d\n", temp,
               eval_samples, eval_samples, eval_samples);
        for (int k = 0; k < TASK_KINDS; k++)
            if (g.n[k])
                printf("%-9s %4d  %6.1f%%  %7.1f%%  %17.1f%%  %6.1f%%  %9.1f%%  %14.1f%%\n", task_kind_name[k], g.n[k], 100 * g.acc[k],
                       100 * g.faithful[k], 100 * smp.acc[k], 100 * smp.pass_any[k], 100 * smp.faithful[k],
                       100 * smp.pass_faithful[k]);
        if (g.n[TASK_COUNTDOWN])
            printf("attempt lines of countdown (T=%.1f): %.1f%% right (true arithmetic, right verdict, no repeat); "
                   "%.1f%% of completions say \"yes\" to a miss (greedy: %.1f%% right, %.1f%% wrong yes)\n", temp,
                   100 * smp.steps_ok[TASK_COUNTDOWN], 100 * smp.wrong_yes[TASK_COUNTDOWN],
                   100 * g.steps_ok[TASK_COUNTDOWN], 100 * g.wrong_yes[TASK_COUNTDOWN]);
        if (g.n[TASK_COUNTDOWN])
            printf("countdown attempts per completion: %.2f at T=%.1f, %.2f greedy; no well-formed answer (mostly: the "
                   "context ended first): %.1f%% at T=%.1f, %.1f%% greedy\n", smp.mean_steps[TASK_COUNTDOWN], temp,
                   g.mean_steps[TASK_COUNTDOWN], 100 * smp.unformed[TASK_COUNTDOWN], temp, 100 * g.unformed[TASK_COUNTDOWN]);
        printf("mean reasoning length (greedy): %.1f bytes\n", g.mean_len);
        for (int k = 0; k < TASK_KINDS; k++)
            if (g.n[k]) printf("example (greedy) %s\n", g.sample[k]);
    } else if (tr_run(s, &err) != R1_OK) rc = cli_fail("train", &err);
    else if (o.out && !o.stop_at) fprintf(stderr, "r1 train: wrote %s\n", o.out);
    tr_free(s);
    free(tmpl);
    return rc;
}
