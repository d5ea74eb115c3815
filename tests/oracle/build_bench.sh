#!/usr/bin/env bash
# build_bench.sh [BUILD] — builds BUILD/oracle/llama_bench (make bench's llama.cpp side); see build.sh.
exec bash "$(dirname "$0")/build.sh" "${1:-build}" llama_bench
