/* test_rand.h — the kernel tests' deterministic random data (xorshift64).
 * Define T_RNG_SEED before including to pick another stream. Include after quant.h. */
#ifndef R1_TEST_RAND_H
#define R1_TEST_RAND_H

#include <stddef.h>
#include <stdint.h>

#ifndef T_RNG_SEED
#define T_RNG_SEED 0x9e3779b97f4a7c15ull
#endif

static uint64_t rng = T_RNG_SEED;
static inline uint32_t rnd(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
/* a finite half in [2^-13, 2^-3) with a random sign (products stay far from overflow) */
static inline uint16_t rnd_half(void) {
    float v = (float)(1 + rnd() % 1000) / 8000.0f;
    return r1_fp32_to_fp16((rnd() & 1) ? -v : v);
}
static inline void rnd_bytes(void *p, size_t n) {
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rnd();
}

#endif
