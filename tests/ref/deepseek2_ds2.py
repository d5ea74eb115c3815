#!/usr/bin/python3
"""deepseek2_ds2.py — an independent float64 numpy reference of the DeepSeek-V2/V3
architecture (GGUF arch `deepseek2`), written from the DeepSeek-V2/V3 papers and
DeepSeek's published inference code (model.py: MLA, Gate, MoE, precompute_freqs_cis),
not from r1's C code.

Usage: deepseek2_ds2.py MODEL.gguf TOKENS [OUT.npy]
  TOKENS: comma-separated token ids, evaluated at positions 0..n-1.
  Prints (or saves, as float64 [n_tok, n_vocab]) the logits after every token.

Group-limited routing scores a group by its maximum when the gate has no bias (DeepSeek-V2)
and by the sum of its two best biased scores when it has one (V3/R1), as DeepSeek's Gate
does; DS2_GROUP_RULE=top2 forces the top-2 sum always (llama.cpp's rule), to show that
this is the only difference on a grouped softmax model. DS2_KV_F16=1 rounds the latent
cache rows (normed c_kv and roped k_rope) to IEEE half precision, as an F16 KV cache does.

Supported weight types: F32, F16, BF16, Q8_0 (dequantized). The forward pass:
  x = tok_embd[t]; per layer: x += MLA(rms(x)); x += FFN(rms(x)) (dense for the first
  leading_dense_block_count layers, else routed + shared experts); logits = output(rms(x)).
MLA is computed in the expanded (naive) form: per-head k_nope, v from the latent.
"""
import os
import struct
import sys

import numpy as np

# ---- GGUF reader ---------------------------------------------------------------------
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class Gguf:
    def __init__(self, path):
        self.buf = open(path, "rb").read()
        self.pos = 0
        magic, version = self._u("<I"), self._u("<I")
        if magic != 0x46554747 or version not in (2, 3):
            raise ValueError(f"{path}: not a GGUF v2/v3 file")
        n_tensors, n_kv = self._u("<Q"), self._u("<Q")
        self.kv, self.kv_type = {}, {}   # kv_type: value type, or (9, element type) for arrays
        for _ in range(n_kv):
            key = self._str()
            t = self._u("<I")
            if t == 9:
                et = struct.unpack_from("<I", self.buf, self.pos)[0]
                self.kv_type[key] = (9, et)
            else:
                self.kv_type[key] = t
            self.kv[key] = self._val(t)
        infos = []
        for _ in range(n_tensors):
            name = self._str()
            nd = self._u("<I")
            ne = [self._u("<Q") for _ in range(nd)]
            infos.append((name, ne, self._u("<I"), self._u("<Q")))
        align = int(self.kv.get("general.alignment", 32))
        data = (self.pos + align - 1) // align * align
        self.tensors = {name: (ne, typ, data + off) for name, ne, typ, off in infos}

    def _u(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def _str(self):
        n = self._u("<Q")
        s = self.buf[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def _val(self, t):
        if t in _SCALAR:
            return self._u(_SCALAR[t])
        if t == 8:
            return self._str()
        if t == 9:
            et, n = self._u("<I"), self._u("<Q")
            return [self._val(et) for _ in range(n)]
        raise ValueError(f"bad GGUF value type {t}")

    def raw(self, name):
        """The tensor's bytes (F32, F16, BF16, Q8_0 only)."""
        ne, typ, off = self.tensors[name]
        n = int(np.prod(ne))
        size = {0: 4 * n, 1: 2 * n, 30: 2 * n, 8: n // 32 * 34}[typ]
        return self.buf[off:off + size]

    def has(self, name):
        return name in self.tensors

    def get(self, name):
        """The tensor as float64 with numpy shape = reversed ne (rows last-dim contiguous)."""
        ne, typ, off = self.tensors[name]
        n = int(np.prod(ne))
        if typ == 0:
            a = np.frombuffer(self.buf, np.float32, n, off).astype(np.float64)
        elif typ == 1:
            a = np.frombuffer(self.buf, np.float16, n, off).astype(np.float64)
        elif typ == 30:
            u = np.frombuffer(self.buf, np.uint16, n, off).astype(np.uint32) << 16
            a = u.view(np.float32).astype(np.float64)
        elif typ == 8:  # Q8_0: blocks of {f16 d; int8 q[32]}
            blk = np.frombuffer(self.buf, np.uint8, n // 32 * 34, off).reshape(-1, 34)
            d = blk[:, :2].copy().view(np.float16).astype(np.float64)
            q = blk[:, 2:].copy().view(np.int8).astype(np.float64)
            a = (d * q).reshape(-1)
        else:
            raise ValueError(f"{name}: tensor type {typ} not supported by the reference")
        return a.reshape(list(reversed(ne)))


# ---- model pieces ----------------------------------------------------------------------
def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope_freqs(dr, base, yarn):
    """DeepSeek's precompute_freqs_cis: per-pair frequencies, YaRN-corrected."""
    f = 1.0 / base ** (np.arange(0, dr, 2, dtype=np.float64) / dr)
    if yarn:
        s, orig, bfast, bslow = yarn

        def corr_dim(rot):
            return dr * np.log(orig / (rot * 2 * np.pi)) / (2 * np.log(base))

        lo = max(np.floor(corr_dim(bfast)), 0)
        hi = min(np.ceil(corr_dim(bslow)), dr - 1)
        if lo == hi:
            hi += 0.001
        ramp = np.clip((np.arange(dr // 2) - lo) / (hi - lo), 0, 1)
        smooth = 1 - ramp
        f = f / s * (1 - smooth) + f * smooth
    return f


def rope(x, pos, freqs):
    """Rotates consecutive pairs of the last axis; x [..., T, dr] or [T, ..., dr] via pos."""
    th = np.outer(pos, freqs)                       # [T, dr/2]
    shape = [len(pos)] + [1] * (x.ndim - 2) + [len(freqs)]
    c, s = np.cos(th).reshape(shape), np.sin(th).reshape(shape)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * c - b * s
    out[..., 1::2] = a * s + b * c
    return out


def silu(x):
    return x / (1 + np.exp(-x))


def route(logits, hp, bias):
    """DeepSeek's Gate.forward for one token: (ids, weights)."""
    if hp["gating"] == 1:
        e = np.exp(logits - logits.max())
        p = e / e.sum()
    else:
        p = 1 / (1 + np.exp(-logits))
    s = p + (bias if bias is not None else 0)
    ng = hp["n_group"]
    if ng > 1:
        g = s.reshape(ng, -1)
        top2 = bias is not None or os.environ.get("DS2_GROUP_RULE") == "top2"   # top2: llama.cpp's rule
        gs = np.sort(g, axis=1)[:, -2:].sum(axis=1) if top2 else g.max(axis=1)
        keep = np.argsort(-gs, kind="stable")[:hp["topk_group"]]
        mask = np.full(ng, True)
        mask[keep] = False
        g = g.copy()
        g[mask] = -np.inf
        s = g.reshape(-1)
    ids = np.argsort(-s, kind="stable")[:hp["n_used"]]
    w = p[ids]
    if hp["norm"]:
        w = w / w.sum()
    return ids, w * hp["scale"]


def forward(g, tokens):
    a = g.kv["general.architecture"]
    k = lambda name, default=None: g.kv.get(f"{a}.{name}", default)
    E, H = k("embedding_length"), k("attention.head_count")
    eps = k("attention.layer_norm_rms_epsilon", 1e-6)
    R, Q, Dr = k("attention.kv_lora_rank"), k("attention.q_lora_rank", 0), k("rope.dimension_count")
    Dk = k("attention.key_length_mla", k("attention.key_length"))
    Dv = k("attention.value_length_mla", k("attention.value_length"))
    Dn = Dk - Dr
    yarn = None
    scale = 1 / np.sqrt(Dk)
    if k("rope.scaling.type") == "yarn" and k("rope.scaling.factor", 0) > 1:
        s = k("rope.scaling.factor")
        yarn = (s, k("rope.scaling.original_context_length"), k("rope.scaling.yarn_beta_fast", 32.0),
                k("rope.scaling.yarn_beta_slow", 1.0))
        mscale = 1 + k("rope.scaling.yarn_log_multiplier", 0.0) * np.log(s)   # 0.1*mscale_all_dim
        scale *= mscale * mscale
    freqs = rope_freqs(Dr, k("rope.freq_base", 10000.0), yarn)
    hp = dict(n_used=k("expert_used_count", 0), gating=k("expert_gating_func", 1),
              n_group=k("expert_group_count", 1), topk_group=k("expert_group_used_count", 1),
              norm=bool(k("expert_weights_norm", False)), scale=k("expert_weights_scale", 1.0) or 1.0)
    n_dense = k("leading_dense_block_count", 0)

    T = len(tokens)
    pos = np.arange(T)
    x = g.get("token_embd.weight")[tokens]             # [T, E]
    causal = np.triu(np.full((T, T), -np.inf), 1)
    for il in range(k("block_count")):
        b = f"blk.{il}."
        h = rms(x, g.get(b + "attn_norm.weight"), eps)
        if Q:
            q = rms(h @ g.get(b + "attn_q_a.weight").T, g.get(b + "attn_q_a_norm.weight"), eps)
            q = q @ g.get(b + "attn_q_b.weight").T
        else:
            q = h @ g.get(b + "attn_q.weight").T
        q = q.reshape(T, H, Dk)
        q_nope, q_pe = q[..., :Dn], rope(q[..., Dn:], pos, freqs)
        kv = h @ g.get(b + "attn_kv_a_mqa.weight").T
        c = rms(kv[:, :R], g.get(b + "attn_kv_a_norm.weight"), eps)     # [T, R]
        k_pe = rope(kv[:, R:], pos, freqs)                              # [T, Dr]
        if os.environ.get("DS2_KV_F16") == "1":                         # F16 latent cache
            c, k_pe = c.astype(np.float16).astype(np.float64), k_pe.astype(np.float16).astype(np.float64)
        if g.has(b + "attn_kv_b.weight"):
            kvb = g.get(b + "attn_kv_b.weight").reshape(H, Dn + Dv, R)
            w_uk, w_uv = kvb[:, :Dn], kvb[:, Dn:]
        else:
            w_uk = g.get(b + "attn_k_b.weight").transpose(0, 2, 1)      # [H, R, Dn] → [H, Dn, R]
            w_uv = g.get(b + "attn_v_b.weight")                         # [H, Dv, R]
        k_nope = np.einsum("hdr,sr->shd", w_uk, c)
        v = np.einsum("hvr,sr->shv", w_uv, c)
        sc = (np.einsum("thd,shd->hts", q_nope, k_nope) + np.einsum("thd,sd->hts", q_pe, k_pe)) * scale
        sc = sc + causal
        sc = np.exp(sc - sc.max(axis=-1, keepdims=True))
        sc /= sc.sum(axis=-1, keepdims=True)
        o = np.einsum("hts,shv->thv", sc, v).reshape(T, H * Dv)
        x = x + o @ g.get(b + "attn_output.weight").T

        h = rms(x, g.get(b + "ffn_norm.weight"), eps)
        if il < n_dense:
            y = (silu(h @ g.get(b + "ffn_gate.weight").T) * (h @ g.get(b + "ffn_up.weight").T)) @ g.get(b + "ffn_down.weight").T
        else:
            gate_inp = g.get(b + "ffn_gate_inp.weight")                  # [NE, E]
            bias = g.get(b + "exp_probs_b.bias") if g.has(b + "exp_probs_b.bias") else None
            wg, wu, wd = (g.get(b + f"ffn_{n}_exps.weight") for n in ("gate", "up", "down"))  # [NE, F, E] / [NE, E, F]
            y = np.zeros_like(h)
            for t in range(T):
                ids, ws = route(h[t] @ gate_inp.T, hp, bias)
                for e, w in zip(ids, ws):
                    y[t] += w * (wd[e] @ (silu(wg[e] @ h[t]) * (wu[e] @ h[t])))
            if g.has(b + "ffn_gate_shexp.weight"):
                y += (silu(h @ g.get(b + "ffn_gate_shexp.weight").T) * (h @ g.get(b + "ffn_up_shexp.weight").T)) @ g.get(b + "ffn_down_shexp.weight").T
        x = x + y
    x = rms(x, g.get("output_norm.weight"), eps)
    out = g.get("output.weight") if g.has("output.weight") else g.get("token_embd.weight")
    return x @ out.T


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    g = Gguf(sys.argv[1])
    tokens = [int(t) for t in sys.argv[2].split(",") if t]
    logits = forward(g, tokens)
    if len(sys.argv) > 3:
        np.save(sys.argv[3], logits)
    else:
        np.savetxt(sys.stdout, logits, fmt="%.9g")


if __name__ == "__main__":
    main()
