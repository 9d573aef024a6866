#!/usr/bin/env bash
# The engine on an NVIDIA GPU: builds the engine-only configuration (docs/gpu.md) against the
# CUDA PyTorch of this machine, runs the device checks on the GPU (every family, dtype and
# format against the CPU fp32 reference, cached decode against the full forward) and prints
# one JSON object: decode and prefill tokens/s on the tinyllama-1.1b and llama-3-8b shapes
# (random weights) in bf16, unpacked and packed as int8 and nf4, next to the GPU's memory
# bandwidth and bf16 matrix-product rate measured in the same run.
# Usage: packaging/gpu-check.sh [DEVICE]   (DEVICE: cuda:0 unless given; PYTHON picks the
# Python whose torch is used; BUILD the build folder, build-gpu by default.)
set -euo pipefail
cd "$(dirname "$0")/.."
device=${1:-cuda:0}
python=${PYTHON:-python3}
build=${BUILD:-build-gpu}
fail() { echo "gpu-check: $*" >&2; exit 1; }

"$python" -c 'import torch' 2>/dev/null || fail "$python has no torch; set PYTHON to one with a CUDA torch"
read -r torch_version cuda_version gpus capability prefix < <("$python" - <<'PY' 2>/dev/null
import torch
count = torch.cuda.device_count() if torch.cuda.is_available() else 0
cap = "%d.%d" % torch.cuda.get_device_capability(0) if count else "-"
print(torch.__version__, torch.version.cuda, count, cap, torch.utils.cmake_prefix_path)
PY
)
[ "$cuda_version" != "None" ] || fail "torch $torch_version was built without CUDA"
[ "$gpus" -gt 0 ] || fail "torch $torch_version sees no GPU (driver missing?)"
nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || nvcc=/usr/local/cuda/bin/nvcc
[ -n "$nvcc" ] || fail "libtorch's CMake files need the CUDA toolkit (nvcc) to configure"
for header in nlohmann/json.hpp; do
    echo "#include <$header>" | c++ -fsyntax-only -x c++ - 2>/dev/null \
        || fail "the build needs $header (Debian: nlohmann-json3-dev)"
done
echo "gpu-check: torch $torch_version (CUDA $cuda_version), $gpus GPU(s), sm_${capability/./}" >&2

start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOROLLA_ENGINE_ONLY=ON \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DTORCH_CUDA_ARCH_LIST="$capability" > "$build.configure.log" 2>&1 \
    || { cat "$build.configure.log" >&2; fail "configuring failed"; }
cmake --build "$build" -j"$(nproc)" --target testdevice corolla-engine-bench >&2
echo "gpu-check: built in $(( $(date +%s) - start )) s" >&2

"$build/tests/testdevice" --device "$device" >&2 || fail "the device checks failed on $device"
"$build/app/enginebench/corolla-engine-bench" --device "$device" \
    --shape tinyllama-1.1b,llama-3-8b --quant none,int8,nf4 --prompt 512 --decode 128
echo "gpu-check: done in $(( $(date +%s) - start )) s" >&2
