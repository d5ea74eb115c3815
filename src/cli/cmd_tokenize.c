/* cmd_tokenize.c — `r1 tokenize` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_tokenize(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 tokenize: not implemented yet\n");
    return 1;
}
