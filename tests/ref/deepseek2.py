#!/usr/bin/env python3
"""Float64 numpy reference for the deepseek2 architecture (DeepSeek-V2/V2-Lite/V3 as
llama.cpp reads them from GGUF), written from the DeepSeek-V2/V3 papers and DeepSeek's
inference code semantics with llama.cpp's GGUF conventions; shares no code with r1.

usage: deepseek2.py MODEL.gguf --tokens 1,2,3 --out FILE   (float32 n_tokens x n_vocab)

Attention (MLA, expanded form), per token x (after attn_norm):
  q  = Wq x                  (q_lora_rank 0)   or  Wq_b · rmsnorm(Wq_a x) (q_lora_rank > 0)
       per head [nope | rope];  q_pe gets RoPE
  ckv|k_pe = Wkv_a_mqa x     (kv_lora_rank | n_rot); c = rmsnorm(ckv) * attn_kv_a_norm
  k_pe: RoPE, shared by all heads
  per head [k_nope | v] = Wkv_b c   (or split: k_nope = c·attn_k_b[h], v = attn_v_b[h]·c)
  score = (q_nope·k_nope + q_pe·k_pe) * mscale² / sqrt(nope + rope), causal softmax
RoPE: NORM (interleaved pairs 2i, 2i+1), as llama.cpp's rope type for deepseek2.
YaRN (rope.scaling.type yarn): theta_i = base^(-2i/n_rot); interp = theta/factor;
  ramp over dims [floor(c(32)), ceil(c(1))], c(b) = n_rot ln(orig_ctx/(2πb)) / (2 ln base);
  theta' = interp (1 - r) + theta r with r = 1 - clamp((i - lo)/(hi - lo), 0, 1);
  rotation magnitude 1; mscale = 1 + yarn_log_multiplier · ln(factor) (0.1·mscale_all_dim).
FFN: layers < leading_dense_block_count are SwiGLU dense; others MoE:
  s = softmax (gating 1) or sigmoid (gating 2) of Wgate_inp x; selection score = s + exp_probs_b
  group-limited (n_group > 1): groups ranked by the sum of their top-2 selection scores
  (llama.cpp's rule; DeepSeek-V3's own; V2 used the group max), top topk_group kept;
  top-k experts by selection score; weights = s (unbiased) [÷ sum if expert_weights_norm]
  × expert_weights_scale; out = Σ w_e SwiGLU_e(x) + shared SwiGLU(x).
"""
import argparse
import math
import os
import sys
import numpy as np
sys.path.insert(0, os.path.dirname(__file__))
from gguf import GGUF  # noqa: E402
from dense import rmsnorm  # noqa: E402


def rope_norm(x, pos, theta):
    """x: [T, H, n_rot]; theta: [n_rot/2] per-pair frequencies; interleaved pairs."""
    ang = pos[:, None] * theta[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    y = x.copy()
    a, b = x[..., 0::2], x[..., 1::2]
    y[..., 0::2] = a * c - b * s
    y[..., 1::2] = a * s + b * c
    return y


def swiglu(x, g, u, d):
    """x: [n_embd]; g, u: [n_ff, n_embd]; d: [n_embd, n_ff]."""
    a = g @ x
    return d @ (a / (1.0 + np.exp(-a)) * (u @ x))


def forward(g, tokens):
    """All-position logits [T, n_vocab] (float64)."""
    k = lambda n, dflt=None: g.kv.get('deepseek2.' + n, dflt)  # noqa: E731
    if g.kv.get('general.architecture') != 'deepseek2':
        raise ValueError('deepseek2.py: not a deepseek2 file')
    n_layer, n_head = int(k('block_count')), int(k('attention.head_count'))
    eps = float(k('attention.layer_norm_rms_epsilon'))
    n_rot = int(k('rope.dimension_count'))
    # split-layout files (converter's MLA form) carry the per-head sizes in *_mla keys
    hk = int(k('attention.key_length_mla', k('attention.key_length')))
    hv = int(k('attention.value_length_mla', k('attention.value_length')))
    nope = hk - n_rot
    kvr = int(k('attention.kv_lora_rank'))
    base = float(k('rope.freq_base', 10000.0))
    theta = base ** (-2.0 * np.arange(n_rot // 2) / n_rot)
    mscale = 1.0
    if k('rope.scaling.type') == 'yarn':
        f = float(k('rope.scaling.factor'))
        orig = float(k('rope.scaling.original_context_length'))
        cd = lambda b: n_rot * math.log(orig / (b * 2 * math.pi)) / (2 * math.log(base))  # noqa: E731
        lo, hi = max(math.floor(cd(32.0)), 0), min(math.ceil(cd(1.0)), n_rot - 1)
        r = 1.0 - np.clip((np.arange(n_rot // 2) - lo) / max(0.001, hi - lo), 0.0, 1.0)
        theta = theta / f * (1.0 - r) + theta * r
        mscale = 1.0 + float(k('rope.scaling.yarn_log_multiplier', 0.0)) * math.log(f)
    scale = mscale * mscale / math.sqrt(hk)
    n_dense = int(k('leading_dense_block_count', 0))
    n_used = int(k('expert_used_count', 0))
    gating = int(k('expert_gating_func', 1))
    n_group, g_used = int(k('expert_group_count', 1)), int(k('expert_group_used_count', 1))
    wscale = float(k('expert_weights_scale', 1.0))
    wnorm = bool(k('expert_weights_norm', False))

    emb = g.tensor('token_embd.weight')
    tokens = np.asarray(tokens)
    if tokens.min() < 0 or tokens.max() >= emb.shape[0]:
        raise ValueError('deepseek2.py: token id out of range')
    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    x = emb[tokens].copy()
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for L in range(n_layer):
        p = 'blk.%d.' % L
        t = lambda n: g.tensor(p + n)  # noqa: E731
        a = rmsnorm(x, t('attn_norm.weight'), eps)
        if g.has(p + 'attn_q.weight'):
            q = a @ t('attn_q.weight').T
        else:
            q = rmsnorm(a @ t('attn_q_a.weight').T, t('attn_q_a_norm.weight'), eps) @ t('attn_q_b.weight').T
        q = q.reshape(T, n_head, hk)
        q_pe = rope_norm(q[..., nope:], pos, theta)
        kv = a @ t('attn_kv_a_mqa.weight').T                       # [T, kvr + n_rot]
        c = rmsnorm(kv[:, :kvr], t('attn_kv_a_norm.weight'), eps)
        k_pe = rope_norm(kv[:, None, kvr:], pos, theta)[:, 0, :]     # [T, n_rot]
        if g.has(p + 'attn_kv_b.weight'):
            kvb = (c @ t('attn_kv_b.weight').T).reshape(T, n_head, nope + hv)
        else:  # attn_k_b: [n_head, kvr, nope], attn_v_b: [n_head, hv, kvr]
            kb, vb = t('attn_k_b.weight'), t('attn_v_b.weight')
            kvb = np.concatenate([np.einsum('tc,hcn->thn', c, kb), np.einsum('tc,hvc->thv', c, vb)], axis=2)
        out = np.empty((T, n_head, hv))
        for h in range(n_head):
            s = (q[:, h, :nope] @ kvb[:, h, :nope].T + q_pe[:, h] @ k_pe.T) * scale + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            out[:, h] = s @ kvb[:, h, nope:]
        x = x + out.reshape(T, -1) @ t('attn_output.weight').T
        a = rmsnorm(x, t('ffn_norm.weight'), eps)
        if L < n_dense:
            x = x + np.stack([swiglu(a[i], t('ffn_gate.weight'), t('ffn_up.weight'), t('ffn_down.weight')) for i in range(T)])
            continue
        ge, ue, de = t('ffn_gate_exps.weight'), t('ffn_up_exps.weight'), t('ffn_down_exps.weight')
        n_exp = ge.shape[0]
        bias = t('exp_probs_b.bias') if g.has(p + 'exp_probs_b.bias') else np.zeros(n_exp)
        y = np.zeros_like(x)
        for i in range(T):
            lg = t('ffn_gate_inp.weight') @ a[i]
            if gating == 2:
                sc = 1.0 / (1.0 + np.exp(-lg))
            else:
                sc = np.exp(lg - lg.max()); sc /= sc.sum()
            sel = sc + bias
            if n_group > 1:
                grp = sel.reshape(n_group, -1)
                gs = np.sort(grp, axis=1)[:, -2:].sum(axis=1)
                keep = np.argsort(-gs, kind='stable')[:g_used]
                m = np.full(n_group, -np.inf); m[keep] = 0.0
                sel = (grp + m[:, None]).reshape(-1)
            top = np.argsort(-sel, kind='stable')[:n_used]
            w = sc[top]
            if wnorm:
                w = w / w.sum()
            w = w * wscale
            for e, we in zip(top, w):
                y[i] += we * swiglu(a[i], ge[e], ue[e], de[e])
            if g.has(p + 'ffn_gate_shexp.weight'):
                y[i] += swiglu(a[i], t('ffn_gate_shexp.weight'), t('ffn_up_shexp.weight'), t('ffn_down_shexp.weight'))
        x = x + y
    x = rmsnorm(x, g.tensor('output_norm.weight'), eps)
    wout = g.tensor('output.weight') if g.has('output.weight') else emb
    return x @ wout.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('--tokens', required=True)
    ap.add_argument('--out', required=True)
    o = ap.parse_args()
    try:
        lg = forward(GGUF(o.model), [int(s) for s in o.tokens.split(',') if s])
    except Exception as e:  # noqa: BLE001
        print('deepseek2.py: %s' % e, file=sys.stderr)
        return 1
    lg.astype('<f4').tofile(o.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
