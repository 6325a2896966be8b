#include "tests/support/support.h"

#include <rte_mbuf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "dataplane/eal.h"

namespace trestle::testing {

rte_mempool* test_eal() {
  static rte_mempool* pool = nullptr;
  if (pool) return pool;
  dataplane::EalConfig cfg;
  cfg.file_prefix = "trestle-test-" + std::to_string(getpid());
  cfg.memory_mb = 768;
  cfg.log_level = "*:warning";
  auto r = dataplane::eal_init(cfg);
  if (!r) throw std::runtime_error(r.error().message);
  pool = rte_pktmbuf_pool_create("test_peers", 8192, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                 SOCKET_ID_ANY);
  if (!pool) throw std::runtime_error("cannot create the test mbuf pool");
  return pool;
}

int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = pclose(p);
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) out = "FAILED(" + std::to_string(rc) + "): " + out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/trestle-test-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace trestle::testing
