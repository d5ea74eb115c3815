#!/usr/bin/env python3
"""$SKIP: comma-separated substrings; lines whose text contains one are skipped.
compare.py EXPECTED.jsonl ACTUAL_IDS_LINES [LABEL]: compares the `ids` (or the field
given by $FIELD, dotted path like qwen2.ids) of each expected line with the JSON id array on the same line of the
actual output. Prints mismatches and a summary; exit 1 on any mismatch."""
import json, os, sys
field = os.environ.get("FIELD", "ids")
exp = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
act = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
label = sys.argv[3] if len(sys.argv) > 3 else sys.argv[1]
bad = 0
if len(exp) != len(act):
    print(f"{label}: {len(exp)} expected lines, {len(act)} actual"); sys.exit(1)
skip = [x for x in os.environ.get("SKIP", "").split(",") if x and x != "-"]
skipped = 0
for e, a in zip(exp, act):
    if any(x in e["text"] for x in skip):
        skipped += 1
        continue
    want = e
    for k in field.split("."): want = want[k]
    if want != a:
        bad += 1
        if bad <= 10:
            print(f"  MISMATCH {label}: {e['text'][:80]!r}\n    expected {want[:40]}\n    got      {a[:40]}")
print(f"{label}: {len(exp) - skipped - bad}/{len(exp) - skipped} exact" + (f" ({skipped} skipped: {','.join(skip)})" if skipped else ""))
sys.exit(1 if bad else 0)
