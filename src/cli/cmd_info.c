/* cmd_info.c — `r1 info` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_info(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 info: not implemented yet\n");
    return 1;
}
