// The per-packet NORMAL fast path on synthetic frames, DPDK-free: parse,
// ingress VLAN, source learning check, destination lookup, forwarding
// decision and VLAN egress planning, over bursts of 32, across two bridges
// joined by a patch (the reference deployment's path). Beside each, a naive
// baseline: std::unordered_map MAC tables and per-packet heap-allocated
// output lists, as a straightforward switch would be written.
//
// Counters: ns/packet (from items_per_second) and cycles/packet (rdtsc).

#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <cstring>
#include <random>
#include <unordered_map>
#include <vector>

#include "vlan/mac_table.h"
#include "vlan/normal.h"
#include "vlan/port_vlan.h"
#include "vlan/tag.h"
#include "vlan/vlan_stack.h"

namespace trestle::vlan {
namespace {

constexpr int kBurst = 32;
constexpr uint64_t kRemote = 0x02000000aaaaull;

std::vector<std::vector<uint8_t>> make_frames(size_t n_macs) {
  std::vector<std::vector<uint8_t>> frames;
  for (size_t i = 0; i < std::max<size_t>(n_macs, kBurst); ++i) {
    uint64_t src = 0x020000000000ull + (i % n_macs);
    std::vector<uint8_t> f(64, 0);
    for (int b = 0; b < 6; ++b) f[b] = static_cast<uint8_t>(kRemote >> (40 - 8 * b));
    for (int b = 0; b < 6; ++b) f[6 + b] = static_cast<uint8_t>(src >> (40 - 8 * b));
    f[12] = 0x08;
    frames.push_back(f);
  }
  return frames;
}

void set_counters(benchmark::State& state, uint64_t cycles) {
  const double pkts = double(state.iterations()) * kBurst;
  state.SetItemsProcessed(static_cast<int64_t>(pkts));
  state.counters["cycles/pkt"] = double(cycles) / pkts;
}

// The reference deployment's two bridges: br-int {vm: access 1, patch: trunk},
// br-eth0 {patch: trunk, nic: trunk}. Port indices: 0 vm, 1 int-br-eth0,
// 2 phy-br-eth0, 3 eth0.
struct Topology {
  PortVlan vm = PortVlan::compile({"access", 1, {}}, "vm").value();
  PortVlan trunk = PortVlan::compile({"trunk", std::nullopt, {}}, "t").value();
  std::vector<NormalPort> br_int{{0, &vm}, {1, &trunk}};
  std::vector<NormalPort> br_eth0{{2, &trunk}, {3, &trunk}};
};

// 8< bench_normal
void BM_NormalTwoBridges(benchmark::State& state) {
  const size_t n_macs = static_cast<size_t>(state.range(0));
  Topology t;
  MacTable int_macs(static_cast<uint32_t>(n_macs * 2)), eth_macs(static_cast<uint32_t>(n_macs * 2));
  auto frames = make_frames(n_macs);
  for (size_t i = 0; i < n_macs; ++i) {
    uint64_t src = load_mac(frames[i].data() + 6);
    int_macs.learn(1, src, 0, 0);
    eth_macs.learn(1, src, 2, 0);
  }
  int_macs.learn(1, kRemote, 1, 0);
  eth_macs.learn(1, kRemote, 3, 0);
  NormalOutput out[4];
  size_t next = 0;
  uint64_t cycles = 0, emitted = 0;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    for (int i = 0; i < kBurst; ++i) {
      const auto& f = frames[next];
      next = next + 1 == frames.size() ? 0 : next + 1;
      const uint8_t* d = f.data();
      L2Header h = parse_l2(d, 64);
      VlanStack st = VlanStack::parse(d, 64);
      const uint64_t dst = load_mac(d), src = load_mac(d + 6);
      // br-int
      Ingress ig = t.vm.ingress(h);
      bool learn1 = int_macs.lookup_touch(ig.vlan, src, 0) != 0;
      int32_t l = int_macs.lookup(ig.vlan, dst);
      NormalResult r = normal_forward(t.br_int, 0, ig.vlan, l, &t.trunk, out);
      st.egress(out[0].tagged, ig.vlan);
      // across the patch into br-eth0
      Ingress ig2 = t.trunk.ingress(st.header());
      bool learn2 = eth_macs.lookup_touch(ig2.vlan, src, 0) != 2;
      int32_t l2 = eth_macs.lookup(ig2.vlan, dst);
      NormalResult r2 = normal_forward(t.br_eth0, 2, ig2.vlan, l2, &t.trunk, out);
      st.egress(out[0].tagged, ig2.vlan);
      emitted += r.n_out + r2.n_out + learn1 + learn2 + st.pushed;
    }
    cycles += __rdtsc() - t0;
  }
  benchmark::DoNotOptimize(emitted);
  set_counters(state, cycles);
}
// >8
BENCHMARK(BM_NormalTwoBridges)->Arg(1)->Arg(1000)->Arg(100000);

// Baseline: the same decisions with std::unordered_map keyed by (vlan, mac)
// and a std::vector of outputs per packet.
void BM_NormalTwoBridgesNaive(benchmark::State& state) {
  const size_t n_macs = static_cast<size_t>(state.range(0));
  Topology t;
  std::unordered_map<uint64_t, uint32_t> int_macs, eth_macs;
  auto key = [](uint16_t vlan, uint64_t mac) { return uint64_t{vlan} << 48 | mac; };
  auto frames = make_frames(n_macs);
  for (size_t i = 0; i < n_macs; ++i) {
    uint64_t src = load_mac(frames[i].data() + 6);
    int_macs[key(1, src)] = 0;
    eth_macs[key(1, src)] = 2;
  }
  int_macs[key(1, kRemote)] = 1;
  eth_macs[key(1, kRemote)] = 3;
  size_t next = 0;
  uint64_t cycles = 0, emitted = 0;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    for (int i = 0; i < kBurst; ++i) {
      const auto& f = frames[next];
      next = next + 1 == frames.size() ? 0 : next + 1;
      std::vector<uint8_t> pkt(f);  // a copy per packet, as a naive pipeline would
      const uint8_t* d = pkt.data();
      L2Header h = parse_l2(d, 64);
      const uint64_t dst = load_mac(d), src = load_mac(d + 6);
      Ingress ig = t.vm.ingress(h);
      for (auto* macs : {&int_macs, &eth_macs}) {
        auto it = macs->find(key(ig.vlan, src));
        emitted += it == macs->end();
        std::vector<uint32_t> outs;
        auto dit = macs->find(key(ig.vlan, dst));
        if (dit != macs->end()) outs.push_back(dit->second);
        emitted += outs.size();
      }
    }
    cycles += __rdtsc() - t0;
  }
  benchmark::DoNotOptimize(emitted);
  set_counters(state, cycles);
}
BENCHMARK(BM_NormalTwoBridgesNaive)->Arg(1)->Arg(1000)->Arg(100000);

// MAC lookups alone, random order over n entries: MacTable vs unordered_map.
void BM_MacLookup(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  MacTable t(n);
  std::vector<uint64_t> macs;
  for (uint32_t i = 0; i < n; ++i) {
    macs.push_back(0x020000000000ull + i * 7919ull);
    t.learn(1, macs.back(), i & 1023, 0);
  }
  std::shuffle(macs.begin(), macs.end(), std::mt19937(1));
  size_t next = 0;
  uint64_t cycles = 0, sum = 0;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    for (int i = 0; i < kBurst; ++i) {
      sum += static_cast<uint64_t>(t.lookup(1, macs[next]));
      next = next + 1 == macs.size() ? 0 : next + 1;
    }
    cycles += __rdtsc() - t0;
  }
  benchmark::DoNotOptimize(sum);
  set_counters(state, cycles);
}
BENCHMARK(BM_MacLookup)->Arg(1000)->Arg(100000);

void BM_MacLookupUnorderedMap(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  std::unordered_map<uint64_t, uint32_t> t;
  std::vector<uint64_t> macs;
  for (uint32_t i = 0; i < n; ++i) {
    macs.push_back(0x020000000000ull + i * 7919ull);
    t[uint64_t{1} << 48 | macs.back()] = i & 1023;
  }
  std::shuffle(macs.begin(), macs.end(), std::mt19937(1));
  size_t next = 0;
  uint64_t cycles = 0, sum = 0;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    for (int i = 0; i < kBurst; ++i) {
      auto it = t.find(uint64_t{1} << 48 | macs[next]);
      sum += it == t.end() ? 0 : it->second;
      next = next + 1 == macs.size() ? 0 : next + 1;
    }
    cycles += __rdtsc() - t0;
  }
  benchmark::DoNotOptimize(sum);
  set_counters(state, cycles);
}
BENCHMARK(BM_MacLookupUnorderedMap)->Arg(1000)->Arg(100000);

// VLAN push + pop on a 64-byte frame: moving 12 MAC bytes vs rebuilding the
// frame (the naive way: copy everything into a new buffer).
void BM_VlanPushPop(benchmark::State& state) {
  alignas(64) uint8_t buf[128] = {};
  uint64_t cycles = 0;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    for (int i = 0; i < kBurst; ++i) {
      push_tag(buf, static_cast<uint16_t>(i));
      benchmark::DoNotOptimize(buf);
      pop_tag(buf);
    }
    cycles += __rdtsc() - t0;
  }
  set_counters(state, cycles);
}
BENCHMARK(BM_VlanPushPop);

void BM_VlanPushPopNaive(benchmark::State& state) {
  std::vector<uint8_t> frame(64, 0);
  uint64_t cycles = 0;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    for (int i = 0; i < kBurst; ++i) {
      std::vector<uint8_t> tagged(frame.size() + 4);
      memcpy(tagged.data(), frame.data(), 12);
      tagged[12] = 0x81;
      tagged[14] = static_cast<uint8_t>(i);
      memcpy(tagged.data() + 16, frame.data() + 12, frame.size() - 12);
      benchmark::DoNotOptimize(tagged.data());
      std::vector<uint8_t> untagged(tagged.size() - 4);
      memcpy(untagged.data(), tagged.data(), 12);
      memcpy(untagged.data() + 12, tagged.data() + 16, untagged.size() - 12);
      frame.swap(untagged);
    }
    cycles += __rdtsc() - t0;
  }
  set_counters(state, cycles);
}
BENCHMARK(BM_VlanPushPopNaive);

}  // namespace
}  // namespace trestle::vlan

BENCHMARK_MAIN();
