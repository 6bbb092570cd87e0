#!/usr/bin/env bash
# Installs the dependencies, builds jgather and runs the demo. Run as root.
#
#   scripts/demo.sh                 a throwaway lab: network namespaces with NAT routers,
#                                   prosody and ejabberd on the public side, the demo run from
#                                   clients behind each NAT and on a public address; all of it
#                                   removed afterwards
#   scripts/demo.sh FLAGS...        the demo on this machine with your flags (see --help), e.g.
#                                   --jid me@example.org --password PW --xmpp-ca ca.pem
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -d build ] || meson setup build --buildtype=release >/dev/null
if [ $# -eq 0 ]; then
  meson compile -C build jgather-demo jgather-lab >/dev/null
  export JGATHER_SOURCE_DIR=$PWD
  exec build/tests/jgather-lab "$PWD/build/examples/jgather-demo"
fi
meson compile -C build jgather-demo >/dev/null
exec build/examples/jgather-demo "$@"
