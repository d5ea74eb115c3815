/* cmd_quantize.c — `r1 quantize` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_quantize(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 quantize: not implemented yet\n");
    return 1;
}
