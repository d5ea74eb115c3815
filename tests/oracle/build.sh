#!/usr/bin/env bash
# build.sh [BUILD] — builds BUILD/oracle/llama_logits against node-llama-cpp's prebuilt
# libllama (rpath to its folder; the CPU backend variants are loaded from there at run time).
# Installs the oracle first (setup.sh). Prints the binary path.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash tests/oracle/setup.sh >/dev/null
case "$(uname -m)" in x86_64) plat=linux-x64;; aarch64) plat=linux-arm64;; *) echo "no oracle for $(uname -m)" >&2; exit 1;; esac
lib="$root/.oracle/node_modules/@node-llama-cpp/$plat/bins/$plat"
mkdir -p "$build/oracle"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -I.oracle/llama-include -DGGML_LIBDIR="\"$lib\"" \
  tests/oracle/llama_logits.c "$lib/libllama.v0.4.0.so" "$lib/libggml.v0.4.0.so" "$lib/libggml-base.so" \
  -Wl,-rpath,"$lib" -o "$build/oracle/llama_logits"
echo "$build/oracle/llama_logits"
