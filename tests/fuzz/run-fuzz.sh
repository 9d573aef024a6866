#!/usr/bin/env bash
# Builds the fuzz targets with clang and runs each for a fixed number of inputs from a corpus
# seeded with valid messages: a deterministic pass that ctest runs as `fuzz`, and with a
# large RUNS the long campaigns of docs/fuzzing.md. Prints one line per target with its count.
# Usage: run-fuzz.sh SOURCE_DIR BUILD_DIR [RUNS] [TARGET...]
set -euo pipefail
source_dir=$1
build_dir=$2
runs=${3:-200000}
shift $(( $# < 3 ? $# : 3 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzzframes fuzztensors fuzzrecords fuzzrequests)

mkdir -p "$build_dir"
cmake -S "$source_dir/tests/fuzz" -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Release > "$build_dir/configure.log" 2>&1 || { cat "$build_dir/configure.log"; exit 1; }
cmake --build "$build_dir" -j2 --target "${targets[@]}"
for target in "${targets[@]}"; do
    corpus="$build_dir/corpus-$target"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    COROLLA_FUZZ_SEEDS="$corpus" "$build_dir/$target" -runs=0 "$corpus" > /dev/null 2>&1
    start=$(date +%s)
    "$build_dir/$target" -seed=1 -runs="$runs" -max_len=4096 -rss_limit_mb=4096 "$corpus" \
        > "$build_dir/$target.log" 2>&1 || { tail -60 "$build_dir/$target.log"; echo "$target: FAILED"; exit 1; }
    echo "$target: $runs inputs in $(( $(date +%s) - start )) s, no crash, leak or violated property"
done
