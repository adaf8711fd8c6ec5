#!/usr/bin/env bash
# The whole test suite, as CI runs it: a -Werror build and an
# ASan+UBSan build, each running every unit and integration test (and
# the fuzz corpus replays), then a bounded libFuzzer run per parser.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
PY=/usr/bin/python3

PASSED=0
run() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DPython3_EXECUTABLE=$PY -DHS_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
  # set -e stops here on any failure; otherwise count what ran.
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS" | tee "$dir/ctest.log"
  local n
  n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' \
        "$dir/ctest.log")
  PASSED=$((PASSED + ${n:-0}))
}

echo "== build + tests (-Werror)"
run build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build + tests (ASan + UBSan)"
run build-asan -DCMAKE_BUILD_TYPE=Debug -DHS_SANITIZE=ON

# Timed libFuzzer runs of the pure parsers (clang; tests/fuzz/run.sh).
# FUZZ_SECONDS per target (default 30, two targets at a time); 0 skips.
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  echo "== fuzzing (${FUZZ_SECONDS:-30}s per target)"
  FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash tests/fuzz/run.sh
fi

# One closing line for both builds' ctest runs (CI reads it).
echo "ctest: $PASSED passed, 0 failed"
