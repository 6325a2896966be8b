#pragma once
// The forwarding decision of OpenFlow's NORMAL action for one frame, once its
// VLAN is known: unicast to the learned port, else flood within the VLAN.
// Never back out of the input port; a port that does not carry the VLAN gets
// nothing.
//
// DPDK-free and allocation-free: the caller passes the bridge's ports and an
// output array with room for all of them.

#include <cstdint>
#include <span>

#include "vlan/mac_table.h"
#include "vlan/port_vlan.h"

namespace trestle::vlan {

struct NormalPort {
  uint32_t port;  // the dataplane's port index
  const PortVlan* vlan;
};

struct NormalOutput {
  uint32_t port;
  bool tagged;  // leaves with an 802.1Q header carrying the frame's VLAN
};

enum class NormalVerdict : uint8_t { kUnicast, kFlood, kSamePort, kNotCarried };

struct NormalResult {
  NormalVerdict verdict;
  uint32_t n_out;
};

// 8< normal_forward
// `learned` is the port the destination MAC was learned on (kNoPort when
// unknown or multicast); `learned_vlan` its PortVlan, or null when the port
// is not on this bridge (a stale entry: flood).
inline NormalResult normal_forward(std::span<const NormalPort> ports, uint32_t in_port,
                                   uint16_t vlan, int32_t learned,
                                   const PortVlan* learned_vlan, NormalOutput* out) {
  if (learned != kNoPort && learned_vlan) {
    if (static_cast<uint32_t>(learned) == in_port) return {NormalVerdict::kSamePort, 0};
    Egress e = learned_vlan->egress(vlan);
    if (!e.allowed) return {NormalVerdict::kNotCarried, 0};
    out[0] = {static_cast<uint32_t>(learned), e.tagged};
    return {NormalVerdict::kUnicast, 1};
  }
  uint32_t n = 0;
  for (const NormalPort& p : ports) {
    if (p.port == in_port) continue;
    Egress e = p.vlan->egress(vlan);
    if (e.allowed) out[n++] = {p.port, e.tagged};
  }
  return {NormalVerdict::kFlood, n};
}
// >8

}  // namespace trestle::vlan
