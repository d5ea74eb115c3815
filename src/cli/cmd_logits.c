/* cmd_logits.c — `r1 logits` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_logits(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 logits: not implemented yet\n");
    return 1;
}
