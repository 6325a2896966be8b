// The OpenFlow classifier, DPDK-free: lookup cost per packet in bursts of 32
// at 1 to 1M rules spread over 1 to 64 distinct masks; flow_mod add and
// delete rates; lookup while a writer churns 100k flow_mods/s. Beside it the
// baselines: a naive linear scan (up to 10k rules) and, for the neutron
// pattern (one exact mask: in_port + vlan), std::unordered_map.
//
// Counters: ns/packet (from items_per_second), cycles/packet (rdtsc), and
// flow_mods/s for the writer benchmarks.

#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "flowtable/flow_table.h"

namespace trestle::flowtable {
namespace {

constexpr int kBurst = 32;

// Rule i of a table with `masks` masks: mask 0 is neutron's in_port +
// vlan_vid; the others add an IPv4 destination prefix (/1 ... /32) and
// alternate in_port, so every mask is distinct. Each mask gets its own
// priority, so lookups must weigh subtables against each other.
Match rule_match(uint32_t i, uint32_t masks) {
  const uint32_t m = i % masks;
  const uint32_t v = i / masks;
  Match r;
  r.set(Field::in_port, v & 0xffff).set(Field::vlan_vid, kVlanPresent | ((v >> 16) & 0xfff) | 1);
  if (m == 0) return r;
  r.set(Field::eth_type, 0x0800);
  const uint32_t plen = 1 + (m - 1) % 32;
  const uint32_t mask = plen == 32 ? ~0u : ~(~0u >> plen);
  r.set(Field::ipv4_dst, (v * 2654435761u) & mask, mask);
  if (m > 32) r.set(Field::eth_src, 0x020000000000ull + v);
  return r;
}

FlowKey key_for(uint32_t i, uint32_t masks) {
  const Match m = rule_match(i, masks);
  FlowKey k = m.value();
  k.eth_type = 0x0800;
  return k;
}

FlowTables::Options no_default() {
  FlowTables::Options o;
  o.default_normal = false;
  return o;
}

FlowMod add_of(uint32_t i, uint32_t masks) {
  FlowMod fm;
  fm.priority = static_cast<uint16_t>(100 + i % masks);
  fm.match = rule_match(i, masks);
  fm.ins.apply.push_back(Action::output(1 + i % 7));
  return fm;
}

void set_counters(benchmark::State& state, uint64_t cycles, uint64_t pkts) {
  state.SetItemsProcessed(static_cast<int64_t>(pkts));
  state.counters["cycles/pkt"] = double(cycles) / double(pkts);
  state.counters["ns/pkt"] = benchmark::Counter(double(pkts), benchmark::Counter::kIsRate |
                                                                  benchmark::Counter::kInvert);
}

// Runs `lookup(key)` over bursts of kBurst keys, timing each burst with
// rdtsc; `after_burst()` runs outside the timing.
template <typename Lookup, typename After>
void run_bursts(benchmark::State& state, const std::vector<FlowKey>& keys, Lookup lookup,
                After after_burst) {
  size_t at = 0;
  uint64_t cycles = 0, pkts = 0;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    for (int i = 0; i < kBurst; ++i) benchmark::DoNotOptimize(lookup(keys[(at + i) & 4095]));
    cycles += __rdtsc() - t0;
    pkts += kBurst;
    at += kBurst;
    after_burst();
  }
  set_counters(state, cycles, pkts);
}

// Keys to look up: 3 of 4 hit a rule, 1 of 4 misses every rule.
std::vector<FlowKey> make_keys(uint32_t rules, uint32_t masks) {
  std::mt19937 rng(1);
  std::vector<FlowKey> keys(4096);
  for (auto& k : keys) {
    k = key_for(rng() % rules, masks);
    if (rng() % 4 == 0) k.in_port ^= 0x10000;  // no rule has in_port above 0xffff
  }
  return keys;
}

// 8< bench_lookup
void BM_Lookup(benchmark::State& state) {
  const uint32_t rules = static_cast<uint32_t>(state.range(0));
  const uint32_t masks = static_cast<uint32_t>(state.range(1));
  ImmediateReclaimer rcu;
  FlowTables t(&rcu, no_default());
  for (uint32_t i = 0; i < rules; ++i) (void)t.apply(add_of(i, masks));
  const auto keys = make_keys(rules, masks);
  uint64_t hits = 0, looked = 0;
  const uint64_t v = t.version();
  run_bursts(state, keys, [&](const FlowKey& k) {
    const Rule* r = t.lookup(0, k, v);
    hits += r != nullptr;
    ++looked;
    return r;
  }, [] {});
  state.counters["subtables"] = double(t.n_subtables(0));
  state.counters["hit%"] = 100.0 * double(hits) / double(looked);
}
// >8
BENCHMARK(BM_Lookup)
    ->ArgsProduct({{1, 100, 10000, 100000, 1000000}, {1, 4, 16, 64}})
    ->ArgNames({"rules", "masks"});

// The naive reference: every rule's match tested, best priority kept.
void BM_LookupNaive(benchmark::State& state) {
  const uint32_t rules = static_cast<uint32_t>(state.range(0));
  const uint32_t masks = static_cast<uint32_t>(state.range(1));
  struct R {
    Match m;
    uint16_t prio;
  };
  std::vector<R> all;
  for (uint32_t i = 0; i < rules; ++i) all.push_back({rule_match(i, masks), add_of(i, masks).priority});
  const auto keys = make_keys(rules, masks);
  run_bursts(state, keys, [&](const FlowKey& k) {
    const R* best = nullptr;
    for (const R& r : all)
      if ((!best || r.prio > best->prio) && r.m.matches(k)) best = &r;
    return best;
  }, [] {});
}
BENCHMARK(BM_LookupNaive)->ArgsProduct({{1, 100, 10000}, {1, 4, 16, 64}})->ArgNames({"rules", "masks"});

// The neutron pattern's ideal: one std::unordered_map keyed by (in_port, vlan).
void BM_LookupUnorderedMap(benchmark::State& state) {
  const uint32_t rules = static_cast<uint32_t>(state.range(0));
  std::unordered_map<uint64_t, uint32_t> map;
  for (uint32_t i = 0; i < rules; ++i) {
    const FlowKey k = key_for(i, 1);
    map[uint64_t{k.in_port} << 16 | k.vlan_tci] = i;
  }
  const auto keys = make_keys(rules, 1);
  run_bursts(state, keys, [&](const FlowKey& k) {
    return map.find(uint64_t{k.in_port} << 16 | k.vlan_tci) != map.end();
  }, [] {});
}
BENCHMARK(BM_LookupUnorderedMap)->Arg(1)->Arg(100)->Arg(10000)->Arg(100000)->Arg(1000000)->ArgName("rules");

// flow_mod add rate into one table (neutron pattern), then delete rate.
void BM_FlowModAddDelete(benchmark::State& state) {
  const uint32_t rules = static_cast<uint32_t>(state.range(0));
  std::vector<FlowMod> adds;
  for (uint32_t i = 0; i < rules; ++i) adds.push_back(add_of(i, 1));
  double add_s = 0, del_s = 0;
  for (auto _ : state) {
    ImmediateReclaimer rcu;
    FlowTables t(&rcu, no_default());
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& fm : adds) (void)t.apply(fm);
    auto t1 = std::chrono::steady_clock::now();
    for (const auto& a : adds) {
      FlowMod d = a;
      d.command = FlowMod::Command::kDeleteStrict;
      (void)t.apply(d);
    }
    auto t2 = std::chrono::steady_clock::now();
    add_s += std::chrono::duration<double>(t1 - t0).count();
    del_s += std::chrono::duration<double>(t2 - t1).count();
    // The tables' destruction is part of neither rate.
  }
  state.counters["adds/s"] = double(rules) * double(state.iterations()) / add_s;
  state.counters["deletes/s"] = double(rules) * double(state.iterations()) / del_s;
}
BENCHMARK(BM_FlowModAddDelete)->Arg(10000)->Arg(100000)->Arg(1000000)->ArgName("rules")
    ->Unit(benchmark::kMillisecond)->Iterations(1);

// Lookups on a 100k-rule neutron table while another thread applies
// flow_mods (add + delete of other rules) at `rate` per second; rate 0 is
// the quiet baseline of the same run.
void BM_LookupUnderChurn(benchmark::State& state) {
  const uint32_t rules = 100000;
  const uint32_t rate = static_cast<uint32_t>(state.range(0));
  Qsbr qsbr(1);
  auto t = std::make_unique<FlowTables>(&qsbr, no_default());
  for (uint32_t i = 0; i < rules; ++i) (void)t->apply(add_of(i, 1));
  const auto keys = make_keys(rules, 1);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> applied{0};
  std::thread writer([&] {
    uint32_t n = 0;
    const auto start = std::chrono::steady_clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      if (rate == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      // Paced: catch up to rate * elapsed, in batches of 100.
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (double(n) >= el * rate) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        qsbr.poll();
        continue;
      }
      for (int j = 0; j < 100; ++j, ++n) {
        FlowMod fm = add_of(rules + (n / 2) % 50000, 1);
        if (n % 2) fm.command = FlowMod::Command::kDeleteStrict;
        (void)t->apply(fm);
      }
      qsbr.poll();
    }
    applied.store(n);
  });
  qsbr.online(0);
  const auto start = std::chrono::steady_clock::now();
  // The version is read once per burst, as a PMD does; quiescent after it.
  uint64_t v = t->version();
  run_bursts(state, keys, [&](const FlowKey& k) { return t->lookup(0, k, v); }, [&] {
    qsbr.quiescent(0);
    v = t->version();
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  qsbr.offline(0);
  stop.store(true);
  writer.join();
  qsbr.run_all();
  state.counters["flow_mods/s"] = double(applied.load()) / secs;
}
BENCHMARK(BM_LookupUnderChurn)->Arg(0)->Arg(100000)->ArgName("flow_mods_per_s")->UseRealTime();

}  // namespace
}  // namespace trestle::flowtable

BENCHMARK_MAIN();
