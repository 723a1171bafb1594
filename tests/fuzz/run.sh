#!/bin/bash
# tests/fuzz/run.sh: runs libFuzzer targets for tests/fuzz/module.mk.
#
#   run.sh run    DIR TARGET SECONDS FLAGS...  fuzz TARGET for SECONDS; finds
#                                             grow DIR/corpus/TARGET, crashes
#                                             go to DIR/artifacts/TARGET/
#   run.sh replay DIR TARGET SECONDS FLAGS...  every kept crasher once, then
#                                             SECONDS of fuzzing from the seeds
#   run.sh summary DIR TARGET...               execs and crashes per target
#
# DIR is the fuzz build (build/fuzz); binaries are DIR/fuzz/fuzz_TARGET.
set -u
mode=$1 dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
seeds() { [ -d "$here/corpus/$1" ] && echo "$here/corpus/$1"; } # none yet: no seeds
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

stat_of() { # stat_of LOG NAME: libFuzzer's final stat NAME, or 0
  sed -n "s/^stat::$2: *//p" "$1" | tail -1 | grep . || echo 0
}

case $mode in
run)
  t=$1 secs=$2
  shift 2
  bin=$dir/fuzz/fuzz_$t
  mkdir -p "$dir/corpus/$t" "$dir/artifacts/$t" "$dir/logs"
  log=$dir/logs/$t.log
  echo "  FUZZ    $t for ${secs}s (log: $log)"
  "$bin" "$@" -max_total_time="$secs" -artifact_prefix="$dir/artifacts/$t/" \
    "$dir/corpus/$t" $(seeds "$t") >"$log" 2>&1
  rc=$?
  crashes=$(find "$dir/artifacts/$t" -type f | wc -l)
  printf "fuzz %-26s %s: %s execs in %ss, corpus %s, crashes %s\n" "$t" \
    "$([ $rc = 0 ] && echo ok || echo "FAILED ($rc)")" "$(stat_of "$log" number_of_executed_units)" \
    "$secs" "$(find "$dir/corpus/$t" -type f | wc -l)" "$crashes" | tee -a "$dir/logs/summary.txt"
  if [ $rc != 0 ]; then
    grep -m1 -A12 "ERROR\|runtime error\|deadly signal\|timeout\|leak" "$log" | head -30
    exit 1
  fi
  ;;
replay)
  t=$1 secs=$2
  shift 2
  bin=$dir/fuzz/fuzz_$t
  log=$dir/logs/$t.replay.log
  mkdir -p "$dir/logs" "$dir/artifacts/$t"
  : >"$log"
  kept=()
  [ -d "$here/crashers/$t" ] && while IFS= read -r f; do kept+=("$f"); done \
    < <(find "$here/crashers/$t" -type f ! -name '*.md' | sort)
  if [ ${#kept[@]} -gt 0 ] && ! "$bin" "$@" "${kept[@]}" >>"$log" 2>&1; then
    echo "fuzz $t: a kept crasher fails again (log: $log)" >&2
    grep -m1 -B2 -A15 "ERROR\|runtime error\|deadly signal\|timeout\|leak\|abort" "$log" | head -30 >&2
    exit 1
  fi
  rm -rf "$dir/replay/$t" && mkdir -p "$dir/replay/$t"
  if ! "$bin" "$@" -max_total_time="$secs" -artifact_prefix="$dir/artifacts/$t/" \
      "$dir/replay/$t" $(seeds "$t") >>"$log" 2>&1; then
    echo "fuzz $t: FAILED (log: $log; the input is in $dir/artifacts/$t/)" >&2
    grep -m1 -B2 -A15 "ERROR\|runtime error\|deadly signal\|timeout\|leak\|abort" "$log" | head -30 >&2
    exit 1
  fi
  printf "== fuzz %-26s %3d crashers replayed, %s seeds, %s execs in %ss\n" "$t" ${#kept[@]} \
    "$(find "$here/corpus/$t" -type f 2>/dev/null | wc -l)" "$(stat_of "$log" number_of_executed_units)" "$secs"
  ;;
summary)
  for t in "$@"; do
    log=$dir/logs/$t.log
    [ -f "$log" ] || continue
    printf "%-26s execs %12s  corpus %6s  crashes %s\n" "$t" "$(stat_of "$log" number_of_executed_units)" \
      "$(find "$dir/corpus/$t" -type f | wc -l)" "$(find "$dir/artifacts/$t" -type f 2>/dev/null | wc -l)"
  done
  ;;
*)
  echo "usage: $0 run|replay|summary ..." >&2
  exit 2
  ;;
esac
