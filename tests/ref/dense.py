#!/usr/bin/env python3
"""Float64 numpy reference forward pass for dense GGUF models (llama, qwen2, qwen3),
written from the architectures' definitions and llama.cpp's GGUF conventions; shares no
code with r1.

usage: dense.py MODEL.gguf --tokens 1,2,3 --out FILE
writes float32 little-endian logits, n_tokens x n_vocab, row p = logits after token p
(causal attention over positions 0..p) — the layout of `r1 logits`.

Per layer (x: [n_embd]):
  h = x + Wo · attn(rmsnorm(x) * attn_norm)
  x = h + Wdown · (silu(Wgate · a) * (Wup · a)),  a = rmsnorm(h) * ffn_norm
attn: q = Wq a (+bq), k = Wk a (+bk), v = Wv a (+bv)   [qwen2 has the biases]
      qwen3: per-head RMSNorm of q and k (attn_q_norm / attn_k_norm, [head_dim]) before RoPE
      RoPE on the first n_rot dims of every head: llama = NORM (pairs 2i, 2i+1),
      qwen2/qwen3 = NEOX (pairs i, i + n_rot/2); angle = pos * base^(-2i/n_rot) / ff[i],
      ff = rope_freqs.weight when present (Llama 3.1 scaling as llama.cpp applies it), else 1
      GQA: query head h uses kv head h / (n_head / n_head_kv); scale 1/sqrt(head_dim)
out:  logits = W_out · (rmsnorm(x) * output_norm); W_out = output.weight or token_embd (tied)
"""
import argparse
import sys
import numpy as np
sys.path.insert(0, __import__('os').path.dirname(__file__))
from gguf import GGUF  # noqa: E402


def rmsnorm(x, w, eps):
    """x: [..., n]; w: [n]."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, pos, n_rot, base, ff, neox):
    """x: [T, H, hd]; pos: [T]; rotates the first n_rot dims of each head."""
    i = np.arange(n_rot // 2, dtype=np.float64)
    inv = base ** (-2.0 * i / n_rot) / ff                      # [n_rot/2]
    ang = pos[:, None].astype(np.float64) * inv[None, :]        # [T, n_rot/2]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    y = x.copy()
    if neox:
        a, b = x[..., :n_rot // 2], x[..., n_rot // 2:n_rot]
        y[..., :n_rot // 2] = a * c - b * s
        y[..., n_rot // 2:n_rot] = a * s + b * c
    else:
        a, b = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
        y[..., 0:n_rot:2] = a * c - b * s
        y[..., 1:n_rot:2] = a * s + b * c
    return y


def forward(g, tokens):
    """All-position logits [T, n_vocab] (float64) of token ids `tokens` through GGUF g."""
    arch = g.kv['general.architecture']
    if arch not in ('llama', 'qwen2', 'qwen3'):
        raise ValueError('dense.py: unsupported architecture %s' % arch)
    k = lambda name, d=None: g.kv.get('%s.%s' % (arch, name), d)  # noqa: E731
    n_layer = int(k('block_count'))
    n_embd = int(k('embedding_length'))
    n_head = int(k('attention.head_count'))
    n_head_kv = int(k('attention.head_count_kv', n_head))
    hd = int(k('attention.key_length', n_embd // n_head))
    hd_v = int(k('attention.value_length', hd))
    n_rot = int(k('rope.dimension_count', hd))
    eps = float(k('attention.layer_norm_rms_epsilon'))
    base = float(k('rope.freq_base', 10000.0))
    neox = arch in ('qwen2', 'qwen3')
    ff = g.tensor('rope_freqs.weight') if g.has('rope_freqs.weight') else np.ones(n_rot // 2)

    emb = g.tensor('token_embd.weight')                        # [n_vocab, n_embd]
    tokens = np.asarray(tokens)
    if tokens.min() < 0 or tokens.max() >= emb.shape[0]:
        raise ValueError('dense.py: token id out of range [0, %d)' % emb.shape[0])
    T = len(tokens)
    pos = np.arange(T)
    x = emb[tokens].copy()                                     # [T, n_embd]
    mask = np.triu(np.full((T, T), -np.inf), 1)                # causal
    grp = n_head // n_head_kv

    def lin(name, a):
        y = a @ g.tensor(name).T
        bname = name.replace('.weight', '.bias')
        return y + g.tensor(bname) if g.has(bname) else y

    for L in range(n_layer):
        p = 'blk.%d.' % L
        a = rmsnorm(x, g.tensor(p + 'attn_norm.weight'), eps)
        q = lin(p + 'attn_q.weight', a).reshape(T, n_head, hd)
        kk = lin(p + 'attn_k.weight', a).reshape(T, n_head_kv, hd)
        v = lin(p + 'attn_v.weight', a).reshape(T, n_head_kv, hd_v)
        if g.has(p + 'attn_q_norm.weight'):
            q = rmsnorm(q, g.tensor(p + 'attn_q_norm.weight'), eps)
            kk = rmsnorm(kk, g.tensor(p + 'attn_k_norm.weight'), eps)
        q = rope(q, pos, n_rot, base, ff, neox)
        kk = rope(kk, pos, n_rot, base, ff, neox)
        out = np.empty((T, n_head, hd_v))
        for h in range(n_head):
            s = q[:, h, :] @ kk[:, h // grp, :].T / np.sqrt(hd) + mask   # [T, T]
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            out[:, h, :] = s @ v[:, h // grp, :]
        x = x + lin(p + 'attn_output.weight', out.reshape(T, n_head * hd_v))
        a = rmsnorm(x, g.tensor(p + 'ffn_norm.weight'), eps)
        gt = lin(p + 'ffn_gate.weight', a)
        up = lin(p + 'ffn_up.weight', a)
        x = x + lin(p + 'ffn_down.weight', gt / (1.0 + np.exp(-gt)) * up)
    x = rmsnorm(x, g.tensor('output_norm.weight'), eps)
    wout = g.tensor('output.weight') if g.has('output.weight') else emb
    return x @ wout.T


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('model')
    ap.add_argument('--tokens', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    toks = [int(t) for t in a.tokens.split(',') if t]
    try:
        logits = forward(GGUF(a.model), toks)
    except Exception as e:  # noqa: BLE001 — one-line error, non-zero exit
        print('dense.py: %s' % e, file=sys.stderr)
        return 1
    logits.astype('<f4').tofile(a.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
