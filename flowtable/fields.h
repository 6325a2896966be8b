#pragma once
// The OpenFlow match fields trestle implements, as named by OpenFlow 1.3's
// OXM (and Nicira's NXM for registers), with where each lives in a FlowKey,
// its prerequisites and whether set_field may write it.
//
// A field's value is an unsigned 128-bit integer: MACs are the 48-bit number
// whose most significant octet comes first on the wire, IPv4/IPv6 addresses
// likewise, vlan_vid carries OFPVID_PRESENT (0x1000), ip_dscp is the 6-bit
// DSCP (not the TOS byte), conj_id and registers are 32-bit.

#include <cstdint>
#include <optional>
#include <string_view>

#include "flowtable/key.h"

namespace trestle::flowtable {

using u128 = unsigned __int128;

// 8< fields
#define TRESTLE_FIELDS(X)                                                   \
  /* name         bits  prerequisite  settable */             \
  X(in_port, 32, kNone, false)                                     \
  X(metadata, 64, kNone, true)                                   \
  X(reg0, 32, kNone, true)                                           \
  X(reg1, 32, kNone, true)                                           \
  X(reg2, 32, kNone, true)                                           \
  X(reg3, 32, kNone, true)                                           \
  X(reg4, 32, kNone, true)                                           \
  X(reg5, 32, kNone, true)                                           \
  X(reg6, 32, kNone, true)                                           \
  X(reg7, 32, kNone, true)                                           \
  X(reg8, 32, kNone, true)                                           \
  X(reg9, 32, kNone, true)                                           \
  X(reg10, 32, kNone, true)                                         \
  X(reg11, 32, kNone, true)                                         \
  X(reg12, 32, kNone, true)                                         \
  X(reg13, 32, kNone, true)                                         \
  X(reg14, 32, kNone, true)                                         \
  X(reg15, 32, kNone, true)                                         \
  X(eth_src, 48, kNone, true)                                      \
  X(eth_dst, 48, kNone, true)                                      \
  X(eth_type, 16, kNone, false)                                   \
  X(vlan_vid, 13, kNone, true)                                    \
  X(vlan_pcp, 3, kVlanTagged, true)                               \
  X(ip_proto, 8, kIpAny, false)                                   \
  X(ip_dscp, 6, kIpAny, true)                                      \
  X(ip_ecn, 2, kIpAny, true)                                        \
  X(ipv4_src, 32, kIpv4, true)                                    \
  X(ipv4_dst, 32, kIpv4, true)                                    \
  X(tcp_src, 16, kTcp, true)                                       \
  X(tcp_dst, 16, kTcp, true)                                       \
  X(udp_src, 16, kUdp, true)                                       \
  X(udp_dst, 16, kUdp, true)                                       \
  X(sctp_src, 16, kSctp, true)                                    \
  X(sctp_dst, 16, kSctp, true)                                    \
  X(icmpv4_type, 8, kIcmpv4, true)                            \
  X(icmpv4_code, 8, kIcmpv4, true)                            \
  X(arp_op, 16, kArp, true)                                        \
  X(arp_spa, 32, kArp, true)                                       \
  X(arp_tpa, 32, kArp, true)                                       \
  X(arp_sha, 48, kArp, true)                                       \
  X(arp_tha, 48, kArp, true)                                       \
  X(ipv6_src, 128, kIpv6, true)                                  \
  X(ipv6_dst, 128, kIpv6, true)                                  \
  X(ipv6_flabel, 20, kIpv6, true)                              \
  X(icmpv6_type, 8, kIcmpv6, true)                            \
  X(icmpv6_code, 8, kIcmpv6, true)                            \
  X(ipv6_nd_target, 128, kNd, true)                             \
  X(ipv6_nd_sll, 48, kNdSolicit, true)                             \
  X(ipv6_nd_tll, 48, kNdAdvert, true)                              \
  X(conj_id, 32, kNone, false)
// >8

enum class Field : uint8_t {
#define TRESTLE_X(name, bits, prereq, settable) name,
  TRESTLE_FIELDS(TRESTLE_X)
#undef TRESTLE_X
};

inline constexpr size_t kNumFields = 0
#define TRESTLE_X(name, bits, prereq, settable) +1
    TRESTLE_FIELDS(TRESTLE_X)
#undef TRESTLE_X
    ;

// What a match (or a packet, for set_field) must establish before a field is
// meaningful, as OpenFlow 1.3 §7.2.3.8 lists it.
enum class Prereq : uint8_t {
  kNone, kVlanTagged, kIpAny, kIpv4, kTcp, kUdp, kSctp, kIcmpv4, kArp, kIpv6, kIcmpv6,
  kNd, kNdSolicit, kNdAdvert,
};

struct FieldInfo {
  std::string_view name;
  uint8_t bits;
  Prereq prereq;
  // A set_field target (trestle writes it into frames). As in OVS, in_port,
  // eth_type, ip_proto and conj_id are read-only.
  bool settable;
};

const FieldInfo& field_info(Field f);
std::optional<Field> field_by_name(std::string_view name);
inline u128 field_all_ones(Field f) {
  const uint8_t b = field_info(f).bits;
  return b == 128 ? ~u128{0} : (u128{1} << b) - 1;
}

// The field's value in a key, and a write of its bits under `mask` (value
// bits outside the field's width are ignored).
u128 get_field(const FlowKey& k, Field f);
void set_field(FlowKey* k, Field f, u128 value, u128 mask);

// Bit for `f` in a 64-bit field set.
constexpr uint64_t field_bit(Field f) { return uint64_t{1} << static_cast<unsigned>(f); }
static_assert(kNumFields <= 64);

}  // namespace trestle::flowtable
