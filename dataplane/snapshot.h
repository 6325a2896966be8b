#pragma once
// The immutable view of the configuration that PMD threads switch against.
// The control thread builds a new Snapshot for every change, publishes it
// with one release store and frees the old one after an RCU grace period.
//
// Thread-safety: written only before publication; read-only afterwards.

#include <rte_spinlock.h>

#include <cstdint>
#include <vector>

#include "dataplane/limits.h"
#include "flowtable/flow_table.h"
#include "vlan/normal.h"
#include "vlan/port_vlan.h"

namespace trestle::dataplane {

inline constexpr uint32_t kNoPeer = UINT32_MAX;

enum class PortKind : uint8_t { kAbsent, kEth, kVhost, kPatch };

class VhostPort;

// A tx queue shared by several PMDs; owned by the control-side port, so it
// outlives every snapshot that points to it.
struct alignas(64) TxQueueLock {
  rte_spinlock_t lock = RTE_SPINLOCK_INITIALIZER;
};

struct PortRt {
  PortKind kind = PortKind::kAbsent;
  uint16_t eth_port = 0;  // DPDK port id (kEth)
  const VhostPort* vhost = nullptr;  // kVhost; owned by the control-side port
  uint16_t bridge = 0;    // bridge index
  uint16_t n_txq = 0;     // a PMD uses queue (pmd index % n_txq)
  bool txq_shared = false;  // fewer queues than PMDs: take tx_locks[q]
  uint8_t tx_retries = 0;   // kVhost: retries while the vring keeps taking packets
  uint32_t uid = 0;       // never reused; tags learning events
  uint32_t ofport = 0;    // OpenFlow port number on its bridge
  uint32_t peer = kNoPeer;  // kPatch: the peer's port index once both ends exist
  uint32_t max_frame = 0;   // longest untagged frame accepted (MTU + 14)
  TxQueueLock* tx_locks = nullptr;
  vlan::PortVlan vlan;
};

struct BridgeRt {
  bool present = false;
  bool fail_open = false;  // NORMAL switching, the flow tables aside
  vlan::MacTable* macs = nullptr;  // owned by the control-side bridge
  std::vector<vlan::NormalPort> ports;  // flood list; vlan points into Snapshot::ports
  // MAC tables of the bridges this one's connected patch ports lead to: a
  // burst prefetches its slots there too.
  std::vector<const vlan::MacTable*> patch_neighbours;
  // The bridge's OpenFlow tables (owned by the control-side bridge; they
  // version themselves, so the snapshot does not change with flow_mods).
  const flowtable::FlowTables* flows = nullptr;
  std::vector<uint32_t> by_ofport;  // OpenFlow port number -> port index (kNoPeer: none)
  uint32_t local_port = kNoPeer;    // the port named after the bridge, if any
};

struct RxqRef {
  uint32_t port;  // port index
  uint16_t eth_port;
  uint16_t queue;
  const VhostPort* vhost;  // a vhost-user port's queue pair (else eth_port's queue)
};

struct Snapshot {
  uint64_t version = 0;
  uint32_t n_ports = 0;         // ports.size(), without a division per packet
  std::vector<PortRt> ports;    // by port index
  std::vector<BridgeRt> bridges;  // by bridge index
  std::vector<std::vector<RxqRef>> pmd_rxqs;  // by PMD index
};

}  // namespace trestle::dataplane
