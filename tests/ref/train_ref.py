#!/usr/bin/python3
"""train_ref.py — independent float64 numpy implementation of r1's trainable llama model.

Usage: train_ref.py CHECKPOINT GRAD_FILE TOKENS
  CHECKPOINT  r1 train checkpoint ("R1TC" | u32 1 | config: 7×i32 dim, n_layers, n_heads,
              n_kv_heads, hidden, vocab, seq_len, 2×f32 rope_base, eps | i64 step |
              u64 rng | params f32 | adam m | adam v)
  GRAD_FILE   written by `r1 train --grad-out`: f64 loss, then the f32 gradient
  TOKENS      comma-separated ids

Computes the loss (sum over positions of −log p(next token)) with its own float64 forward
pass written from the definitions (RMSNorm, llama.cpp NORM RoPE on consecutive pairs,
causal GQA attention, SwiGLU, untied output head) and the gradient by central finite
differences of that float64 forward — so neither the forward nor the backward shares code
with the C trainer. Exits non-zero if the loss or any gradient entry disagrees.
"""
import struct
import sys

import numpy as np


def load_ckpt(path):
    raw = open(path, "rb").read()
    assert raw[:4] == b"R1TC", "not a checkpoint"
    dim, nl, nh, nkv, hid, vocab, ctx = struct.unpack_from("<7i", raw, 8)
    base, eps = struct.unpack_from("<2f", raw, 36)
    cfg = dict(dim=dim, nl=nl, nh=nh, nkv=nkv, hid=hid, vocab=vocab, ctx=ctx, base=base, eps=eps)
    n = n_params(cfg)
    p = np.frombuffer(raw, dtype="<f4", count=n, offset=60).astype(np.float64)
    return cfg, p


def n_params(c):
    D, H, V = c["dim"], c["hid"], c["vocab"]
    KV = c["nkv"] * (D // c["nh"])
    return 2 * V * D + D + c["nl"] * (2 * D + 2 * D * D + 2 * KV * D + 3 * H * D)


def unpack(c, flat):
    """Views of the flat vector in the trainer's layout (tmodel.h)."""
    D, H, V = c["dim"], c["hid"], c["vocab"]
    KV = c["nkv"] * (D // c["nh"])
    o = 0

    def take(*shape):
        nonlocal o
        k = int(np.prod(shape))
        a = flat[o:o + k].reshape(shape)
        o += k
        return a

    w = {"embd": take(V, D), "layers": []}
    for _ in range(c["nl"]):
        w["layers"].append(dict(an=take(D), wq=take(D, D), wk=take(KV, D), wv=take(KV, D), wo=take(D, D),
                                fn=take(D), wg=take(H, D), wu=take(H, D), wd=take(D, H)))
    w["on"] = take(D)
    w["out"] = take(V, D)
    assert o == flat.size
    return w


def rms(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def rope(x, nheads, base):
    T, _ = x.shape
    hd = x.shape[1] // nheads
    x = x.reshape(T, nheads, hd // 2, 2)
    i = np.arange(hd // 2)
    ang = np.arange(T)[:, None] * base ** (-2.0 * i / hd)[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., 0], x[..., 1]
    return np.stack([a * c - b * s, a * s + b * c], -1).reshape(T, nheads * hd)


def loss_of(c, flat, toks):
    w = unpack(c, flat)
    D, nh, nkv = c["dim"], c["nh"], c["nkv"]
    hd = D // nh
    T = len(toks)
    x = w["embd"][toks]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for L in w["layers"]:
        h = rms(x, L["an"], c["eps"])
        q = rope(h @ L["wq"].T, nh, c["base"]).reshape(T, nh, hd)
        k = rope(h @ L["wk"].T, nkv, c["base"]).reshape(T, nkv, hd)
        v = (h @ L["wv"].T).reshape(T, nkv, hd)
        o = np.zeros((T, nh, hd))
        for hh in range(nh):
            kh = hh // (nh // nkv)
            s = q[:, hh] @ k[:, kh].T / np.sqrt(hd) + mask
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            o[:, hh] = p @ v[:, kh]
        x = x + o.reshape(T, D) @ L["wo"].T
        h = rms(x, L["fn"], c["eps"])
        a, b = h @ L["wg"].T, h @ L["wu"].T
        x = x + (a / (1 + np.exp(-a)) * b) @ L["wd"].T
    lg = rms(x, w["on"], c["eps"]) @ w["out"].T
    m = lg.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(lg - m).sum(-1, keepdims=True)))[:, 0]
    return float(sum(lse[t] - lg[t, toks[t + 1]] for t in range(T - 1)))


def main():
    ckpt, gfile, toks = sys.argv[1], sys.argv[2], [int(t) for t in sys.argv[3].split(",")]
    c, p = load_ckpt(ckpt)
    raw = open(gfile, "rb").read()
    c_loss = struct.unpack_from("<d", raw, 0)[0]
    c_grad = np.frombuffer(raw, dtype="<f4", offset=8).astype(np.float64)
    assert c_grad.size == p.size, (c_grad.size, p.size)
    ref_loss = loss_of(c, p, toks)
    print(f"loss: r1 {c_loss:.7f} numpy {ref_loss:.7f}")
    ok = abs(c_loss - ref_loss) <= 1e-4 * max(1.0, abs(ref_loss))
    h = 1e-5
    num = np.zeros_like(p)
    for i in range(p.size):
        q = p.copy()
        q[i] += h
        lp = loss_of(c, q, toks)
        q[i] -= 2 * h
        num[i] = (lp - loss_of(c, q, toks)) / (2 * h)
    err = np.abs(num - c_grad)
    tol = 1e-4 + 1e-3 * np.abs(num)
    bad = int((err > tol).sum())
    print(f"gradient: {p.size} entries, max |r1 - numpy| = {err.max():.3g}, "
          f"max |grad| = {np.abs(num).max():.3g}, {bad} outside tolerance")
    if bad:
        i = int(np.argmax(err - tol))
        print(f"  worst entry {i}: r1 {c_grad[i]:.7g} numpy {num[i]:.7g}")
    sys.exit(0 if ok and bad == 0 else 1)


if __name__ == "__main__":
    main()
