#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 60) from a copy of
# its committed seed corpus. Exits non-zero on any crash or broken invariant.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
[ -d "$build" ] || CXX=clang++ meson setup "$build" -Dfuzzing=true -Db_lundef=false \
  -Dtests=disabled -Dexamples=disabled -Dbenchmarks=disabled >/dev/null
if ! meson compile -C "$build" >"$build/fuzz-compile.log" 2>&1; then
  echo "fuzz: the targets do not build (clang):"; grep -E -A8 'error|FAILED' "$build/fuzz-compile.log" | head -40
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for reader in xep0176 xep0065 xep0260 stun; do
  mkdir -p "$work/$reader"
  cp tests/fuzz/corpus/$reader/* "$work/$reader/"
  if "$build/tests/fuzz/fuzz-$reader" -max_total_time="$seconds" -max_len=4096 \
      -artifact_prefix="$work/" "$work/$reader" >"$work/$reader.log" 2>&1; then
    echo "fuzz $reader: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$work/$reader.log" | tail -1)s, clean"
  else
    echo "fuzz $reader: FAILED"; tail -30 "$work/$reader.log"; exit 1
  fi
done
