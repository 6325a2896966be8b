#include "flowtable/key.h"

#include <bit>
#include <cstddef>

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

// extract() packs words by shifts: that needs this layout, little-endian.
static_assert(std::endian::native == std::endian::little);
static_assert(offsetof(FlowKey, vlan_tci) == 4 && offsetof(FlowKey, eth_type) == 6);
static_assert(offsetof(FlowKey, nw_proto) == 14 && offsetof(FlowKey, nw_tos) == 15);
static_assert(offsetof(FlowKey, tp_src) == 22 && offsetof(FlowKey, nw_dst) == 28);
static_assert(offsetof(FlowKey, ipv6_label) == 36 && offsetof(FlowKey, ipv6_src) == 48);
static_assert(offsetof(FlowKey, nd_target) == 80 && offsetof(FlowKey, arp_tha) == 104);

// 8< extract
// The key is written one whole 64-bit word at a time, never byte by byte:
// the PMD hashes and compares it word by word right away, and a word load
// that spans several smaller pending stores cannot be forwarded from the
// store buffer (a stall per word).
void extract(const uint8_t* f, uint32_t len, uint32_t in_port, FlowKey* k) {
  uint64_t w0 = in_port, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w12 = 0, w13 = 0;
  bool v6 = false;
  FlowKey scratch;  // L3/L4 fields are parsed into it, then packed into words
  scratch.tp_src = scratch.tp_dst = 0;
  scratch.nw_proto = scratch.nw_tos = 0;
  scratch.nw_src = scratch.nw_dst = 0;
  scratch.ipv6_label = 0;
  std::memset(scratch.arp_sha, 0, 6);
  std::memset(scratch.arp_tha, 0, 6);
  std::memset(scratch.nd_target, 0, 16);
  if (len >= 14) {
    std::memcpy(&w1, f, 6);
    std::memcpy(&w2, f + 6, 6);
    uint32_t off = 12;
    uint16_t type = be16(f + off);
    uint16_t tci = 0;
    bool ok = true;
    if (type == 0x8100 || type == 0x88a8) {
      if (len < 18) {
        ok = false;
      } else {
        tci = static_cast<uint16_t>(be16(f + 14) | kVlanPresent);
        off += 4;
        type = be16(f + off);
      }
    }
    off += 2;
    if (ok) {
      w0 |= uint64_t{tci} << 32;
      if (type < 0x600) {
        w0 |= uint64_t{kEthTypeNone} << 48;
      } else {
        w0 |= uint64_t{type} << 48;
        const uint8_t* p = f + off;
        const uint32_t left = len - off;
        FlowKey* x = &scratch;
        if (type == 0x0800) {
          if (left >= 20 && (p[0] >> 4) == 4) {
            const uint32_t ihl = (p[0] & 0xf) * 4u;
            if (ihl >= 20 && left >= ihl) {
              x->nw_tos = p[1];
              x->nw_proto = p[9];
              x->nw_src = be32(p + 12);
              x->nw_dst = be32(p + 16);
              // Only the first fragment carries the L4 header.
              if ((be16(p + 6) & 0x1fff) == 0) extract_l4(p + ihl, left - ihl, x->nw_proto, x);
            }
          }
        } else if (type == 0x86dd) {
          if (left >= 40 && (p[0] >> 4) == 6) {
            v6 = true;
            x->nw_tos = static_cast<uint8_t>(be16(p) >> 4);
            x->ipv6_label = be32(p) & 0xfffff;
            x->nw_proto = p[6];
            std::memcpy(k->ipv6_src, p + 8, 16);
            std::memcpy(k->ipv6_dst, p + 24, 16);
            extract_l4(p + 40, left - 40, x->nw_proto, x);
            if (x->nw_proto == kIcmpv6 && (x->tp_src == 135 || x->tp_src == 136) && x->tp_dst == 0)
              extract_nd(p + 40, left - 40, x);
          }
        } else if (type == 0x0806) {
          // Ethernet/IPv4 ARP only, as OVS parses it.
          if (left >= 28 && be16(p) == 1 && be16(p + 2) == 0x0800 && p[4] == 6 && p[5] == 4) {
            const uint16_t op = be16(p + 6);
            x->nw_proto = op <= 0xff ? static_cast<uint8_t>(op) : 0;
            std::memcpy(x->arp_sha, p + 8, 6);
            x->nw_src = be32(p + 14);
            std::memcpy(x->arp_tha, p + 18, 6);
            x->nw_dst = be32(p + 24);
          }
        }
        w1 |= uint64_t{scratch.nw_proto} << 48 | uint64_t{scratch.nw_tos} << 56;
        w2 |= uint64_t{scratch.tp_src} << 48;
        w3 = scratch.nw_src | uint64_t{scratch.nw_dst} << 32;
        w4 = scratch.tp_dst | uint64_t{scratch.ipv6_label} << 32;
        std::memcpy(&w12, scratch.arp_sha, 6);
        std::memcpy(&w13, scratch.arp_tha, 6);
      }
    }
  }
  k->set_word(0, w0);
  k->set_word(1, w1);
  k->set_word(2, w2);
  k->set_word(3, w3);
  k->set_word(4, w4);
  k->set_word(5, 0);
  if (v6) {
    std::memcpy(k->nd_target, scratch.nd_target, 16);
  } else {
    for (size_t i = 6; i < 12; ++i) k->set_word(i, 0);
  }
  k->set_word(12, w12);
  k->set_word(13, w13);
  for (size_t i = 14; i < kKeyWords; ++i) k->set_word(i, 0);
}
// >8

}  // namespace trestle::flowtable
