#!/usr/bin/env bash
# build_kernels.sh [BUILD] — builds BUILD/oracle/ggml_kernels (tests/oracle/ggml_kernels.c: ggml's
# mul_mat per weight type, for bench/kernels.sh) against node-llama-cpp's prebuilt ggml, like
# build_bench.sh. Prints the binary path.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash tests/oracle/setup.sh >/dev/null
case "$(uname -m)" in x86_64) plat=linux-x64;; aarch64) plat=linux-arm64;; *) echo "no oracle for $(uname -m)" >&2; exit 1;; esac
lib="$root/.oracle/node_modules/@node-llama-cpp/$plat/bins/$plat"
mkdir -p "$build/oracle"
${CC:-cc} -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I.oracle/llama-include -DGGML_LIBDIR="\"$lib\"" \
  tests/oracle/ggml_kernels.c "$lib/libggml.v0.4.0.so" "$lib/libggml-base.so" \
  -Wl,-rpath,"$lib" -lm -o "$build/oracle/ggml_kernels"
echo "$build/oracle/ggml_kernels"
