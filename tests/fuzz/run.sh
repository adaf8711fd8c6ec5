#!/usr/bin/env bash
# Timed fuzzing of the pure parsers with libFuzzer (clang from Debian:
# packages clang and libclang-rt-14-dev).
#
#   bash tests/fuzz/run.sh [TARGET...]      default: every target in
#                                           tests/fuzz/targets
# Environment:
#   FUZZ_SECONDS   time per target (default 30)
#   FUZZ_JOBS      targets fuzzed at once (default 2)
#   FUZZ_BUILD     work directory (default build-fuzz/ in the repository):
#                  binaries, the grown corpora (kept between runs, so
#                  repeated runs dig deeper), crash artifacts and logs
#   CC             clang to use (default clang)
#
# Each target is built straight from its .c files with
# -fsanitize=fuzzer,address,undefined and run for FUZZ_SECONDS on its
# seed corpus tests/fuzz/corpus/<target>/ plus the grown one. The run
# fails if any target finds a crash, a leak, a timeout or a broken
# contract check (FUZZ_CHECK); the artifact's path and the command that
# reproduces it are printed. Keep a fixed crash as a regression test by
# copying the artifact into tests/fuzz/corpus/<target>/: ctest fuzz.<target>
# replays that directory in every build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-2}
OUT=${FUZZ_BUILD:-$ROOT/build-fuzz}
CC=${CC:-clang}
case $CC in *clang*) ;; *) CC=clang ;; esac

mapfile -t LINES < <(grep -E '^[a-z]' "$ROOT/tests/fuzz/targets")
declare -A SOURCES=()
ALL=()
for line in "${LINES[@]}"; do
  read -r name srcs <<<"$line"
  SOURCES[$name]=$srcs
  ALL+=("$name")
done
if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  TARGETS=("${ALL[@]}")
fi
for t in "${TARGETS[@]}"; do
  if [ -z "${SOURCES[$t]+x}" ]; then
    echo "fuzz: unknown target '$t'" >&2
    exit 2
  fi
done

mkdir -p "$OUT"
CFLAGS=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
        -Wvla -Werror -I"$ROOT")

build() {
  local t=$1 srcs=()
  for s in ${SOURCES[$t]}; do srcs+=("$ROOT/$s"); done
  "$CC" "${CFLAGS[@]}" -o "$OUT/fuzz_$t" "$ROOT/tests/fuzz/fuzz_$t.c" \
    "${srcs[@]}"
}

# One target: fuzz, then print "name execs exec/s cov ft corpus status".
fuzz_one() {
  local t=$1 log=$OUT/$1.log rc=0
  mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
  # -detect_leaks: LSan after every input that allocates more than it
  # frees; -timeout: an input that runs 10 s is a hang (reported).
  ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$OUT/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 \
    -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$t/" \
    "$OUT/corpus/$t" "$ROOT/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  local execs speed cov ft corp
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$( (grep -oE 'cov: [0-9]+' "$log" || true) | tail -1 | cut -d' ' -f2)
  ft=$( (grep -oE 'ft: [0-9]+' "$log" || true) | tail -1 | cut -d' ' -f2)
  corp=$(find "$OUT/corpus/$t" -type f | wc -l)
  printf '%-11s %12s %9s %6s %7s %8s  %s\n' "$t" "${execs:-?}" \
    "${speed:-?}" "${cov:-?}" "${ft:-?}" "$corp" \
    "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")" \
    >"$OUT/$t.summary"
  return $rc
}

echo "== fuzz: building ${#TARGETS[@]} targets with $CC into $OUT"
for t in "${TARGETS[@]}"; do build "$t"; done

echo "== fuzz: ${SECONDS_EACH}s per target, $JOBS at a time"
declare -A PIDS=()
failed=()
wait_one() {
  local done_pid="" t
  while [ -z "$done_pid" ]; do
    for t in "${!PIDS[@]}"; do
      if ! kill -0 "${PIDS[$t]}" 2>/dev/null; then
        if ! wait "${PIDS[$t]}"; then failed+=("$t"); fi
        unset "PIDS[$t]"
        done_pid=$t
        break
      fi
    done
    [ -n "$done_pid" ] || sleep 0.2
  done
}
for t in "${TARGETS[@]}"; do
  while [ "${#PIDS[@]}" -ge "$JOBS" ]; do wait_one; done
  fuzz_one "$t" &
  PIDS[$t]=$!
done
while [ "${#PIDS[@]}" -gt 0 ]; do wait_one; done

printf '%-11s %12s %9s %6s %7s %8s  %s\n' target execs exec/s cov ft corpus \
  status
for t in "${TARGETS[@]}"; do cat "$OUT/$t.summary"; done

if [ "${#failed[@]}" -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo
    echo "== fuzz.$t FAILED; the end of $OUT/$t.log:"
    tail -n 60 "$OUT/$t.log"
    for a in "$OUT/artifacts/$t"/*; do
      [ -e "$a" ] || continue
      echo "artifact: $a"
      echo "  reproduce: $OUT/fuzz_$t $a"
      echo "  once fixed, keep it: cp $a $ROOT/tests/fuzz/corpus/$t/"
    done
  done
  exit 1
fi
