// set_field results written into frames: every settable field lands where
// the headers say, and every checksum (IPv4 header, TCP, UDP, ICMP, ICMPv6
// with its pseudo header, SCTP's CRC32c) still verifies afterwards.
#include <gtest/gtest.h>

#include "flowtable/fields.h"
#include "flowtable/frame_write.h"
#include "flowtable/key.h"
#include "tests/flowtable/frames.h"

namespace trestle::flowtable {
namespace {

using test::FrameBuilder;

uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) s += uint32_t(p[n - 1] << 8);
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}
void set_csum(uint8_t* at, uint16_t v) {
  at[0] = uint8_t(v >> 8);
  at[1] = uint8_t(v);
}

// Bit by bit, independent of the table-driven one under test.
uint32_t crc32c_ref(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int b = 0; b < 8; ++b) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

// An IPv4 frame (14 + 20 + l4) with the given L4 bytes, checksums made valid.
std::vector<uint8_t> v4(uint8_t proto, std::vector<uint8_t> l4) {
  FrameBuilder f = test::eth(0xbb, 0xaa);
  f.be16(0x0800).bytes({0x45, 0}).be16(uint16_t(20 + l4.size())).be16(1).be16(0).bytes({64, proto});
  f.be16(0).be32(0x0a000001).be32(0x0a000002);
  f.b.insert(f.b.end(), l4.begin(), l4.end());
  set_csum(&f.b[24], fold(sum16(&f.b[14], 20)));
  uint8_t* t = &f.b[34];
  if (proto == 6 || proto == 17) {
    uint8_t* c = proto == 6 ? t + 16 : t + 6;
    set_csum(c, fold(sum16(t, l4.size(), sum16(&f.b[26], 8) + proto + uint32_t(l4.size()))));
  } else if (proto == 1) {
    set_csum(t + 2, fold(sum16(t, l4.size())));
  } else if (proto == 132) {
    t[8] = t[9] = t[10] = t[11] = 0;
    const uint32_t c = crc32c_ref(t, l4.size());
    t[8] = uint8_t(c), t[9] = uint8_t(c >> 8), t[10] = uint8_t(c >> 16), t[11] = uint8_t(c >> 24);
  }
  return f.b;
}

bool v4_ok(const std::vector<uint8_t>& f) {
  const uint8_t* ip = &f[14];
  if (fold(sum16(ip, 20)) != 0) return false;
  const uint8_t proto = ip[9];
  const uint8_t* t = ip + 20;
  const size_t n = f.size() - 34;
  if (proto == 6 || proto == 17) return fold(sum16(t, n, sum16(ip + 12, 8) + proto + uint32_t(n))) == 0;
  if (proto == 1) return fold(sum16(t, n)) == 0;
  if (proto == 132) {
    std::vector<uint8_t> c(t, t + n);
    const uint32_t got = uint32_t(c[8]) | uint32_t(c[9]) << 8 | uint32_t(c[10]) << 16 | uint32_t(c[11]) << 24;
    c[8] = c[9] = c[10] = c[11] = 0;
    return crc32c_ref(c.data(), n) == got;
  }
  return true;
}

FlowKey key_of(const std::vector<uint8_t>& f) {
  FlowKey k;
  extract(f.data(), uint32_t(f.size()), 1, &k);
  return k;
}

// Sets fields in the frame's key, writes them, re-extracts: the new key
// must equal the edited one, and every checksum verify.
void rewrite(std::vector<uint8_t>& f, std::initializer_list<std::pair<Field, u128>> sets) {
  FlowKey k = key_of(f);
  uint64_t dirty = 0;
  for (auto [fld, v] : sets) {
    set_field(&k, fld, v, field_all_ones(fld));
    dirty |= field_bit(fld);
  }
  write_fields(f.data(), uint32_t(f.size()), k, dirty);
  EXPECT_EQ(key_of(f), k);
}

TEST(FrameWrite, Ipv4TcpUdpIcmpSctp) {
  std::vector<uint8_t> tcp(20, 0);
  tcp[12] = 0x50;
  tcp[0] = 0x04, tcp[1] = 0xd2, tcp[3] = 80;
  auto f = v4(6, tcp);
  ASSERT_TRUE(v4_ok(f));
  rewrite(f, {{Field::ipv4_src, 0xc0a80001}, {Field::ipv4_dst, 0xc0a80102}, {Field::tcp_dst, 8080},
              {Field::tcp_src, 1}, {Field::ip_dscp, 46}, {Field::ip_ecn, 2}, {Field::eth_src, 0x1234}});
  EXPECT_TRUE(v4_ok(f));

  std::vector<uint8_t> udp = {0, 53, 0, 54, 0, 12, 0, 0, 1, 2, 3, 4};
  f = v4(17, udp);
  ASSERT_TRUE(v4_ok(f));
  rewrite(f, {{Field::udp_src, 5353}, {Field::ipv4_dst, 0x01020304}});
  EXPECT_TRUE(v4_ok(f));

  std::vector<uint8_t> icmp = {8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'};
  f = v4(1, icmp);
  ASSERT_TRUE(v4_ok(f));
  rewrite(f, {{Field::icmpv4_type, 0}, {Field::icmpv4_code, 3}, {Field::ipv4_src, 0x0a0a0a0a}});
  EXPECT_TRUE(v4_ok(f));

  std::vector<uint8_t> sctp(28, 0x5a);
  sctp[0] = 0, sctp[1] = 9, sctp[2] = 0, sctp[3] = 10;
  f = v4(132, sctp);
  ASSERT_TRUE(v4_ok(f));
  rewrite(f, {{Field::sctp_dst, 3868}, {Field::sctp_src, 2905}});
  EXPECT_TRUE(v4_ok(f));
}

TEST(FrameWrite, Arp) {
  auto f = test::arp(0xaa, -1, 1, 0x0a000001, 0x0a000002);
  rewrite(f, {{Field::arp_op, 2}, {Field::arp_sha, 0x0202}, {Field::arp_tha, 0x0303},
              {Field::arp_spa, 0x0a000009}, {Field::arp_tpa, 0x0a000008}});
}

// An IPv6 neighbour advertisement (with a target link-layer option) and a
// UDP datagram: addresses, traffic class, flow label, ND fields.
TEST(FrameWrite, Ipv6) {
  auto build = [](uint8_t proto, std::vector<uint8_t> l4) {
    FrameBuilder f = test::eth(0xbb, 0xaa, 5);
    f.be16(0x86dd).be32(0x60000000).be16(uint16_t(l4.size())).bytes({proto, 255});
    f.zeros(15).bytes({1}).zeros(15).bytes({2});
    f.b.insert(f.b.end(), l4.begin(), l4.end());
    uint8_t* ip = &f.b[18];
    uint8_t* t = ip + 40;
    uint8_t* c = proto == 58 ? t + 2 : t + 6;
    set_csum(c, fold(sum16(t, l4.size(), sum16(ip + 8, 32) + proto + uint32_t(l4.size()))));
    return f.b;
  };
  auto ok = [](const std::vector<uint8_t>& f) {
    const uint8_t* ip = &f[18];
    const size_t n = f.size() - 58;
    return fold(sum16(ip + 40, n, sum16(ip + 8, 32) + ip[6] + uint32_t(n))) == 0;
  };
  std::vector<uint8_t> na = {136, 0, 0, 0, 0x60, 0, 0, 0};
  na.resize(24, 0);
  na[23] = 9;
  for (uint8_t b : {2, 1, 0, 0, 0, 0, 0, 0xaa}) na.push_back(b);
  auto f = build(58, na);
  ASSERT_TRUE(ok(f));
  rewrite(f, {{Field::ipv6_nd_target, 0x77}, {Field::ipv6_nd_tll, 0x020000000077ull},
              {Field::ipv6_src, u128{0xfe80} << 112 | 5},
              {Field::ipv6_flabel, 0xabcde}, {Field::ip_dscp, 10}});
  EXPECT_TRUE(ok(f));
  f = build(17, {0, 1, 0, 2, 0, 10, 0, 0, 7, 7});
  ASSERT_TRUE(ok(f));
  rewrite(f, {{Field::ipv6_dst, ~u128{0} >> 1}, {Field::udp_dst, 9}});
  EXPECT_TRUE(ok(f));
}

TEST(FrameWrite, ShortFramesAreLeftAlone) {
  auto f = v4(6, std::vector<uint8_t>(20, 0));
  const FlowKey k = key_of(f);
  for (uint32_t len = 0; len < f.size(); ++len) {
    auto g = f;
    write_fields(g.data(), len, k, ~uint64_t{0} & ~field_bit(Field::eth_src) & ~field_bit(Field::eth_dst));
    EXPECT_EQ(g, f) << len;  // the same values: nothing changes, nothing read past len (ASan)
  }
}

}  // namespace
}  // namespace trestle::flowtable
