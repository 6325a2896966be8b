// Integration tests of the dataplane with real DPDK traffic: virtio-user
// "VMs" on vhost-user ports, patch ports, VLAN modes, learning, bad input.

#include <rte_ethdev.h>

#include <atomic>
#include <thread>

#include "tests/dataplane/switch_fixture.h"

namespace trestle::testing {
namespace {

using dataplane::Drop;

constexpr uint64_t kVm1 = 0x020000000001ull;
constexpr uint64_t kVm2 = 0x020000000002ull;
constexpr uint64_t kVm3 = 0x020000000003ull;
constexpr uint64_t kRemote = 0x02000000aaaaull;
constexpr uint64_t kBroadcast = 0xffffffffffffull;

// The reference deployment: VM on br-int (access, local VLAN 1), patch
// int-br-eth0/phy-br-eth0, the "NIC" on br-eth0 as a trunk.
TEST_F(SwitchTest, AccessToTrunkAcrossPatchCarriesTheRightTag) {
  bridge("br-int");
  bridge("br-eth0");
  VirtioPeer& vm1 = vm("br-int", "vhu1", access(1));
  patch("br-int", "int-br-eth0", "br-eth0", "phy-br-eth0");
  VirtioPeer& nic = vm("br-eth0", "eth0", trunk());

  // VM -> unknown destination: floods to the NIC, tagged with VLAN 1.
  ASSERT_EQ(vm1.send({make_frame(kRemote, kVm1)}), 1u);
  auto got = nic.receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_vid(got[0]), 1);
  EXPECT_EQ(frame_src(got[0]), kVm1);
  EXPECT_EQ(got[0].size(), 68u);  // 64 + the pushed tag

  // NIC -> VM on VLAN 1: arrives untagged.
  ASSERT_TRUE(wait_learned("br-eth0", kVm1));
  ASSERT_EQ(nic.send({make_frame(kVm1, kRemote, {1})}), 1u);
  got = vm1.receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(frame_vid(got[0]).has_value());
  EXPECT_EQ(got[0].size(), 60u);  // 64 less the popped tag

  // Another VLAN from the NIC never reaches the VM.
  ASSERT_EQ(nic.send({make_frame(kVm1, kRemote, {2}), make_frame(kBroadcast, kRemote, {3})}), 2u);
  EXPECT_TRUE(vm1.drain().empty());

  // Patch ports count what crosses them.
  EXPECT_GE(stats("int-br-eth0").tx_packets, 1u);
  EXPECT_GE(stats("phy-br-eth0").rx_packets, 1u);
  EXPECT_TRUE(stats("int-br-eth0").link_up);
}

TEST_F(SwitchTest, LearningStopsFlooding) {
  bridge("br0");
  VirtioPeer& a = vm("br0", "a", access(5));
  VirtioPeer& b = vm("br0", "b", access(5));
  VirtioPeer& c = vm("br0", "c", access(5));

  a.send({make_frame(kVm2, kVm1)});
  EXPECT_EQ(b.receive(1).size(), 1u);
  EXPECT_EQ(c.receive(1).size(), 1u);  // unknown: flooded
  EXPECT_TRUE(a.drain(50).empty());    // never back out of the input port

  ASSERT_TRUE(wait_learned("br0", kVm1));
  b.send({make_frame(kVm1, kVm2)});
  EXPECT_EQ(a.receive(1).size(), 1u);
  EXPECT_TRUE(c.drain().empty());  // known: unicast

  ASSERT_TRUE(wait_learned("br0", kVm2));
  a.send({make_frame(kVm2, kVm1)});
  EXPECT_EQ(b.receive(1).size(), 1u);
  EXPECT_TRUE(c.drain().empty());

  auto table = dp_->mac_table("br0");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->size(), 2u);
  for (const auto& e : table.value()) EXPECT_EQ(e.vlan, 5);
}

TEST_F(SwitchTest, VlansAreIsolatedAndTrunksFilter) {
  bridge("br0");
  VirtioPeer& v10 = vm("br0", "v10", access(10));
  VirtioPeer& v20 = vm("br0", "v20", access(20));
  VirtioPeer& t20 = vm("br0", "t20", trunk({20}));
  VirtioPeer& nt = vm("br0", "nt", {"native-untagged", 10, {20}});

  v10.send({make_frame(kBroadcast, kVm1)});
  auto got = nt.receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(frame_vid(got[0]).has_value());  // native VLAN leaves untagged
  EXPECT_TRUE(v20.drain(50).empty());
  EXPECT_TRUE(t20.drain(50).empty());  // VLAN 10 not trunked there

  v20.send({make_frame(kBroadcast, kVm2)});
  got = t20.receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_vid(got[0]), 20);
  got = nt.receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_vid(got[0]), 20);
  EXPECT_TRUE(v10.drain(50).empty());

  // A trunk drops VLANs it does not carry, and counts them.
  t20.send({make_frame(kBroadcast, kVm3, {30})});
  EXPECT_TRUE(v10.drain(50).empty());
  EXPECT_EQ(drops("t20", Drop::vlan_not_trunked), 1u);
}

TEST_F(SwitchTest, BadInputIsDroppedAndCountedByReason) {
  bridge("br0");
  VirtioPeer& a = vm("br0", "a", access(1));
  VirtioPeer& b = vm("br0", "b", access(1));
  VirtioPeer& t = vm("br0", "t", trunk());

  Frame runt = make_frame(kBroadcast, kVm1);
  runt.resize(10);
  Frame truncated = make_frame(kBroadcast, kVm1, {1});
  truncated.resize(16);
  a.send({runt, truncated, make_frame(kBroadcast, kVm1, {1}), make_frame(kBroadcast, kVm1, {7}),
          make_frame(kBroadcast, kVm1, {0, 9}), make_frame(kBroadcast, kVm1, {}, 1600),
          make_frame(0x0180c2000000ull, kVm1)});
  EXPECT_TRUE(b.drain().empty());
  EXPECT_TRUE(t.drain(50).empty());
  EXPECT_EQ(drops("a", Drop::runt), 1u);
  EXPECT_EQ(drops("a", Drop::truncated_vlan), 1u);
  EXPECT_EQ(drops("a", Drop::tagged_on_access), 2u);  // its own VLAN and another
  EXPECT_EQ(drops("a", Drop::double_tagged_on_access), 1u);
  EXPECT_EQ(drops("a", Drop::oversize), 1u);
  EXPECT_EQ(drops("a", Drop::reserved_multicast), 1u);
  EXPECT_EQ(stats("a").rx_dropped, 7u);
  EXPECT_EQ(stats("a").rx_packets, 7u);

  // A double-tagged frame from a trunk stays in its outer VLAN: the inner
  // tag is payload and never selects a VLAN.
  t.send({make_frame(kBroadcast, kVm3, {2, 1})});
  EXPECT_TRUE(a.drain().empty());
  EXPECT_TRUE(b.drain(50).empty());

  // A frame within the MTU still flows.
  a.send({make_frame(kBroadcast, kVm1, {}, 1514)});
  EXPECT_EQ(b.receive(1).size(), 1u);
}

TEST_F(SwitchTest, ClientModePortReconnectsWhenThePeerRestarts) {
  bridge("br0");
  VirtioPeer& a = vm("br0", "a", access(1));
  const std::string path = dir_.path() + "/qemu-vhu.sock";
  // trestle starts first and keeps trying to connect, as when QEMU is not up
  // yet; a virtio-user server's probe waits in accept() for that connection.
  port("br0", {"vhuc", "dpdkvhostuserclient", {{"vhost-server-path", path}}, access(1), {}});
  auto server = VirtioPeer::open(path, true, test_eal());
  ASSERT_TRUE(server->wait_link());
  ASSERT_TRUE(wait_link("vhuc"));
  a.send({make_frame(kVm2, kVm1)});
  EXPECT_EQ(server->receive(1).size(), 1u);

  // QEMU goes away and comes back on the same socket.
  server.reset();
  server = VirtioPeer::open(path, true, test_eal());
  ASSERT_TRUE(server->wait_link(10000));
  ASSERT_TRUE(wait_link("vhuc", 10000));
  a.send({make_frame(kVm2, kVm1)});
  EXPECT_EQ(server->receive(1).size(), 1u);
  server->send({make_frame(kVm1, kVm2)});
  EXPECT_EQ(a.receive(1).size(), 1u);
}

// vhost-user ports use rte_vhost directly: Debian's DPDK has 32 ethdev
// slots, and a compute node has more VMs than that.
TEST_F(SwitchTest, HundredsOfVhostUserPortsTakeNoEthdevSlot) {
  bridge("br0");
  const uint16_t ethdevs = rte_eth_dev_count_avail();
  for (int i = 0; i < 150; ++i) {
    const std::string n = "s" + std::to_string(i);
    ASSERT_TRUE(dp_->add_port("br0", {n, "dpdkvhostuser", {}, access(1), {}}).ok()) << n;
    const std::string c = "c" + std::to_string(i);
    ASSERT_TRUE(dp_->add_port("br0", {c, "dpdkvhostuserclient",
                                      {{"vhost-server-path", dir_.path() + "/nobody-" + c}},
                                      access(1), {}}).ok()) << c;
  }
  EXPECT_EQ(rte_eth_dev_count_avail(), ethdevs);
  EXPECT_FALSE(stats("c7").link_up);  // nobody serves its socket
  // Two ports cannot share one socket.
  auto dup = dp_->add_port("br0", {"dup", "dpdkvhostuserclient",
                                   {{"vhost-server-path", dir_.path() + "/nobody-c7"}}, access(1), {}});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("used by another port"), std::string::npos) << dup.error().message;

  // Traffic between two VMs among them.
  VirtioPeer& a = vm("br0", "a", access(1));
  VirtioPeer& b = vm("br0", "b", access(1));
  a.send({make_frame(kVm2, kVm1)});
  EXPECT_EQ(b.receive(1).size(), 1u);
  EXPECT_EQ(stats("s3").tx_dropped, 1u);  // flooded there too: nobody connected

  for (int i = 0; i < 150; ++i) {
    ASSERT_TRUE(dp_->del_port("s" + std::to_string(i)).ok());
    ASSERT_TRUE(dp_->del_port("c" + std::to_string(i)).ok());
  }
  b.send({make_frame(kVm1, kVm2)});
  EXPECT_EQ(a.receive(1).size(), 1u);
}

TEST_F(SwitchTest, ReconfigurationDoesNotDisturbOtherPorts) {
  bridge("br0");
  VirtioPeer& a = vm("br0", "a", access(1));
  VirtioPeer& b = vm("br0", "b", access(1));
  // Learn both so the flow is unicast.
  a.send({make_frame(kVm2, kVm1)});
  b.receive(1);
  b.send({make_frame(kVm1, kVm2)});
  a.receive(1);
  ASSERT_TRUE(wait_learned("br0", kVm1));
  ASSERT_TRUE(wait_learned("br0", kVm2));

  std::atomic<bool> stop{false};
  std::atomic<size_t> sent{0};
  std::thread churn([&] {
    int i = 0;
    while (!stop.load()) {
      std::string br = "tmp" + std::to_string(i % 3);
      EXPECT_TRUE(dp_->add_bridge(br).ok());
      EXPECT_TRUE(dp_->add_port("br0", {"p" + std::to_string(i), "patch", {{"peer", "x"}}, access(1), {}}).ok());
      EXPECT_TRUE(dp_->modify_port("br0", {"p" + std::to_string(i), "patch", {{"peer", "x"}}, access(2), {}}).ok());
      EXPECT_TRUE(dp_->del_port("p" + std::to_string(i)).ok());
      EXPECT_TRUE(dp_->del_bridge(br).ok());
      ++i;
    }
  });
  size_t received = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<Frame> burst(16, make_frame(kVm2, kVm1));
    sent += a.send(burst);
    received += b.receive(16, 1000).size();
  }
  stop = true;
  churn.join();
  EXPECT_EQ(sent.load(), 3200u);
  EXPECT_EQ(received, sent.load());
  EXPECT_EQ(stats("a").rx_dropped, 0u);
  EXPECT_EQ(stats("b").tx_dropped, 0u);
}

TEST_F(SwitchTest, ChangingATagMovesThePort) {
  bridge("br0");
  VirtioPeer& a = vm("br0", "a", access(1));
  VirtioPeer& b = vm("br0", "b", access(2));
  a.send({make_frame(kBroadcast, kVm1)});
  EXPECT_TRUE(b.drain().empty());
  ASSERT_TRUE(dp_->modify_port("br0", {"b", "dpdkvhostuser", {}, access(1), {}}).ok());
  a.send({make_frame(kBroadcast, kVm1)});
  EXPECT_EQ(b.receive(1).size(), 1u);
}

TEST_F(SwitchTest, MacTableLimitRefusesNewEntriesAndCounts) {
  dataplane::BridgeSettings s;
  s.mac_table_size = 2;
  bridge("br0", s);
  VirtioPeer& a = vm("br0", "a", access(1));
  VirtioPeer& b = vm("br0", "b", access(1));
  std::vector<Frame> frames;
  for (uint64_t i = 0; i < 5; ++i) frames.push_back(make_frame(kBroadcast, kVm1 + 0x100 + i));
  a.send(frames);
  EXPECT_EQ(b.receive(5).size(), 5u);  // still forwarded, only not learned
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (dp_->mac_table_counters("br0")->table.table_full < 3 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto c = dp_->mac_table_counters("br0");
  EXPECT_EQ(c->size, 2u);
  EXPECT_EQ(c->table.table_full, 3u);
}

TEST_F(SwitchTest, LearnedMacsAgeOut) {
  dataplane::BridgeSettings s;
  s.mac_aging_sec = 1;
  bridge("br0", s);
  VirtioPeer& a = vm("br0", "a", access(1));
  VirtioPeer& b = vm("br0", "b", access(1));
  VirtioPeer& c = vm("br0", "c", access(1));
  b.send({make_frame(kVm1, kVm2)});
  ASSERT_TRUE(wait_learned("br0", kVm2));
  a.drain(50);
  c.drain(50);
  // Idle for longer than the aging time: the entry goes, so traffic to it
  // floods again.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_TRUE(dp_->mac_table("br0")->empty());
  EXPECT_GE(dp_->mac_table_counters("br0")->table.aged, 1u);
  a.send({make_frame(kVm2, kVm1)});
  EXPECT_EQ(c.receive(1).size(), 1u);
}

TEST_F(SwitchTest, PatchLoopIsCutAndCounted) {
  bridge("b1");
  bridge("b2");
  VirtioPeer& a = vm("b1", "a", trunk());
  // Two patch links between the same bridges make a loop.
  patch("b1", "l1", "b2", "r1");
  patch("b1", "l2", "b2", "r2");
  a.send({make_frame(kBroadcast, kVm1)});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  uint64_t loops = 0;
  for (auto n : {"l1", "l2", "r1", "r2"}) loops += drops(n, Drop::patch_loop);
  EXPECT_GT(loops, 0u);
  // Flooding back to `a` through the loop happens a bounded number of times.
  EXPECT_LT(a.drain().size(), 64u);
}

TEST_F(SwitchTest, PmdStatsAccountCycles) {
  bridge("br0");
  VirtioPeer& a = vm("br0", "a", access(1));
  VirtioPeer& b = vm("br0", "b", access(1));
  dp_->clear_pmd_stats();
  std::vector<Frame> burst(100, make_frame(kVm2, kVm1));
  a.send(burst);
  EXPECT_EQ(b.receive(100).size(), 100u);
  auto pmds = dp_->pmd_stats();
  ASSERT_EQ(pmds.size(), 1u);
  EXPECT_EQ(pmds[0].packets, 100u);
  EXPECT_GT(pmds[0].busy_cycles, 0u);
  EXPECT_GT(pmds[0].idle_cycles, 0u);
  EXPECT_GT(pmds[0].cycles_per_packet(), 0.0);
  EXPECT_EQ(pmds[0].rxqs.size(), 2u);
}

TEST_F(SwitchTest, BadPortConfigurationIsRefusedWithAClearError) {
  bridge("br0");
  auto r = dp_->add_port("br0", {"vhu1", "dpdkvhostuserclient", {{"vhost-server-path", "rel/x"}}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "port vhu1: vhost-server-path must be an absolute path, not \"rel/x\"");
  r = dp_->add_port("br0", {"vhu1", "dpdkvhostuserclient", {}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("needs options:vhost-server-path"), std::string::npos);
  r = dp_->add_port("br0", {"vhu1", "dpdkvhostuser", {{"colour", "red"}}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unknown option \"colour\""), std::string::npos);
  r = dp_->add_port("br0", {"vhu1", "dpdkvhostuser", {{"n_rxq", "0"}}, {}, {}});
  ASSERT_FALSE(r.ok());
  r = dp_->add_port("br0", {"vhu1", "dpdkvhostuser", {{"tx-retries-max", "33"}}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("tx-retries-max must be a number from 0 to 32"), std::string::npos);
  ASSERT_TRUE(dp_->add_port("br0", {"vhu0", "dpdkvhostuser", {{"tx-retries-max", "0"}}, {}, {}}).ok());
  ASSERT_TRUE(dp_->del_port("vhu0").ok());
  r = dp_->add_port("br0", {"vhu1", "dpdkvhostuser", {}, {"acces", 1, {}}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unknown vlan_mode"), std::string::npos);
  r = dp_->add_port("br0", {"d0", "dpdk", {{"dpdk-devargs", "net_nosuchdriver0"}}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("could not attach"), std::string::npos);
  r = dp_->add_port("nobr", {"x", "internal", {}, {}, {}});
  ASSERT_FALSE(r.ok());
  r = dp_->add_port("br0", {"averyveryverylongname", "internal", {}, {}, {}});
  ASSERT_FALSE(r.ok());
  r = dp_->add_port("br0", {"e0", "system", {}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not supported"), std::string::npos);
  // Nothing was left behind by the failures.
  EXPECT_TRUE(dp_->ports("br0").empty());
  // A good port still works after all that.
  vm("br0", "vhu1", access(1));
  EXPECT_EQ(dp_->ports("br0").size(), 1u);
  // Duplicate names are refused.
  EXPECT_FALSE(dp_->add_port("br0", {"vhu1", "dpdkvhostuser", {}, {}, {}}).ok());
  EXPECT_FALSE(dp_->add_bridge("br0").ok());
}

}  // namespace
}  // namespace trestle::testing
