/* cmd_bench.c — `r1 bench` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_bench(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 bench: not implemented yet\n");
    return 1;
}
