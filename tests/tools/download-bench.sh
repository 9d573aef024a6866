#!/usr/bin/env bash
# The download rate of `corolla download` beside curl's from the same local Hub in the same
# run: a synthetic 1 GiB LFS file served by corolla-testhub on 127.0.0.1, fetched in turns
# (curl following the Hub's redirect to its CDN and writing a file; Corolla into a fresh Hugging
# Face cache, hashing as it goes). Prints one JSON object.
# Usage: download-bench.sh BUILD_DIR [BYTES] [ROUNDS]
set -euo pipefail
build=$(cd "$1" && pwd)
bytes=${2:-1073741824}
rounds=${3:-3}
scratch=$(mktemp -d)
hub_pid=
cleanup() {
    [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

"$build/tests/corolla-testhub" --synthetic "bench/big=$bytes" > "$scratch/hub.txt" &
hub_pid=$!
while ! grep -q '^hub ' "$scratch/hub.txt" 2>/dev/null; do sleep 0.1; done
endpoint=$(awk '/^hub /{print $2}' "$scratch/hub.txt")
export HF_ENDPOINT=$endpoint XDG_CACHE_HOME=$scratch/xdg

seconds() { date +%s.%N; }
mib_s() { echo "$1 / $2 / 1048576" | bc -l; }
# Each tool's own transfer rate (curl's speed_download; Corolla's "fetched ... in S s", which
# covers the file's requests, writing and hashing but not the program's start), and the
# wall time of each command.
curl_rates=(); corolla_rates=(); curl_walls=(); corolla_walls=()
for round in $(seq "$rounds"); do
    start=$(seconds)
    speed=$(curl -sS -L -o "$scratch/curl.bin" -w '%{speed_download}' \
        "$endpoint/bench/big/resolve/main/model.safetensors")
    end=$(seconds)
    curl_rates+=("$(echo "$speed / 1048576" | bc -l)")
    curl_walls+=("$(echo "$end - $start" | bc -l)")
    rm -f "$scratch/curl.bin"

    rm -rf "$scratch/cache"
    start=$(seconds)
    HF_HUB_CACHE=$scratch/cache "$build/app/corolla" download bench/big > /dev/null 2> "$scratch/corolla.log"
    end=$(seconds)
    took=$(sed -n 's/^fetched .* in \([0-9.]*\) s .*/\1/p' "$scratch/corolla.log")
    corolla_rates+=("$(mib_s "$bytes" "$took")")
    corolla_walls+=("$(echo "$end - $start" | bc -l)")
done
best() { printf '%s\n' "$@" | sort -g | tail -1; }
curl_best=$(best "${curl_rates[@]}")
corolla_best=$(best "${corolla_rates[@]}")
list() { local IFS=,; printf '%s' "$(printf '%.1f\n' "$@" | paste -sd,)"; }
printf '{"bytes": %d, "rounds": %d, "curl_mib_s": [%s], "corolla_mib_s": [%s], "curl_wall_s": [%s], "corolla_wall_s": [%s], "curl_best_mib_s": %.1f, "corolla_best_mib_s": %.1f, "ratio": %.3f}\n' \
    "$bytes" "$rounds" "$(list "${curl_rates[@]}")" "$(list "${corolla_rates[@]}")" \
    "$(list "${curl_walls[@]}")" "$(list "${corolla_walls[@]}")" \
    "$curl_best" "$corolla_best" "$(echo "$corolla_best / $curl_best" | bc -l)"
