#!/usr/bin/env bash
# Installs the dependencies, builds jgather and runs the demo on this machine's interfaces.
# Arguments go to jgather-demo (see --help), e.g.: scripts/demo.sh --format json
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -d build ] || meson setup build --buildtype=release >/dev/null
meson compile -C build jgather-demo >/dev/null
exec build/examples/jgather-demo "$@"
