/*
 * ds2_decode_bench.c — decode latency of a model after FILL tokens of context (best, p25, median
 * over ND single-token steps). Not part of `make test` (a 4K prefill takes minutes here):
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc -pthread tests/integration/ds2_decode_bench.c \
 *      BUILD/libr1.a -lpcre2-8 -lutf8proc -lcjson -ledit -lm -o ds2_decode_bench
 *   ds2_decode_bench MODEL FILL THREADS ND
 */
#include "r1.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int cmpd(const void *a, const void *b){ double x=*(const double*)a, y=*(const double*)b; return x<y?-1:x>y; }
int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: ds2_decode_bench MODEL FILL THREADS ND\n"); return 2; }
  r1_error e; r1_model *m; r1_model_params mp = r1_model_default_params();
  if (r1_model_load(argv[1], &mp, &m, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
  int fill = atoi(argv[2]), nth = atoi(argv[3]), nd = atoi(argv[4]);
  r1_context_params cp = r1_context_default_params(); cp.n_ctx = fill + nd + 8; cp.n_threads = nth;
  r1_context *c; if (r1_context_create(m, &cp, &c, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
  int32_t *t = malloc(sizeof(int32_t) * (fill + nd)); for (int i = 0; i < fill + nd; i++) t[i] = 100 + (i * 7919) % 50000;
  if (fill && r1_eval(c, t, fill, NULL, false, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
  float *lg = malloc(sizeof(float) * r1_model_get_info(m)->n_vocab); double *d = malloc(sizeof(double) * nd);
  for (int i = 0; i < nd; i++) { double a = now(); if (r1_eval(c, t + fill + i, 1, lg, false, &e)) return 1; d[i] = now() - a; }
  qsort(d, nd, sizeof *d, cmpd);
  printf("context %5d, %d threads: decode best %.1f ms, p25 %.1f ms, median %.1f ms per token\n", fill, nth, d[0]*1e3, d[nd/4]*1e3, d[nd/2]*1e3);
  return 0; }
