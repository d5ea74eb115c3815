#!/usr/bin/env bash
# build_kernels.sh [BUILD] — builds BUILD/oracle/ggml_kernels (bench/kernels.sh's ggml side); see build.sh.
exec bash "$(dirname "$0")/build.sh" "${1:-build}" ggml_kernels
