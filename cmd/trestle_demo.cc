// trestle-demo: the reference deployment ("Neutron + Open vSwitch + VLAN")
// built the way the guide builds it, with the stock ovs-vsctl and ovs-ofctl
// against trestled, then traffic across it.
//
//   VM (virtio-user) ══ vhu-vm1 (access, tag 1) ╗
//   DHCP namespace ═══ tapdhcp (internal, tag 1) ╣ br-int ═ int-br-eth0/phy-br-eth0 ═ br-eth0 ╣ eth0 (trunk)
//                                                                                    "the wire": a virtio-user peer
//
// trestled runs in its own network namespace and run directory (its bridges'
// own ports are kernel taps named after them); the commands reach it through
// its unix sockets, as they reach ovs-vswitchd. The VM and "the wire" are
// DPDK virtio-user devices in this process (QEMU's side of vhost-user, in
// server mode: trestled's dpdkvhostuserclient ports connect to them). The
// flows are the quantum agent's: local VLAN 1 on br-int is provider VLAN
// 2000 on the wire. Prints each command, what each side received with its
// VLAN tags, then the stock tools' views: ovs-vsctl show, ovs-ofctl
// dump-flows with counters, ovs-appctl dpif-netdev/pmd-stats-show.

#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "bench/peer/virtio_peer.h"
#include "dataplane/eal.h"

using namespace trestle;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kVmMac = 0xfa163e000001ull;
constexpr uint64_t kRemoteMac = 0x02000000aaaaull;

std::string tags(const peer::VirtioPeer::RxCount& c) {
  std::string s;
  for (auto [vid, n] : c.by_vid)
    s += (s.empty() ? "" : ", ") + (vid < 0 ? std::string("untagged") : "VLAN " + std::to_string(vid)) +
         " x" + std::to_string(n);
  return s.empty() ? "nothing" : s;
}

// Runs a command, echoing it; returns its output (and exits on failure
// unless `may_fail`).
std::string run(const std::string& cmd, bool echo = true, bool may_fail = false) {
  if (echo) printf("  $ %s\n", cmd.c_str());
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  int rc = p ? pclose(p) : -1;
  if (!may_fail && (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)) {
    fprintf(stderr, "trestle-demo: `%s` failed:\n%s", cmd.c_str(), out.c_str());
    exit(1);
  }
  return out;
}

std::string indent(const std::string& text) {
  std::string out = "    ";
  for (char c : text) {
    out += c;
    if (c == '\n') out += "    ";
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  return out + "\n";
}

// An ARP request from the VM for `ip` (the DHCP port's address).
peer::Frame arp_request(uint64_t src_mac, uint32_t src_ip, uint32_t ip) {
  peer::Frame f(60, 0);
  for (int i = 0; i < 6; ++i) f[i] = 0xff, f[6 + i] = uint8_t(src_mac >> (40 - 8 * i));
  f[12] = 0x08, f[13] = 0x06;                          // ARP
  f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0;       // Ethernet, IPv4
  f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;          // sizes, request
  for (int i = 0; i < 6; ++i) f[22 + i] = uint8_t(src_mac >> (40 - 8 * i));
  for (int i = 0; i < 4; ++i) f[28 + i] = uint8_t(src_ip >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) f[38 + i] = uint8_t(ip >> (24 - 8 * i));
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  static option opts[] = {{"seconds", required_argument, nullptr, 's'},
                          {"help", no_argument, nullptr, 'h'},
                          {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "s:h", opts, nullptr)) != -1;) {
    if (c == 's') seconds = atof(optarg);
    else {
      printf("usage: trestle-demo [--seconds N]\n  Builds the reference deployment with the stock "
             "ovs-vsctl/ovs-ofctl against trestled (found beside this program), runs traffic "
             "across it and prints what flowed. Needs root.\n");
      return c == 'h' ? 0 : 2;
    }
  }
  const std::string self = std::filesystem::canonical("/proc/self/exe").parent_path();
  const std::string trestled = std::filesystem::path(self).parent_path() / "cmd" / "trestled";
  std::string trestled_bin = std::filesystem::exists(self + "/trestled") ? self + "/trestled" : trestled;
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, nullptr, _IOLBF, 0);  // progress as it happens, also into a pipe

  char tmpl[] = "/tmp/trestle-demo-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string pid = std::to_string(getpid());
  const std::string ns_switch = "trestle-demo-" + pid, ns_dhcp = "qdhcp-demo-" + pid;
  setenv("OVS_RUNDIR", (dir + "/run").c_str(), 1);
  setenv("OVS_DBDIR", (dir + "/db").c_str(), 1);
  setenv("OVS_LOGDIR", (dir + "/log").c_str(), 1);
  printf("== trestle demo: the reference deployment with the stock OVS tools (run dir %s)\n\n", dir.c_str());

  // The generator's EAL (the VM and the wire), then trestled.
  dataplane::EalConfig eal;
  eal.file_prefix = "trestle-demo-" + pid;
  eal.log_level = "*:error";
  if (auto r = dataplane::eal_init(eal); !r) {
    fprintf(stderr, "trestle-demo: %s\n", r.error().message.c_str());
    return 1;
  }
  rte_mempool* pool =
      rte_pktmbuf_pool_create("demo_gen", 8192, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  run("ip netns add " + ns_switch + " && ip -n " + ns_switch + " link set lo up", false);
  run("ip netns add " + ns_dhcp, false);
  pid_t daemon = fork();
  if (daemon == 0) {
    // This process's EAL pinned it to one CPU: the daemon gets them all
    // back (its PMD takes the last one).
    cpu_set_t all;
    CPU_ZERO(&all);
    for (unsigned c : dataplane::allowed_cpus()) CPU_SET(c, &all);
    sched_setaffinity(0, sizeof all, &all);
    execlp("ip", "ip", "netns", "exec", ns_switch.c_str(), trestled_bin.c_str(), "--log-file", nullptr);
    _exit(127);
  }
  int ok = 1;
  auto cleanup = [&] {
    kill(daemon, SIGTERM);
    waitpid(daemon, nullptr, 0);
    run("ip netns del " + ns_switch + "; ip netns del " + ns_dhcp, false, true);
  };
  for (int i = 0; i < 500 && !std::filesystem::exists(dir + "/run/db.sock"); ++i) usleep(20000);
  printf("trestled started (pid %d) in network namespace %s\n\n", daemon, ns_switch.c_str());

  const std::string vm_sock = dir + "/vm1.sock", wire_sock = dir + "/eth0.sock";
  printf("== 1. the bridges and ports (ovs-vsctl, as the guide and the agents run it)\n");
  run("ovs-vsctl add-br br-int -- set Bridge br-int datapath_type=netdev");
  run("ovs-vsctl add-br br-eth0 -- set Bridge br-eth0 datapath_type=netdev");
  run("ovs-vsctl add-port br-eth0 eth0 -- set Interface eth0 type=dpdkvhostuserclient "
      "options:vhost-server-path=" + wire_sock);
  run("ovs-vsctl add-port br-int int-br-eth0 -- set Interface int-br-eth0 type=patch options:peer=phy-br-eth0 "
      "-- add-port br-eth0 phy-br-eth0 -- set Interface phy-br-eth0 type=patch options:peer=int-br-eth0");
  run("ovs-vsctl -- --may-exist add-port br-int vhu-vm1 -- set Interface vhu-vm1 type=dpdkvhostuserclient "
      "options:vhost-server-path=" + vm_sock +
      " external_ids:iface-id=4f1c2a3e-7c36-4e2b-9a1d-1f2e3d4c5b6a external_ids:attached-mac=fa:16:3e:00:00:01"
      " external_ids:iface-status=active -- set Port vhu-vm1 tag=1");
  run("ovs-vsctl add-port br-int tapdhcp -- set Interface tapdhcp type=internal -- set Port tapdhcp tag=1");
  run("ip -n " + ns_switch + " link set tapdhcp netns " + ns_dhcp + " && ip -n " + ns_dhcp +
      " addr add 10.0.0.2/24 dev tapdhcp && ip -n " + ns_dhcp + " link set tapdhcp up");
  std::string int_port = run("ovs-vsctl get Interface int-br-eth0 ofport", false);
  std::string phy_port = run("ovs-vsctl get Interface phy-br-eth0 ofport", false);
  int_port.pop_back(), phy_port.pop_back();

  printf("\n== 2. the quantum agent's flows (ovs-ofctl): local VLAN 1 <-> provider VLAN 2000\n");
  run("ovs-ofctl add-flow br-int priority=2,in_port=" + int_port + ",actions=drop");
  run("ovs-ofctl add-flow br-eth0 priority=2,in_port=" + phy_port + ",actions=drop");
  run("ovs-ofctl add-flow br-eth0 priority=4,in_port=" + phy_port + ",dl_vlan=1,actions=mod_vlan_vid:2000,normal");
  run("ovs-ofctl add-flow br-int priority=3,in_port=" + int_port + ",dl_vlan=2000,actions=mod_vlan_vid:1,normal");

  auto vm = peer::VirtioPeer::open(vm_sock, true, pool);
  auto wire = peer::VirtioPeer::open(wire_sock, true, pool);
  if (!vm->wait_link(10000) || !wire->wait_link(10000)) {
    fprintf(stderr, "trestle-demo: vhost-user links did not come up\n");
    cleanup();
    return 1;
  }

  printf("\n== 3. single frames (the bridges' own taps send IPv6 multicast now and then: only ours count)\n");
  auto find = [](const std::vector<peer::Frame>& got, auto pred) -> const peer::Frame* {
    for (auto& f : got)
      if (pred(f)) return &f;
    return nullptr;
  };
  auto vid_text = [](const peer::Frame* f) {
    if (!f) return std::string("nothing");
    auto v = peer::frame_vid(*f);
    return v ? "tagged VLAN " + std::to_string(*v) : std::string("untagged");
  };
  vm->send({peer::make_frame(0xffffffffffffull, kVmMac)});
  const auto got1 = wire->drain(500);
  auto* f1 = find(got1, [](auto& f) { return peer::frame_src(f) == kVmMac; });
  printf("a. VM -> broadcast          : the wire got it %s\n", vid_text(f1).c_str());
  wire->send({peer::make_frame(kVmMac, kRemoteMac, {2000})});
  const auto got2 = vm->drain(500);
  auto* f2 = find(got2, [](auto& f) { return peer::frame_dst(f) == kVmMac; });
  printf("b. wire VLAN 2000 -> VM     : the VM got it %s\n", vid_text(f2).c_str());
  wire->send({peer::make_frame(kVmMac, kRemoteMac, {1})});
  const auto got3 = vm->drain(300);
  auto* f3 = find(got3, [](auto& f) { return peer::frame_dst(f) == kVmMac; });
  printf("c. wire VLAN 1 -> VM        : %s (VLAN 1 is not this network's provider VLAN)\n",
         f3 ? "delivered (wrong!)" : "dropped");
  vm->send({arp_request(kVmMac, 0x0a000003, 0x0a000002)});
  const auto got4 = vm->drain(1000);
  auto* f4 = find(got4, [](auto& f) { return f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2; });
  printf("d. VM ARP who-has 10.0.0.2  : %s\n\n",
         f4 ? "the DHCP namespace's kernel answered (is-at)" : "no answer");
  ok &= f1 && peer::frame_vid(*f1) == std::optional<uint16_t>(2000) && f2 && !peer::frame_vid(*f2) && !f3 && f4;

  printf("== 4. load for %.1f s, both ways, 64-byte frames (the generator and sinks share one core)\n", seconds);
  run("ovs-appctl dpif-netdev/pmd-stats-clear", false);
  const peer::Frame up = peer::make_frame(kRemoteMac, kVmMac, {}, 60);
  const peer::Frame down = peer::make_frame(kVmMac, kRemoteMac, {2000}, 64);
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
  printf("   VM   -> wire: sent %" PRIu64 ", received %" PRIu64 " (%.2f Mpps): %s\n", sent_up,
         at_wire.packets, double(at_wire.packets) / el / 1e6, tags(at_wire).c_str());
  printf("   wire -> VM  : sent %" PRIu64 ", received %" PRIu64 " (%.2f Mpps): %s\n\n", sent_down,
         at_vm.packets, double(at_vm.packets) / el / 1e6, tags(at_vm).c_str());
  // The kernel taps may add a few frames of their own: the load's must
  // dominate and carry the right tags.
  ok &= at_wire.by_vid[2000] > 0 && at_vm.by_vid[-1] > 0 && !at_wire.by_vid.count(1);

  printf("== 5. what the stock tools see\n");
  printf("  $ ovs-vsctl show\n%s", indent(run("ovs-vsctl show", false)).c_str());
  printf("  $ ovs-ofctl dump-flows br-int\n%s", indent(run("ovs-ofctl dump-flows br-int", false)).c_str());
  printf("  $ ovs-ofctl dump-flows br-eth0\n%s", indent(run("ovs-ofctl dump-flows br-eth0", false)).c_str());
  printf("  $ ovs-ofctl dump-ports br-int\n%s", indent(run("ovs-ofctl dump-ports br-int", false)).c_str());
  printf("  $ ovs-appctl dpif-netdev/pmd-stats-show\n%s",
         indent(run("ovs-appctl dpif-netdev/pmd-stats-show", false)).c_str());
  printf("  $ ovs-vsctl get Interface vhu-vm1 statistics\n%s",
         indent(run("sleep 5.2; ovs-vsctl get Interface vhu-vm1 statistics", false)).c_str());

  vm.reset();
  wire.reset();
  cleanup();
  std::filesystem::remove_all(dir);
  printf("\n%s\n", ok ? "demo: OK (VLAN 1 inside, VLAN 2000 on the wire, the DHCP namespace reached)"
                      : "demo: FAILED");
  return ok ? 0 : 1;
}
