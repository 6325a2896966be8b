#include "dataplane/stats_format.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <string>

namespace trestle::dataplane {
namespace {

template <typename... Args>
void appendf(std::string& out, const char* fmt, Args... args) {
  char buf[512];
  int n = snprintf(buf, sizeof(buf), fmt, args...);
  if (n > 0) out.append(buf, static_cast<size_t>(std::min<int>(n, sizeof(buf) - 1)));
}

}  // namespace

// 8< pmd-stats-show
std::string format_pmd_stats(const std::vector<PmdStats>& pmds) {
  // The fields and layout of OVS 3.1's dpif-netdev/pmd-stats-show, so tools
  // that read one read the other. "emc hits" are trestle's exact-match cache
  // hits; "megaflow hits" are its flow-table walks (trestle has no megaflow
  // cache and no upcalls: a miss walks the OpenFlow tables on the PMD).
  // Every packet makes one datapath pass.
  std::string out;
  auto section = [&](const PmdStats* p) {
    const uint64_t pkts = p ? p->packets : 0;
    appendf(out, "  packets received: %" PRIu64 "\n", pkts);
    appendf(out, "  packet recirculations: 0\n");
    appendf(out, "  avg. datapath passes per packet: %.02f\n", pkts ? 1.0 : 0.0);
    appendf(out, "  phwol hits: 0\n  mfex opt hits: 0\n  simple match hits: 0\n");
    appendf(out, "  emc hits: %" PRIu64 "\n  smc hits: 0\n", p ? p->emc_hits : 0);
    appendf(out, "  megaflow hits: %" PRIu64 "\n", p ? p->walks : 0);
    appendf(out, "  avg. subtable lookups per megaflow hit: 0.00\n");
    appendf(out, "  miss with success upcall: 0\n  miss with failed upcall: 0\n");
    appendf(out, "  avg. packets per output batch: %.02f\n",
            p && p->tx_batches ? double(p->tx_batch_packets) / double(p->tx_batches) : 0.0);
    if (!p) return;
    const uint64_t total = p->busy_cycles + p->idle_cycles;
    if (total == 0) return;
    appendf(out, "  idle cycles: %" PRIu64 " (%.02f%%)\n", p->idle_cycles,
            100.0 * double(p->idle_cycles) / double(total));
    appendf(out, "  processing cycles: %" PRIu64 " (%.02f%%)\n", p->busy_cycles,
            100.0 * double(p->busy_cycles) / double(total));
    if (pkts == 0) return;
    appendf(out, "  avg cycles per packet: %.02f (%" PRIu64 "/%" PRIu64 ")\n",
            double(total) / double(pkts), total, pkts);
    appendf(out, "  avg processing cycles per packet: %.02f (%" PRIu64 "/%" PRIu64 ")\n",
            p->cycles_per_packet(), p->busy_cycles, pkts);
  };
  for (const PmdStats& p : pmds) {
    appendf(out, "pmd thread numa_id 0 core_id %u:\n", p.core);
    section(&p);
  }
  out += "main thread:\n";
  section(nullptr);
  return out;
}
// >8

// 8< pmd-perf-show
std::string format_pmd_perf(const std::vector<PmdStats>& pmds, double seconds) {
  std::string out;
  char now[32];
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  localtime_r(&ts.tv_sec, &t);
  strftime(now, sizeof(now), "%H:%M:%S", &t);
  appendf(out, "\nTime: %s.%03ld\nMeasurement duration: %.3f s\n\n", now, ts.tv_nsec / 1000000, seconds);
  auto pct = [](uint64_t part, uint64_t whole) { return whole ? 100.0 * double(part) / double(whole) : 0.0; };
  for (const PmdStats& p : pmds) {
    const uint64_t used = p.busy_cycles + p.idle_cycles;
    const uint64_t total = static_cast<uint64_t>(seconds * double(p.tsc_hz));
    const uint64_t idle_it = p.iterations - p.busy_iterations;
    appendf(out, "pmd thread numa_id 0 core_id %u:\n\n", p.core);
    appendf(out, "  Iterations:         %12" PRIu64 "  (%.2f us/it)\n", p.iterations,
            p.iterations ? double(used) / double(p.tsc_hz) * 1e6 / double(p.iterations) : 0.0);
    appendf(out, "  - Used TSC cycles:  %12" PRIu64 "  (%5.1f %% of total cycles)\n", used, pct(used, total));
    appendf(out, "  - idle iterations:  %12" PRIu64 "  (%5.1f %% of used cycles)\n", idle_it, pct(p.idle_cycles, used));
    appendf(out, "  - busy iterations:  %12" PRIu64 "  (%5.1f %% of used cycles)\n", p.busy_iterations, pct(p.busy_cycles, used));
    appendf(out, "  - sleep iterations: %12d  (%5.1f %% of iterations)\n", 0, 0.0);
    appendf(out, "  Sleep time (us):    %12d  (%3d us/iteration avg.)\n", 0, 0);
    appendf(out, "  Rx packets:         %12" PRIu64 "  (%.0f Kpps, %.0f cycles/pkt)\n", p.packets,
            seconds > 0 ? double(p.packets) / seconds / 1000 : 0.0, p.cycles_per_packet());
    appendf(out, "  Datapath passes:    %12" PRIu64 "  (%.2f passes/pkt)\n", p.packets, p.packets ? 1.0 : 0.0);
    for (const char* cache : {"PHWOL hits", "MFEX Opt hits", "Simple Match hits", "EMC hits", "SMC hits"})
      appendf(out, "  - %-18s%12d  (%5.1f %%)\n", (std::string(cache) + ":").c_str(), 0, 0.0);
    appendf(out, "  - Megaflow hits:    %12d  (%5.1f %%, %.2f subtbl lookups/hit)\n", 0, 0.0, 0.0);
    appendf(out, "  - Upcalls:          %12d  (%5.1f %%, %.1f us/upcall)\n", 0, 0.0, 0.0);
    appendf(out, "  - Lost upcalls:     %12d  (%5.1f %%)\n", 0, 0.0);
    appendf(out, "  Tx packets:         %12" PRIu64 "  (%.0f Kpps)\n", p.tx_batch_packets,
            seconds > 0 ? double(p.tx_batch_packets) / seconds / 1000 : 0.0);
    appendf(out, "  Tx batches:         %12" PRIu64 "  (%.2f pkts/batch)\n", p.tx_batches,
            p.tx_batches ? double(p.tx_batch_packets) / double(p.tx_batches) : 0.0);
    out += "\n";
  }
  return out;
}
// >8

std::string format_port_stats(const std::string& name, const PortStats& st) {
  std::string out;
  appendf(out, "  %-14s rx %10" PRIu64 " pkts %12" PRIu64 " bytes  tx %10" PRIu64
          " pkts %12" PRIu64 " bytes  rx_dropped %" PRIu64 "  tx_dropped %" PRIu64 "  link %s\n",
          name.c_str(), st.rx_packets, st.rx_bytes, st.tx_packets, st.tx_bytes, st.rx_dropped,
          st.tx_dropped, st.link_up ? "up" : "down");
  for (size_t d = 0; d < kNumDrops; ++d)
    if (st.drops[d])
      appendf(out, "  %-14s   drop %-24s %" PRIu64 "  (%s)\n", "", std::string(kDropNames[d]).c_str(),
              st.drops[d], std::string(kDropHelp[d]).c_str());
  return out;
}

}  // namespace trestle::dataplane
