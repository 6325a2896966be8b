#include "dataplane/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>
#include <unistd.h>

#include <mutex>

namespace trestle::dataplane {
namespace {

std::once_flag g_once;
bool g_ok = false;
std::string g_error;
std::vector<unsigned> g_allowed;  // the process's CPUs before the EAL pinned it

std::vector<unsigned> current_cpus() {
  std::vector<unsigned> out;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) out.push_back(c);
  if (out.empty()) out.push_back(0);
  return out;
}

int first_allowed_cpu() { return static_cast<int>(allowed_cpus().front()); }

}  // namespace

std::vector<std::string> eal_args(const EalConfig& cfg) {
  std::vector<std::string> a = {"trestle"};
  int core = cfg.control_core >= 0 ? cfg.control_core : first_allowed_cpu();
  a.push_back("-l");
  a.push_back(std::to_string(core));
  a.push_back("--file-prefix=" +
              (cfg.file_prefix.empty() ? "trestle-" + std::to_string(getpid()) : cfg.file_prefix));
  if (!cfg.hugepages) {
    // --no-huge implies legacy memory, which excludes --in-memory; --no-shconf
    // keeps the run dir free of shared config all the same.
    a.push_back("--no-huge");
    a.push_back("--no-shconf");
  }
  a.push_back("-m");
  a.push_back(std::to_string(cfg.memory_mb));
  if (cfg.pci_allow.empty()) {
    a.push_back("--no-pci");
  } else {
    for (const auto& p : cfg.pci_allow) a.push_back("--allow=" + p);
  }
  for (const auto& v : cfg.vdevs) a.push_back("--vdev=" + v);
  a.push_back("--log-level=" + cfg.log_level);
  for (const auto& e : cfg.extra) a.push_back(e);
  return a;
}

Result<void> eal_init(const EalConfig& cfg) {
  std::call_once(g_once, [&] {
    allowed_cpus();  // remember them before rte_eal_init pins this thread
    // Static: the EAL may keep pointers into its argv.
    static std::vector<std::string> args;
    args = eal_args(cfg);
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
    if (rc < 0) {
      g_error = std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno);
    } else {
      g_ok = true;
    }
  });
  if (!g_ok) return make_error(g_error);
  return {};
}

bool eal_initialized() { return g_ok; }

Result<std::vector<unsigned>> parse_cpu_mask(const std::string& mask) {
  std::string hex = mask;
  if (hex.size() > 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) hex = hex.substr(2);
  if (hex.empty() || hex.size() > 256)
    return make_error("pmd-cpu-mask \"" + mask + "\" is not a hexadecimal CPU mask");
  std::vector<unsigned> cpus;
  for (size_t i = 0; i < hex.size(); ++i) {
    const char c = hex[hex.size() - 1 - i];
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return make_error("pmd-cpu-mask \"" + mask + "\" is not a hexadecimal CPU mask");
    for (unsigned b = 0; b < 4; ++b)
      if (v >> b & 1) cpus.push_back(static_cast<unsigned>(i * 4 + b));
  }
  if (cpus.empty()) return make_error("pmd-cpu-mask \"" + mask + "\" names no CPU");
  return cpus;
}

const std::vector<unsigned>& allowed_cpus() {
  if (g_allowed.empty()) g_allowed = current_cpus();
  return g_allowed;
}

}  // namespace trestle::dataplane
