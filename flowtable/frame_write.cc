#include "flowtable/frame_write.h"

#include <cstring>

#include "flowtable/fields.h"

namespace trestle::flowtable {
namespace {

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

// RFC 1624: HC' = ~(~HC + ~m + m') for a 16-bit word m changed to m'.
inline uint16_t csum_update16(uint16_t hc, uint16_t old_w, uint16_t new_w) {
  uint32_t s = static_cast<uint16_t>(~hc) + static_cast<uint16_t>(~old_w) + new_w;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

// Replaces the 16-bit word at `p` and updates the checksums at `c1`/`c2`
// (either may be null; a UDP checksum of 0 means "none" and stays 0).
void replace16(uint8_t* p, uint16_t v, uint8_t* c1, uint8_t* c2, bool c2_is_udp) {
  const uint16_t old = be16(p);
  if (old == v) return;
  put16(p, v);
  if (c1) put16(c1, csum_update16(be16(c1), old, v));
  if (c2 && !(c2_is_udp && be16(c2) == 0)) {
    uint16_t n = csum_update16(be16(c2), old, v);
    if (c2_is_udp && n == 0) n = 0xffff;
    put16(c2, n);
  }
}

bool any(uint64_t dirty, std::initializer_list<Field> fs) {
  for (Field f : fs)
    if (dirty & field_bit(f)) return true;
  return false;
}

// CRC32c (Castagnoli, reflected), for SCTP's checksum.
struct Crc32cTable {
  uint32_t t[256];
  constexpr Crc32cTable() : t() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int b = 0; b < 8; ++b) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
      t[i] = c;
    }
  }
};
constexpr Crc32cTable kCrc32c;

uint32_t crc32c(const uint8_t* p, uint32_t n) {
  uint32_t c = 0xffffffffu;
  for (uint32_t i = 0; i < n; ++i) c = kCrc32c.t[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return ~c;
}

// Replaces n bytes (n even, at an even offset from the checksummed data's
// start) and updates the checksum at `c` (may be null).
void replace_bytes(uint8_t* p, const uint8_t* v, uint32_t n, uint8_t* c) {
  for (uint32_t i = 0; i + 1 < n; i += 2)
    replace16(p + i, static_cast<uint16_t>(v[i] << 8 | v[i + 1]), c, nullptr, false);
}

// The L4 header of the first fragment: ports (TCP, UDP: incremental
// checksum; SCTP: CRC32c recomputed), ICMP / ICMPv6 type and code, IPv6
// neighbour discovery's target and link-layer address options.
void write_l4(uint8_t* l4, uint32_t left, uint8_t proto, uint8_t* l4sum, bool udp_zero_ok,
              const FlowKey& k, uint64_t dirty) {
  if (left < 4) return;
  if (proto == 6 || proto == 17) {
    if (any(dirty, {Field::tcp_src, Field::udp_src})) replace16(l4, k.tp_src, nullptr, l4sum, udp_zero_ok);
    if (any(dirty, {Field::tcp_dst, Field::udp_dst})) replace16(l4 + 2, k.tp_dst, nullptr, l4sum, udp_zero_ok);
  } else if (proto == 132) {
    if (left < 12 || !any(dirty, {Field::sctp_src, Field::sctp_dst})) return;
    if (dirty & field_bit(Field::sctp_src)) put16(l4, k.tp_src);
    if (dirty & field_bit(Field::sctp_dst)) put16(l4 + 2, k.tp_dst);
    std::memset(l4 + 8, 0, 4);
    const uint32_t c = crc32c(l4, left);
    // Stored least significant byte first (RFC 4960 appendix B).
    l4[8] = static_cast<uint8_t>(c);
    l4[9] = static_cast<uint8_t>(c >> 8);
    l4[10] = static_cast<uint8_t>(c >> 16);
    l4[11] = static_cast<uint8_t>(c >> 24);
  } else if (proto == 1 || proto == 58) {
    uint8_t* csum = l4 + 2;  // ICMP's own checksum (ICMPv6's covers the pseudo header too)
    if (any(dirty, {Field::icmpv4_type, Field::icmpv4_code, Field::icmpv6_type, Field::icmpv6_code}))
      replace16(l4, static_cast<uint16_t>((k.tp_src & 0xff) << 8 | (k.tp_dst & 0xff)), csum, nullptr, false);
    if (proto != 58 || left < 24) return;
    if (dirty & field_bit(Field::ipv6_nd_target)) replace_bytes(l4 + 8, k.nd_target, 16, csum);
    if (!any(dirty, {Field::ipv6_nd_sll, Field::ipv6_nd_tll})) return;
    for (uint32_t off = 24; off + 8 <= left;) {
      const uint8_t type = l4[off], len8 = l4[off + 1];
      if (len8 == 0 || off + len8 * 8u > left) break;
      if (len8 == 1 && type == 1 && (dirty & field_bit(Field::ipv6_nd_sll)))
        replace_bytes(l4 + off + 2, k.arp_sha, 6, csum);
      if (len8 == 1 && type == 2 && (dirty & field_bit(Field::ipv6_nd_tll)))
        replace_bytes(l4 + off + 2, k.arp_tha, 6, csum);
      off += len8 * 8u;
    }
  }
}

void write_ipv4(uint8_t* p, uint32_t left, const FlowKey& k, uint64_t dirty) {
  if (left < 20) return;
  const uint32_t ihl = (p[0] & 0xf) * 4u;
  if (ihl < 20 || left < ihl) return;
  uint8_t* ipsum = p + 10;
  // The TCP/UDP checksum of the first fragment covers the pseudo header's
  // addresses too; ICMP's does not.
  const uint8_t proto = p[9];
  const bool first = (be16(p + 6) & 0x1fff) == 0;
  uint8_t* l4 = p + ihl;
  const uint32_t l4_left = left - ihl;
  uint8_t* l4sum = nullptr;
  if (first && proto == 6 && l4_left >= 18) l4sum = l4 + 16;
  if (first && proto == 17 && l4_left >= 8) l4sum = l4 + 6;
  const bool udp = proto == 17;
  if (any(dirty, {Field::ip_dscp, Field::ip_ecn}))
    replace16(p, static_cast<uint16_t>((be16(p) & 0xff00) | k.nw_tos), ipsum, nullptr, false);
  if (dirty & field_bit(Field::ipv4_src)) {
    replace16(p + 12, static_cast<uint16_t>(k.nw_src >> 16), ipsum, l4sum, udp);
    replace16(p + 14, static_cast<uint16_t>(k.nw_src), ipsum, l4sum, udp);
  }
  if (dirty & field_bit(Field::ipv4_dst)) {
    replace16(p + 16, static_cast<uint16_t>(k.nw_dst >> 16), ipsum, l4sum, udp);
    replace16(p + 18, static_cast<uint16_t>(k.nw_dst), ipsum, l4sum, udp);
  }
  if (first) write_l4(l4, l4_left, proto, l4sum, udp, k, dirty);
}

void write_ipv6(uint8_t* p, uint32_t left, const FlowKey& k, uint64_t dirty) {
  if (left < 40) return;
  // Version, traffic class (DSCP, ECN) and flow label: no checksum covers them.
  if (any(dirty, {Field::ip_dscp, Field::ip_ecn, Field::ipv6_flabel})) {
    const uint32_t w = uint32_t{6} << 28 | uint32_t{k.nw_tos} << 20 | (k.ipv6_label & 0xfffff);
    put32(p, w);
  }
  const uint8_t proto = p[6];
  uint8_t* l4 = p + 40;
  const uint32_t l4_left = left - 40;
  uint8_t* l4sum = nullptr;  // every one of them covers the pseudo header's addresses
  if (proto == 6 && l4_left >= 18) l4sum = l4 + 16;
  if (proto == 17 && l4_left >= 8) l4sum = l4 + 6;
  if (proto == 58 && l4_left >= 4) l4sum = l4 + 2;
  if (dirty & field_bit(Field::ipv6_src)) replace_bytes(p + 8, k.ipv6_src, 16, l4sum);
  if (dirty & field_bit(Field::ipv6_dst)) replace_bytes(p + 24, k.ipv6_dst, 16, l4sum);
  write_l4(l4, l4_left, proto, proto == 58 ? l4 + 2 : l4sum, false, k, dirty);
}

}  // namespace

void write_fields(uint8_t* f, uint32_t len, const FlowKey& k, uint64_t dirty) {
  if (len < 14 || !dirty) return;
  if (dirty & field_bit(Field::eth_dst)) std::memcpy(f, k.eth_dst, 6);
  if (dirty & field_bit(Field::eth_src)) std::memcpy(f + 6, k.eth_src, 6);
  uint32_t off = 12;
  while (off + 4 <= len && (be16(f + off) == 0x8100 || be16(f + off) == 0x88a8)) off += 4;
  if (off + 2 > len) return;
  const uint16_t type = be16(f + off);
  off += 2;
  uint8_t* p = f + off;
  const uint32_t left = len - off;
  if (type == 0x0800) {
    write_ipv4(p, left, k, dirty);
  } else if (type == 0x86dd) {
    write_ipv6(p, left, k, dirty);
  } else if (type == 0x0806 && left >= 28) {
    if (dirty & field_bit(Field::arp_op)) put16(p + 6, k.nw_proto);
    if (dirty & field_bit(Field::arp_sha)) std::memcpy(p + 8, k.arp_sha, 6);
    if (dirty & field_bit(Field::arp_spa)) put32(p + 14, k.nw_src);
    if (dirty & field_bit(Field::arp_tha)) std::memcpy(p + 18, k.arp_tha, 6);
    if (dirty & field_bit(Field::arp_tpa)) put32(p + 24, k.nw_dst);
  }
}

}  // namespace trestle::flowtable
