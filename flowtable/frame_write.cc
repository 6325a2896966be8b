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
  if (type == 0x0806) {
    if (left < 28 || !any(dirty, {Field::arp_sha, Field::arp_tha, Field::arp_spa, Field::arp_tpa}))
      return;
    if (dirty & field_bit(Field::arp_sha)) std::memcpy(p + 8, k.arp_sha, 6);
    if (dirty & field_bit(Field::arp_spa)) put32(p + 14, k.nw_src);
    if (dirty & field_bit(Field::arp_tha)) std::memcpy(p + 18, k.arp_tha, 6);
    if (dirty & field_bit(Field::arp_tpa)) put32(p + 24, k.nw_dst);
    return;
  }
  if (type != 0x0800 || left < 20) return;
  const uint32_t ihl = (p[0] & 0xf) * 4u;
  if (ihl < 20 || left < ihl) return;
  uint8_t* ipsum = p + 10;
  // L4 checksum (TCP/UDP) of the first fragment, which covers the pseudo
  // header's addresses too.
  const uint8_t proto = p[9];
  const bool first = (be16(p + 6) & 0x1fff) == 0;
  uint8_t* l4 = p + ihl;
  const uint32_t l4_left = left - ihl;
  uint8_t* l4sum = nullptr;
  if (first && proto == 6 && l4_left >= 18) l4sum = l4 + 16;
  if (first && proto == 17 && l4_left >= 8) l4sum = l4 + 6;
  const bool udp = proto == 17;
  if (any(dirty, {Field::ip_dscp, Field::ip_ecn})) {
    const uint16_t w = be16(p);
    const uint16_t nw = static_cast<uint16_t>((w & 0xff00) | k.nw_tos);
    replace16(p, nw, ipsum, nullptr, false);
  }
  if (dirty & field_bit(Field::ipv4_src)) {
    replace16(p + 12, static_cast<uint16_t>(k.nw_src >> 16), ipsum, l4sum, udp);
    replace16(p + 14, static_cast<uint16_t>(k.nw_src), ipsum, l4sum, udp);
  }
  if (dirty & field_bit(Field::ipv4_dst)) {
    replace16(p + 16, static_cast<uint16_t>(k.nw_dst >> 16), ipsum, l4sum, udp);
    replace16(p + 18, static_cast<uint16_t>(k.nw_dst), ipsum, l4sum, udp);
  }
  if (!first || l4_left < 4) return;
  const bool src = any(dirty, {Field::tcp_src, Field::udp_src});
  const bool dst = any(dirty, {Field::tcp_dst, Field::udp_dst});
  if (src) replace16(l4, k.tp_src, nullptr, l4sum, udp);
  if (dst) replace16(l4 + 2, k.tp_dst, nullptr, l4sum, udp);
}

}  // namespace trestle::flowtable
