#!/usr/bin/env bash
# Installs everything jgather builds and tests with, from Debian 12 packages. Run as root.
set -euo pipefail

packages=(
  meson ninja-build g++ pkg-config      # build
  libglib2.0-dev libnice-dev libgloox-dev  # dependencies
  libgtest-dev                          # unit/nat suites
  iproute2                              # network namespaces for the nat suite
  prosody prosody-modules ejabberd openssl  # real XMPP servers for the integration suite
  coturn iptables                       # STUN server and the NAT routers of the lab
  valgrind                              # the 'valgrind' test setup
  doxygen                               # the API reference (-Ddocs=enabled)
  clang libclang-rt-14-dev              # libFuzzer targets
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
