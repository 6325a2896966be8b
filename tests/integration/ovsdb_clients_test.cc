// trestled driven by the stock OVSDB clients, the way a compute node drives
// ovsdb-server: Debian 12's ovs-vsctl, ovsdb-client, ovsdb-tool and
// ovs-appctl (openvswitch-common 3.1), and the python IDL through ovsdbapp
// (python3-ovsdbapp 2.1, as neutron and os-vif use it). What those clients
// send and expect is in shared/compat/compat-ovsdb.md; the command lines of
// libvirt and os-vif are copied from its traces 24-27 and 51.
//
// Every test starts its own trestled in its own temporary directory (its
// own OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR; TCP listeners on ports the kernel
// picked), and kills only the processes it started, by pid, also when an
// assertion fails. ovs-vsctl always runs without --no-wait and with
// --timeout=10, so a missing cur_cfg update fails instead of blocking.
//
// trestled runs with --no-dataplane (the database alone, as ovsdb-server:
// cur_cfg follows next_cfg, no ofport, so ovs-vsctl's "Error detected while
// setting up" on stderr is expected and not asserted on), except in
// FullDaemonAssignsOfportsAsVswitchdDoes, which checks vswitchd's side.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ctl/json.h"

namespace trestle::ctl {
// GoogleTest prints a Json in failure messages as its text.
void PrintTo(const Json& j, std::ostream* os) { *os << j.dump(); }
}  // namespace trestle::ctl

namespace trestle::integration {
namespace {

using ctl::Json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kStockSchema = "/usr/share/openvswitch/vswitch.ovsschema";

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool wait_until(const std::function<bool()>& done, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> v;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) v.push_back(line);
  return v;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Json parse_or_null(const std::string& text) {
  auto j = Json::parse(text);
  return j ? *j : Json();
}

// ---------------------------------------------------------------------------
// Child processes.

struct Output {
  std::string cmd;
  int status = -1;  // exit status; -1: killed or did not exit
  std::string out, err;
};

std::ostream& operator<<(std::ostream& os, const Output& o) {
  return os << "$ " << o.cmd << "\n[exit " << o.status << "]\n[stdout]\n" << o.out << "[stderr]\n" << o.err;
}

// Runs `cmd` with /bin/sh in its own process group; kills that group (the
// processes this call started) when it outlives `timeout_s`.
Output run(const std::string& cmd, int timeout_s = 30) {
  Output o;
  o.cmd = cmd;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) return o;
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&o.out, &o.err};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, left) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, size_t(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (timed_out) kill(-pid, SIGKILL);
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int st = 0;
  waitpid(pid, &st, 0);
  o.status = !timed_out && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (timed_out) o.err += "\n[killed after " + std::to_string(timeout_s) + " s]";
  return o;
}

// A long-running child (ovsdb-client monitor) whose stdout is read as it
// comes. Killed, by its pid, on destruction.
class Background {
 public:
  explicit Background(const std::string& cmd) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(p[1], 1);
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 2);
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
      _exit(127);
    }
    close(p[1]);
    fd_ = p[0];
    fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~Background() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  // Complete lines received so far.
  const std::vector<std::string>& lines() {
    drain(0);
    return lines_;
  }
  // Waits until `n` complete lines have arrived.
  bool wait_lines(size_t n, int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (lines_.size() < n) {
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0 || !drain(left)) break;
    }
    return lines_.size() >= n;
  }

 private:
  bool drain(int wait_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) return true;
    char buf[65536];
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) return n < 0 && errno == EAGAIN;
    partial_.append(buf, size_t(n));
    for (size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
      lines_.push_back(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
    return true;
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string partial_;
  std::vector<std::string> lines_;
};

// ---------------------------------------------------------------------------
// Sockets.

int connect_unix(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) return -1;
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

// 127.0.0.1:port.
int connect_tcp(int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

bool tcp_listening(int port) {
  int fd = connect_tcp(port);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

// A port nobody listens on now (the kernel's pick), for a ptcp: remote.
int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(sa.sin_port);
}

// A raw JSON-RPC connection, for what the stock clients do not show: the
// server's own requests (echo probes), notifications, a blocked "wait".
class RpcClient {
 public:
  explicit RpcClient(int fd) : fd_(fd) {}
  ~RpcClient() {
    if (fd_ >= 0) close(fd_);
  }
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;
  bool connected() const { return fd_ >= 0 && !closed_; }

  bool send(const Json& msg) {
    std::string text = msg.dump();
    return fd_ >= 0 && ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == ssize_t(text.size());
  }
  // The next message, waiting up to `timeout_ms`; null when none came (or
  // the server closed the connection: see connected()).
  Json next(int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (queue_.empty() && !closed_ && fd_ >= 0) {
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) break;
      char buf[65536];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      auto texts = splitter_.feed(std::string_view(buf, size_t(n)));
      if (!texts) {
        closed_ = true;
        break;
      }
      for (auto& t : *texts) queue_.push_back(parse_or_null(t));
    }
    if (queue_.empty()) return Json();
    Json m = std::move(queue_.front());
    queue_.erase(queue_.begin());
    return m;
  }
  // Sends a request and returns its reply; notifications that come first
  // are kept in `notifications`.
  Json call(const std::string& method, Json params, int timeout_ms = 5000) {
    Json id = "call-" + std::to_string(++n_calls_);
    if (!send(Json::Object{{"id", id}, {"method", method}, {"params", std::move(params)}})) return Json();
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      Json m = next(int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
      if (m.is_null()) break;
      if (m["id"] == id && !m.has("method")) return m;
      notifications.push_back(std::move(m));
    }
    return Json();
  }

  std::vector<Json> notifications;

 private:
  int fd_;
  bool closed_ = false;
  int n_calls_ = 0;
  ctl::JsonSplitter splitter_;
  std::vector<Json> queue_;
};

// ---------------------------------------------------------------------------
// The conf.db records (compat-ovsdb.md §9), to cut and damage the file.

struct Record {
  size_t offset = 0, header_len = 0, body_len = 0;
  std::string body;
};

std::vector<Record> read_records(const std::string& path) {
  std::string data = read_file(path);
  std::vector<Record> v;
  size_t off = 0;
  while (off < data.size()) {
    size_t nl = data.find('\n', off);
    if (nl == std::string::npos || data.compare(off, 11, "OVSDB JSON ") != 0) break;
    Record r;
    r.offset = off;
    r.header_len = nl + 1 - off;
    r.body_len = std::stoul(data.substr(off + 11, nl - off - 11));
    if (nl + 1 + r.body_len > data.size()) break;
    r.body = data.substr(nl + 1, r.body_len);
    v.push_back(r);
    off = nl + 1 + r.body_len;
  }
  return v;
}

// ---------------------------------------------------------------------------
// The daemon under test.

class Trestled {
 public:
  Trestled() {
    char tmpl[] = "/tmp/trestle-int-XXXXXX";
    dir_ = mkdtemp(tmpl);
    for (auto* sub : {"/run", "/db", "/log"}) fs::create_directories(dir_ + sub);
  }
  ~Trestled() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    // Only while that pid is still our trestled (never a process that got
    // the number after it exited).
    if (detached_pid_ > 0 && read_file("/proc/" + std::to_string(detached_pid_) + "/cmdline").find(TRESTLED) == 0 &&
        read_file("/proc/" + std::to_string(detached_pid_) + "/environ").find(rundir()) != std::string::npos)
      kill(detached_pid_, SIGKILL);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Trestled(const Trestled&) = delete;
  Trestled& operator=(const Trestled&) = delete;

  const std::string& dir() const { return dir_; }
  std::string rundir() const { return dir_ + "/run"; }
  std::string db_path() const { return dir_ + "/db/conf.db"; }
  std::string db_sock() const { return rundir() + "/db.sock"; }
  std::string unix_remote() const { return "unix:" + db_sock(); }
  std::string output_path() const { return dir_ + "/trestled.out"; }  // its stderr, all runs
  std::string output() const { return read_file(output_path()); }
  pid_t pid() const { return pid_; }
  std::string ctl_path(pid_t pid) const { return rundir() + "/ovs-vswitchd." + std::to_string(pid) + ".ctl"; }
  // The environment the stock tools find everything through.
  std::string env() const {
    return "env OVS_RUNDIR=" + rundir() + " OVS_DBDIR=" + dir_ + "/db OVS_LOGDIR=" + dir_ + "/log ";
  }

  // Starts trestled and waits until it serves db.sock and its control
  // socket (the last thing it opens before its loop). Without `dataplane`
  // it runs with --no-dataplane: the database alone, as ovsdb-server.
  ::testing::AssertionResult start(const std::vector<std::string>& args = {}, bool dataplane = false) {
    if (pid_ > 0) return ::testing::AssertionFailure() << "already running";
    pid_ = fork();
    if (pid_ == 0) {
      setenv("OVS_RUNDIR", rundir().c_str(), 1);
      setenv("OVS_DBDIR", (dir_ + "/db").c_str(), 1);
      setenv("OVS_LOGDIR", (dir_ + "/log").c_str(), 1);
      int fd = open(output_path().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv{const_cast<char*>(TRESTLED)};
      if (!dataplane) argv.push_back(const_cast<char*>("--no-dataplane"));
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(TRESTLED, argv.data());
      _exit(127);
    }
    bool exited = false;
    bool up = wait_until(
        [&] {
          int st;
          if (waitpid(pid_, &st, WNOHANG) == pid_) return exited = true;
          if (!fs::exists(ctl_path(pid_))) return false;
          int fd = connect_unix(db_sock());
          if (fd >= 0) close(fd);
          return fd >= 0;
        },
        10000);
    if (exited) pid_ = -1;
    if (up && !exited) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "trestled " << (exited ? "exited" : "did not come up")
                                         << "; its output:\n"
                                         << output();
  }

  // Sends `sig` and reaps it; the exit status (-1: killed by a signal or
  // still running after 10 s, then SIGKILLed).
  int stop(int sig = SIGTERM, double* took_s = nullptr) {
    if (pid_ <= 0) return -1;
    auto t0 = Clock::now();
    kill(pid_, sig);
    int st = 0;
    bool done = wait_until([&] { return waitpid(pid_, &st, WNOHANG) == pid_; }, 10000);
    if (!done) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &st, 0);
    }
    if (took_s) *took_s = seconds_since(t0);
    pid_ = -1;
    return done && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  void kill9() { stop(SIGKILL); }

  // A daemon that --detach put beyond waitpid: killed by pid on destruction.
  void adopt_detached(pid_t pid) { detached_pid_ = pid; }

  Output vsctl(const std::string& args, int timeout = 10) const {
    return run(env() + "ovs-vsctl --timeout=" + std::to_string(timeout) + " " + args);
  }

 private:
  std::string dir_;
  pid_t pid_ = -1, detached_pid_ = -1;
};

// ---------------------------------------------------------------------------

class OvsdbClientsTest : public ::testing::Test {
 protected:
  // ovs-vsctl that must succeed (exit 0, which also means cur_cfg caught up
  // with next_cfg before --timeout); its stdout without the last newline.
  std::string vsctl_ok(const std::string& args) {
    Output o = d_.vsctl(args);
    EXPECT_EQ(o.status, 0) << o;
    EXPECT_EQ(o.err.find("transaction error"), std::string::npos) << o;
    return trim(o.out);
  }
  // The names in `ovs-vsctl --format=json --columns=name list TABLE`.
  std::set<std::string> names_in(const std::string& table) {
    Output o = d_.vsctl("--format=json --columns=name list " + table);
    EXPECT_EQ(o.status, 0) << o;
    Json j = parse_or_null(o.out);
    std::set<std::string> names;
    if (!j["data"].is_array()) {
      ADD_FAILURE() << "not ovs-vsctl's JSON table:\n" << o;
      return names;
    }
    for (auto& row : j["data"].as_array()) names.insert(row.as_array().at(0).as_string());
    return names;
  }
  Output client(const std::string& args) { return run(d_.env() + "ovsdb-client --timeout=10 " + args); }
  Output tool(const std::string& args) { return run("ovsdb-tool " + args); }

  Trestled d_;
};

// 1. ovs-vsctl -------------------------------------------------------------

TEST_F(OvsdbClientsTest, VsctlBridgesPortsOfEveryTypeAndDatabaseCommands) {
  ASSERT_TRUE(d_.start());
  auto t0 = Clock::now();
  vsctl_ok("add-br br-int");
  // Without --no-wait ovs-vsctl waits for cur_cfg; trestled answers at once.
  EXPECT_LT(seconds_since(t0), 3.0);
  vsctl_ok("-- set Bridge br-int datapath_type=netdev");
  EXPECT_EQ(d_.vsctl("br-exists br-int").status, 0);
  EXPECT_EQ(d_.vsctl("br-exists br-nope").status, 2);

  const std::string vhost_path = d_.dir() + "/vhuc1.sock";
  vsctl_ok("add-port br-int int0 -- set Interface int0 type=internal");
  vsctl_ok("add-port br-int patch-a -- set Interface patch-a type=patch options:peer=patch-b");
  vsctl_ok("add-port br-int dpdk0 -- set Interface dpdk0 type=dpdk options:dpdk-devargs=0000:01:00.0");
  vsctl_ok("add-port br-int vhu1 -- set Interface vhu1 type=dpdkvhostuser");
  vsctl_ok("add-port br-int vhuc1 tag=42 -- set Interface vhuc1 type=dpdkvhostuserclient "
           "options:vhost-server-path=" + vhost_path);
  EXPECT_EQ(vsctl_ok("list-ports br-int"), "dpdk0\nint0\npatch-a\nvhu1\nvhuc1");
  EXPECT_EQ(vsctl_ok("list-br"), "br-int");
  EXPECT_EQ(vsctl_ok("get Interface int0 type"), "internal");
  EXPECT_EQ(vsctl_ok("get Interface patch-a type options:peer"), "patch\npatch-b");
  EXPECT_EQ(vsctl_ok("get Interface dpdk0 type options"), "dpdk\n{dpdk-devargs=\"0000:01:00.0\"}");
  EXPECT_EQ(vsctl_ok("get Interface vhu1 type"), "dpdkvhostuser");
  EXPECT_EQ(vsctl_ok("get Interface vhuc1 type options:vhost-server-path"),
            "dpdkvhostuserclient\n\"" + vhost_path + "\"");
  EXPECT_EQ(vsctl_ok("get Port vhuc1 tag"), "42");
  EXPECT_EQ(vsctl_ok("iface-to-br vhuc1"), "br-int");
  EXPECT_EQ(vsctl_ok("port-to-br patch-a"), "br-int");

  // set / get / find / list / clear / remove.
  vsctl_ok("set Port vhuc1 vlan_mode=native-untagged trunks=10,20 other_config:foo=bar other_config:baz=1");
  EXPECT_EQ(vsctl_ok("get Port vhuc1 vlan_mode trunks other_config:foo"), "native-untagged\n[10, 20]\nbar");
  EXPECT_EQ(vsctl_ok("--bare --columns=name find Interface type=dpdk"), "dpdk0");
  EXPECT_EQ(vsctl_ok("--bare --columns=name find Interface options:peer=patch-b"), "patch-a");
  EXPECT_EQ(vsctl_ok("--bare --columns=name find Port tag=42"), "vhuc1");
  EXPECT_EQ(vsctl_ok("--bare --columns=name find Port tag=43"), "");
  std::string listed = vsctl_ok("list Interface dpdk0");
  EXPECT_NE(listed.find("name                : dpdk0"), std::string::npos) << listed;
  EXPECT_NE(listed.find("options             : {dpdk-devargs=\"0000:01:00.0\"}"), std::string::npos) << listed;
  vsctl_ok("clear Port vhuc1 trunks");
  vsctl_ok("remove Port vhuc1 other_config foo");
  EXPECT_EQ(vsctl_ok("get Port vhuc1 trunks other_config"), "[]\n{baz=\"1\"}");
  vsctl_ok("remove Port vhuc1 tag 42");
  EXPECT_EQ(vsctl_ok("get Port vhuc1 tag"), "[]");

  // --may-exist / --if-exists, and the errors without them.
  vsctl_ok("--may-exist add-br br-int");
  vsctl_ok("--may-exist add-port br-int int0");
  Output dup = d_.vsctl("add-br br-int");
  EXPECT_EQ(dup.status, 1) << dup;
  EXPECT_NE(dup.err.find("a bridge named br-int already exists"), std::string::npos) << dup;
  vsctl_ok("--if-exists del-port no-such-port");
  vsctl_ok("--if-exists del-br no-such-br");
  Output missing = d_.vsctl("del-port no-such-port");
  EXPECT_EQ(missing.status, 1) << missing;
  EXPECT_NE(missing.err.find("no port named no-such-port"), std::string::npos) << missing;

  // Controller and manager.
  vsctl_ok("set-controller br-int tcp:127.0.0.1:6653");
  EXPECT_EQ(vsctl_ok("get-controller br-int"), "tcp:127.0.0.1:6653");
  EXPECT_EQ(vsctl_ok("--bare --columns=target list Controller"), "tcp:127.0.0.1:6653");
  const std::string mgr = "ptcp:" + std::to_string(free_tcp_port()) + ":127.0.0.1";
  vsctl_ok("set-manager " + mgr);
  EXPECT_EQ(vsctl_ok("get-manager"), mgr);

  // --format=json list.
  Output js = d_.vsctl("--format=json list Bridge br-int");
  ASSERT_EQ(js.status, 0) << js;
  Json table = parse_or_null(js.out);
  ASSERT_TRUE(table["headings"].is_array()) << js;
  const auto& headings = table["headings"].as_array();
  auto col = std::find(headings.begin(), headings.end(), Json("name"));
  ASSERT_NE(col, headings.end()) << js;
  ASSERT_EQ(table["data"].as_array().size(), 1u) << js;
  EXPECT_EQ(table["data"].as_array()[0].as_array()[size_t(col - headings.begin())], Json("br-int"));
  auto dp = std::find(headings.begin(), headings.end(), Json("datapath_type"));
  ASSERT_NE(dp, headings.end());
  EXPECT_EQ(table["data"].as_array()[0].as_array()[size_t(dp - headings.begin())], Json("netdev"));

  // del-port: the Port and Interface rows are garbage-collected by the
  // server (ovs-vsctl only drops the reference from Bridge.ports).
  vsctl_ok("del-port br-int vhu1");
  vsctl_ok("del-port dpdk0");
  EXPECT_EQ(vsctl_ok("list-ports br-int"), "int0\npatch-a\nvhuc1");
  EXPECT_EQ(names_in("Interface"), (std::set<std::string>{"br-int", "int0", "patch-a", "vhuc1"}));
  EXPECT_EQ(names_in("Port"), (std::set<std::string>{"br-int", "int0", "patch-a", "vhuc1"}));
  std::string ifaces = vsctl_ok("list Interface");
  EXPECT_EQ(ifaces.find("vhu1\""), std::string::npos);
  EXPECT_EQ(ifaces.find("dpdk0"), std::string::npos);
  Output gone = d_.vsctl("list Interface vhu1");
  EXPECT_EQ(gone.status, 1) << gone;
  EXPECT_NE(gone.err.find("no row \"vhu1\" in table Interface"), std::string::npos) << gone;

  // del-br: bridge, ports, interfaces and its Controller go; the Manager,
  // referenced from Open_vSwitch, stays.
  vsctl_ok("add-br br-two");
  vsctl_ok("del-br br-int");
  EXPECT_EQ(vsctl_ok("list-br"), "br-two");
  EXPECT_EQ(names_in("Port"), (std::set<std::string>{"br-two"}));
  EXPECT_EQ(names_in("Interface"), (std::set<std::string>{"br-two"}));
  EXPECT_EQ(vsctl_ok("--bare --columns=_uuid list Controller"), "");
  EXPECT_EQ(vsctl_ok("--bare --columns=target list Manager"), mgr);
  EXPECT_EQ(d_.vsctl("br-exists br-int").status, 2);
  // Every writing command above bumped next_cfg, and cur_cfg followed.
  EXPECT_EQ(vsctl_ok("get Open_vSwitch . cur_cfg"), vsctl_ok("get Open_vSwitch . next_cfg"));
}

// libvirt (virnetdevopenvswitch.c) runs these, verbatim from traces 24-27.
TEST_F(OvsdbClientsTest, VsctlLibvirtCommandLines) {
  ASSERT_TRUE(d_.start());
  vsctl_ok("add-br br-int");
  auto libvirt = [&](const std::string& args) { return run(d_.env() + "ovs-vsctl --timeout=5 " + args); };
  // T:24 virNetDevOpenvswitchAddPort, InterfaceGetMaster.
  Output add = libvirt(
      "-- --may-exist add-port br-int tapvirt1 -- set Interface tapvirt1 "
      "'external-ids:attached-mac=\"52:54:00:11:22:33\"' -- set Interface tapvirt1 "
      "'external-ids:iface-id=\"4f1c2a3e-7c36-4e2b-9a1d-1f2e3d4c5b6a\"' -- set Interface tapvirt1 "
      "'external-ids:vm-id=\"8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d\"' -- set Interface tapvirt1 "
      "external-ids:iface-status=active");
  EXPECT_EQ(add.status, 0) << add;
  Output master = libvirt("iface-to-br tapvirt1");
  EXPECT_EQ(master.status, 0) << master;
  EXPECT_EQ(master.out, "br-int\n");
  EXPECT_EQ(vsctl_ok("get Interface tapvirt1 external_ids"),
            "{attached-mac=\"52:54:00:11:22:33\", iface-id=\"4f1c2a3e-7c36-4e2b-9a1d-1f2e3d4c5b6a\", "
            "iface-status=active, vm-id=\"8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d\"}");
  // Again: --may-exist keeps the port (libvirt re-adds on restart).
  EXPECT_EQ(libvirt("-- --may-exist add-port br-int tapvirt1").status, 0);

  // T:25 vhost-user: the port is found by its socket path, or by name.
  const std::string sock = d_.dir() + "/vhuvirt1.sock";
  Output vhu = libvirt("--may-exist add-port br-int vhuvirt1 -- set Interface vhuvirt1 type=dpdkvhostuserclient "
                       "options:vhost-server-path=" + sock);
  EXPECT_EQ(vhu.status, 0) << vhu;
  Output find = libvirt("--no-headings --columns=name find Interface options:vhost-server-path=" + sock);
  EXPECT_EQ(find.status, 0) << find;
  EXPECT_EQ(find.out, "vhuvirt1\n");
  Output name = libvirt("get Interface vhuvirt1 name");
  EXPECT_EQ(name.out, "vhuvirt1\n") << name;

  // T:26 domifstat: a map, even with no counters yet; a missing interface
  // prints nothing and succeeds.
  Output stats = libvirt("--if-exists --format=list --data=json --no-headings --columns=statistics list Interface vhuvirt1");
  EXPECT_EQ(stats.status, 0) << stats;
  EXPECT_EQ(stats.out.rfind("[\"map\",[", 0), 0u) << stats;
  Output nostats = libvirt("--if-exists --format=list --data=json --no-headings --columns=statistics list Interface nosuchif");
  EXPECT_EQ(nostats.status, 0) << nostats;
  EXPECT_EQ(nostats.out, "");

  // T:27 UpdateVlan ("trunk" abbreviates the column trunks), migration
  // data, RemovePort.
  vsctl_ok("set Port tapvirt1 tag=7 trunks=1,2 vlan_mode=trunk");
  Output vlan = libvirt("-- --if-exists clear Port tapvirt1 tag -- --if-exists clear Port tapvirt1 trunk "
                        "-- --if-exists clear Port tapvirt1 vlan_mode -- --if-exists set Port tapvirt1 tag=42");
  EXPECT_EQ(vlan.status, 0) << vlan;
  EXPECT_EQ(vsctl_ok("get Port tapvirt1 tag trunks vlan_mode"), "42\n[]\n[]");
  Output nodata = libvirt("--if-exists get Interface tapvirt1 external_ids:PortData");
  EXPECT_EQ(nodata.status, 0) << nodata;
  EXPECT_EQ(nodata.out, "\n");
  EXPECT_EQ(libvirt("set Interface tapvirt1 external_ids:PortData=abc").status, 0);
  EXPECT_EQ(libvirt("--if-exists get Interface tapvirt1 external_ids:PortData").out, "abc\n");

  // virNetDevOpenvswitchInterfaceSetQos / ClearQos (libvirt's own test,
  // tests/virnetdevopenvswitchtest.c, lists these command lines): QoS and
  // Queue are root tables, found by external-ids, destroyed explicitly.
  const std::string ids =
      " 'external-ids:vm-id=\"8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d\"' 'external-ids:ifname=\"tapvirt1\"'";
  auto find_uuid = [&](const std::string& table) {
    Output o = libvirt("--no-heading --columns=_uuid find " + table + ids);
    EXPECT_EQ(o.status, 0) << o;
    return trim(o.out);
  };
  EXPECT_EQ(find_uuid("queue"), "");
  EXPECT_EQ(find_uuid("qos"), "");
  Output set_qos = libvirt("set port tapvirt1 qos=@qos1" + ids +
                       " -- --id=@qos1 create qos type=linux-htb other_config:min-rate=8192000 queues:0=@queue0" + ids +
                       " -- --id=@queue0 create queue other_config:min-rate=8192000" + ids);
  EXPECT_EQ(set_qos.status, 0) << set_qos;
  EXPECT_EQ(libvirt("set Interface tapvirt1 ingress_policing_rate=0 ingress_policing_burst=0").status, 0);
  const std::string queue_uuid = find_uuid("queue"), qos_uuid = find_uuid("qos");
  ASSERT_EQ(queue_uuid.size(), 36u);
  ASSERT_EQ(qos_uuid.size(), 36u);
  EXPECT_EQ(vsctl_ok("get Port tapvirt1 qos"), qos_uuid);
  EXPECT_EQ(vsctl_ok("get QoS " + qos_uuid + " queues"), "{0=" + queue_uuid + "}");
  // A second domain start updates the rows in place.
  EXPECT_EQ(libvirt("set queue " + queue_uuid + " other_config:min-rate=16000" + ids).status, 0);
  EXPECT_EQ(libvirt("set qos " + qos_uuid + " other_config:min-rate=16000" + ids).status, 0);
  EXPECT_EQ(vsctl_ok("get Queue " + queue_uuid + " other_config:min-rate"), "\"16000\"");
  // Clear: the QoS is still referenced by the port until it is removed.
  Output early = libvirt("destroy qos " + qos_uuid);
  EXPECT_EQ(early.status, 1) << early;
  EXPECT_NE(early.err.find("referential integrity violation"), std::string::npos) << early;
  Output port_qos = libvirt("--no-heading --columns=_uuid --if-exists list port tapvirt1 qos");
  EXPECT_EQ(port_qos.status, 0) << port_qos;
  EXPECT_EQ(trim(port_qos.out), vsctl_ok("get Port tapvirt1 _uuid"));
  EXPECT_EQ(libvirt("remove port tapvirt1 qos " + qos_uuid).status, 0);
  EXPECT_EQ(libvirt("destroy qos " + qos_uuid).status, 0);
  EXPECT_EQ(find_uuid("queue"), queue_uuid);  // a root row: kept until destroyed
  EXPECT_EQ(libvirt("destroy queue " + queue_uuid).status, 0);
  EXPECT_EQ(find_uuid("queue"), "");
  EXPECT_EQ(find_uuid("qos"), "");

  EXPECT_EQ(libvirt("-- --if-exists del-port tapvirt1").status, 0);
  EXPECT_EQ(libvirt("-- --if-exists del-port vhuvirt1").status, 0);
  EXPECT_EQ(libvirt("-- --if-exists del-port vhuvirt1").status, 0);
  EXPECT_EQ(names_in("Interface"), (std::set<std::string>{"br-int"}));
  EXPECT_EQ(names_in("Port"), (std::set<std::string>{"br-int"}));
}

// os-vif with ovsdb_interface=vsctl, verbatim from trace 51 (its --db and
// socket paths pointed at this test's directory).
TEST_F(OvsdbClientsTest, VsctlOsVifCommandLines) {
  ASSERT_TRUE(d_.start());
  const std::string osvif = "ovs-vsctl --timeout=15 --oneline --format=json --db=" + d_.unix_remote() + " ";
  const std::string sock = d_.dir() + "/vhua1111111-aa.sock";
  std::vector<std::string> plug = {
      "-- --may-exist add-br br-int -- set Bridge br-int datapath_type=netdev -- --may-exist add-port br-int "
      "vhua1111111-aa -- set Interface vhua1111111-aa external_ids:iface-id=a1111111-aaaa-4bbb-8ccc-000000000001 "
      "external_ids:iface-status=active external_ids:attached-mac=fa:16:3e:aa:bb:00 "
      "external_ids:vm-uuid=8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d type=dpdkvhostuserclient "
      "options:vhost-server-path=" + sock,
      "-- set Interface vhua1111111-aa mtu_request=1450",
      "-- --may-exist add-br br-int -- set Bridge br-int datapath_type=netdev -- --may-exist add-port br-int "
      "vhub2222222-aa -- set Interface vhub2222222-aa external_ids:iface-id=b2222222-aaaa-4bbb-8ccc-000000000002 "
      "external_ids:iface-status=active external_ids:attached-mac=fa:16:3e:aa:bb:01 "
      "external_ids:vm-uuid=8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d type=dpdkvhostuser",
      "-- set Interface vhub2222222-aa mtu_request=1450",
      "-- --may-exist add-port br-int tapc3333333-aa -- set Interface tapc3333333-aa "
      "external_ids:iface-id=c3333333-aaaa-4bbb-8ccc-000000000003 external_ids:iface-status=active "
      "external_ids:attached-mac=fa:16:3e:aa:bb:03 external_ids:vm-uuid=8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d",
  };
  for (auto& args : plug) {
    Output o = run(d_.env() + osvif + args);
    EXPECT_EQ(o.status, 0) << o;
  }
  EXPECT_EQ(vsctl_ok("list-ports br-int"), "tapc3333333-aa\nvhua1111111-aa\nvhub2222222-aa");
  EXPECT_EQ(vsctl_ok("get Bridge br-int datapath_type"), "netdev");
  EXPECT_EQ(vsctl_ok("get Interface vhua1111111-aa type mtu_request options:vhost-server-path"),
            "dpdkvhostuserclient\n1450\n\"" + sock + "\"");
  EXPECT_EQ(vsctl_ok("get Interface vhub2222222-aa type mtu_request external_ids:iface-id"),
            "dpdkvhostuser\n1450\n\"b2222222-aaaa-4bbb-8ccc-000000000002\"");
  for (auto* dev : {"vhua1111111-aa", "vhub2222222-aa", "tapc3333333-aa"}) {
    Output o = run(d_.env() + osvif + "-- --if-exists del-port br-int " + dev);
    EXPECT_EQ(o.status, 0) << o;
  }
  EXPECT_EQ(vsctl_ok("list-ports br-int"), "");
  EXPECT_EQ(names_in("Interface"), (std::set<std::string>{"br-int"}));
}

// 2. ovsdb-client ------------------------------------------------------------

TEST_F(OvsdbClientsTest, OvsdbClientListDbsSchemaTablesDumpTransact) {
  ASSERT_TRUE(d_.start());
  const std::string r = d_.unix_remote();
  Output dbs = client("list-dbs " + r);
  EXPECT_EQ(dbs.status, 0) << dbs;
  EXPECT_EQ(dbs.out, "Open_vSwitch\n_Server\n");

  // The schema on the wire is Debian's vswitch.ovsschema, unmodified
  // (ovsdb-client prints it normalised: default "max" dropped, enums sorted).
  Json stock = parse_or_null(read_file(kStockSchema));
  ASSERT_TRUE(stock.is_object());
  RpcClient raw(connect_unix(d_.db_sock()));
  EXPECT_TRUE(raw.call("get_schema", Json::Array{"Open_vSwitch"})["result"] == stock)
      << "get_schema differs from " << kStockSchema;
  Output schema = client("get-schema " + r);
  ASSERT_EQ(schema.status, 0) << schema;
  Json printed = parse_or_null(schema.out);
  EXPECT_EQ(printed["name"], Json("Open_vSwitch"));
  EXPECT_EQ(printed["version"], Json("8.3.1"));
  EXPECT_EQ(client("get-schema-version " + r).out, "8.3.1\n");
  EXPECT_EQ(client("get-schema-cksum " + r).out, "3012963480 26720\n");

  Output tables = client("list-tables " + r);
  ASSERT_EQ(tables.status, 0) << tables;
  std::set<std::string> listed;
  for (auto& line : lines_of(tables.out))
    if (line != "Table" && line.find("---") != 0) listed.insert(trim(line));
  std::set<std::string> expected;
  for (auto& [name, _] : stock["tables"].as_object()) expected.insert(name);
  EXPECT_EQ(listed, expected);

  vsctl_ok("add-br br-dump -- set Bridge br-dump datapath_type=netdev");
  Output dump = client("dump " + r + " Open_vSwitch Bridge name datapath_type");
  EXPECT_EQ(dump.status, 0) << dump;
  auto dump_lines = lines_of(dump.out);
  ASSERT_EQ(dump_lines.size(), 4u) << dump;
  EXPECT_EQ(dump_lines[0], "Bridge table");
  EXPECT_EQ(dump_lines[3], "netdev        br-dump");
  Output whole = client("dump " + r);  // every table: one select each
  EXPECT_EQ(whole.status, 0) << whole;
  EXPECT_NE(whole.out.find("Open_vSwitch table"), std::string::npos);
  EXPECT_NE(whole.out.find("br-dump"), std::string::npos);

  // transact: a write (QoS is a root table: the row stays), a read, errors.
  Output ins = client("transact " + r +
                      " '[\"Open_vSwitch\",{\"op\":\"insert\",\"table\":\"QoS\",\"row\":{\"type\":\"linux-htb\","
                      "\"external_ids\":[\"map\",[[\"by\",\"ovsdb-client\"]]]}}]'");
  ASSERT_EQ(ins.status, 0) << ins;
  Json ins_r = parse_or_null(ins.out);
  ASSERT_TRUE(ins_r.is_array() && ins_r.as_array().size() == 1) << ins;
  ASSERT_TRUE(ins_r.as_array()[0]["uuid"].is_array()) << ins;
  const std::string qos = ins_r.as_array()[0]["uuid"].as_array()[1].as_string();
  Output sel = client("transact " + r +
                      " '[\"Open_vSwitch\",{\"op\":\"select\",\"table\":\"QoS\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"" +
                      qos + "\"]]],\"columns\":[\"type\",\"external_ids\"]}]'");
  EXPECT_EQ(sel.status, 0) << sel;
  EXPECT_EQ(trim(sel.out), "[{\"rows\":[{\"external_ids\":[\"map\",[[\"by\",\"ovsdb-client\"]]],\"type\":\"linux-htb\"}]}]");
  EXPECT_EQ(vsctl_ok("get QoS " + qos + " type"), "linux-htb");
  Output bad_table = client("transact " + r + " '[\"Open_vSwitch\",{\"op\":\"select\",\"table\":\"NoSuchTable\",\"where\":[]}]'");
  EXPECT_EQ(trim(bad_table.out),
            "[{\"details\":\"Parsing ovsdb operation 1 of 1 failed: No table named NoSuchTable.\",\"error\":"
            "\"syntax error\",\"syntax\":\"{\\\"op\\\":\\\"select\\\",\\\"table\\\":\\\"NoSuchTable\\\",\\\"where\\\":[]}\"}]")
      << bad_table;
  Output bad_db = client("transact " + r + " '[\"NoSuchDb\",{\"op\":\"select\",\"table\":\"Bridge\",\"where\":[]}]'");
  EXPECT_EQ(bad_db.status, 1) << bad_db;
  EXPECT_NE(bad_db.err.find("\"error\":\"unknown database\""), std::string::npos) << bad_db;
  // A transaction that breaks the schema is refused whole.
  Output dup = client("transact " + r +
                      " '[\"Open_vSwitch\",{\"op\":\"insert\",\"table\":\"QoS\",\"row\":{\"type\":\"a\"}},"
                      "{\"op\":\"insert\",\"table\":\"Open_vSwitch\",\"row\":{}}]'");
  EXPECT_NE(dup.out.find("\"error\":\"constraint violation\""), std::string::npos) << dup;
  EXPECT_EQ(vsctl_ok("--bare --columns=type list QoS"), "linux-htb");
}

// neutron's SimpleInterfaceMonitor (neutron:agent/common/ovsdb_monitor.py):
// one JSON table per update on stdout, read while it runs (trace 19).
TEST_F(OvsdbClientsTest, OvsdbClientMonitorStreamsInterfaceUpdatesAsNeutronReadsThem) {
  ASSERT_TRUE(d_.start());
  vsctl_ok("add-br br-mon");
  Background mon(d_.env() + "ovsdb-client monitor " + d_.unix_remote() +
                 " Interface name,ofport,external_ids --format=json");
  ASSERT_TRUE(mon.wait_lines(1, 5000)) << "no initial rows from ovsdb-client monitor";

  struct Update {
    std::string uuid, action, name;
    Json ofport, external_ids;
  };
  // Each line: {"data":[[row, action, name, ofport, external_ids]...], "headings":[...]}.
  auto updates_in = [](const std::string& line) {
    std::vector<Update> v;
    Json j = parse_or_null(line);
    EXPECT_EQ(j["headings"], Json(Json::Array{"row", "action", "name", "ofport", "external_ids"})) << line;
    if (!j["data"].is_array()) return v;
    for (auto& row : j["data"].as_array()) {
      auto& a = row.as_array();
      if (a.size() != 5) continue;
      v.push_back({a[0].as_string(), a[1].as_string(), a[2].is_string() ? a[2].as_string() : "", a[3], a[4]});
    }
    return v;
  };
  auto initial = updates_in(mon.lines()[0]);
  ASSERT_EQ(initial.size(), 1u) << mon.lines()[0];
  EXPECT_EQ(initial[0].action, "initial");
  EXPECT_EQ(initial[0].name, "br-mon");

  vsctl_ok("add-port br-mon tapmon1 -- set Interface tapmon1 type=internal external_ids:iface-id=mon1");
  ASSERT_TRUE(mon.wait_lines(2, 5000)) << "no insert update";
  auto insert = updates_in(mon.lines()[1]);
  ASSERT_EQ(insert.size(), 1u) << mon.lines()[1];
  EXPECT_EQ(insert[0].action, "insert");
  EXPECT_EQ(insert[0].name, "tapmon1");
  EXPECT_EQ(insert[0].external_ids.dump(), "[\"map\",[[\"iface-id\",\"mon1\"]]]");
  const std::string uuid = insert[0].uuid;
  EXPECT_EQ(vsctl_ok("get Interface tapmon1 _uuid"), uuid);

  vsctl_ok("set Interface tapmon1 external_ids:attached-mac=fa:16:3e:00:00:01");
  ASSERT_TRUE(mon.wait_lines(3, 5000)) << "no modify update";
  auto modify = updates_in(mon.lines()[2]);
  ASSERT_EQ(modify.size(), 2u) << mon.lines()[2];
  // "old" carries only the changed columns (the others are null), "new" all.
  EXPECT_EQ(modify[0].uuid, uuid);
  EXPECT_EQ(modify[0].action, "old");
  EXPECT_EQ(modify[0].name, "");
  EXPECT_TRUE(modify[0].ofport.is_null());
  EXPECT_EQ(modify[0].external_ids.dump(), "[\"map\",[[\"iface-id\",\"mon1\"]]]");
  EXPECT_EQ(modify[1].action, "new");
  EXPECT_EQ(modify[1].name, "tapmon1");
  EXPECT_EQ(modify[1].external_ids.dump(),
            "[\"map\",[[\"attached-mac\",\"fa:16:3e:00:00:01\"],[\"iface-id\",\"mon1\"]]]");

  vsctl_ok("del-port br-mon tapmon1");
  ASSERT_TRUE(mon.wait_lines(4, 5000)) << "no delete update";
  auto del = updates_in(mon.lines()[3]);
  ASSERT_EQ(del.size(), 1u) << mon.lines()[3];
  EXPECT_EQ(del[0].uuid, uuid);
  EXPECT_EQ(del[0].action, "delete");
  EXPECT_EQ(del[0].name, "tapmon1");

  // Changes to other tables, or to unmonitored columns, send nothing.
  vsctl_ok("set Bridge br-mon other_config:x=1 -- set Interface br-mon mtu_request=1500");
  vsctl_ok("add-port br-mon tapmon2");
  ASSERT_TRUE(mon.wait_lines(5, 5000));
  EXPECT_EQ(updates_in(mon.lines()[4]).at(0).name, "tapmon2") << mon.lines()[4];
}

// 3. The python IDL through ovsdbapp ------------------------------------------

// Runs ovsdbapp_session.py against `remote` and checks what it read back.
// `ofports`: the dataplane runs, so every interface gets its ofport and
// ovsdbapp's post-commit check must pass.
void check_ovsdbapp_session(const Trestled& d, const std::string& remote, const std::string& prefix,
                            bool ofports = false) {
  Output o = run(std::string(kPython) + " " INTEGRATION_DIR "/ovsdbapp_session.py " + remote + " " + prefix +
                     " " + d.dir(),
                 60);
  ASSERT_EQ(o.status, 0) << o;
  Json r = parse_or_null(lines_of(o.out).empty() ? "" : lines_of(o.out).back());
  ASSERT_TRUE(r.is_object()) << o;
  const std::string br = prefix + "-br", port = prefix + "-p1";
  EXPECT_EQ(r["external_ids"].dump(),
            "{\"attached-mac\":\"fa:16:3e:00:00:01\",\"iface-id\":\"" + prefix + "-iface\"}");
  EXPECT_EQ(r["type"], Json("internal"));
  EXPECT_EQ(r["datapath_type"], Json("netdev"));
  EXPECT_EQ(r["bridges"], Json(Json::Array{br}));
  EXPECT_EQ(r["ports"], Json(Json::Array{port}));
  EXPECT_EQ(r["iface_to_br"], Json(br));
  EXPECT_EQ(r["br_exists"], Json(true));
  EXPECT_EQ(r["ports_after_del_port"], Json(Json::Array{}));
  EXPECT_EQ(r["interfaces_after_del_port"], Json(Json::Array{br})) << "Interface row not collected";
  EXPECT_EQ(r["bridges_after_del_br"], Json(Json::Array{}));
  EXPECT_EQ(r["br_exists_after_del_br"], Json(false));
  EXPECT_EQ(r["ports_after_del_br"], Json(Json::Array{}));
  EXPECT_EQ(r["interfaces_after_del_br"], Json(Json::Array{}));
  const Json& vif = r["vif"];
  EXPECT_EQ(vif["type"], Json("dpdkvhostuserclient"));
  EXPECT_EQ(vif["options"]["vhost-server-path"], Json(d.dir() + "/vhu" + prefix + ".sock"));
  EXPECT_EQ(vif["mtu_request"], Json(1450));
  EXPECT_EQ(vif["iface_status"], Json("active"));
  EXPECT_EQ(vif["ports"], Json(Json::Array{"vhu" + prefix}));
  EXPECT_EQ(vif["ports_after_unplug"], Json(Json::Array{}));
  EXPECT_EQ(vif["interfaces_after_unplug"], Json(Json::Array{}));
  // ovsdbapp waits for cur_cfg after every transaction and only logs a
  // timeout; without a dataplane (no ofport) its post-commit check fails.
  for (auto& e : r["logged_exceptions"].as_array())
    EXPECT_TRUE(!ofports && e == Json("VswitchdInterfaceAddException")) << o;
  EXPECT_LT(r["seconds"].as_number(), 8.0) << "ovsdbapp waited on cur_cfg?\n" << o;
  // The session leaves nothing behind.
  Output left = d.vsctl("list-br");
  EXPECT_EQ(left.out.find(prefix + "-"), std::string::npos) << left;
}

TEST_F(OvsdbClientsTest, OvsdbappOverUnixSocket) {
  ASSERT_TRUE(d_.start());
  check_ovsdbapp_session(d_, d_.unix_remote(), "u");
}

// neutron's enable_connection_uri (neutron:privileged/agent/ovsdb/native/
// helpers.py, trace 15) makes the TCP listener; it must be up within the 1 s
// neutron gives it, and go when the Manager row goes.
TEST_F(OvsdbClientsTest, OvsdbappOverTcpManagerListenerMadeTheNeutronWay) {
  ASSERT_TRUE(d_.start());
  const int port = free_tcp_port();
  ASSERT_GT(port, 0);
  const std::string target = "ptcp:" + std::to_string(port) + ":127.0.0.1";
  const std::string create = "--id=@manager -- create Manager \"target=\\\"" + target +
                             "\\\"\" -- add Open_vSwitch . manager_options @manager";
  Output o = d_.vsctl(create);
  ASSERT_EQ(o.status, 0) << o;
  auto t0 = Clock::now();
  ASSERT_TRUE(wait_until([&] { return tcp_listening(port); }, 1000))
      << target << " not listening within 1 s\n" << d_.output();
  EXPECT_LT(seconds_since(t0), 1.0);

  // ovsdb-server's Manager.status key that clients could read.
  EXPECT_TRUE(wait_until([&] { return d_.vsctl("get Manager " + target + " status:bound_port").out ==
                                      "\"" + std::to_string(port) + "\"\n"; },
                         3000))
      << d_.vsctl("list Manager").out;

  check_ovsdbapp_session(d_, "tcp:127.0.0.1:" + std::to_string(port), "t");
  // ovs-vsctl over the same listener.
  Output over_tcp = run("ovs-vsctl --timeout=10 --db=tcp:127.0.0.1:" + std::to_string(port) + " add-br br-tcp");
  EXPECT_EQ(over_tcp.status, 0) << over_tcp;

  // neutron runs it again on every agent start, with the probe setting:
  // the second one fails in ovs-vsctl (two rows match), exit 1, as with OVS.
  const std::string neutron = create + " -- set Manager " + target + " inactivity_probe=10000";
  Output again = d_.vsctl(neutron);
  EXPECT_EQ(again.status, 1) << again;
  EXPECT_NE(again.err.find("multiple rows in Manager match \"" + target + "\""), std::string::npos) << again;
  EXPECT_TRUE(tcp_listening(port));

  // With a unix: connection neutron makes a punix: Manager on the path the
  // server already serves (trace 80): both keep working, and removing that
  // Manager leaves db.sock in place.
  const std::string punix = "punix:" + d_.db_sock();
  vsctl_ok("--id=@m -- create Manager \"target=\\\"" + punix + "\\\"\" -- add Open_vSwitch . manager_options @m");
  EXPECT_EQ(vsctl_ok("br-exists br-tcp"), "");
  vsctl_ok("-- --if-exists remove Open_vSwitch . manager_options " + vsctl_ok("get Manager " + punix + " _uuid"));

  // Removing the TCP Manager stops the listener.
  vsctl_ok("del-manager");
  EXPECT_EQ(vsctl_ok("--bare --columns=target list Manager"), "");
  EXPECT_TRUE(wait_until([&] { return !tcp_listening(port); }, 1000)) << target << " still listening";
  EXPECT_EQ(vsctl_ok("list-br"), "br-tcp");
  EXPECT_TRUE(fs::exists(d_.db_sock()));
}

// Inactivity probes both ways on a Manager's TCP listener (compat §2,
// trace 31): a silent peer gets {"id":"echo","method":"echo"} after
// Manager.inactivity_probe ms and is dropped after twice that; a peer
// that answers stays; the server answers the clients' own echo.
TEST_F(OvsdbClientsTest, ManagerInactivityProbeEchoesAndDropsSilentPeers) {
  ASSERT_TRUE(d_.start());
  const int port = free_tcp_port();
  const std::string target = "ptcp:" + std::to_string(port) + ":127.0.0.1";
  vsctl_ok("--id=@m -- create Manager \"target=\\\"" + target +
           "\\\"\" inactivity_probe=1000 -- add Open_vSwitch . manager_options @m");
  ASSERT_TRUE(wait_until([&] { return tcp_listening(port); }, 1000));
  RpcClient silent(connect_tcp(port)), live(connect_tcp(port));
  ASSERT_TRUE(silent.connected() && live.connected());
  // Both are served side by side for 3.5 s: `silent` only listens, `live`
  // answers every probe.
  auto t0 = Clock::now();
  Json probe;
  double probed_at = 0, dropped_at = 0;
  int answered = 0;
  while (seconds_since(t0) < 3.5) {
    if (silent.connected()) {
      Json m = silent.next(20);
      if (!m.is_null() && probe.is_null()) probe = m, probed_at = seconds_since(t0);
      if (!silent.connected()) dropped_at = seconds_since(t0);
    }
    Json m = live.next(20);
    if (m["method"] == Json("echo")) {
      live.send(Json::Object{{"id", m["id"]}, {"result", m["params"]}, {"error", Json()}});
      ++answered;
    }
  }
  EXPECT_EQ(probe.dump(), "{\"id\":\"echo\",\"method\":\"echo\",\"params\":[]}");
  EXPECT_GT(probed_at, 0.8);
  EXPECT_LT(probed_at, 1.8);
  EXPECT_FALSE(silent.connected()) << "not dropped after an unanswered probe";
  EXPECT_GT(dropped_at, 1.8);
  EXPECT_LT(dropped_at, 3.0);
  EXPECT_TRUE(live.connected());
  EXPECT_GE(answered, 2);
  Json echo = live.call("echo", Json::Array{"ping", 7});
  EXPECT_EQ(echo["result"], Json(Json::Array{"ping", 7})) << echo.dump();
  EXPECT_TRUE(echo.has("error") && echo["error"].is_null()) << echo.dump();
}

// A "wait" with a timeout blocks its transaction until another client's
// commit satisfies it; the commit it then makes is handled like any other:
// trestled brings cur_cfg up to its next_cfg, with no other request.
TEST_F(OvsdbClientsTest, BlockedWaitCommitsOnceSatisfiedAndCurCfgFollows) {
  ASSERT_TRUE(d_.start());
  RpcClient c(connect_unix(d_.db_sock()));
  Json mon = c.call("monitor", Json::Array{"Open_vSwitch", "cfg",
                                           Json::Object{{"Open_vSwitch",
                                                         Json::Object{{"columns", Json::Array{"cur_cfg", "next_cfg"}}}}}});
  ASSERT_TRUE(mon["result"].is_object()) << mon.dump();
  Json wait_txn = Json::Object{
      {"id", "blocked"},
      {"method", "transact"},
      {"params", Json::Array{"Open_vSwitch",
                             Json::Object{{"op", "wait"},
                                          {"table", "Bridge"},
                                          {"where", Json::Array{Json::Array{"name", "==", "br-late"}}},
                                          {"columns", Json::Array{"name"}},
                                          {"until", "=="},
                                          {"rows", Json::Array{Json::Object{{"name", "br-late"}}}},
                                          {"timeout", 10000}},
                             Json::Object{{"op", "mutate"},
                                          {"table", "Open_vSwitch"},
                                          {"where", Json::Array{}},
                                          {"mutations", Json::Array{Json::Array{"next_cfg", "+=", 1}}}},
                             Json::Object{{"op", "select"},
                                          {"table", "Open_vSwitch"},
                                          {"where", Json::Array{}},
                                          {"columns", Json::Array{"next_cfg"}}}}}};
  ASSERT_TRUE(c.send(wait_txn));
  EXPECT_TRUE(c.next(300).is_null()) << "the wait did not block";
  vsctl_ok("add-br br-late");
  Json reply;
  int64_t cur_cfg = -1;
  auto deadline = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < deadline && (reply.is_null() || cur_cfg < 0)) {
    Json m = c.next(100);
    if (m["id"] == Json("blocked")) reply = m;
    if (m["method"] == Json("update") && !reply.is_null())
      for (auto& [uuid, row] : m["params"].as_array()[1]["Open_vSwitch"].as_object())
        if (row["new"]["cur_cfg"].is_integer()) cur_cfg = row["new"]["cur_cfg"].as_integer();
  }
  ASSERT_TRUE(reply["result"].is_array()) << reply.dump();
  const Json::Array& results = reply["result"].as_array();
  ASSERT_EQ(results.size(), 3u) << reply.dump();
  int64_t next_cfg = results[2]["rows"].as_array().at(0)["next_cfg"].as_integer();
  EXPECT_EQ(cur_cfg, next_cfg) << "cur_cfg did not follow the deferred commit's next_cfg";
}

// The full daemon (dataplane on): vswitchd's side of the contract as the
// stock clients see it (compat §6, traces 09, 10, 19): ofport assigned in
// the commit that brings cur_cfg up, so ovs-vsctl reports nothing, an
// interface that cannot be opened gets -1 and Interface.error, neutron's
// monitor sees the ofport arrive, ovsdbapp's post-commit check passes.
TEST_F(OvsdbClientsTest, FullDaemonAssignsOfportsAsVswitchdDoes) {
  ASSERT_TRUE(d_.start({}, /*dataplane=*/true));
  Output br = d_.vsctl("add-br br-dp -- set Bridge br-dp datapath_type=netdev");
  EXPECT_EQ(br.status, 0) << br;
  EXPECT_EQ(br.err, "") << br;
  Background mon(d_.env() + "ovsdb-client monitor " + d_.unix_remote() +
                 " Interface name,ofport,external_ids --format=json");
  ASSERT_TRUE(mon.wait_lines(1, 5000));
  EXPECT_NE(mon.lines()[0].find("\"br-dp\",65534,"), std::string::npos) << mon.lines()[0];
  Output p = d_.vsctl("add-port br-dp int0 -- set Interface int0 type=internal external_ids:iface-id=dp1");
  EXPECT_EQ(p.status, 0) << p;
  EXPECT_EQ(p.err, "") << p;
  EXPECT_EQ(vsctl_ok("get Interface br-dp ofport"), "65534");
  EXPECT_EQ(vsctl_ok("get Interface int0 ofport"), "1");
  vsctl_ok("add-port br-dp vhu0 -- set Interface vhu0 type=dpdkvhostuser");
  EXPECT_EQ(vsctl_ok("get Interface vhu0 ofport"), "2");
  Output bad = d_.vsctl("add-port br-dp d0 -- set Interface d0 type=dpdk options:dpdk-devargs=0000:ff:1f.7");
  EXPECT_EQ(bad.status, 0) << bad;
  EXPECT_NE(bad.err.find("Error detected while setting up 'd0'"), std::string::npos) << bad;
  EXPECT_EQ(vsctl_ok("get Interface d0 ofport"), "-1");
  EXPECT_NE(vsctl_ok("get Interface d0 error"), "[]");
  // Trace 19: the insert (no ofport yet, or already one), then the ofport
  // as a modification or in the insert itself.
  ASSERT_TRUE(wait_until([&] {
    for (auto& l : mon.lines())
      if (l.find("\"int0\",1,") != std::string::npos) return true;
    return false;
  }, 5000)) << "neutron's monitor never saw int0's ofport";
  vsctl_ok("del-port d0");
  check_ovsdbapp_session(d_, d_.unix_remote(), "d", /*ofports=*/true);
  double took = 0;
  EXPECT_EQ(d_.stop(SIGTERM, &took), 0);
  EXPECT_LT(took, 5.0);
}

// 4. Crashes and the conf.db file -------------------------------------------------

// Pipelines `count` transactions, numbered from `first`, each inserting one
// QoS row (a root table) with its number and 2 kB of padding; reads the
// replies until the connection ends or all came. Calls `on_acked(n)` after
// each batch of replies (n: acknowledged so far). Returns the numbers
// acknowledged, or sets `bad` to the first reply that is not a success.
std::set<int> stream_inserts(const std::string& sock, int first, int count,
                             const std::function<void(size_t)>& on_acked, std::string* bad) {
  std::set<int> acked;
  int fd = connect_unix(sock);
  if (fd < 0) {
    *bad = "cannot connect to " + sock;
    return acked;
  }
  const std::string pad(2000, 'p');
  std::thread writer([&] {
    for (int i = first; i < first + count; ++i) {
      std::string msg = "{\"id\":" + std::to_string(i) +
                        ",\"method\":\"transact\",\"params\":[\"Open_vSwitch\",{\"op\":\"insert\",\"table\":\"QoS\","
                        "\"row\":{\"type\":\"linux-htb\",\"external_ids\":[\"map\",[[\"seq\",\"" +
                        std::to_string(i) + "\"]]],\"other_config\":[\"map\",[[\"pad\",\"" + pad + "\"]]]}}]}";
      size_t off = 0;
      while (off < msg.size()) {
        ssize_t n = send(fd, msg.data() + off, msg.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;  // killed, or shut down by the reader
        off += size_t(n);
      }
    }
  });
  ctl::JsonSplitter splitter;
  char buf[65536];
  while (bad->empty() && acked.size() < size_t(count)) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    auto texts = splitter.feed(std::string_view(buf, size_t(n)));
    if (!texts) {
      *bad = "unparsable stream";
      break;
    }
    for (auto& t : *texts) {
      Json m = parse_or_null(t);
      if (!m["result"].is_array() || !m["result"].as_array().at(0)["uuid"].is_array() || !m["id"].is_integer()) {
        *bad = t;
        break;
      }
      acked.insert(int(m["id"].as_integer()));
    }
    on_acked(acked.size());
  }
  shutdown(fd, SHUT_RDWR);
  writer.join();
  close(fd);
  return acked;
}

// A client pipelines numbered inserts and trestled is SIGKILLed once some
// are acknowledged (a reply that arrived is an acknowledged commit, whether
// it came before the kill or after it); after a restart on the same file
// every acknowledged row is there, and the rows present are exactly a
// prefix of the sequence (no holes). The first 6,000 (13 MB) take the log
// past OVS's 10 MiB threshold: trestled compacts in the background, and the
// test waits for that; the next ones are appended to the compacted file,
// which then doubles and starts a second compaction, and the kill comes
// while it runs.
TEST_F(OvsdbClientsTest, Kill9KeepsEveryAcknowledgedCommit) {
  ASSERT_TRUE(d_.start());
  vsctl_ok("add-br br-crash -- add-port br-crash p-crash");
  constexpr int kFirst = 6000, kSecond = 20000, kKillAfter = 7000;
  std::string bad;
  auto acked = stream_inserts(d_.db_sock(), 0, kFirst, [](size_t) {}, &bad);
  ASSERT_EQ(bad, "");
  ASSERT_EQ(acked.size(), size_t(kFirst));
  ASSERT_TRUE(wait_until([&] { return d_.output().find("compacted") != std::string::npos; }, 10000))
      << "no background compaction:\n" << d_.output();

  bool killed = false;
  auto more = stream_inserts(d_.db_sock(), kFirst, kSecond,
                             [&](size_t n) {
                               if (!killed && n >= size_t(kKillAfter)) {
                                 d_.kill9();
                                 killed = true;
                               }
                             },
                             &bad);
  ASSERT_EQ(bad, "");
  ASSERT_TRUE(killed);
  ASSERT_LT(more.size(), size_t(kSecond)) << "the kill came after the last transaction: nothing was tested";
  acked.insert(more.begin(), more.end());
  EXPECT_EQ(*acked.rbegin() + 1, int(acked.size())) << "replies out of order";
  // Informational: how far the second compaction got.
  RecordProperty("tmp_left_behind", fs::exists(d_.db_path() + ".tmp") ? "yes" : "no");

  ASSERT_TRUE(d_.start());
  Output rows = client("transact " + d_.unix_remote() +
                       " '[\"Open_vSwitch\",{\"op\":\"select\",\"table\":\"QoS\",\"where\":[],\"columns\":[\"external_ids\"]}]'");
  ASSERT_EQ(rows.status, 0) << rows;
  Json j = parse_or_null(rows.out);
  ASSERT_TRUE(j.is_array()) << rows.out.substr(0, 500);
  std::set<int> present;
  for (auto& row : j.as_array()[0]["rows"].as_array())
    present.insert(std::stoi(row["external_ids"].as_array()[1].as_array()[0].as_array()[1].as_string()));
  for (int a : acked) ASSERT_TRUE(present.count(a)) << "acknowledged commit " << a << " lost";
  ASSERT_FALSE(present.empty());
  EXPECT_EQ(*present.begin(), 0);
  EXPECT_EQ(*present.rbegin() + 1, int(present.size())) << "a hole in the committed sequence";
  EXPECT_LT(present.size(), size_t(kFirst + kSecond));
  // What ovs-vsctl added before the crash, and the database still takes writes.
  EXPECT_EQ(vsctl_ok("list-ports br-crash"), "p-crash");
  vsctl_ok("add-br br-after");
  EXPECT_EQ(d_.output().find("skipped"), std::string::npos) << d_.output();
  Output show = tool("show-log " + d_.db_path());
  EXPECT_EQ(show.status, 0) << show.err;
}

// The file ends inside its last record (a crash in mid-append): trestled
// starts, cuts the torn record, says so, and keeps everything before it.
TEST_F(OvsdbClientsTest, TornTailIsCutAndEarlierDataKept) {
  ASSERT_TRUE(d_.start());
  vsctl_ok("add-br br-keep -- add-port br-keep p-keep");
  Output o = client("transact " + d_.unix_remote() +
                    " '[\"Open_vSwitch\",{\"op\":\"insert\",\"table\":\"QoS\",\"row\":{\"type\":\"torn-away\"}}]'");
  ASSERT_EQ(o.status, 0) << o;
  ASSERT_EQ(d_.stop(), 0);
  auto records = read_records(d_.db_path());
  ASSERT_GE(records.size(), 3u);
  const Record& last = records.back();
  ASSERT_NE(last.body.find("torn-away"), std::string::npos) << "the last record is not the QoS insert";
  ASSERT_EQ(truncate(d_.db_path().c_str(), off_t(last.offset + last.header_len + last.body_len / 2)), 0);

  ASSERT_TRUE(d_.start());
  const std::string log = d_.output();
  EXPECT_NE(log.find("record " + std::to_string(records.size() - 1) + " at byte offset " +
                     std::to_string(last.offset)),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("torn"), std::string::npos) << log;
  EXPECT_NE(log.find("cut the file to " + std::to_string(last.offset) + " bytes"), std::string::npos) << log;
  EXPECT_EQ(vsctl_ok("list-ports br-keep"), "p-keep");
  EXPECT_EQ(vsctl_ok("--bare --columns=type list QoS"), "");
  // The file is whole again: the stock reader agrees, and new commits land.
  vsctl_ok("add-br br-new");
  Output show = tool("show-log " + d_.db_path());
  EXPECT_EQ(show.status, 0) << show;
  EXPECT_NE(show.out.find("add-br br-new"), std::string::npos) << show;
}

// A record in the middle fails its SHA-1: trestled keeps the records before
// it and drops it and everything after, as ovsdb-server 3.1 does (checked
// against it: "... have SHA-1 hash ... but should have hash ...", then the
// file is truncated there); later commits are appended to the good part.
TEST_F(OvsdbClientsTest, CorruptMiddleRecordKeepsTheRecordsBeforeIt) {
  ASSERT_TRUE(d_.start());
  vsctl_ok("add-br br-1");
  vsctl_ok("add-br br-2");
  vsctl_ok("add-br br-3");
  ASSERT_EQ(d_.stop(), 0);
  auto records = read_records(d_.db_path());
  auto it = std::find_if(records.begin(), records.end(), [](const Record& r) {
    return r.body.find("\"name\":\"br-2\"") != std::string::npos && r.body.find("\"Bridge\"") != std::string::npos;
  });
  ASSERT_NE(it, records.end());
  ASSERT_LT(size_t(it - records.begin()) + 2, records.size()) << "br-2's record is not in the middle";
  std::string data = read_file(d_.db_path());
  data[it->offset + it->header_len + it->body_len / 2] ^= 0x01;
  std::ofstream(d_.db_path(), std::ios::binary | std::ios::trunc) << data;

  ASSERT_TRUE(d_.start());
  EXPECT_NE(d_.output().find("SHA-1 mismatch"), std::string::npos) << d_.output();
  EXPECT_EQ(vsctl_ok("list-br"), "br-1");
  vsctl_ok("add-br br-4");
  ASSERT_EQ(d_.stop(), 0);
  ASSERT_TRUE(d_.start());
  EXPECT_EQ(vsctl_ok("list-br"), "br-1\nbr-4");
}

// The stock ovsdb-tool reads what trestled writes, and trestled opens what
// ovsdb-tool writes (a new database, and records in OVS's "_is_diff" form).
TEST_F(OvsdbClientsTest, OvsdbToolReadsOurDatabaseAndWeReadItsDatabases) {
  ASSERT_TRUE(d_.start());
  vsctl_ok("add-br br-tool -- add-port br-tool p-tool -- set Port p-tool tag=9");
  // Changes of set and map columns (written as differences) and deletions
  // (garbage collection) for the stock reader to replay.
  vsctl_ok("add-port br-tool p-two -- set Interface p-two type=internal options:a=1 options:b=2");
  vsctl_ok("set Port p-tool trunks=1,2,3 other_config:x=1 other_config:y=2");
  vsctl_ok("remove Port p-tool trunks 2 -- remove Port p-tool other_config x -- set Port p-tool other_config:y=3");
  vsctl_ok("set Bridge br-tool external_ids:k=v -- remove Interface p-two options a");
  vsctl_ok("add-port br-tool p-three -- del-port p-two");
  // What the stock reader makes of the file must be what trestled serves.
  const std::string select_all =
      "'[\"Open_vSwitch\","
      "{\"op\":\"select\",\"table\":\"Open_vSwitch\",\"where\":[],\"columns\":[\"bridges\",\"next_cfg\",\"cur_cfg\",\"external_ids\",\"iface_types\"]},"
      "{\"op\":\"select\",\"table\":\"Bridge\",\"where\":[],\"columns\":[\"_uuid\",\"name\",\"ports\",\"external_ids\"]},"
      "{\"op\":\"select\",\"table\":\"Port\",\"where\":[],\"columns\":[\"_uuid\",\"name\",\"interfaces\",\"tag\",\"trunks\",\"other_config\"]},"
      "{\"op\":\"select\",\"table\":\"Interface\",\"where\":[],\"columns\":[\"_uuid\",\"name\",\"type\",\"options\"]}]'";
  // Rows in a select come in no particular order.
  auto sorted_rows = [](const std::string& text) {
    Json j = parse_or_null(text);
    if (!j.is_array()) return j;
    for (auto& result : j.as_array()) {
      if (!result["rows"].is_array()) continue;
      auto& rows = result.as_object()["rows"].as_array();
      std::sort(rows.begin(), rows.end(), [](const Json& a, const Json& b) { return a.dump() < b.dump(); });
    }
    return j;
  };
  Output live = client("transact " + d_.unix_remote() + " " + select_all);
  ASSERT_EQ(live.status, 0) << live;
  Json served = sorted_rows(live.out);
  ASSERT_TRUE(served.is_array()) << live;
  EXPECT_NE(live.out.find("p-three"), std::string::npos);
  EXPECT_EQ(live.out.find("p-two"), std::string::npos);
  // While trestled runs (the readers take no lock) and after it stopped.
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      ASSERT_EQ(d_.stop(), 0);
    }
    Output ver = tool("db-version " + d_.db_path());
    EXPECT_EQ(ver.out, "8.3.1\n") << ver;
    EXPECT_EQ(tool("db-cksum " + d_.db_path()).out, "3012963480 26720\n");
    Output show = tool("show-log " + d_.db_path());
    EXPECT_EQ(show.status, 0) << show;
    EXPECT_EQ(lines_of(show.out).at(0), "record 0: \"Open_vSwitch\" schema, version=\"8.3.1\", cksum=\"3012963480 26720\"");
    EXPECT_NE(show.out.find("ovs-vsctl --timeout=10 add-br br-tool -- add-port br-tool p-tool"), std::string::npos)
        << show;
    Output q = tool("query " + d_.db_path() +
                    " '[\"Open_vSwitch\",{\"op\":\"select\",\"table\":\"Port\",\"where\":[[\"name\",\"==\",\"p-tool\"]],"
                    "\"columns\":[\"name\",\"tag\"]}]'");
    EXPECT_EQ(trim(q.out), "[{\"rows\":[{\"name\":\"p-tool\",\"tag\":9}]}]") << q;
    Output replayed = tool("query " + d_.db_path() + " " + select_all);
    EXPECT_EQ(sorted_rows(replayed.out), served) << "ovsdb-tool reads the file differently:\n"
                                                  << replayed.out << "\ntrestled serves:\n" << live.out;
  }
  // ovsdb-tool appends to our file (it writes "_is_diff" records: set and
  // map columns as differences), then we read it back.
  Output tx = tool("transact " + d_.db_path() +
                   " '[\"Open_vSwitch\",{\"op\":\"mutate\",\"table\":\"Bridge\",\"where\":[[\"name\",\"==\",\"br-tool\"]],"
                   "\"mutations\":[[\"external_ids\",\"insert\",[\"map\",[[\"by\",\"ovsdb-tool\"]]]]]}]'");
  ASSERT_EQ(tx.status, 0) << tx;
  ASSERT_TRUE(d_.start());
  EXPECT_EQ(vsctl_ok("get Bridge br-tool external_ids"), "{by=ovsdb-tool, k=v}");
  EXPECT_EQ(vsctl_ok("list-ports br-tool"), "p-three\np-tool");
  ASSERT_EQ(d_.stop(), 0);

  // A database ovsdb-tool created, given as trestled's DATABASE argument,
  // with a transaction of its own.
  const std::string other = d_.dir() + "/made-by-ovsdb-tool.db";
  Output create = tool("create " + other + " " + kStockSchema);
  ASSERT_EQ(create.status, 0) << create;
  Output init = tool("transact " + other +
                     " '[\"Open_vSwitch\",{\"op\":\"insert\",\"table\":\"Open_vSwitch\",\"row\":{\"bridges\":[\"named-uuid\",\"b\"],"
                     "\"external_ids\":[\"map\",[[\"system-id\",\"from-ovsdb-tool\"]]]}},"
                     "{\"op\":\"insert\",\"table\":\"Bridge\",\"uuid-name\":\"b\",\"row\":{\"name\":\"br-old\","
                     "\"external_ids\":[\"map\",[[\"a\",\"1\"]]]}},"
                     "{\"op\":\"mutate\",\"table\":\"Bridge\",\"where\":[],\"mutations\":[[\"external_ids\",\"insert\","
                     "[\"map\",[[\"b\",\"2\"]]]]]}]'");
  ASSERT_EQ(init.status, 0) << init;
  ASSERT_TRUE(d_.start({other}));
  EXPECT_EQ(vsctl_ok("list-br"), "br-old");
  EXPECT_EQ(vsctl_ok("get Bridge br-old external_ids"), "{a=\"1\", b=\"2\"}");
  // trestled keeps ovs-vswitchd's keys but not a second system-id.
  EXPECT_EQ(vsctl_ok("get Open_vSwitch . external_ids:system-id"), "from-ovsdb-tool");
  vsctl_ok("add-port br-old p-new");
  ASSERT_EQ(d_.stop(), 0);
  Output q = tool("query " + other +
                  " '[\"Open_vSwitch\",{\"op\":\"select\",\"table\":\"Interface\",\"where\":[],\"columns\":[\"name\"]}]'");
  EXPECT_NE(q.out.find("p-new"), std::string::npos) << q;
  EXPECT_EQ(tool("db-version " + other).out, "8.3.1\n");
}

// 5. Lifecycle -------------------------------------------------------------------

TEST_F(OvsdbClientsTest, SigtermExitsPromptlyAndRemovesItsFiles) {
  ASSERT_TRUE(d_.start());
  const pid_t pid = d_.pid();
  const std::string pidfile = d_.rundir() + "/ovs-vswitchd.pid";
  EXPECT_EQ(trim(read_file(pidfile)), std::to_string(pid));
  Output appctl = run(d_.env() + "ovs-appctl version");
  EXPECT_EQ(appctl.status, 0) << appctl;
  EXPECT_NE(appctl.out.find("ovs-vswitchd"), std::string::npos) << appctl;
  // A client connected (and monitoring) does not hold the exit up.
  Background mon(d_.env() + "ovsdb-client monitor " + d_.unix_remote() + " Bridge name --format=json");
  vsctl_ok("add-br br-term");
  ASSERT_TRUE(mon.wait_lines(1, 5000));
  double took = 0;
  EXPECT_EQ(d_.stop(SIGTERM, &took), 0);
  EXPECT_LT(took, 2.0);
  EXPECT_FALSE(fs::exists(d_.db_sock()));
  EXPECT_FALSE(fs::exists(pidfile));
  EXPECT_FALSE(fs::exists(d_.ctl_path(pid)));
  // The database was left whole.
  EXPECT_EQ(tool("show-log " + d_.db_path()).status, 0);
}

TEST_F(OvsdbClientsTest, DetachWithPidfileAndStockAppctl) {
  const std::string pidfile = d_.rundir() + "/ovs-vswitchd.pid";
  auto t0 = Clock::now();
  Output o = run(d_.env() + TRESTLED " --detach --pidfile --no-dataplane");
  ASSERT_EQ(o.status, 0) << o;
  EXPECT_LT(seconds_since(t0), 5.0);
  // The parent returned once the child serves: everything is in place.
  ASSERT_TRUE(fs::exists(pidfile));
  const pid_t pid = pid_t(std::stol(read_file(pidfile)));
  d_.adopt_detached(pid);
  ASSERT_EQ(kill(pid, 0), 0);
  EXPECT_TRUE(fs::exists(d_.db_sock()));
  EXPECT_TRUE(fs::exists(d_.ctl_path(pid)));

  Output by_rundir = run(d_.env() + "ovs-appctl version");
  EXPECT_EQ(by_rundir.status, 0) << by_rundir;
  EXPECT_NE(by_rundir.out.find("ovs-vswitchd"), std::string::npos) << by_rundir;
  Output by_target = run("ovs-appctl -t " + d_.ctl_path(pid) + " version");
  EXPECT_EQ(by_target.status, 0) << by_target;
  EXPECT_EQ(by_target.out, by_rundir.out);
  vsctl_ok("add-br br-detached");
  EXPECT_EQ(vsctl_ok("list-br"), "br-detached");

  // ovs-appctl exit stops it like SIGTERM.
  Output exit_cmd = run(d_.env() + "ovs-appctl exit");
  EXPECT_EQ(exit_cmd.status, 0) << exit_cmd;
  EXPECT_TRUE(wait_until([&] { return !fs::exists(pidfile); }, 3000)) << "pid file still there";
  EXPECT_TRUE(wait_until(
      [&] {
        std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
        return stat.empty() || stat.find(") Z ") != std::string::npos;
      },
      3000))
      << "detached trestled (pid " << pid << ") still running";
  EXPECT_FALSE(fs::exists(d_.db_sock()));
  EXPECT_FALSE(fs::exists(d_.ctl_path(pid)));
}

}  // namespace
}  // namespace trestle::integration
