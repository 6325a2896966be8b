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

std::string format_pmd_stats(const std::vector<PmdStats>& pmds) {
  std::string out;
  for (const PmdStats& p : pmds) {
    appendf(out, "pmd thread numa_id 0 core_id %u:\n", p.core);
    appendf(out, "  packets received: %" PRIu64 "\n", p.packets);
    appendf(out, "  learning events: %" PRIu64 " (queue full: %" PRIu64 ")\n", p.learn_events,
            p.learn_queue_full);
    const uint64_t total = p.busy_cycles + p.idle_cycles;
    if (total == 0) continue;
    appendf(out, "  idle cycles: %" PRIu64 " (%.02f%%)\n", p.idle_cycles,
            100.0 * double(p.idle_cycles) / double(total));
    appendf(out, "  processing cycles: %" PRIu64 " (%.02f%%)\n", p.busy_cycles,
            100.0 * double(p.busy_cycles) / double(total));
    if (p.packets == 0) continue;
    appendf(out, "  avg cycles per packet: %.02f (%" PRIu64 "/%" PRIu64 ")\n",
            double(total) / double(p.packets), total, p.packets);
    appendf(out, "  avg processing cycles per packet: %.02f (%" PRIu64 "/%" PRIu64 ")\n",
            p.cycles_per_packet(), p.busy_cycles, p.packets);
  }
  return out;
}

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
