#!/usr/bin/env bash
# Builds the decoder fuzz target with clang and runs a fixed number of inputs from a seeded
# corpus: a deterministic fuzz pass that ctest runs as `fuzzdecoders`.
# Usage: run-fuzz.sh SOURCE_DIR BUILD_DIR [RUNS]
set -euo pipefail
source_dir=$1
build_dir=$2
runs=${3:-500000}

cmake -S "$source_dir/tests/fuzz" -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Release > "$build_dir.configure.log" 2>&1 || { cat "$build_dir.configure.log"; exit 1; }
cmake --build "$build_dir" -j2
corpus="$build_dir/corpus"
rm -rf "$corpus"
mkdir -p "$corpus"
COROLLA_FUZZ_SEEDS="$corpus" "$build_dir/fuzzdecoders" -runs=0 "$corpus" > /dev/null 2>&1
"$build_dir/fuzzdecoders" -seed=1 -runs="$runs" -max_len=4096 -rss_limit_mb=4096 "$corpus"
