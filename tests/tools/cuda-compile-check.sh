#!/usr/bin/env bash
# The CUDA path compiled and linked where no GPU runs it: the engine-only configuration
# (docs/gpu.md) built against the CUDA libtorch of PyPI's torch, installed into a virtual
# environment inside the build folder. Then that build runs the device checks on the CPU with
# the generic backend (with this libtorch, attention goes through scaled_dot_product_attention)
# and must refuse a GPU that is not there with the clear error, not a crash.
# Usage: cuda-compile-check.sh BUILD_DIR. Needs the CUDA toolkit (nvcc); without it, says so
# and does nothing.
set -euo pipefail
build=$1
torch_version=2.15.0
nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
    echo "cuda-compile-check: no CUDA toolkit (nvcc) on this machine; the CUDA build is not checked here"
    exit 0
fi
venv=$build/cudatorch
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version' or torch.version.cuda is None)" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==$torch_version"
fi
prefix=$("$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)
echo "cuda-compile-check: torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null), nvcc $("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
# TORCH_CUDA_ARCH_LIST: no GPU to detect; Hopper, for the flags libtorch's config sets.
cmake -S . -B "$build/cuda" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOROLLA_ENGINE_ONLY=ON \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CUDA_COMPILER="$nvcc" -DTORCH_CUDA_ARCH_LIST=9.0 \
    > "$build/cuda-configure.log" 2>&1 || { cat "$build/cuda-configure.log"; exit 1; }
grep -q "CUDA: 1" "$build/cuda-configure.log" || { echo "cuda-compile-check: libtorch without CUDA"; exit 1; }
cmake --build "$build/cuda" -j2 --target corolla-engine-bench testdevice
ldd "$build/cuda/tests/testdevice" | grep -q libtorch_cuda \
    || { echo "cuda-compile-check: testdevice is not linked with libtorch_cuda"; exit 1; }
"$build/cuda/tests/testdevice" --device cpu --backend generic | tail -n 1
set +e
refusal=$("$build/cuda/tests/testdevice" --device cuda:0 2>&1)
status=$?
set -e
if [ "$status" -ne 1 ] || ! grep -q "cuda:0: no NVIDIA GPU is usable here" <<<"$refusal"; then
    if [ "$status" -eq 0 ]; then
        echo "cuda-compile-check: this machine has a GPU; its checks passed"
    else
        echo "cuda-compile-check: expected the no-GPU error, got status $status: $refusal"
        exit 1
    fi
else
    echo "cuda-compile-check: without a GPU, cuda:0 is refused: $refusal"
fi
