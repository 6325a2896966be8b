#include "vlan/tag.h"

#include <gtest/gtest.h>

#include <vector>

namespace trestle::vlan {
namespace {

std::vector<uint8_t> frame(uint16_t ethertype, std::vector<uint8_t> rest = {}) {
  std::vector<uint8_t> f = {1, 2, 3, 4, 5, 6, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf};
  f.push_back(static_cast<uint8_t>(ethertype >> 8));
  f.push_back(static_cast<uint8_t>(ethertype));
  f.insert(f.end(), rest.begin(), rest.end());
  return f;
}

TEST(Tag, ParsesUntagged) {
  auto f = frame(0x0800, {0x45, 0});
  L2Header h = parse_l2(f.data(), static_cast<uint32_t>(f.size()));
  EXPECT_EQ(h.status, L2Status::kOk);
  EXPECT_FALSE(h.tagged);
  EXPECT_EQ(h.vid(), 0);
}

TEST(Tag, ParsesTaggedAndDoubleTagged) {
  auto f = frame(0x8100, {0xa0, 0x05, 0x08, 0x00});
  L2Header h = parse_l2(f.data(), static_cast<uint32_t>(f.size()));
  EXPECT_TRUE(h.tagged);
  EXPECT_FALSE(h.inner_tagged);
  EXPECT_EQ(h.vid(), 5);
  EXPECT_EQ(h.tci >> 13, 5);  // PCP
  auto qq = frame(0x88a8, {0x00, 0x07, 0x81, 0x00, 0x00, 0x09});
  h = parse_l2(qq.data(), static_cast<uint32_t>(qq.size()));
  EXPECT_TRUE(h.tagged);
  EXPECT_TRUE(h.inner_tagged);
  EXPECT_EQ(h.vid(), 7);
}

TEST(Tag, RejectsRuntAndTruncatedTag) {
  auto f = frame(0x0800);
  EXPECT_EQ(parse_l2(f.data(), 13).status, L2Status::kRunt);
  EXPECT_EQ(parse_l2(f.data(), 0).status, L2Status::kRunt);
  auto t = frame(0x8100, {0x00});
  EXPECT_EQ(parse_l2(t.data(), static_cast<uint32_t>(t.size())).status, L2Status::kTruncatedTag);
  EXPECT_EQ(parse_l2(t.data(), 14).status, L2Status::kTruncatedTag);
}

TEST(Tag, PushPopRoundTrip) {
  auto orig = frame(0x0800, {0x45, 0x00, 0x11});
  std::vector<uint8_t> buf(4 + orig.size());
  std::copy(orig.begin(), orig.end(), buf.begin() + 4);
  push_tag(buf.data(), 0x6000 | 100);
  L2Header h = parse_l2(buf.data(), static_cast<uint32_t>(buf.size()));
  ASSERT_TRUE(h.tagged);
  EXPECT_EQ(h.vid(), 100);
  EXPECT_EQ(load_mac(buf.data()), 0x010203040506ull);
  EXPECT_EQ(load_mac(buf.data() + 6), 0x0a0b0c0d0e0full);
  EXPECT_EQ(load_be16(buf.data() + 16), 0x0800);

  pop_tag(buf.data());
  std::vector<uint8_t> back(buf.begin() + 4, buf.end());
  EXPECT_EQ(back, orig);
}

TEST(Tag, SetVidKeepsPcp) {
  auto f = frame(0x8100, {0xe0, 0x01, 0x08, 0x00});
  set_vid(f.data(), 2000);
  L2Header h = parse_l2(f.data(), static_cast<uint32_t>(f.size()));
  EXPECT_EQ(h.vid(), 2000);
  EXPECT_EQ(h.tci >> 13, 7);
}

TEST(Tag, MulticastBit) {
  EXPECT_TRUE(is_multicast_mac(0xffffffffffffull));
  EXPECT_TRUE(is_multicast_mac(0x01005e000001ull));
  EXPECT_FALSE(is_multicast_mac(0x020000000001ull));
}

}  // namespace
}  // namespace trestle::vlan

#include "vlan/vlan_stack.h"

namespace trestle::vlan {
namespace {

TEST(VlanStack, PushThenPopIsNoChange) {
  auto f = frame(0x0800, {0x45});
  VlanStack s = VlanStack::parse(f.data(), static_cast<uint32_t>(f.size()));
  EXPECT_FALSE(s.header().tagged);
  s.egress(true, 1);  // into a trunk patch port
  EXPECT_TRUE(s.header().tagged);
  EXPECT_EQ(s.header().vid(), 1);
  EXPECT_FALSE(s.header().inner_tagged);
  EXPECT_TRUE(s.pushed);
  s.egress(true, 1);  // out of a trunk
  EXPECT_TRUE(s.pushed);
  s.egress(false, 1);  // out of an access port
  EXPECT_TRUE(s.unchanged());
}

TEST(VlanStack, PopExposesInnerTag) {
  auto f = frame(0x8100, {0x20, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00});
  VlanStack s = VlanStack::parse(f.data(), static_cast<uint32_t>(f.size()));
  ASSERT_EQ(s.n_wire, 2);
  EXPECT_TRUE(s.header().inner_tagged);
  s.egress(false, 10);
  EXPECT_EQ(s.popped, 1);
  EXPECT_TRUE(s.header().tagged);
  EXPECT_EQ(s.header().vid(), 20);
  EXPECT_FALSE(s.header().inner_tagged);
  EXPECT_FALSE(s.rewrite_outer());
}

TEST(VlanStack, RewriteKeepsPcp) {
  auto f = frame(0x8100, {0xa0, 0x01, 0x08, 0x00});
  VlanStack s = VlanStack::parse(f.data(), static_cast<uint32_t>(f.size()));
  s.egress(true, 2000);
  EXPECT_TRUE(s.rewrite_outer());
  EXPECT_EQ(s.top, 0xa000 | 2000);
  EXPECT_FALSE(s.pushed);
}

// OpenFlow's push_vlan onto a tagged frame (QinQ): one new tag over the wire
// tag; popping it shows the wire tag again; a second push is refused.
TEST(VlanStack, PushOverAWireTag) {
  auto f = frame(0x8100, {0x00, 0x05, 0x08, 0x00});
  VlanStack s = VlanStack::parse(f.data(), static_cast<uint32_t>(f.size()));
  ASSERT_TRUE(s.push(0x0064));
  EXPECT_TRUE(s.pushed);
  EXPECT_EQ(s.header().vid(), 100);
  EXPECT_TRUE(s.header().inner_tagged);
  EXPECT_FALSE(s.push(0x0065));
  EXPECT_FALSE(s.unchanged());
  s.pop();
  EXPECT_TRUE(s.header().tagged);
  EXPECT_EQ(s.header().vid(), 5);
  EXPECT_TRUE(s.unchanged());
  // Over a rewritten wire tag: not representable, refused.
  s.set_top(0x0007);
  EXPECT_TRUE(s.rewrite_outer());
  EXPECT_FALSE(s.push(0x0064));
}

TEST(VlanStack, DeepStackIsMarked) {
  auto f = frame(0x8100, {0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x81, 0, 0, 4, 8, 0});
  VlanStack s = VlanStack::parse(f.data(), static_cast<uint32_t>(f.size()));
  EXPECT_EQ(s.n_wire, 3);
  EXPECT_TRUE(s.deeper);
  s.egress(false, 1);
  s.egress(false, 2);
  EXPECT_TRUE(s.header().inner_tagged);  // the fourth tag is still below
}

}  // namespace
}  // namespace trestle::vlan
