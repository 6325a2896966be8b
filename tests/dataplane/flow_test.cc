// OpenFlow tables in the dataplane with real traffic between virtio-user
// peers: the neutron VLAN pipeline across br-int and br-eth0 with the tags
// checked on the wire, header rewrites with valid checksums, table misses,
// CONTROLLER, and flow counters.

#include "flowtable/flow_table.h"
#include "tests/dataplane/switch_fixture.h"

namespace trestle::testing {
namespace {

using dataplane::Drop;
using namespace flowtable;

constexpr uint64_t kVm1 = 0x020000000001ull;
constexpr uint64_t kVm2 = 0x020000000002ull;
constexpr uint64_t kRemote = 0x02000000aaaaull;

Instructions acts(std::initializer_list<Action> a) {
  Instructions i;
  i.apply = a;
  return i;
}
Instructions go(uint8_t table, std::initializer_list<Action> a = {}) {
  Instructions i = acts(a);
  i.goto_table = table;
  return i;
}
FlowMod add(uint8_t table, uint16_t prio, const Match& m, const Instructions& ins) {
  FlowMod fm;
  fm.table = table;
  fm.priority = prio;
  fm.match = m;
  fm.ins = ins;
  fm.cookie = 0x1234;
  return fm;
}

FlowMod del_strict_of(uint16_t prio, const Match& m) {
  FlowMod fm;
  fm.command = FlowMod::Command::kDeleteStrict;
  fm.table = 0;
  fm.priority = prio;
  fm.match = m;
  return fm;
}

class FlowTest : public SwitchTest {
 protected:
  // Bridge `br` with trunk ports a, b and c on VMs, and their OpenFlow numbers.
  struct Trio {
    VirtioPeer &a, &b, &c;
    uint32_t pa, pb, pc;
  };
  Trio three_trunks(const std::string& br) {
    bridge(br);
    VirtioPeer& a = vm(br, "a", trunk());
    VirtioPeer& b = vm(br, "b", trunk());
    VirtioPeer& c = vm(br, "c", trunk());
    return {a, b, c, ofport("a"), ofport("b"), ofport("c")};
  }
  uint32_t ofport(const std::string& p) {
    auto r = dp_->ofport(p);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : 0;
  }
  void flows(const std::string& br, const std::vector<FlowMod>& fms) {
    auto e = dp_->flow_mods(br, fms);
    ASSERT_FALSE(e) << e->message;
  }
  // Packet-ins reach the control side asynchronously (the PMD queues them).
  std::vector<dataplane::PacketIn> wait_packet_ins() {
    std::vector<dataplane::PacketIn> pins;
    for (int i = 0; i < 200 && pins.empty(); ++i) {
      pins = dp_->take_packet_ins();
      if (pins.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pins;
  }
  uint64_t packets_of(const std::string& br, uint8_t table, uint16_t prio) {
    FlowStatsRequest req;
    req.table = table;
    auto d = dp_->dump_flows(br, req);
    EXPECT_TRUE(d.ok());
    if (!d.ok()) return 0;
    uint64_t n = 0;
    for (const auto& f : d.value())
      if (f.priority == prio) n += f.packets;
    return n;
  }
};

// What the neutron OVS agent installs for VLAN network 2000 -> local VLAN 1
// (compat-openflow §3.1-3.2), with the VM as an access port (Port.tag=1).
TEST_F(FlowTest, NeutronVlanPipelineTranslatesTagsBothWays) {
  bridge("br-int");
  bridge("br-eth0");
  VirtioPeer& vm1 = vm("br-int", "vhu1", access(1));
  patch("br-int", "int-br-eth0", "br-eth0", "phy-br-eth0");
  VirtioPeer& nic = vm("br-eth0", "eth0", trunk());
  const uint32_t int_patch = ofport("int-br-eth0"), phy_patch = ofport("phy-br-eth0");
  FlowMod wipe;
  wipe.command = FlowMod::Command::kDelete;
  wipe.table = OFPTT_ALL;
  flows("br-int", {wipe,  // fail_mode secure
                   add(23, 0, Match(), acts({})),
                   add(0, 0, Match(), go(59)),
                   add(59, 0, Match(), go(60)),
                   add(60, 3, Match(), acts({Action::output(OFPP_NORMAL)})),
                   add(24, 0, Match(), acts({})),
                   add(0, 65535, Match().set(Field::vlan_vid, kVlanPresent | 4095), acts({})),
                   add(0, 2, Match().set(Field::in_port, int_patch), acts({})),
                   add(0, 3,
                       Match().set(Field::in_port, int_patch).set(Field::vlan_vid, kVlanPresent | 2000),
                       go(59, {Action::set_field(Field::vlan_vid, kVlanPresent | 1)}))});
  flows("br-eth0",
        {add(0, 2, Match().set(Field::in_port, phy_patch), acts({})),
         add(0, 4, Match().set(Field::in_port, phy_patch).set(Field::vlan_vid, kVlanPresent | 1),
             acts({Action::set_field(Field::vlan_vid, kVlanPresent | 2000),
                   Action::output(OFPP_NORMAL)}))});

  // VM -> the physical network: VLAN 2000 on the wire.
  ASSERT_EQ(vm1.send({make_frame(kRemote, kVm1)}), 1u);
  auto got = nic.receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_vid(got[0]), 2000);
  EXPECT_EQ(frame_src(got[0]), kVm1);
  EXPECT_EQ(got[0].size(), 68u);

  // The physical network on VLAN 2000 -> the VM, untagged.
  ASSERT_TRUE(wait_learned("br-int", kVm1));
  ASSERT_TRUE(wait_learned("br-eth0", kVm1));
  ASSERT_EQ(nic.send({make_frame(kVm1, kRemote, {2000})}), 1u);
  got = vm1.receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(frame_vid(got[0]).has_value());
  EXPECT_EQ(got[0].size(), 60u);

  // Untranslated VLANs never reach the VM: VLAN 1 from the wire hits the
  // priority-2 drop on br-int, the dead VLAN hits priority 65535.
  const uint64_t before = stats("int-br-eth0").drops[size_t(Drop::flow_drop)];
  ASSERT_EQ(nic.send({make_frame(kVm1, kRemote, {1}), make_frame(kVm1, kRemote, {4095})}), 2u);
  EXPECT_TRUE(vm1.drain().empty());
  EXPECT_EQ(stats("int-br-eth0").drops[size_t(Drop::flow_drop)], before + 2);

  // Every rule on the way counted its packets.
  EXPECT_EQ(packets_of("br-eth0", 0, 4), 1u);
  EXPECT_EQ(packets_of("br-int", 0, 3), 1u);
  EXPECT_EQ(packets_of("br-int", 60, 3), 2u);
  EXPECT_EQ(packets_of("br-int", 0, 2), 1u);
}

uint16_t csum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// An IPv4/UDP frame with valid checksums.
Frame udp_frame(uint64_t dst, uint64_t src, uint32_t ip_src, uint32_t ip_dst, uint16_t sport,
                uint16_t dport) {
  Frame f = make_frame(dst, src, {}, 14);
  const uint8_t ip[20] = {0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0,
                          uint8_t(ip_src >> 24), uint8_t(ip_src >> 16), uint8_t(ip_src >> 8), uint8_t(ip_src),
                          uint8_t(ip_dst >> 24), uint8_t(ip_dst >> 16), uint8_t(ip_dst >> 8), uint8_t(ip_dst)};
  f.insert(f.end(), ip, ip + 20);
  const uint16_t c = csum(&f[14], 20);
  f[24] = uint8_t(c >> 8);
  f[25] = uint8_t(c);
  const uint8_t udp[8] = {uint8_t(sport >> 8), uint8_t(sport), uint8_t(dport >> 8), uint8_t(dport), 0, 26, 0, 0};
  f.insert(f.end(), udp, udp + 8);
  for (int i = 0; i < 18; ++i) f.push_back(uint8_t(i * 7));
  uint32_t sum = 0;
  for (size_t i = 26; i < 34; i += 2) sum += uint32_t(f[i] << 8 | f[i + 1]);
  sum += 17 + 26;
  const uint16_t u = csum(&f[34], 26, sum);
  f[40] = uint8_t(u >> 8);
  f[41] = uint8_t(u);
  return f;
}

bool udp_checksums_ok(const Frame& f, size_t l3) {
  if (csum(&f[l3], 20) != 0) return false;
  // Pseudo header: addresses, protocol, UDP length.
  uint32_t sum = 0;
  for (size_t i = l3 + 12; i < l3 + 20; i += 2) sum += uint32_t(f[i] << 8 | f[i + 1]);
  sum += 17 + 26;
  return csum(&f[l3 + 20], 26, sum) == 0;
}

TEST_F(FlowTest, RewritesKeepChecksumsValid) {
  bridge("br0");
  VirtioPeer& a = vm("br0", "a", trunk());
  VirtioPeer& b = vm("br0", "b", trunk());
  const uint32_t pa = ofport("a"), pb = ofport("b");
  Match ip = Match().set(Field::in_port, pa).set(Field::eth_type, 0x0800).set(Field::ip_proto, 17);
  flows("br0", {add(0, 10, ip,
                    acts({Action::set_field(Field::eth_dst, kVm2),
                          Action::set_field(Field::ipv4_dst, 0xc0a80a0a),
                          Action::set_field(Field::udp_dst, 5353),
                          Action::set_field(Field::ip_dscp, 46),
                          Action::set_vlan_vid(7),  // OpenFlow 1.0: pushes a tag
                          Action::output(pb)}))});
  Frame in = udp_frame(kRemote, kVm1, 0x0a000001, 0x0a000002, 1000, 53);
  ASSERT_TRUE(udp_checksums_ok(in, 14));
  ASSERT_EQ(a.send({in}), 1u);
  auto got = b.receive(1);
  ASSERT_EQ(got.size(), 1u);
  const Frame& f = got[0];
  EXPECT_EQ(frame_dst(f), kVm2);
  EXPECT_EQ(frame_vid(f), 7);
  const size_t l3 = 18;
  EXPECT_EQ(f[l3 + 1] >> 2, 46);
  EXPECT_EQ(f[l3 + 16], 0xc0);
  EXPECT_EQ(f[l3 + 19], 0x0a);
  EXPECT_EQ(f[l3 + 22] << 8 | f[l3 + 23], 5353);
  EXPECT_TRUE(udp_checksums_ok(f, l3));
}

// push_vlan onto a tagged frame (QinQ) and pop_vlan, on the wire.
TEST_F(FlowTest, PushOntoATaggedFrame) {
  bridge("br0");
  VirtioPeer& a = vm("br0", "a", trunk());
  VirtioPeer& b = vm("br0", "b", trunk());
  const uint32_t pa = ofport("a"), pb = ofport("b");
  flows("br0", {add(0, 5, Match().set(Field::in_port, pa),
                    acts({Action::push_vlan(0x8100),
                          Action::set_field(Field::vlan_vid, kVlanPresent | 100), Action::output(pb)})),
                add(0, 5, Match().set(Field::in_port, pb),
                    acts({Action::pop_vlan(), Action::output(pa)}))});
  ASSERT_EQ(a.send({make_frame(kVm2, kVm1, {5})}), 1u);
  auto got = b.receive(1);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].size(), 68u);
  EXPECT_EQ(frame_vid(got[0]), 100);
  EXPECT_EQ((got[0][16] << 8 | got[0][17]), 0x8100);  // the original tag, inside
  EXPECT_EQ((got[0][18] << 8 | got[0][19]) & 0xfff, 5);
  ASSERT_EQ(b.send({got[0]}), 1u);
  auto back = a.receive(1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], make_frame(kVm2, kVm1, {5}));
}

TEST_F(FlowTest, TableMissAndControllerAndFlood) {
  bridge("br0");
  VirtioPeer& a = vm("br0", "a", trunk());
  VirtioPeer& b = vm("br0", "b", trunk());
  VirtioPeer& c = vm("br0", "c", trunk());
  const uint32_t pa = ofport("a");
  FlowMod wipe;
  wipe.command = FlowMod::Command::kDelete;
  wipe.table = OFPTT_ALL;
  flows("br0", {wipe});
  ASSERT_EQ(a.send({make_frame(kVm2, kVm1)}), 1u);
  EXPECT_TRUE(b.drain().empty());
  EXPECT_EQ(drops("a", Drop::table_miss), 1u);

  flows("br0", {add(0, 1, Match().set(Field::in_port, pa),
                    acts({Action::output(OFPP_CONTROLLER, 32), Action::output(OFPP_FLOOD)}))});
  ASSERT_EQ(a.send({make_frame(kVm2, kVm1)}), 1u);
  EXPECT_EQ(b.receive(1).size(), 1u);
  EXPECT_EQ(c.receive(1).size(), 1u);
  EXPECT_TRUE(a.drain(50).empty());
  std::vector<dataplane::PacketIn> pins = wait_packet_ins();
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0].bridge, "br0");
  EXPECT_EQ(pins[0].in_port, pa);
  EXPECT_EQ(pins[0].total_len, 64u);
  EXPECT_EQ(pins[0].data.size(), 32u);

  // The controller gets the packet as the actions before left it.
  flows("br0", {add(0, 3, Match().set(Field::in_port, pa),
                    acts({Action::set_vlan_vid(42), Action::set_field(Field::eth_dst, kVm1),
                          Action::output(OFPP_CONTROLLER, OFPCML_NO_BUFFER)}))});
  ASSERT_EQ(a.send({make_frame(kVm2, kVm1)}), 1u);
  pins = wait_packet_ins();
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0].total_len, 68u);
  ASSERT_EQ(pins[0].data.size(), 68u);
  EXPECT_EQ(frame_vid(pins[0].data), 42);
  EXPECT_EQ(frame_dst(pins[0].data), kVm1);
  ASSERT_TRUE(dp_->flow_mod("br0", del_strict_of(3, Match().set(Field::in_port, pa))) == std::nullopt);

  // Output to a port number the bridge does not have: counted.
  flows("br0", {add(0, 2, Match().set(Field::in_port, pa), acts({Action::output(999)}))});
  ASSERT_EQ(a.send({make_frame(kVm2, kVm1)}), 1u);
  EXPECT_TRUE(b.drain(100).empty());
  EXPECT_EQ(drops("a", Drop::no_such_port), 1u);
}

// PACKET_OUT: a controller's frame, its actions run on PMD 0.
TEST_F(FlowTest, PacketOutRunsItsActionsAndTheTables) {
  auto [a, b, c, pa, pb, pc] = three_trunks("br0");
  const Frame f = make_frame(kVm2, kVm1);
  ASSERT_EQ(dp_->packet_out("br0", pa, {Action::output(pb)}, f), std::nullopt);
  auto got = b.receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], f);
  EXPECT_TRUE(c.drain(50).empty());

  // output:TABLE runs the flows as if the frame came in by a; a push_vlan
  // before it is seen by the tables.
  flows("br0", {add(0, 5, Match().set(Field::in_port, pa), acts({Action::output(pc)}))});
  ASSERT_EQ(dp_->packet_out("br0", pa, {Action::push_vlan(), Action::set_field(Field::vlan_vid, 0x1000 | 7),
                                        Action::output(OFPP_TABLE)},
                            f),
            std::nullopt);
  got = c.receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_vid(got[0]), 7);
  EXPECT_TRUE(b.drain(50).empty());
  EXPECT_TRUE(a.drain(50).empty());

  // Refused, with OpenFlow's errors: a runt frame, a port the bridge lacks,
  // from the controller on a bridge without its own port, set_field of a
  // field the frame does not have, and a bridge that does not exist.
  auto err = dp_->packet_out("br0", pa, {Action::output(pb)}, Frame(10, 0xff));
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->type, OFPET_BAD_REQUEST);
  EXPECT_EQ(err->code, 6);  // OFPBRC_BAD_LEN
  err = dp_->packet_out("br0", 999, {Action::output(pb)}, f);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, 11);  // OFPBRC_BAD_PORT
  err = dp_->packet_out("br0", OFPP_CONTROLLER, {Action::output(pb)}, f);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("no local port"), std::string::npos) << err->message;
  err = dp_->packet_out("br0", pa, {Action::set_field(Field::arp_op, 1), Action::output(pb)}, f);  // an IPv4 frame
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->type, OFPET_BAD_ACTION);
  err = dp_->packet_out("nobridge", pa, {Action::output(pb)}, f);
  ASSERT_TRUE(err.has_value());
  EXPECT_TRUE(b.drain(50).empty());
  EXPECT_TRUE(c.drain(50).empty());
}

TEST_F(FlowTest, OfportRequestIsHonouredAndStable) {
  bridge("br0");
  port("br0", {"p1", "patch", {{"peer", "x"}}, {}, {}, 7});
  port("br0", {"p2", "patch", {{"peer", "y"}}, {}, {}});
  port("br0", {"p3", "patch", {{"peer", "z"}}, {}, {}, 7});  // taken: the lowest free
  EXPECT_EQ(ofport("p1"), 7u);
  EXPECT_EQ(ofport("p2"), 1u);
  EXPECT_EQ(ofport("p3"), 2u);
  ASSERT_TRUE(dp_->del_port("p2").ok());
  EXPECT_EQ(ofport("p1"), 7u);
  EXPECT_EQ(ofport("p3"), 2u);
  // Out of OVS's range (1 to 65,279): a number given as OVS gives it, the
  // next one, not p2's 1 (freed a moment ago: flows may still name it).
  port("br0", {"p4", "patch", {{"peer", "w"}}, {}, {}, 0xfffffff0});
  EXPECT_EQ(ofport("p4"), 3u);
}

// Flows change under traffic: a bundle that swaps the output port is seen
// whole, and no packet is lost or misdelivered while it happens.
TEST_F(FlowTest, FlowChangesUnderTrafficLoseNothing) {
  auto [a, b, c, pa, pb, pc] = three_trunks("br0");
  size_t sent = 0, got_b = 0, got_c = 0;
  for (int round = 0; round < 40; ++round) {
    const uint32_t out = round % 2 ? pc : pb;
    FlowMod del;
    del.command = FlowMod::Command::kDelete;
    del.table = 0;
    del.match = Match().set(Field::in_port, pa);
    flows("br0", {del, add(0, 5, Match().set(Field::in_port, pa), acts({Action::output(out)}))});
    std::vector<Frame> burst(16, make_frame(kVm2, kVm1));
    sent += a.send(burst);
    got_b += b.drain(5).size();
    got_c += c.drain(5).size();
  }
  got_b += b.drain(100).size();
  got_c += c.drain(100).size();
  EXPECT_EQ(got_b + got_c, sent);
  EXPECT_GT(got_b, 0u);
  EXPECT_GT(got_c, 0u);
  EXPECT_EQ(stats("a").rx_dropped, 0u);
}

// The exact-match cache replays walks: rule counters keep counting on hits,
// and a flow_mod is obeyed by the very next packet.
TEST_F(FlowTest, CacheHitsCountRulesAndFollowFlowChanges) {
  auto [a, b, c, pa, pb, pc] = three_trunks("br0");
  const Match from_a = Match().set(Field::in_port, pa);
  flows("br0", {add(0, 5, from_a, acts({Action::output(pb)}))});
  dp_->clear_pmd_stats();
  size_t got = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(a.send(std::vector<Frame>(10, make_frame(kVm2, kVm1))), 10u);
    got += b.receive(10).size();
  }
  EXPECT_EQ(got, 100u);
  EXPECT_EQ(packets_of("br0", 0, 5), 100u);
  auto pmd = dp_->pmd_stats();
  ASSERT_EQ(pmd.size(), 1u);
  EXPECT_GE(pmd[0].emc_hits, 90u);
  EXPECT_EQ(pmd[0].emc_hits + pmd[0].walks, 100u);
  FlowMod m;
  m.command = FlowMod::Command::kModifyStrict;
  m.table = 0;
  m.priority = 5;
  m.match = from_a;
  m.ins = acts({Action::output(pc)});
  flows("br0", {m});
  ASSERT_EQ(a.send(std::vector<Frame>(10, make_frame(kVm2, kVm1))), 10u);
  EXPECT_EQ(c.receive(10).size(), 10u);
  EXPECT_TRUE(b.drain(50).empty());
  EXPECT_EQ(packets_of("br0", 0, 5), 110u);  // modify keeps the counters
}

}  // namespace
}  // namespace trestle::testing
