#!/usr/bin/env bash
# Installs what r1 needs to build and test on Debian 12 (run as root or with sudo).
# Build: a C11 compiler, make, PCRE2 (Unicode regex), utf8proc (normalization),
# cJSON (JSON), libedit (line editing). Tests: clang, numpy (reference), node/npm (oracles:
# llama.cpp via node-llama-cpp, HF tokenizers JS port), qemu-user + aarch64 cross gcc (NEON).
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
pkgs=(build-essential make pkg-config libpcre2-dev libutf8proc-dev libcjson-dev libedit-dev)
if [ "${1:-}" != "--build-only" ]; then
  pkgs+=(clang python3 python3-numpy qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross tmux gnuplot-nox)
fi
missing=()
# node/npm may come from another source (e.g. NodeSource): only ask Debian if absent.
if [ "${1:-}" != "--build-only" ]; then
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
