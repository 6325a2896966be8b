#include "vlan/normal.h"

#include <gtest/gtest.h>

#include <vector>

namespace trestle::vlan {
namespace {

PortVlan pv(std::optional<std::string> mode, std::optional<int> tag, std::vector<int> trunks = {}) {
  return PortVlan::compile({mode, tag, trunks}, "p").value();
}

class NormalTest : public ::testing::Test {
 protected:
  // Port 0: access 1, port 1: access 1, port 2: access 2, port 3: trunk (all),
  // port 4: trunk 2 only.
  std::vector<PortVlan> vlans{pv("access", 1), pv("access", 1), pv("access", 2),
                              pv("trunk", std::nullopt), pv("trunk", std::nullopt, {2})};
  std::vector<NormalPort> ports;
  NormalOutput out[8];
  void SetUp() override {
    for (uint32_t i = 0; i < vlans.size(); ++i) ports.push_back({i, &vlans[i]});
  }
};

TEST_F(NormalTest, FloodsWithinTheVlanButNotBackOut) {
  NormalResult r = normal_forward(ports, 0, 1, kNoPort, nullptr, out);
  EXPECT_EQ(r.verdict, NormalVerdict::kFlood);
  ASSERT_EQ(r.n_out, 2u);
  EXPECT_EQ(out[0].port, 1u);
  EXPECT_FALSE(out[0].tagged);
  EXPECT_EQ(out[1].port, 3u);
  EXPECT_TRUE(out[1].tagged);
}

TEST_F(NormalTest, FloodFromTrunkReachesVlanMembers) {
  NormalResult r = normal_forward(ports, 3, 2, kNoPort, nullptr, out);
  ASSERT_EQ(r.n_out, 2u);
  EXPECT_EQ(out[0].port, 2u);
  EXPECT_EQ(out[1].port, 4u);
}

TEST_F(NormalTest, UnicastToLearnedPort) {
  NormalResult r = normal_forward(ports, 0, 1, 3, &vlans[3], out);
  EXPECT_EQ(r.verdict, NormalVerdict::kUnicast);
  ASSERT_EQ(r.n_out, 1u);
  EXPECT_EQ(out[0].port, 3u);
  EXPECT_TRUE(out[0].tagged);
}

TEST_F(NormalTest, LearnedOnInputPortIsDropped) {
  EXPECT_EQ(normal_forward(ports, 1, 1, 1, &vlans[1], out).verdict, NormalVerdict::kSamePort);
}

TEST_F(NormalTest, StaleEntryFloods) {
  EXPECT_EQ(normal_forward(ports, 0, 1, 42, nullptr, out).verdict, NormalVerdict::kFlood);
}

}  // namespace
}  // namespace trestle::vlan
