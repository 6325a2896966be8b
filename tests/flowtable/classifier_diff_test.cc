// Differential test: random rules, random flow_mods and random packets; the
// tuple-space classifier behind FlowTables against a naive linear scan that
// applies the same flow_mod semantics. Seeded and reproducible.
#include <gtest/gtest.h>

#include <random>

#include "flowtable/flow_table.h"
#include "tests/flowtable/flowmods.h"

namespace trestle::flowtable {
namespace {

using namespace test;

struct RefRule {
  Match match;
  uint16_t priority;
  uint64_t cookie;
};

// The reference: a vector, scanned.
struct Reference {
  std::vector<RefRule> rules;
  void add(const Match& m, uint16_t prio, uint64_t cookie) {
    for (auto& r : rules)
      if (r.priority == prio && r.match == m) {
        r.cookie = cookie;
        return;
      }
    rules.push_back({m, prio, cookie});
  }
  void del(const Match& m, bool strict, uint16_t prio) {
    std::erase_if(rules, [&](const RefRule& r) {
      return strict ? (r.priority == prio && r.match == m) : r.match.within(m);
    });
  }
  // The best priority among matching rules, or -1.
  int best(const FlowKey& k) const {
    int b = -1;
    for (const auto& r : rules)
      if (r.match.matches(k) && r.priority > b) b = r.priority;
    return b;
  }
};

// A small value space, so that rules and packets collide often.
struct Gen {
  std::mt19937_64 rng;
  explicit Gen(uint64_t seed) : rng(seed) {}
  uint32_t pick(uint32_t n) { return static_cast<uint32_t>(rng() % n); }
  bool coin(unsigned pct) { return pick(100) < pct; }

  Match match() {
    Match m;
    if (coin(60)) m.set(Field::in_port, 1 + pick(4));
    if (coin(40)) {
      switch (pick(3)) {
        case 0: m.set(Field::vlan_vid, 0); break;
        case 1: m.set(Field::vlan_vid, kVlanPresent, kVlanPresent); break;
        default: m.set(Field::vlan_vid, kVlanPresent | (1 + pick(3))); break;
      }
    }
    if (coin(30)) m.set(Field::eth_dst, 0x0a + pick(3));
    if (coin(10)) m.set(Field::eth_dst, 0x010000000000ull, 0x010000000000ull);
    if (coin(20)) m.set(Field::reg6, pick(3));
    if (coin(50)) {
      m.set(Field::eth_type, 0x0800);
      if (coin(50)) {
        static const uint32_t masks[] = {0xff000000, 0xffff0000, 0xffffff00, 0xffffffff};
        m.set(Field::ipv4_dst, 0x0a000000 | pick(2) << 8 | pick(4), masks[pick(4)]);
      }
      if (coin(50)) {
        m.set(Field::ip_proto, coin(50) ? 6 : 17);
        if (coin(50)) m.set(m.get(Field::ip_proto) == 6 ? Field::tcp_dst : Field::udp_dst, 80 + pick(3));
      }
    } else if (coin(30)) {
      m.set(Field::eth_type, 0x0806);
      if (coin(50)) m.set(Field::arp_op, 1 + pick(2));
    }
    return m;
  }

  FlowKey key() {
    FlowKey k = zero_key();
    k.in_port = 1 + pick(5);
    const uint32_t v = pick(5);
    k.vlan_tci = v == 0 ? 0 : static_cast<uint16_t>(kVlanPresent | (v - 1));
    set_field(&k, Field::eth_dst, coin(10) ? 0x01005e000001ull : 0x0a + pick(4), ~u128{0});
    k.regs[6] = pick(4);
    const uint32_t t = pick(3);
    if (t == 0) {
      k.eth_type = 0x0800;
      k.nw_dst = 0x0a000000 | pick(3) << 8 | pick(5);
      k.nw_proto = coin(50) ? 6 : 17;
      k.tp_dst = static_cast<uint16_t>(79 + pick(5));
    } else if (t == 1) {
      k.eth_type = 0x0806;
      k.nw_proto = static_cast<uint8_t>(1 + pick(2));
    } else {
      k.eth_type = 0x86dd;
    }
    return k;
  }
};

void run_differential(uint64_t seed, bool ties) {
  Gen g(seed);
  Qsbr qsbr(1);  // the test thread is the only reader, quiescent between steps
  qsbr.online(0);
  FlowTables::Options o;
  o.default_normal = false;
  {
    FlowTables t(&qsbr, o);
    Reference ref;
    uint16_t next_unique = 1;
    size_t max_subtables = 0;
    for (int step = 0; step < 3000; ++step) {
      const unsigned op = g.pick(100);
      if (op < 60) {
        const Match m = g.match();
        const uint16_t prio = ties ? static_cast<uint16_t>(g.pick(8)) : next_unique++;
        const uint64_t cookie = g.pick(4);
        ASSERT_FALSE(t.apply(add(0, prio, m, actions({}), cookie)));
        ref.add(m, prio, cookie);
      } else if (op < 75) {
        // Delete by an existing rule's match (strict or not) or a random one.
        const bool strict = g.coin(50);
        Match m = g.match();
        uint16_t prio = static_cast<uint16_t>(g.pick(8));
        if (!ref.rules.empty() && g.coin(70)) {
          const RefRule& r = ref.rules[g.pick(uint32_t(ref.rules.size()))];
          m = r.match;
          prio = r.priority;
        }
        ASSERT_FALSE(t.apply(strict ? del_strict(0, prio, m) : del(0, m)));
        ref.del(m, strict, prio);
      }
      ASSERT_EQ(t.n_rules(0), ref.rules.size()) << "seed " << seed << " step " << step;
      for (int i = 0; i < 8; ++i) {
        const FlowKey k = g.key();
        const Rule* r = t.lookup(0, k, t.version());
        const int want = ref.best(k);
        ASSERT_EQ(r ? int(r->priority) : -1, want) << "seed " << seed << " step " << step;
        if (r) {
          ASSERT_TRUE(r->match.matches(k));
        }
      }
      max_subtables = std::max(max_subtables, t.n_subtables(0));
      qsbr.quiescent(0);
      qsbr.poll();
    }
    EXPECT_GT(max_subtables, 10u);
  }
  qsbr.offline(0);
  qsbr.run_all();
}

TEST(ClassifierDifferential, UniquePriorities) {
  for (uint64_t seed = 1; seed <= 4; ++seed) run_differential(seed, false);
}

TEST(ClassifierDifferential, SharedPriorities) {
  for (uint64_t seed = 11; seed <= 14; ++seed) run_differential(seed, true);
}

// The same with many rules in one subtable: growth, tombstones, reuse.
TEST(ClassifierDifferential, OneExactMaskManyRules) {
  ImmediateReclaimer rcu;
  FlowTables::Options o;
  o.default_normal = false;
  FlowTables t(&rcu, o);
  std::mt19937_64 rng(7);
  std::vector<bool> present(20000);
  for (int step = 0; step < 60000; ++step) {
    const uint32_t port = static_cast<uint32_t>(rng() % 5000);
    const uint16_t vid = static_cast<uint16_t>(rng() % 4);
    const bool on = rng() % 3 != 0;
    const Match m = in_port_vlan(port, vid);
    ASSERT_FALSE(t.apply(on ? add(0, 3, m, actions({})) : del_strict(0, 3, m)));
    present[port * 4 + vid] = on;
  }
  size_t n = 0;
  for (uint32_t port = 0; port < 5000; ++port)
    for (uint16_t vid = 0; vid < 4; ++vid) {
      FlowKey k = zero_key();
      k.in_port = port;
      k.vlan_tci = kVlanPresent | vid;
      ASSERT_EQ(t.lookup(0, k, t.version()) != nullptr, bool(present[port * 4 + vid]));
      n += present[port * 4 + vid];
    }
  EXPECT_EQ(t.n_rules(0), n);
  EXPECT_EQ(t.n_subtables(0), 1u);
}

}  // namespace
}  // namespace trestle::flowtable
