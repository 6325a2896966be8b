#include "ctl/ovsdb/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

namespace trestle::ctl {
namespace {

constexpr int kDb = 0, kServerDb = 1;
constexpr int64_t kDefaultProbeMs = 5000;
const char* kZeroUuid = "00000000-0000-0000-0000-000000000000";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json error_json(const std::string& error, const std::string& details, const Json* syntax) {
  OvsdbError e{error, details, std::nullopt};
  if (syntax) e.syntax = *syntax;
  return e.to_json();
}

Result<int> listen_unix(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) return make_error(path + ": socket path too long");
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error("socket: " + std::string(strerror(errno)));
  unlink(path.c_str());  // a stale socket of an earlier run (OVS alike)
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || listen(fd, 128) < 0) {
    std::string err = strerror(errno);
    close(fd);
    return make_error(path + ": " + err);
  }
  chmod(path.c_str(), 0750);
  return fd;
}

Result<int> listen_tcp(const std::string& host, int port, int* bound_port) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  std::string h = host.empty() ? "0.0.0.0" : host;
  if (int rc = getaddrinfo(h.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
    return make_error("ptcp:" + std::to_string(port) + ":" + h + ": " + gai_strerror(rc));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
    std::string err = strerror(errno);
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return make_error("ptcp:" + std::to_string(port) + ":" + h + ": " + err);
  }
  freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound_port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

// Starts a non-blocking connect; the fd becomes writable when it is done.
Result<int> connect_to(const RemoteTarget& t) {
  if (t.kind == RemoteTarget::kUnix) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (t.path.size() >= sizeof sa.sun_path) return make_error(t.path + ": socket path too long");
    memcpy(sa.sun_path, t.path.c_str(), t.path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 && errno != EINPROGRESS)) {
      std::string err = strerror(errno);
      if (fd >= 0) close(fd);
      return make_error("unix:" + t.path + ": " + err);
    }
    return fd;
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  if (int rc = getaddrinfo(t.host.c_str(), std::to_string(t.port).c_str(), &hints, &res); rc != 0)
    return make_error("tcp:" + t.host + ": " + gai_strerror(rc));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)) {
    std::string err = strerror(errno);
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return make_error("tcp:" + t.host + ":" + std::to_string(t.port) + ": " + err);
  }
  freeaddrinfo(res);
  return fd;
}

}  // namespace

Result<RemoteTarget> RemoteTarget::parse(const std::string& target) {
  RemoteTarget t{};
  auto colon = target.find(':');
  if (colon == std::string::npos) return make_error("remote \"" + target + "\": no type (punix:, ptcp:, unix:, tcp:)");
  std::string kind = target.substr(0, colon), rest = target.substr(colon + 1);
  auto parse_port = [&](const std::string& p, int* out) {
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
    *out = std::stoi(p);
    return *out <= 65535;
  };
  auto split_host = [](const std::string& s, std::string* host, std::string* port) {
    // IP:PORT, [IPv6]:PORT
    if (!s.empty() && s[0] == '[') {
      auto close = s.find(']');
      if (close == std::string::npos) return false;
      *host = s.substr(1, close - 1);
      *port = close + 1 < s.size() && s[close + 1] == ':' ? s.substr(close + 2) : "";
      return true;
    }
    auto c = s.rfind(':');
    if (c == std::string::npos) return false;
    *host = s.substr(0, c);
    *port = s.substr(c + 1);
    return true;
  };
  if (kind == "punix" || kind == "unix") {
    if (rest.empty()) return make_error("remote \"" + target + "\": no path");
    t.kind = kind == "punix" ? kPunix : kUnix;
    t.path = rest;
    return t;
  }
  if (kind == "ptcp") {
    t.kind = kPtcp;
    auto c = rest.find(':');
    std::string port = rest.substr(0, c);
    if (c != std::string::npos) {
      t.host = rest.substr(c + 1);
      if (t.host.size() > 1 && t.host[0] == '[') t.host = t.host.substr(1, t.host.size() - 2);
    }
    if (!parse_port(port, &t.port)) return make_error("remote \"" + target + "\": bad port");
    return t;
  }
  if (kind == "tcp") {
    t.kind = kTcp;
    std::string port;
    if (!split_host(rest, &t.host, &port) || !parse_port(port, &t.port) || t.port == 0)
      return make_error("remote \"" + target + "\": expected tcp:IP:PORT");
    return t;
  }
  return make_error("remote \"" + target + "\": unsupported type " + kind +
                    " (punix:, ptcp:, unix:, tcp: are)");
}

struct OvsdbServer::Remote {
  std::string target;
  RemoteTarget t;
  bool permanent = false;
  int64_t probe_ms = 0;       // sessions' inactivity probe; 0 = off
  int fd = -1;                // listening socket (passive)
  int bound_port = 0;
  bool alias = false;         // punix path another remote already listens on
  Session* active = nullptr;  // active remotes: the connection
  int64_t retry_at = 0, backoff_ms = 1000;
  std::string last_error;
  bool wanted = true;  // reconcile mark
};

struct OvsdbServer::Monitor {
  struct TableReq {
    int table;
    std::vector<int> columns;
    bool initial = true, insert = true, del = true, modify = true;
    std::vector<std::vector<Clause>> wheres;  // OR of them; empty = every row
    bool matches(const TableSchema& ts, const Row& r) const {
      if (wheres.empty()) return true;
      for (auto& w : wheres)
        if (row_matches(ts, r, w)) return true;
      return false;
    }
  };
  int version = 1;
  Json id;
  int db = kDb;
  std::vector<TableReq> tables;
};

struct OvsdbServer::Session {
  int fd = -1;
  Remote* remote = nullptr;
  bool tcp = false;
  bool connecting = false;
  JsonSplitter splitter;
  std::string out;
  size_t out_off = 0;
  std::map<std::string, std::unique_ptr<Monitor>> monitors;  // by id.dump()
  std::set<std::string> locks;  // held or waited for
  int64_t probe_ms = 0, last_rx_ms = 0;
  bool probe_sent = false;
  bool dead = false;
};

// A compaction writing the snapshot on its own thread; what commits in the
// meantime is kept in `tail` (and appended to the old file as usual).
struct OvsdbServer::Compaction {
  std::thread thread;
  std::atomic<bool> done{false};
  OvsdbLog::Replacement result;  // written by the thread before done
  std::vector<std::string> tail;  // control thread only
};

struct OvsdbServer::Pending {
  Session* session;
  Json id;
  Json params;
  int64_t started_ms;
  int64_t deadline_ms;
};

Result<std::unique_ptr<OvsdbServer>> OvsdbServer::open(Options options) {
  std::unique_ptr<OvsdbServer> s(new OvsdbServer());
  if (!options.log) options.log = [](const std::string&) {};
  s->options_ = std::move(options);
  auto schema_json = Json::parse(vswitch_schema_text());
  if (!schema_json) return make_error("built-in schema: " + schema_json.error().message);
  auto schema = DatabaseSchema::parse(*schema_json);
  if (!schema) return schema.error();
  auto opened = OvsdbLog::open(s->options_.db_path);
  if (!opened) return opened.error();
  if (!opened->warning.empty()) s->log(s->options_.db_path + ": " + opened->warning);
  s->disk_ = std::move(opened->log);
  s->db_ = std::make_unique<Database>(*schema);
  auto& records = opened->records;
  bool rewrite = false;
  if (records.empty()) {
    if (auto r = s->disk_->append(schema->get()->json); !r) return r.error();
  } else {
    const Json& file_schema = records[0];
    if (!file_schema["name"].is_string() || file_schema["name"].as_string() != "Open_vSwitch")
      return make_error(s->options_.db_path + ": not an Open_vSwitch database");
    if (!(file_schema["version"] == Json(schema->get()->version))) {
      s->log(s->options_.db_path + ": converting from schema version " +
             file_schema["version"].dump() + " to " + schema->get()->version);
      rewrite = true;
    }
    for (size_t i = 1; i < records.size(); ++i)
      if (auto e = s->db_->replay(std::exchange(records[i], Json())))
        s->log(s->options_.db_path + ": record " + std::to_string(i) + " skipped: " + e->error +
               ": " + e->details);
    s->db_->rebuild();
    records.clear();
    records.shrink_to_fit();
    // Reading the file built and freed a tree of every record: give those
    // pages back rather than carry them for the daemon's life.
    malloc_trim(0);
  }
  s->compacted_size_ = s->disk_->size();
  if (rewrite)
    if (auto r = s->compact(); !r) return r.error();
  s->db_->set_commit_hook([srv = s.get()](const Commit& c) { srv->on_commit(kDb, c); });

  auto server_json = Json::parse(server_schema_text());
  if (!server_json) return make_error("built-in _Server schema: " + server_json.error().message);
  auto server_schema = DatabaseSchema::parse(*server_json);
  if (!server_schema) return server_schema.error();
  s->server_db_ = std::make_unique<Database>(*server_schema);
  s->server_id_ = Uuid::random();
  Json::Array ops;
  for (auto* d : {s->server_db_.get(), s->db_.get()}) {
    ops.push_back(Json::Object{
        {"op", "insert"},
        {"table", "Database"},
        {"row", Json::Object{{"name", d->schema().name},
                             {"model", "standalone"},
                             {"connected", true},
                             {"leader", true},
                             {"schema", d->schema().text}}}});
  }
  Database::Context ctx;
  auto out = s->server_db_->transact(ops, 0, ctx);
  if (!out.commit) return make_error("_Server: " + out.result.dump());
  s->server_db_->set_commit_hook([srv = s.get()](const Commit& c) { srv->on_commit(kServerDb, c); });
  return s;
}

OvsdbServer::~OvsdbServer() {
  finish_compaction(true);
  for (auto& s : sessions_)
    if (s->fd >= 0) close(s->fd);
  for (auto& r : remotes_) {
    if (r->fd >= 0) {
      close(r->fd);
      if (r->t.kind == RemoteTarget::kPunix) unlink(r->t.path.c_str());
    }
  }
}

std::vector<std::string> OvsdbServer::listening() const {
  std::vector<std::string> v;
  for (auto& r : remotes_)
    if (r->fd >= 0)
      v.push_back(r->t.kind == RemoteTarget::kPtcp
                      ? "ptcp:" + std::to_string(r->bound_port) + (r->t.host.empty() ? "" : ":" + r->t.host)
                      : r->target);
  return v;
}

Result<void> OvsdbServer::add_remote(const std::string& target) {
  return start_remote(target, true, -1);
}

Result<void> OvsdbServer::start_remote(const std::string& target, bool permanent, int64_t probe_ms) {
  auto t = RemoteTarget::parse(target);
  if (!t) return t.error();
  auto r = std::make_unique<Remote>();
  r->target = target;
  r->t = *t;
  r->permanent = permanent;
  bool tcp = t->kind == RemoteTarget::kPtcp || t->kind == RemoteTarget::kTcp;
  r->probe_ms = probe_ms >= 0 ? probe_ms : (tcp ? kDefaultProbeMs : 0);
  Result<void> status;
  if (t->kind == RemoteTarget::kPunix) {
    for (auto& o : remotes_)
      if (o->t.kind == RemoteTarget::kPunix && o->t.path == t->path && o->fd >= 0) r->alias = true;
    if (!r->alias) {
      auto fd = listen_unix(t->path);
      if (fd) r->fd = *fd;
      else status = fd.error();
    }
  } else if (t->kind == RemoteTarget::kPtcp) {
    auto fd = listen_tcp(t->host, t->port, &r->bound_port);
    if (fd) r->fd = *fd;
    else status = fd.error();
  }
  if (!status) {
    r->last_error = status.error().message;
    r->retry_at = now_ms() + 1000;
    log("listening on " + target + " failed (retrying): " + r->last_error);
  } else if (r->fd >= 0) {
    log("listening on " + (t->kind == RemoteTarget::kPtcp
                               ? "ptcp:" + std::to_string(r->bound_port) + ":" + (t->host.empty() ? "0.0.0.0" : t->host)
                               : target));
  }
  remotes_.push_back(std::move(r));
  return permanent ? status : Result<void>();
}

void OvsdbServer::stop_remote(Remote& r) {
  if (r.fd >= 0) {
    close(r.fd);
    if (r.t.kind == RemoteTarget::kPunix) unlink(r.t.path.c_str());
    r.fd = -1;
  }
  for (auto& s : sessions_)
    if (s->remote == &r) close_session(*s, "remote " + r.target + " removed");
}

void OvsdbServer::reconcile_managers() {
  managers_dirty_ = false;
  int ovs = db_->schema().table("Open_vSwitch"), mgr = db_->schema().table("Manager");
  const TableSchema& ovs_ts = db_->schema().tables[size_t(ovs)];
  const TableSchema& mgr_ts = db_->schema().tables[size_t(mgr)];
  int c_opts = ovs_ts.column("manager_options"), c_target = mgr_ts.column("target"),
      c_probe = mgr_ts.column("inactivity_probe");
  std::map<std::string, int64_t> want;  // target -> probe
  for (auto& [u, row] : db_->table(ovs).rows)
    for (auto& ref : row->cols[size_t(c_opts)].keys()) {
      const Row* m = db_->row(mgr, ref.uuid());
      if (!m) continue;
      const Datum& probe = m->cols[size_t(c_probe)];
      want[m->cols[size_t(c_target)].keys()[0].string()] = probe.empty() ? -1 : probe.keys()[0].integer();
    }
  for (auto& r : remotes_) {
    if (r->permanent) continue;
    auto it = want.find(r->target);
    r->wanted = it != want.end();
    if (r->wanted) {
      bool tcp = r->t.kind == RemoteTarget::kPtcp || r->t.kind == RemoteTarget::kTcp;
      r->probe_ms = it->second >= 0 ? it->second : (tcp ? kDefaultProbeMs : 0);
      for (auto& s : sessions_)
        if (s->remote == r.get()) s->probe_ms = r->probe_ms;
      want.erase(it);
    } else {
      stop_remote(*r);
    }
  }
  remotes_.erase(std::remove_if(remotes_.begin(), remotes_.end(),
                                [](auto& r) { return !r->permanent && !r->wanted; }),
                 remotes_.end());
  for (auto& [target, probe] : want)
    if (auto r = start_remote(target, false, probe); !r) log(r.error().message);
}

void OvsdbServer::update_manager_status() {
  status_dirty_ = false;
  int mgr = db_->schema().table("Manager");
  const TableSchema& ts = db_->schema().tables[size_t(mgr)];
  int c_target = ts.column("target"), c_conn = ts.column("is_connected"), c_status = ts.column("status");
  Json::Array ops;
  for (auto& [u, row] : db_->table(mgr).rows) {
    const std::string& target = row->cols[size_t(c_target)].keys()[0].string();
    const Remote* r = nullptr;
    for (auto& x : remotes_)
      if (!x->permanent && x->target == target) r = x.get();
    int sessions = 0;
    for (auto& sp : sessions_)
      if (!sp->dead && !sp->connecting && r && sp->remote == r) ++sessions;
    bool passive = r && (r->t.kind == RemoteTarget::kPunix || r->t.kind == RemoteTarget::kPtcp);
    Json::Array status;
    if (r) {
      if (r->t.kind == RemoteTarget::kPtcp && r->fd >= 0)
        status.push_back(Json::Array{"bound_port", std::to_string(r->bound_port)});
      if (!r->last_error.empty() && (r->fd < 0 && !r->alias) && !r->active)
        status.push_back(Json::Array{"last_error", r->last_error});
      if (passive) status.push_back(Json::Array{"sessions", std::to_string(sessions)});
      status.push_back(Json::Array{"state", sessions ? "ACTIVE" : passive ? "LISTEN" : r->active ? "CONNECTING" : "BACKOFF"});
    }
    Json::Object want{{"is_connected", sessions > 0}, {"status", Json::Array{"map", status}}};
    Datum conn(Atom(sessions > 0));
    Datum st;
    Datum::from_json(ts.columns[size_t(c_status)].type, want["status"], nullptr, &st);
    if (row->cols[size_t(c_conn)] == conn && row->cols[size_t(c_status)] == st) continue;
    ops.push_back(Json::Object{{"op", "update"},
                               {"table", "Manager"},
                               {"where", Json::Array{Json::Array{"_uuid", "==", Json::Array{"uuid", u.str()}}}},
                               {"row", std::move(want)}});
  }
  if (!ops.empty()) transact(ops);
}

void OvsdbServer::start_session(int fd, Remote* remote, bool tcp) {
  status_dirty_ = true;
  auto s = std::make_unique<Session>();
  s->fd = fd;
  s->remote = remote;
  s->tcp = tcp;
  s->probe_ms = remote ? remote->probe_ms : 0;
  s->last_rx_ms = now_ms();
  if (tcp) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  sessions_.push_back(std::move(s));
}

void OvsdbServer::accept_on(Remote& r) {
  for (int i = 0; i < 64; ++i) {
    int fd = accept4(r.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        log("accept on " + r.target + ": " + strerror(errno));
      return;
    }
    start_session(fd, &r, r.t.kind == RemoteTarget::kPtcp);
    if (options_.verbose) log(r.target + ": accepted a connection");
  }
}

void OvsdbServer::close_session(Session& s, const std::string& why) {
  if (s.dead) return;
  if (!why.empty()) log("connection dropped: " + why);
  else if (options_.verbose) log("connection closed by the peer");
  s.dead = true;
  status_dirty_ = true;
  release_locks(s);
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](auto& p) { return p->session == &s; }),
                 pending_.end());
  if (s.remote && s.remote->active == &s) {
    s.remote->active = nullptr;
    s.remote->retry_at = now_ms() + s.remote->backoff_ms;
    s.remote->backoff_ms = std::min<int64_t>(s.remote->backoff_ms * 2, 8000);
  }
  close(s.fd);
  s.fd = -1;
}

void OvsdbServer::send(Session& s, const Json& msg) {
  if (s.dead) return;
  s.out += msg.dump();
  if (s.out.size() - s.out_off > options_.max_backlog_bytes) {
    close_session(s, "backlog over " + std::to_string(options_.max_backlog_bytes) +
                         " bytes (the peer does not read)");
  }
}

void OvsdbServer::reply(Session& s, const Json& id, Json result) {
  send(s, Json::Object{{"id", id}, {"result", std::move(result)}, {"error", Json()}});
}

void OvsdbServer::reply_error(Session& s, const Json& id, Json error) {
  send(s, Json::Object{{"id", id}, {"error", std::move(error)}});
}

void OvsdbServer::flush_session(Session& s) {
  while (!s.dead && s.out_off < s.out.size()) {
    ssize_t n = ::send(s.fd, s.out.data() + s.out_off, s.out.size() - s.out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      close_session(s, std::string("send: ") + strerror(errno));
      return;
    }
    s.out_off += size_t(n);
  }
  if (s.out_off == s.out.size()) {
    s.out.clear();
    s.out_off = 0;
  } else if (s.out_off > (1u << 20)) {
    s.out.erase(0, s.out_off);
    s.out_off = 0;
  }
}

void OvsdbServer::feed_for_fuzzing(std::string_view bytes) {
  Session s;  // fd -1: nothing is written, close() of it is harmless
  auto texts = s.splitter.feed(bytes);
  if (!texts) return;
  for (auto& text : *texts) {
    if (s.dead) break;
    auto msg = Json::parse(text);
    if (!msg) break;
    handle(s, std::move(*msg));
  }
  release_locks(s);
  pending_.clear();
  run_pending();
}

void OvsdbServer::read_session(Session& s) {
  char buf[65536];
  for (int round = 0; round < 16 && !s.dead; ++round) {
    ssize_t n = recv(s.fd, buf, sizeof buf, 0);
    if (n == 0) {
      close_session(s, "");
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      close_session(s, std::string("recv: ") + strerror(errno));
      return;
    }
    s.last_rx_ms = now_ms();
    s.probe_sent = false;
    auto texts = s.splitter.feed(std::string_view(buf, size_t(n)));
    if (!texts) {
      close_session(s, "malformed JSON-RPC stream: " + texts.error().message);
      return;
    }
    if (size_t(n) < sizeof buf) round = 16;  // drained: no recv just to hear EAGAIN
    for (auto& text : *texts) {
      if (s.dead) return;
      if (text.size() > options_.max_message_bytes) {
        close_session(s, "message of " + std::to_string(text.size()) + " bytes is over the limit");
        return;
      }
      auto msg = Json::parse(text);
      if (!msg) {
        close_session(s, "malformed JSON: " + msg.error().message);
        return;
      }
      handle(s, std::move(*msg));
    }
    if (s.splitter.buffered() > options_.max_message_bytes) {
      close_session(s, "message over " + std::to_string(options_.max_message_bytes) + " bytes");
      return;
    }
  }
}

void OvsdbServer::handle(Session& s, Json msg) {
  if (!msg.is_object()) return close_session(s, "message is not a JSON object");
  for (auto& [k, _] : msg.as_object())
    if (k != "method" && k != "params" && k != "id" && k != "result" && k != "error")
      return close_session(s, "message has unexpected member \"" + k + "\"");
  const Json& id = msg["id"];
  if (!msg.has("method")) {
    // A reply (to our echo probe) or an error: nothing to do.
    if (msg["result"].is_null() && msg["error"].is_null())
      return close_session(s, "message has neither method nor result nor error");
    return;
  }
  if (!msg["method"].is_string() || !msg["params"].is_array())
    return close_session(s, "request needs a string \"method\" and an array \"params\"");
  const std::string& method = msg["method"].as_string();
  const Json& params = msg["params"];
  const Json::Array& p = params.as_array();
  if (id.is_null()) {  // notification
    if (method == "cancel" && !p.empty()) {
      for (auto it = pending_.begin(); it != pending_.end(); ++it)
        if ((*it)->session == &s && (*it)->id == p[0]) {
          reply_error(s, (*it)->id, "canceled");
          pending_.erase(it);
          break;
        }
    }
    return;
  }
  auto unknown_db = [&](const std::string& what) {
    std::string name = !p.empty() && p[0].is_string() ? p[0].as_string() : p.empty() ? "" : p[0].dump();
    reply_error(s, id, error_json("unknown database",
                                  what + " request specifies unknown database " + name, &params));
  };
  auto db_index = [&]() {
    if (p.empty() || !p[0].is_string()) return -1;
    if (p[0].as_string() == db_->schema().name) return kDb;
    if (p[0].as_string() == server_db_->schema().name) return kServerDb;
    return -1;
  };
  if (method == "echo") {
    reply(s, id, params);
  } else if (method == "list_dbs") {
    reply(s, id, Json::Array{db_->schema().name, server_db_->schema().name});
  } else if (method == "get_schema") {
    int d = db_index();
    if (d < 0) return unknown_db("get_schema");
    reply(s, id, (d == kDb ? db_ : server_db_)->schema().json);
  } else if (method == "transact") {
    if (db_index() < 0) return unknown_db("transact");
    bool blocked = false;
    int64_t started = now_ms();
    Json r = do_transact(&s, id, p, started, &blocked);
    if (blocked) return;
    reply(s, id, std::move(r));
  } else if (method == "cancel") {
    reply_error(s, id, "canceled");
  } else if (method == "monitor" || method == "monitor_cond" || method == "monitor_cond_since") {
    if (db_index() < 0) return unknown_db(method);
    bool ok = false;
    int version = method == "monitor" ? 1 : method == "monitor_cond" ? 2 : 3;
    Json r = do_monitor(s, version, params, &ok);
    if (ok) reply(s, id, std::move(r));
    else reply_error(s, id, std::move(r));
  } else if (method == "monitor_cancel") {
    auto it = p.size() == 1 ? s.monitors.find(p[0].dump()) : s.monitors.end();
    if (it == s.monitors.end()) return reply_error(s, id, "unknown monitor");
    s.monitors.erase(it);
    reply(s, id, Json::Object{});
  } else if (method == "monitor_cond_change") {
    bool ok = false;
    Json r = do_monitor(s, 0, params, &ok);  // version 0: change
    if (ok) reply(s, id, std::move(r));
    else reply_error(s, id, std::move(r));
  } else if (method == "lock" || method == "steal" || method == "unlock") {
    bool ok = false;
    Json r = lock_op(s, method, params, &ok);
    if (ok) reply(s, id, std::move(r));
    else reply_error(s, id, std::move(r));
  } else if (method == "set_db_change_aware") {
    if (p.size() != 1 || !p[0].is_bool())
      return reply_error(s, id, error_json("syntax error",
                                           "set_db_change_aware: true or false parameter expected",
                                           &params));
    reply(s, id, Json::Object{});
  } else if (method == "get_server_id") {
    reply(s, id, server_id_.str());
  } else {
    reply_error(s, id, "unknown method");
  }
  // Commits this request made: the owner's after-commit work (cur_cfg...)
  // comes after the reply.
  report_commits();
}

void OvsdbServer::report_commits() {
  if (reporting_) return;  // a commit of the hook's own: the loop below takes it
  reporting_ = true;
  while (!commits_to_report_.empty()) {
    auto [d, c] = commits_to_report_.front();
    commits_to_report_.erase(commits_to_report_.begin());
    if (d == kDb && after_commit_) after_commit_(*c);
  }
  reporting_ = false;
}

Json OvsdbServer::do_transact(Session* s, const Json& id, const Json::Array& params,
                              int64_t started_ms, bool* blocked) {
  int d = params[0].as_string() == db_->schema().name ? kDb : kServerDb;
  Database::Context ctx;
  ctx.now_ms = now_ms();
  ctx.started_ms = started_ms;
  ctx.holds_lock = [this, s](const std::string& name) { return holds_lock(s, name); };
  ctx.reserved = d == kServerDb;
  auto out = (d == kDb ? db_ : server_db_)->transact(params, 1, ctx);
  if (out.blocked && s) {
    *blocked = true;
    pending_.push_back(std::make_unique<Pending>(
        Pending{s, id, Json(params), started_ms, out.deadline_ms}));
    return Json();
  }
  return std::move(out.result);
}

Json OvsdbServer::transact(const Json::Array& ops) {
  Json::Array params{db_->schema().name};
  params.insert(params.end(), ops.begin(), ops.end());
  bool blocked = false;
  Json r = do_transact(nullptr, Json(), params, now_ms(), &blocked);
  report_commits();
  return r;
}

void OvsdbServer::run_pending() {
  if (pending_.empty()) return;
  auto list = std::move(pending_);
  pending_.clear();
  for (auto& p : list) {
    if (p->session->dead) continue;
    bool blocked = false;
    Json r = do_transact(p->session, p->id, p->params.as_array(), p->started_ms, &blocked);
    if (!blocked) reply(*p->session, p->id, std::move(r));
  }
  // A "wait" that passed now committed outside any request: without this
  // its after-commit work (cur_cfg) would wait for some other request.
  report_commits();
}

Json OvsdbServer::do_monitor(Session& s, int version, const Json& params, bool* ok) {
  const Json::Array& p = params.as_array();
  if (version == 0) {  // monitor_cond_change [old-id, new-id, {table: [req]}]
    if (p.size() != 3 || !p[2].is_object())
      return error_json("syntax error", "monitor_cond_change: 3 parameters expected", &params);
    auto it = s.monitors.find(p[0].dump());
    if (it == s.monitors.end()) return error_json("unknown monitor", "", nullptr);
    Monitor& m = *it->second;
    Database& d = m.db == kDb ? *db_ : *server_db_;
    if (!(p[1] == p[0]) && s.monitors.count(p[1].dump()))
      return error_json("syntax error", "duplicate monitor ID", &p[1]);
    Json::Object updates;
    for (auto& [tname, reqs] : p[2].as_object()) {
      int t = d.schema().table(tname);
      auto tr = std::find_if(m.tables.begin(), m.tables.end(), [&](auto& x) { return x.table == t; });
      if (t < 0 || tr == m.tables.end())
        return error_json("syntax error", "no table named " + tname + " in the monitor", nullptr);
      const TableSchema& ts = d.schema().tables[size_t(t)];
      std::vector<std::vector<Clause>> wheres;
      for (const Json& rq : reqs.is_array() ? reqs.as_array() : Json::Array{reqs}) {
        if (!rq.has("where")) continue;
        std::vector<Clause> w;
        if (auto e = parse_where(ts, rq["where"], nullptr, true, &w)) return e->to_json();
        wheres.push_back(std::move(w));
      }
      Monitor::TableReq next = *tr;
      next.wheres = std::move(wheres);
      Json::Object rows;
      for (auto& [u, r] : d.table(t).rows) {
        bool was = tr->matches(ts, *r), is = next.matches(ts, *r);
        if (was && !is) rows[u.str()] = Json::Object{{"delete", Json()}};
        if (!was && is) {
          Json::Object cols;
          for (int c : next.columns)
            if (!r->cols[size_t(c)].is_default(ts.columns[size_t(c)].type))
              cols[ts.columns[size_t(c)].name] = r->cols[size_t(c)].to_json(ts.columns[size_t(c)].type);
          rows[u.str()] = Json::Object{{"insert", std::move(cols)}};
        }
      }
      *tr = std::move(next);
      if (!rows.empty()) updates[tname] = std::move(rows);
    }
    auto mon = std::move(it->second);
    s.monitors.erase(it);
    mon->id = p[1];
    Monitor& nm = *mon;
    s.monitors[p[1].dump()] = std::move(mon);
    if (!updates.empty()) {
      if (nm.version == 3)
        send(s, Json::Object{{"id", Json()}, {"method", "update3"},
                             {"params", Json::Array{nm.id, kZeroUuid, std::move(updates)}}});
      else
        send(s, Json::Object{{"id", Json()}, {"method", "update2"},
                             {"params", Json::Array{nm.id, std::move(updates)}}});
    }
    *ok = true;
    return Json::Object{};
  }

  if (p.size() < 3 || (version == 3 && p.size() < 4) || !p[2].is_object())
    return error_json("syntax error", "monitor: database, monitor id and requests expected", &params);
  if (s.monitors.count(p[1].dump())) return error_json("syntax error", "duplicate monitor ID", &p[1]);
  auto m = std::make_unique<Monitor>();
  m->version = version;
  m->id = p[1];
  m->db = p[0].as_string() == db_->schema().name ? kDb : kServerDb;
  Database& d = m->db == kDb ? *db_ : *server_db_;
  for (auto& [tname, reqs] : p[2].as_object()) {
    int t = d.schema().table(tname);
    if (t < 0) return error_json("syntax error", "no table named " + tname, nullptr);
    const TableSchema& ts = d.schema().tables[size_t(t)];
    Monitor::TableReq tr;
    tr.table = t;
    tr.initial = tr.insert = tr.del = tr.modify = false;
    bool any_unconditional = false;
    std::vector<bool> have(ts.columns.size(), false);
    for (const Json& rq : reqs.is_array() ? reqs.as_array() : Json::Array{reqs}) {
      if (!rq.is_object()) return error_json("syntax error", "monitor request must be an object", &rq);
      if (rq.has("columns")) {
        if (!rq["columns"].is_array())
          return error_json("syntax error", "array of column names expected", &rq["columns"]);
        for (const Json& cn : rq["columns"].as_array()) {
          int c = cn.is_string() ? ts.column(cn.as_string()) : -1;
          if (c < 0)
            return error_json("syntax error",
                              (cn.is_string() ? cn.as_string() : cn.dump()) + " is not a valid column name",
                              &rq["columns"]);
          if (!have[size_t(c)]) have[size_t(c)] = true, tr.columns.push_back(c);
        }
      } else {
        for (size_t c = 2; c < ts.columns.size(); ++c)
          if (!have[c]) have[c] = true, tr.columns.push_back(int(c));
      }
      const Json& sel = rq["select"];
      auto flag = [&](const char* k) { return !sel.is_object() || !sel[k].is_bool() || sel[k].as_bool(); };
      tr.initial |= flag("initial");
      tr.insert |= flag("insert");
      tr.del |= flag("delete");
      tr.modify |= flag("modify");
      if (version >= 2 && rq.has("where")) {
        std::vector<Clause> w;
        if (auto e = parse_where(ts, rq["where"], nullptr, true, &w)) return e->to_json();
        tr.wheres.push_back(std::move(w));
      } else {
        any_unconditional = true;
      }
    }
    if (any_unconditional) tr.wheres.clear();
    m->tables.push_back(std::move(tr));
  }
  Json::Object initial;
  for (auto& tr : m->tables) {
    if (!tr.initial) continue;
    const TableSchema& ts = d.schema().tables[size_t(tr.table)];
    Json::Object rows;
    for (auto& [u, r] : d.table(tr.table).rows) {
      if (!tr.matches(ts, *r)) continue;
      Json::Object cols;
      for (int c : tr.columns) {
        const ColumnSchema& col = ts.columns[size_t(c)];
        if (version == 1 || !r->cols[size_t(c)].is_default(col.type))
          cols[col.name] = r->cols[size_t(c)].to_json(col.type);
      }
      rows[u.str()] = Json::Object{{version == 1 ? "new" : "initial", std::move(cols)}};
    }
    if (!rows.empty()) initial[ts.name] = std::move(rows);
  }
  s.monitors[p[1].dump()] = std::move(m);
  *ok = true;
  if (version == 3) return Json::Array{false, kZeroUuid, std::move(initial)};
  return initial;
}

void OvsdbServer::on_commit(int d, const Commit& c) {
  Database& db = d == kDb ? *db_ : *server_db_;
  if (d == kDb) {
    // The disk first: a commit is acknowledged only once it is written.
    Json rec = db.log_record(c, wall_ms());
    if (!rec.is_null()) {
      std::string text = rec.dump();
      if (auto r = disk_->append_text(text); !r) log("writing " + options_.db_path + ": " + r.error().message);
      if (c.durable || options_.fsync_each_commit)
        if (auto r = disk_->sync(); !r) log("syncing " + options_.db_path + ": " + r.error().message);
      if (compaction_) compaction_->tail.push_back(std::move(text));
      // OVS's rule: over 10 MiB and twice the size of the last compaction.
      if (!compaction_ && disk_->size() > options_.compact_min_bytes && disk_->size() > 2 * compacted_size_)
        start_compaction();
    }
    int ovs = db.schema().table("Open_vSwitch"), mgr = db.schema().table("Manager");
    for (auto& ch : c.changes)
      if (ch.table == ovs || ch.table == mgr) managers_dirty_ = true;
  }
  for (auto& sp : sessions_) {
    Session& s = *sp;
    if (s.dead) continue;
    for (auto& [key, mp] : s.monitors) {
      Monitor& m = *mp;
      if (m.db != d) continue;
      Json::Object updates;
      for (auto& ch : c.changes) {
        for (auto& tr : m.tables) {
          if (tr.table != ch.table) continue;
          const TableSchema& ts = db.schema().tables[size_t(ch.table)];
          const Row* o = ch.old_row.get();
          const Row* n = ch.new_row.get();
          Json row_update;
          if (m.version == 1) {
            auto all = [&](const Row& r) {
              Json::Object cols;
              for (int col : tr.columns) cols[ts.columns[size_t(col)].name] = r.cols[size_t(col)].to_json(ts.columns[size_t(col)].type);
              return cols;
            };
            if (!o && tr.insert) {
              row_update = Json::Object{{"new", all(*n)}};
            } else if (!n && tr.del) {
              row_update = Json::Object{{"old", all(*o)}};
            } else if (o && n && tr.modify) {
              Json::Object old_cols;
              for (int col : tr.columns)
                if (o->cols[size_t(col)] != n->cols[size_t(col)])
                  old_cols[ts.columns[size_t(col)].name] = o->cols[size_t(col)].to_json(ts.columns[size_t(col)].type);
              if (!old_cols.empty()) row_update = Json::Object{{"new", all(*n)}, {"old", std::move(old_cols)}};
            }
          } else {
            bool om = o && tr.matches(ts, *o), nm = n && tr.matches(ts, *n);
            if (om && nm) {
              if (!tr.modify) continue;
              Json::Object cols;
              for (int col : tr.columns) {
                const ColumnSchema& cs = ts.columns[size_t(col)];
                const Datum &a = o->cols[size_t(col)], &b = n->cols[size_t(col)];
                if (a == b) continue;
                cols[cs.name] = cs.type.is_composite()
                                    ? Datum::diff(a, b, cs.type.is_map()).to_json(cs.type)
                                    : b.to_json(cs.type);
              }
              if (!cols.empty()) row_update = Json::Object{{"modify", std::move(cols)}};
            } else if (nm && tr.insert) {
              Json::Object cols;
              for (int col : tr.columns) {
                const ColumnSchema& cs = ts.columns[size_t(col)];
                if (!n->cols[size_t(col)].is_default(cs.type)) cols[cs.name] = n->cols[size_t(col)].to_json(cs.type);
              }
              row_update = Json::Object{{"insert", std::move(cols)}};
            } else if (om && tr.del) {
              row_update = Json::Object{{"delete", Json()}};
            }
          }
          if (row_update.is_null()) continue;
          Json& table = updates[ts.name];
          if (table.is_null()) table = Json::Object{};
          const Uuid& u = n ? n->uuid() : o->uuid();
          table.as_object()[u.str()] = std::move(row_update);
        }
      }
      if (updates.empty()) continue;
      if (m.version == 1)
        send(s, Json::Object{{"id", Json()}, {"method", "update"}, {"params", Json::Array{m.id, std::move(updates)}}});
      else if (m.version == 2)
        send(s, Json::Object{{"id", Json()}, {"method", "update2"}, {"params", Json::Array{m.id, std::move(updates)}}});
      else
        send(s, Json::Object{{"id", Json()}, {"method", "update3"},
                             {"params", Json::Array{m.id, kZeroUuid, std::move(updates)}}});
    }
  }
  // A copy (row pointers, cheap): `c` belongs to the transaction, which is
  // gone by the time report_commits() hands it to after_commit_.
  commits_to_report_.emplace_back(d, std::make_shared<const Commit>(c));
}

void OvsdbServer::start_compaction() {
  auto c = std::make_unique<Compaction>();
  Compaction* cp = c.get();
  c->thread = std::thread([cp, rows = db_->all_rows(), schema = db_->schema_ptr(), disk = disk_.get(),
                           now = wall_ms()] {
    std::vector<std::string> texts{schema->text,
                                   Database::snapshot_of(*schema, rows, now, "compacted by trestled").dump()};
    cp->result = disk->prepare_replacement(texts);
    // Release: the result written above is visible to the control thread
    // once it sees done (acquire in finish_compaction).
    cp->done.store(true, std::memory_order_release);
  });
  compaction_ = std::move(c);
}

void OvsdbServer::finish_compaction(bool wait) {
  if (!compaction_) return;
  // Acquire: pairs with the thread's release store, so result is complete.
  if (!wait && !compaction_->done.load(std::memory_order_acquire)) return;
  compaction_->thread.join();
  auto r = disk_->finish_replacement(std::move(compaction_->result), compaction_->tail);
  if (r) {
    compacted_size_ = disk_->size();
    malloc_trim(0);
    log("compacted " + options_.db_path + " to " + std::to_string(compacted_size_) + " bytes");
  } else {
    log(r.error().message);
    compacted_size_ = disk_->size();  // try again only once it doubles
  }
  compaction_.reset();
}

Result<void> OvsdbServer::compact() {
  finish_compaction(true);
  std::vector<Json> records{db_->schema().json, db_->snapshot_record(wall_ms(), "compacted by trestled")};
  auto r = disk_->replace(records);
  if (r) compacted_size_ = disk_->size();
  return r;
}

bool OvsdbServer::holds_lock(const Session* s, const std::string& name) const {
  auto it = locks_.find(name);
  return s && it != locks_.end() && !it->second.empty() && it->second[0] == s;
}

Json OvsdbServer::lock_op(Session& s, const std::string& method, const Json& params, bool* ok) {
  const Json::Array& p = params.as_array();
  if (p.size() != 1 || !p[0].is_string())
    return error_json("syntax error", method + ": lock name expected", &params);
  const std::string& name = p[0].as_string();
  auto& q = locks_[name];
  if (method == "unlock") {
    if (!s.locks.count(name))
      return error_json("syntax error", "unlock: \"unlock\" without \"lock\" or \"steal\"", &params);
    bool was_owner = !q.empty() && q[0] == &s;
    q.erase(std::remove(q.begin(), q.end(), &s), q.end());
    s.locks.erase(name);
    if (was_owner && !q.empty())
      send(*q[0], Json::Object{{"id", Json()}, {"method", "locked"}, {"params", Json::Array{name}}});
    if (q.empty()) locks_.erase(name);
    *ok = true;
    return Json::Object{};
  }
  if (s.locks.count(name))
    return error_json("syntax error", "must issue \"unlock\" before new \"" + method + "\"", &params);
  s.locks.insert(name);
  if (method == "steal") {
    if (!q.empty()) {
      Session* victim = q[0];
      send(*victim, Json::Object{{"id", Json()}, {"method", "stolen"}, {"params", Json::Array{name}}});
      // The victim stays in line (OVS alike: it waits to get it back).
    }
    q.insert(q.begin(), &s);
    *ok = true;
    return Json::Object{{"locked", true}};
  }
  q.push_back(&s);
  *ok = true;
  return Json::Object{{"locked", q[0] == &s}};
}

void OvsdbServer::release_locks(Session& s) {
  for (auto& name : s.locks) {
    auto it = locks_.find(name);
    if (it == locks_.end()) continue;
    auto& q = it->second;
    bool was_owner = !q.empty() && q[0] == &s;
    q.erase(std::remove(q.begin(), q.end(), &s), q.end());
    if (was_owner && !q.empty() && !q[0]->dead)
      send(*q[0], Json::Object{{"id", Json()}, {"method", "locked"}, {"params", Json::Array{name}}});
    if (q.empty()) locks_.erase(it);
  }
  s.locks.clear();
}

void OvsdbServer::tick(int64_t now) {
  for (auto& sp : sessions_) {
    Session& s = *sp;
    if (s.dead || s.probe_ms <= 0 || s.connecting) continue;
    int64_t idle = now - s.last_rx_ms;
    if (idle >= 2 * s.probe_ms && s.probe_sent) {
      close_session(s, "no response to inactivity probe after " + std::to_string(s.probe_ms / 1000.0).substr(0, 4) + " seconds");
    } else if (idle >= s.probe_ms && !s.probe_sent) {
      send(s, Json::Object{{"id", "echo"}, {"method", "echo"}, {"params", Json::Array{}}});
      s.probe_sent = true;
    }
  }
  for (auto& r : remotes_) {
    if (r->retry_at == 0 || now < r->retry_at) continue;
    r->retry_at = 0;
    if (r->t.kind == RemoteTarget::kPunix || r->t.kind == RemoteTarget::kPtcp) {
      if (r->fd >= 0 || r->alias) continue;
      auto fd = r->t.kind == RemoteTarget::kPunix ? listen_unix(r->t.path)
                                                  : listen_tcp(r->t.host, r->t.port, &r->bound_port);
      if (fd) {
        r->fd = *fd;
        log("listening on " + r->target);
      } else {
        r->retry_at = now + 1000;
      }
    }
  }
  for (auto& r : remotes_) {
    bool active = r->t.kind == RemoteTarget::kTcp || r->t.kind == RemoteTarget::kUnix;
    if (!active || r->active || (r->retry_at && now < r->retry_at)) continue;
    auto fd = connect_to(r->t);
    if (!fd) {
      r->last_error = fd.error().message;
      r->retry_at = now + r->backoff_ms;
      r->backoff_ms = std::min<int64_t>(r->backoff_ms * 2, 8000);
      continue;
    }
    start_session(*fd, r.get(), r->t.kind == RemoteTarget::kTcp);
    sessions_.back()->connecting = true;
    r->active = sessions_.back().get();
  }
  bool deadline_passed = false;
  for (auto& p : pending_)
    if (p->deadline_ms >= 0 && now >= p->deadline_ms) deadline_passed = true;
  if (deadline_passed) run_pending();
}

void OvsdbServer::run(int timeout_ms, const std::vector<int>& wake_fds, std::vector<int>* ready) {
  if (ready) ready->clear();
  if (managers_dirty_) reconcile_managers();
  int64_t now = now_ms();
  int64_t next = now + timeout_ms;
  for (auto& s : sessions_)
    if (s->probe_ms > 0) next = std::min(next, s->last_rx_ms + s->probe_ms * (s->probe_sent ? 2 : 1));
  for (auto& r : remotes_)
    if (r->retry_at) next = std::min(next, r->retry_at);
  for (auto& p : pending_)
    if (p->deadline_ms >= 0) next = std::min(next, p->deadline_ms);
  if (status_dirty_) next = std::min(next, status_at_ + 1000);
  if (compaction_) next = std::min(next, now + 20);
  std::vector<pollfd> fds;
  std::vector<std::pair<char, void*>> who;  // 'r' remote, 's' session, 'w' wake
  for (auto& r : remotes_)
    if (r->fd >= 0) fds.push_back({r->fd, POLLIN, 0}), who.emplace_back('r', r.get());
  for (auto& s : sessions_) {
    short ev = POLLIN;
    if (s->connecting || s->out_off < s->out.size()) ev |= POLLOUT;
    fds.push_back({s->fd, ev, 0});
    who.emplace_back('s', s.get());
  }
  for (int fd : wake_fds) fds.push_back({fd, POLLIN, 0}), who.emplace_back('w', nullptr);
  int wait = int(std::max<int64_t>(0, next - now));
  int n = ::poll(fds.data(), fds.size(), wait);
  if (n > 0) {
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      if (who[i].first == 'w') {
        if (ready) ready->push_back(fds[i].fd);
      } else if (who[i].first == 'r') {
        accept_on(*static_cast<Remote*>(who[i].second));
      } else if (who[i].first == 's') {
        Session& s = *static_cast<Session*>(who[i].second);
        if (s.dead) continue;
        if (s.connecting && (fds[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err) {
            close_session(s, s.remote->target + ": " + strerror(err));
            continue;
          }
          s.connecting = false;
          s.remote->backoff_ms = 1000;
          log("connected to " + s.remote->target);
        }
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) read_session(s);
      }
    }
  }
  // Transactions waiting on a "wait" may pass now.
  run_pending();
  finish_compaction(false);
  tick(now_ms());
  for (auto& s : sessions_) flush_session(*s);
  sessions_.erase(std::remove_if(sessions_.begin(), sessions_.end(), [](auto& s) { return s->dead; }),
                  sessions_.end());
  if (managers_dirty_) {
    reconcile_managers();
    status_dirty_ = true;
  }
  // At most once a second, and only when something changed: each update
  // is a commit every monitor of Manager sees.
  if (status_dirty_ && now_ms() - status_at_ >= 1000) {
    status_at_ = now_ms();
    update_manager_status();
    for (auto& s : sessions_) flush_session(*s);
  }
}

}  // namespace trestle::ctl
