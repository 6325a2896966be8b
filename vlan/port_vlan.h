#pragma once
// A port's VLAN configuration (OVS Port.tag / trunks / vlan_mode), compiled
// into the two questions the NORMAL fast path asks per packet:
//   ingress: which VLAN does a frame arriving here belong to (or drop it)?
//   egress:  may a frame of VLAN v leave here, and tagged or untagged?
//
// Semantics follow ovs-vswitchd.conf.db(5):
//  - access: one VLAN (tag; VLAN 0 when unset). Frames leave untagged. A frame
//    arriving with a nonzero VID is dropped, whatever its VID; a priority-tagged
//    frame (VID 0) is accepted unless another tag follows it (so a
//    double-tagged frame can never hop VLANs).
//  - trunk: the frame's VID, or VLAN 0 when untagged; dropped if the VLAN is
//    not trunked. An empty trunks list trunks every VLAN. Leaves tagged unless
//    it is VLAN 0.
//  - native-tagged / native-untagged: like trunk, but an untagged (or VID 0)
//    frame is in the native VLAN (tag). The native VLAN is always trunked and
//    VLAN 0 never is. native-untagged sends the native VLAN untagged.
//  - vlan_mode unset: access when tag is set (trunks ignored), else trunk.
// dot1q-tunnel is not supported yet and is refused with an error.
//
// Thread-safety: immutable once built; PMD threads read it from a published
// snapshot.

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "vlan/tag.h"

namespace trestle::vlan {

enum class VlanMode : uint8_t { kAccess, kTrunk, kNativeTagged, kNativeUntagged };

const char* vlan_mode_name(VlanMode m);

// As the reconciler reads it from a Port row.
struct PortVlanSettings {
  std::optional<std::string> mode;  // "access", "trunk", "native-tagged", ...
  std::optional<int> tag;
  std::vector<int> trunks;
  bool operator==(const PortVlanSettings&) const = default;
};

enum class IngressDrop : uint8_t { kNone, kTaggedOnAccess, kDoubleTaggedOnAccess, kNotTrunked };

struct Ingress {
  uint16_t vlan;
  IngressDrop drop;
};

struct Egress {
  bool allowed;
  bool tagged;
};

class PortVlan {
 public:
  // An access port on VLAN 0 (what a port with no settings at all is not:
  // that is a trunk; see compile()).
  PortVlan() = default;

  // `who` names the port in error messages.
  static Result<PortVlan> compile(const PortVlanSettings& s, const std::string& who);

  VlanMode mode() const { return mode_; }
  uint16_t tag() const { return tag_; }
  bool trunks(uint16_t vlan) const { return allowed_.test(vlan & kVidMask); }

  // 8< ingress
  Ingress ingress(const L2Header& h) const {
    if (mode_ == VlanMode::kAccess) {
      if (h.tagged && h.vid() != 0) return {tag_, IngressDrop::kTaggedOnAccess};
      if (h.tagged && h.inner_tagged) return {tag_, IngressDrop::kDoubleTaggedOnAccess};
      return {tag_, IngressDrop::kNone};
    }
    uint16_t v = h.vid();  // 0 when untagged
    if (v == 0 && mode_ != VlanMode::kTrunk) v = tag_;
    return {v, allowed_.test(v) ? IngressDrop::kNone : IngressDrop::kNotTrunked};
  }

  Egress egress(uint16_t vlan) const { return {allowed_.test(vlan), vlan != untagged_vlan_}; }
  // >8

 private:
  VlanMode mode_ = VlanMode::kAccess;
  uint16_t tag_ = 0;
  // The VLAN that leaves untagged; kNumVlans (matches none) for native-tagged.
  uint16_t untagged_vlan_ = 0;
  std::bitset<kNumVlans> allowed_ = std::bitset<kNumVlans>().set(0);
};

}  // namespace trestle::vlan
