#!/usr/bin/env bash
# bench_json.sh BUILD — `r1 bench` runs on a tiny generated model (small -p/-n/-r, small
# bandwidth probe) and its --json output is one well-formed object with the stable fields;
# the human table prints; usage errors exit 2, a missing model exits 1. No timing assertions.
set -uo pipefail
build=${1:-build}
cd "$(dirname "$0")/../.."
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null || exit 1
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$build/tools/gen_model" --arch qwen2 --preset tiny -o "$d/m.gguf" >/dev/null || { echo "bench_json: gen_model failed"; exit 1; }
"$build/tools/gen_model" --preset v2-tiny -o "$d/moe.gguf" >/dev/null || { echo "bench_json: gen_model v2-tiny failed"; exit 1; }
fail=0
for m in m moe; do
  "$build/r1" bench -m "$d/$m.gguf" -p 8 -n 4 -r 2 -d 3 -t 2 --bw-mib 16 --json > "$d/$m.json" \
    || { echo "bench_json: r1 bench --json failed ($m)"; fail=1; continue; }
  /usr/bin/python3 - "$d/$m.json" "$m" <<'PY' || fail=1
import json, sys
o = json.load(open(sys.argv[1]))
num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
ok = (o["pp"]["n"] == 2 and num(o["pp"]["tps_median"]) and o["pp"]["tps_median"] > 0
      and o["tg"]["n"] == 2 and num(o["tg"]["tps_median"]) and o["tg"]["tps_median"] > 0
      and num(o["tg"]["gbps"]) and o["tg"]["gbps"] > 0 and o["threads"] == 2
      and num(o["peak_rss_mib"]) and o["peak_rss_mib"] > 0 and num(o["bandwidth_gbps"]) and o["bandwidth_gbps"] > 0
      and 0 < o["bytes_per_token"] <= o["file_bytes"] and o["tg"]["tps_min"] <= o["tg"]["tps_median"] <= o["tg"]["tps_max"]
      and o["bw_probe_kernel"] in ("avx512", "avx2", "portable") and isinstance(o["bw_probe_hugepages"], bool))
if sys.argv[2] == "moe":   # routed experts count at n_used / n_expert: well under the file size
    ok = ok and o["bytes_per_token"] < 0.9 * o["file_bytes"]
if not ok:
    print("bench_json: bad fields (%s): %s" % (sys.argv[2], json.dumps(o)))
    sys.exit(1)
PY
done
# the probe's read loops follow R1_ISA (each level this CPU runs; the fastest is reported)
for lvl in scalar avx2 avx512; do
  case $lvl in scalar) want=portable ;; avx2) want="avx2 portable" ;; *) want="avx512 avx2 portable" ;; esac
  case "$lvl:$(uname -m)" in
    avx2:x86_64) grep -qw avx2 /proc/cpuinfo || continue ;;
    avx512:x86_64) grep -qw avx512_vnni /proc/cpuinfo || continue ;;
    avx*) continue ;;
  esac
  R1_ISA=$lvl "$build/r1" bench -m "$d/m.gguf" -p 0 -n 1 -r 1 -t 2 --bw-mib 8 --json > "$d/isa.json" \
    || { echo "bench_json: r1 bench failed (R1_ISA=$lvl)"; fail=1; continue; }
  /usr/bin/python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.exit(not (o["bw_probe_kernel"] in sys.argv[2].split() and o["bandwidth_gbps"] > 0))' \
    "$d/isa.json" "$want" || { echo "bench_json: R1_ISA=$lvl: probe kernel/bandwidth wrong: $(cat "$d/isa.json")"; fail=1; }
done
"$build/r1" bench -m "$d/m.gguf" -p 4 -n 2 -r 1 --bw-mib 0 > "$d/t.txt"
grep -q "tg2" "$d/t.txt" || { echo "bench_json: no table"; fail=1; }
grep -q "probe skipped" "$d/t.txt" || { echo "bench_json: --bw-mib 0 should say the probe was skipped"; fail=1; }
"$build/r1" bench -m "$d/m.gguf" -p 0 -n 0 2>/dev/null; [ $? = 2 ] || { echo "bench_json: -p 0 -n 0 should exit 2"; fail=1; }
"$build/r1" bench -m "$d/m.gguf" -r x 2>/dev/null; [ $? = 2 ] || { echo "bench_json: -r x should exit 2"; fail=1; }
"$build/r1" bench -m "$d/none.gguf" -p 4 -n 2 2>/dev/null; [ $? = 1 ] || { echo "bench_json: missing model should exit 1"; fail=1; }
[ $fail = 0 ] && echo "bench_json: ok"
exit $fail
