#!/usr/bin/python3
"""dump_match.py DUMP DIR: how many engine completions equal the trainer's.

DUMP is `r1 train --eval-dump` / `--eval-dump-sampled` output (one record per completion,
7 tab-separated fields, the completion last with newlines written as \\n); DIR/00000.txt ...
are `r1 run` outputs in the same order. Compared as bytes (a barely trained model writes
any byte): r1 run's one final newline is dropped, the trainer's text ends at a NUL (it is a
C string), the engine's newlines are escaped as the dump escapes them. Prints
"same S of N" and the index of the first mismatch, if any; exits 0 (callers decide)."""
import sys

recs = open(sys.argv[1], 'rb').read().split(b'\n')[:-1]
same, first = 0, None
for i, r in enumerate(recs):
    want = r.split(b'\t', 6)[6]
    got = open('%s/%05d.txt' % (sys.argv[2], i), 'rb').read()
    got = got[:-1] if got.endswith(b'\n') else got
    got = got.split(b'\0')[0].replace(b'\n', b'\\n')
    if got == want:
        same += 1
    elif first is None:
        first = i
print('same %d of %d' % (same, len(recs)) + ('' if first is None else ' (first differing: %d)' % first))
