/*
 * tasks.c — task generation, synthetic traces, trace/answer verification, reward and the
 * byte-level encoding of the R1 protocol (formats in tasks.h).
 */
#include "train/tasks.h"
#include "train/tmodel.h"
#include <ctype.h>
#include <stdio.h>

const char *const task_special_text[6] = {
    "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<\xef\xbd\x9cUser\xef\xbd\x9c>",
    "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>",
    "<think>",
    "</think>",
};
const char *const task_kind_name[TASK_KINDS] = {"add", "sub", "mul", "countdown"};

/* ---- generation ----------------------------------------------------------------------- */
static int64_t rand_digits(uint64_t *rng, int max_digits) {
    int nd = tm_rng_int(rng, 1, max_digits);
    int64_t lo = 1, hi = 9;
    for (int i = 1; i < nd; i++) { lo *= 10; hi = hi * 10 + 9; }
    if (nd == 1) lo = 0;
    return lo + (int64_t)(tm_rng_next(rng) % (uint64_t)(hi - lo + 1));
}

static bool is_heldout(int64_t a, int64_t b, int64_t c) {
    uint64_t h = (uint64_t)a * 0x9E3779B97F4A7C15ull ^ (uint64_t)b * 0xC2B2AE3D27D4EB4Full ^ (uint64_t)c * 0x165667B19E3779F9ull;
    h ^= h >> 29; h *= 0xBF58476D1CE4E5B9ull; h ^= h >> 32;
    return h % 8 == 0;
}

static int64_t cd_apply(int64_t x, char op, int64_t y) { return op == '+' ? x + y : op == '-' ? x - y : x * y; }

void task_make(task *t, task_kind kind, int max_digits, bool heldout, uint64_t *rng) {
    memset(t, 0, sizeof *t);
    t->kind = kind;
    int v = tm_rng_int(rng, 0, 3);
    for (;;) {
        if (kind == TASK_COUNTDOWN) {
            static const char ops[3] = {'+', '-', '*'};
            t->nums[0] = tm_rng_int(rng, 1, 10); t->nums[1] = tm_rng_int(rng, 1, 10);
            t->nums[2] = tm_rng_int(rng, 2, 25);
            int p = tm_rng_int(rng, 0, 5);  /* order of use */
            static const int perm[6][3] = {{0,1,2},{0,2,1},{1,0,2},{1,2,0},{2,0,1},{2,1,0}};
            int64_t r = cd_apply(cd_apply(t->nums[perm[p][0]], ops[tm_rng_int(rng, 0, 2)], t->nums[perm[p][1]]),
                                 ops[tm_rng_int(rng, 0, 2)], t->nums[perm[p][2]]);
            if (r < 1 || r > 200) continue;
            t->target = (int)r;
            if (is_heldout(t->nums[0] * 1000 + t->nums[1] * 100 + t->nums[2], t->target, 3) != heldout) continue;
            break;
        }
        t->a = rand_digits(rng, max_digits);
        t->b = kind == TASK_MUL ? tm_rng_int(rng, 2, 9) : rand_digits(rng, max_digits);
        if (kind == TASK_SUB && t->a < t->b) { int64_t x = t->a; t->a = t->b; t->b = x; }
        if (is_heldout(t->a, t->b, kind) == heldout) break;
    }
    long long a = t->a, b = t->b;
    switch (kind) {
    case TASK_ADD: {
        static const char *f[4] = {"What is %lld+%lld?", "What is %lld + %lld?", "Compute %lld+%lld.", "Add %lld and %lld."};
        snprintf(t->prompt, sizeof t->prompt, f[v], a, b);
        break;
    }
    case TASK_SUB:
        if (v == 3) snprintf(t->prompt, sizeof t->prompt, "Subtract %lld from %lld.", b, a);
        else {
            static const char *f[3] = {"What is %lld-%lld?", "What is %lld - %lld?", "Compute %lld-%lld."};
            snprintf(t->prompt, sizeof t->prompt, f[v], a, b);
        }
        break;
    case TASK_MUL: {
        static const char *f[4] = {"What is %lld*%lld?", "What is %lld x %lld?", "Compute %lld*%lld.", "Multiply %lld by %lld."};
        snprintf(t->prompt, sizeof t->prompt, f[v], a, b);
        break;
    }
    default:
        if (v < 2) snprintf(t->prompt, sizeof t->prompt, "Using %d, %d and %d, make %d with + - *.", t->nums[0], t->nums[1], t->nums[2], t->target);
        else snprintf(t->prompt, sizeof t->prompt, "Make %d from %d, %d and %d using + - *.", t->target, t->nums[0], t->nums[1], t->nums[2]);
    }
}

/* ---- column arithmetic ------------------------------------------------------------------ */
static int ndigits(int64_t x) { int n = 1; while (x >= 10) { x /= 10; n++; } return n; }
static int digit(int64_t x, int i) { while (i-- > 0) x /= 10; return (int)(x % 10); }
static int n_columns(const task *t) {
    return t->kind == TASK_MUL ? ndigits(t->a) : R1_MAX(ndigits(t->a), ndigits(t->b));
}

/* One column step: the line's numbers (x, y, c, s) for column i given carry/borrow c. */
typedef struct col { int x, y, c, s; } col;
static col column_true(const task *t, int i, int c) {
    col k = {digit(t->a, i), t->kind == TASK_MUL ? (int)t->b : digit(t->b, i), c, 0};
    if (t->kind == TASK_ADD) k.s = k.x + k.y + c;
    else if (t->kind == TASK_MUL) k.s = k.x * k.y + c;
    else { if (k.x - k.y - c < 0) k.x += 10; k.s = k.x - k.y - c; }
    return k;
}
static int next_carry(const task *t, col k) { return t->kind == TASK_SUB ? (k.x >= 10) : k.s / 10; }
static int col_line(const task *t, col k, char *o, size_t cap) {
    if (t->kind == TASK_ADD) return snprintf(o, cap, "%d+%d+%d=%d\n", k.x, k.y, k.c, k.s);
    if (t->kind == TASK_MUL) return snprintf(o, cap, "%d*%d+%d=%d\n", k.x, k.y, k.c, k.s);
    return snprintf(o, cap, "%d-%d-%d=%d\n", k.x, k.y, k.c, k.s);
}
/* The number spelled by the column results s[0..n-1] (units first) and final carry. */
static int64_t spelled(const task *t, const int *s, int n, int carry) {
    int64_t r = 0;
    if (t->kind == TASK_MUL) {
        r = s[n - 1];
        for (int i = n - 2; i >= 0; i--) r = r * 10 + s[i] % 10;
        return r;
    }
    if (t->kind == TASK_ADD && carry) r = carry;
    for (int i = n - 1; i >= 0; i--) r = r * 10 + s[i] % 10;
    return r;
}

static const char *cd_fmt = "%d%c%d=%lld, %lld%c%d=%lld %s\n";

/* Session-5 Countdown search trace (cd_misses K > 0): every distinct attempt of the problem
 * is enumerated; k wrong attempts (k uniform in 0..K, at most the misses there are) are drawn
 * uniformly without repeats in a random order, then one hit drawn uniformly among the hits.
 * The verdict is "yes" exactly when the line's (written) result equals the target, so it can
 * only be learned by checking. A slip (+1 on a miss's result, prob. 0.3 per miss in a slipped
 * trace) is checked like any result: if it lands on the target the line says "yes" and the
 * trace ends there with that (wrong) answer, as in the session-3 traces. The whole sequence
 * (prompt tokens + completion + EOS) must fit seq_len tokens: a draw that does not is
 * redrawn with the same k (up to 64 times), then with k - 1. */
enum { CD_ATTEMPTS = 54 };
typedef struct cd_att { int x, y, z; char o1, o2; long long r, s; } cd_att;

/* Search-trace line: the result is compared with the target in the line itself,
 * "a op b=r, r op c=s<T no" / "s>T no" / "s=T yes", so the verdict is a local check. */
static const char *cd_fmt_cmp = "%d%c%d=%lld, %lld%c%d=%lld%c%d %s\n";
static char cd_cmp(long long s, int target) { return s < target ? '<' : s > target ? '>' : '='; }
static int cd_line(const cd_att *a, long long s, int target, char *o, size_t cap) {
    return snprintf(o, cap, cd_fmt_cmp, a->x, a->o1, a->y, a->r, a->r, a->o2, a->z, s, cd_cmp(s, target), target,
                    s == target ? "yes" : "no");
}

static int cd_search_trace(const task *t, bool slip, int max_misses, int seq_len, uint64_t *rng, char *out, size_t cap) {
    static const char ops[3] = {'+', '-', '*'};
    static const int perm[6][3] = {{0,1,2},{0,2,1},{1,0,2},{1,2,0},{2,0,1},{2,1,0}};
    cd_att hit[CD_ATTEMPTS], miss[CD_ATTEMPTS];
    int nh = 0, nm = 0;
    for (int p = 0; p < 6; p++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                cd_att a = {t->nums[perm[p][0]], t->nums[perm[p][1]], t->nums[perm[p][2]], ops[i], ops[j], 0, 0};
                a.r = cd_apply(a.x, a.o1, a.y);
                a.s = cd_apply(a.r, a.o2, a.z);
                bool dup = false;   /* equal numbers give equal attempts from different orders */
                cd_att *l = a.s == t->target ? hit : miss;
                int n = a.s == t->target ? nh : nm;
                for (int q = 0; q < n && !dup; q++)
                    dup = l[q].x == a.x && l[q].y == a.y && l[q].z == a.z && l[q].o1 == a.o1 && l[q].o2 == a.o2;
                if (dup) continue;
                if (a.s == t->target) hit[nh++] = a; else miss[nm++] = a;
            }
    if (nh == 0) return -1;   /* task_make only draws solvable problems */
    int prompt_toks = 3 + (int)strlen(t->prompt);   /* BOS USER prompt ASSISTANT (ASCII prompt) */
    int k = tm_rng_int(rng, 0, R1_MIN(max_misses, nm));
    for (int tries = 0;; tries++) {
        if (tries == 64) { if (k == 0) return -1; k--; tries = 0; }
        /* partial Fisher-Yates: miss[0..k-1] become k distinct misses in random order */
        for (int i = 0; i < k; i++) {
            int j = tm_rng_int(rng, i, nm - 1);
            cd_att x = miss[i]; miss[i] = miss[j]; miss[j] = x;
        }
        const cd_att *h = &hit[tm_rng_int(rng, 0, nh - 1)];
        long long sv[CD_ATTEMPTS];
        int len = 0, n_lines = 0;
        char line[96], ans[64];
        const cd_att *last = h;
        for (int i = 0; i <= k; i++) {
            const cd_att *a = i < k ? &miss[i] : h;
            sv[i] = a->s;
            if (slip && i < k && tm_rng_uniform(rng) < 0.3) sv[i] += 1;
            len += cd_line(a, sv[i], t->target, line, sizeof line);
            n_lines = i + 1;
            last = a;
            if (sv[i] == t->target) break;
        }
        int al = snprintf(ans, sizeof ans, "(%d%c%d)%c%d", last->x, last->o1, last->y, last->o2, last->z);
        /* <think> "\n" lines "so " ans "\n" </think> "\n\n" ans EOS */
        int total = prompt_toks + 2 + len + 3 + al + 1 + 1 + 2 + al + 1;
        if (total > seq_len) continue;
        size_t o = 0;
#define PUTO(...) do { int k_ = snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__); if (k_ > 0) o += (size_t)k_; } while (0)
        PUTO("<think>\n");
        for (int i = 0; i < n_lines; i++) {
            cd_line(i < k ? &miss[i] : h, sv[i], t->target, line, sizeof line);
            PUTO("%s", line);
        }
        PUTO("so %s\n</think>\n\n%s", ans, ans);
#undef PUTO
        return (int)o;
    }
}

int task_trace(const task *t, float err_rate, int cd_misses, int seq_len, uint64_t *rng, char *out, size_t cap) {
    size_t len = 0;
#define PUT(...) do { int k_ = snprintf(out + len, len < cap ? cap - len : 0, __VA_ARGS__); if (k_ > 0) len += (size_t)k_; } while (0)
    bool slip = tm_rng_uniform(rng) < err_rate;
    if (t->kind == TASK_COUNTDOWN && cd_misses > 0) {
        int n = cd_search_trace(t, slip, cd_misses, seq_len, rng, out, cap);
        if (n >= 0) return n;
        /* not even the hit alone fits seq_len: the session-3 trace below (the trainer reports the cut) */
    }
    PUT("<think>\n");
    if (t->kind == TASK_COUNTDOWN) {
        static const char ops[3] = {'+', '-', '*'};
        static const int perm[6][3] = {{0,1,2},{0,2,1},{1,0,2},{1,2,0},{2,0,1},{2,1,0}};
        /* Up to CD_MAX_MISSES distinct wrong attempts (checked and abandoned), then the hit:
         * trial and error that fits a 192-token context (session 2 allowed 6 misses with
         * repeats: traces up to 244 tokens). */
        enum { CD_MAX_MISSES = 3 };
        int tries = 0, seen[CD_MAX_MISSES + 1][5];
        char ansbuf[64] = "";
        for (int guard = 0; guard < 400; guard++) {
            int p = tm_rng_int(rng, 0, 5); char o1 = ops[tm_rng_int(rng, 0, 2)], o2 = ops[tm_rng_int(rng, 0, 2)];
            int x = t->nums[perm[p][0]], y = t->nums[perm[p][1]], z = t->nums[perm[p][2]];
            long long r = cd_apply(x, o1, y), s = cd_apply(r, o2, z);
            bool hit = s == t->target, dup = false;
            if (!hit && tries >= CD_MAX_MISSES) continue;
            for (int j = 0; j < tries; j++)
                dup |= seen[j][0] == x && seen[j][1] == o1 && seen[j][2] == y && seen[j][3] == o2 && seen[j][4] == z;
            if (dup) continue;
            seen[tries][0] = x; seen[tries][1] = o1; seen[tries][2] = y; seen[tries][3] = o2; seen[tries][4] = z;
            if (slip && !hit && tm_rng_uniform(rng) < 0.3) s += 1;     /* a checked-and-missed slip */
            PUT(cd_fmt, x, o1, y, r, r, o2, z, s, s == t->target ? "yes" : "no");
            tries++;
            if (s == t->target) { snprintf(ansbuf, sizeof ansbuf, "(%d%c%d)%c%d", x, o1, y, o2, z); break; }
        }
        PUT("so %s\n</think>\n\n%s", ansbuf, ansbuf);
        return (int)len;
    }
    int n = n_columns(t), c = 0, s[24];
    int bad = slip ? tm_rng_int(rng, 0, n - 1) : -1;
    for (int i = 0; i < n; i++) {
        col k = column_true(t, i, c);
        if (i == bad) {
            bool down = k.s > 0 && ((tm_rng_next(rng) & 1) || (t->kind == TASK_SUB && k.s == 9));
            k.s += down ? -1 : 1;
        }
        char line[48];
        col_line(t, k, line, sizeof line);
        PUT("%s", line);
        s[i] = k.s;
        c = next_carry(t, k);
    }
    long long r = spelled(t, s, n, c);
    PUT("so %lld\n</think>\n\n%lld", r, r);
#undef PUT
    return (int)len;
}

/* ---- verification ----------------------------------------------------------------------- */
/* Tiny expression evaluator for countdown answers: + - * and parentheses over integers;
 * records the numbers used. Returns false on a syntax error. */
typedef struct ex { const char *p; int used[8]; int n_used; } ex;
static bool ex_sum(ex *e, int64_t *v);
static bool ex_atom(ex *e, int64_t *v) {
    if (*e->p == '(') {
        e->p++;
        if (!ex_sum(e, v) || *e->p != ')') return false;
        e->p++;
        return true;
    }
    if (!isdigit((unsigned char)*e->p)) return false;
    int64_t x = 0;
    while (isdigit((unsigned char)*e->p) && x < 100000) x = x * 10 + (*e->p++ - '0');
    if (e->n_used >= 8) return false;
    e->used[e->n_used++] = (int)x;
    *v = x;
    return true;
}
static bool ex_prod(ex *e, int64_t *v) {
    if (!ex_atom(e, v)) return false;
    while (*e->p == '*') { int64_t y; e->p++; if (!ex_atom(e, &y)) return false; *v *= y; }
    return true;
}
static bool ex_sum(ex *e, int64_t *v) {
    if (!ex_prod(e, v)) return false;
    while (*e->p == '+' || *e->p == '-') {
        char op = *e->p++;
        int64_t y;
        if (!ex_prod(e, &y)) return false;
        *v = op == '+' ? *v + y : *v - y;
    }
    return true;
}
static bool same_multiset(const int *a, const int *b, int n) {
    int used[8] = {0};
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < n && (used[j] || b[j] != a[i])) j++;
        if (j == n) return false;
        used[j] = 1;
    }
    return true;
}
static bool parse_int(const char *s, int64_t *v) {
    const char *p = s;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p) || strlen(p) > 15) return false;
    for (const char *q = p; *q; q++) if (!isdigit((unsigned char)*q)) return false;
    *v = strtoll(s, NULL, 10);
    return true;
}

task_verdict task_check(const task *t, const char *comp) {
    task_verdict v = {0};
    const char *open = "<think>\n", *close = "</think>\n\n";
    if (strncmp(comp, open, strlen(open)) != 0) return v;
    const char *body = comp + strlen(open), *end = strstr(body, "</think>");
    if (!end) return v;
    v.think_len = (int)(end - body);
    if (strncmp(end, close, strlen(close)) != 0) return v;
    const char *ans = end + strlen(close);
    if (!*ans || strstr(ans, "<think>") || strstr(ans, "</think>") || strchr(ans, '\n') || strstr(body, "<think>")) return v;
    v.format_ok = true;
    int64_t got = 0;
    if (t->kind == TASK_COUNTDOWN) {
        ex e = {.p = ans};
        v.correct = ex_sum(&e, &got) && *e.p == 0 && got == t->target && e.n_used == 3 && same_multiset(e.used, t->nums, 3);
    } else {
        int64_t truth = t->kind == TASK_ADD ? t->a + t->b : t->kind == TASK_SUB ? t->a - t->b : t->a * t->b;
        v.correct = parse_int(ans, &got) && got == truth;
    }
    /* walk the trace lines */
    char tr[2048];
    size_t tl = (size_t)v.think_len < sizeof tr - 1 ? (size_t)v.think_len : sizeof tr - 1;
    memcpy(tr, body, tl);
    tr[tl] = 0;
    bool ok = true;
    char *save = NULL, *line = strtok_r(tr, "\n", &save);
    if (t->kind == TASK_COUNTDOWN) {
        bool found = false;
        char stated[64] = "";
        enum { SEEN_MAX = 64 };
        int seen[SEEN_MAX][5], n_seen = 0;
        bool hit = false;
        for (; line; line = strtok_r(NULL, "\n", &save)) {
            if (!strncmp(line, "so ", 3)) { snprintf(stated, sizeof stated, "%s", line + 3); break; }
            /* every attempt line is scored for the process reward, even after the trace
             * went wrong (validity below stops at the first wrong line) */
            v.n_steps++;
            bool was_ok = ok;
            if (found) ok = false;
            int x, y, z, used = 0, tgt = t->target; char o1, o2, cmp = 0, verdict[4]; long long r, r2, s;
            /* session-5 lines compare with the target ("s<T no", "s=T yes"); session-3 lines do not */
            if (!(sscanf(line, "%d%c%d=%lld, %lld%c%d=%lld%c%d %3s%n", &x, &o1, &y, &r, &r2, &o2, &z, &s, &cmp, &tgt, verdict, &used) == 11 &&
                  line[used] == 0 && strchr("<=>", cmp)) &&
                !(cmp = 0, tgt = t->target, used = 0,
                  sscanf(line, "%d%c%d=%lld, %lld%c%d=%lld %3s%n", &x, &o1, &y, &r, &r2, &o2, &z, &s, verdict, &used) == 9 &&
                  line[used] == 0)) { ok = false; continue; }
            int nums[3] = {x, y, z};
            bool yes = !strcmp(verdict, "yes");
            v.wrong_yes |= yes && s != t->target;
            bool step_ok = same_multiset(nums, t->nums, 3) && strchr("+-*", o1) && strchr("+-*", o2) &&
                           (cmp == 0 || (tgt == t->target && cmp == cd_cmp(s, t->target))) &&
                           r == cd_apply(x, o1, y) && r2 == r && s == cd_apply(r, o2, z) &&
                           (yes ? s == t->target : !strcmp(verdict, "no") && s != t->target);
            bool repeat = false;
            for (int j = 0; j < n_seen; j++)
                repeat |= seen[j][0] == x && seen[j][1] == o1 && seen[j][2] == y && seen[j][3] == o2 && seen[j][4] == z;
            if (!repeat && n_seen < SEEN_MAX) {
                seen[n_seen][0] = x; seen[n_seen][1] = o1; seen[n_seen][2] = y; seen[n_seen][3] = o2; seen[n_seen][4] = z;
                n_seen++;
            }
            v.n_steps_ok += step_ok && !repeat && !hit;   /* nothing counts after the hit */
            hit |= step_ok && yes;
            if (!was_ok || found) continue;
            ok = step_ok;
            if (!ok) continue;
            if (yes) {
                found = true;
                char expect[64];
                snprintf(expect, sizeof expect, "(%d%c%d)%c%d", x, o1, y, o2, z);
                if (strcmp(expect, ans) != 0) ok = false;
            }
        }
        v.trace_valid = ok && found && !strcmp(stated, ans) && (!line || !strtok_r(NULL, "\n", &save));
    } else {
        int n = n_columns(t), c = 0, s[24], i = 0;
        int64_t stated = -1;
        for (; line && ok; line = strtok_r(NULL, "\n", &save)) {
            if (i == n) {
                long long sv; int used;
                ok = sscanf(line, "so %lld%n", &sv, &used) == 1 && line[used] == 0;
                stated = sv;
                i++;
                continue;
            }
            if (i > n) { ok = false; break; }
            col want = column_true(t, i, c);
            col k; int used; char o1, o2;
            if (sscanf(line, "%d%c%d%c%d=%d%n", &k.x, &o1, &k.y, &o2, &k.c, &k.s, &used) != 6 || line[used] != 0) { ok = false; break; }
            char e1 = t->kind == TASK_ADD ? '+' : t->kind == TASK_SUB ? '-' : '*';
            char e2 = t->kind == TASK_SUB ? '-' : '+';
            ok = o1 == e1 && o2 == e2 && k.x == want.x && k.y == want.y && k.c == want.c && k.s == want.s;
            s[i++] = k.s;
            c = next_carry(t, k);
        }
        v.trace_valid = ok && i == n + 1 && stated == spelled(t, s, n, c) && parse_int(ans, &got) && got == stated;
    }
    v.reward = task_reward(&v, TASK_REWARD_DEFAULT);
    return v;
}

float task_reward(const task_verdict *v, task_reward_w w) {
    float r = (v->format_ok ? w.format_w : 0.0f) + (v->correct && v->trace_valid ? 1.0f : 0.0f);
    if (w.verdict_w != 0.0f && v->format_ok && v->n_steps > 0) r += w.verdict_w * (float)v->n_steps_ok / (float)v->n_steps;
    return r;
}

/* ---- encoding -------------------------------------------------------------------------- */
int task_encode(const char *text, int32_t *out, int cap) {
    int n = 0;
    for (const char *p = text; *p;) {
        int id = -1;
        size_t l = 0;
        for (int s = 0; s < 6; s++) {
            l = strlen(task_special_text[s]);
            if (!strncmp(p, task_special_text[s], l)) { id = 256 + s; break; }
        }
        if (n >= cap) return -1;
        if (id >= 0) { out[n++] = id; p += l; }
        else out[n++] = (unsigned char)*p++;
    }
    return n;
}

int task_encode_prompt(const task *t, int32_t *out, int cap) {
    if (cap < 3) return -1;
    out[0] = TOK_BOS; out[1] = TOK_USER;
    int n = task_encode(t->prompt, out + 2, cap - 3);
    if (n < 0) return -1;
    out[2 + n] = TOK_ASSISTANT;
    return n + 3;
}

int task_token_text(int32_t id, char *buf, size_t cap) {
    if (id >= 256 && id < TASK_VOCAB) return snprintf(buf, cap, "%s", task_special_text[id - 256]);
    if (id < 0 || id > 255 || cap < 2) return 0;
    buf[0] = (char)id; buf[1] = 0;
    return 1;
}
