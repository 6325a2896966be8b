#include "dataplane/stats_format.h"

#include <gtest/gtest.h>

namespace trestle::dataplane {
namespace {

PmdStats sample() {
  PmdStats p;
  p.core = 1;
  p.iterations = 1000;
  p.busy_iterations = 250;
  p.busy_cycles = 3'000'000;
  p.idle_cycles = 1'000'000;
  p.packets = 10'000;
  p.tx_batches = 400;
  p.tx_batch_packets = 10'000;
  p.tsc_hz = 2'000'000'000;
  return p;
}

TEST(StatsFormat, PmdStatsShowAsOvsPrintsIt) {
  std::string s = format_pmd_stats({sample()});
  EXPECT_NE(s.find("pmd thread numa_id 0 core_id 1:\n  packets received: 10000\n"), std::string::npos);
  EXPECT_NE(s.find("  avg. packets per output batch: 25.00\n"), std::string::npos);
  EXPECT_NE(s.find("  idle cycles: 1000000 (25.00%)\n  processing cycles: 3000000 (75.00%)\n"), std::string::npos);
  EXPECT_NE(s.find("  avg cycles per packet: 400.00 (4000000/10000)\n"), std::string::npos);
  EXPECT_NE(s.find("  avg processing cycles per packet: 300.00 (3000000/10000)\n"), std::string::npos);
  EXPECT_NE(s.find("main thread:\n  packets received: 0\n"), std::string::npos);
}

TEST(StatsFormat, PmdStatsShowWithoutTrafficStopsEarly) {
  PmdStats idle;
  idle.core = 3;
  std::string s = format_pmd_stats({idle});
  EXPECT_NE(s.find("core_id 3:"), std::string::npos);
  EXPECT_EQ(s.find("avg processing cycles per packet"), std::string::npos);
}

TEST(StatsFormat, PmdPerfShow) {
  std::string s = format_pmd_perf({sample()}, 0.004);  // 8,000,000 TSC cycles
  EXPECT_NE(s.find("Measurement duration: 0.004 s"), std::string::npos);
  EXPECT_NE(s.find("  Iterations:                 1000  (2.00 us/it)\n"), std::string::npos);
  EXPECT_NE(s.find("  - Used TSC cycles:       4000000  ( 50.0 % of total cycles)\n"), std::string::npos);
  EXPECT_NE(s.find("  - busy iterations:           250  ( 75.0 % of used cycles)\n"), std::string::npos);
  EXPECT_NE(s.find("  Rx packets:                10000  (2500 Kpps, 300 cycles/pkt)\n"), std::string::npos);
  EXPECT_NE(s.find("  Tx batches:                  400  (25.00 pkts/batch)\n"), std::string::npos);
}

TEST(StatsFormat, PortStatsNameEveryDropReason) {
  PortStats st;
  st.rx_packets = 5;
  st.drops[static_cast<size_t>(Drop::runt)] = 2;
  st.rx_dropped = 2;
  std::string s = format_port_stats("vhu1", st);
  EXPECT_NE(s.find("vhu1"), std::string::npos);
  EXPECT_NE(s.find("drop runt"), std::string::npos);
  EXPECT_NE(s.find("frame shorter than an Ethernet header"), std::string::npos);
  EXPECT_EQ(s.find("drop oversize"), std::string::npos);
}

}  // namespace
}  // namespace trestle::dataplane
