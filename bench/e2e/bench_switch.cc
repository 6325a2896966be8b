// trestle-bench-switch: trestle's dataplane in a process of its own with a
// benchmark topology, the PMD on --pmd-core, serving vhost-user sockets in
// --rundir (until trestled takes stock ovs-vsctl, this is how benchmarks
// configure it):
//   ref: br-int {vm: dpdkvhostuser access tag 1, int-br-eth0: patch}
//        br-eth0 {phy-br-eth0: patch, nic: dpdkvhostuser trunk}
//   b1:  br0 {vm, nic: dpdkvhostuser access tag 1}
//   b2:  br0 {vm, nic: dpdkvhostuser} with flows in_port=vm -> nic, nic -> vm
//        instead of NORMAL
//   b3:  ref plus the neutron agent's flows for VLAN 2000 <-> local VLAN 1
//        (compat-openflow.md section 3), as bench/e2e/run gives OVS
// --extra-rules N adds N never-matching rules to br-int (br0) table 0, the
// ones bench/e2e/control-plane gives OVS (priority=1,in_port=vm,dl_src=0a:00:..).
// Like ovs-vswitchd it keeps <rundir>/ovs-vswitchd.pid and serves
// <rundir>/ovs-vswitchd.<pid>.ctl, so stock `OVS_RUNDIR=<rundir> ovs-appctl`
// reads it as it reads OVS: dpif-netdev/pmd-stats-show, pmd-stats-clear,
// pmd-perf-show, version, list-commands, exit. --vhost-client makes its
// ports dpdkvhostuserclient (connecting to <rundir>/<port>.sock, as OVS does
// with QEMU as the server). SIGTERM/SIGINT exit too. Prints "ready" once
// the sockets exist.

#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "ctl/pidfile.h"
#include "ctl/unixctl.h"
#include "dataplane/dataplane.h"
#include "dataplane/eal.h"
#include "dataplane/stats_format.h"
#include "bench/topology_flows.h"

using namespace trestle;


int main(int argc, char** argv) {
  std::string rundir, topology = "ref";
  unsigned pmd_core = 1, mac_table_size = vlan::kDefaultMacTableSize;
  bool vhost_client = false;
  unsigned extra_rules = 0;
  int ctl_core = 0;
  static option opts[] = {{"rundir", required_argument, nullptr, 'r'},
                          {"topology", required_argument, nullptr, 't'},
                          {"pmd-core", required_argument, nullptr, 'p'},
                          {"control-core", required_argument, nullptr, 'c'},
                          {"mac-table-size", required_argument, nullptr, 'm'},
                          {"vhost-client", no_argument, nullptr, 'V'},
                          {"extra-rules", required_argument, nullptr, 'x'},
                          {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    switch (c) {
      case 'r': rundir = optarg; break;
      case 't': topology = optarg; break;
      case 'p': pmd_core = static_cast<unsigned>(std::stoul(optarg)); break;
      case 'c': ctl_core = std::stoi(optarg); break;
      case 'm': mac_table_size = static_cast<unsigned>(std::stoul(optarg)); break;
      case 'V': vhost_client = true; break;
      case 'x': extra_rules = static_cast<unsigned>(std::stoul(optarg)); break;
      default:
        fprintf(stderr, "usage: trestle-bench-switch --rundir DIR [--topology ref|b1|b2|b3] "
                        "[--pmd-core N] [--mac-table-size N] [--vhost-client] [--extra-rules N]\n");
        return 2;
    }
  }
  if (rundir.empty() ||
      (topology != "ref" && topology != "b1" && topology != "b2" && topology != "b3")) {
    fprintf(stderr, "trestle-bench-switch: --rundir is required; --topology is ref, b1, b2 or b3\n");
    return 2;
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // every thread inherits the mask

  dataplane::EalConfig eal;
  eal.file_prefix = "trestle-bench-" + std::to_string(getpid());
  eal.control_core = ctl_core;
  eal.log_level = "*:error";
  auto fail = [](const Error& e) {
    fprintf(stderr, "trestle-bench-switch: %s\n", e.message.c_str());
    return 1;
  };
  if (auto r = dataplane::eal_init(eal); !r) return fail(r.error());
  dataplane::DataplaneConfig cfg;
  cfg.rundir = rundir;
  cfg.pmd_cores = {pmd_core};
  auto dpr = dataplane::Dataplane::create(cfg);
  if (!dpr) return fail(dpr.error());
  auto& dp = *dpr.value();
  dp.start_control_thread();
  dataplane::BridgeSettings bs;
  bs.mac_table_size = mac_table_size;
  const vlan::PortVlanSettings access1{"access", 1, {}}, trunk{"trunk", std::nullopt, {}};
  auto vhost = [&](const std::string& name, const vlan::PortVlanSettings& v) {
    if (vhost_client)
      return dataplane::PortSpec{name, "dpdkvhostuserclient",
                                 {{"vhost-server-path", rundir + "/" + name + ".sock"}}, v, {}};
    return dataplane::PortSpec{name, "dpdkvhostuser", {}, v, {}};
  };
  std::vector<Result<void>> steps;
  if (topology == "ref" || topology == "b3") {
    steps.push_back(dp.add_bridge("br-int", bs));
    steps.push_back(dp.add_bridge("br-eth0", bs));
    steps.push_back(dp.add_port("br-int", vhost("vm", access1)));
    steps.push_back(dp.add_port("br-int", {"int-br-eth0", "patch", {{"peer", "phy-br-eth0"}}, trunk, {}}));
    steps.push_back(dp.add_port("br-eth0", {"phy-br-eth0", "patch", {{"peer", "int-br-eth0"}}, trunk, {}}));
    steps.push_back(dp.add_port("br-eth0", vhost("nic", trunk)));
  } else {
    const auto& v = topology == "b2" ? trunk : access1;
    steps.push_back(dp.add_bridge("br0", bs));
    steps.push_back(dp.add_port("br0", vhost("vm", v)));
    steps.push_back(dp.add_port("br0", vhost("nic", v)));
  }
  for (auto& s : steps)
    if (!s) return fail(s.error());
  for (const auto& [br, fms] : bench::topology_flows(topology, dp))
    if (auto e = dp.flow_mods(br, fms)) return fail(make_error(br + ": " + e->message));
  if (extra_rules) {
    const std::string br = topology == "b1" || topology == "b2" ? "br0" : "br-int";
    for (const auto& fm : bench::never_matching_rules(extra_rules, dp.ofport("vm").value()))
      if (auto e = dp.flow_mod(br, fm)) return fail(make_error(br + ": " + e->message));
  }
  auto pidfile = ctl::Pidfile::create(rundir + "/ovs-vswitchd.pid");
  if (!pidfile) return fail(pidfile.error());
  auto server = ctl::UnixctlServer::listen(
      rundir + "/ovs-vswitchd." + std::to_string(getpid()) + ".ctl", "ovs-vswitchd (trestle) 0.1.0");
  if (!server) return fail(server.error());
  bool stop = false;
  auto& srv = *server.value();
  srv.add_command("exit", "[--cleanup]", 0, 1, [&](const auto&) {
    stop = true;
    return Result<std::string>(std::string());
  });
  srv.add_command("dpif-netdev/pmd-perf-show", "[-nh] [-it iter-history-len] [-ms ms-history-len] [-pmd core] [dp]", 0, 8, [&](const auto&) {
    return Result<std::string>(dataplane::format_pmd_perf(dp.pmd_stats(), dp.pmd_stats_seconds()));
  });
  srv.add_command("dpif-netdev/pmd-stats-show", "[-pmd core] [dp]", 0, 3, [&](const auto&) {
    return Result<std::string>(dataplane::format_pmd_stats(dp.pmd_stats()));
  });
  srv.add_command("dpif-netdev/pmd-stats-clear", "[-pmd core] [dp]", 0, 3, [&](const auto&) {
    dp.clear_pmd_stats();
    return Result<std::string>(std::string());
  });
  printf("ready\n");
  fflush(stdout);

  const timespec zero{0, 0};
  while (!stop) {
    srv.run(50);
    if (sigtimedwait(&sigs, nullptr, &zero) > 0) break;
  }
  server.value().reset();
  dpr.value().reset();
  return 0;
}
