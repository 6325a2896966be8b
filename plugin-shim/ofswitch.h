#pragma once
// OfSwitch: the OpenFlow side of every bridge, as ovs-vswitchd serves it
// (compat-openflow.md): a listener punix:<rundir>/<bridge>.mgmt for
// ovs-ofctl, and an active connection to each Bridge.controller target
// (tcp:IP:PORT, unix:PATH) with backoff, inactivity probes
// (Controller.inactivity_probe) and Controller.is_connected/role/status
// written back. HELLO negotiates OpenFlow 1.0, 1.3 or 1.4 within
// Bridge.protocols (the mgmt socket allows all three). Messages are decoded
// by plugin-shim/openflow/ and applied to the dataplane's flow tables in
// order, so a BARRIER reply follows everything before it; stats come from
// the dataplane's counters; port numbers are Interface.ofport. fail_mode
// secure removes a new bridge's default NORMAL rule; standalone keeps it,
// and fails open (NORMAL switching, flows unused) when its controllers have
// been gone for three inactivity probes.
//
// Thread-safety: the control thread calls everything; sockets are
// non-blocking and never block it.

#include <poll.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ctl/ovsdb/server.h"
#include "dataplane/dataplane.h"
#include "plugin-shim/openflow/ofp.h"
#include "plugin-shim/reconciler.h"

namespace trestle::shim {

class OfSwitch {
 public:
  struct Options {
    std::string rundir;
    std::function<void(const std::string&)> log;
  };
  OfSwitch(ctl::OvsdbServer& db, dataplane::Dataplane& dp, Reconciler& rec, Options o);
  ~OfSwitch();

  // Follows the database: bridges (listeners), controllers, protocols,
  // fail modes, ports (PORT_STATUS). Call after each reconcile.
  void reconfigure();
  // The sockets to wait on (for the caller's poll), and the work once one
  // is ready or time passed: accepts, reads, answers, packet-ins, probes,
  // reconnects.
  std::vector<int> fds() const;
  // `ready`: the fds() the caller's poll found readable, so no poll of its
  // own is needed (null: poll them here).
  void run(const std::vector<int>* ready = nullptr);
  // How long the caller may sleep before run() has timed work to do.
  int timeout_ms() const;

  size_t n_connections() const { return conns_.size(); }

 private:
  struct Conn;
  struct Bridge;
  struct Controller;
  void accept_on(Bridge& b);
  void start_conn(Bridge& b, int fd, Controller* ctl);
  void read_conn(Conn& c);
  void handle(Conn& c, ofp::ByteView msg);
  void dispatch(Conn& c, const ofp::Decoded& d, ofp::ByteView msg);
  void send(Conn& c, const ofp::Bytes& m);
  void send_error(Conn& c, uint32_t xid, const flowtable::OfError& e, ofp::ByteView msg);
  void close_conn(Conn& c, const std::string& why);
  std::vector<ofp::PortDesc> port_descs(const Bridge& b) const;
  uint64_t dpid(const Bridge& b) const;
  void send_port_status();
  void write_controller_status();
  void update_fail_open(Bridge& b, int64_t now);

  ctl::OvsdbServer& db_;
  dataplane::Dataplane& dp_;
  Reconciler& rec_;
  Options o_;
  std::map<std::string, std::unique_ptr<Bridge>> bridges_;
  std::vector<std::unique_ptr<Conn>> conns_;
  bool status_dirty_ = false;
};

}  // namespace trestle::shim
