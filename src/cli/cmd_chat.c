/*
 * cmd_chat.c — `r1 chat`: an interactive conversation (libedit line editing + history).
 *
 * Input: one line per message; a line ending in '\' continues on the next line; a line
 * `"""` opens a block that ends at the next `"""` line. Commands: /reset, /system TEXT,
 * /save FILE, /load FILE (JSON array of {"role","content"}), /stats, /help, /exit.
 * Ctrl-C during generation stops it (the partial answer is kept); at the prompt, a
 * second consecutive Ctrl-C (or Ctrl-D) exits.
 *
 * KV cache reuse: every turn re-renders the whole conversation and gen_prefill keeps the
 * longest common token prefix with the cache, so only the new suffix is evaluated.
 * Context overflow: the oldest user/assistant turns are dropped (system text kept) until
 * the prompt plus a reserve for the answer fits; a single message too long is an error.
 */
#include "cli.h"
#include "gen.h"
#include "common.h"
#include "term.h"
#include <editline/readline.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop = 0, g_at_prompt = 0, g_prompt_sigints = 0;

static void on_sigint(int sig) {
    (void)sig;
    g_stop = 1;
    if (g_at_prompt) {
        if (g_prompt_sigints++ >= 1) {   /* second Ctrl-C at the prompt: leave */
            static const char msg[] = "\n";
            ssize_t w = write(STDOUT_FILENO, msg, 1); (void)w;
            _exit(130);
        }
    }
}

/* readline's byte source: returns EOF when a read is interrupted by Ctrl-C so that
 * readline() comes back (with g_stop set) instead of restarting. */
static int getc_intr(FILE *f) {
    unsigned char c;
    for (;;) {
        ssize_t n = read(fileno(f), &c, 1);
        if (n == 1) return c;
        if (n < 0 && errno == EINTR) { if (g_stop) return EOF; continue; }
        return EOF;
    }
}

typedef struct conv { chat_msg *m; int n, cap; } conv;

static bool conv_add(conv *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        chat_msg *t = realloc(c->m, (size_t)cap * sizeof *t);
        if (!t) return false;
        c->m = t; c->cap = cap;
    }
    c->m[c->n].role = strdup(role);
    c->m[c->n].content = strdup(content);
    if (!c->m[c->n].role || !c->m[c->n].content) { free(c->m[c->n].role); free(c->m[c->n].content); return false; }
    c->n++;
    return true;
}
static void conv_remove(conv *c, int i) {
    free(c->m[i].role); free(c->m[i].content);
    memmove(c->m + i, c->m + i + 1, (size_t)(c->n - i - 1) * sizeof *c->m);
    c->n--;
}
static void conv_clear(conv *c, bool keep_system) {
    for (int i = c->n - 1; i >= 0; i--)
        if (!keep_system || strcmp(c->m[i].role, "system")) conv_remove(c, i);
}

/* Reads one message (continuation lines and """ blocks). NULL on EOF or Ctrl-C
 * (*interrupted tells which). */
static char *read_message(bool *interrupted) {
    *interrupted = false;
    char *acc = NULL; size_t len = 0;
    bool block = false;
    for (;;) {
        g_stop = 0;   /* a Ctrl-C of the last generation must not read as one at the prompt */
        g_at_prompt = 1;
        char *line = readline(acc ? "... " : ">>> ");
        g_at_prompt = 0;
        if (!line) {
            if (g_stop) { *interrupted = true; g_stop = 0; }
            free(acc);
            return NULL;
        }
        g_prompt_sigints = 0;
        size_t n = strlen(line);
        bool is_fence = !strcmp(line, "\"\"\"");
        bool more = false;
        if (is_fence) { block = !block; more = block; n = 0; }
        else if (block) more = true;
        else if (n && line[n - 1] == '\\') { n--; more = true; }
        if (!is_fence || acc) {
            char *t = realloc(acc, len + n + 2);
            if (!t) { free(line); free(acc); return NULL; }
            acc = t;
            memcpy(acc + len, line, n);
            len += n;
            if (more && !is_fence) acc[len++] = '\n';
            acc[len] = 0;
        }
        free(line);
        if (!more) break;
    }
    if (!acc) acc = strdup("");
    while (len && acc[len - 1] == '\n') acc[--len] = 0;
    if (len) add_history(acc);
    return acc;
}

static char *slurp(const char *path, r1_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) { r1_set_error(err, R1_ERR_IO, "%s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) { char *t = realloc(buf, cap *= 2); if (!t) { free(buf); buf = NULL; } else buf = t; }
    }
    fclose(f);
    if (!buf) { r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); return NULL; }
    buf[n] = 0;
    return buf;
}

static void help(void) {
    printf("commands:\n"
           "  /reset          forget the conversation (keeps the system text)\n"
           "  /system TEXT    set the system text (empty: remove it)\n"
           "  /save FILE      save the conversation as a JSON array of messages\n"
           "  /load FILE      load a conversation saved with /save\n"
           "  /stats          statistics of the last answer and context use\n"
           "  /help           this help;  /exit (or Ctrl-D, or Ctrl-C twice) leaves\n"
           "input: end a line with \\ to continue it; \"\"\" starts and ends a multi-line block\n"
           "Ctrl-C during an answer stops it.\n");
}

/* Renders + tokenizes the conversation; drops the oldest turns while it does not fit
 * in n_ctx - reserve tokens. Returns R1_ERR_CONTEXT_FULL if even the last message alone
 * is too long. */
static r1_status build_prompt(gen_session *s, const gen_opts *o, conv *c, int reserve, int32_t **ids, size_t *n_ids, r1_error *err) {
    int dropped = 0;
    for (;;) {
        chat_prompt p;
        r1_status st = chat_render(s->tpl, c->m, c->n, true, o->no_think, &p, err);
        if (st) return st;
        st = chat_tokenize(s->tok, &p, ids, n_ids, err);
        chat_prompt_free(&p);
        if (st) return st;
        if ((int)*n_ids + reserve <= s->n_ctx) break;
        /* drop the oldest non-system message (and the answer that follows it) */
        int first = -1, n_turns = 0;
        for (int i = 0; i < c->n; i++) if (strcmp(c->m[i].role, "system")) { if (first < 0) first = i; n_turns++; }
        if (n_turns <= 1) {
            int n = (int)*n_ids;
            free(*ids); *ids = NULL;
            return r1_set_error(err, R1_ERR_CONTEXT_FULL, "this message needs %d tokens but the context holds %d (raise -c)", n + reserve, s->n_ctx);
        }
        free(*ids); *ids = NULL;
        conv_remove(c, first);
        dropped++;
        if (first < c->n && !strcmp(c->m[first].role, "assistant")) { conv_remove(c, first); dropped++; }
    }
    if (dropped) fprintf(stderr, "%s[context full: dropped the %d oldest message%s]%s\n", term_dim(stderr), dropped, dropped > 1 ? "s" : "", term_reset(stderr));
    return R1_OK;
}

int cmd_chat(int argc, char **argv) {
    gen_opts o;
    gen_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: r1 chat [options]\n"); gen_usage_opts(stdout); return 0;
        }
        int k = gen_parse_opt(&o, "chat", argc, argv, &i);
        if (k < 0) return 2;
        if (k == 0 || o.json || o.raw || o.prompt) { fprintf(stderr, "r1 chat: option '%s' not available in chat\n", argv[i]); return 2; }
    }
    r1_error err = {0};
    gen_session s;
    if (gen_open(&s, &o, &g_stop, &err)) return cli_fail("chat", &err);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);   /* no SA_RESTART: reads return EINTR */
    rl_getc_function = getc_intr;
    rl_catch_signals = 0;
    using_history();
    conv c = {0};
    if (o.system && *o.system) conv_add(&c, "system", o.system);
    const r1_model_info *mi = r1_model_get_info(s.model);
    printf("r1 chat — %s (%s), context %d tokens, template %s. /help for commands.\n",
           mi->name && *mi->name ? mi->name : "model", mi->arch, s.n_ctx, s.tpl->name);
    gen_result last = {0};
    int reserve = o.n_predict > 0 ? R1_MIN(o.n_predict, s.n_ctx / 2) : s.n_ctx / 4;
    for (;;) {
        bool intr;
        fflush(stdout);
        char *line = read_message(&intr);
        if (!line) {
            if (intr) { printf("^C (Ctrl-C again or Ctrl-D to exit)\n"); continue; }
            printf("\n");
            break;
        }
        g_prompt_sigints = 0;
        if (line[0] == '/') {
            char *arg = strchr(line, ' ');
            if (arg) { *arg++ = 0; while (*arg == ' ') arg++; }
            if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) { free(line); break; }
            else if (!strcmp(line, "/help")) help();
            else if (!strcmp(line, "/reset")) { conv_clear(&c, true); printf("conversation cleared\n"); }
            else if (!strcmp(line, "/system")) {
                for (int i = c.n - 1; i >= 0; i--) if (!strcmp(c.m[i].role, "system")) conv_remove(&c, i);
                if (arg && *arg && conv_add(&c, "system", arg)) {   /* move it first */
                    chat_msg sys = c.m[c.n - 1];
                    memmove(c.m + 1, c.m, (size_t)(c.n - 1) * sizeof *c.m);
                    c.m[0] = sys;
                }
                printf("system text %s\n", arg && *arg ? "set" : "removed");
            }
            else if (!strcmp(line, "/save") && arg && *arg) {
                char *js = chat_messages_json(c.m, c.n);
                FILE *f = js ? fopen(arg, "w") : NULL;
                if (f && fputs(js, f) >= 0 && fputc('\n', f) != EOF && fclose(f) == 0) printf("saved %d messages to %s\n", c.n, arg);
                else { if (f) fclose(f); fprintf(stderr, "r1 chat: cannot write %s: %s\n", arg, strerror(errno)); }
                free(js);
            }
            else if (!strcmp(line, "/load") && arg && *arg) {
                char *js = slurp(arg, &err);
                chat_msg *m = NULL; int n = 0;
                if (js && chat_parse_messages(js, &m, &n, &err) == R1_OK) {
                    conv_clear(&c, false);
                    free(c.m);
                    c.m = m; c.n = c.cap = n;
                    if (!c.cap) { free(c.m); c.m = NULL; }
                    printf("loaded %d messages from %s\n", n, arg);
                } else fprintf(stderr, "r1 chat: /load: %s\n", err.msg);
                free(js);
            }
            else if (!strcmp(line, "/stats")) {
                printf("context: %d of %d tokens used, %d messages\n", s.n_cache, s.n_ctx, c.n);
                if (last.n_prompt) gen_print_stats(&last);
            }
            else fprintf(stderr, "unknown command %s (try /help)\n", line);
            free(line);
            continue;
        }
        if (!*line) { free(line); continue; }
        conv_add(&c, "user", line);
        free(line);
        int32_t *ids = NULL; size_t n_ids = 0;
        gen_result r = {0};
        g_stop = 0;
        r1_status st = build_prompt(&s, &o, &c, reserve, &ids, &n_ids, &err);
        if (!st) {
            r.n_prompt = (int)n_ids;
            double t0 = r1_time_s();
            st = gen_prefill(&s, ids, (int)n_ids, &r.n_eval_prompt, &err);
            r.t_prompt = r1_time_s() - t0;
            if (st == R1_ERR_CANCELLED) { printf("\n[stopped]\n"); }
            else if (!st) st = gen_generate(&s, &o, !o.no_think && s.tpl->prefill_think, &r, &err);
        }
        free(ids);
        if (st) {
            if (st != R1_ERR_CANCELLED) fprintf(stderr, "r1 chat: %s\n", err.msg);
            conv_remove(&c, c.n - 1);   /* the message that could not be answered */
            gen_result_free(&r);
            continue;
        }
        const char *answer = r.content;
        while (*answer == '\n') answer++;
        conv_add(&c, "assistant", answer);
        if (r.cancelled) printf("%s[stopped]%s\n", term_dim(stdout), term_reset(stdout));
        gen_print_stats(&r);
        gen_result_free(&last);
        last = r;                                  /* keep the numbers for /stats */
        last.reasoning = last.content = NULL;
        last.cap_r = last.cap_c = 0;
        gen_result_free(&r);
    }
    gen_result_free(&last);
    conv_clear(&c, false);
    free(c.m);
    gen_close(&s);
    return 0;
}
