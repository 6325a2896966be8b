// Pipeline walks: the neutron and Folsom flows, goto_table, resubmit, the
// action set, VLAN push/pop/rewrite in both OpenFlow 1.0 and 1.3 forms.
#include <gtest/gtest.h>

#include "flowtable/pipeline.h"
#include "tests/flowtable/flowmods.h"
#include "tests/flowtable/frames.h"
#include "tests/flowtable/recording_sink.h"

namespace trestle::flowtable {
namespace {

using namespace test;

class PipelineTest : public ::testing::Test {
 protected:
  void ok(const FlowMod& fm) {
    auto e = t_.apply(fm);
    ASSERT_FALSE(e) << e->message;
  }
  // Runs a TCP frame from `in` (tagged with `tci` unless -1) through the tables.
  RecordingSink run(uint32_t in, int tci = -1, uint64_t dst = 0xbb, uint64_t src = 0xaa) {
    auto f = ipv4(dst, src, tci, 6, 0x0a000001, 0x0a000002, 1000, 80);
    FlowKey k;
    extract(f.data(), uint32_t(f.size()), in, &k);
    RecordingSink sink(k.vlan_tci);
    Pipeline<RecordingSink>(t_, t_.version(), 0, sink).run(k, uint32_t(f.size()));
    return sink;
  }

  ImmediateReclaimer rcu_;
  FlowTables t_{&rcu_};
};

// br-int as the neutron agent sets it up (compat-openflow §3.1, §3.2), with
// int-br-eth0 = ofport 1 and segmentation 2000 -> local VLAN 1.
TEST_F(PipelineTest, NeutronBrIntInbound) {
  ok(del(OFPTT_ALL, Match()));  // fail_mode secure: no default rule
  ok(add(23, 0, Match(), actions({})));
  ok(add(0, 0, Match(), then_goto(59)));
  ok(add(59, 0, Match(), then_goto(60)));
  ok(add(60, 3, Match(), actions({Action::output(OFPP_NORMAL)})));
  ok(add(24, 0, Match(), actions({})));
  ok(add(0, 65535, Match().set(Field::vlan_vid, kVlanPresent | 4095), actions({})));
  ok(add(0, 2, in_port(1), actions({})));
  ok(add(0, 3, in_port_vlan(1, 2000),
         then_goto(59, {Action::set_field(Field::vlan_vid, kVlanPresent | 1)})));
  // From the physical side on VLAN 2000: rewritten to 1, then NORMAL.
  RecordingSink s = run(1, 0x2000 | 2000);
  ASSERT_EQ(s.outs.size(), 1u);
  EXPECT_EQ(s.outs[0].port, OFPP_NORMAL);
  EXPECT_EQ(s.outs[0].vlans, std::vector<uint16_t>{0x2000 | kVlanPresent | 1});  // PCP kept
  EXPECT_EQ(s.outs[0].dirty, 0u);
  // Other VLANs from the patch port hit the priority-2 drop.
  EXPECT_TRUE(run(1, 2001).outs.empty());
  // A VM port (untagged) goes through 0 -> 59 -> 60 NORMAL unchanged.
  s = run(5);
  ASSERT_EQ(s.outs.size(), 1u);
  EXPECT_TRUE(s.outs[0].vlans.empty());
  // The dead VLAN is dropped first.
  EXPECT_TRUE(run(5, 4095).outs.empty());
  // Every rule on the walk counted the packet.
  auto d = t_.dump(in_table(59));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].packets, 2u);
}

// br-eth0: phy-br-eth0 = ofport 2, local VLAN 1 -> 2000 (OpenFlow 1.3 form
// and Folsom's OpenFlow 1.0 mod_vlan_vid form).
TEST_F(PipelineTest, NeutronBrEth0Outbound) {
  ok(add(0, 4, in_port_vlan(2, 1),
         actions({Action::set_field(Field::vlan_vid, kVlanPresent | 2000), Action::output(OFPP_NORMAL)})));
  ok(add(0, 4, in_port_vlan(2, 2), actions({Action::set_vlan_vid(2001), Action::output(OFPP_NORMAL)})));
  RecordingSink s = run(2, 1);
  ASSERT_EQ(s.outs.size(), 1u);
  EXPECT_EQ(s.outs[0].vlans, std::vector<uint16_t>{kVlanPresent | 2000});
  s = run(2, 2);
  EXPECT_EQ(s.outs[0].vlans, std::vector<uint16_t>{kVlanPresent | 2001});
  // Anything else: the default NORMAL rule, unchanged.
  s = run(3, 7);
  EXPECT_EQ(s.outs[0].vlans, std::vector<uint16_t>{kVlanPresent | 7});
}

TEST_F(PipelineTest, VlanActionsOpenFlow10And13) {
  // OpenFlow 1.0 mod_vlan_vid pushes a tag on an untagged packet...
  ok(add(0, 10, in_port(1), actions({Action::set_vlan_vid(5), Action::output(9)})));
  // ...OpenFlow 1.3 set_field does not: it needs a tag that the match
  // promises (OVS refuses the flow otherwise, as we do),
  auto untagged =
      t_.apply(add(0, 10, in_port(2), actions({Action::set_field(Field::vlan_vid, kVlanPresent | 5)})));
  ASSERT_TRUE(untagged);
  EXPECT_EQ(untagged->code, OFPBAC_MATCH_INCONSISTENT);
  ok(add(0, 10, in_port(2).set(Field::vlan_vid, kVlanPresent, kVlanPresent),
         actions({Action::set_field(Field::vlan_vid, kVlanPresent | 5), Action::output(9)})));
  // unless push_vlan comes first (neutron's flat network flow).
  ok(add(0, 10, Match().set(Field::in_port, 3).set(Field::vlan_vid, 0),
         actions({Action::push_vlan(), Action::set_field(Field::vlan_vid, kVlanPresent | 5),
                  Action::output(9)})));
  ok(add(0, 10, in_port(4), actions({Action::pop_vlan(), Action::output(9)})));
  ok(add(0, 10, in_port(5), actions({Action::set_vlan_pcp(6), Action::output(9)})));
  ok(add(0, 10, in_port(6), actions({Action::push_vlan(0x88a8), Action::output(9)})));
  EXPECT_EQ(run(1).outs[0].vlans, std::vector<uint16_t>{kVlanPresent | 5});
  EXPECT_EQ(run(1, 7).outs[0].vlans, std::vector<uint16_t>{kVlanPresent | 5});
  EXPECT_TRUE(run(2).outs[0].vlans.empty());  // untagged: the default rule, unchanged
  EXPECT_EQ(run(2, 7).outs[0].vlans, std::vector<uint16_t>{kVlanPresent | 5});
  EXPECT_EQ(run(3).outs[0].vlans, std::vector<uint16_t>{kVlanPresent | 5});
  EXPECT_TRUE(run(4, 7).outs[0].vlans.empty());
  EXPECT_TRUE(run(4).outs[0].vlans.empty());  // pop on untagged: nothing
  EXPECT_EQ(run(5).outs[0].vlans, std::vector<uint16_t>{0xc000 | kVlanPresent});
  EXPECT_EQ(run(5, 9).outs[0].vlans, std::vector<uint16_t>{0xc000 | kVlanPresent | 9});
  // push_vlan on a tagged packet copies the outer tag's VID and PCP.
  EXPECT_EQ(run(6, 0x4000 | 9).outs[0].vlans,
            (std::vector<uint16_t>{0x4000 | kVlanPresent | 9, 0x4000 | kVlanPresent | 9}));
}

// The egress-direct flows the agent installs through ovs-ofctl (§3.3):
// set_field:L->reg6,resubmit(,61) and a match on reg6 there.
TEST_F(PipelineTest, ResubmitWithRegisters) {
  ok(add(60, 9, Match().set(Field::in_port, 5).set(Field::eth_src, 0xaa),
         actions({Action::set_field(Field::reg6, 1), Action::resubmit(OFPP_IN_PORT, 61)})));
  ok(add(61, 12, Match().set(Field::reg6, 1).set(Field::eth_dst, 0xbb), actions({Action::output(7)})));
  ok(add(0, 1, Match(), then_goto(60)));
  RecordingSink s = run(5);
  ASSERT_EQ(s.outs.size(), 1u);
  EXPECT_EQ(s.outs[0].port, 7u);
  EXPECT_EQ(s.outs[0].key.regs[6], 1u);
  // resubmit(port,table) changes in_port only for the resubmitted lookup.
  ok(add(2, 1, in_port(99), actions({Action::output(8)})));
  ok(add(1, 1, Match(), actions({Action::resubmit(99, 2), Action::output(OFPP_IN_PORT)})));
  ok(add(0, 2, in_port(4), then_goto(1)));
  s = run(4);
  ASSERT_EQ(s.outs.size(), 2u);
  EXPECT_EQ(s.outs[0].port, 8u);
  EXPECT_EQ(s.outs[1].port, 4u);
}

TEST_F(PipelineTest, ResubmitLoopStopsAtTheDepthLimit) {
  ok(add(0, 1, Match(), actions({Action::resubmit(OFPP_IN_PORT, 0), Action::output(3)})));
  RecordingSink s = run(1);
  EXPECT_EQ(s.resubmit_limits, 1u);
  EXPECT_EQ(s.outs.size(), kMaxResubmitDepth);  // each level outputs once on the way back
}

TEST_F(PipelineTest, ActionSetOrderAndClear) {
  Instructions w;
  w.has_write = true;
  w.write = {Action::output(3), Action::set_field(Field::eth_dst, 0xcc), Action::pop_vlan()};
  w.goto_table = 1;
  ok(add(0, 1, Match(), w));
  Instructions w2;
  w2.has_write = true;
  w2.write = {Action::set_field(Field::eth_dst, 0xdd)};  // replaces the earlier set
  ok(add(1, 1, Match(), w2));
  RecordingSink s = run(1, 5);
  ASSERT_EQ(s.outs.size(), 1u);
  EXPECT_EQ(s.outs[0].port, 3u);
  EXPECT_TRUE(s.outs[0].vlans.empty());  // pop ran before the output
  EXPECT_EQ(get_field(s.outs[0].key, Field::eth_dst), 0xddu);
  EXPECT_EQ(s.outs[0].dirty, field_bit(Field::eth_dst));
  // clear_actions empties the set.
  Instructions c;
  c.clear_actions = true;
  ok(add(1, 2, in_port(2), c));
  EXPECT_TRUE(run(2).outs.empty());
}

TEST_F(PipelineTest, TableMissDropsAndDropsTheActionSet) {
  Instructions w;
  w.has_write = true;
  w.write = {Action::output(3)};
  w.goto_table = 7;  // empty table
  ok(add(0, 1, in_port(1), w));
  RecordingSink s = run(1);
  EXPECT_TRUE(s.outs.empty());
  EXPECT_EQ(s.misses, std::vector<uint8_t>{7});
  ok(del(0, Match()));
  s = run(2);
  EXPECT_EQ(s.misses, std::vector<uint8_t>{0});
}

TEST_F(PipelineTest, OutputToInPortIsSkippedUnlessInPort) {
  ok(add(0, 1, Match(), actions({Action::output(1), Action::output(OFPP_IN_PORT), Action::output(2)})));
  RecordingSink s = run(1);
  EXPECT_EQ(s.in_port_outputs, 1u);
  ASSERT_EQ(s.outs.size(), 2u);
  EXPECT_EQ(s.outs[0].port, 1u);
  EXPECT_EQ(s.outs[1].port, 2u);
}

TEST_F(PipelineTest, MoveAndMetadata) {
  // ARP responder style: move eth_src to eth_dst; write_metadata then match it.
  Instructions i = actions({Action::reg_move(Field::eth_src, 0, Field::eth_dst, 0, 48),
                            Action::reg_move(Field::eth_src, 8, Field::reg0, 4, 8)});
  i.write_metadata = std::make_pair(uint64_t{0x50}, uint64_t{0xf0});
  i.goto_table = 1;
  ok(add(0, 1, Match(), i));
  ok(add(1, 1, Match().set(Field::metadata, 0x50, 0xff), actions({Action::output(4)})));
  RecordingSink s = run(1, -1, 0xbb, 0x1234);
  ASSERT_EQ(s.outs.size(), 1u);
  EXPECT_EQ(get_field(s.outs[0].key, Field::eth_dst), 0x1234u);
  EXPECT_EQ(s.outs[0].key.regs[0], 0x12u << 4);
  EXPECT_EQ(s.outs[0].dirty, field_bit(Field::eth_dst));
}

TEST_F(PipelineTest, ControllerKeepsMaxLen) {
  ok(add(0, 1, Match(), actions({Action::output(OFPP_CONTROLLER, 128)})));
  RecordingSink s = run(1);
  ASSERT_EQ(s.outs.size(), 1u);
  EXPECT_EQ(s.outs[0].port, OFPP_CONTROLLER);
  EXPECT_EQ(s.outs[0].max_len, 128);
}

}  // namespace
}  // namespace trestle::flowtable
