#pragma once
// FlowKey: every header field and pipeline register an OpenFlow rule can
// match, extracted from a frame in one pass, in a fixed layout of 64-bit
// words so that masking, hashing and comparing are word loops (a subtable
// only visits the words its mask touches).
//
// Conventions (what a Match or set_field value means):
//  - integers are stored in host byte order;
//  - vlan_tci is OVS's: PCP in bits 15-13, bit 12 "a tag is present"
//    (OpenFlow's OFPVID_PRESENT; the wire DEI bit is not represented), VID in
//    bits 11-0; 0 means untagged. The outer tag only.
//  - eth_type is the type after the outer tag; 0x05ff for 802.2 frames (as
//    OVS), and VLAN types stay as they are (a second tag is not parsed);
//  - ARP reuses the IPv4 slots: nw_proto = opcode (low 8 bits), nw_src/nw_dst
//    = spa/tpa; arp_sha/arp_tha hold sha/tha, and for IPv6 neighbour
//    discovery the source/target link-layer address options (nd_sll/nd_tll);
//  - tp_src/tp_dst hold TCP/UDP/SCTP ports, or ICMP(v6) type/code.
//
// DPDK-free: a frame is a byte pointer and a length.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace trestle::flowtable {

inline constexpr size_t kKeyWords = 23;
inline constexpr uint16_t kEthTypeNone = 0x05ff;  // 802.2 / no Ethernet II type
inline constexpr uint16_t kVlanPresent = 0x1000;  // OFPVID_PRESENT

struct alignas(8) FlowKey {
  // word 0
  uint32_t in_port;
  uint16_t vlan_tci;
  uint16_t eth_type;
  // word 1
  uint8_t eth_dst[6];
  uint8_t nw_proto;
  uint8_t nw_tos;  // DSCP << 2 | ECN
  // word 2
  uint8_t eth_src[6];
  uint16_t tp_src;
  // word 3
  uint32_t nw_src;
  uint32_t nw_dst;
  // word 4
  uint16_t tp_dst;
  uint16_t pad0;
  uint32_t ipv6_label;
  // word 5
  uint64_t metadata;
  // words 6-11
  uint8_t ipv6_src[16];
  uint8_t ipv6_dst[16];
  uint8_t nd_target[16];
  // words 12-13
  uint8_t arp_sha[6];
  uint16_t pad1;
  uint8_t arp_tha[6];
  uint16_t pad2;
  // word 14
  uint32_t conj_id;
  uint32_t pad3;
  // words 15-22
  uint32_t regs[16];

  uint64_t word(size_t i) const {
    uint64_t w;
    std::memcpy(&w, reinterpret_cast<const char*>(this) + i * 8, 8);
    return w;
  }
  void set_word(size_t i, uint64_t w) { std::memcpy(reinterpret_cast<char*>(this) + i * 8, &w, 8); }
  bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof(*this)) == 0; }
};
static_assert(sizeof(FlowKey) == kKeyWords * 8, "FlowKey is a whole number of words");

// A zeroed key (every field 0: untagged, no registers set).
inline FlowKey zero_key() {
  FlowKey k;
  std::memset(&k, 0, sizeof(k));
  return k;
}

// Fills `k` from a frame that arrived on OpenFlow port `in_port`. Fields the
// frame does not have stay 0; metadata, registers and conj_id are 0. Never
// reads past `len`; a header cut short leaves its fields (and those after
// it) 0.
void extract(const uint8_t* frame, uint32_t len, uint32_t in_port, FlowKey* k);

}  // namespace trestle::flowtable
