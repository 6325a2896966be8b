# Sourced by the benchmark scripts: trestled (the build's cmd/trestled) in a
# private run dir (OVS_RUNDIR = OVS_DBDIR = OVS_LOGDIR = DIR, exported, as
# ovs.sh does for OVS) and its own network namespace (it creates taps named
# after the bridges), PMD on core 1. The caller keeps the arrays `pids` and
# `netns` (for its cleanup) and sets $trestled to an absolute path.
#
# The PMD goes on core 1 through other_config:pmd-cpu-mask=0x2, set with stock
# ovs-vsctl once trestled runs (it moves its PMDs when the mask changes, as
# ovs-vswitchd does). Its EAL main thread (the control thread) takes the
# first allowed CPU, 0.

trestled_starts=0

trestled_start() {  # dir
  local dir=$1 ns="trestle-tr-$$-$((++trestled_starts))"
  export OVS_RUNDIR=$dir OVS_DBDIR=$dir OVS_LOGDIR=$dir
  ip netns add "$ns" && netns+=("$ns")
  ip netns exec "$ns" "$trestled" --detach --log-file || return 1
  ovs-vsctl --db="unix:$dir/db.sock" --timeout=30 set Open_vSwitch . other_config:pmd-cpu-mask=0x2 || return 1
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
