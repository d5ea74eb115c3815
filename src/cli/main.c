/* main.c — `r1 <command> [options]`: dispatch to the subcommands. */
#include "cli.h"
#include "common.h"
#include <unistd.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

static const struct { const char *name; cli_cmd_fn fn; const char *help; } cmds[] = {
    {"run", cmd_run, "generate a completion for one prompt (streams the reasoning and answer)"},
    {"chat", cmd_chat, "interactive chat with a model"},
    {"info", cmd_info, "architecture, hyper-parameters, tokenizer and tensor table of a GGUF file"},
    {"logits", cmd_logits, "write the logits of every position of a token sequence (float32)"},
    {"tokenize", cmd_tokenize, "text on stdin -> token ids"},
    {"detokenize", cmd_detokenize, "token ids on stdin -> text"},
    {"template", cmd_template, "render a JSON conversation with the model's chat template"},
    {"quantize", cmd_quantize, "convert a GGUF file to a quantized type"},
    {"bench", cmd_bench, "prompt-processing and generation speed"},
    {"train", cmd_train, "train the built-in reasoning model (SFT + GRPO)"},
};

static void usage(FILE *f) {
    fprintf(f, "r1 %s — inference engine for the DeepSeek-R1 family\n\n"
               "usage: r1 <command> [options]     (r1 <command> --help for details)\n\ncommands:\n",
            R1_VERSION);
    for (size_t i = 0; i < R1_ARRAY_LEN(cmds); i++) fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].help);
}

int cli_fail(const char *cmd, const r1_error *err) {
    fprintf(stderr, "r1 %s: %s\n", cmd, err && err->msg[0] ? err->msg : "failed");
    return 1;
}

bool cli_parse_int(const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

bool cli_parse_float(const char *s, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return false;
    *out = (float)v;
    return true;
}

const char *cli_default_model(void) {
    static char path[PATH_MAX + 64];
    const char *env = getenv("R1_MODEL");
    if (env && *env) return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(path, sizeof path, "%s/../models/r1-demo.gguf", exe);
            if (access(path, R_OK) == 0) return path;
        }
    }
    return "models/r1-demo.gguf";
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) { printf("r1 %s\n", R1_VERSION); return 0; }
    for (size_t i = 0; i < R1_ARRAY_LEN(cmds); i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "r1: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
