#!/usr/bin/env python3
"""compare.py A B N_TOKENS [--rel 1e-4] [--agree 99] [--label NAME]

Compares two raw logits files (float32 LE, N_TOKENS x n_vocab rows, the `r1 logits`
layout). Per position: relative L2 error |a-b|_2 / |b|_2 (B is the reference), max abs
difference, argmax agreement. Prints a table and a summary line; exits 1 when the worst
relative error exceeds --rel or the argmax agreement (%) is below --agree, 2 on bad input.
"""
import argparse
import sys
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('a')
    ap.add_argument('b', help='reference')
    ap.add_argument('n', type=int)
    ap.add_argument('--rel', type=float, default=1e-4)
    ap.add_argument('--agree', type=float, default=99.0)
    ap.add_argument('--label', default='')
    ap.add_argument('--quiet', action='store_true', help='summary line only')
    o = ap.parse_args()
    a = np.fromfile(o.a, dtype='<f4').astype(np.float64)
    b = np.fromfile(o.b, dtype='<f4').astype(np.float64)
    if o.n <= 0 or a.size != b.size or a.size % o.n or a.size == 0:
        print('compare.py: size mismatch: %s has %d floats, %s has %d, n_tokens %d'
              % (o.a, a.size, o.b, b.size, o.n), file=sys.stderr)
        return 2
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        print('compare.py: non-finite logits in %s' % (o.a if not np.isfinite(a).all() else o.b),
              file=sys.stderr)
        return 1
    a, b = a.reshape(o.n, -1), b.reshape(o.n, -1)
    rel = np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-30)
    mx = np.abs(a - b).max(axis=1)
    agree = a.argmax(axis=1) == b.argmax(axis=1)
    if not o.quiet:
        print('  pos   rel_L2      max_abs    argmax')
        for p in range(o.n):
            print('%5d  %.3e  %.3e  %s' % (p, rel[p], mx[p], 'same' if agree[p] else 'DIFF'))
    pct = 100.0 * agree.mean()
    ok = rel.max() <= o.rel and pct >= o.agree
    print('%s%d positions: rel L2 max %.3e mean %.3e, max abs %.3e, argmax agreement %.1f%% '
          '(limits rel <= %g, agree >= %g%%) %s'
          % (o.label + ': ' if o.label else '', o.n, rel.max(), rel.mean(), mx.max(), pct,
             o.rel, o.agree, 'ok' if ok else 'FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
