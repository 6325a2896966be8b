#pragma once
// OvsdbServer: the Open_vSwitch database served over RFC 7047 JSON-RPC the
// way ovsdb-server 3.1 serves it to the stock clients (ovs-vsctl,
// ovsdb-client, the python IDL under ovsdbapp/neutron/os-vif, libvirt's
// ovs-vsctl calls); what they send and expect is in
// ../shared/compat/compat-ovsdb.md.
//
// - Remotes: passive punix:PATH and ptcp:PORT[:IP], active unix:PATH and
//   tcp:IP:PORT (reconnecting with backoff); the --remote ones plus one per
//   Manager row referenced by Open_vSwitch.manager_options, started and
//   stopped as commits change them. Inactivity probes (echo) both ways on
//   TCP; Manager.inactivity_probe sets the interval.
// - Methods: list_dbs, get_schema, transact, cancel, monitor (update),
//   monitor_cond (update2), monitor_cond_since (update3, never resumes:
//   "found" is false), monitor_cond_change, monitor_cancel, lock, steal,
//   unlock (locked / stolen notifications), echo, set_db_change_aware,
//   get_server_id; the _Server database (read-only) as OVS serves it.
// - Every commit reaches every session's monitors (the writer's too)
//   before the reply to the transaction that made it, and the on-disk log
//   before either (write(2) per commit: it survives the process being
//   killed; fdatasync with --fsync or a durable "commit" op).
// - Bad input: malformed JSON or a message of the wrong shape closes that
//   connection (as OVS does) with a log line; an oversized message or a
//   peer that reads nothing while its backlog grows is disconnected; the
//   others are served throughout.
//
// Thread-safety: one thread (the control thread) calls everything; the
// server never blocks it (non-blocking sockets, poll).

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "ctl/json.h"
#include "ctl/ovsdb/database.h"
#include "ctl/ovsdb/log.h"

namespace trestle::ctl {

class OvsdbServer {
 public:
  struct Options {
    std::string db_path;              // conf.db; created when absent
    bool fsync_each_commit = false;   // fdatasync after every commit
    uint64_t max_message_bytes = 64ull << 20;
    uint64_t max_backlog_bytes = 64ull << 20;
    uint64_t compact_min_bytes = 10ull << 20;  // OVS's threshold
    std::function<void(const std::string&)> log;  // log lines (never null after open)
    bool verbose = false;  // also log every connection opened and closed
  };
  static Result<std::unique_ptr<OvsdbServer>> open(Options options);
  ~OvsdbServer();

  // A remote that stays for the server's life (--remote, db.sock).
  Result<void> add_remote(const std::string& target);

  // Serves whatever is ready; waits up to timeout_ms. Also returns early
  // when one of `wake_fds` becomes readable (the caller's other sockets).
  // `ready` (optional) gets the wake_fds found readable.
  void run(int timeout_ms, const std::vector<int>& wake_fds = {}, std::vector<int>* ready = nullptr);

  Database& db() { return *db_; }
  // A transaction of the server's owner (trestled's own writes): the ops,
  // without the database name. Monitors and the log see it like any other.
  Json transact(const Json::Array& ops);
  // Called after each commit of the Open_vSwitch database, once the reply
  // to the transaction that made it is queued.
  void set_after_commit(std::function<void(const Commit&)> f) { after_commit_ = std::move(f); }

  // fdatasync of the database file (at shutdown).
  Result<void> sync() { return disk_->sync(); }
  // Writes the database to disk now (compaction into one record).
  Result<void> compact();

  size_t n_sessions() const { return sessions_.size(); }
  // The fuzz target's entry: `bytes` as if a fresh unix-socket peer had
  // sent them; what the server answers is discarded.
  void feed_for_fuzzing(std::string_view bytes);
  std::vector<std::string> listening() const;  // bound remotes, for logs and tests

 private:
  struct Session;
  struct Monitor;
  struct Remote;
  struct Pending;
  struct Compaction;
  OvsdbServer() = default;
  void start_compaction();
  void finish_compaction(bool wait);

  void accept_on(Remote& r);
  void start_session(int fd, Remote* remote, bool tcp);
  void read_session(Session& s);
  void flush_session(Session& s);
  void close_session(Session& s, const std::string& why);
  void handle(Session& s, Json msg);
  void send(Session& s, const Json& msg);
  void reply(Session& s, const Json& id, Json result);
  void reply_error(Session& s, const Json& id, Json error);

  Json do_transact(Session* s, const Json& id, const Json::Array& params, int64_t started_ms,
                   bool* blocked);
  void run_pending();
  // Hands the commits made since the last call to after_commit_, oldest
  // first, including those the hook itself makes (trestled's cur_cfg).
  void report_commits();
  Json do_monitor(Session& s, int version, const Json& params, bool* ok);
  void on_commit(int db, const Commit& c);
  Json lock_op(Session& s, const std::string& method, const Json& params, bool* ok);
  void release_locks(Session& s);
  bool holds_lock(const Session* s, const std::string& name) const;

  void reconcile_managers();
  Result<void> start_remote(const std::string& target, bool permanent, int64_t probe_ms);
  void stop_remote(Remote& r);
  void tick(int64_t now);
  // Manager.is_connected and Manager.status, as ovsdb-server keeps them.
  void update_manager_status();
  void log(const std::string& line) { options_.log(line); }

  Options options_;
  std::unique_ptr<OvsdbLog> disk_;
  std::unique_ptr<Compaction> compaction_;  // in flight on its own thread
  uint64_t compacted_size_ = 0;
  std::unique_ptr<Database> db_, server_db_;  // Open_vSwitch, _Server
  Uuid server_id_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<std::unique_ptr<Remote>> remotes_;
  std::vector<std::unique_ptr<Pending>> pending_;
  std::map<std::string, std::vector<Session*>> locks_;  // [0] owns it
  std::function<void(const Commit&)> after_commit_;
  bool managers_dirty_ = true;
  bool status_dirty_ = true;
  int64_t status_at_ = 0;
  std::vector<std::pair<int, std::shared_ptr<const Commit>>> commits_to_report_;
  bool reporting_ = false;  // report_commits() is running
};

// Parses punix:/ptcp:/unix:/tcp: targets.
struct RemoteTarget {
  enum Kind { kPunix, kPtcp, kUnix, kTcp } kind;
  std::string path, host;
  int port = 0;
  static Result<RemoteTarget> parse(const std::string& target);
};

}  // namespace trestle::ctl
