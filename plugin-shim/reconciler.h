#pragma once
// Reconciler: the ovs-vswitchd side of the Open_vSwitch database. After
// every commit that touches Open_vSwitch, Bridge, Port or Interface rows it
// brings the dataplane to what the rows say (bridges and their settings,
// ports of every type with their options, VLAN tag/trunks/vlan_mode, MTU,
// ofport_request), then writes back, in one transaction, what
// ovs-vswitchd writes (compat-ovsdb.md §6, §8.2): Interface.ofport (or -1
// and Interface.error when the port cannot be created), ifindex, mtu,
// link_state, admin_state, status; Bridge.datapath_id;
// Open_vSwitch.cur_cfg = next_cfg (what ovs-vsctl and ovsdbapp wait for),
// dpdk_initialized, dpdk_version. Statistics and link states are refreshed
// every other_config:stats-update-interval (default 5 s).
//
// Only values that differ are written, so the write-back's own commit finds
// nothing to do. A port whose row changed in a way the dataplane cannot take
// keeps working as it was and reports the error.
//
// Thread-safety: the control thread calls everything.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "ctl/ovsdb/server.h"
#include "dataplane/dataplane.h"

namespace trestle::shim {

class Reconciler {
 public:
  struct Options {
    std::function<void(const std::string&)> log;
  };
  Reconciler(ctl::OvsdbServer& server, dataplane::Dataplane& dp, Options o);

  // Whether a commit concerns the switch (reconcile() after it). The
  // switch's own status writes carry kStatusComment and never do: the
  // owner may hear of a commit after the write that made it returned.
  static constexpr const char* kStatusComment = "trestled: status";
  bool relevant(const ctl::Commit& c) const;
  void reconcile();
  // Statistics, link states; call often: it acts every stats interval.
  void refresh(int64_t now_ms);

  // The datapath id a bridge reports (16 hex digits), for OpenFlow too.
  std::string datapath_id(const std::string& bridge) const;

 private:
  struct Applied {
    std::string bridge;
    dataplane::PortSpec spec;
  };
  void write_back(bool with_stats);

  ctl::OvsdbServer& server_;
  dataplane::Dataplane& dp_;
  Options o_;
  std::map<std::string, dataplane::BridgeSettings> bridges_;
  std::map<std::string, std::string> dpids_;    // bridge -> datapath id
  std::map<std::string, Applied> ports_;         // by port (= interface) name
  std::map<std::string, std::string> errors_;    // interface -> why it has no port
  // A refused port is tried again only when its row changes (a device that
  // cannot attach costs the control thread each time).
  std::map<std::string, Applied> refused_;
  int64_t next_stats_ms_ = 0;
  std::string pmd_mask_ = "\x01unset";  // other_config:pmd-cpu-mask as last handled
  void apply_pmd_mask(const std::string& mask);
};

}  // namespace trestle::shim
