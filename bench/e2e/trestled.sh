# Sourced by the benchmark scripts: trestled (the build's cmd/trestled) in a
# private run dir (OVS_RUNDIR = OVS_DBDIR = OVS_LOGDIR = DIR, exported, as
# ovs.sh does for OVS) and its own network namespace (it creates taps named
# after the bridges), PMD on core 1. The caller keeps the arrays `pids` and
# `netns` (for its cleanup) and sets $trestled to an absolute path.
#
# trestled reads other_config:pmd-cpu-mask and dpdk-extra once, when it
# starts its dataplane (cmd/trestled.cc, main); a later change is stored but
# not applied. So, as OVS's ovsdb-server is given the setting before
# ovs-vswitchd starts, the database is made first by `trestled
# --no-dataplane` (the database alone), where stock `ovs-vsctl --no-wait`
# sets pmd-cpu-mask; then trestled is restarted on it with its dataplane.
# Its EAL main thread (the control thread) takes the first allowed CPU, 0.

trestled_starts=0

trestled_start() {  # dir
  local dir=$1 ns="trestle-tr-$$-$((++trestled_starts))"
  export OVS_RUNDIR=$dir OVS_DBDIR=$dir OVS_LOGDIR=$dir
  "$trestled" --no-dataplane --detach --log-file || return 1
  local vsctl=(ovs-vsctl --db="unix:$dir/db.sock" --timeout=30)
  "${vsctl[@]}" --no-wait init || return 1
  "${vsctl[@]}" --no-wait set Open_vSwitch . other_config:pmd-cpu-mask=0x2 || return 1
  trestled_exit "$dir" || return 1
  ip netns add "$ns" && netns+=("$ns")
  ip netns exec "$ns" "$trestled" --detach --log-file || return 1
  pids+=("$(cat "$dir/ovs-vswitchd.pid")")
}

# Asks trestled to exit (stock ovs-appctl exit; SIGTERM if that fails) and
# returns once the process is gone; fails if it is still there after 10 s.
# A detached daemon's parent is init: once it has exited it may stay a
# zombie (resources freed) until init reaps it, which counts as gone.
trestled_exit() {  # dir
  local dir=$1 pid
  pid=$(cat "$dir/ovs-vswitchd.pid" 2>/dev/null) || return 0
  ovs-appctl -t "$dir/ovs-vswitchd.$pid.ctl" exit >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 200); do
    grep -qs '^State:[[:space:]]*[^Z]' "/proc/$pid/status" || return 0
    sleep 0.05
  done
  echo "trestled $pid did not exit within 10 s" >&2
  return 1
}

trestled_stop() {  # dir; returns once trestled is gone, its namespace deleted
  trestled_exit "$1" || true
  for n in "${netns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  netns=()
}
