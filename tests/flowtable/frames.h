#pragma once
// Frames for flowtable tests, built byte by byte (no DPDK).

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace trestle::flowtable::test {

struct FrameBuilder {
  std::vector<uint8_t> b;
  FrameBuilder& bytes(std::initializer_list<uint8_t> v) {
    b.insert(b.end(), v);
    return *this;
  }
  FrameBuilder& be16(uint16_t v) { return bytes({uint8_t(v >> 8), uint8_t(v)}); }
  FrameBuilder& be32(uint32_t v) { return be16(uint16_t(v >> 16)).be16(uint16_t(v)); }
  FrameBuilder& mac(uint64_t m) {
    for (int i = 5; i >= 0; --i) b.push_back(uint8_t(m >> (8 * i)));
    return *this;
  }
  FrameBuilder& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

inline FrameBuilder eth(uint64_t dst, uint64_t src, int vlan_tci = -1) {
  FrameBuilder f;
  f.mac(dst).mac(src);
  if (vlan_tci >= 0) f.be16(0x8100).be16(uint16_t(vlan_tci));
  return f;
}

// IPv4 header (20 bytes, no options) + 4 bytes of L4 ports / type-code.
inline std::vector<uint8_t> ipv4(uint64_t dst, uint64_t src, int vlan_tci, uint8_t proto,
                                 uint32_t nw_src, uint32_t nw_dst, uint16_t tp_src,
                                 uint16_t tp_dst, uint8_t tos = 0) {
  FrameBuilder f = eth(dst, src, vlan_tci);
  f.be16(0x0800).bytes({0x45, tos}).be16(28).be16(0).be16(0).bytes({64, proto}).be16(0);
  f.be32(nw_src).be32(nw_dst);
  if (proto == 1)
    f.bytes({uint8_t(tp_src), uint8_t(tp_dst)}).be16(0);
  else
    f.be16(tp_src).be16(tp_dst);
  f.zeros(4);
  return f.b;
}

inline std::vector<uint8_t> arp(uint64_t src, int vlan_tci, uint16_t op, uint32_t spa,
                                uint32_t tpa, uint64_t tha = 0) {
  FrameBuilder f = eth(0xffffffffffffull, src, vlan_tci);
  f.be16(0x0806).be16(1).be16(0x0800).bytes({6, 4}).be16(op).mac(src).be32(spa).mac(tha).be32(tpa);
  return f.b;
}

}  // namespace trestle::flowtable::test
