// flow_mod semantics (OpenFlow 1.3 §6.4, and what OVS 3.1 does where the
// spec leaves room), table by table.
#include <gtest/gtest.h>

#include "flowtable/flow_table.h"
#include "tests/flowtable/flowmods.h"
#include "tests/flowtable/frames.h"

namespace trestle::flowtable {
namespace {

using namespace test;

struct FakeClock {
  uint64_t ms = 1000;
};

class FlowTablesTest : public ::testing::Test {
 protected:
  FlowTablesTest() : t_(&rcu_, opts()) {}
  FlowTables::Options opts() {
    FlowTables::Options o;
    o.now_ms = [this] { return clock_.ms; };
    return o;
  }
  const Rule* find(uint8_t table, const FlowKey& k) { return t_.lookup(table, k, t_.version()); }
  static FlowKey key(uint32_t in_port, int vlan_tci = -1, uint64_t dst = 0x0000000000bbull) {
    auto f = ipv4(dst, 0x0000000000aaull, vlan_tci, 6, 0x0a000001, 0x0a000002, 1000, 80);
    FlowKey k;
    extract(f.data(), uint32_t(f.size()), in_port, &k);
    return k;
  }
  void ok(const FlowMod& fm) {
    auto e = t_.apply(fm);
    ASSERT_FALSE(e) << e->message;
  }

  FakeClock clock_;
  ImmediateReclaimer rcu_;
  FlowTables t_;
};

TEST_F(FlowTablesTest, NewBridgeHasOnlyTheNormalRule) {
  ASSERT_EQ(t_.n_rules(), 1u);
  const auto d = t_.dump({});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].table, 0);
  EXPECT_EQ(d[0].priority, 0);
  EXPECT_EQ(d[0].ins.apply, std::vector<Action>{Action::output(OFPP_NORMAL)});
  EXPECT_EQ(find(0, key(1)), find(0, key(9, 0x1005)));
}

TEST_F(FlowTablesTest, HighestPriorityWinsAcrossMasks) {
  ok(add(0, 10, in_port(1), actions({Action::output(2)})));
  ok(add(0, 20, in_port_vlan(1, 5), actions({Action::output(3)})));
  ok(add(0, 5, Match().set(Field::eth_dst, 0xbb), actions({Action::output(4)})));
  EXPECT_EQ(find(0, key(1, 5))->priority, 20);
  EXPECT_EQ(find(0, key(1, 6))->priority, 10);
  EXPECT_EQ(find(0, key(1))->priority, 10);
  EXPECT_EQ(find(0, key(2))->priority, 5);
  EXPECT_EQ(find(0, key(2, -1, 0xcc))->priority, 0);
}

TEST_F(FlowTablesTest, MaskedFields) {
  // Multicast bit of eth_dst (the neutron / OVS "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00").
  ok(add(0, 10, Match().set(Field::eth_dst, 0x010000000000ull, 0x010000000000ull),
         actions({Action::output(7)})));
  ok(add(0, 10, Match().set(Field::eth_type, 0x0800).set(Field::ipv4_dst, 0x0a000000, 0xffffff00),
         actions({Action::output(8)})));
  EXPECT_EQ(find(0, key(1, -1, 0x01005e000001ull))->priority, 10);
  EXPECT_EQ(find(0, key(1))->ins.apply[0].port, 8u);  // 10.0.0.2 in 10.0.0.0/24
  // A masked value has its bits outside the mask dropped.
  Match m = Match().set(Field::reg6, 0x1234, 0xff00);
  EXPECT_EQ(m.get(Field::reg6), 0x1200u);
}

TEST_F(FlowTablesTest, VlanVidPresentAndNone) {
  // OpenFlow 1.0's dl_vlan=0xffff and 1.3's vlan_vid=OFPVID_NONE are the same match.
  EXPECT_TRUE(Match().set_untagged() == Match().set(Field::vlan_vid, 0));
  ok(add(0, 10, Match().set_untagged(), actions({Action::output(2)})));
  ok(add(0, 10, Match().set(Field::vlan_vid, kVlanPresent, kVlanPresent), actions({Action::output(3)})));
  EXPECT_EQ(find(0, key(1))->ins.apply[0].port, 2u);
  EXPECT_EQ(find(0, key(1, 77))->ins.apply[0].port, 3u);
  EXPECT_EQ(find(0, key(1, 0))->ins.apply[0].port, 3u);  // priority tag: a tag is present
}

struct PrereqCase {
  const char* what;
  Match match;
  bool ok;
};

TEST_F(FlowTablesTest, PrerequisitesAreEnforced) {
  const PrereqCase cases[] = {
      {"tcp_dst without ip_proto", Match().set(Field::eth_type, 0x0800).set(Field::tcp_dst, 80), false},
      {"tcp_dst", Match().set(Field::eth_type, 0x0800).set(Field::ip_proto, 6).set(Field::tcp_dst, 80), true},
      {"tcp_dst over ipv6", Match().set(Field::eth_type, 0x86dd).set(Field::ip_proto, 6).set(Field::tcp_dst, 80), true},
      {"udp_dst with tcp", Match().set(Field::eth_type, 0x0800).set(Field::ip_proto, 6).set(Field::udp_dst, 80), false},
      {"ipv4_src alone", Match().set(Field::ipv4_src, 1), false},
      {"ipv4_src over ipv6", Match().set(Field::eth_type, 0x86dd).set(Field::ipv4_src, 1), false},
      {"ip_proto alone", Match().set(Field::ip_proto, 6), false},
      {"ip_dscp", Match().set(Field::eth_type, 0x0800).set(Field::ip_dscp, 46), true},
      {"arp_spa", Match().set(Field::eth_type, 0x0806).set(Field::arp_spa, 1), true},
      {"arp_spa over ip", Match().set(Field::eth_type, 0x0800).set(Field::arp_spa, 1), false},
      {"eth_type masked", Match().set(Field::eth_type, 0x0800, 0xff00).set(Field::ip_proto, 6), false},
      {"vlan_pcp untagged", Match().set(Field::vlan_pcp, 3), false},
      {"vlan_pcp tagged", Match().set(Field::vlan_vid, kVlanPresent | 3).set(Field::vlan_pcp, 3), true},
      {"vlan_pcp any tag", Match().set(Field::vlan_vid, kVlanPresent, kVlanPresent).set(Field::vlan_pcp, 3), true},
      {"nd_target without type",
       Match().set(Field::eth_type, 0x86dd).set(Field::ip_proto, 58).set(Field::ipv6_nd_target, 9), false},
      {"nd_target NA",
       Match().set(Field::eth_type, 0x86dd).set(Field::ip_proto, 58).set(Field::icmpv6_type, 136)
           .set(Field::ipv6_nd_target, 9), true},
      {"nd_sll on NA",
       Match().set(Field::eth_type, 0x86dd).set(Field::ip_proto, 58).set(Field::icmpv6_type, 136)
           .set(Field::ipv6_nd_sll, 9), false},
      {"icmpv4_type", Match().set(Field::eth_type, 0x0800).set(Field::ip_proto, 1).set(Field::icmpv4_type, 8), true},
      {"icmpv6_type over ipv4", Match().set(Field::eth_type, 0x0800).set(Field::ip_proto, 58).set(Field::icmpv6_type, 135), false},
  };
  for (const auto& c : cases) {
    auto e = t_.apply(add(0, 1, c.match, actions({})));
    EXPECT_EQ(!e, c.ok) << c.what;
    if (e) {
      EXPECT_EQ(e->type, OFPET_BAD_MATCH) << c.what;
      EXPECT_EQ(e->code, OFPBMC_BAD_PREREQ) << c.what;
      EXPECT_NE(e->message.find("prerequisites"), std::string::npos) << e->message;
    }
  }
}

TEST_F(FlowTablesTest, BadRequestsChangeNothing) {
  const size_t before = t_.n_rules();
  const uint64_t v = t_.version();
  auto e = t_.apply(add(255, 1, in_port(1), actions({})));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPFMFC_BAD_TABLE_ID);
  e = t_.apply(add(5, 1, in_port(1), then_goto(5)));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, OFPET_BAD_INSTRUCTION);
  EXPECT_EQ(e->code, OFPBIC_BAD_TABLE_ID);
  e = t_.apply(add(0, 1, in_port(1), actions({Action::set_field(Field::ipv4_src, 1)})));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBAC_MATCH_INCONSISTENT);
  // OpenFlow 1.1+ set_field on vlan_vid needs a tag (OVS: "set_field
  // vlan_vid lacks correct prerequisites"), also after a pop_vlan.
  e = t_.apply(add(0, 1, in_port(1), actions({Action::set_field(Field::vlan_vid, kVlanPresent | 5)})));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBAC_MATCH_INCONSISTENT);
  e = t_.apply(add(0, 1, Match().set(Field::vlan_vid, kVlanPresent | 7),
                   actions({Action::pop_vlan(), Action::set_field(Field::vlan_vid, kVlanPresent | 5)})));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBAC_MATCH_INCONSISTENT);
  e = t_.apply(add(0, 1, Match().set(Field::eth_type, 0x86dd),
                   actions({Action::set_field(Field::ip_proto, 17)})));  // read-only, as in OVS
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBAC_BAD_SET_TYPE);
  e = t_.apply(add(0, 1, in_port(1), actions({Action::output(0)})));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBAC_BAD_OUT_PORT);
  e = t_.apply(add(0, 1, in_port(1), actions({Action::push_vlan(0x0800)})));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBAC_BAD_ARGUMENT);
  FlowMod bad_flags = add(0, 1, in_port(1), actions({}));
  bad_flags.flags = 0x100;
  e = t_.apply(bad_flags);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPFMFC_BAD_FLAGS);
  Instructions two_outputs;
  two_outputs.has_write = true;
  two_outputs.write = {Action::output(1), Action::output(2)};
  e = t_.apply(add(0, 1, in_port(1), two_outputs));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBAC_TOO_MANY);
  EXPECT_EQ(t_.n_rules(), before);
  EXPECT_EQ(t_.version(), v);
}

TEST_F(FlowTablesTest, AddReplacesIdenticalKeepingCountersUnlessReset) {
  ok(add(0, 10, in_port(1), actions({Action::output(2)}), 0x1));
  find(0, key(1))->count(0, 3, 300);
  clock_.ms += 5000;
  ok(add(0, 10, in_port(1), actions({Action::output(3)}), 0x2));
  ASSERT_EQ(t_.n_rules(0), 2u);
  auto d = t_.dump(strict_req(0, 10, in_port(1)));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].packets, 3u);
  EXPECT_EQ(d[0].bytes, 300u);
  EXPECT_EQ(d[0].cookie, 0x2u);
  EXPECT_EQ(d[0].duration_ms, 0u);  // the duration restarts
  EXPECT_EQ(find(0, key(1))->ins.apply[0].port, 3u);
  FlowMod reset = add(0, 10, in_port(1), actions({Action::output(4)}));
  reset.flags = OFPFF_RESET_COUNTS;
  ok(reset);
  d = t_.dump(strict_req(0, 10, in_port(1)));
  EXPECT_EQ(d[0].packets, 0u);
}

TEST_F(FlowTablesTest, CheckOverlap) {
  ok(add(0, 10, in_port(1), actions({})));
  FlowMod fm = add(0, 10, Match().set(Field::eth_type, 0x0800), actions({}));
  fm.flags = OFPFF_CHECK_OVERLAP;
  auto e = t_.apply(fm);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPFMFC_OVERLAP);
  fm.priority = 11;  // another priority never overlaps
  ok(fm);
  fm = add(0, 10, in_port(2), actions({}));
  fm.flags = OFPFF_CHECK_OVERLAP;
  ok(fm);  // disjoint
}

TEST_F(FlowTablesTest, ModifyNonStrictAndStrict) {
  ok(add(0, 10, in_port_vlan(1, 5), actions({Action::output(2)}), 0xa));
  ok(add(0, 20, in_port_vlan(1, 6), actions({Action::output(2)}), 0xb));
  ok(add(0, 30, in_port(2), actions({Action::output(2)}), 0xa));
  find(0, key(1, 5))->count(0, 1, 64);
  FlowMod m;
  m.command = FlowMod::Command::kModify;
  m.table = 0;
  m.match = in_port(1);
  m.ins = actions({Action::output(9)});
  m.cookie = 0xa;
  m.cookie_mask = ~0ull;  // selects by cookie, keeps it
  ok(m);
  EXPECT_EQ(find(0, key(1, 5))->ins.apply[0].port, 9u);
  EXPECT_EQ(find(0, key(1, 6))->ins.apply[0].port, 2u);  // cookie 0xb not selected
  EXPECT_EQ(find(0, key(2))->ins.apply[0].port, 2u);     // in_port=2 not within in_port=1
  auto d = t_.dump(strict_req(0, 10, in_port_vlan(1, 5)));
  EXPECT_EQ(d[0].packets, 1u);  // counters kept
  EXPECT_EQ(d[0].cookie, 0xau);
  // Strict: identical match and priority only.
  m.command = FlowMod::Command::kModifyStrict;
  m.match = in_port_vlan(1, 6);
  m.priority = 21;
  m.cookie_mask = 0;
  m.cookie = 0xc;
  ok(m);
  EXPECT_EQ(find(0, key(1, 6))->ins.apply[0].port, 2u);
  m.priority = 20;
  ok(m);
  EXPECT_EQ(find(0, key(1, 6))->ins.apply[0].port, 9u);
  EXPECT_EQ(find(0, key(1, 6))->cookie, 0xcu);  // no cookie mask: the cookie is set
  EXPECT_EQ(t_.n_rules(), 4u);
}

TEST_F(FlowTablesTest, ModifyWithoutMatchAddsOnlyInOpenFlow10) {
  FlowMod m;
  m.command = FlowMod::Command::kModify;
  m.match = in_port(7);
  m.priority = 40;
  m.ins = actions({Action::output(1)});
  ok(m);
  EXPECT_EQ(t_.n_rules(), 1u);
  m.modify_may_add = true;
  ok(m);
  EXPECT_EQ(t_.n_rules(), 2u);
  EXPECT_EQ(find(0, key(7))->priority, 40);
}

// Folsom's reclaim: "del-flows in_port=X,dl_vlan=Y" removes the translation
// flow and leaves the priority=2 drop of in_port=X alone.
TEST_F(FlowTablesTest, NonStrictDeleteRemovesOnlyRulesWithinTheMatch) {
  ok(add(0, 2, in_port(1), actions({})));
  ok(add(0, 4, in_port_vlan(1, 1), actions({Action::set_vlan_vid(2000), Action::output(OFPP_NORMAL)})));
  ok(del(0, in_port_vlan(1, 1)));
  ASSERT_EQ(t_.n_rules(), 2u);
  EXPECT_EQ(find(0, key(1, 1))->priority, 2);
  // An empty match deletes everything in the table.
  ok(del(0, Match()));
  EXPECT_EQ(t_.n_rules(), 0u);
  EXPECT_EQ(find(0, key(1)), nullptr);
}

TEST_F(FlowTablesTest, DeleteByCookieOnAllTables) {
  ok(add(0, 3, in_port(1), then_goto(59), 0xdead));
  ok(add(59, 0, Match(), then_goto(60), 0xdead));
  ok(add(60, 3, Match(), actions({Action::output(OFPP_NORMAL)}), 0xbeef));
  FlowMod d = del(OFPTT_ALL, Match());
  d.cookie = 0xdead;
  d.cookie_mask = ~0ull;
  ok(d);
  EXPECT_EQ(t_.n_rules(), 2u);  // 0xbeef and the default NORMAL rule (cookie 0)
  EXPECT_EQ(t_.n_rules(60), 1u);
}

TEST_F(FlowTablesTest, DeleteStrictAndOutPort) {
  ok(add(0, 5, in_port(1), actions({Action::output(2)})));
  ok(add(0, 6, in_port(1), actions({Action::output(3)})));
  ok(del_strict(0, 7, in_port(1)));
  EXPECT_EQ(t_.n_rules(0), 3u);
  FlowMod d = del(0, in_port(1));
  d.out_port = 3;
  ok(d);
  EXPECT_EQ(find(0, key(1))->priority, 5);
  ok(del_strict(0, 5, in_port(1)));
  EXPECT_EQ(find(0, key(1))->priority, 0);
}

TEST_F(FlowTablesTest, TimeoutsAndFlowRemoved) {
  FlowMod hard = add(1, 10, in_port(1), actions({}), 0x11);
  hard.hard_timeout = 10;
  hard.flags = OFPFF_SEND_FLOW_REM;
  FlowMod idle = add(1, 10, in_port(2), actions({}), 0x22);
  idle.idle_timeout = 5;
  idle.flags = OFPFF_SEND_FLOW_REM;
  ok(hard);
  ok(idle);
  for (int s = 0; s < 9; ++s) {
    clock_.ms += 1000;
    find(1, key(1))->count(0, 1, 64);
    find(1, key(2))->count(0, 1, 64);
    EXPECT_TRUE(t_.expire().empty()) << s;
  }
  clock_.ms += 1000;  // 10 s: hard timeout, however busy
  auto gone = t_.expire();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].reason, RemovedReason::kHardTimeout);
  EXPECT_EQ(gone[0].stats.cookie, 0x11u);
  EXPECT_EQ(gone[0].stats.packets, 9u);
  clock_.ms += 3000;  // idle for 4 s (last hit at 10 s)
  EXPECT_TRUE(t_.expire().empty());
  clock_.ms += 1000;  // 5 s idle
  gone = t_.expire();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].reason, RemovedReason::kIdleTimeout);
  EXPECT_EQ(t_.n_rules(1), 0u);
  // Deleted by a flow_mod: reason delete, only with send_flow_rem.
  FlowMod a = add(2, 1, in_port(3), actions({}));
  a.flags = OFPFF_SEND_FLOW_REM;
  ok(a);
  ok(add(2, 2, in_port(3), actions({})));
  ok(del(2, Match()));
  auto rem = t_.take_removed();
  ASSERT_EQ(rem.size(), 1u);
  EXPECT_EQ(rem[0].reason, RemovedReason::kDelete);
  EXPECT_TRUE(t_.take_removed().empty());
}

TEST_F(FlowTablesTest, BundleCommitsAtomically) {
  ok(add(0, 10, in_port(1), actions({Action::output(2)})));
  t_.bundle_open();
  ASSERT_FALSE(t_.bundle_add(del(0, in_port(1))));
  ASSERT_FALSE(t_.bundle_add(add(0, 11, in_port(1), actions({Action::output(3)}))));
  ASSERT_FALSE(t_.bundle_add(add(0, 12, in_port(2), actions({Action::output(4)}))));
  // Nothing is visible before the commit.
  EXPECT_EQ(find(0, key(1))->priority, 10);
  EXPECT_EQ(find(0, key(2))->priority, 0);
  ASSERT_FALSE(t_.bundle_commit());
  EXPECT_EQ(find(0, key(1))->priority, 11);
  EXPECT_EQ(find(0, key(2))->priority, 12);
  EXPECT_EQ(t_.n_rules(), 3u);
}

TEST_F(FlowTablesTest, FailingBundleChangesNothing) {
  ok(add(0, 10, in_port(1), actions({Action::output(2)})));
  const uint64_t v = t_.version();
  t_.bundle_open();
  ASSERT_FALSE(t_.bundle_add(del(0, Match())));
  ASSERT_FALSE(t_.bundle_add(add(0, 11, in_port(1), actions({Action::output(3)}))));
  auto e = t_.bundle_add(add(0, 12, Match().set(Field::tcp_dst, 1), actions({})));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBMC_BAD_PREREQ);
  EXPECT_FALSE(t_.bundle_is_open());
  EXPECT_EQ(t_.version(), v);
  EXPECT_EQ(t_.n_rules(), 2u);
  EXPECT_EQ(find(0, key(1))->priority, 10);
  EXPECT_EQ(find(0, key(3))->priority, 0);
  // And the tables keep working afterwards.
  ok(add(0, 13, in_port(1), actions({})));
  EXPECT_EQ(find(0, key(1))->priority, 13);
}

TEST_F(FlowTablesTest, DiscardedBundleChangesNothing) {
  t_.bundle_open();
  ASSERT_FALSE(t_.bundle_add(add(0, 11, in_port(1), actions({}))));
  ASSERT_FALSE(t_.bundle_add(del(0, Match())));
  t_.bundle_discard();
  EXPECT_EQ(t_.n_rules(), 1u);
  EXPECT_EQ(find(0, key(1))->priority, 0);
}

// OVS's conjunctive match (ovs-fields(7)): ip_src in {.1, .4} and ip_dst in
// {.2, .5} as two dimensions of conjunction 1234, resolved by conj_id=1234.
TEST_F(FlowTablesTest, ConjunctiveMatch) {
  auto ip = [] { return Match().set(Field::eth_type, 0x0800); };
  auto pkt = [](uint32_t src, uint32_t dst) {
    auto f = ipv4(0xbb, 0xaa, -1, 6, 0x0a000000 | src, 0x0a000000 | dst, 1, 2);
    FlowKey k;
    extract(f.data(), uint32_t(f.size()), 1, &k);
    return k;
  };
  auto out = [&](uint32_t src, uint32_t dst) {
    const Rule* r = find(0, pkt(src, dst));
    return r && !r->ins.apply.empty() ? r->ins.apply[0].port : 0u;
  };
  ok(add(0, 1, Match(), actions({Action::output(8)})));
  ok(add(0, 200, Match().set(Field::conj_id, 1234), actions({Action::output(9)})));
  for (uint32_t a : {1, 4})
    ok(add(0, 200, ip().set(Field::ipv4_src, 0x0a000000 | a), actions({Action::conjunction(1234, 1, 2)})));
  for (uint32_t a : {2, 5})
    ok(add(0, 200, ip().set(Field::ipv4_dst, 0x0a000000 | a), actions({Action::conjunction(1234, 2, 2)})));
  EXPECT_EQ(out(1, 2), 9u);
  EXPECT_EQ(out(4, 5), 9u);
  EXPECT_EQ(out(1, 3), 8u);  // one dimension only: not a match, lower priorities decide
  EXPECT_EQ(out(3, 2), 8u);
  // An ordinary rule above the clauses wins; one below them loses.
  ok(add(0, 300, ip().set(Field::ipv4_dst, 0x0a000005), actions({Action::output(7)})));
  ok(add(0, 150, ip().set(Field::ipv4_dst, 0x0a000002), actions({Action::output(6)})));
  EXPECT_EQ(out(4, 5), 7u);
  EXPECT_EQ(out(1, 2), 9u);
  EXPECT_EQ(out(3, 2), 6u);
  // A clause can belong to several conjunctions; a third dimension of
  // another id completes only with all three.
  ok(add(0, 250, ip().set(Field::ipv4_src, 0x0a000007),
         actions({Action::conjunction(77, 1, 3), Action::conjunction(1234, 1, 2)})));
  ok(add(0, 250, ip().set(Field::ip_proto, 6), actions({Action::conjunction(77, 2, 3)})));
  ok(add(0, 250, Match().set(Field::conj_id, 77), actions({Action::output(5)})));
  EXPECT_EQ(out(7, 9), 8u);  // 77 lacks dimension 3; 1234 at 250 has no dimension 2
  ok(add(0, 250, ip().set(Field::ipv4_dst, 0x0a000009), actions({Action::conjunction(77, 3, 3)})));
  EXPECT_EQ(out(7, 9), 5u);
  // Without its conj_id rule a conjunction acts as if it had not matched.
  ok(del_strict(0, 200, Match().set(Field::conj_id, 1234)));
  EXPECT_EQ(out(1, 2), 6u);
  // A clause does nothing else.
  auto e = t_.apply(add(0, 1, ip(), actions({Action::conjunction(1, 1, 2), Action::output(1)})));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBAC_BAD_ARGUMENT);
  e = t_.apply(add(0, 1, ip(), actions({Action::conjunction(1, 3, 2)})));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, OFPBAC_BAD_ARGUMENT);
}

// A reader that still holds an older version keeps seeing that version's
// rules until it passes a quiescent point.
TEST(FlowTablesVersions, OldVersionStaysReadableUntilGracePeriod) {
  Qsbr qsbr(1);
  qsbr.online(0);
  {
    FlowTables t(&qsbr);
    ASSERT_FALSE(t.apply(add(0, 10, in_port(1), actions({Action::output(2)}))));
    qsbr.quiescent(0);
    qsbr.poll();
    const uint64_t old_v = t.version();
    FlowKey k = zero_key();
    k.in_port = 1;
    ASSERT_FALSE(t.apply(del(0, in_port(1))));
    ASSERT_NE(t.lookup(0, k, old_v), nullptr);
    EXPECT_EQ(t.lookup(0, k, old_v)->priority, 10);
    EXPECT_EQ(t.lookup(0, k, t.version())->priority, 0);
    qsbr.poll();
    EXPECT_GT(qsbr.pending(), 0u);  // the reader has not passed a quiescent point
    qsbr.quiescent(0);
    qsbr.poll();  // unlinks
    qsbr.quiescent(0);
    qsbr.poll();  // frees
    EXPECT_EQ(t.lookup(0, k, t.version())->priority, 0);
  }
  qsbr.offline(0);
}

}  // namespace
}  // namespace trestle::flowtable
