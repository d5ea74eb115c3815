/* cmd_train.c — `r1 train` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_train(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 train: not implemented yet\n");
    return 1;
}
