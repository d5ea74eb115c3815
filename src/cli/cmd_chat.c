/* cmd_chat.c — `r1 chat` (not implemented yet). */
#include "cli.h"
#include <stdio.h>

int cmd_chat(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "r1 chat: not implemented yet\n");
    return 1;
}
