// The reference deployment ("Neutron + OVS + VLAN") built with stock
// ovs-vsctl against trestled, as the guide builds it: br-int with a VM's
// vhost-user port (access, tag 1, the external ids nova/os-vif set),
// br-eth0 with the "NIC", joined by the patch ports int-br-eth0 /
// phy-br-eth0; ofports come back as ovs-vswitchd assigns them, and traffic
// crosses it both ways.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "tests/support/support.h"

namespace trestle::testing {
namespace {

class ReferenceDeployment : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // a vhost-user peer of a stopped trestled
    pool_ = test_eal();
    rundir_ = dir_.path() + "/run";
    setenv("OVS_RUNDIR", rundir_.c_str(), 1);
    setenv("OVS_DBDIR", (dir_.path() + "/db").c_str(), 1);
    setenv("OVS_LOGDIR", (dir_.path() + "/log").c_str(), 1);
    start_daemon();
  }
  void start_daemon() {
    pid_ = fork();
    if (pid_ == 0) {
      execl(TRESTLED, TRESTLED, "--log-file", nullptr);
      _exit(127);
    }
    const std::string pidfile = rundir_ + "/ovs-vswitchd.pid";
    for (int i = 0; i < 1000; ++i) {
      FILE* f = fopen(pidfile.c_str(), "r");
      int pid = 0;
      if (f && fscanf(f, "%d", &pid) == 1 && pid == pid_) {
        fclose(f);
        return;
      }
      if (f) fclose(f);
      usleep(10000);
    }
    FAIL() << "trestled did not start";
  }
  void stop_daemon() {
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pid_ = -1;
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st = 0;
      waitpid(pid_, &st, 0);
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    vm_.reset();
    wire_.reset();
  }
  // The peer listens (QEMU in vhost-user server mode); trestled's
  // dpdkvhostuserclient port connects to it. Opening blocks until it does.
  std::unique_ptr<VirtioPeer> listen(const std::string& sock) {
    std::unique_ptr<VirtioPeer> p;
    p = VirtioPeer::open(sock, true, pool_);
    EXPECT_TRUE(p->wait_link(10000));
    return p;
  }
  // br-int (vhu1, tag 1) and br-eth0 (eth0, the "NIC"), patched together.
  void build(const std::string& vm_sock, const std::string& wire_sock) {
    const std::string vsctl = "ovs-vsctl --timeout=20 ";
    ASSERT_EQ(run(vsctl + "add-br br-int -- set Bridge br-int datapath_type=netdev"), "");
    ASSERT_EQ(run(vsctl + "add-br br-eth0 -- set Bridge br-eth0 datapath_type=netdev"), "");
    ASSERT_EQ(run(vsctl + "add-port br-eth0 eth0 -- set Interface eth0 type=dpdkvhostuserclient "
                          "options:vhost-server-path=" + wire_sock),
              "");
    ASSERT_EQ(run(vsctl + "add-port br-int int-br-eth0 -- set Interface int-br-eth0 type=patch "
                          "options:peer=phy-br-eth0 -- add-port br-eth0 phy-br-eth0 -- set Interface "
                          "phy-br-eth0 type=patch options:peer=int-br-eth0"),
              "");
    // The VM's port as os-vif plugs it (vhost-user, QEMU the server),
    // tagged by the agent.
    ASSERT_EQ(run(vsctl + "-- --may-exist add-port br-int vhu1 -- set Interface vhu1 "
                          "external_ids:iface-id=4f1c2a3e-7c36-4e2b-9a1d-1f2e3d4c5b6a "
                          "external_ids:iface-status=active external_ids:attached-mac=fa:16:3e:00:00:01 "
                          "external_ids:vm-uuid=11111111-2222-3333-4444-555555555555 "
                          "type=dpdkvhostuserclient options:vhost-server-path=" + vm_sock +
                          " -- set Port vhu1 tag=1"),
              "");
  }
  // build() with the VM and the wire attached (vm_, wire_).
  void build_with_peers() {
    const std::string vm_sock = dir_.path() + "/vm1.sock", wire_sock = dir_.path() + "/eth0.sock";
    ASSERT_NO_FATAL_FAILURE(build(vm_sock, wire_sock));
    vm_ = listen(vm_sock);
    wire_ = listen(wire_sock);
    ASSERT_TRUE(vm_ && wire_);
  }
  // One frame each way: what the wire sees of the VM's broadcast, and
  // whether the VM gets a frame sent to it with `wire_vid`.
  // (The bridges' own taps are up in the kernel, which floods IPv6
  // multicast through them now and then: look for our frames only.)
  std::optional<uint16_t> vm_to_wire(uint64_t vm_mac) {
    wire_->drain(50);
    vm_->send({make_frame(0xffffffffffff, vm_mac)});
    for (auto& f : wire_->drain(1000))
      if (frame_src(f) == vm_mac) return frame_vid(f);
    return 0xffff;  // nothing arrived
  }
  bool wire_to_vm(uint64_t vm_mac, uint16_t wire_vid) {
    vm_->drain(50);
    wire_->send({make_frame(vm_mac, 0x020000000099, {wire_vid})});
    for (auto& f : vm_->drain(1000))
      if (frame_dst(f) == vm_mac) return !frame_vid(f);
    return false;
  }
  TempDir dir_;
  std::string rundir_;
  pid_t pid_ = -1;
  rte_mempool* pool_ = nullptr;
  std::unique_ptr<VirtioPeer> vm_, wire_;
};

TEST_F(ReferenceDeployment, BuiltWithStockOvsVsctlCarriesTraffic) {
  const std::string vsctl = "ovs-vsctl --timeout=20 ";
  std::string vm_sock = dir_.path() + "/vm1.sock", wire_sock = dir_.path() + "/eth0.sock";
  build(vm_sock, wire_sock);
  // Numbered in the order the ports came, per bridge, as OVS numbers them.
  EXPECT_EQ(run(vsctl + "get Interface int-br-eth0 ofport"), "1");
  EXPECT_EQ(run(vsctl + "get Interface vhu1 ofport"), "2");
  EXPECT_EQ(run(vsctl + "get Interface eth0 ofport"), "1");
  EXPECT_EQ(run(vsctl + "get Interface phy-br-eth0 ofport"), "2");
  EXPECT_EQ(run(vsctl + "get Interface br-int ofport"), "65534");
  EXPECT_EQ(run(vsctl + "list-ports br-int"), "int-br-eth0\nvhu1");
  std::string dpid = run(vsctl + "get Bridge br-int datapath_id");
  EXPECT_EQ(dpid.size(), 18u) << dpid;  // "0000xxxxxxxxxxxx" in quotes
  EXPECT_EQ(run(vsctl + "get Open_vSwitch . cur_cfg"), run(vsctl + "get Open_vSwitch . next_cfg"));
  // mac_in_use as ovs-vswitchd reports it: the bridge tap's own address,
  // zeroes for vhost-user, a fixed one for a patch port.
  EXPECT_EQ(run(vsctl + "get Interface br-int mac_in_use"),
            "\"" + run("cat /sys/class/net/br-int/address") + "\"");
  EXPECT_EQ(run(vsctl + "get Interface vhu1 mac_in_use"), "\"00:00:00:00:00:00\"");
  EXPECT_EQ(run(vsctl + "get Interface int-br-eth0 mac_in_use").size(), 19u);

  vm_ = listen(vm_sock);
  wire_ = listen(wire_sock);
  ASSERT_TRUE(vm_ && wire_);
  // VM -> wire: the access port's tag goes on at br-int, crosses the patch
  // link, and leaves br-eth0's trunk NIC tagged.
  const uint64_t vm_mac = 0xfa163e000001, far_mac = 0x020000000099;
  // (The bridges' taps come up in the kernel, which sends IPv6 multicast
  // through them: only our frames count.)
  auto ours = [](std::vector<Frame> frames, auto keep) {
    std::vector<Frame> out;
    for (auto& f : frames)
      if (keep(f)) out.push_back(std::move(f));
    return out;
  };
  ASSERT_EQ(vm_->send({make_frame(0xffffffffffff, vm_mac)}), 1u);
  auto got = ours(wire_->drain(1000), [&](const Frame& f) { return frame_src(f) == vm_mac; });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_vid(got[0]), std::optional<uint16_t>(1));
  // wire -> VM: tagged 1 in, untagged out of the access port, to the MAC
  // learnt a moment ago.
  ASSERT_EQ(wire_->send({make_frame(vm_mac, far_mac, {1})}), 1u);
  got = ours(vm_->drain(1000), [&](const Frame& f) { return frame_dst(f) == vm_mac; });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_vid(got[0]), std::nullopt);
  // Statistics reach the database (libvirt's domifstat reads them).
  std::string stats;
  for (int i = 0; i < 80; ++i) {
    stats = run(vsctl + "get Interface vhu1 statistics:rx_packets");
    if (stats == "1") break;
    usleep(100000);
  }
  EXPECT_EQ(stats, "1");
  EXPECT_EQ(run(vsctl + "get Interface vhu1 link_state"), "up");
  // Unplugging the VM (os-vif) and deleting the bridges leave nothing.
  EXPECT_EQ(run(vsctl + "-- --if-exists del-port br-int vhu1"), "");
  EXPECT_EQ(run(vsctl + "--columns=name find Interface name=vhu1"), "");
  EXPECT_EQ(run(vsctl + "del-br br-int -- del-br br-eth0"), "");
  EXPECT_EQ(run(vsctl + "list-br"), "");
}

// The quantum agent's VLAN flows (compat-openflow.md §5), with stock
// ovs-ofctl's default protocol (OpenFlow 1.0) and then -O OpenFlow13:
// local VLAN 1 on br-int is provider VLAN 2000 on the wire.
TEST_F(ReferenceDeployment, VlanTranslationFlowsFromStockOvsOfctl) {
  std::string vm_sock = dir_.path() + "/vm1.sock", wire_sock = dir_.path() + "/eth0.sock";
  build(vm_sock, wire_sock);
  const std::string ofctl = "ovs-ofctl ";
  // int-br-eth0 is 1 on br-int, phy-br-eth0 2 on br-eth0.
  ASSERT_EQ(run(ofctl + "del-flows br-int"), "");
  ASSERT_EQ(run(ofctl + "add-flow br-int hard_timeout=0,idle_timeout=0,priority=1,actions=normal"), "");
  ASSERT_EQ(run(ofctl + "del-flows br-eth0"), "");
  ASSERT_EQ(run(ofctl + "add-flow br-eth0 hard_timeout=0,idle_timeout=0,priority=1,actions=normal"), "");
  // The patch ports carry only what a translation flow lets through.
  ASSERT_EQ(run(ofctl + "add-flow br-int hard_timeout=0,idle_timeout=0,priority=2,in_port=1,actions=drop"), "");
  ASSERT_EQ(run(ofctl + "add-flow br-eth0 hard_timeout=0,idle_timeout=0,priority=2,in_port=2,actions=drop"), "");
  ASSERT_EQ(run(ofctl + "add-flow br-eth0 hard_timeout=0,idle_timeout=0,priority=4,in_port=2,dl_vlan=1,"
                        "actions=mod_vlan_vid:2000,normal"),
            "");
  ASSERT_EQ(run(ofctl + "add-flow br-int hard_timeout=0,idle_timeout=0,priority=3,in_port=1,dl_vlan=2000,"
                        "actions=mod_vlan_vid:1,normal"),
            "");
  std::string flows = run(ofctl + "dump-flows br-eth0");
  EXPECT_NE(flows.find("priority=4,in_port=2,dl_vlan=1 actions=mod_vlan_vid:2000,NORMAL"), std::string::npos) << flows;
  EXPECT_NE(flows.find("priority=1 actions=NORMAL"), std::string::npos) << flows;
  vm_ = listen(vm_sock);
  wire_ = listen(wire_sock);
  ASSERT_TRUE(vm_ && wire_);
  const uint64_t vm_mac = 0xfa163e000001;
  EXPECT_EQ(vm_to_wire(vm_mac), std::optional<uint16_t>(2000));
  EXPECT_TRUE(wire_to_vm(vm_mac, 2000));
  EXPECT_FALSE(wire_to_vm(vm_mac, 1)) << "untranslated VLAN 1 from the wire must not reach the VM";
  // The counters moved, as dump-flows shows them.
  flows = run(ofctl + "dump-flows br-int");
  EXPECT_NE(flows.find("n_packets=1, n_bytes=64, priority=3,in_port=1,dl_vlan=2000 actions=mod_vlan_vid:1,NORMAL"),
            std::string::npos) << flows;

  // The same through OpenFlow 1.3, as the neutron agent writes it now.
  ASSERT_EQ(run(ofctl + "-O OpenFlow13 del-flows br-eth0 in_port=2,dl_vlan=1"), "");
  ASSERT_EQ(run(ofctl + "-O OpenFlow13 del-flows br-int in_port=1,dl_vlan=2000"), "");
  ASSERT_EQ(run(ofctl + "-O OpenFlow13 add-flow br-eth0 'priority=4,in_port=2,dl_vlan=1,"
                        "actions=set_field:6096->vlan_vid,NORMAL'"),
            "");
  ASSERT_EQ(run(ofctl + "-O OpenFlow13 add-flow br-int 'table=0,priority=3,in_port=1,dl_vlan=2000,"
                        "actions=set_field:4097->vlan_vid,NORMAL'"),
            "");
  flows = run(ofctl + "-O OpenFlow13 dump-flows br-eth0");
  EXPECT_NE(flows.find("set_field:6096->vlan_vid,NORMAL"), std::string::npos) << flows;
  EXPECT_EQ(vm_to_wire(vm_mac), std::optional<uint16_t>(2000));
  EXPECT_TRUE(wire_to_vm(vm_mac, 2000));
  // ovs-ofctl show / dump-ports / dump-tables answer.
  std::string show = run(ofctl + "show br-int");
  EXPECT_NE(show.find("vhu1"), std::string::npos) << show;
  EXPECT_NE(show.find("LOCAL(br-int)"), std::string::npos) << show;
  EXPECT_EQ(run(ofctl + "dump-ports br-int").find("FAILED"), std::string::npos);
  EXPECT_EQ(run(ofctl + "-O OpenFlow13 dump-tables br-int").find("FAILED"), std::string::npos);
}

// Port numbers survive a restart of the switch (ovs-vswitchd keeps them
// too): flows an agent installed stay right.
TEST_F(ReferenceDeployment, OfportsSurviveARestart) {
  build(dir_.path() + "/vm1.sock", dir_.path() + "/eth0.sock");
  const std::string vsctl = "ovs-vsctl --timeout=20 ";
  ASSERT_EQ(run(vsctl + "get Interface vhu1 ofport"), "2");
  ASSERT_EQ(run(vsctl + "del-port br-int int-br-eth0"), "");
  stop_daemon();
  start_daemon();
  EXPECT_EQ(run(vsctl + "get Interface vhu1 ofport"), "2");
  EXPECT_EQ(run(vsctl + "get Interface eth0 ofport"), "1");
  EXPECT_NE(run("ovs-ofctl show br-int").find(" 2(vhu1)"), std::string::npos) << run("ovs-ofctl show br-int");
}

// ovs-ofctl packet-out: a controller's frame through a port, through the
// tables (output:TABLE), with OpenFlow 1.3 actions; bad ones refused.
TEST_F(ReferenceDeployment, PacketOutFromStockOvsOfctl) {
  ASSERT_NO_FATAL_FAILURE(build_with_peers());
  // eth0 is 1 on br-eth0, vhu1 2 on br-int. A 60-byte broadcast from
  // 02:00:00:00:00:77, ethertype 0x88b5.
  const std::string frame = "ffffffffffff02000000007788b5" + std::string(92, '0');
  const uint64_t src = 0x020000000077;
  auto got = [&](VirtioPeer& p) -> std::optional<std::optional<uint16_t>> {
    for (auto& f : p.drain(1000))
      if (frame_src(f) == src) return frame_vid(f);
    return std::nullopt;
  };
  vm_->drain(50);
  ASSERT_EQ(run("ovs-ofctl packet-out br-int 'in_port=controller packet=" + frame + " actions=output:2'"), "");
  auto v = got(*vm_);
  ASSERT_TRUE(v.has_value()) << "the VM did not get the packet-out";
  EXPECT_FALSE(v->has_value());

  // From LOCAL through br-eth0's tables (NORMAL): floods to the wire, and
  // the rule counts it (the kernel sends through the bridge's tap now and
  // then too: compare the counter before and after).
  auto n_packets = [&] {
    const std::string f = run("ovs-ofctl dump-flows br-eth0");
    const size_t at = f.find("n_packets=");
    return at == std::string::npos ? -1L : std::stol(f.substr(at + 10));
  };
  const long before = n_packets();
  wire_->drain(50);
  ASSERT_EQ(run("ovs-ofctl packet-out br-eth0 'in_port=LOCAL packet=" + frame + " actions=TABLE'"), "");
  v = got(*wire_);
  ASSERT_TRUE(v.has_value()) << "output:TABLE did not reach the wire";
  EXPECT_FALSE(v->has_value());
  EXPECT_GT(n_packets(), before);

  // OpenFlow 1.3: push a tag and set its VID.
  wire_->drain(50);
  ASSERT_EQ(run("ovs-ofctl -O OpenFlow13 packet-out br-eth0 'in_port=controller packet=" + frame +
                " actions=push_vlan:0x8100,set_field:4196->vlan_vid,output:1'"),
            "");
  v = got(*wire_);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, std::optional<uint16_t>(100));

  // An in_port the bridge lacks: an error (OpenFlow 1.0 has no BAD_PORT
  // code: EPERM), and the switch carries on. (ovs-ofctl itself refuses a
  // runt frame; flow_test.cc sends one.)
  std::string out = run("ovs-ofctl -O OpenFlow13 packet-out br-int 'in_port=77 packet=" + frame +
                        " actions=output:2'");
  EXPECT_NE(out.find("OFPBRC_BAD_PORT"), std::string::npos) << out;
  out = run("ovs-ofctl packet-out br-int 'in_port=77 packet=" + frame + " actions=output:2'");
  EXPECT_NE(out.find("OFPT_ERROR"), std::string::npos) << out;
  vm_->drain(50);
  ASSERT_EQ(run("ovs-ofctl packet-out br-int 'in_port=controller packet=" + frame + " actions=output:2'"), "");
  EXPECT_TRUE(got(*vm_).has_value());
}

// fail_mode standalone: with its controller gone for three inactivity
// probes the bridge switches with NORMAL, its flows kept (dump-flows still
// shows them); a controller connecting ends it. secure never fails open.
TEST_F(ReferenceDeployment, StandaloneBridgeFailsOpenWithoutItsController) {
  ASSERT_NO_FATAL_FAILURE(build_with_peers());
  const uint64_t vm_mac = 0xfa163e000001;
  ASSERT_EQ(vm_to_wire(vm_mac), std::optional<uint16_t>(1));
  // A controller port nobody serves yet.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t alen = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &alen);
  const std::string port = std::to_string(ntohs(a.sin_port));
  const std::string vsctl = "ovs-vsctl --timeout=20 ";
  ASSERT_EQ(run("ovs-ofctl del-flows br-int"), "");  // the controller would install them
  ASSERT_EQ(run(vsctl + "set-controller br-int tcp:127.0.0.1:" + port +
                " -- set Controller br-int inactivity_probe=1000"),
            "");
  EXPECT_EQ(vm_to_wire(vm_mac), std::optional<uint16_t>(0xffff)) << "no flows: nothing passes";
  // After 3 s without a controller: NORMAL.
  std::optional<uint16_t> vid;
  for (int i = 0; i < 10 && vid != std::optional<uint16_t>(1); ++i) vid = vm_to_wire(vm_mac);
  EXPECT_EQ(vid, std::optional<uint16_t>(1)) << "the bridge did not fail open";
  EXPECT_EQ(run("ovs-ofctl dump-flows br-int --no-stats"), "") << "the fail-open rule is hidden";

  // The controller comes: HELLO (OpenFlow 1.3); the bridge's flows rule again.
  ASSERT_EQ(::listen(lfd, 1), 0);
  int cfd = accept(lfd, nullptr, nullptr);
  ASSERT_GE(cfd, 0);
  const uint8_t hello[8] = {4, 0, 0, 8, 0, 0, 0, 1};
  ASSERT_EQ(write(cfd, hello, sizeof hello), 8);
  for (int i = 0; i < 100 && run(vsctl + "get Controller br-int is_connected") != "true"; ++i) usleep(50000);
  ASSERT_EQ(run(vsctl + "get Controller br-int is_connected"), "true");
  usleep(1500000);  // the switch notices within a second
  EXPECT_EQ(vm_to_wire(vm_mac), std::optional<uint16_t>(0xffff)) << "fail-open did not end";

  // secure: the controller goes away, the bridge stays closed.
  ASSERT_EQ(run(vsctl + "set-fail-mode br-int secure"), "");
  close(cfd);
  close(lfd);
  usleep(4000000);
  EXPECT_EQ(vm_to_wire(vm_mac), std::optional<uint16_t>(0xffff)) << "a secure bridge failed open";
}

// other_config:pmd-cpu-mask at run time, as ovs-vswitchd follows it: the PMD
// moves (pmd-stats-show says where), traffic keeps flowing; a mask naming
// more CPUs than there are PMDs is logged and changes nothing.
TEST_F(ReferenceDeployment, PmdCpuMaskMovesThePmdAtRunTime) {
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 64; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  ASSERT_FALSE(cpus.empty());
  auto core_id = [&] {
    const std::string out = run("ovs-appctl dpif-netdev/pmd-stats-show");
    const size_t at = out.find("core_id ");
    return at == std::string::npos ? -1 : std::stoi(out.substr(at + 8));
  };
  EXPECT_EQ(core_id(), cpus.back()) << "by default the PMD takes the last CPU";
  ASSERT_NO_FATAL_FAILURE(build_with_peers());
  const uint64_t vm_mac = 0xfa163e000001;
  char mask[32];
  snprintf(mask, sizeof mask, "0x%llx", 1ULL << cpus.front());
  ASSERT_EQ(run("ovs-vsctl --timeout=20 set Open_vSwitch . other_config:pmd-cpu-mask=" + std::string(mask)), "");
  EXPECT_EQ(core_id(), cpus.front());
  EXPECT_EQ(vm_to_wire(vm_mac), std::optional<uint16_t>(1));
  if (cpus.size() >= 2) {
    snprintf(mask, sizeof mask, "0x%llx", (1ULL << cpus[0]) | (1ULL << cpus[1]));
    ASSERT_EQ(run("ovs-vsctl --timeout=20 set Open_vSwitch . other_config:pmd-cpu-mask=" + std::string(mask)), "");
    EXPECT_EQ(core_id(), cpus.front()) << "two CPUs for one PMD: nothing moves";
    EXPECT_EQ(vm_to_wire(vm_mac), std::optional<uint16_t>(1));
  }
  ASSERT_EQ(run("ovs-vsctl --timeout=20 set Open_vSwitch . other_config:pmd-cpu-mask=zz"), "");
  EXPECT_EQ(core_id(), cpus.front());
}

}  // namespace
}  // namespace trestle::testing
