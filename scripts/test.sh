#!/usr/bin/env bash
# Installs the dependencies, builds with warnings as errors, and runs every test suite:
# unit, nat (network namespaces; needs root) and integration (prosody and ejabberd started by
# the fixtures), all again in an AddressSanitizer +
# UndefinedBehaviorSanitizer build, the unit suite under valgrind, and each libFuzzer target
# briefly from its seed corpus. Ends with one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

build=${BUILD_DIR:-build-ci}
[ -d "$build" ] || meson setup "$build" -Dwerror=true -Dtests=enabled -Ddocs=enabled >/dev/null
meson compile -C "$build"

status=0
meson test -C "$build" --suite unit --suite nat --suite integration --print-errorlogs || status=1
cp "$build/meson-logs/testlog.junit.xml" "$build/junit-suites.xml"
meson test -C "$build" --suite unit --setup valgrind --print-errorlogs || status=1
cp "$build/meson-logs/testlog-valgrind.junit.xml" "$build/junit-valgrind.xml"

asan=${ASAN_BUILD_DIR:-build-asan}
[ -d "$asan" ] || meson setup "$asan" -Dwerror=true -Dtests=enabled -Dbenchmarks=disabled \
  -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
meson compile -C "$asan"
meson test -C "$asan" --suite unit --suite nat --suite integration --print-errorlogs || status=1
cp "$asan/meson-logs/testlog.junit.xml" "$build/junit-sanitizers.xml"

bash scripts/fuzz.sh "${FUZZ_SECONDS:-10}" || status=1

python3 scripts/test-summary.py "$build/junit-suites.xml" "$build/junit-valgrind.xml" \
  "$build/junit-sanitizers.xml"
exit "$status"
