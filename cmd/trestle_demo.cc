// trestle-demo: the reference deployment with traffic, in one process.
//
//   VM (virtio-user) ══ vhu-vm1 (access, tag 1) ╗
//   DHCP namespace ═══ tapdhcp (internal, tag 1) ╣ br-int ═ int-br-eth0/phy-br-eth0 ═ br-eth0 ╣ eth0 (trunk)
//                                                                                    "the wire": a virtio-user peer
//
// The VM and "the wire" are DPDK virtio-user devices driven from this
// process's main thread (the generator core); the switch's PMD runs on the
// other core. Prints what each side received, with VLAN tags, then per-port
// and per-PMD statistics and the MAC tables.

#include <getopt.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "bench/peer/virtio_peer.h"
#include "dataplane/dataplane.h"
#include "dataplane/eal.h"
#include "dataplane/stats_format.h"

using namespace trestle;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kVmMac = 0x020000000001ull;
constexpr uint64_t kRemoteMac = 0x02000000aaaaull;

void must(const Result<void>& r) {
  if (!r.ok()) {
    fprintf(stderr, "trestle-demo: %s\n", r.error().message.c_str());
    exit(1);
  }
}

std::string tags(const peer::VirtioPeer::RxCount& c) {
  std::string s;
  for (auto [vid, n] : c.by_vid)
    s += (s.empty() ? "" : ", ") + (vid < 0 ? std::string("untagged") : "VLAN " + std::to_string(vid)) +
         " x" + std::to_string(n);
  return s.empty() ? "nothing" : s;
}

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  static option opts[] = {{"seconds", required_argument, nullptr, 's'},
                          {"help", no_argument, nullptr, 'h'},
                          {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "s:h", opts, nullptr)) != -1;) {
    if (c == 's') seconds = atof(optarg);
    else {
      printf("usage: trestle-demo [--seconds N]\n  Runs the reference deployment with traffic and "
             "prints what flowed. Needs root.\n");
      return c == 'h' ? 0 : 2;
    }
  }

  dataplane::EalConfig eal;
  eal.file_prefix = "trestle-demo-" + std::to_string(getpid());
  eal.log_level = "*:error";
  must(dataplane::eal_init(eal));
  rte_mempool* gen_pool =
      rte_pktmbuf_pool_create("demo_gen", 8192, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);

  char tmpl[] = "/tmp/trestle-demo-XXXXXX";
  const std::string rundir = mkdtemp(tmpl);
  dataplane::DataplaneConfig cfg;
  cfg.rundir = rundir;
  auto dpr = dataplane::Dataplane::create(cfg);
  if (!dpr.ok()) {
    fprintf(stderr, "trestle-demo: %s\n", dpr.error().message.c_str());
    return 1;
  }
  auto& dp = *dpr.value();
  dp.start_control_thread();

  printf("== trestle demo: the reference deployment (run dir %s)\n", rundir.c_str());
  must(dp.add_bridge("br-int"));
  must(dp.add_bridge("br-eth0"));
  must(dp.add_port("br-int", {"vhu-vm1", "dpdkvhostuser", {}, {std::nullopt, 1, {}}, {}}));
  must(dp.add_port("br-int", {"int-br-eth0", "patch", {{"peer", "phy-br-eth0"}}, {}, {}}));
  must(dp.add_port("br-eth0", {"phy-br-eth0", "patch", {{"peer", "int-br-eth0"}}, {}, {}}));
  must(dp.add_port("br-eth0", {"eth0", "dpdkvhostuser", {}, {"trunk", std::nullopt, {}}, {}}));
  const std::string ns = "qdhcp-demo-" + std::to_string(getpid());
  const std::string tap = "tapdhcp" + std::to_string(getpid() % 10000);
  must(dp.add_port("br-int", {tap, "internal", {}, {std::nullopt, 1, {}}, {}}));
  sh("ip netns add " + ns + " && ip link set " + tap + " netns " + ns + " && ip -n " + ns +
     " link set " + tap + " up");
  printf("br-int : vhu-vm1 (dpdkvhostuser, tag=1), %s (internal, tag=1, in netns %s), int-br-eth0 (patch)\n",
         tap.c_str(), ns.c_str());
  printf("br-eth0: phy-br-eth0 (patch), eth0 (the NIC: trunk, all VLANs)\n\n");

  auto vm = peer::VirtioPeer::open(rundir + "/vhu-vm1", false, gen_pool);
  auto wire = peer::VirtioPeer::open(rundir + "/eth0", false, gen_pool);
  if (!vm->wait_link() || !wire->wait_link()) {
    fprintf(stderr, "trestle-demo: vhost-user links did not come up\n");
    return 1;
  }

  // 1. The VM broadcasts (as an ARP request would).
  vm->send({peer::make_frame(0xffffffffffffull, kVmMac)});
  auto got = wire->receive(1);
  printf("1. VM -> broadcast        : the wire got %zu frame(s), %s\n", got.size(),
         got.empty() ? "-" : (peer::frame_vid(got[0]) ? "tagged VLAN " + std::to_string(*peer::frame_vid(got[0])) : "untagged").c_str());
  // 2. The wire answers on VLAN 1, then tries VLAN 2.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  wire->send({peer::make_frame(kVmMac, kRemoteMac, {1})});
  got = vm->receive(1);
  printf("2. wire VLAN 1 -> VM      : the VM got %zu frame(s), %s\n", got.size(),
         got.empty() ? "-" : (peer::frame_vid(got[0]) ? "tagged" : "untagged"));
  wire->send({peer::make_frame(kVmMac, kRemoteMac, {2})});
  got = vm->drain(100);
  printf("3. wire VLAN 2 -> VM      : the VM got %zu frame(s) (VLAN 2 is not the VM's network)\n\n", got.size());

  // 3. Load, both directions, 64-byte frames, for `seconds`.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  dp.clear_pmd_stats();
  const peer::Frame up = peer::make_frame(kRemoteMac, kVmMac, {}, 60);  // 64 on the wire with FCS
  const peer::Frame down = peer::make_frame(kVmMac, kRemoteMac, {1}, 64);
  peer::VirtioPeer::RxCount at_wire, at_vm;
  uint64_t sent_up = 0, sent_down = 0;
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    sent_up += vm->tx_copies(up, 32);
    sent_down += wire->tx_copies(down, 32);
    wire->rx_count(at_wire);
    vm->rx_count(at_vm);
  }
  const double el = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto drain_end = Clock::now() + std::chrono::milliseconds(200); Clock::now() < drain_end;) {
    wire->rx_count(at_wire);
    vm->rx_count(at_vm);
  }
  printf("4. load for %.1f s (generator and sinks share one core):\n", el);
  printf("   VM   -> wire: sent %" PRIu64 ", received %" PRIu64 " (%.2f Mpps): %s\n", sent_up,
         at_wire.packets, double(at_wire.packets) / el / 1e6, tags(at_wire).c_str());
  printf("   wire -> VM  : sent %" PRIu64 ", received %" PRIu64 " (%.2f Mpps): %s\n\n", sent_down,
         at_vm.packets, double(at_vm.packets) / el / 1e6, tags(at_vm).c_str());

  printf("== per-port statistics\n");
  for (const auto& br : dp.bridges()) {
    printf("%s:\n", br.c_str());
    for (const auto& p : dp.ports(br))
      if (auto st = dp.port_stats(p); st.ok())
        printf("%s", dataplane::format_port_stats(p, st.value()).c_str());
  }
  const auto pmds = dp.pmd_stats();
  printf("\n== per-PMD statistics (as ovs-appctl dpif-netdev/pmd-stats-show)\n%s",
         dataplane::format_pmd_stats(pmds).c_str());
  for (const auto& p : pmds)
    printf("  (core %u: %" PRIu64 " MAC-learning events, %" PRIu64 " dropped on a full queue)\n", p.core,
           p.learn_events, p.learn_queue_full);
  printf("\n");
  printf("== MAC tables\n");
  for (const auto& br : dp.bridges()) {
    printf("%s:\n  port            VLAN  MAC                Age\n", br.c_str());
    auto table = dp.mac_table(br);
    if (!table.ok()) continue;
    for (const auto& e : table.value())
      printf("  %-14s %5u  %02" PRIx64 ":%02" PRIx64 ":%02" PRIx64 ":%02" PRIx64 ":%02" PRIx64
             ":%02" PRIx64 "  %u\n",
             e.port.c_str(), e.vlan, e.mac >> 40 & 0xff, e.mac >> 32 & 0xff, e.mac >> 24 & 0xff,
             e.mac >> 16 & 0xff, e.mac >> 8 & 0xff, e.mac & 0xff, e.age_sec);
  }
  printf("\nThe NIC carries the local VLAN (1). Translating it to the provider VLAN (2000)\n"
         "takes the neutron agent's OpenFlow rules, which the flow tables issue adds.\n");

  const bool ok = at_wire.packets > 0 && at_vm.packets > 0 && at_wire.by_vid.size() == 1 &&
                  at_wire.by_vid.count(1) && at_vm.by_vid.size() == 1 && at_vm.by_vid.count(-1);
  vm.reset();
  wire.reset();
  sh("ip netns del " + ns + " 2>/dev/null");
  dpr.value().reset();
  std::filesystem::remove_all(rundir);
  printf("%s\n", ok ? "demo: OK (every frame carried the right tag)" : "demo: FAILED");
  return ok ? 0 : 1;
}
