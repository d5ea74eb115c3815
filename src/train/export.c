/*
 * export.c — write the trained model as a GGUF file the engine (and llama.cpp) loads:
 * arch "llama", F32 tensors named as llama.cpp names them (GGUF ne[0] = input dim, so
 * our row-major W[out][in] is written as-is; RoPE is already in llama.cpp's NORM
 * consecutive-pair convention, so Q/K need no permutation), and a byte-level "gpt2"
 * tokenizer: tokens 0..255 are the GPT-2 byte-to-unicode strings of the bytes (no merges),
 * then the six R1 special tokens (token_type 3 = control).
 */
#include "train/trainer.h"
#include "gguf.h"

/* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the others to
 * U+0100 + k in byte order. Writes the UTF-8 of byte b's code point into out (≤ 3 bytes). */
static void byte_token(int b, char out[4]) {
    int cp;
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) cp = b;
    else {
        int k = 0;
        for (int x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) k++;
        cp = 256 + k;
    }
    if (cp < 0x80) { out[0] = (char)cp; out[1] = 0; }
    else { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); out[2] = 0; }
}

static r1_status add_t(gguf_writer *w, const char *name, const float *data, int64_t ne0, int64_t ne1, r1_error *err) {
    int64_t ne[2] = {ne0, ne1};
    return gguf_add_tensor(w, name, R1_TYPE_F32, ne1 > 1 ? 2 : 1, ne, data, (size_t)(ne0 * ne1) * sizeof(float), err);
}

r1_status tr_export_gguf(const tm_config *c, const tm_params *p, const char *chat_template,
                         const char *path, r1_error *err) {
    gguf_writer *w = gguf_writer_create();
    if (!w) return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path);
    int D = c->dim, H = c->hidden, V = c->vocab, KV = c->n_kv_heads * (D / c->n_heads);
    char bytes[256][4];
    const char *toks[TASK_VOCAB];
    int32_t types[TASK_VOCAB];
    for (int b = 0; b < 256; b++) { byte_token(b, bytes[b]); toks[b] = bytes[b]; types[b] = 1; }
    for (int s = 0; s < 6; s++) { toks[256 + s] = task_special_text[s]; types[256 + s] = 3; }
    r1_status st = R1_OK;
#define TRY(x) do { if (st == R1_OK) { st = (x); if (st != R1_OK && err && !err->msg[0]) r1_set_error(err, st, "%s: writing metadata failed", path); } } while (0)
    TRY(gguf_set_str(w, "general.architecture", "llama"));
    TRY(gguf_set_str(w, "general.name", "r1-demo"));
    TRY(gguf_set_u32(w, "general.file_type", 0));
    TRY(gguf_set_u32(w, "llama.context_length", (uint32_t)c->seq_len));
    TRY(gguf_set_u32(w, "llama.embedding_length", (uint32_t)D));
    TRY(gguf_set_u32(w, "llama.block_count", (uint32_t)c->n_layers));
    TRY(gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)H));
    TRY(gguf_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads));
    TRY(gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads));
    TRY(gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->eps));
    TRY(gguf_set_f32(w, "llama.rope.freq_base", c->rope_base));
    TRY(gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)(D / c->n_heads)));
    TRY(gguf_set_u32(w, "llama.vocab_size", (uint32_t)V));
    TRY(gguf_set_str(w, "tokenizer.ggml.model", "gpt2"));
    TRY(gguf_set_str(w, "tokenizer.ggml.pre", "deepseek-v3"));
    TRY(gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, TASK_VOCAB));
    TRY(gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, TASK_VOCAB));
    TRY(gguf_set_arr_str(w, "tokenizer.ggml.merges", toks, 0));
    TRY(gguf_set_u32(w, "tokenizer.ggml.bos_token_id", TOK_BOS));
    TRY(gguf_set_u32(w, "tokenizer.ggml.eos_token_id", TOK_EOS));
    TRY(gguf_set_u32(w, "tokenizer.ggml.padding_token_id", TOK_EOS));
    TRY(gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true));
    TRY(gguf_set_bool(w, "tokenizer.ggml.add_eos_token", false));
    if (chat_template) TRY(gguf_set_str(w, "tokenizer.chat_template", chat_template));
#undef TRY
    if (st == R1_OK) st = add_t(w, "token_embd.weight", p->embd, D, V, err);
    char name[64];
    for (int l = 0; l < c->n_layers && st == R1_OK; l++) {
        const tm_layer *L = &p->l[l];
        struct { const char *n; const float *d; int64_t a, b; } ts[] = {
            {"attn_norm", L->attn_norm, D, 1}, {"attn_q", L->wq, D, D}, {"attn_k", L->wk, D, KV},
            {"attn_v", L->wv, D, KV}, {"attn_output", L->wo, D, D}, {"ffn_norm", L->ffn_norm, D, 1},
            {"ffn_gate", L->wg, D, H}, {"ffn_up", L->wu, D, H}, {"ffn_down", L->wd, H, D},
        };
        for (size_t i = 0; i < R1_ARRAY_LEN(ts) && st == R1_OK; i++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, ts[i].n);
            st = add_t(w, name, ts[i].d, ts[i].a, ts[i].b, err);
        }
    }
    if (st == R1_OK) st = add_t(w, "output_norm.weight", p->out_norm, D, 1, err);
    if (st == R1_OK) st = add_t(w, "output.weight", p->output, D, V, err);
    if (st == R1_OK) st = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    return st;
}
