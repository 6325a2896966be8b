#include "dataplane/stats_format.h"

#include <cinttypes>
#include <cstdio>

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
  // that read one read the other. trestle has no EMC, SMC or megaflow
  // cache (yet): those counters are honestly zero, and every packet makes
  // one datapath pass.
  std::string out;
  auto section = [&](const PmdStats* p) {
    const uint64_t pkts = p ? p->packets : 0;
    appendf(out, "  packets received: %" PRIu64 "\n", pkts);
    appendf(out, "  packet recirculations: 0\n");
    appendf(out, "  avg. datapath passes per packet: %.02f\n", pkts ? 1.0 : 0.0);
    appendf(out, "  phwol hits: 0\n  mfex opt hits: 0\n  simple match hits: 0\n");
    appendf(out, "  emc hits: 0\n  smc hits: 0\n  megaflow hits: 0\n");
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
