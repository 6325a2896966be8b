#pragma once
// Every reason the dataplane drops a packet, declared once: the enum, the
// counter name (as stats and metrics print it) and the help text come from
// this list, so they cannot drift apart. Input-side reasons are counted on
// the port the packet arrived on, tx_failed on the port it was sent to.

#include <array>
#include <cstdint>
#include <string_view>

namespace trestle::dataplane {

// 8< drop reasons
#define TRESTLE_DROP_REASONS(X)                                                           \
  X(runt, "frame shorter than an Ethernet header")                                        \
  X(truncated_vlan, "frame ends inside its VLAN header")                                  \
  X(oversize, "frame longer than the port's MTU allows")                                  \
  X(tagged_on_access, "frame with a nonzero VLAN ID on an access port")                   \
  X(double_tagged_on_access, "priority-tagged frame hiding a second tag on an access port") \
  X(vlan_not_trunked, "frame's VLAN is not in the port's trunks")                         \
  X(reserved_multicast, "frame to an IEEE 802.1D reserved address (01:80:c2:00:00:0x)")   \
  X(same_port, "destination was learned on the input port")                               \
  X(not_carried, "destination port does not carry the frame's VLAN")                      \
  X(no_destination, "no other port of the bridge carries the frame's VLAN")               \
  X(patch_loop, "patch ports chained deeper than the limit")                              \
  X(patch_unconnected, "patch port without a connected peer")                             \
  X(no_mbuf, "no buffer left to copy a flooded frame")                                    \
  X(no_headroom, "no headroom to push a VLAN header")                                     \
  X(too_many_outputs, "more outputs than one packet may have")                            \
  X(table_miss, "no flow matched in an OpenFlow table")                                   \
  X(flow_drop, "the matching flows sent the packet nowhere (actions=drop)")               \
  X(no_such_port, "a flow output to an OpenFlow port the bridge does not have")           \
  X(resubmit_limit, "resubmits nested deeper than the limit")                             \
  X(vlan_push_limit, "a second push_vlan, or one over a rewritten tag (not supported)")    \
  X(packet_in_queue_full, "the packet-in queue to the control thread was full")            \
  X(tx_failed, "output queue full or peer not connected")
// >8

enum class Drop : uint8_t {
#define TRESTLE_X(name, help) name,
  TRESTLE_DROP_REASONS(TRESTLE_X)
#undef TRESTLE_X
};

inline constexpr std::array kDropNames = {
#define TRESTLE_X(name, help) std::string_view(#name),
    TRESTLE_DROP_REASONS(TRESTLE_X)
#undef TRESTLE_X
};

inline constexpr std::array kDropHelp = {
#define TRESTLE_X(name, help) std::string_view(help),
    TRESTLE_DROP_REASONS(TRESTLE_X)
#undef TRESTLE_X
};

inline constexpr size_t kNumDrops = kDropNames.size();

}  // namespace trestle::dataplane
