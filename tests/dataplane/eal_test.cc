#include "dataplane/eal.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace trestle::dataplane {
namespace {

TEST(CpuMask, ParsesAsOvsDoes) {
  EXPECT_EQ(parse_cpu_mask("0x6").value(), (std::vector<unsigned>{1, 2}));
  EXPECT_EQ(parse_cpu_mask("1").value(), (std::vector<unsigned>{0}));
  EXPECT_EQ(parse_cpu_mask("F0").value(), (std::vector<unsigned>{4, 5, 6, 7}));
  EXPECT_EQ(parse_cpu_mask("0x100000000").value(), (std::vector<unsigned>{32}));
  EXPECT_FALSE(parse_cpu_mask("").ok());
  EXPECT_FALSE(parse_cpu_mask("0x").ok());
  EXPECT_FALSE(parse_cpu_mask("0").ok());
  auto r = parse_cpu_mask("0xzz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("0xzz"), std::string::npos);
}

TEST(EalArgs, DefaultsRunAnywhere) {
  EalConfig cfg;
  cfg.file_prefix = "x1";
  auto a = eal_args(cfg);
  auto has = [&](const std::string& s) { return std::find(a.begin(), a.end(), s) != a.end(); };
  EXPECT_TRUE(has("--no-huge"));
  EXPECT_TRUE(has("--no-shconf"));
  EXPECT_TRUE(has("--no-pci"));
  EXPECT_TRUE(has("--file-prefix=x1"));
  cfg.hugepages = true;
  cfg.pci_allow = {"0000:01:00.0"};
  a = eal_args(cfg);
  EXPECT_FALSE(has("--no-huge"));
  EXPECT_FALSE(has("--no-pci"));
  EXPECT_TRUE(has("--allow=0000:01:00.0"));
}

}  // namespace
}  // namespace trestle::dataplane
