#!/usr/bin/python3
"""quant_gen_model.py OUT.gguf [f32|f16|bf16] [odd] — a tiny random llama-architecture GGUF for the
quantization tests (used until/unless build/tools/gen_model is available).

8 layers (so llama.cpp's use_more_bits layer patterns matter), n_embd 256, n_ff 544 (not a
multiple of 256: ffn_down rows exercise the k-quant fallbacks), 4 query heads sharing one
KV head (GQA 4), vocab 320, "no_vocab" tokenizer. Norm weights are F32 1-D; matrices use
the requested type. Weights are N(0, 0.02) from a fixed seed. "odd": n_ff 536 (not a
multiple of 32: no 32-block type can hold ffn_down rows; for bad-input tests).
GGUF v3: header, metadata, tensor infos, data aligned to 32 bytes.
"""
import struct
import sys

import numpy as np

out = sys.argv[1]
wtype = sys.argv[2] if len(sys.argv) > 2 else "f16"
GTYPE = {"f32": 0, "f16": 1, "bf16": 30}[wtype]
n_layer, n_embd, n_ff, n_head, n_head_kv, n_vocab = 8, 256, 544, 4, 1, 320
if len(sys.argv) > 3 and sys.argv[3] == "odd":
    n_ff = 536
head_dim = n_embd // n_head
rng = np.random.default_rng(1234)

def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b

kv = []
def add(key, vtype, payload):
    kv.append(s(key) + struct.pack("<I", vtype) + payload)
def add_u32(k, v): add(k, 4, struct.pack("<I", v))
def add_f32(k, v): add(k, 6, struct.pack("<f", v))
def add_str(k, v): add(k, 8, s(v))

add_str("general.architecture", "llama")
add_str("general.name", "r1-quant-test")
add_u32("general.file_type", {"f32": 0, "f16": 1, "bf16": 32}[wtype])
add_u32("llama.block_count", n_layer)
add_u32("llama.context_length", 256)
add_u32("llama.embedding_length", n_embd)
add_u32("llama.feed_forward_length", n_ff)
add_u32("llama.attention.head_count", n_head)
add_u32("llama.attention.head_count_kv", n_head_kv)
add_u32("llama.rope.dimension_count", head_dim)
add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5)
add_u32("llama.vocab_size", n_vocab)
add_str("tokenizer.ggml.model", "no_vocab")

tensors = []  # (name, shape ne[] with ne0 first, data float32 array, type)
def mat(name, ne0, ne1):
    tensors.append((name, [ne0, ne1], rng.normal(0, 0.02, size=(ne1, ne0)).astype(np.float32), GTYPE))
def vec(name, n):
    tensors.append((name, [n], (1.0 + rng.normal(0, 0.1, size=n)).astype(np.float32), 0))

mat("token_embd.weight", n_embd, n_vocab)
vec("output_norm.weight", n_embd)
mat("output.weight", n_embd, n_vocab)
for l in range(n_layer):
    p = f"blk.{l}."
    vec(p + "attn_norm.weight", n_embd)
    mat(p + "attn_q.weight", n_embd, n_embd)
    mat(p + "attn_k.weight", n_embd, head_dim * n_head_kv)
    mat(p + "attn_v.weight", n_embd, head_dim * n_head_kv)
    mat(p + "attn_output.weight", n_embd, n_embd)
    vec(p + "ffn_norm.weight", n_embd)
    mat(p + "ffn_gate.weight", n_embd, n_ff)
    mat(p + "ffn_up.weight", n_embd, n_ff)
    mat(p + "ffn_down.weight", n_ff, n_embd)

def encode(a, t):
    if t == 0: return a.astype("<f4").tobytes()
    if t == 1: return a.astype("<f2").tobytes()
    u = a.astype("<f4").view("<u4").astype(np.uint64)          # bf16, round to nearest even
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
    return u.tobytes()

blobs, infos, off = [], [], 0
for name, ne, data, t in tensors:
    b = encode(data, t)
    infos.append(s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
                 + struct.pack("<IQ", t, off))
    pad = (-len(b)) % 32
    blobs.append(b + b"\0" * pad)
    off += len(b) + pad

with open(out, "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))
    for k in kv: f.write(k)
    for i in infos: f.write(i)
    f.write(b"\0" * ((-f.tell()) % 32))
    for b in blobs: f.write(b)
