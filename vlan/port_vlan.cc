#include "vlan/port_vlan.h"

namespace trestle::vlan {

const char* vlan_mode_name(VlanMode m) {
  switch (m) {
    case VlanMode::kAccess: return "access";
    case VlanMode::kTrunk: return "trunk";
    case VlanMode::kNativeTagged: return "native-tagged";
    case VlanMode::kNativeUntagged: return "native-untagged";
  }
  return "?";
}

Result<PortVlan> PortVlan::compile(const PortVlanSettings& s, const std::string& who) {
  if (s.tag && (*s.tag < 0 || *s.tag >= kNumVlans))
    return make_error(who + ": tag " + std::to_string(*s.tag) + " is not a VLAN ID (0 to 4095)");
  for (int t : s.trunks)
    if (t < 0 || t >= kNumVlans)
      return make_error(who + ": trunks value " + std::to_string(t) +
                        " is not a VLAN ID (0 to 4095)");

  PortVlan p;
  if (!s.mode || s.mode->empty()) {
    p.mode_ = s.tag ? VlanMode::kAccess : VlanMode::kTrunk;
  } else if (*s.mode == "access") {
    p.mode_ = VlanMode::kAccess;
  } else if (*s.mode == "trunk") {
    p.mode_ = VlanMode::kTrunk;
  } else if (*s.mode == "native-tagged") {
    p.mode_ = VlanMode::kNativeTagged;
  } else if (*s.mode == "native-untagged") {
    p.mode_ = VlanMode::kNativeUntagged;
  } else if (*s.mode == "dot1q-tunnel") {
    return make_error(who + ": vlan_mode dot1q-tunnel is not supported by trestle yet");
  } else {
    return make_error(who + ": unknown vlan_mode \"" + *s.mode +
                      "\" (expected access, trunk, native-tagged or native-untagged)");
  }

  p.allowed_.reset();
  switch (p.mode_) {
    case VlanMode::kAccess:
      p.tag_ = static_cast<uint16_t>(s.tag.value_or(0));
      p.untagged_vlan_ = p.tag_;
      p.allowed_.set(p.tag_);
      break;
    case VlanMode::kTrunk:
      p.untagged_vlan_ = 0;
      if (s.trunks.empty()) p.allowed_.set();
      for (int t : s.trunks) p.allowed_.set(static_cast<size_t>(t));
      break;
    case VlanMode::kNativeTagged:
    case VlanMode::kNativeUntagged:
      p.tag_ = static_cast<uint16_t>(s.tag.value_or(0));
      if (s.trunks.empty()) p.allowed_.set();
      for (int t : s.trunks) p.allowed_.set(static_cast<size_t>(t));
      // The native VLAN is always trunked, VLAN 0 never (as OVS forces it).
      p.allowed_.set(p.tag_);
      if (p.tag_ != 0) p.allowed_.reset(0);
      p.untagged_vlan_ = p.mode_ == VlanMode::kNativeUntagged ? p.tag_ : kNumVlans;
      break;
  }
  return p;
}

}  // namespace trestle::vlan
