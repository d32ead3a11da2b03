# Sourced by bench/ceiling and bench/daemon-work: the two network namespaces they measure in, and dhcplab's
# config there. The caller sets SRV and REL (the namespaces' names, unique to its run).
#
#   server 192.0.2.1 ── veth ── relay 192.0.2.2 + 10.200.255.254 (perfdhcp's giaddr)
#
# Nothing leaves them: 192.0.2.0/24 and 10.200.0.0/16 exist only inside.

testbed_up() {
  for ns in $SRV $REL; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip link add srv0 netns $SRV type veth peer name rel0 netns $REL
  ip -n $SRV addr add 192.0.2.1/24 dev srv0; ip -n $SRV link set srv0 up
  ip -n $REL addr add 192.0.2.2/24 dev rel0; ip -n $REL addr add 10.200.255.254/16 dev rel0; ip -n $REL link set rel0 up
  ip -n $SRV route add 10.200.0.0/16 via 192.0.2.2
}

# Kills whatever runs in the namespaces and deletes them.
testbed_down() {
  for ns in $SRV $REL; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}

# dhcplab on srv0 with the relayed /16 perfdhcp's clients come from; COMMIT_DELAY sets `commit_delay`.
write_config() { # FILE DB [extra subnet toml]
  cat > "$1" <<EOT
[dhcp]
interfaces = ["srv0"]
lease_db = "$2"
${COMMIT_DELAY:+commit_delay = \"$COMMIT_DELAY\"}
${PACKET_THREADS:+threads = $PACKET_THREADS}
[http]
listen = "127.0.0.1:8067"
[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.10-192.0.2.250"]
[[subnet]]
cidr = "10.200.0.0/16"
pools = ["10.200.0.10-10.200.255.250"]
routers = ["10.200.0.1"]
relays = ["10.200.255.254"]
lease_time = "1h"
${3:-}
EOT
}
