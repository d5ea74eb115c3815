/*
 * sampler.h — internal view of the sampler for tests and the CLI.
 *
 * The chain applied by r1_sampler_sample (HF / vLLM order, which is what DeepSeek's
 * recommended settings assume):
 *   repetition penalty -> (temperature == 0: argmax) -> temperature -> top-k -> softmax
 *   -> top-p -> min-p -> draw from the renormalised survivors.
 */
#ifndef R1_SAMPLER_H
#define R1_SAMPLER_H
#include "r1.h"

/* Runs the chain up to (not including) the draw. Writes the surviving token ids to ids
 * and their renormalised probabilities to probs (both n_vocab long), ordered by
 * descending probability; returns how many survived (>= 1). With temperature 0 the
 * single survivor is the argmax with probability 1. */
int r1_sampler_candidates(r1_sampler *s, const float *logits, int32_t *ids, float *probs);

/* Next uniform double in [0, 1) from the sampler's RNG. */
double r1_sampler_uniform(r1_sampler *s);
#endif
