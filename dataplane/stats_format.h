#pragma once
// Human-readable renderings of the dataplane's statistics, in the layout of
// `ovs-appctl dpif-netdev/pmd-stats-show` so figures compare line by line.

#include <string>
#include <vector>

#include "dataplane/dataplane.h"

namespace trestle::dataplane {

std::string format_pmd_stats(const std::vector<PmdStats>& pmds);
// dpif-netdev/pmd-perf-show's summary (without the iteration histories):
// `seconds` is the measurement duration (since the last clear).
std::string format_pmd_perf(const std::vector<PmdStats>& pmds, double seconds);
// One line per port: rx/tx packets and bytes, drops, and each nonzero drop
// reason by name.
std::string format_port_stats(const std::string& name, const PortStats& st);

}  // namespace trestle::dataplane
