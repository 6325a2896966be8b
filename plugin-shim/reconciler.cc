#include "plugin-shim/reconciler.h"

#include "dataplane/eal.h"
#include "plugin-shim/rows.h"

#include <net/if.h>
#include <rte_version.h>

#include <cinttypes>
#include <cstdio>
#include <set>

namespace trestle::shim {
namespace {

using ctl::Atom;
using ctl::Datum;
using ctl::Json;
using ctl::Row;
using ctl::TableSchema;
using ctl::Uuid;

Json uuid_where(const Uuid& u) {
  return Json::Array{Json::Array{"_uuid", "==", Json::Array{"uuid", u.str()}}};
}

std::string mac_text(uint64_t mac) {
  char b[18];
  snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(mac >> 40 & 0xff),
           unsigned(mac >> 32 & 0xff), unsigned(mac >> 24 & 0xff), unsigned(mac >> 16 & 0xff),
           unsigned(mac >> 8 & 0xff), unsigned(mac & 0xff));
  return b;
}

Json smap_json(const std::map<std::string, std::string>& m) {
  // (Built by push_back: GCC 12 misreads nested initializer lists here as
  // out-of-bounds accesses.)
  Json::Array pairs;
  for (auto& [k, v] : m) {
    Json::Array pair;
    pair.push_back(Json(k));
    pair.push_back(Json(v));
    pairs.push_back(Json(std::move(pair)));
  }
  Json::Array out;
  out.push_back(Json("map"));
  out.push_back(Json(std::move(pairs)));
  return Json(std::move(out));
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

Reconciler::Reconciler(ctl::OvsdbServer& server, dataplane::Dataplane& dp, Options o)
    : server_(server), dp_(dp), o_(std::move(o)) {
  if (!o_.log) o_.log = [](const std::string&) {};
}

bool Reconciler::relevant(const ctl::Commit& c) const {
  if (c.comment == kStatusComment) return false;
  Tables t(server_.db());
  for (auto& ch : c.changes)
    if (ch.table == t.ovs || ch.table == t.bridge || ch.table == t.port || ch.table == t.iface ||
        ch.table == t.controller)
      return true;
  return false;
}

std::string Reconciler::datapath_id(const std::string& bridge) const {
  auto it = dpids_.find(bridge);
  return it == dpids_.end() ? "" : it->second;
}

void Reconciler::reconcile() {
  Tables t(server_.db());
  // What the rows say.
  std::map<std::string, dataplane::BridgeSettings> want_bridges;
  std::map<std::string, Applied> want_ports;
  std::map<std::string, std::string> bad;  // interface -> error
  std::map<std::string, std::string> dpids;
  for (auto& [ou, orow] : t.db.table(t.ovs).rows) {
    RowView ovs(t.ts(t.ovs), *orow);
    auto ovs_oc = ovs.smap("other_config");
    apply_pmd_mask(ovs_oc.count("pmd-cpu-mask") ? ovs_oc["pmd-cpu-mask"] : "");
    for (const Uuid& bu : ovs.refs("bridges")) {
      auto br = t.row(t.bridge, bu);
      if (!br) continue;
      std::string bname = br->str("name");
      auto oc = br->smap("other_config");
      dataplane::BridgeSettings bs;
      if (auto it = oc.find("mac-aging-time"); it != oc.end()) bs.mac_aging_sec = uint32_t(std::max(1L, atol(it->second.c_str())));
      if (auto it = oc.find("mac-table-size"); it != oc.end()) bs.mac_table_size = uint32_t(std::max(1L, atol(it->second.c_str())));
      want_bridges[bname] = bs;
      // A stable datapath id: other_config:datapath-id, else one derived
      // from the bridge row's UUID (kept across restarts by the database).
      std::string dpid = oc.count("datapath-id") ? oc["datapath-id"] : "";
      if (dpid.size() == 18 && dpid.rfind("0x", 0) == 0) dpid = dpid.substr(2);
      if (dpid.size() != 16 || dpid.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        char buf[20];
        snprintf(buf, sizeof buf, "0000%012" PRIx64, uint64_t(fnv1a(bu.str()) & 0xffffffffffffull));
        dpid = buf;
      }
      dpids[bname] = dpid;
      for (const Uuid& pu : br->refs("ports")) {
        auto port = t.row(t.port, pu);
        if (!port) continue;
        auto ifaces = port->refs("interfaces");
        std::string pname = port->str("name");
        if (ifaces.size() != 1) {
          for (const Uuid& iu : ifaces)
            if (auto i = t.row(t.iface, iu))
              bad[i->str("name")] = "port " + pname + ": bonds (" + std::to_string(ifaces.size()) +
                                    " interfaces) are not supported by trestle";
          continue;
        }
        auto iface = t.row(t.iface, ifaces[0]);
        if (!iface) continue;
        Applied a;
        a.bridge = bname;
        a.spec.name = iface->str("name");
        a.spec.type = iface->str("type");
        a.spec.options = iface->smap("options");
        if (auto tag = port->integer("tag")) a.spec.vlan.tag = int(*tag);
        for (auto& k : (*port)["trunks"].keys()) a.spec.vlan.trunks.push_back(int(k.integer()));
        if (std::string m = port->str("vlan_mode"); !m.empty()) a.spec.vlan.mode = m;
        if (auto mtu = iface->integer("mtu_request")) a.spec.mtu_request = int(*mtu);
        if (auto req = iface->integer("ofport_request")) {
          a.spec.ofport_request = uint32_t(*req);
        } else if (auto applied = ports_.find(a.spec.name); applied != ports_.end()) {
          a.spec.ofport_request = applied->second.spec.ofport_request;
        } else if (auto cur = iface->integer("ofport"); cur && *cur > 0 && *cur != 65534) {
          // The number it had before trestled restarted, as ovs-vswitchd
          // keeps it: flows the agent installed stay right.
          a.spec.ofport_request = uint32_t(*cur);
        }
        // The bridge's own internal port is OpenFlow's LOCAL.
        if (a.spec.name == bname && (a.spec.type == "internal" || a.spec.type.empty())) {
          a.spec.type = "internal";
          a.spec.ofport_request = 65534;
        }
        if (a.spec.type == "dpdkvhostuser" || a.spec.type == "dpdkvhostuserclient" || a.spec.type == "patch")
          a.spec.options.erase("n_rxq_desc");  // accepted by OVS for any DPDK port; ours only for dpdk
        want_ports[a.spec.name] = std::move(a);
      }
    }
  }

  for (auto it = refused_.begin(); it != refused_.end();)
    it = want_ports.count(it->first) ? std::next(it) : refused_.erase(it);
  // Away with what the rows no longer have (ports first, then bridges).
  for (auto it = ports_.begin(); it != ports_.end();) {
    auto w = want_ports.find(it->first);
    if (w == want_ports.end() || w->second.bridge != it->second.bridge) {
      if (auto r = dp_.del_port(it->first); !r) o_.log(r.error().message);
      it = ports_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = bridges_.begin(); it != bridges_.end();) {
    if (!want_bridges.count(it->first)) {
      if (auto r = dp_.del_bridge(it->first); !r) o_.log(r.error().message);
      it = bridges_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [name, bs] : want_bridges) {
    auto it = bridges_.find(name);
    if (it == bridges_.end()) {
      if (auto r = dp_.add_bridge(name, bs); !r) {
        o_.log(r.error().message);
        continue;
      }
      o_.log("bridge " + name + ": added");
      bridges_[name] = bs;
    } else if (!(it->second == bs)) {
      if (auto r = dp_.set_bridge(name, bs); !r) o_.log(r.error().message);
      else it->second = bs;
    }
  }
  auto old_errors = std::move(errors_);
  errors_ = bad;
  // Each refusal is logged once, not at every commit.
  auto refused = [&](const std::string& name, const std::string& why) {
    errors_[name] = why;
    auto it = old_errors.find(name);
    if (it == old_errors.end() || it->second != why) o_.log(why);
  };
  // Patch ports last, so that a peer added in the same commit exists.
  for (int pass = 0; pass < 2; ++pass)
    for (auto& [name, a] : want_ports) {
      if ((a.spec.type == "patch") != (pass == 1) || bad.count(name) || !bridges_.count(a.bridge)) continue;
      if (auto r = refused_.find(name); r != refused_.end()) {
        if (r->second.bridge == a.bridge && r->second.spec == a.spec) {
          errors_[name] = old_errors.count(name) ? old_errors[name] : "refused";
          continue;
        }
        refused_.erase(r);
      }
      auto it = ports_.find(name);
      if (it == ports_.end()) {
        if (auto r = dp_.add_port(a.bridge, a.spec); !r) {
          refused(name, r.error().message);
          refused_[name] = a;
          continue;
        }
        o_.log("bridge " + a.bridge + ": added " + (a.spec.type.empty() ? "system" : a.spec.type) +
               " port " + name);
        ports_[name] = a;
      } else if (!(it->second.spec == a.spec)) {
        if (auto r = dp_.modify_port(a.bridge, a.spec); !r) {
          refused(name, r.error().message);  // it keeps running as it was
          refused_[name] = a;
          continue;
        }
        it->second = a;
      }
    }
  dpids_ = std::move(dpids);
  write_back(false);
}

// other_config:pmd-cpu-mask at run time, as ovs-vswitchd follows it: the
// PMDs move to the CPUs it names. Unset: they stay where they are (the
// default, the last CPU, was chosen at start). A mask the dataplane cannot
// follow is logged, once per value, and changes nothing.
void Reconciler::apply_pmd_mask(const std::string& mask) {
  if (mask == pmd_mask_) return;
  const bool first = pmd_mask_ == "\x01unset";
  pmd_mask_ = mask;
  if (mask.empty()) return;
  auto cores = dataplane::parse_cpu_mask(mask);
  if (!cores) return o_.log("other_config:pmd-cpu-mask: " + cores.error().message + "; PMDs not moved");
  if (first && *cores == dp_.pmd_cores()) return;  // what the dataplane started with
  if (auto r = dp_.set_pmd_cores(*cores); !r)
    return o_.log("other_config:pmd-cpu-mask=" + mask + ": " + r.error().message + "; PMDs not moved");
  std::string list;
  for (unsigned c : *cores) list += (list.empty() ? "" : ",") + std::to_string(c);
  o_.log("PMD threads moved to CPU " + list + " (other_config:pmd-cpu-mask=" + mask + ")");
}

void Reconciler::refresh(int64_t now_ms) {
  if (now_ms < next_stats_ms_) return;
  Tables t(server_.db());
  int64_t interval = 5000;
  for (auto& [u, row] : t.db.table(t.ovs).rows) {
    auto oc = RowView(t.ts(t.ovs), *row).smap("other_config");
    if (auto it = oc.find("stats-update-interval"); it != oc.end())
      interval = std::max<int64_t>(5000, atoll(it->second.c_str()));
  }
  next_stats_ms_ = now_ms + interval;
  write_back(true);
}

void Reconciler::write_back(bool with_stats) {
  Tables t(server_.db());
  Json::Array ops;
  auto update = [&](const char* table, const Uuid& u, Json::Object row) {
    if (!row.empty())
      ops.push_back(Json::Object{{"op", "update"}, {"table", table}, {"where", uuid_where(u)}, {"row", std::move(row)}});
  };
  const TableSchema& its = t.ts(t.iface);
  for (auto& [u, row] : t.db.table(t.iface).rows) {
    RowView iface(its, *row);
    std::string name = iface.str("name");
    Json::Object set;
    auto differs = [&](const char* column, const Json& value) {
      Datum d;
      if (Datum::from_json(its.columns[size_t(its.column(column))].type, value, nullptr, &d)) return false;
      return !(d == iface[column]);
    };
    auto put = [&](const char* column, Json value) {
      if (differs(column, value)) set[column] = std::move(value);
    };
    auto p = ports_.find(name);
    auto e = errors_.find(name);
    if (p != ports_.end() && e == errors_.end()) {
      auto ofp = dp_.ofport(name);
      put("ofport", ofp ? Json(int64_t(*ofp)) : Json(-1));
      put("error", Json::Array{"set", Json::Array{}});
      put("admin_state", "up");
      put("mtu", int64_t(p->second.spec.mtu_request.value_or(1500)));
      if (p->second.spec.type == "internal") {
        unsigned idx = if_nametoindex(name.c_str());  // 0 once moved to another namespace
        if (idx) put("ifindex", int64_t(idx));
      }
      if (auto mac = dp_.port_mac(name)) put("mac_in_use", mac_text(*mac));
      std::map<std::string, std::string> status;
      const std::string& type = p->second.spec.type;
      if (type == "dpdkvhostuserclient" || type == "dpdkvhostuser")
        status["mode"] = type == "dpdkvhostuserclient" ? "client" : "server";
      if (type == "patch") status["peer"] = p->second.spec.options.count("peer") ? p->second.spec.options.at("peer") : "";
      if (with_stats) {
        if (auto st = dp_.port_stats(name)) {
          put("link_state", st->link_up ? "up" : "down");
          if (st->link_speed_bps) {
            put("link_speed", int64_t(st->link_speed_bps));
            put("duplex", st->full_duplex ? "full" : "half");
          }
          if (type == "dpdkvhostuserclient" || type == "dpdkvhostuser")
            status["status"] = st->link_up ? "connected" : "disconnected";
          Json::Array stats{
              Json::Array{"rx_packets", int64_t(st->rx_packets)}, Json::Array{"rx_bytes", int64_t(st->rx_bytes)},
              Json::Array{"tx_packets", int64_t(st->tx_packets)}, Json::Array{"tx_bytes", int64_t(st->tx_bytes)},
              Json::Array{"rx_dropped", int64_t(st->rx_dropped)}, Json::Array{"tx_dropped", int64_t(st->tx_dropped)},
              Json::Array{"rx_errors", int64_t(st->rx_errors)}, Json::Array{"tx_errors", int64_t(st->tx_errors)},
              Json::Array{"rx_missed_errors", int64_t(st->rx_missed)}};
          put("statistics", Json::Array{"map", std::move(stats)});
        }
      }
      if (!status.empty() || !iface["status"].empty()) put("status", smap_json(status));
    } else if (e != errors_.end() || p == ports_.end()) {
      // Not on any bridge the rows name (a dangling Interface waits for
      // garbage collection) or refused: -1 and why, as ovs-vswitchd does.
      if (e != errors_.end()) {
        put("ofport", -1);
        put("error", e->second);
      }
    }
    update("Interface", u, std::move(set));
  }
  const TableSchema& bts = t.ts(t.bridge);
  for (auto& [u, row] : t.db.table(t.bridge).rows) {
    RowView br(bts, *row);
    auto it = dpids_.find(br.str("name"));
    if (it != dpids_.end() && br.str("datapath_id") != it->second)
      update("Bridge", u, Json::Object{{"datapath_id", it->second}, {"datapath_version", "<built-in>"}});
  }
  const TableSchema& ots = t.ts(t.ovs);
  for (auto& [u, row] : t.db.table(t.ovs).rows) {
    RowView ovs(ots, *row);
    Json::Object set;
    int64_t next = ovs.integer("next_cfg").value_or(0);
    if (ovs.integer("cur_cfg").value_or(0) != next) set["cur_cfg"] = next;
    if (ovs["dpdk_initialized"].empty() || !ovs["dpdk_initialized"].keys()[0].boolean()) set["dpdk_initialized"] = true;
    std::string version = rte_version();
    if (ovs.str("dpdk_version") != version) set["dpdk_version"] = version;
    update("Open_vSwitch", u, std::move(set));
  }
  if (ops.empty()) return;
  ops.push_back(Json::Object{{"op", "comment"}, {"comment", kStatusComment}});
  Json r = server_.transact(ops);
  for (auto& e : r.as_array())
    if (e.has("error")) {
      o_.log("status write-back failed: " + r.dump().substr(0, 400));
      break;
    }
}

}  // namespace trestle::shim
