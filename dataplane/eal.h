#pragma once
// Starting DPDK's EAL with defaults that run anywhere: no hugepages
// (--no-huge: memfd-backed memory that vhost-user peers can map), no shared
// config, a per-instance file prefix, no PCI scan unless PCI devices are
// named. Once per process.

#include <string>
#include <vector>

#include "base/result.h"

namespace trestle::dataplane {

struct EalConfig {
  std::string file_prefix;             // default: "trestle-<pid>"
  bool hugepages = false;              // use hugetlbfs instead of --no-huge
  unsigned memory_mb = 512;            // -m
  int control_core = -1;               // the EAL main lcore's CPU; -1: the first allowed CPU
  std::vector<std::string> pci_allow;  // PCI addresses to scan; empty: --no-pci
  std::vector<std::string> vdevs;      // --vdev arguments given at start
  std::string log_level = "*:notice";  // --log-level
  std::vector<std::string> extra;      // passed through verbatim (dpdk-extra)
};

// Builds the argv that eal_init passes to rte_eal_init (shown in logs/tests).
std::vector<std::string> eal_args(const EalConfig& cfg);

// Initialises the EAL once; later calls with any config return the first
// result.
Result<void> eal_init(const EalConfig& cfg);

bool eal_initialized();

// other_config:pmd-cpu-mask as OVS reads it: a hexadecimal CPU mask, with
// or without "0x" ("6" = CPUs 1 and 2). Errors name the bad input.
Result<std::vector<unsigned>> parse_cpu_mask(const std::string& mask);

// The CPUs this process could run on before the EAL pinned its main thread.
const std::vector<unsigned>& allowed_cpus();

}  // namespace trestle::dataplane
