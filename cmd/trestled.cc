// trestled: the switch daemon: the Open_vSwitch database (what
// ovsdb-server does for OVS), the dataplane the database drives through
// the reconciler (what ovs-vswitchd does), and the ovs-appctl control
// socket. Argument parsing and wiring only: the work is in ctl/,
// plugin-shim/ and dataplane/.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ctl/ovsdb/server.h"
#include "dataplane/dataplane.h"
#include "dataplane/eal.h"
#include "dataplane/stats_format.h"
#include "plugin-shim/ofswitch.h"
#include "plugin-shim/reconciler.h"
#include "ctl/pidfile.h"
#include "ctl/unixctl.h"

namespace {

using trestle::ctl::Json;

// The OVS release whose behaviour trestle reproduces: clients gate
// features on Open_vSwitch.ovs_version, so it reads like OVS's.
constexpr const char* kOvsVersion = "3.1.0";
constexpr const char* kTrestleVersion = "0.1";

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

const char* kUsage = R"(trestled: a userspace virtual switch (OVSDB server + switch daemon)
usage: trestled [OPTIONS] [DATABASE]

DATABASE is the Open_vSwitch database file, $OVS_DBDIR/conf.db by default;
it is created (OVSDB file format, readable by ovsdb-tool) when absent.

Directories (as the stock OVS tools use them):
  OVS_RUNDIR   sockets and pid files (default /var/run/openvswitch):
               db.sock (always served), ovs-vswitchd.pid, ovs-vswitchd.<pid>.ctl
  OVS_DBDIR    the database (default /etc/openvswitch)
  OVS_LOGDIR   the log file (default /var/log/openvswitch)

Options:
  --remote=REMOTE     also serve OVSDB on REMOTE: punix:PATH, ptcp:PORT[:IP],
                      or connect to unix:PATH, tcp:IP:PORT (repeatable);
                      Manager rows in the database add remotes at run time
  --detach            run in the background once the database is served
  --pidfile[=FILE]    pid file (default $OVS_RUNDIR/ovs-vswitchd.pid, which is
                      always written: ovs-appctl finds the daemon through it)
  --log-file[=FILE]   also log to FILE (default $OVS_LOGDIR/ovs-vswitchd.log)
  -v, --verbose       also log every OVSDB connection opened and closed
  --no-dataplane      serve the database only (no DPDK, no ports): what
                      ovsdb-server alone does; cur_cfg then follows next_cfg
  --fsync             fdatasync the database after every commit (default: every
                      commit is written with write(2) before it is acknowledged,
                      which survives the daemon being killed; fdatasync only for
                      transactions with {"op":"commit","durable":true})
  -h, --help          this text
  -V, --version       the version

Signals: SIGTERM and SIGINT stop the daemon cleanly (the database synced to
disk, sockets and the pid file removed).
)";

std::string env_or(const char* name, const char* fallback) {
  const char* v = getenv(name);
  return v && *v ? v : fallback;
}

void mkdirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
}

class Logger {
 public:
  bool verbose = false;
  FILE* file = nullptr;
  bool to_stderr = true;
  void operator()(const std::string& module, const char* level, const std::string& text) {
    using namespace std::chrono;
    auto now = system_clock::now();
    time_t t = system_clock::to_time_t(now);
    int ms = int(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
    char ts[64];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", gmtime(&t));
    char line[96];
    snprintf(line, sizeof line, "%s.%03dZ|%05u|%s|%s|", ts, ms, ++seq_, module.c_str(), level);
    std::string out = line + text + "\n";
    if (to_stderr) fputs(out.c_str(), stderr);
    if (file) {
      fputs(out.c_str(), file);
      fflush(file);
    }
  }

 private:
  unsigned seq_ = 0;
};

std::string os_release(const std::string& key) {
  std::ifstream f("/etc/os-release");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key + "=", 0) != 0) continue;
    std::string v = line.substr(key.size() + 1);
    if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return "";
}

// What ovs-vswitchd and ovs-ctl write into Open_vSwitch at start-up.
void populate(trestle::ctl::OvsdbServer& server, const std::string& rundir, Logger& log) {
  auto& db = server.db();
  int t = db.schema().table("Open_vSwitch");
  Json::Array ops;
  if (db.table(t).rows.empty())
    ops.push_back(Json::Object{{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", Json::Object{}}});
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  Json::Array ext{
      Json::Array{"hostname", host},
      Json::Array{"rundir", rundir},
  };
  bool has_system_id = false;
  if (!db.table(t).rows.empty()) {
    const auto& row = *db.table(t).rows.begin()->second;
    int c = db.schema().tables[size_t(t)].column("external_ids");
    has_system_id = row.cols[size_t(c)].find(trestle::ctl::Atom(std::string("system-id"))) >= 0;
  }
  if (!has_system_id) ext.push_back(Json::Array{"system-id", trestle::ctl::Uuid::random().str()});
  auto set = [](std::vector<const char*> v) {
    Json::Array a;
    for (auto* s : v) a.push_back(s);
    return Json::Array{"set", std::move(a)};
  };
  Json::Object row{
      {"ovs_version", kOvsVersion},
      {"db_version", db.schema().version},
      {"system_type", os_release("ID")},
      {"system_version", os_release("VERSION_ID")},
      {"datapath_types", set({"netdev", "system"})},
      {"iface_types", set({"dpdk", "dpdkvhostuser", "dpdkvhostuserclient", "internal", "patch",
                           "system", "tap", "afxdp"})},
  };
  ops.push_back(Json::Object{{"op", "update"}, {"table", "Open_vSwitch"}, {"where", Json::Array{}}, {"row", row}});
  ops.push_back(Json::Object{{"op", "mutate"},
                             {"table", "Open_vSwitch"},
                             {"where", Json::Array{}},
                             {"mutations", Json::Array{Json::Array{"external_ids", "delete",
                                                                   Json::Array{"set", Json::Array{"hostname", "rundir"}}},
                                                       Json::Array{"external_ids", "insert",
                                                                   Json::Array{"map", ext}}}}});
  Json r = server.transact(ops);
  for (auto& e : r.as_array())
    if (e.has("error")) log("bridge", "ERR", "start-up transaction failed: " + r.dump());
}

// Until the plugin-shim issue applies configuration, the change is "live"
// as soon as it is committed: cur_cfg follows next_cfg so that ovs-vsctl
// and ovsdbapp, which wait for it, return.
void sync_cur_cfg(trestle::ctl::OvsdbServer& server) {
  auto& db = server.db();
  int t = db.schema().table("Open_vSwitch");
  const auto& ts = db.schema().tables[size_t(t)];
  int next = ts.column("next_cfg"), cur = ts.column("cur_cfg");
  for (auto& [u, row] : db.table(t).rows) {
    int64_t n = row->cols[size_t(next)].keys()[0].integer();
    if (row->cols[size_t(cur)].keys()[0].integer() == n) continue;
    server.transact(Json::Array{Json::Object{
        {"op", "update"},
        {"table", "Open_vSwitch"},
        {"where", Json::Array{Json::Array{"_uuid", "==", Json::Array{"uuid", u.str()}}}},
        {"row", Json::Object{{"cur_cfg", n}}}}});
    return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string rundir = env_or("OVS_RUNDIR", "/var/run/openvswitch");
  std::string dbdir = env_or("OVS_DBDIR", "/etc/openvswitch");
  std::string logdir = env_or("OVS_LOGDIR", "/var/log/openvswitch");
  std::vector<std::string> remotes;
  std::string pidfile_path, logfile_path, db_path;
  bool detach = false, fsync_each = false, with_dataplane = true;
  Logger log;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& opt) -> std::string {
      if (a.size() > opt.size() && a[opt.size()] == '=') return a.substr(opt.size() + 1);
      if (i + 1 < argc) return argv[++i];
      fprintf(stderr, "trestled: %s needs an argument\n", opt.c_str());
      exit(1);
    };
    if (a == "-h" || a == "--help") {
      fputs(kUsage, stdout);
      return 0;
    } else if (a == "-V" || a == "--version") {
      printf("trestled (trestle) %s; Open vSwitch compatible %s; DB Schema %s\n", kTrestleVersion,
             kOvsVersion, "8.3.1");
      return 0;
    } else if (a == "--remote" || a.rfind("--remote=", 0) == 0) {
      remotes.push_back(value("--remote"));
    } else if (a == "--detach") {
      detach = true;
    } else if (a == "--pidfile") {
      pidfile_path = rundir + "/ovs-vswitchd.pid";
    } else if (a.rfind("--pidfile=", 0) == 0) {
      pidfile_path = a.substr(10);
    } else if (a == "--log-file") {
      logfile_path = logdir + "/ovs-vswitchd.log";
    } else if (a.rfind("--log-file=", 0) == 0) {
      logfile_path = a.substr(11);
    } else if (a == "-v" || a == "--verbose" || a.rfind("--verbose=", 0) == 0) {
      log.verbose = true;
    } else if (a == "--no-dataplane") {
      with_dataplane = false;
    } else if (a == "--fsync") {
      fsync_each = true;
    } else if (a == "--no-chdir" || a == "--monitor" || a == "--overwrite-pidfile") {
      // OVS daemon flags that have nothing to do here; accepted so that
      // scripts written for OVS keep working.
    } else if (!a.empty() && a[0] == '-') {
      fprintf(stderr, "trestled: unknown option %s (see --help)\n", a.c_str());
      return 1;
    } else if (db_path.empty()) {
      db_path = a;
    } else {
      fprintf(stderr, "trestled: only one database file is served (got %s and %s)\n", db_path.c_str(), a.c_str());
      return 1;
    }
  }
  if (db_path.empty()) db_path = dbdir + "/conf.db";
  if (pidfile_path.empty()) pidfile_path = rundir + "/ovs-vswitchd.pid";
  // One descriptor per OVSDB client: take every one the system allows.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  mkdirs(rundir);
  mkdirs(db_path.substr(0, db_path.rfind('/') == std::string::npos ? 0 : db_path.rfind('/')));
  if (!logfile_path.empty()) {
    mkdirs(logfile_path.substr(0, logfile_path.rfind('/')));
    log.file = fopen(logfile_path.c_str(), "a");
    if (!log.file) {
      fprintf(stderr, "trestled: %s: %s\n", logfile_path.c_str(), strerror(errno));
      return 1;
    }
  }

  // --detach: the parent returns once the child serves the database (or
  // with the child's error).
  int ready_pipe[2] = {-1, -1};
  if (detach) {
    if (pipe(ready_pipe) < 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) {
      close(ready_pipe[1]);
      char c = 1;
      ssize_t n = read(ready_pipe[0], &c, 1);
      return n == 1 && c == 0 ? 0 : 1;
    }
    close(ready_pipe[0]);
    setsid();
  }
  auto fail = [&](const std::string& msg) {
    log("trestled", "EMER", msg);
    if (ready_pipe[1] >= 0) {
      char c = 1;
      (void)!write(ready_pipe[1], &c, 1);
    }
    return 1;
  };

  trestle::ctl::OvsdbServer::Options opts;
  opts.db_path = db_path;
  opts.fsync_each_commit = fsync_each;
  opts.verbose = log.verbose;
  opts.log = [&](const std::string& line) { log("ovsdb", "INFO", line); };
  auto server = trestle::ctl::OvsdbServer::open(opts);
  if (!server) return fail(server.error().message);
  auto& srv = **server;
  if (auto r = srv.add_remote("punix:" + rundir + "/db.sock"); !r) return fail(r.error().message);
  for (auto& r : remotes)
    if (auto s = srv.add_remote(r); !s) return fail(s.error().message);
  populate(srv, rundir, log);

  // The dataplane: DPDK without hugepages, a file prefix of this process
  // (two daemons never share DPDK runtime files), PMDs on
  // other_config:pmd-cpu-mask (default: the last CPU).
  std::unique_ptr<trestle::dataplane::Dataplane> dp;
  std::unique_ptr<trestle::shim::Reconciler> reconciler;
  std::unique_ptr<trestle::shim::OfSwitch> ofswitch;
  if (with_dataplane) {
    auto& db = srv.db();
    int t = db.schema().table("Open_vSwitch");
    std::map<std::string, std::string> oc;
    for (auto& [u, row] : db.table(t).rows) {
      const auto& d = row->cols[size_t(db.schema().tables[size_t(t)].column("other_config"))];
      for (size_t i = 0; i < d.size(); ++i) oc[d.keys()[i].string()] = d.values()[i].string();
    }
    trestle::dataplane::EalConfig eal;
    eal.file_prefix = "trestled-" + std::to_string(getpid());
    eal.log_level = "*:error";
    if (oc.count("dpdk-extra")) {
      std::string extra = oc["dpdk-extra"], word;
      for (char c : extra + " ")
        if (c == ' ') {
          if (!word.empty()) eal.extra.push_back(word);
          word.clear();
        } else {
          word += c;
        }
    }
    if (auto r = trestle::dataplane::eal_init(eal); !r) return fail("DPDK: " + r.error().message);
    trestle::dataplane::DataplaneConfig cfg;
    cfg.rundir = rundir;
    if (oc.count("pmd-cpu-mask")) {
      // A bad mask is logged and the default used: the switch still starts.
      auto cores = trestle::dataplane::parse_cpu_mask(oc["pmd-cpu-mask"]);
      const auto& allowed = trestle::dataplane::allowed_cpus();
      if (cores && std::any_of(cores->begin(), cores->end(), [&](unsigned c) {
            return std::find(allowed.begin(), allowed.end(), c) == allowed.end();
          }))
        cores = trestle::make_error("pmd-cpu-mask \"" + oc["pmd-cpu-mask"] + "\" names a CPU this process may not use");
      if (cores)
        cfg.pmd_cores = *cores;
      else
        log("dpdk", "ERR", "other_config:pmd-cpu-mask: " + cores.error().message + "; PMD on the last CPU");
    }
    auto created = trestle::dataplane::Dataplane::create(cfg);
    if (!created) return fail("dataplane: " + created.error().message);
    dp = std::move(created.value());
    dp->start_control_thread();  // MAC learning and aging
    trestle::shim::Reconciler::Options ro;
    ro.log = [&](const std::string& line) { log("bridge", "INFO", line); };
    reconciler = std::make_unique<trestle::shim::Reconciler>(srv, *dp, ro);
    trestle::shim::OfSwitch::Options oo;
    oo.rundir = rundir;
    oo.log = [&](const std::string& line) { log("connmgr", "INFO", line); };
    ofswitch = std::make_unique<trestle::shim::OfSwitch>(srv, *dp, *reconciler, oo);
    srv.set_after_commit([&](const trestle::ctl::Commit& c) {
      if (!reconciler->relevant(c)) return;
      reconciler->reconcile();
      ofswitch->reconfigure();
    });
    reconciler->reconcile();
    ofswitch->reconfigure();
  } else {
    srv.set_after_commit([&](const trestle::ctl::Commit&) { sync_cur_cfg(srv); });
    sync_cur_cfg(srv);
  }

  auto pidfile = trestle::ctl::Pidfile::create(pidfile_path);
  if (!pidfile) return fail(pidfile.error().message);
  std::string ctl_path = rundir + "/ovs-vswitchd." + std::to_string(getpid()) + ".ctl";
  auto unixctl = trestle::ctl::UnixctlServer::listen(
      ctl_path, std::string("ovs-vswitchd (trestle ") + kTrestleVersion + ") " + kOvsVersion);
  if (!unixctl) return fail(unixctl.error().message);
  (*unixctl)->add_command("exit", "", 0, 1, [&](const std::vector<std::string>&) {
    g_stop = 1;
    return trestle::Result<std::string>(std::string());
  });
  (*unixctl)->add_command("ovsdb-server/compact", "", 0, 1, [&](const std::vector<std::string>&) {
    if (auto r = srv.compact(); !r) return trestle::Result<std::string>(r.error());
    return trestle::Result<std::string>(std::string());
  });

  if (dp) {
    (*unixctl)->add_command("dpif-netdev/pmd-perf-show", "[-nh] [-it iter-history-len] [-ms ms-history-len] [-pmd core] [dp]", 0, 8,
                            [&](const std::vector<std::string>&) {
                              return trestle::Result<std::string>(trestle::dataplane::format_pmd_perf(dp->pmd_stats(), dp->pmd_stats_seconds()));
                            });
    (*unixctl)->add_command("dpif-netdev/pmd-stats-show", "[-pmd core] [dp]", 0, 3, [&](const std::vector<std::string>&) {
      return trestle::Result<std::string>(trestle::dataplane::format_pmd_stats(dp->pmd_stats()));
    });
    (*unixctl)->add_command("dpif-netdev/pmd-stats-clear", "[-pmd core] [dp]", 0, 3, [&](const std::vector<std::string>&) {
      dp->clear_pmd_stats();
      return trestle::Result<std::string>(std::string());
    });
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  log("trestled", "INFO", "serving " + db_path + " on punix:" + rundir + "/db.sock (pid " +
                               std::to_string(getpid()) + ")");
  if (detach) {
    char c = 0;
    (void)!write(ready_pipe[1], &c, 1);
    close(ready_pipe[1]);
    log.to_stderr = false;
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
      close(devnull);
    }
  }
  while (!g_stop) {
    std::vector<int> wake = (*unixctl)->fds();
    if (ofswitch) {
      auto of = ofswitch->fds();
      wake.insert(wake.end(), of.begin(), of.end());
    }
    std::vector<int> ready;
    srv.run(ofswitch ? std::min(500, ofswitch->timeout_ms()) : 1000, wake, &ready);
    // Only what woke us: no poll per component per pass (syscalls are most
    // of a flow_mod's cost here: ovs-ofctl waits for a barrier after each).
    const std::vector<int> ufds = (*unixctl)->fds();
    if (std::any_of(ufds.begin(), ufds.end(),
                    [&](int fd) { return std::find(ready.begin(), ready.end(), fd) != ready.end(); }))
      (*unixctl)->run(0);
    if (ofswitch) ofswitch->run(&ready);
    if (reconciler)
      reconciler->refresh(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now().time_since_epoch()).count());
  }
  ofswitch.reset();  // closes OpenFlow connections, removes the .mgmt sockets
  if (auto r = srv.sync(); !r) log("trestled", "ERR", r.error().message);
  log("trestled", "INFO", "exiting");
  return 0;
}
