#pragma once
// 802.1Q on raw frames: parse the outer tag, push, pop and rewrite it.
//
// DPDK-free: a frame is a byte pointer and a length. push/pop move only the
// 12 bytes of MAC addresses, never the payload; the caller moves the start of
// the frame (rte_pktmbuf_prepend / rte_pktmbuf_adj in the dataplane).
// Both 0x8100 and 0x88a8 are recognised as VLAN headers, as OVS does with its
// default vlan-limit; a pushed tag is always 0x8100.

#include <cstdint>
#include <cstring>

namespace trestle::vlan {

inline constexpr uint16_t kEthTypeVlan = 0x8100;
inline constexpr uint16_t kEthTypeQinQ = 0x88a8;
inline constexpr uint32_t kEthHeaderLen = 14;
inline constexpr uint32_t kVlanHeaderLen = 4;
inline constexpr uint16_t kVidMask = 0x0fff;
inline constexpr uint16_t kNumVlans = 4096;

inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline bool is_vlan_ethertype(uint16_t t) { return t == kEthTypeVlan || t == kEthTypeQinQ; }

enum class L2Status : uint8_t {
  kOk,
  kRunt,          // shorter than an Ethernet header
  kTruncatedTag,  // says it has a VLAN header but ends inside it
};

struct L2Header {
  L2Status status = L2Status::kOk;
  bool tagged = false;        // an outer 802.1Q / 802.1ad header is present
  bool inner_tagged = false;  // and another one follows it
  uint16_t tci = 0;           // the outer header's TCI (0 when untagged)
  uint16_t vid() const { return tci & kVidMask; }
};

// 8< parse_l2
inline L2Header parse_l2(const uint8_t* frame, uint32_t len) {
  L2Header h;
  if (len < kEthHeaderLen) {
    h.status = L2Status::kRunt;
    return h;
  }
  if (!is_vlan_ethertype(load_be16(frame + 12))) return h;
  if (len < kEthHeaderLen + kVlanHeaderLen) {
    h.status = L2Status::kTruncatedTag;
    return h;
  }
  h.tagged = true;
  h.tci = load_be16(frame + 14);
  h.inner_tagged = is_vlan_ethertype(load_be16(frame + 16));
  return h;
}
// >8

// The frame starts at new_start + 4; afterwards it starts at new_start with an
// 802.1Q header carrying `tci` after the MAC addresses.
inline void push_tag(uint8_t* new_start, uint16_t tci) {
  std::memmove(new_start, new_start + kVlanHeaderLen, 12);
  store_be16(new_start + 12, kEthTypeVlan);
  store_be16(new_start + 14, tci);
}

// The frame at `start` has an outer tag; afterwards the untagged frame starts
// at start + 4.
inline void pop_tag(uint8_t* start) { std::memmove(start + kVlanHeaderLen, start, 12); }

// Rewrites the VID of the outer tag, keeping its PCP and DEI bits.
inline void set_vid(uint8_t* start, uint16_t vid) {
  uint16_t tci = load_be16(start + 14);
  store_be16(start + 14, static_cast<uint16_t>((tci & ~kVidMask) | (vid & kVidMask)));
}

// 48-bit MAC address helpers (network byte order in the frame, value in the
// low 48 bits of a uint64_t, first octet most significant).
inline uint64_t load_mac(const uint8_t* p) {
  return uint64_t{p[0]} << 40 | uint64_t{p[1]} << 32 | uint64_t{p[2]} << 24 |
         uint64_t{p[3]} << 16 | uint64_t{p[4]} << 8 | uint64_t{p[5]};
}
inline bool is_multicast_mac(uint64_t mac) { return (mac >> 40) & 1; }

}  // namespace trestle::vlan
