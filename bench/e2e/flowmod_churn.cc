// trestle-flowmod-churn: flow_mod churn at a paced rate on a bridge's
// OpenFlow management socket (<rundir>/<bridge>.mgmt), as a busy agent
// would cause it, for bench/e2e/run's b3-churn scenario. Speaks OpenFlow 1.0
// (what OVS's and trestled's management sockets accept by default), encoded
// here by hand from the spec so it checks the switch's decoder instead of
// sharing it (`--hex` prints the messages for `ovs-ofctl ofp-print`).
//
// After HELLO it installs a window of --window never-matching rules
// (table 0, priority 1, in_port=--in-port, dl_src=0a:00:<i>, actions=drop:
// the rules of bench/e2e/control-plane), then, at --rate flow_mods per
// second, adds rule i and strict-deletes rule i - window, so the table holds
// the window throughout. A BARRIER_REQUEST follows every --barrier-every
// flow_mods; once --max-unacked barriers are unanswered it stops sending
// until the switch catches up, so a switch that cannot keep up shows as a
// lower achieved rate, never as an ever-growing socket backlog. Replies are
// read as they come: ECHO_REQUEST is answered, every OFPT_ERROR is printed
// and counted (any error fails the run).
//
// Runs until --seconds have passed (0: until SIGTERM/SIGINT). SIGUSR1 and
// SIGUSR2 mark the start and end of a measuring window (bench/e2e/run sends
// them from trestle-pktgen's --at-start / --at-end hooks); the window's rate
// counts the flow_mods sent in it: at most --max-unacked x --barrier-every of
// them are ever unconfirmed, so a switch that falls behind holds that rate
// down, and a last barrier confirms them all before the report. Prints
// key=value lines; "prefilled" once the window is installed. Exit status 0
// only without errors and with the connection open to the end.

#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <getopt.h>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// OpenFlow 1.0 (openflow-spec-v1.0.0), the parts used here.
constexpr uint8_t OFP10_VERSION = 0x01;
constexpr uint8_t OFPT_HELLO = 0, OFPT_ERROR = 1, OFPT_ECHO_REQUEST = 2, OFPT_ECHO_REPLY = 3,
                  OFPT_FLOW_MOD = 14, OFPT_BARRIER_REQUEST = 18, OFPT_BARRIER_REPLY = 19;
constexpr uint16_t OFPFC_ADD = 0, OFPFC_DELETE_STRICT = 4;
constexpr uint32_t OFPFW_IN_PORT = 1 << 0, OFPFW_DL_SRC = 1 << 2, OFPFW_ALL = (1 << 22) - 1;
constexpr uint16_t OFPP_NONE = 0xffff;
constexpr uint32_t kNoBuffer = 0xffffffff;
constexpr size_t kHeaderLen = 8, kFlowModLen = 72;  // ofp_flow_mod with no actions: drop
constexpr uint16_t kPriority = 1;

volatile sig_atomic_t g_stop = 0, g_mark_start = 0, g_mark_end = 0;

struct Options {
  std::string socket;
  uint16_t in_port = 0;
  double rate = 10000, seconds = 0;
  uint32_t window = 10000, barrier_every = 100, max_unacked = 20;
  bool hex = false;
};

void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
void put32(uint8_t* p, uint32_t v) { put16(p, uint16_t(v >> 16)), put16(p + 2, uint16_t(v)); }
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t(get16(p)) << 16 | get16(p + 2); }

void header(std::string& out, uint8_t type, uint16_t len, uint32_t xid) {
  uint8_t h[kHeaderLen] = {OFP10_VERSION, type};
  put16(h + 2, len);
  put32(h + 4, xid);
  out.append(reinterpret_cast<char*>(h), sizeof h);
}

// ofp_flow_mod: in_port and dl_src exact, everything else wildcarded, no
// actions (drop). Rule i's source MAC is 0a:00:<i, 4 bytes>.
void flow_mod(std::string& out, uint32_t xid, uint16_t command, uint16_t in_port, uint32_t i) {
  uint8_t m[kFlowModLen] = {};
  m[0] = OFP10_VERSION, m[1] = OFPT_FLOW_MOD;
  put16(m + 2, uint16_t(kFlowModLen));
  put32(m + 4, xid);
  uint8_t* match = m + 8;  // ofp_match, 40 bytes
  put32(match, OFPFW_ALL & ~(OFPFW_IN_PORT | OFPFW_DL_SRC));
  put16(match + 4, in_port);
  match[6] = 0x0a, match[7] = 0x00;
  put32(match + 8, i);
  // cookie (8 bytes at 48) stays 0.
  put16(m + 56, command);
  // idle_timeout (58) and hard_timeout (60) stay 0: permanent.
  put16(m + 62, kPriority);
  put32(m + 64, kNoBuffer);
  put16(m + 68, OFPP_NONE);  // out_port: no restriction on the delete
  // flags (70) stay 0.
  out.append(reinterpret_cast<char*>(m), sizeof m);
}

std::string hex(const std::string& s) {
  std::string h;
  char b[3];
  for (unsigned char c : s) snprintf(b, sizeof b, "%02x", c), h += b;
  return h;
}

class Churn {
 public:
  explicit Churn(const Options& o) : o_(o) {}

  bool connect_and_hello() {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (o_.socket.size() >= sizeof sa.sun_path) return fail("socket path too long: " + o_.socket);
    memcpy(sa.sun_path, o_.socket.c_str(), o_.socket.size() + 1);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
      return fail(o_.socket + ": " + strerror(errno));
    header(out_, OFPT_HELLO, kHeaderLen, next_xid_++);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!hello_seen_) {
      if (Clock::now() > deadline) return fail("no HELLO from the switch within 5 s");
      if (!io(10)) return false;
    }
    return true;
  }

  // Installs rules [0, window) as fast as the barrier limit lets it.
  bool prefill() {
    while (next_rule_ < o_.window && !g_stop) {
      while (next_rule_ < o_.window && can_send()) add_next();
      if (!io(1)) return false;
    }
    return drain();
  }

  // One add and one strict delete per step, paced to --rate flow_mods/s.
  bool churn() {
    const double per_sec = o_.rate;
    const auto t0 = Clock::now();
    const auto end = o_.seconds > 0 ? t0 + std::chrono::duration<double>(o_.seconds) : Clock::time_point::max();
    start_ = t0;
    sent_at_start_ = sent_;
    double due = 0;  // flow_mods the schedule allows so far
    auto last = t0;
    while (!g_stop && Clock::now() < end) {
      const auto now = Clock::now();
      due += per_sec * std::chrono::duration<double>(now - last).count();
      last = now;
      // Never catch up in a burst: at most 10 ms of schedule is owed.
      due = std::min(due, per_sec * 0.01 + 2);
      while (due >= 2 && can_send()) {
        add_next();
        del_oldest();
        due -= 2;
      }
      marks();
      if (!io(1)) return false;
    }
    stop_ = Clock::now();
    return drain();
  }

  void report() const {
    const double s = std::chrono::duration<double>(stop_ - start_).count();
    const uint64_t churned = sent_ - sent_at_start_;
    printf("flow_mods=%" PRIu64 "\nchurn_seconds=%.3f\nflow_mod_rate=%.0f\n", churned, s, s > 0 ? double(churned) / s : 0);
    if (window_end_ > window_start_) {
      const double ws = std::chrono::duration<double>(window_end_ - window_start_).count();
      printf("window_flow_mods=%" PRIu64 "\nwindow_seconds=%.3f\nwindow_flow_mod_rate=%.0f\n",
             sent_at_window_end_ - sent_at_window_start_, ws, double(sent_at_window_end_ - sent_at_window_start_) / ws);
    }
    printf("barriers=%" PRIu64 "\nbarrier_rtt_max_ms=%.2f\nerrors=%" PRIu64 "\n", barrier_replies_, rtt_max_ms_, errors_);
  }
  bool ok() const { return errors_ == 0 && !failed_; }

 private:
  struct Barrier {
    uint32_t xid;
    Clock::time_point sent;
  };

  bool fail(const std::string& why) {
    fprintf(stderr, "trestle-flowmod-churn: %s\n", why.c_str());
    failed_ = true;
    return false;
  }
  bool can_send() const { return unacked_.size() < o_.max_unacked && out_.size() < 1 << 20; }
  void sent_one() {
    if (++sent_ % o_.barrier_every == 0) {
      unacked_.push_back({next_xid_, Clock::now()});
      header(out_, OFPT_BARRIER_REQUEST, kHeaderLen, next_xid_++);
    }
  }
  void add_next() {
    flow_mod(out_, next_xid_++, OFPFC_ADD, o_.in_port, next_rule_++);
    sent_one();
  }
  void del_oldest() {
    flow_mod(out_, next_xid_++, OFPFC_DELETE_STRICT, o_.in_port, next_rule_ - 1 - o_.window);
    sent_one();
  }
  void marks() {
    if (g_mark_start && !window_started_) window_started_ = true, window_start_ = Clock::now(), sent_at_window_start_ = sent_;
    if (g_mark_end && window_started_ && window_end_ <= window_start_) window_end_ = Clock::now(), sent_at_window_end_ = sent_;
  }
  // A final barrier, then every reply up to it (5 s at most).
  bool drain() {
    unacked_.push_back({next_xid_, Clock::now()});
    header(out_, OFPT_BARRIER_REQUEST, kHeaderLen, next_xid_++);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!unacked_.empty()) {
      if (Clock::now() > deadline) return fail("the switch did not answer the last barrier within 5 s");
      if (!io(10)) return false;
    }
    return true;
  }

  // Writes what is pending, reads what arrived, waiting up to `ms`.
  bool io(int ms) {
    pollfd p{fd_, short(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0};
    if (poll(&p, 1, ms) < 0 && errno != EINTR) return fail(std::string("poll: ") + strerror(errno));
    while (!out_.empty()) {
      ssize_t n = send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        return fail(std::string("send: ") + strerror(errno));
      }
      out_.erase(0, size_t(n));
    }
    for (;;) {
      char buf[65536];
      ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) return fail("the switch closed the connection");
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        return fail(std::string("recv: ") + strerror(errno));
      }
      in_.append(buf, size_t(n));
    }
    while (in_.size() >= kHeaderLen) {
      const auto* h = reinterpret_cast<const uint8_t*>(in_.data());
      const uint16_t len = get16(h + 2);
      if (len < kHeaderLen) return fail("message with length below 8 from the switch");
      if (in_.size() < len) break;
      handle(h, len);
      in_.erase(0, len);
    }
    return true;
  }

  void handle(const uint8_t* m, uint16_t len) {
    const uint8_t type = m[1];
    const uint32_t xid = get32(m + 4);
    if (type == OFPT_HELLO) {
      hello_seen_ = true;
    } else if (type == OFPT_ERROR) {
      ++errors_;
      fprintf(stderr, "trestle-flowmod-churn: OFPT_ERROR xid=%u type=%u code=%u (%u bytes: %s)\n", xid,
              len >= 12 ? get16(m + 8) : 0, len >= 12 ? get16(m + 10) : 0, len,
              hex(std::string(reinterpret_cast<const char*>(m), std::min<size_t>(len, 32))).c_str());
    } else if (type == OFPT_ECHO_REQUEST) {
      std::string reply(reinterpret_cast<const char*>(m), len);
      reply[1] = char(OFPT_ECHO_REPLY);
      out_ += reply;
    } else if (type == OFPT_BARRIER_REPLY) {
      while (!unacked_.empty() && unacked_.front().xid != xid) unacked_.pop_front();  // replies come in order
      if (unacked_.empty()) return;
      rtt_max_ms_ = std::max(rtt_max_ms_, std::chrono::duration<double, std::milli>(Clock::now() - unacked_.front().sent).count());
      unacked_.pop_front();
      ++barrier_replies_;
    }
  }

  const Options& o_;
  int fd_ = -1;
  std::string out_, in_;
  uint32_t next_xid_ = 1, next_rule_ = 0;
  bool hello_seen_ = false, failed_ = false, window_started_ = false;
  uint64_t sent_ = 0, sent_at_start_ = 0, sent_at_window_start_ = 0, sent_at_window_end_ = 0;
  uint64_t errors_ = 0, barrier_replies_ = 0;
  double rtt_max_ms_ = 0;
  std::deque<Barrier> unacked_;
  Clock::time_point start_{}, stop_{}, window_start_{}, window_end_{};
};

int usage() {
  fprintf(stderr,
          "usage: trestle-flowmod-churn --socket RUNDIR/BRIDGE.mgmt --in-port OFPORT [--rate FLOW_MODS_PER_S]\n"
          "         [--window RULES] [--barrier-every N] [--max-unacked BARRIERS] [--seconds S]\n"
          "       trestle-flowmod-churn --hex [--in-port OFPORT]   # the messages, for ovs-ofctl ofp-print\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  static option opts[] = {{"socket", required_argument, nullptr, 's'},
                          {"in-port", required_argument, nullptr, 'p'},
                          {"rate", required_argument, nullptr, 'r'},
                          {"window", required_argument, nullptr, 'w'},
                          {"barrier-every", required_argument, nullptr, 'b'},
                          {"max-unacked", required_argument, nullptr, 'u'},
                          {"seconds", required_argument, nullptr, 'S'},
                          {"hex", no_argument, nullptr, 'x'},
                          {nullptr, 0, nullptr, 0}};
  try {
    for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
      switch (c) {
        case 's': o.socket = optarg; break;
        case 'p': o.in_port = uint16_t(std::stoul(optarg)); break;
        case 'r': o.rate = std::stod(optarg); break;
        case 'w': o.window = uint32_t(std::stoul(optarg)); break;
        case 'b': o.barrier_every = uint32_t(std::stoul(optarg)); break;
        case 'u': o.max_unacked = uint32_t(std::stoul(optarg)); break;
        case 'S': o.seconds = std::stod(optarg); break;
        case 'x': o.hex = true; break;
        default: return usage();
      }
    }
  } catch (const std::exception&) {
    return usage();
  }
  if (o.hex) {
    std::string m;
    header(m, OFPT_HELLO, kHeaderLen, 1);
    printf("%s\n", hex(m).c_str());
    m.clear(), flow_mod(m, 2, OFPFC_ADD, o.in_port, 0x01020304);
    printf("%s\n", hex(m).c_str());
    m.clear(), flow_mod(m, 3, OFPFC_DELETE_STRICT, o.in_port, 0x01020304);
    printf("%s\n", hex(m).c_str());
    m.clear(), header(m, OFPT_BARRIER_REQUEST, kHeaderLen, 4);
    printf("%s\n", hex(m).c_str());
    return 0;
  }
  if (o.socket.empty() || o.in_port == 0 || o.rate <= 0 || o.barrier_every == 0 || o.max_unacked == 0)
    return usage();
  struct sigaction sa {};
  sa.sa_handler = [](int s) {
    if (s == SIGUSR1) g_mark_start = 1;
    else if (s == SIGUSR2) g_mark_end = 1;
    else g_stop = 1;
  };
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaction(s, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Churn churn(o);
  if (!churn.connect_and_hello()) return 1;
  if (!churn.prefill()) return 1;
  printf("prefilled=%u\n", o.window);
  fflush(stdout);
  const bool ran = churn.churn();
  churn.report();
  fflush(stdout);
  return ran && churn.ok() ? 0 : 1;
}
