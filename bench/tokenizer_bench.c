/*
 * tokenizer_bench.c — encode throughput of r1's tokenizer (one thread):
 * tokenizer_bench TOKENIZER.json TEXT_FILE -> "<MB/s> <n_tokens>" (best of 3 runs; the
 * load time is excluded). Built by bench/tokenizer.sh against libr1.a.
 */
#include "r1.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: tokenizer_bench tokenizer.json text\n"); return 2; }
    r1_error e = {0};
    r1_tokenizer *t = NULL;
    if (r1_tokenizer_load_json(argv[1], NULL, &t, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 1; }
    fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) return 1;
    fclose(f);
    double best = 1e30; size_t k = 0;
    for (int r = 0; r < 3; r++) {
        int32_t *ids; double t0 = now();
        if (r1_tokenize(t, buf, (size_t)n, 0, &ids, &k, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        double dt = now() - t0;
        if (dt < best) best = dt;
        free(ids);
    }
    printf("%.2f %zu\n", (double)n / 1e6 / best, k);
    free(buf); r1_tokenizer_free(t);
    return 0;
}
