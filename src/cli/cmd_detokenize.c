/* cmd_detokenize.c — `r1 detokenize` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_detokenize(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 detokenize: not implemented yet\n");
    return 1;
}
