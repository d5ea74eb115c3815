/* cmd_template.c — `r1 template` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_template(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 template: not implemented yet\n");
    return 1;
}
