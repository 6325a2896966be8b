// trestle-ovsdb-bench: the OVSDB server side by side with Debian's
// ovsdb-server 3.1, same machine, same run, interleaved rounds.
//
//   small   transactions of one small insert (a QoS row with an external id),
//           pipelined W deep over one unix socket: transactions/s
//   batch   transactions of 1,000 such inserts: rows/s
//   fanout  100 clients monitor QoS (monitor_cond); one writer commits
//           1,000 single-row transactions: update notifications delivered/s
//           (all 100 clients, until the last one has them all)
//   load    10,000 ports (Interface + Port under one bridge) committed in
//           batches, then the server restarted: seconds until it answers,
//           and its RSS loaded (VmRSS, no hugepages involved)
//
// Each server runs pinned to one core (taskset), the client on the other.
// Usage: trestle-ovsdb-bench --trestled PATH [--ovsdb-server PATH]
//        [--rounds N] [--scale F] [--tsv FILE] [--md FILE]
// --scale shrinks every count (the CI smoke run uses 0.01).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ctl/json.h"

namespace {

using trestle::ctl::Json;
using trestle::ctl::JsonSplitter;
using Clock = std::chrono::steady_clock;

double secs_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

[[noreturn]] void die(const std::string& msg) {
  fprintf(stderr, "trestle-ovsdb-bench: %s\n", msg.c_str());
  exit(1);
}

class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void send(const std::string& text) {
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::send(fd_, text.data() + off, text.size() - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          pump(0);  // never deadlock against a server that writes back
          continue;
        }
        die("send: " + std::string(strerror(errno)));
      }
      off += size_t(n);
    }
  }
  // Reads what is there (waiting up to timeout_ms) into the queue.
  void pump(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return;
    char buf[1 << 16];
    ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) die("server closed the connection");
    if (n < 0) return;
    auto texts = splitter_.feed(std::string_view(buf, size_t(n)));
    if (!texts) die("bad JSON from server");
    for (auto& t : *texts) queue_.push_back(std::move(t));
  }
  // Next message (raw text), waiting for it.
  std::string next() {
    while (queue_.empty()) pump(10000);
    std::string t = std::move(queue_.front());
    queue_.erase(queue_.begin());
    return t;
  }
  Json call(const std::string& method, const Json& params) {
    int64_t id = next_id_++;
    send(Json(Json::Object{{"id", id}, {"method", method}, {"params", params}}).dump());
    for (;;) {
      auto m = Json::parse(next());
      if (m.ok() && m->has("id") && (*m)["id"] == Json(id)) return *m;
    }
  }
  std::vector<std::string>& queue() { return queue_; }
  int64_t take_id() { return next_id_++; }

 private:
  int fd_ = -1;
  JsonSplitter splitter_;
  std::vector<std::string> queue_;
  int64_t next_id_ = 1;
};

struct Server {
  std::string kind, dir, sock;
  pid_t pid = -1;
};

std::string g_trestled, g_ovsdb_server, g_ovsdb_tool = "ovsdb-tool";
int g_server_cpu = 1;

void wait_ready(Server& s) {
  auto t0 = Clock::now();
  while (secs_since(t0) < 60) {
    Client c(s.sock);
    if (c.ok()) {
      Json r = c.call("list_dbs", Json::Array{});
      if (r["result"].is_array()) return;
    }
    int st;
    if (waitpid(s.pid, &st, WNOHANG) == s.pid) die(s.kind + " exited at start-up (see " + s.dir + "/log)");
    usleep(2000);
  }
  die(s.kind + " did not answer within 60 s");
}

Server start(const std::string& kind, const std::string& dir) {
  Server s{kind, dir, dir + "/run/db.sock"};
  for (auto sub : {"/run", "/db", "/log"}) mkdir((dir + sub).c_str(), 0755);
  std::string db = dir + "/db/conf.db";
  if (kind == "ovsdb-server" && access(db.c_str(), F_OK) != 0) {
    std::string cmd = g_ovsdb_tool + " create " + db + " /usr/share/openvswitch/vswitch.ovsschema";
    if (system(cmd.c_str()) != 0) die("ovsdb-tool create failed");
  }
  s.pid = fork();
  if (s.pid == 0) {
    setenv("OVS_RUNDIR", (dir + "/run").c_str(), 1);
    setenv("OVS_DBDIR", (dir + "/db").c_str(), 1);
    setenv("OVS_LOGDIR", (dir + "/log").c_str(), 1);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 1), dup2(devnull, 2);
    std::string cpu = std::to_string(g_server_cpu);
    if (kind == "trestled") {
      // The database alone, as ovsdb-server is: no dataplane, no PMD
      // spinning on the client's core.
      execlp("taskset", "taskset", "-c", cpu.c_str(), g_trestled.c_str(), db.c_str(), "--no-dataplane",
             ("--log-file=" + dir + "/log/trestled.log").c_str(), nullptr);
    } else {
      execlp("taskset", "taskset", "-c", cpu.c_str(), g_ovsdb_server.c_str(), db.c_str(),
             ("--remote=punix:" + s.sock).c_str(), ("--unixctl=" + dir + "/run/ovsdb-server.ctl").c_str(),
             ("--pidfile=" + dir + "/run/ovsdb-server.pid").c_str(),
             ("--log-file=" + dir + "/log/ovsdb-server.log").c_str(), "--no-chdir", nullptr);
    }
    _exit(127);
  }
  wait_ready(s);
  // ovs-ctl's "init": the root row every client expects.
  Client c(s.sock);
  Json r = c.call("transact", Json::Array{"Open_vSwitch", Json::Object{{"op", "select"}, {"table", "Open_vSwitch"}, {"where", Json::Array{}}}});
  if (r["result"].as_array()[0]["rows"].as_array().empty())
    c.call("transact", Json::Array{"Open_vSwitch", Json::Object{{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", Json::Object{}}}});
  return s;
}

void stop(Server& s) {
  kill(s.pid, SIGTERM);
  int st;
  waitpid(s.pid, &st, 0);
  s.pid = -1;
}

long rss_kib(pid_t pid) {
  // taskset execs the server in place: the pid is the server's.
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return atol(line.c_str() + 6);
  return -1;
}

Json qos_insert(int64_t i) {
  return Json::Object{{"op", "insert"},
                      {"table", "QoS"},
                      {"row", Json::Object{{"type", "linux-htb"},
                                           {"external_ids", Json::Array{"map", Json::Array{Json::Array{"k", std::to_string(i)}}}}}}};
}

// Sends n transactions, window deep; returns seconds.
double pipeline(Client& c, int64_t n, int window, int rows_per_txn) {
  std::vector<std::string> texts;
  texts.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    Json::Array params{"Open_vSwitch"};
    for (int r = 0; r < rows_per_txn; ++r) params.push_back(qos_insert(i * rows_per_txn + r));
    texts.push_back(Json(Json::Object{{"id", c.take_id()}, {"method", "transact"}, {"params", params}}).dump());
  }
  auto t0 = Clock::now();
  int64_t sent = 0, done = 0;
  while (done < n) {
    while (sent < n && sent - done < window) c.send(texts[size_t(sent++)]);
    std::string reply = c.next();
    if (reply.find("\"error\":null") == std::string::npos || reply.find("\"error\":\"") != std::string::npos)
      die("transaction failed: " + reply.substr(0, 300));
    ++done;
  }
  return secs_since(t0);
}

double fanout(const Server& s, int clients, int64_t n) {
  std::vector<std::unique_ptr<Client>> subs;
  for (int i = 0; i < clients; ++i) {
    subs.push_back(std::make_unique<Client>(s.sock));
    Json r = subs.back()->call(
        "monitor_cond",
        Json::Array{"Open_vSwitch", "m", Json::Object{{"QoS", Json::Array{Json::Object{{"columns", Json::Array{"type", "external_ids"}}}}}}});
    if (!r.has("result")) die("monitor_cond failed: " + r.dump());
  }
  Client writer(s.sock);
  std::vector<int64_t> got(size_t(clients), 0);
  auto t0 = Clock::now();
  int64_t sent = 0, acked = 0;
  const int window = 16;
  std::vector<std::string> texts;
  for (int64_t i = 0; i < n; ++i)
    texts.push_back(Json(Json::Object{{"id", writer.take_id()}, {"method", "transact"},
                                      {"params", Json::Array{"Open_vSwitch", qos_insert(i)}}}).dump());
  int64_t total = 0;
  while (total < n * clients || acked < n) {
    while (sent < n && sent - acked < window) writer.send(texts[size_t(sent++)]);
    std::vector<pollfd> fds;
    fds.push_back({writer.fd(), POLLIN, 0});
    for (auto& c : subs) fds.push_back({c->fd(), POLLIN, 0});
    if (poll(fds.data(), fds.size(), 10000) <= 0) die("fanout: nothing for 10 s");
    if (fds[0].revents) {
      writer.pump(0);
      for (auto& m : writer.queue()) acked += m.find("\"result\"") != std::string::npos && m.find("\"id\":null") == std::string::npos;
      writer.queue().clear();
    }
    for (size_t i = 0; i < subs.size(); ++i) {
      if (!fds[i + 1].revents) continue;
      subs[i]->pump(0);
      for (auto& m : subs[i]->queue())
        if (m.find("\"update2\"") != std::string::npos) ++got[i], ++total;
      subs[i]->queue().clear();
    }
  }
  return secs_since(t0);
}

// Adds `ports` ports under one bridge, `per_txn` at a time.
void add_ports(Client& c, int ports, int per_txn) {
  Json r = c.call("transact", Json::Array{"Open_vSwitch",
                                          Json::Object{{"op", "insert"}, {"table", "Bridge"}, {"row", Json::Object{{"name", "br0"}}}, {"uuid-name", "b"}},
                                          Json::Object{{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", Json::Array{}},
                                                       {"mutations", Json::Array{Json::Array{"bridges", "insert", Json::Array{"named-uuid", "b"}}}}}});
  if (r["result"].as_array().size() != 2) die("add bridge: " + r.dump());
  for (int base = 0; base < ports; base += per_txn) {
    Json::Array params{"Open_vSwitch"};
    Json::Array refs;
    for (int i = base; i < std::min(ports, base + per_txn); ++i) {
      std::string n = "vhu" + std::to_string(i);
      params.push_back(Json::Object{{"op", "insert"}, {"table", "Interface"}, {"uuid-name", "i" + std::to_string(i)},
                                    {"row", Json::Object{{"name", n}, {"type", "dpdkvhostuserclient"},
                                                         {"options", Json::Array{"map", Json::Array{Json::Array{"vhost-server-path", "/run/vhu/" + n}}}},
                                                         {"external_ids", Json::Array{"map", Json::Array{Json::Array{"iface-id", n}, Json::Array{"attached-mac", "fa:16:3e:00:00:01"}}}}}}});
      params.push_back(Json::Object{{"op", "insert"}, {"table", "Port"}, {"uuid-name", "p" + std::to_string(i)},
                                    {"row", Json::Object{{"name", n}, {"tag", 1 + i % 4000}, {"interfaces", Json::Array{"named-uuid", "i" + std::to_string(i)}}}}});
      refs.push_back(Json::Array{"named-uuid", "p" + std::to_string(i)});
    }
    params.push_back(Json::Object{{"op", "mutate"}, {"table", "Bridge"}, {"where", Json::Array{Json::Array{"name", "==", "br0"}}},
                                  {"mutations", Json::Array{Json::Array{"ports", "insert", Json::Array{"set", refs}}}}});
    r = c.call("transact", params);
    if (r.dump().find("\"error\":\"") != std::string::npos) die("add ports: " + r.dump().substr(0, 400));
  }
}

struct Figures {
  std::map<std::string, double> v;
};

Figures round(const std::string& kind, const std::string& base, double scale) {
  Figures f;
  auto n = [&](double x) { return std::max<int64_t>(1, int64_t(x * scale)); };
  {
    std::string dir = base + "/" + kind + "-txn";
    mkdir(dir.c_str(), 0755);
    Server s = start(kind, dir);
    Client c(s.sock);
    int64_t k = n(20000);
    f.v["small txn/s, 1 in flight"] = double(n(5000)) / pipeline(c, n(5000), 1, 1);
    f.v["small txn/s, 64 in flight"] = double(k) / pipeline(c, k, 64, 1);
    int64_t b = n(50);
    f.v["rows/s in 1,000-row txns"] = double(b * 1000) / pipeline(c, b, 4, 1000);
    stop(s);
  }
  {
    std::string dir = base + "/" + kind + "-fanout";
    mkdir(dir.c_str(), 0755);
    Server s = start(kind, dir);
    int clients = int(std::max<int64_t>(2, n(100)));
    int64_t m = n(1000);
    f.v["updates/s to 100 monitors"] = double(m * clients) / fanout(s, clients, m);
    stop(s);
  }
  {
    std::string dir = base + "/" + kind + "-load";
    mkdir(dir.c_str(), 0755);
    Server s = start(kind, dir);
    f.v["RSS empty, MiB"] = double(rss_kib(s.pid)) / 1024;
    int ports = int(n(10000));
    auto t0 = Clock::now();
    {
      Client c(s.sock);
      add_ports(c, ports, 500);
    }
    f.v["add 10k ports, s"] = secs_since(t0);
    stop(s);
    t0 = Clock::now();
    s = start(kind, dir);
    f.v["restart with 10k ports, s"] = secs_since(t0);
    f.v["RSS with 10k ports, MiB"] = double(rss_kib(s.pid)) / 1024;
    struct stat st{};
    stat((dir + "/db/conf.db").c_str(), &st);
    f.v["conf.db with 10k ports, MiB"] = double(st.st_size) / (1 << 20);
    stop(s);
  }
  return f;
}

std::string machine_line() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  char host[256] = "";
  FILE* p = popen("uname -r", "r");
  if (p) {
    if (!fgets(host, sizeof host, p)) host[0] = 0;
    pclose(p);
  }
  std::string kernel = host;
  if (!kernel.empty() && kernel.back() == '\n') kernel.pop_back();
  return model + ", " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores, kernel " + kernel;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3;
  double scale = 1;
  std::string tsv, md;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--trestled") g_trestled = val();
    else if (a == "--ovsdb-server") g_ovsdb_server = val();
    else if (a == "--rounds") rounds = std::stoi(val());
    else if (a == "--scale") scale = std::stod(val());
    else if (a == "--tsv") tsv = val();
    else if (a == "--md") md = val();
    else if (a == "--server-cpu") g_server_cpu = std::stoi(val());
    else die("unknown argument " + a);
  }
  if (g_trestled.empty()) die("--trestled PATH is required");
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/trestle-ovsdb-bench.XXXXXX";
  if (!mkdtemp(tmpl)) die("mkdtemp");
  std::string base = tmpl;
  std::vector<std::string> kinds{"trestled"};
  if (!g_ovsdb_server.empty()) kinds.push_back("ovsdb-server");
  std::map<std::string, std::vector<Figures>> all;
  for (int r = 0; r < rounds; ++r)
    for (auto& k : kinds) {
      std::string dir = base + "/r" + std::to_string(r);
      mkdir(dir.c_str(), 0755);
      all[k].push_back(round(k, dir, scale));
      fprintf(stderr, "round %d %s done\n", r + 1, k.c_str());
    }
  std::string cmd = "rm -rf " + base;
  if (system(cmd.c_str()) != 0) fprintf(stderr, "could not remove %s\n", base.c_str());

  // In the order they are measured; lower is better for times and sizes.
  std::vector<std::string> metrics{"small txn/s, 1 in flight", "small txn/s, 64 in flight",
                                   "rows/s in 1,000-row txns", "updates/s to 100 monitors",
                                   "add 10k ports, s", "restart with 10k ports, s", "RSS empty, MiB",
                                   "RSS with 10k ports, MiB", "conf.db with 10k ports, MiB"};
  auto lower_better = [](const std::string& m) { return m.find("/s") == std::string::npos; };
  auto stat = [&](const std::string& k, const std::string& m, double* lo, double* hi) {
    std::vector<double> v;
    for (auto& f : all[k]) v.push_back(f.v.at(m));
    std::sort(v.begin(), v.end());
    *lo = v.front(), *hi = v.back();
    return v[v.size() / 2];
  };
  std::string out = "Machine: " + machine_line() + "; " + std::to_string(rounds) +
                    " interleaved rounds, median (min-max); server pinned to CPU " +
                    std::to_string(g_server_cpu) + ", client on the other\n\n";
  out += "| metric | trestled |" + std::string(kinds.size() > 1 ? " ovsdb-server 3.1 | trestled advantage |" : "") + "\n";
  out += "|---|---|" + std::string(kinds.size() > 1 ? "---|---|" : "") + "\n";
  std::string rows = "metric\tserver\tround\tvalue\n";
  for (auto& m : metrics) {
    char cell[128];
    double lo, hi;
    double t = stat("trestled", m, &lo, &hi);
    snprintf(cell, sizeof cell, "%.4g (%.4g-%.4g)", t, lo, hi);
    out += "| " + m + " | " + cell + " |";
    if (kinds.size() > 1) {
      double o = stat("ovsdb-server", m, &lo, &hi);
      // "advantage" > 1 means trestled is better, whichever way the metric goes.
      snprintf(cell, sizeof cell, " %.4g (%.4g-%.4g) | %.2fx |", o, lo, hi, lower_better(m) ? o / t : t / o);
      out += cell;
    }
    out += "\n";
    for (auto& k : kinds)
      for (size_t r = 0; r < all[k].size(); ++r)
        rows += m + "\t" + k + "\t" + std::to_string(r + 1) + "\t" + std::to_string(all[k][r].v.at(m)) + "\n";
  }
  fputs(out.c_str(), stdout);
  if (!md.empty()) std::ofstream(md) << out;
  if (!tsv.empty()) std::ofstream(tsv) << rows;
  return 0;
}
