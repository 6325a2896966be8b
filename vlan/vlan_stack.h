#pragma once
// VlanStack: a frame's VLAN headers as NORMAL sees them while the packet
// crosses bridges, without touching its bytes until it is sent.
//
// The wire tags (outermost first, up to three) are parsed once at rx. Each
// egress decision (tagged with VLAN v, or untagged) is applied to the logical
// stack: rewrite or push the top tag, or pop it. When the packet finally
// leaves on a real port, the dataplane turns the difference between wire and
// logical stack into at most: pop N wire tags, then push one tag or rewrite
// the outer TCI. A patch port in between costs no byte moves at all.
//
// The logical stack is the wire tags below `popped` (the top possibly
// rewritten), optionally under one pushed tag. NORMAL only pushes onto an
// emptied stack (no dot1q-tunnel); OpenFlow's push_vlan may push onto a
// tagged frame (one tag deep: a second push is refused).

#include <cstdint>

#include "vlan/tag.h"

namespace trestle::vlan {

struct VlanStack {
  static constexpr uint8_t kMaxWireTags = 3;

  uint16_t wire[kMaxWireTags] = {};
  uint8_t n_wire = 0;    // wire tags parsed (at most kMaxWireTags)
  bool deeper = false;   // another VLAN ethertype follows the last parsed tag
  uint8_t popped = 0;    // wire tags removed from the top
  bool pushed = false;   // `top` is a new tag over the wire tags below `popped`
  bool has_top = false;  // the frame is (logically) tagged
  uint16_t top = 0;      // its outer TCI

  // The frame must have passed parse_l2 (at least 14 bytes, whole outer tag).
  static VlanStack parse(const uint8_t* frame, uint32_t len) {
    VlanStack s;
    uint32_t off = 12;
    while (is_vlan_ethertype(load_be16(frame + off))) {
      if (s.n_wire == kMaxWireTags || off + 6 > len) {
        s.deeper = true;
        break;
      }
      s.wire[s.n_wire++] = load_be16(frame + off + 2);
      off += 4;
      if (off + 2 > len) break;
    }
    s.has_top = s.n_wire > 0;
    s.top = s.wire[0];
    return s;
  }

  // The outer header as a port's ingress() judges it.
  L2Header header() const {
    L2Header h;
    h.tagged = has_top;
    h.tci = has_top ? top : 0;
    h.inner_tagged = has_top && (pushed ? popped < n_wire
                                        : (popped + 1 < n_wire || (popped + 1 == n_wire && deeper)));
    return h;
  }

  // 8< egress
  void egress(bool tagged, uint16_t vlan) {
    if (tagged) {
      // Keep PCP/DEI of the outer tag; a pushed tag has PCP 0.
      top = has_top ? static_cast<uint16_t>((top & ~kVidMask) | vlan) : vlan;
      pushed = pushed || !has_top;
      has_top = true;
    } else if (has_top) {
      if (pushed) {
        // The wire tags under the pushed one (if any) are on top again.
        pushed = false;
        has_top = popped < n_wire;
        top = has_top ? wire[popped] : 0;
      } else {
        ++popped;
        has_top = popped < n_wire;
        top = has_top ? wire[popped] : 0;
      }
    }
  }
  // >8

  // OpenFlow's VLAN actions on the logical stack (TCIs as on the wire).
  // push_vlan: refused (false: the caller drops the frame) when a tag was
  // pushed already, or over a wire tag whose TCI was rewritten: neither is
  // representable here.
  bool push(uint16_t tci) {
    if (pushed || rewrite_outer()) return false;
    top = tci;
    pushed = true;
    has_top = true;
    return true;
  }
  void pop() { egress(false, 0); }
  void set_top(uint16_t tci) {
    if (has_top) top = tci;
  }

  // Whether the outer TCI must be rewritten after popping `popped` tags and
  // not pushing.
  bool rewrite_outer() const { return !pushed && has_top && top != wire[popped]; }
  bool unchanged() const { return popped == 0 && !pushed && !rewrite_outer(); }
};

}  // namespace trestle::vlan
