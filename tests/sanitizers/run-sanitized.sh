#!/usr/bin/env bash
# Builds and runs the tests under sanitizers, as CI does after the main suite:
#   address  AddressSanitizer + UndefinedBehaviorSanitizer: the engine, the app (whose server
#            processes the tests start) and every test but the fuzz pass (its own ASan build).
#   thread   ThreadSanitizer: the threaded parts — kernel pool, compute queue and block
#            server, swarm client and sessions with the server and client processes they
#            start, and the desktop facade (engine and chat threads behind the app's window).
# Usage: run-sanitized.sh address|thread [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kind=$1
here="$root/tests/sanitizers"
case "$kind" in
address)
    build=${2:-$root/build-asan}
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOROLLA_SANITIZE=address,undefined > /dev/null
    cmake --build "$build" -j2
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1"
    export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$here/ubsan.supp"
    ctest --test-dir "$build" --output-on-failure
    ;;
thread)
    build=${2:-$root/build-tsan}
    tests=(testkernels testblockserver testswarmgeneration testdesktop)
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOROLLA_SANITIZE=thread > /dev/null
    cmake --build "$build" -j2 --target corolla corolla-delay-relay "${tests[@]}"
    # Qt and libtorch are not instrumented: their own locks and OpenMP's are invisible to
    # ThreadSanitizer, see tsan.supp for what that file silences and why.
    export TSAN_OPTIONS="suppressions=$here/tsan.supp:halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0:die_after_fork=0"
    export COROLLA_NUM_THREADS=2
    ctest --test-dir "$build" --output-on-failure -R "^($(IFS='|'; echo "${tests[*]}"))\$"
    ;;
*)
    echo "usage: $0 address|thread [BUILD_DIR]" >&2
    exit 2
    ;;
esac
