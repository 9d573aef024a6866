#!/usr/bin/env bash
# Builds and runs the tests under sanitizers:
#   address  AddressSanitizer + UndefinedBehaviorSanitizer, leaks checked.
#   thread   ThreadSanitizer.
# Usage: run-sanitized.sh address|thread [units|all] [BUILD_DIR]
#   units (the default, what CI runs after the main suite): the in-process tests of the engine
#            — the parsers of untrusted input (safetensors, configs, tokenizers, frames,
#            records, requests, OpenAI bodies), the blocks and kernels, the block server and
#            the routing — without the app, so that the build stays small. Under thread: the
#            kernel pool and the block server's compute queue.
#   all      every test, with the app and the server and client processes the tests start
#            instrumented too (address: the chaos campaign included; thread: also the swarm
#            client with its sessions and failover, and the desktop facade). About an hour
#            and a half on two cores: run it before a release, not on every change.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kind=${1:-}
scope=${2:-units}
here="$root/tests/sanitizers"

case "$kind:$scope" in
address:units)
    tests=(testcore testsafetensors testmodelconfig testblocks testlora testtrainingdata
        testkvcache testkernels testrowkernels testquantformat testquantkernels testquantblocks
        testsampler testtokenizer teststopsequences testnet testswarm testdht testblockserver
        testroutes testhubunits testopenairequest testdevice)
    ;;
address:all) tests=() ;;
thread:units) tests=(testkernels testblockserver) ;;
thread:all) tests=(testkernels testblockserver testswarmgeneration testdesktop) ;;
*)
    echo "usage: $0 address|thread [units|all] [BUILD_DIR]" >&2
    exit 2
    ;;
esac
build=${3:-$root/build-${kind:0:1}san}

flags=address,undefined
[ "$kind" = thread ] && flags=thread
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOROLLA_SANITIZE=$flags > /dev/null
if [ ${#tests[@]} -eq 0 ]; then
    cmake --build "$build" -j2
else
    targets=("${tests[@]}")
    # The processes that the full thread run's tests start are instrumented too.
    [ "$scope" = all ] && targets+=(corolla corolla-delay-relay)
    cmake --build "$build" -j2 --target "${targets[@]}"
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$here/ubsan.supp"
# Qt and libtorch are not instrumented: their own locks and OpenMP's are invisible to
# ThreadSanitizer, see tsan.supp for what that file silences and why.
export TSAN_OPTIONS="suppressions=$here/tsan.supp:halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0:die_after_fork=0"
[ "$kind" = thread ] && export COROLLA_NUM_THREADS=2

if [ ${#tests[@]} -eq 0 ]; then
    ctest --test-dir "$build" --output-on-failure
else
    ctest --test-dir "$build" --output-on-failure -R "^($(IFS='|'; echo "${tests[*]}"))\$"
fi
