#include "vlan/port_vlan.h"

#include <gtest/gtest.h>

namespace trestle::vlan {
namespace {

PortVlan make(std::optional<std::string> mode, std::optional<int> tag, std::vector<int> trunks = {}) {
  auto r = PortVlan::compile({mode, tag, trunks}, "p1");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : PortVlan{};
}

L2Header untagged() { return {}; }
L2Header tagged(uint16_t vid, bool inner = false) {
  L2Header h;
  h.tagged = true;
  h.tci = vid;
  h.inner_tagged = inner;
  return h;
}

TEST(PortVlan, DefaultModeFollowsTag) {
  EXPECT_EQ(make(std::nullopt, 5).mode(), VlanMode::kAccess);
  EXPECT_EQ(make(std::nullopt, std::nullopt).mode(), VlanMode::kTrunk);
  // tag wins over trunks when vlan_mode is unset, as in OVS.
  EXPECT_EQ(make(std::nullopt, 5, {6, 7}).mode(), VlanMode::kAccess);
}

TEST(PortVlan, AccessIngress) {
  PortVlan p = make("access", 10);
  EXPECT_EQ(p.ingress(untagged()).vlan, 10);
  EXPECT_EQ(p.ingress(untagged()).drop, IngressDrop::kNone);
  // Priority-tagged frames are in the access VLAN.
  EXPECT_EQ(p.ingress(tagged(0)).drop, IngressDrop::kNone);
  // Any nonzero VID is dropped, even the port's own VLAN.
  EXPECT_EQ(p.ingress(tagged(10)).drop, IngressDrop::kTaggedOnAccess);
  EXPECT_EQ(p.ingress(tagged(11)).drop, IngressDrop::kTaggedOnAccess);
  // A priority tag hiding another tag never hops VLANs.
  EXPECT_EQ(p.ingress(tagged(0, true)).drop, IngressDrop::kDoubleTaggedOnAccess);
}

TEST(PortVlan, AccessEgress) {
  PortVlan p = make("access", 10);
  EXPECT_TRUE(p.egress(10).allowed);
  EXPECT_FALSE(p.egress(10).tagged);
  EXPECT_FALSE(p.egress(11).allowed);
  EXPECT_FALSE(p.egress(0).allowed);
  // Access without a tag is VLAN 0.
  PortVlan z = make("access", std::nullopt);
  EXPECT_EQ(z.ingress(untagged()).vlan, 0);
  EXPECT_TRUE(z.egress(0).allowed);
}

TEST(PortVlan, TrunkAllVlans) {
  PortVlan p = make("trunk", std::nullopt);
  EXPECT_EQ(p.ingress(untagged()).vlan, 0);
  EXPECT_EQ(p.ingress(tagged(4094)).vlan, 4094);
  EXPECT_EQ(p.ingress(tagged(4094)).drop, IngressDrop::kNone);
  EXPECT_TRUE(p.egress(2000).allowed);
  EXPECT_TRUE(p.egress(2000).tagged);
  EXPECT_TRUE(p.egress(0).allowed);
  EXPECT_FALSE(p.egress(0).tagged);
}

TEST(PortVlan, TrunkList) {
  PortVlan p = make("trunk", std::nullopt, {1, 2000});
  EXPECT_EQ(p.ingress(tagged(2000)).drop, IngressDrop::kNone);
  EXPECT_EQ(p.ingress(tagged(3)).drop, IngressDrop::kNotTrunked);
  EXPECT_EQ(p.ingress(untagged()).drop, IngressDrop::kNotTrunked);  // VLAN 0 not listed
  EXPECT_TRUE(p.egress(1).allowed);
  EXPECT_FALSE(p.egress(3).allowed);
  EXPECT_FALSE(p.egress(0).allowed);
}

TEST(PortVlan, NativeTagged) {
  PortVlan p = make("native-tagged", 5, {7});
  EXPECT_EQ(p.ingress(untagged()).vlan, 5);
  EXPECT_EQ(p.ingress(tagged(0)).vlan, 5);
  EXPECT_EQ(p.ingress(tagged(7)).vlan, 7);
  EXPECT_EQ(p.ingress(tagged(5)).drop, IngressDrop::kNone);  // native always trunked
  EXPECT_EQ(p.ingress(tagged(8)).drop, IngressDrop::kNotTrunked);
  EXPECT_TRUE(p.egress(5).tagged);
  EXPECT_TRUE(p.egress(7).tagged);
  EXPECT_FALSE(p.egress(0).allowed);  // VLAN 0 is never trunked on native ports
}

TEST(PortVlan, NativeUntagged) {
  PortVlan p = make("native-untagged", 5);  // empty trunks: every VLAN
  EXPECT_EQ(p.ingress(untagged()).vlan, 5);
  EXPECT_TRUE(p.egress(5).allowed);
  EXPECT_FALSE(p.egress(5).tagged);
  EXPECT_TRUE(p.egress(100).tagged);
  EXPECT_FALSE(p.egress(0).allowed);
}

TEST(PortVlan, ErrorsNameThePortAndTheValue) {
  auto r = PortVlan::compile({"acess", 1, {}}, "vhu1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("vhu1"), std::string::npos);
  EXPECT_NE(r.error().message.find("acess"), std::string::npos);
  r = PortVlan::compile({"access", 4096, {}}, "vhu1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("4096"), std::string::npos);
  r = PortVlan::compile({"trunk", std::nullopt, {1, -2}}, "eth0");
  ASSERT_FALSE(r.ok());
  r = PortVlan::compile({"dot1q-tunnel", 5, {}}, "eth0");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not supported"), std::string::npos);
}

}  // namespace
}  // namespace trestle::vlan
