// Readers classify while the writer adds, modifies and deletes rules and
// commits bundles. Every reader checks that within one version all keys
// resolve to the same generation (a bundle is seen whole or not at all) and
// that a key that always has a rule never misses. Under ASan this also
// checks that nothing is freed while a reader can still reach it.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "flowtable/flow_table.h"
#include "tests/flowtable/flowmods.h"

namespace trestle::flowtable {
namespace {

using namespace test;

constexpr unsigned kReaders = 2;
constexpr uint32_t kKeys = 64;

FlowKey key_for(uint32_t i) {
  FlowKey k = zero_key();
  k.in_port = i;
  k.vlan_tci = kVlanPresent | 100;
  k.eth_type = 0x0800;
  k.nw_dst = 0x0a000000 | i;
  return k;
}

// Generation g's rule for key i: alternating masks, so that subtables come
// and go as generations replace each other.
Match match_for(uint32_t i, uint64_t g) {
  Match m = in_port_vlan(i, 100);
  if (g % 2) m.set(Field::eth_type, 0x0800).set(Field::ipv4_dst, 0x0a000000 | i);
  return m;
}

TEST(FlowTablesConcurrency, ReadersSeeWholeBundlesAndNeverMiss) {
  Qsbr qsbr(kReaders);
  FlowTables::Options o;
  o.default_normal = false;
  o.n_counter_slots = kReaders;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0}, versions_seen{0};
  std::atomic<int> failures{0};
  {
    FlowTables t(&qsbr, o);
    for (uint32_t i = 0; i < kKeys; ++i)
      ASSERT_FALSE(t.apply(add(0, 100, match_for(i, 0), actions({}), 0)));
    std::vector<std::thread> readers;
    for (unsigned r = 0; r < kReaders; ++r) {
      readers.emplace_back([&, r] {
        qsbr.online(r);
        uint64_t last_gen = 0, last_v = 0, n = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          const uint64_t v = t.version();
          uint64_t gen = UINT64_MAX;
          for (uint32_t i = 0; i < kKeys; ++i) {
            const Rule* rule = t.lookup(0, key_for(i), v);
            ++n;
            if (!rule) {
              failures.fetch_add(1);
              continue;
            }
            rule->count(r, 1, 64);
            if (gen == UINT64_MAX) gen = rule->cookie;
            if (rule->cookie != gen || !rule->match.matches(key_for(i))) failures.fetch_add(1);
          }
          if (gen < last_gen) failures.fetch_add(1);  // versions only move forward
          last_gen = gen;
          if (v != last_v) versions_seen.fetch_add(1, std::memory_order_relaxed);
          last_v = v;
          qsbr.quiescent(r);
        }
        lookups.fetch_add(n);
        qsbr.offline(r);
      });
    }
    std::mt19937_64 rng(3);
    for (uint64_t g = 1; g <= 1500; ++g) {
      // One bundle replaces every key's rule with generation g's.
      t.bundle_open();
      for (uint32_t i = 0; i < kKeys; ++i) {
        ASSERT_FALSE(t.bundle_add(del_strict(0, 100, match_for(i, g - 1))));
        ASSERT_FALSE(t.bundle_add(add(0, 100, match_for(i, g), actions({}), g)));
      }
      ASSERT_FALSE(t.bundle_commit());
      // Unrelated churn: single flow_mods with other masks and priorities.
      for (int j = 0; j < 20; ++j) {
        const uint32_t p = 1000 + static_cast<uint32_t>(rng() % 500);
        Match m = in_port(p);
        if (rng() % 2) m.set(Field::eth_dst, rng() % 7);
        ASSERT_FALSE(t.apply(rng() % 3 ? add(0, uint16_t(rng() % 200), m, actions({})) : del(0, m)));
      }
      // A modify of generation g's rules that keeps them (new instructions).
      if (g % 10 == 0) {
        FlowMod m;
        m.command = FlowMod::Command::kModify;
        m.table = 0;
        m.ins = actions({Action::output(1)});
        m.cookie = g;
        m.cookie_mask = ~0ull;
        ASSERT_FALSE(t.apply(m));
      }
      qsbr.poll();
    }
    stop.store(true);
    for (auto& th : readers) th.join();
    qsbr.poll();
  }
  qsbr.run_all();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(lookups.load(), 0u);
  std::printf("lookups %llu, versions seen by readers %llu\n",
              static_cast<unsigned long long>(lookups.load()),
              static_cast<unsigned long long>(versions_seen.load()));
}

}  // namespace
}  // namespace trestle::flowtable
