#include <gtest/gtest.h>

#include "flowtable/fields.h"
#include "flowtable/key.h"
#include "tests/flowtable/frames.h"

namespace trestle::flowtable {
namespace {

using test::arp;
using test::eth;
using test::ipv4;

FlowKey key_of(const std::vector<uint8_t>& f, uint32_t in_port = 1) {
  FlowKey k;
  extract(f.data(), static_cast<uint32_t>(f.size()), in_port, &k);
  return k;
}

TEST(Extract, TaggedIpv4Tcp) {
  const auto f = ipv4(0x0000000000bbull, 0x0000000000aaull, 0x6000 | 2000, 6, 0x0a000001,
                      0x0a000002, 1234, 80, 0xb9);
  const FlowKey k = key_of(f, 7);
  EXPECT_EQ(get_field(k, Field::in_port), 7u);
  EXPECT_EQ(get_field(k, Field::eth_dst), 0xbbu);
  EXPECT_EQ(get_field(k, Field::eth_src), 0xaau);
  EXPECT_EQ(get_field(k, Field::vlan_vid), kVlanPresent | 2000u);
  EXPECT_EQ(get_field(k, Field::vlan_pcp), 3u);
  EXPECT_EQ(get_field(k, Field::eth_type), 0x0800u);
  EXPECT_EQ(get_field(k, Field::ip_proto), 6u);
  EXPECT_EQ(get_field(k, Field::ip_dscp), 0xb9u >> 2);
  EXPECT_EQ(get_field(k, Field::ip_ecn), 1u);
  EXPECT_EQ(get_field(k, Field::ipv4_src), 0x0a000001u);
  EXPECT_EQ(get_field(k, Field::ipv4_dst), 0x0a000002u);
  EXPECT_EQ(get_field(k, Field::tcp_src), 1234u);
  EXPECT_EQ(get_field(k, Field::tcp_dst), 80u);
}

TEST(Extract, UntaggedHasNoVlan) {
  const FlowKey k = key_of(ipv4(1, 2, -1, 17, 1, 2, 67, 68));
  EXPECT_EQ(k.vlan_tci, 0);
  EXPECT_EQ(get_field(k, Field::udp_src), 67u);
}

TEST(Extract, PriorityTaggedIsPresentWithVid0) {
  const FlowKey k = key_of(ipv4(1, 2, 0x2000, 17, 1, 2, 67, 68));
  EXPECT_EQ(get_field(k, Field::vlan_vid), kVlanPresent);
  EXPECT_EQ(get_field(k, Field::vlan_pcp), 1u);
}

TEST(Extract, Arp) {
  const FlowKey k = key_of(arp(0x112233445566ull, -1, 2, 0xc0a80001, 0xc0a80002, 0x665544332211ull));
  EXPECT_EQ(get_field(k, Field::eth_type), 0x0806u);
  EXPECT_EQ(get_field(k, Field::arp_op), 2u);
  EXPECT_EQ(get_field(k, Field::arp_spa), 0xc0a80001u);
  EXPECT_EQ(get_field(k, Field::arp_tpa), 0xc0a80002u);
  EXPECT_EQ(get_field(k, Field::arp_sha), 0x112233445566u);
  EXPECT_EQ(get_field(k, Field::arp_tha), 0x665544332211u);
}

TEST(Extract, Icmpv4TypeCode) {
  const FlowKey k = key_of(ipv4(1, 2, -1, 1, 1, 2, 8, 0));
  EXPECT_EQ(get_field(k, Field::icmpv4_type), 8u);
  EXPECT_EQ(get_field(k, Field::icmpv4_code), 0u);
}

TEST(Extract, Ipv6NeighbourAdvertisement) {
  test::FrameBuilder f = eth(0x333300000001ull, 0x0000000000aaull);
  f.be16(0x86dd).be32(0x60000000 | 0x12345).be16(32).bytes({58, 255});
  f.zeros(15).bytes({1});  // src ::1
  f.zeros(15).bytes({2});  // dst ::2
  f.bytes({136, 0}).be16(0).be32(0);  // ICMPv6 NA
  f.zeros(15).bytes({9});             // target ::9
  f.bytes({2, 1}).mac(0x0000000000aaull);  // target link-layer address option
  const FlowKey k = key_of(f.b);
  EXPECT_EQ(get_field(k, Field::eth_type), 0x86ddu);
  EXPECT_EQ(get_field(k, Field::ipv6_flabel), 0x12345u);
  EXPECT_EQ(get_field(k, Field::ip_proto), 58u);
  EXPECT_EQ(get_field(k, Field::ipv6_src), 1u);
  EXPECT_EQ(get_field(k, Field::ipv6_dst), 2u);
  EXPECT_EQ(get_field(k, Field::icmpv6_type), 136u);
  EXPECT_EQ(get_field(k, Field::ipv6_nd_target), 9u);
  EXPECT_EQ(get_field(k, Field::ipv6_nd_tll), 0xaau);
}

TEST(Extract, TruncatedHeadersLeaveFieldsZero) {
  auto f = ipv4(1, 2, -1, 6, 0x01020304, 0x05060708, 1, 2);
  for (uint32_t len = 0; len <= f.size(); ++len) {
    FlowKey k;
    extract(f.data(), len, 3, &k);  // never reads past len (ASan checks)
    if (len < 14 + 20) {
      EXPECT_EQ(k.nw_src, 0u) << len;
    }
    if (len < 14 + 24) {
      EXPECT_EQ(k.tp_src, 0u) << len;
    }
  }
  FlowKey k;
  extract(f.data(), static_cast<uint32_t>(f.size()), 3, &k);
  EXPECT_EQ(k.nw_src, 0x01020304u);
}

TEST(Extract, Llc) {
  test::FrameBuilder f = eth(1, 2);
  f.be16(46).zeros(46);
  EXPECT_EQ(key_of(f.b).eth_type, kEthTypeNone);
}

TEST(Fields, NamesRoundTrip) {
  for (size_t i = 0; i < kNumFields; ++i) {
    const Field f = static_cast<Field>(i);
    EXPECT_EQ(field_by_name(field_info(f).name), f);
  }
  EXPECT_FALSE(field_by_name("no_such_field"));
}

TEST(Fields, SetUnderMask) {
  FlowKey k = zero_key();
  set_field(&k, Field::reg6, 0xabcd, 0xff00);
  EXPECT_EQ(get_field(k, Field::reg6), 0xab00u);
  set_field(&k, Field::eth_dst, 0x112233445566ull, field_all_ones(Field::eth_dst));
  EXPECT_EQ(k.eth_dst[0], 0x11);
  EXPECT_EQ(k.eth_dst[5], 0x66);
  set_field(&k, Field::vlan_pcp, 5, 7);
  set_field(&k, Field::vlan_vid, kVlanPresent | 10, 0x1fff);
  EXPECT_EQ(k.vlan_tci, 0xa000 | kVlanPresent | 10);
}

}  // namespace
}  // namespace trestle::flowtable
