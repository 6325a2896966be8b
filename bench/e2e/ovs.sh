# Sourced by the benchmark scripts: Debian's OVS-DPDK 3.1 in a private run
# dir (OVS_RUNDIR = OVS_DBDIR = OVS_LOGDIR = DIR) and its own network
# namespace (its netdev datapath creates taps named after the bridges), PMD
# on core 1, no hugepages. The caller keeps the arrays `pids` and `netns`
# (for its cleanup) and sets $ovs_vswitchd.
#
# OVS under --no-huge needs --legacy-mem (it adds --in-memory otherwise,
# which the EAL refuses with --no-huge) and -m 2048 (it asks for 262,144
# mbufs). Its control socket is ovs-vswitchd-dpdk.<pid>.ctl. Each start gets
# its own DPDK file prefix, and stop_ovs waits for the processes to go.

ovs_starts=0

ovs_start_daemons() {  # dir
  local dir=$1 ns="trestle-bench-ovs-$$" prefix="ovsb-$$-$((++ovs_starts))"
  export OVS_RUNDIR=$dir OVS_DBDIR=$dir OVS_LOGDIR=$dir
  ip netns add "$ns" && netns+=("$ns")
  ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --pidfile="$dir/ovsdb-server.pid" \
    --unixctl="$dir/ovsdb-server.ctl" --log-file="$dir/ovsdb-server.log" --detach || return 1
  pids+=("$(cat "$dir/ovsdb-server.pid")")
  local vsctl=(ovs-vsctl --db="unix:$dir/db.sock" --timeout=30)
  "${vsctl[@]}" --no-wait init
  "${vsctl[@]}" --no-wait set Open_vSwitch . other_config:dpdk-init=true \
    "other_config:dpdk-extra=--no-huge -m 2048 --no-pci --file-prefix=$prefix --legacy-mem" \
    other_config:pmd-cpu-mask=0x2 || return 1
  ip netns exec "$ns" "$ovs_vswitchd" "unix:$dir/db.sock" --pidfile="$dir/ovs-vswitchd.pid" \
    --log-file="$dir/ovs-vswitchd.log" --detach || return 1
  pids+=("$(cat "$dir/ovs-vswitchd.pid")")
}

stop_ovs() {  # dir; returns once both daemons are gone
  local dir=$1 vs db
  vs=$(cat "$dir/ovs-vswitchd.pid" 2>/dev/null || true) db=$(cat "$dir/ovsdb-server.pid" 2>/dev/null || true)
  OVS_RUNDIR=$dir ovs-appctl -t "$dir/ovs-vswitchd-dpdk.$vs.ctl" exit 2>/dev/null || true
  OVS_RUNDIR=$dir ovs-appctl -t "$dir/ovsdb-server.ctl" exit 2>/dev/null || true
  for _ in $(seq 100); do
    { [[ -n $vs ]] && kill -0 "$vs" 2>/dev/null; } || { [[ -n $db ]] && kill -0 "$db" 2>/dev/null; } || break
    sleep 0.1
  done
  for n in "${netns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  netns=()
}
