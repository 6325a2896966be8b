// The neutron OVS agent's OpenFlow 1.3 side against trestled: an os-ken
// controller (python3-os-ken, driven as the agent's native of_interface
// drives it: tests/e2e/osken_agent.py) listens on 127.0.0.1, br-int and
// br-eth0 are pointed at it with stock ovs-vsctl as neutron's ovs_bridge.py
// does (protocols OpenFlow10,OpenFlow13, fail_mode secure, out-of-band,
// inactivity_probe 10000), and the app runs the handshake, the agent's
// default and VLAN flows with barriers, dumps by table and cookie, stale
// cookie cleanup, the canary table, rejected flow_mods, a bundle, port
// status, the inactivity probe and a reconnect (compat-openflow.md §1-§3).
//
// trestled runs in a network namespace of its own (its bridges' internal
// ports are kernel taps), and the app runs in it too, so that 127.0.0.1 is
// the same loopback for both.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/support.h"

namespace trestle::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A TCP port nobody on this host uses right now (the namespace is new, so
// it is free there as well).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  int port = -1;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0)
    port = ntohs(sa.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

// Runs argv in the namespace (ip netns exec execs, so the pid is the
// program's), stdout/stderr to files; dies with the test process.
pid_t spawn_in(const std::string& ns, std::vector<std::string> argv, const std::string& out,
               const std::string& err) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", ns});
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o >= 0) dup2(o, 1);
    if (e >= 0) dup2(e, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp("ip", args.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid` up to `ms`; true (and *status) once it exited.
bool wait_exit(pid_t pid, int ms, int* status) {
  auto end = Clock::now() + std::chrono::milliseconds(ms);
  do {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid || r < 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (Clock::now() < end);
  return false;
}

void stop(pid_t& pid, int sig, int grace_ms) {
  if (pid <= 0) return;
  int st = 0;
  kill(pid, sig);
  if (!wait_exit(pid, grace_ms, &st)) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
  }
  pid = -1;
}

class OsKenController : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = "trestle-osken-" + std::to_string(getpid());
    rundir_ = dir_.path() + "/run";
    setenv("OVS_RUNDIR", rundir_.c_str(), 1);
    setenv("OVS_DBDIR", (dir_.path() + "/db").c_str(), 1);
    setenv("OVS_LOGDIR", (dir_.path() + "/log").c_str(), 1);
    ASSERT_EQ(run("ip netns add " + ns_), "");
    netns_made_ = true;
    ASSERT_EQ(run("ip netns exec " + ns_ + " ip link set lo up"), "");
    trestled_ = spawn_in(ns_, {TRESTLED, "--log-file"}, dir_.path() + "/trestled.out",
                         dir_.path() + "/trestled.err");
    for (int i = 0; i < 1000 && access((rundir_ + "/ovs-vswitchd.pid").c_str(), F_OK) != 0; ++i) usleep(10000);
    ASSERT_EQ(access((rundir_ + "/ovs-vswitchd.pid").c_str(), F_OK), 0)
        << "trestled did not start: " << slurp(dir_.path() + "/trestled.err");
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- app stdout\n" << slurp(dir_.path() + "/app.out") << "--- app stderr (tail)\n";
      std::string err = slurp(dir_.path() + "/app.err");
      std::cerr << (err.size() > 4000 ? err.substr(err.size() - 4000) : err);
      std::string log = slurp(dir_.path() + "/log/ovs-vswitchd.log");
      std::cerr << "--- trestled log (tail)\n" << (log.size() > 4000 ? log.substr(log.size() - 4000) : log);
    }
    stop(app_, SIGKILL, 1000);
    if (trestled_ > 0) {
      pid_t p = trestled_;
      int st = 0;
      kill(p, SIGTERM);
      if (!wait_exit(p, 10000, &st)) {
        ADD_FAILURE() << "trestled did not stop on SIGTERM";
        kill(p, SIGKILL);
        waitpid(p, &st, 0);
      } else {
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "trestled exit status " << st;
      }
      trestled_ = -1;
    }
    if (netns_made_) {
      EXPECT_EQ(run("ip netns del " + ns_), "");
    }
  }

  // Polls an ovs-vsctl query until it prints `want`.
  std::string await(const std::string& query, const std::string& want, int ms) {
    std::string got;
    for (auto end = Clock::now() + std::chrono::milliseconds(ms); Clock::now() < end;) {
      got = run(vsctl_ + query);
      if (got == want) break;
      usleep(100000);
    }
    return got;
  }

  TempDir dir_;
  std::string ns_, rundir_;
  bool netns_made_ = false;
  pid_t trestled_ = -1, app_ = -1;
  const std::string vsctl_ = "ovs-vsctl --timeout=20 ";
};

TEST_F(OsKenController, NeutronAgentFlowsThroughOsKen) {
  // The bridges as the agent makes them (ovs_lib.py, ovs_neutron_agent.py):
  // secure, OpenFlow 1.0 and 1.3, joined by patch ports.
  for (const char* br : {"br-int", "br-eth0"})
    ASSERT_EQ(run(vsctl_ + "add-br " + br + " -- set Bridge " + br +
                  " datapath_type=netdev protocols=OpenFlow10,OpenFlow13 fail_mode=secure"),
              "");
  ASSERT_EQ(run(vsctl_ + "add-port br-int int-br-eth0 -- set Interface int-br-eth0 type=patch "
                         "options:peer=phy-br-eth0 -- add-port br-eth0 phy-br-eth0 -- set Interface "
                         "phy-br-eth0 type=patch options:peer=int-br-eth0"),
            "");

  // The controller listens first (the agent starts its os-ken app, then
  // points the bridges at it).
  const int port = free_port();
  ASSERT_GT(port, 0);
  app_ = spawn_in(ns_, {"/usr/bin/python3", OSKEN_AGENT, "--port", std::to_string(port)},
                  dir_.path() + "/app.out", dir_.path() + "/app.err");
  bool ready = false;
  for (auto end = Clock::now() + std::chrono::seconds(40); !ready && Clock::now() < end;) {
    ready = slurp(dir_.path() + "/app.out").find("READY") != std::string::npos;
    int st = 0;
    if (!ready && waitpid(app_, &st, WNOHANG) == app_) {
      app_ = -1;
      FAIL() << "the os-ken app exited early (status " << st << ")";
    }
    if (!ready) usleep(100000);
  }
  ASSERT_TRUE(ready) << "the os-ken app did not come up";

  // ovs_bridge.py set_controller + set_controllers_connection_mode +
  // set_controllers_inactivity_probe.
  const std::string target = "tcp:127.0.0.1:" + std::to_string(port);
  ASSERT_EQ(run(vsctl_ + "set-controller br-int " + target + " -- set-controller br-eth0 " + target), "");
  ASSERT_EQ(run(vsctl_ + "set Controller br-int connection_mode=out-of-band inactivity_probe=10000 "
                         "-- set Controller br-eth0 connection_mode=out-of-band inactivity_probe=10000"),
            "");
  EXPECT_EQ(await("get Controller br-int is_connected", "true", 20000), "true");
  EXPECT_EQ(await("get Controller br-eth0 is_connected", "true", 20000), "true");
  EXPECT_EQ(run(vsctl_ + "get Controller br-int status:state"), "ACTIVE");

  // The app runs its scenario and exits (about 20 s, 12 of them idle past
  // the inactivity probe).
  int st = 0;
  ASSERT_TRUE(wait_exit(app_, 90000, &st)) << "the os-ken app did not finish";
  app_ = -1;
  const std::string out = slurp(dir_.path() + "/app.out");
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "app status " << st;
  EXPECT_NE(out.find("\nSUMMARY pass="), std::string::npos) << out;
  EXPECT_NE(out.find(" fail=0\n"), std::string::npos) << out;
  EXPECT_EQ(out.find(" FAIL"), std::string::npos) << out;
  // Every part ran (none was skipped on the way).
  for (const char* name :
       {"handshake.br-int.datapath", "handshake.br-int.version", "handshake.br-int.features",
        "handshake.br-int.port_desc", "handshake.br-eth0.datapath", "handshake.br-eth0.features",
        "handshake.br-eth0.port_desc", "handshake.dpid_stable", "install.br-int.defaults",
        "install.drop_port", "install.vlan", "install.anti_spoof", "barrier.reply", "echo.reply",
        "meter_features",
        "dump.br-int.per_table", "dump.br-int.by_cookie", "dump.br-int.other_cookie_empty",
        "dump.br-eth0.per_table", "dump.br-eth0.by_cookie", "canary.present", "stale.found",
        "stale.deleted", "reclaim.vlan", "delete_strict", "error.goto_backwards",
        "error.add_table_all", "error.set_vlan_vid_untagged", "error.nothing_installed",
        "install.readd_replaces", "bulk.multipart", "bulk.deleted", "bundle.commit", "port_status",
        "probe.connection_kept", "reconnect", "reconnect.canary", "reconnect.flows",
        "no_stray_errors"})
    EXPECT_NE(out.find(std::string("CHECK ") + name + " ok\n"), std::string::npos) << name;

  // What the agent left is what ovs-ofctl sees: the canary (with the
  // agent's cookie), the dead-VLAN drop.
  std::string canary = run("ovs-ofctl -O OpenFlow13 dump-flows br-int table=23");
  EXPECT_NE(canary.find("priority=0 actions=drop"), std::string::npos) << canary;
  EXPECT_NE(canary.find("cookie=0x"), std::string::npos) << canary;
  std::string t0 = run("ovs-ofctl -O OpenFlow13 dump-flows br-int table=0");
  EXPECT_NE(t0.find("priority=65535,dl_vlan=4095 actions=drop"), std::string::npos) << t0;
  // The controller went away: the database says so.
  EXPECT_EQ(await("get Controller br-int is_connected", "false", 10000), "false");
}

}  // namespace
}  // namespace trestle::testing
