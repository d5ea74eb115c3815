#!/usr/bin/env bash
# build.sh [BUILD] [HARNESS] — builds BUILD/oracle/HARNESS from tests/oracle/HARNESS.c against
# node-llama-cpp's prebuilt libraries (rpath to their folder; the CPU backend variants are
# loaded from there at run time). HARNESS: llama_logits (default; logits for the integration
# tests), llama_bench (make bench's llama.cpp side), ggml_kernels (ggml's mul_mat per weight
# type, bench/kernels.sh; links ggml only). Installs the oracle first (setup.sh). Prints the
# binary path.
set -euo pipefail
build=${1:-build}
name=${2:-llama_logits}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
case "$name" in
  llama_logits|llama_bench) libs=(libllama.v0.4.0.so libggml.v0.4.0.so libggml-base.so);;
  ggml_kernels) libs=(libggml.v0.4.0.so libggml-base.so);;
  *) echo "build.sh: unknown harness '$name' (llama_logits, llama_bench, ggml_kernels)" >&2; exit 2;;
esac
bash tests/oracle/setup.sh >/dev/null
case "$(uname -m)" in x86_64) plat=linux-x64;; aarch64) plat=linux-arm64;; *) echo "no oracle for $(uname -m)" >&2; exit 1;; esac
lib="$root/.oracle/node_modules/@node-llama-cpp/$plat/bins/$plat"
mkdir -p "$build/oracle"
${CC:-cc} -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I.oracle/llama-include -DGGML_LIBDIR="\"$lib\"" \
  "tests/oracle/$name.c" "${libs[@]/#/$lib/}" -Wl,-rpath,"$lib" -lm -o "$build/oracle/$name"
echo "$build/oracle/$name"
