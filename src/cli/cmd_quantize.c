/* cmd_quantize.c — `r1 quantize IN.gguf OUT.gguf TYPE [--threads N] [--allow-requantize]
 * [--verbose]`: see src/quantize.h. Exit 0 ok, 1 error, 2 usage. */
#include "cli.h"
#include "quantize.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void) {
    fprintf(stderr,
            "usage: r1 quantize IN.gguf OUT.gguf TYPE [--threads N] [--allow-requantize] [--verbose]\n"
            "  TYPE: %s\n", r1_ftype_valid_names());
    return 2;
}

int cmd_quantize(int argc, char **argv) {
    const char *pos[3];
    int npos = 0;
    r1_quantize_params p = {R1_FTYPE_Q8_0, 1, false, false, false, true};
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    p.n_threads = nproc > 0 ? (int)nproc : 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") || !strcmp(argv[i], "-t")) {
            if (i + 1 >= argc) return usage();
            if (!cli_parse_int(argv[++i], 1, 64, &p.n_threads)) {
                fprintf(stderr, "r1 quantize: --threads must be 1..64, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--allow-requantize")) p.allow_requantize = true;
        else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) p.verbose = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(); return 0; }
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "r1 quantize: unknown option '%s'\n", argv[i]);
            return usage();
        } else if (npos < 3) pos[npos++] = argv[i];
        else return usage();
    }
    if (npos != 3) return usage();
    if (!r1_ftype_from_name(pos[2], &p.ftype)) {
        fprintf(stderr, "r1 quantize: unknown type '%s'; valid types: %s\n", pos[2], r1_ftype_valid_names());
        return 2;
    }
    p.progress = isatty(2) && !p.verbose;
    r1_error err = {0};
    if (r1_quantize_file(pos[0], pos[1], &p, &err) != R1_OK) return cli_fail("quantize", &err);
    return 0;
}
