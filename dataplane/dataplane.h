#pragma once
// Dataplane: the packet engine's configuration API, as the reconciler (and
// tests, the demo and benchmarks) drive it. Bridges hold ports; ports are
// DPDK devices, vhost-user sockets (server or client), internal taps and
// patch ports, named and optioned as OVS names them (Interface.type,
// Interface.options, Port.tag/trunks/vlan_mode). Packets are switched by PMD
// threads with NORMAL (VLAN-aware MAC learning); dataplane/DESIGN.md has the
// packet's path and the cycle budget.
//
// Thread-safety: every public method may be called from any thread; calls
// are serialised by a control mutex that PMD threads never take. PMD threads
// read an immutable Snapshot published with a release store and retired
// after an RCU grace period (rte_rcu_qsbr): a reconfiguration never stalls a
// PMD, and packets of untouched ports are never dropped or misdelivered.
// MAC learning flows from PMDs to the control side through bounded
// single-producer queues (a full queue drops the event and counts it).
// poll() drains them and ages MAC entries; call it every few milliseconds
// from the control thread, or let start_control_thread() do it.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "dataplane/drops.h"
#include "dataplane/limits.h"
#include "flowtable/flow_table.h"
#include "vlan/mac_table.h"
#include "vlan/port_vlan.h"

namespace trestle::dataplane {

struct DataplaneConfig {
  std::string rundir = "/var/run/openvswitch";  // dpdkvhostuser sockets live here
  std::vector<unsigned> pmd_cores;              // empty: the last allowed CPU
  uint32_t n_mbufs = 16384;
  uint32_t learn_queue_size = 8192;  // per PMD
  // false: no PMD threads; the caller drives each PMD with
  // run_pmd_iteration() on its own thread (benchmarks, deterministic tests).
  bool start_pmd_threads = true;
};

struct BridgeSettings {
  uint32_t mac_aging_sec = vlan::kDefaultMacAgingSec;    // other_config:mac-aging-time
  uint32_t mac_table_size = vlan::kDefaultMacTableSize;  // other_config:mac-table-size
  bool operator==(const BridgeSettings&) const = default;
};

struct PortSpec {
  std::string name;
  std::string type;  // dpdk, dpdkvhostuser, dpdkvhostuserclient, internal, patch
  std::map<std::string, std::string> options;
  vlan::PortVlanSettings vlan;
  std::optional<int> mtu_request;  // default 1500
  std::optional<uint32_t> ofport_request = std::nullopt;  // Interface.ofport_request
  bool operator==(const PortSpec&) const = default;
};

struct PortStats {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  uint64_t rx_dropped = 0;  // sum of the input-side drops
  uint64_t tx_dropped = 0;  // drops[tx_failed]
  uint64_t rx_errors = 0, tx_errors = 0, rx_missed = 0;  // from the device
  std::array<uint64_t, kNumDrops> drops{};
  bool link_up = false;
  uint64_t link_speed_bps = 0;  // 0: unknown (vhost-user and patch ports)
  bool full_duplex = false;     // with a known speed
};

struct PmdStats {
  unsigned core = 0;
  int lcore = -1;  // EAL lcore id (-1: unregistered, mempool without cache)
  uint64_t iterations = 0, busy_iterations = 0;
  uint64_t busy_cycles = 0;   // cycles of iterations that received packets
  uint64_t idle_cycles = 0;   // cycles of iterations that received none
  uint64_t packets = 0;       // packets received
  uint64_t learn_events = 0, learn_queue_full = 0;
  uint64_t tx_batches = 0, tx_batch_packets = 0;
  uint64_t emc_hits = 0;  // packets the exact-match cache switched
  uint64_t walks = 0;     // packets that walked the flow tables (cache misses)
  uint64_t tsc_hz = 0;
  std::vector<std::string> rxqs;  // "port:queue"
  double cycles_per_packet() const {
    return packets ? double(busy_cycles) / double(packets) : 0.0;
  }
};

struct MacTableEntry {
  std::string port;
  uint16_t vlan;
  uint64_t mac;
  uint32_t age_sec;
};

struct MacTableCounters {
  vlan::MacTableStats table;
  uint32_t size = 0, max_entries = 0;
};

// A packet a flow sent to CONTROLLER, for the OpenFlow channel's PACKET_IN.
struct PacketIn {
  std::string bridge;
  uint32_t in_port = 0;      // OpenFlow port number
  uint16_t max_len = 0;      // the output action's max_len
  uint32_t total_len = 0;    // the frame's length
  std::vector<uint8_t> data;  // the frame with the walk's edits so far, cut to max_len
  flowtable::FlowKey key;     // the pipeline's fields (registers, metadata) at the output
};

// A rule that left a bridge's tables with OFPFF_SEND_FLOW_REM set (deleted
// by a flow_mod or expired), for the OpenFlow channel's FLOW_REMOVED.
struct FlowRemovedEvent {
  std::string bridge;
  flowtable::FlowRemoved removed;
};

class Dataplane {
 public:
  // The EAL must be initialised (eal_init). Starts the PMD threads.
  static Result<std::unique_ptr<Dataplane>> create(const DataplaneConfig& cfg);
  ~Dataplane();  // removes every port and stops the PMDs

  Result<void> add_bridge(const std::string& name, const BridgeSettings& s = {});
  Result<void> set_bridge(const std::string& name, const BridgeSettings& s);
  Result<void> del_bridge(const std::string& name);  // and its ports
  std::vector<std::string> bridges() const;

  Result<void> add_port(const std::string& bridge, const PortSpec& spec);
  // Applies a changed spec: VLAN and MTU changes in place (the port's MACs are
  // flushed, as OVS does); a changed type or options recreates the device.
  Result<void> modify_port(const std::string& bridge, const PortSpec& spec);
  Result<void> del_port(const std::string& name);
  std::vector<std::string> ports(const std::string& bridge) const;
  // The OpenFlow port number of a port: ofport_request when given and free,
  // else the next free number as ovs-vswitchd numbers ports (one freed in
  // the last hour only when no other is left); stable while the port exists.
  Result<uint32_t> ofport(const std::string& port) const;

  // Fail-open (fail_mode standalone with every controller gone): the bridge
  // switches with NORMAL and ignores its flow tables (which stay as they
  // are, and dump as they are) until this is turned off.
  Result<void> set_fail_open(const std::string& bridge, bool on);

  // OpenFlow tables of a bridge (a new bridge has table 0 priority 0
  // actions=NORMAL). Port numbers in flows are OpenFlow port numbers.
  // flow_mods() commits all of them atomically or none (a bundle).
  flowtable::OfStatus flow_mod(const std::string& bridge, const flowtable::FlowMod& fm);
  flowtable::OfStatus flow_mods(const std::string& bridge,
                                const std::vector<flowtable::FlowMod>& fms);
  Result<std::vector<flowtable::FlowStats>> dump_flows(const std::string& bridge,
                                                       const flowtable::FlowStatsRequest& req) const;
  // OpenFlow PACKET_OUT: `frame` enters `bridge` as if received on
  // `in_port` (an OpenFlow port number of the bridge, or OFPP_LOCAL; or
  // OFPP_CONTROLLER / OFPP_ANY: from no port, which learns nothing and
  // floods to every port) and `actions` run on it in order; output:TABLE
  // sends it through the flow tables from table 0. Checked here (an error
  // as OpenFlow spells it), run by PMD 0 shortly after; packet-outs leave in
  // the order they were given.
  flowtable::OfStatus packet_out(const std::string& bridge, uint32_t in_port,
                                 const std::vector<flowtable::Action>& actions,
                                 const std::vector<uint8_t>& frame);
  // Packets flows sent to CONTROLLER since the last call (bounded queues: a
  // full one drops and counts packet_in_queue_full).
  std::vector<PacketIn> take_packet_ins();
  // Flow-removed records since the last call (bounded: the oldest go first).
  std::vector<FlowRemovedEvent> take_flow_removed();

  Result<PortStats> port_stats(const std::string& name) const;
  // The port's MAC address (Interface.mac_in_use), as ovs-vswitchd reports
  // it: the device's (an internal port's tap, a DPDK NIC), all zeroes for a
  // vhost-user port, a fixed locally administered one for a patch port.
  Result<uint64_t> port_mac(const std::string& name) const;
  std::vector<PmdStats> pmd_stats() const;
  // other_config:pmd-cpu-mask at run time: the PMD threads move to `cores`
  // (allowed CPUs, as many as there are PMDs; a different number of PMDs
  // takes a restart). Traffic keeps flowing.
  Result<void> set_pmd_cores(const std::vector<unsigned>& cores);
  std::vector<unsigned> pmd_cores() const;
  void clear_pmd_stats();
  // Seconds since the PMD counters were last cleared (or since creation).
  double pmd_stats_seconds() const;
  Result<std::vector<MacTableEntry>> mac_table(const std::string& bridge) const;
  Result<MacTableCounters> mac_table_counters(const std::string& bridge) const;
  Result<void> flush_macs(const std::string& bridge);

  // Drains MAC-learning events and packet-ins, ages MAC tables, expires
  // flows, frees what RCU grace periods released. Non-blocking; returns the
  // number of learning events handled.
  size_t poll();
  // A helper thread that calls poll() every millisecond until destruction,
  // for users without an event loop of their own (tests, demo, benchmarks).
  void start_control_thread();

  // With start_pmd_threads = false only: one poll-loop iteration of PMD
  // `pmd` on the calling thread, which must also be the one that
  // reconfigures (no RCU reader is registered). Returns packets received.
  uint32_t run_pmd_iteration(unsigned pmd);

  struct Impl;

 private:
  explicit Dataplane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trestle::dataplane
