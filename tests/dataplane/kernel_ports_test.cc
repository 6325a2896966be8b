// Internal ports (taps) and a `dpdk` port (net_tap by dpdk-devargs) moved
// into network namespaces of their own, pinging each other through the
// switch, as the DHCP agent's qdhcp-* namespaces do. Addresses are IPv4
// link-local and never leave the namespaces this test creates.

#include <unistd.h>

#include "tests/dataplane/switch_fixture.h"

namespace trestle::testing {
namespace {

class Netns {
 public:
  explicit Netns(const std::string& tag)
      : name_("trestle-" + std::to_string(getpid()) + "-" + tag) {
    EXPECT_EQ(sh("ip netns add " + name_), 0);
    sh("ip -n " + name_ + " link set lo up");
  }
  ~Netns() { sh("ip netns del " + name_ + " 2>/dev/null"); }
  const std::string& name() const { return name_; }
  // Moves `dev` in, addresses and brings it up.
  void take(const std::string& dev, const std::string& cidr) {
    EXPECT_EQ(sh("ip link set " + dev + " netns " + name_), 0);
    EXPECT_EQ(sh("ip -n " + name_ + " addr add " + cidr + " dev " + dev), 0);
    EXPECT_EQ(sh("ip -n " + name_ + " link set " + dev + " up"), 0);
  }
  int ping(const std::string& ip) const {
    return sh("ip netns exec " + name_ + " ping -c 3 -i 0.2 -W 2 " + ip + " >/dev/null");
  }

 private:
  std::string name_;
};

std::string dev_name(const char* what) {
  return std::string(what) + std::to_string(getpid() % 100000);
}

TEST_F(SwitchTest, InternalPortsInNamespacesPingEachOther) {
  bridge("br-int");
  const std::string t1 = dev_name("ti1-"), t2 = dev_name("ti2-");
  port("br-int", {t1, "internal", {}, access(1), {}});
  port("br-int", {t2, "internal", {}, access(1), {}});
  Netns a("a"), b("b");
  a.take(t1, "169.254.77.1/24");
  b.take(t2, "169.254.77.2/24");
  EXPECT_EQ(a.ping("169.254.77.2"), 0);
  EXPECT_GE(stats(t1).rx_packets, 3u);
  EXPECT_GE(stats(t2).tx_packets, 3u);
  auto macs = dp_->mac_table("br-int");
  ASSERT_TRUE(macs.ok());
  EXPECT_GE(macs->size(), 2u);
}

TEST_F(SwitchTest, InternalPortsPingAcrossThePatchLink) {
  bridge("br-int");
  bridge("br-eth0");
  patch("br-int", "int-br-eth0", "br-eth0", "phy-br-eth0");
  const std::string t1 = dev_name("tp1-"), t2 = dev_name("tp2-");
  // Access on br-int; on br-eth0 the frames cross trunk patch ports tagged,
  // and leave an access port of the same VLAN untagged (the kernel here has
  // no 802.1Q sub-interfaces to read a trunk).
  port("br-int", {t1, "internal", {}, access(7), {}});
  port("br-eth0", {t2, "internal", {}, access(7), {}});
  Netns a("pa"), b("pb");
  a.take(t1, "169.254.78.1/24");
  b.take(t2, "169.254.78.2/24");
  EXPECT_EQ(a.ping("169.254.78.2"), 0);
  EXPECT_GE(stats("int-br-eth0").tx_packets, 3u);
  EXPECT_GE(stats("phy-br-eth0").tx_packets, 3u);
  // A port on another VLAN is not reached.
  const std::string t3 = dev_name("tp3-");
  port("br-eth0", {t3, "internal", {}, access(8), {}});
  Netns c("pc");
  c.take(t3, "169.254.78.3/24");
  EXPECT_NE(c.ping("169.254.78.1"), 0);
}

TEST_F(SwitchTest, DpdkPortByDevargsWithTwoQueues) {
  bridge("br0");
  const std::string tap = dev_name("td-"), t2 = dev_name("tq-");
  port("br0", {"dp0", "dpdk", {{"dpdk-devargs", "net_tap_dp0,iface=" + tap}, {"n_rxq", "2"}},
               access(3), {}});
  port("br0", {t2, "internal", {}, access(3), {}});
  auto pmds = dp_->pmd_stats();
  ASSERT_EQ(pmds.size(), 1u);
  EXPECT_EQ(pmds[0].rxqs.size(), 3u);  // dp0:0, dp0:1 and the internal port's
  Netns a("da"), b("db");
  a.take(tap, "169.254.79.1/24");
  b.take(t2, "169.254.79.2/24");
  EXPECT_EQ(a.ping("169.254.79.2"), 0);
  EXPECT_TRUE(dp_->del_port("dp0").ok());
  EXPECT_NE(a.ping("169.254.79.2"), 0);
}

// Two PMDs: each polls one VM's queue; both send to a port whose single tx
// queue they must share safely.
TEST(MultiPmd, TwoPmdsShareATxQueue) {
  test_eal();
  TempDir dir;
  dataplane::DataplaneConfig cfg;
  cfg.rundir = dir.path();
  cfg.pmd_cores = {0, 1};
  auto r = dataplane::Dataplane::create(cfg);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto& dp = *r.value();
  dp.start_control_thread();
  ASSERT_TRUE(dp.add_bridge("br0").ok());
  std::vector<std::unique_ptr<VirtioPeer>> vms;
  for (auto n : {"a", "b", "c"}) {
    ASSERT_TRUE(dp.add_port("br0", {n, "dpdkvhostuser", {}, access(1), {}}).ok());
    vms.push_back(VirtioPeer::open(dir.path() + "/" + n, false, test_eal()));
    ASSERT_TRUE(vms.back()->wait_link());
  }
  auto pmds = dp.pmd_stats();
  ASSERT_EQ(pmds.size(), 2u);
  EXPECT_EQ(pmds[0].rxqs.size() + pmds[1].rxqs.size(), 3u);
  EXPECT_GE(pmds[1].rxqs.size(), 1u);
  // a and b both flood to c (and each other) from different PMDs.
  for (int i = 0; i < 50; ++i) {
    vms[0]->send({make_frame(0xffffffffffffull, 0x020000000001ull)});
    vms[1]->send({make_frame(0xffffffffffffull, 0x020000000002ull)});
  }
  EXPECT_EQ(vms[2]->receive(100).size(), 100u);
  vms.clear();
}

}  // namespace
}  // namespace trestle::testing
