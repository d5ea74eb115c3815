/*
 * tokenizer.h — internal structure of the byte-level BPE tokenizer (tokenizer.c,
 * tok_load.c). Both loaders (tokenizer.json, GGUF) fill a tok_spec and hand it to
 * tok_build, which owns the single in-memory vocabulary used for encoding/decoding.
 *
 * Invariants after tok_build succeeds:
 *   - ids are 0..n_vocab-1; every id has a stored piece (possibly empty for holes);
 *   - raw bytes of an id: the byte-level map undone for ordinary tokens, the piece
 *     itself for added/special tokens or pieces that are not byte-level strings;
 *   - raw_map maps raw bytes -> id for ordinary byte-level tokens only (BPE symbols);
 *   - merge (left,right) -> (rank, result) only for merges whose three pieces exist;
 *   - added[] lists added-token ids sorted by first byte, then length descending.
 */
#ifndef R1_TOKENIZER_H
#define R1_TOKENIZER_H
#include "common.h"
#include <stdbool.h>
#include <stdint.h>

enum { TOK_NORMAL = 1, TOK_CONTROL = 3, TOK_USER = 4 };   /* GGUF token_type values */

/* What a loader produces (borrowed pointers; tok_build copies what it keeps). */
typedef struct tok_spec {
    int          n;            /* vocabulary size                                     */
    const char **piece;        /* [n] stored pieces (may be NULL for holes)           */
    uint32_t    *piece_len;    /* [n]                                                 */
    uint8_t     *type;         /* [n] TOK_NORMAL / TOK_CONTROL / TOK_USER / other     */
    int          n_merges;
    const char **ml, **mr;     /* [n_merges] left/right piece of each merge, by rank  */
    uint32_t    *mll, *mrl;    /* [n_merges] their lengths                            */
    int32_t      bos, eos, eot;/* -1 if none                                          */
    const char  *pre;          /* pre-tokenizer name (built-in table)                 */
    /* Optional explicit regex list from a tokenizer.json (NULL: use the pre table). */
    int          n_regex;
    const char  *regex[4];
    bool         nfc, ignore_merges, have_norm;  /* have_norm: nfc/ignore_merges set  */
} tok_spec;

r1_status tok_build(const tok_spec *s, const char *what, r1_tokenizer **out, r1_error *err);

#endif
