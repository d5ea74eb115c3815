/* cli.h — the r1 command-line tool: one function per subcommand (internal). */
#ifndef R1_CLI_H
#define R1_CLI_H
#include "r1.h"
#include <stdbool.h>

/* Each subcommand gets argv starting at its own name (argv[0] = "run", ...) and
 * returns the process exit status (0 ok, 1 error, 2 usage error). */
typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_train(int argc, char **argv);

/* Default model used when -m is not given: the built-in demo model. Returns the path
 * ($R1_MODEL if set, else <exe dir>/../models/r1-demo.gguf, else models/r1-demo.gguf). */
const char *cli_default_model(void);
/* Prints "r1 <cmd>: <msg>" to stderr for a failed status and returns 1. */
int cli_fail(const char *cmd, const r1_error *err);
/* Parses the whole string s as a decimal integer in [lo, hi] (lo, hi within int range) /
 * a finite-or-not float in [lo, hi]; false (and *out untouched) on garbage, overflow or
 * out of range. */
bool cli_parse_int(const char *s, long lo, long hi, int *out);
bool cli_parse_float(const char *s, double lo, double hi, float *out);
#endif
