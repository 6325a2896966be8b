// Bad input against a running trestled: each bad peer gets an error or a
// closed connection, and everyone else is served throughout, losing
// nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ctl/json.h"

namespace trestle::ctl {
namespace {

class Peer {
 public:
  explicit Peer(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }
  ~Peer() { close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  // False when the server closed the connection before all was sent.
  bool send(const std::string& text) {
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::send(fd_, text.data() + off, text.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }
  // The next message, or null when the connection closed or nothing came
  // within timeout_ms.
  std::optional<Json> next(int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (!queue_.empty()) {
        auto j = Json::parse(queue_.front());
        queue_.erase(queue_.begin());
        return j.ok() ? std::optional<Json>(*j) : std::nullopt;
      }
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) return std::nullopt;
      char buf[65536];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      auto texts = splitter_.feed(std::string_view(buf, size_t(n)));
      if (!texts) return std::nullopt;
      for (auto& t : *texts) queue_.push_back(t);
    }
  }
  // Waits until the server closes the connection (true) or timeout.
  bool closed_by_server(int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[65536];
    for (;;) {
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) return false;
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
  }
  Json call(const std::string& method, Json params, int64_t id = 1) {
    send(Json(Json::Object{{"id", id}, {"method", method}, {"params", std::move(params)}}).dump());
    for (;;) {
      auto m = next();
      if (!m) return Json();
      if ((*m)["id"] == Json(id)) return *m;
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  JsonSplitter splitter_;
  std::vector<std::string> queue_;
};

class OvsdbBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/trestle-badinput.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sock_ = dir_ + "/db.sock";
    pid_ = fork();
    if (pid_ == 0) {
      setenv("OVS_RUNDIR", dir_.c_str(), 1);
      setenv("OVS_DBDIR", dir_.c_str(), 1);
      setenv("OVS_LOGDIR", dir_.c_str(), 1);
      execl(TRESTLED, TRESTLED, ("--log-file=" + dir_ + "/trestled.log").c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      Peer p(sock_);
      if (p.connected() && p.call("list_dbs", Json::Array{})["result"].is_array()) return;
      usleep(10000);
    }
    FAIL() << "trestled did not start";
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st = 0;
      waitpid(pid_, &st, 0);
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "trestled did not exit cleanly";
    }
    std::string cmd = "rm -rf " + dir_;
    EXPECT_EQ(system(cmd.c_str()), 0);
  }
  // The server still answers a well-behaved client.
  void expect_serving() {
    Peer p(sock_);
    ASSERT_TRUE(p.connected());
    Json r = p.call("transact", Json::Array{"Open_vSwitch", Json::Object{{"op", "select"}, {"table", "Open_vSwitch"},
                                                                         {"where", Json::Array{}}, {"columns", Json::Array{"cur_cfg"}}}});
    EXPECT_TRUE(r["result"].is_array()) << r.dump();
  }
  std::string dir_, sock_;
  pid_t pid_ = -1;
};

TEST_F(OvsdbBadInput, MalformedJsonClosesThatConnectionOnly) {
  Peer good(sock_);
  for (const char* bad : {"{\"id\":1,\"method\":\"echo\",\"params\":[}", "]", "{\"id\":1 \"method\"}", "nul"}) {
    Peer p(sock_);
    p.send(bad);
    if (std::string(bad) == "nul") shutdown(p.fd(), SHUT_WR);
    EXPECT_TRUE(p.closed_by_server()) << bad;
  }
  EXPECT_TRUE(good.call("echo", Json::Array{"still", "here"})["result"] == Json(Json::Array{"still", "here"}));
  expect_serving();
}

TEST_F(OvsdbBadInput, WrongShapesGetTheSpecsAnswers) {
  {
    Peer p(sock_);  // JSON-RPC 2.0's member is not OVSDB's: OVS drops the peer
    p.send(R"({"jsonrpc":"2.0","id":1,"method":"list_dbs","params":[]})");
    EXPECT_TRUE(p.closed_by_server());
  }
  {
    Peer p(sock_);
    p.send(R"({"id":1,"method":"list_dbs","params":{}})");
    EXPECT_TRUE(p.closed_by_server());
  }
  Peer p(sock_);
  EXPECT_EQ(p.call("no_such_method", Json::Array{}, 5).dump(), R"({"error":"unknown method","id":5})");
  Json r = p.call("get_schema", Json::Array{"NoSuchDb"}, 6);
  EXPECT_EQ(r["error"]["error"], Json("unknown database"));
  EXPECT_EQ(r["error"]["details"], Json("get_schema request specifies unknown database NoSuchDb"));
  r = p.call("transact", Json::Array{"Open_vSwitch", Json::Object{{"op", "insert"}, {"table", "Nope"}}}, 7);
  EXPECT_EQ(r["result"].as_array()[0]["error"], Json("syntax error"));
  r = p.call("monitor_cancel", Json::Array{"never"}, 8);
  EXPECT_EQ(r["error"], Json("unknown monitor"));
  expect_serving();
}

TEST_F(OvsdbBadInput, HugeMessageAndDeepNesting) {
  Peer good(sock_);
  {
    Peer p(sock_);
    // 100 MB of one string: over the 64 MiB message limit.
    std::string big = R"({"id":1,"method":"echo","params":[")" + std::string(100u << 20, 'x') + "\"]}";
    p.send(big);  // may fail part-way: the server hangs up
    EXPECT_TRUE(p.closed_by_server(20000));
  }
  {
    Peer p(sock_);
    p.send(std::string(100000, '[') + std::string(100000, ']'));
    EXPECT_TRUE(p.closed_by_server());
  }
  {
    Peer p(sock_);  // deep, but inside a valid request: refused the same way
    p.send(R"({"id":1,"method":"echo","params":)" + std::string(5000, '[') + std::string(5000, ']') + "}");
    EXPECT_TRUE(p.closed_by_server());
  }
  EXPECT_TRUE(good.call("list_dbs", Json::Array{})["result"].is_array());
  expect_serving();
}

TEST_F(OvsdbBadInput, StalledAndHalfSentPeersDoNotStallOthers) {
  // A peer that sends half a request and stops, and one that monitors
  // everything and never reads.
  Peer half(sock_);
  half.send(R"({"id":1,"method":"transact","params":["Open_vSwitch",{"op":)");
  Peer sleeper(sock_);
  sleeper.send(Json(Json::Object{{"id", 1}, {"method", "monitor"},
                                 {"params", Json::Array{"Open_vSwitch", Json(), Json::Object{{"QoS", Json::Object{}}}}}})
                   .dump());
  Peer writer(sock_);
  std::string blob(100000, 'b');
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 800; ++i) {
    Json ext = Json::Array{"map", Json::Array{Json::Array{"blob", blob + std::to_string(i)}}};
    Json op = Json::Object{{"op", "insert"}, {"table", "QoS"}, {"row", Json::Object{{"external_ids", ext}}}};
    Json r = writer.call("transact", Json::Array{"Open_vSwitch", op}, i + 10);
    ASSERT_TRUE(r["result"].is_array()) << "transaction " << i << ": " << r.dump().substr(0, 200);
    ASSERT_FALSE(r["result"].as_array()[0].has("error")) << r.dump().substr(0, 200);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 60) << "the writer was held up";
  // 80 MB of updates never read: the sleeper is cut off at the backlog cap.
  EXPECT_TRUE(sleeper.closed_by_server(10000));
  // Nothing was lost: all 800 rows are there.
  Json r = writer.call("transact", Json::Array{"Open_vSwitch", Json::Object{{"op", "select"}, {"table", "QoS"}, {"where", Json::Array{}}, {"columns", Json::Array{"_uuid"}}}}, 9999);
  EXPECT_EQ(r["result"].as_array()[0]["rows"].as_array().size(), 800u);
  // The half-sent request is still waiting for its end, harmlessly.
  half.send(R"("select","table":"Open_vSwitch","where":[],"columns":["cur_cfg"]}]})");
  auto m = half.next();
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE((*m)["result"].is_array()) << m->dump();
}

TEST_F(OvsdbBadInput, AThousandConnectionsAtOnce) {
  std::vector<std::unique_ptr<Peer>> peers;
  for (int i = 0; i < 1000; ++i) {
    peers.push_back(std::make_unique<Peer>(sock_));
    ASSERT_TRUE(peers.back()->connected()) << i;
  }
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(peers[size_t(i)]->send(Json(Json::Object{{"id", i}, {"method", "list_dbs"}, {"params", Json::Array{}}}).dump()));
  for (int i = 0; i < 1000; ++i) {
    auto m = peers[size_t(i)]->next(20000);
    ASSERT_TRUE(m.has_value()) << "connection " << i << " got no answer";
    EXPECT_EQ((*m)["id"], Json(i));
  }
  peers.clear();
  expect_serving();
}

}  // namespace
}  // namespace trestle::ctl
