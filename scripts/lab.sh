#!/usr/bin/env bash
# The NAT lab: throwaway network namespaces on this machine (documentation ranges only).
#
#   scripts/lab.sh up PREFIX     build it      scripts/lab.sh down PREFIX    remove it
#
#   PREFIX-srv   203.0.113.1     the XMPP/STUN servers ("the Internet")
#   PREFIX-nat1  203.0.113.2  |  192.0.2.1       Linux MASQUERADE NAT
#   PREFIX-c1                 |  192.0.2.10      client behind nat1
#   PREFIX-nat2  203.0.113.3  |  198.51.100.1    a second NAT (LAN 198.51.100.0/25)
#   PREFIX-c2                 |  198.51.100.10   client behind nat2
#   PREFIX-nat3  203.0.113.4  |  198.51.100.129  a NAT with a new port per destination
#   PREFIX-c3                 |  198.51.100.130  client behind nat3 (LAN 198.51.100.128/25)
#   PREFIX-pub   203.0.113.50                    client with a public address
#   PREFIX-wan   the bridge joining the 203.0.113.0/24 side
#
# nat1 and nat2 are port-preserving MASQUERADE routers that drop unsolicited WAN packets and
# forward WAN to LAN only for established flows; nat3 is the same with MASQUERADE --random-fully,
# which picks a random port for every new flow: a different mapping per destination (RFC 4787
# §4.1 endpoint-dependent mapping, "symmetric"), so only a relay connects a call through it.
# The WAN-side hosts route everything else into a sink.
#
# IPv6 (RFC 3849 documentation prefix):
#   WAN 2001:db8:0:1::/64   srv ::1, nat1 ::2, nat2 ::3, pub ::50
#   LAN 2001:db8:0:10::/64  behind nat1 (router ::1, c1 ::10): NAT66 (ip6tables MASQUERADE)
#   LAN 2001:db8:0:20::/64  behind nat2 (router ::1, c2 ::10): routed, no NAT — the usual
#                           dual-stack home: IPv4 through a NAT, IPv6 global
#   LAN 2001:db8:0:30::/64  behind nat3 (router ::1, c3 ::10): NAT66, random ports too
#   WAN nat3 ::4
# Duplicate address detection is off in the lab, so every address is usable at once.
#
# Nothing in the root namespace is touched. Run as root.
set -euo pipefail
cmd=${1:?up or down}
prefix=${2:?prefix}
hosts=(wan srv nat1 c1 nat2 c2 nat3 c3 pub)
ns() { echo "$prefix-$1"; }

if [ "$cmd" = down ]; then
  for h in "${hosts[@]}"; do ip netns del "$(ns "$h")" 2>/dev/null || true; done
  exit 0
fi
[ "$cmd" = up ] || { echo "usage: lab.sh up|down PREFIX" >&2; exit 2; }

trap 'bash "$0" down "$prefix"' ERR
for h in "${hosts[@]}"; do
  ip netns add "$(ns "$h")"
  ip netns exec "$(ns "$h")" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
    net.ipv6.conf.default.accept_dad=0
  ip -n "$(ns "$h")" link set lo up
done

wan=$(ns wan)
ip -n "$wan" link add br0 type bridge
ip -n "$wan" link set br0 up

# host interface ipv4 ipv6: a veth from the host to the WAN bridge
wan_link() {
  ip -n "$wan" link add "w-$1" type veth peer name "$2" netns "$(ns "$1")"
  ip -n "$wan" link set "w-$1" master br0 up
  ip -n "$(ns "$1")" addr add "$3" dev "$2"
  ip -n "$(ns "$1")" addr add "$4" dev "$2"
  ip -n "$(ns "$1")" link set "$2" up
}
wan_link srv eth0 203.0.113.1/24 2001:db8:0:1::1/64
wan_link nat1 wan0 203.0.113.2/24 2001:db8:0:1::2/64
wan_link nat2 wan0 203.0.113.3/24 2001:db8:0:1::3/64
wan_link nat3 wan0 203.0.113.4/24 2001:db8:0:1::4/64
wan_link pub eth0 203.0.113.50/24 2001:db8:0:1::50/64

# nat client router-v4 client-v4 router-v6 client-v6 nat66|routed [random]: a LAN behind a
# router that MASQUERADEs IPv4, and IPv6 too unless "routed"; "random": a new random port for
# every flow (--random-fully) instead of keeping the client's
lan_link() {
  local router client
  router=$(ns "$1")
  client=$(ns "$2")
  ip -n "$router" link add lan0 type veth peer name eth0 netns "$client"
  ip -n "$router" addr add "$3" dev lan0
  ip -n "$router" addr add "$5" dev lan0
  ip -n "$router" link set lan0 up
  ip -n "$client" addr add "$4" dev eth0
  ip -n "$client" addr add "$6" dev eth0
  ip -n "$client" link set eth0 up
  ip -n "$client" route add default via "${3%/*}"
  ip -n "$client" -6 route add default via "${5%/*}"
  ip netns exec "$router" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  local ports=()
  [ "${8:-}" = random ] && ports=(--random-fully)
  ip netns exec "$router" iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE "${ports[@]}"
  # What makes calls through the NAT trustworthy (interop.md, NAT lab): unsolicited WAN packets
  # to the router are dropped, and WAN-to-LAN forwarding is for established flows only.
  # Otherwise a peer's check that arrives before this side's first packet leaves a conntrack
  # entry behind, MASQUERADE picks a new port for the outgoing flow, and the NAT turns symmetric
  # depending on timing.
  ip netns exec "$router" iptables -A INPUT -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  ip netns exec "$router" iptables -A INPUT -i wan0 -p icmp -j ACCEPT
  ip netns exec "$router" iptables -A INPUT -i wan0 -j DROP
  ip netns exec "$router" iptables -A FORWARD -i wan0 -o lan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  ip netns exec "$router" iptables -A FORWARD -i wan0 -o lan0 -j DROP
  if [ "$7" = nat66 ]; then
    ip netns exec "$router" ip6tables -t nat -A POSTROUTING -o wan0 -j MASQUERADE "${ports[@]}"
  else
    # The WAN side reaches the LAN prefix through the router's WAN address.
    local wan_address
    wan_address=$(ip -n "$router" -6 -o addr show dev wan0 scope global | awk '{print $4}')
    for h in srv pub nat1 nat2 nat3; do
      [ "$h" = "$1" ] && continue
      ip -n "$(ns "$h")" -6 route add "${5%::*}::/64" via "${wan_address%/*}"
    done
  fi
}
# A default route into a sink on the WAN side: a datagram to an address nobody routes (the other
# side's private host candidate, say) is lost silently, as on the Internet, instead of failing
# with ENETUNREACH (which makes coturn close a whole allocation).
# The sink is a veth pair whose gateway is a permanent neighbour entry for a MAC nobody has.
for h in srv pub nat1 nat2 nat3; do
  ip -n "$(ns "$h")" link add sink0 type veth peer name sink1
  ip -n "$(ns "$h")" link set sink0 up
  ip -n "$(ns "$h")" link set sink1 up
  ip -n "$(ns "$h")" neigh add 192.0.2.254 lladdr 02:00:00:00:00:fe dev sink0 nud permanent
  ip -n "$(ns "$h")" route add default via 192.0.2.254 dev sink0 onlink
done

lan_link nat1 c1 192.0.2.1/24 192.0.2.10/24 2001:db8:0:10::1/64 2001:db8:0:10::10/64 nat66
lan_link nat2 c2 198.51.100.1/25 198.51.100.10/25 2001:db8:0:20::1/64 2001:db8:0:20::10/64 routed
lan_link nat3 c3 198.51.100.129/25 198.51.100.130/25 2001:db8:0:30::1/64 2001:db8:0:30::10/64 nat66 random
