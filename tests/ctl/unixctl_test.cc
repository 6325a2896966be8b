// The unixctl server against the stock ovs-appctl (Debian's OVS 3.1), found
// the way ovs-appctl finds ovs-vswitchd: $OVS_RUNDIR/ovs-vswitchd.pid, then
// $OVS_RUNDIR/ovs-vswitchd.<pid>.ctl.

#include "ctl/unixctl.h"

#include "ctl/pidfile.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

namespace trestle::ctl {
namespace {

struct Out {
  int status;
  std::string text;
};

Out run(const std::string& cmd) {
  Out o{-1, ""};
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return o;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) o.text.append(buf, n);
  int rc = pclose(f);
  o.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return o;
}

class UnixctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/trestle-unixctl-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string pid = std::to_string(getpid());
    auto pf = Pidfile::create(dir_ + "/ovs-vswitchd.pid");
    ASSERT_TRUE(pf.ok()) << pf.error().message;
    pidfile_ = std::move(pf.value());
    auto s = UnixctlServer::listen(dir_ + "/ovs-vswitchd." + pid + ".ctl", "ovs-vswitchd (trestle) 0.1.0");
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(s.value());
    server_->add_command("test/echo", "ARG...", 1, 3, [](const std::vector<std::string>& a) {
      std::string out;
      for (const auto& x : a) out += "[" + x + "]";
      return Result<std::string>(out + "\n");
    });
    server_->add_command("test/fail", "", 0, 0, [](const auto&) {
      return Result<std::string>(make_error("it failed on purpose"));
    });
    thread_ = std::thread([this] {
      while (!stop_) server_->run(20);
    });
  }
  void TearDown() override {
    stop_ = true;
    thread_.join();
    server_.reset();
    pidfile_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string appctl(const std::string& args) { return "OVS_RUNDIR=" + dir_ + " ovs-appctl " + args; }

  std::string dir_;
  std::unique_ptr<Pidfile> pidfile_;
  std::unique_ptr<UnixctlServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(UnixctlTest, StockAppctlFindsUsThroughThePidfile) {
  Out o = run(appctl("version"));
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.text, "ovs-vswitchd (trestle) 0.1.0\n");
  o = run(appctl("-t ovs-vswitchd list-commands"));
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.text.find("The available commands are:\n"), std::string::npos);
  EXPECT_NE(o.text.find("  test/echo               ARG...\n"), std::string::npos);
}

TEST_F(UnixctlTest, ArgumentsAndErrors) {
  Out o = run(appctl("test/echo a 'b c'"));
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.text, "[a][b c]\n");
  o = run(appctl("test/echo"));
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.text.find("\"test/echo\" command requires at least 1 arguments"), std::string::npos);
  o = run(appctl("test/echo 1 2 3 4"));
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.text.find("takes at most 3 arguments"), std::string::npos);
  o = run(appctl("no/such-command"));
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.text.find("\"no/such-command\" is not a valid command"), std::string::npos);
  o = run(appctl("test/fail"));
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.text.find("it failed on purpose"), std::string::npos);
}

int connect_to(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

std::string roundtrip(int fd, const std::string& msg) {
  if (send(fd, msg.data(), msg.size(), 0) != static_cast<ssize_t>(msg.size())) return "";
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST_F(UnixctlTest, BadInputGetsAClearErrorAndTheServerStaysUp) {
  int fd = connect_to(server_->path());
  ASSERT_GE(fd, 0);
  // Not a request object: an error reply, the connection stays.
  auto r = Json::parse(roundtrip(fd, R"({"method":7,"params":[],"id":3})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value()["id"].as_integer(), 3);
  EXPECT_TRUE(r.value()["result"].is_null());
  EXPECT_NE(r.value()["error"].as_string().find("invalid JSON-RPC request"), std::string::npos);
  // Broken JSON inside a message.
  r = Json::parse(roundtrip(fd, R"({"method":"version","params":[],"id":tru})"));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r.value()["error"].as_string().find("invalid JSON"), std::string::npos);
  // A non-string argument.
  r = Json::parse(roundtrip(fd, R"({"method":"test/echo","params":[1],"id":4})"));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r.value()["error"].as_string().find("non-string argument"), std::string::npos);
  // Two requests in one write, one reply each.
  std::string two = roundtrip(fd, R"({"method":"version","params":[],"id":5}{"method":"version","params":[],"id":6})");
  if (two.find("\"id\":6") == std::string::npos) {
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) two.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(two.find("\"id\":5"), std::string::npos);
  EXPECT_NE(two.find("\"id\":6"), std::string::npos);
  // Garbage that is not JSON-RPC at all: the server drops that connection.
  EXPECT_EQ(roundtrip(fd, "GET / HTTP/1.0\r\n\r\n"), "");
  close(fd);
  // ...and still answers others.
  EXPECT_EQ(run(appctl("version")).status, 0);
}

TEST(Pidfile, LockedWhileAliveRemovedAfter) {
  char tmpl[] = "/tmp/trestle-pidfile-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  {
    auto p = Pidfile::create(dir + "/x.pid");
    ASSERT_TRUE(p.ok());
    std::ifstream in(dir + "/x.pid");
    int pid = 0;
    in >> pid;
    EXPECT_EQ(pid, getpid());
    // Another process cannot take it (fcntl locks are per process): a child
    // tries, and reports by its exit status; ovs-appctl's F_GETLK sees us.
    pid_t child = fork();
    if (child == 0) {
      int fd = open((dir + "/x.pid").c_str(), O_RDWR);
      struct flock lck {};
      lck.l_type = F_WRLCK;
      lck.l_whence = SEEK_SET;
      const bool got = fd >= 0 && fcntl(fd, F_SETLK, &lck) == 0;
      struct flock probe {};
      probe.l_type = F_WRLCK;
      probe.l_whence = SEEK_SET;
      const bool seen = fd >= 0 && fcntl(fd, F_GETLK, &probe) == 0 && probe.l_pid == getppid();
      _exit(got ? 1 : seen ? 0 : 2);
    }
    int status = -1;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.pid"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace trestle::ctl
