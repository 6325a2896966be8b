#include "flowtable/key.h"

namespace trestle::flowtable {
namespace {

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kSctp = 132, kIcmpv6 = 58;

// Ports of TCP/UDP/SCTP, type/code of ICMP(v6): the first 4 bytes of L4.
void extract_l4(const uint8_t* p, uint32_t left, uint8_t proto, FlowKey* k) {
  if (proto == kTcp || proto == kUdp || proto == kSctp) {
    if (left < 4) return;
    k->tp_src = be16(p);
    k->tp_dst = be16(p + 2);
  } else if (proto == kIcmp || proto == kIcmpv6) {
    if (left < 2) return;
    k->tp_src = p[0];
    k->tp_dst = p[1];
  }
}

// IPv6 neighbour solicitation (135) / advertisement (136): target address
// and the source / target link-layer address option.
void extract_nd(const uint8_t* p, uint32_t left, FlowKey* k) {
  if (left < 24) return;
  std::memcpy(k->nd_target, p + 8, 16);
  uint32_t off = 24;
  while (off + 8 <= left) {
    const uint8_t type = p[off], len8 = p[off + 1];
    if (len8 == 0 || off + len8 * 8u > left) break;
    if (len8 == 1) {
      if (type == 1 && k->tp_src == 135) std::memcpy(k->arp_sha, p + off + 2, 6);
      if (type == 2 && k->tp_src == 136) std::memcpy(k->arp_tha, p + off + 2, 6);
    }
    off += len8 * 8u;
  }
}

}  // namespace

// 8< extract
void extract(const uint8_t* f, uint32_t len, uint32_t in_port, FlowKey* k) {
  std::memset(k, 0, sizeof(*k));
  k->in_port = in_port;
  if (len < 14) return;
  std::memcpy(k->eth_dst, f, 6);
  std::memcpy(k->eth_src, f + 6, 6);
  uint32_t off = 12;
  uint16_t type = be16(f + off);
  if (type == 0x8100 || type == 0x88a8) {
    if (len < 18) return;
    k->vlan_tci = static_cast<uint16_t>(be16(f + 14) | kVlanPresent);
    off += 4;
    type = be16(f + off);
  }
  off += 2;
  if (type < 0x600) {
    k->eth_type = kEthTypeNone;
    return;
  }
  k->eth_type = type;
  const uint8_t* p = f + off;
  const uint32_t left = len - off;
  if (type == 0x0800) {
    if (left < 20 || (p[0] >> 4) != 4) return;
    const uint32_t ihl = (p[0] & 0xf) * 4u;
    if (ihl < 20 || left < ihl) return;
    k->nw_tos = p[1];
    k->nw_proto = p[9];
    k->nw_src = be32(p + 12);
    k->nw_dst = be32(p + 16);
    // Only the first fragment carries the L4 header.
    if ((be16(p + 6) & 0x1fff) == 0) extract_l4(p + ihl, left - ihl, k->nw_proto, k);
  } else if (type == 0x86dd) {
    if (left < 40 || (p[0] >> 4) != 6) return;
    k->nw_tos = static_cast<uint8_t>(be16(p) >> 4);
    k->ipv6_label = be32(p) & 0xfffff;
    k->nw_proto = p[6];
    std::memcpy(k->ipv6_src, p + 8, 16);
    std::memcpy(k->ipv6_dst, p + 24, 16);
    extract_l4(p + 40, left - 40, k->nw_proto, k);
    if (k->nw_proto == kIcmpv6 && (k->tp_src == 135 || k->tp_src == 136) && k->tp_dst == 0)
      extract_nd(p + 40, left - 40, k);
  } else if (type == 0x0806) {
    // Ethernet/IPv4 ARP only, as OVS parses it.
    if (left < 28 || be16(p) != 1 || be16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4) return;
    const uint16_t op = be16(p + 6);
    k->nw_proto = op <= 0xff ? static_cast<uint8_t>(op) : 0;
    std::memcpy(k->arp_sha, p + 8, 6);
    k->nw_src = be32(p + 14);
    std::memcpy(k->arp_tha, p + 18, 6);
    k->nw_dst = be32(p + 24);
  }
}
// >8

}  // namespace trestle::flowtable
