/* cmd_run.c — `r1 run` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_run(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 run: not implemented yet\n");
    return 1;
}
