// The dataplane's per-burst fast path with real mbufs and ethdevs, without
// vhost: ports are DPDK ring devices (net_ring) fed and drained by the
// benchmark thread, and the PMD loop runs on that same thread, one iteration
// per burst of 32 (Dataplane::run_pmd_iteration). Beside it, the floor: the
// same feed and drain with plain io forwarding between the two ring ports
// (what dpdk-testpmd io does). The difference is what switching costs:
// parse, NORMAL lookups and learning checks, patch crossing, VLAN rewrite,
// output batching, counters.
//
// Each port is built from two rings (rte_eth_from_rings): the benchmark
// enqueues into the rx ring and dequeues from the tx ring, so nothing the
// switch sends comes back in.
//
// Counters: cycles/pkt (TSC cycles for feed + forward + drain, per packet)
// and items_per_second.

#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "bench/topology_flows.h"
#include "dataplane/dataplane.h"
#include "dataplane/eal.h"

namespace trestle::dataplane {
namespace {

constexpr int kBurst = 32;
constexpr uint64_t kSink = 0x02000000aaaaull, kSrcBase = 0x020100000000ull;
rte_mempool* g_pool = nullptr;

class Rig {
 public:
  // topology: "io" (no switch: the floor), "b1" (one bridge, two access
  // ports), "ref" (access port on br-int, patch, trunk on br-eth0), "b3"
  // (ref plus the neutron agent's VLAN 1 <-> 2000 flows).
  Rig(const std::string& topology, uint32_t n_macs) : n_macs_(n_macs), io_(topology == "io") {
    static int seq = 0;
    const std::string vm = make_port(seq++, &vm_rx_, &vm_tx_);
    const std::string nic = make_port(seq++, &nic_rx_, &nic_tx_);
    DataplaneConfig cfg;
    cfg.rundir = "/tmp";
    cfg.start_pmd_threads = false;
    cfg.pmd_cores = {static_cast<unsigned>(sched_getcpu())};
    dp_ = std::move(Dataplane::create(cfg).value());
    BridgeSettings bs;
    bs.mac_table_size = std::max<uint32_t>(n_macs * 2, 8192);
    const vlan::PortVlanSettings access1{"access", 1, {}}, trunk{"trunk", std::nullopt, {}};
    const bool two_bridges = topology == "ref" || topology == "b3";
    if (two_bridges) {
      ok(dp_->add_bridge("br-int", bs));
      ok(dp_->add_bridge("br-eth0", bs));
      ok(dp_->add_port("br-int", {"vm", "dpdk", {{"dpdk-devargs", vm}}, access1, {}}));
      ok(dp_->add_port("br-int", {"int-br-eth0", "patch", {{"peer", "phy-br-eth0"}}, {}, {}}));
      ok(dp_->add_port("br-eth0", {"phy-br-eth0", "patch", {{"peer", "int-br-eth0"}}, {}, {}}));
      ok(dp_->add_port("br-eth0", {"nic", "dpdk", {{"dpdk-devargs", nic}}, trunk, {}}));
    } else {
      ok(dp_->add_bridge("br0", bs));
      ok(dp_->add_port("br0", {"vm", "dpdk", {{"dpdk-devargs", vm}}, access1, {}}));
      ok(dp_->add_port("br0", {"nic", "dpdk", {{"dpdk-devargs", nic}}, access1, {}}));
    }
    for (const auto& [br, fms] : bench::topology_flows(topology, *dp_))
      if (auto e = dp_->flow_mods(br, fms)) throw std::runtime_error(e->message);
    rte_eth_dev_get_port_by_name(vm.c_str(), &vm_port_);
    rte_eth_dev_get_port_by_name(nic.c_str(), &nic_port_);
    frame_.assign(60, 0);
    for (int b = 0; b < 6; ++b) frame_[b] = static_cast<uint8_t>(kSink >> (40 - 8 * b));
    for (int b = 0; b < 6; ++b) frame_[6 + b] = static_cast<uint8_t>(kSrcBase >> (40 - 8 * b));
    frame_[12] = 0x08;
    if (!io_) {
      // The sink announces itself from the NIC side (tagged on the trunk).
      std::vector<uint8_t> hello(64, 0);
      for (int b = 0; b < 6; ++b) hello[6 + b] = static_cast<uint8_t>(kSink >> (40 - 8 * b));
      hello[0] = 0xff;
      memset(hello.data(), 0xff, 6);
      if (two_bridges) {
        // VLAN 1 on ref's wire; the provider VLAN 2000 (0x7d0) on b3's.
        hello[12] = 0x81;
        hello[14] = topology == "b3" ? 0x07 : 0;
        hello[15] = topology == "b3" ? 0xd0 : 1;
        hello[16] = 0x08;
      } else {
        hello[12] = 0x08;
      }
      rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
      memcpy(rte_pktmbuf_append(m, 64), hello.data(), 64);
      rte_ring_enqueue(nic_rx_, m);
      dp_->run_pmd_iteration(0);
      drain(vm_tx_);
      // Learn every source before timing.
      for (uint32_t i = 0; i < n_macs / kBurst + 64; ++i) {
        step();
        dp_->poll();
      }
      dp_->poll();
    }
  }

  // One burst in, forwarded, drained; returns packets that came out.
  uint32_t step() {
    rte_mbuf* pkts[kBurst];
    if (rte_pktmbuf_alloc_bulk(g_pool, pkts, kBurst) != 0) return 0;
    for (int i = 0; i < kBurst; ++i) {
      auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(pkts[i], 60));
      memcpy(d, frame_.data(), 60);
      const uint64_t src = kSrcBase + next_;
      next_ = next_ + 1 == n_macs_ ? 0 : next_ + 1;
      d[10] = static_cast<uint8_t>(src >> 8);
      d[11] = static_cast<uint8_t>(src);
      d[9] = static_cast<uint8_t>(src >> 16);
    }
    rte_ring_enqueue_bulk(vm_rx_, reinterpret_cast<void**>(pkts), kBurst, nullptr);
    if (io_) {
      rte_mbuf* rx[kBurst];
      const uint16_t n = rte_eth_rx_burst(vm_port_, 0, rx, kBurst);
      const uint16_t sent = rte_eth_tx_burst(nic_port_, 0, rx, n);
      for (uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(rx[i]);
    } else {
      dp_->run_pmd_iteration(0);
    }
    return drain(nic_tx_);
  }

  Dataplane& dp() { return *dp_; }

 private:
  static void ok(const Result<void>& r) {
    if (!r.ok()) {
      fprintf(stderr, "fastpath_bench: %s\n", r.error().message.c_str());
      abort();
    }
  }
  // A ring port whose rx and tx are distinct rings; returns its name.
  static std::string make_port(int seq, rte_ring** rx, rte_ring** tx) {
    // rte_eth_from_rings names the vdev "net_ring_<name>": the port's
    // dpdk-devargs.
    const std::string name = "fp" + std::to_string(seq);
    *rx = rte_ring_create((name + "rx").c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    *tx = rte_ring_create((name + "tx").c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rte_eth_from_rings(name.c_str(), rx, 1, tx, 1, SOCKET_ID_ANY) < 0) abort();
    return "net_ring_" + name;
  }

  uint32_t drain(rte_ring* r) {
    void* out[kBurst * 2];
    uint32_t total = 0, n;
    while ((n = rte_ring_dequeue_burst(r, out, kBurst * 2, nullptr)) > 0) {
      rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(out), n);
      total += n;
    }
    return total;
  }

  uint32_t n_macs_;
  bool io_;
  uint32_t next_ = 0;
  std::unique_ptr<Dataplane> dp_;
  uint16_t vm_port_ = 0, nic_port_ = 0;
  rte_ring *vm_rx_ = nullptr, *vm_tx_ = nullptr, *nic_rx_ = nullptr, *nic_tx_ = nullptr;
  std::vector<uint8_t> frame_;
};

void run(benchmark::State& state, const char* topology) {
  Rig rig(topology, static_cast<uint32_t>(state.range(0)));
  uint64_t cycles = 0, out = 0;
  for (auto _ : state) {
    const uint64_t t0 = rte_rdtsc();
    out += rig.step();
    cycles += rte_rdtsc() - t0;
  }
  const double pkts = double(state.iterations()) * kBurst;
  state.SetItemsProcessed(static_cast<int64_t>(pkts));
  state.counters["cycles/pkt"] = double(cycles) / pkts;
  state.counters["delivered"] = double(out) / pkts;  // 1.0: nothing lost
  if (getenv("FPBENCH_DEBUG") && std::string(topology) != "io")
    for (auto n : {"vm", "nic"}) {
      auto st = rig.dp().port_stats(n).value();
      fprintf(stderr, "%s rx %lu tx %lu rxdrop %lu txdrop %lu\n", n, st.rx_packets, st.tx_packets, st.rx_dropped, st.tx_dropped);
      for (size_t d = 0; d < kNumDrops; ++d) if (st.drops[d]) fprintf(stderr, "  %s %lu\n", std::string(kDropNames[d]).c_str(), st.drops[d]);
    }
}

void BM_IoForwardFloor(benchmark::State& state) { run(state, "io"); }
void BM_TrestleOneBridge(benchmark::State& state) { run(state, "b1"); }
void BM_TrestleReference(benchmark::State& state) { run(state, "ref"); }
void BM_TrestleNeutronFlows(benchmark::State& state) { run(state, "b3"); }
BENCHMARK(BM_IoForwardFloor)->Arg(1);
BENCHMARK(BM_TrestleOneBridge)->Arg(1);
BENCHMARK(BM_TrestleReference)->Arg(1)->Arg(100000);
BENCHMARK(BM_TrestleNeutronFlows)->Arg(1)->Arg(100000);

}  // namespace
}  // namespace trestle::dataplane

int main(int argc, char** argv) {
  trestle::dataplane::EalConfig eal;
  eal.file_prefix = "trestle-fpbench-" + std::to_string(getpid());
  eal.log_level = "*:error";
  if (auto r = trestle::dataplane::eal_init(eal); !r) {
    fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  trestle::dataplane::g_pool = rte_pktmbuf_pool_create("fpbench", 16384, 256, 0,
                                                       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
