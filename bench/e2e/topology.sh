# Sourced by the benchmark scripts: the benchmark topologies, made with the
# stock ovs-vsctl and ovs-ofctl the way an operator or the neutron agent
# makes them. The same commands configure OVS-DPDK (ovs.sh) and trestled
# (trestled.sh): nothing here depends on which switch serves DIR/db.sock and
# DIR/<bridge>.mgmt.

# switch_setup DIR TOPOLOGY [EXTRA_RULES]
#   b1:  br0 {vm, nic}, NORMAL
#   b2:  b1 with in_port -> output flows instead of NORMAL
#   ref: br-int {vm: access tag 1, int-br-eth0: patch}
#        br-eth0 {phy-br-eth0: patch, nic: trunk}, NORMAL, MAC tables of 131072
#   b3:  ref plus the flows the neutron OVS agent installs for a VLAN network
#        (segmentation 2000, local VLAN 1; compat-openflow.md section 3)
# vm and nic are dpdkvhostuserclient ports on DIR/vm.sock and DIR/nic.sock
# (the generator is the vhost-user server, as QEMU is). EXTRA_RULES adds
# that many never-matching rules to br-int table 0 (or br0's).
switch_setup() {
  local dir=$1 topo=$2 extra=${3:-0}
  local vsctl=(ovs-vsctl --db="unix:$dir/db.sock" --timeout=30) ofctl=(env OVS_RUNDIR="$dir" ovs-ofctl)
  if [[ $topo == b1 || $topo == b2 ]]; then
    "${vsctl[@]}" add-br br0 -- set bridge br0 datapath_type=netdev \
      -- add-port br0 vm -- set Interface vm type=dpdkvhostuserclient options:vhost-server-path="$dir/vm.sock" \
      -- add-port br0 nic -- set Interface nic type=dpdkvhostuserclient options:vhost-server-path="$dir/nic.sock" || return 1
    if [[ $topo == b2 ]]; then
      "${ofctl[@]}" del-flows br0 || return 1
      "${ofctl[@]}" add-flow br0 in_port=vm,actions=output:nic || return 1
      "${ofctl[@]}" add-flow br0 in_port=nic,actions=output:vm || return 1
    fi
    switch_extra_rules "$dir" br0 "$extra"
    return
  fi
  "${vsctl[@]}" add-br br-int -- set bridge br-int datapath_type=netdev \
    other_config:mac-table-size=131072 \
    -- add-port br-int vm tag=1 -- set Interface vm type=dpdkvhostuserclient options:vhost-server-path="$dir/vm.sock" \
    -- add-port br-int int-br-eth0 -- set Interface int-br-eth0 type=patch options:peer=phy-br-eth0 \
    -- add-br br-eth0 -- set bridge br-eth0 datapath_type=netdev other_config:mac-table-size=131072 \
    -- add-port br-eth0 phy-br-eth0 -- set Interface phy-br-eth0 type=patch options:peer=int-br-eth0 \
    -- add-port br-eth0 nic -- set Interface nic type=dpdkvhostuserclient options:vhost-server-path="$dir/nic.sock" || return 1
  if [[ $topo == b3 ]]; then
    "${ofctl[@]}" -O OpenFlow13 add-flows br-int - <<'FLOWS' || return 1
table=0,priority=0,actions=goto_table:59
table=59,priority=0,actions=goto_table:60
table=60,priority=3,actions=NORMAL
table=23,priority=0,actions=drop
table=24,priority=0,actions=drop
table=0,priority=65535,dl_vlan=4095,actions=drop
table=0,priority=2,in_port=int-br-eth0,actions=drop
table=0,priority=3,in_port=int-br-eth0,dl_vlan=2000,actions=set_field:4097->vlan_vid,goto_table:59
FLOWS
    "${ofctl[@]}" -O OpenFlow13 add-flows br-eth0 - <<'FLOWS' || return 1
table=0,priority=2,in_port=phy-br-eth0,actions=drop
table=0,priority=4,in_port=phy-br-eth0,dl_vlan=1,actions=set_field:6096->vlan_vid,NORMAL
FLOWS
  fi
  switch_extra_rules "$dir" br-int "$extra"
}

switch_extra_rules() {  # dir bridge count
  (($3)) || return 0
  never_matching_flows "$3" "$1/extra-flows" vm
  env OVS_RUNDIR="$1" ovs-ofctl add-flows "$2" "$1/extra-flows"
}

# never_matching_flows COUNT FILE IN_PORT: COUNT distinct never-matching
# table-0 drops (priority 1, dl_src 0a:00:<i>) for ovs-ofctl add-flows; the
# rules trestle-flowmod-churn adds and deletes, and bench/topology_flows.h
# gives trestle-api.
never_matching_flows() {
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import sys
n, path, port = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(path, "w") as f:
    for i in range(n):
        f.write(f"table=0,priority=1,in_port={port},dl_src=0a:00:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:"
                f"{i >> 8 & 255:02x}:{i & 255:02x},actions=drop\n")
PY
}
