#include "plugin-shim/ofswitch.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include "plugin-shim/rows.h"

namespace trestle::shim {
namespace {

using ctl::Json;
using flowtable::OfError;
namespace of = ofp;

constexpr int64_t kDefaultProbeMs = 5000;
constexpr size_t kMaxBacklog = 16u << 20;  // unread output to a peer before it is dropped

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint32_t protocols_bitmap(const std::vector<std::string>& names) {
  uint32_t bits = 0;
  for (auto& n : names) {
    if (n == "OpenFlow10") bits |= of::version_bit(of::OFP10_VERSION);
    if (n == "OpenFlow13") bits |= of::version_bit(of::OFP13_VERSION);
    if (n == "OpenFlow14") bits |= of::version_bit(of::OFP14_VERSION);
  }
  return bits ? bits : of::kSupportedVersions;
}

uint8_t highest(uint32_t bitmap) {
  for (int v = 31; v > 0; --v)
    if (bitmap & (1u << v)) return uint8_t(v);
  return of::OFP10_VERSION;
}

uint64_t read_mac(const std::string& dev) {
  std::ifstream f("/sys/class/net/" + dev + "/address");
  std::string s;
  if (!(f >> s)) return 0;
  uint64_t mac = 0;
  unsigned b[6];
  if (sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) return 0;
  for (unsigned x : b) mac = (mac << 8) | x;
  return mac;
}

// The address of a unix socket path, and a non-blocking socket for it.
int unix_socket(const std::string& path, sockaddr_un* sa, std::string* err) {
  *sa = sockaddr_un{};
  sa->sun_family = AF_UNIX;
  if (path.size() >= sizeof sa->sun_path) {
    *err = path + ": path too long";
    return -1;
  }
  memcpy(sa->sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) *err = path + ": " + strerror(errno);
  return fd;
}

int listen_unix(const std::string& path, std::string* err) {
  sockaddr_un sa;
  int fd = unix_socket(path, &sa, err);
  if (fd < 0) return -1;
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || listen(fd, 64) < 0) {
    *err = path + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  chmod(path.c_str(), 0750);
  return fd;
}

// tcp:IP[:PORT] (6653 by default, as OVS) or unix:PATH; a non-blocking
// connect in progress.
int connect_to(const std::string& target, std::string* err) {
  if (target.rfind("unix:", 0) == 0) {
    sockaddr_un sa;
    int fd = unix_socket(target.substr(5), &sa, err);
    if (fd < 0) return -1;
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 && errno != EINPROGRESS) {
      *err = strerror(errno);
      close(fd);
      return -1;
    }
    return fd;
  }
  if (target.rfind("tcp:", 0) != 0) {
    *err = "unsupported controller target (tcp:IP[:PORT] and unix:PATH are)";
    return -1;
  }
  std::string rest = target.substr(4), host = rest, port = "6653";
  if (!rest.empty() && rest[0] == '[') {
    auto close_b = rest.find(']');
    host = rest.substr(1, close_b - 1);
    if (close_b + 1 < rest.size() && rest[close_b + 1] == ':') port = rest.substr(close_b + 2);
  } else if (auto c = rest.rfind(':'); c != std::string::npos) {
    host = rest.substr(0, c);
    port = rest.substr(c + 1);
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    *err = gai_strerror(rc);
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)) {
    *err = strerror(errno);
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return -1;
  }
  freeaddrinfo(res);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

struct OfSwitch::Controller {
  std::string target;
  Uuid row;
  int64_t probe_ms = kDefaultProbeMs;
  int64_t max_backoff_ms = 8000;
  Conn* conn = nullptr;
  int64_t retry_at = 0, backoff_ms = 1000;
  int64_t last_up_ms = now_ms();  // last seen connected (or when configured)
  std::string last_error;
  bool wanted = true;
};

struct OfSwitch::Bridge {
  std::string name, mgmt_path;
  int listen_fd = -1;
  uint32_t allowed = of::kSupportedVersions;  // Bridge.protocols
  bool secure = false;
  bool fail_open = false;  // standalone, every controller gone long enough
  std::vector<std::unique_ptr<Controller>> controllers;
  std::map<uint32_t, of::PortDesc> ports;  // as last announced
  of::SwitchConfig config;
  bool wanted = true;
};

struct OfSwitch::Conn {
  int fd = -1;
  Bridge* bridge = nullptr;
  Controller* ctl = nullptr;  // null: an ovs-ofctl on the mgmt socket
  bool connecting = false;
  of::Bytes in;
  std::string out;
  size_t out_off = 0;
  uint8_t version = 0;  // 0 until HELLO is negotiated
  uint32_t allowed = of::kSupportedVersions;
  of::DecodeState ds;
  struct Bundle {
    std::vector<flowtable::FlowMod> mods;
    bool closed = false;
  };
  std::map<uint32_t, Bundle> bundles;
  int64_t last_rx = 0;
  bool probe_sent = false;
  bool dead = false;
};

OfSwitch::OfSwitch(ctl::OvsdbServer& db, dataplane::Dataplane& dp, Reconciler& rec, Options o)
    : db_(db), dp_(dp), rec_(rec), o_(std::move(o)) {
  if (!o_.log) o_.log = [](const std::string&) {};
}

OfSwitch::~OfSwitch() {
  for (auto& c : conns_)
    if (c->fd >= 0) close(c->fd);
  for (auto& [n, b] : bridges_)
    if (b->listen_fd >= 0) {
      close(b->listen_fd);
      unlink(b->mgmt_path.c_str());
    }
}

uint64_t OfSwitch::dpid(const Bridge& b) const {
  return strtoull(rec_.datapath_id(b.name).c_str(), nullptr, 16);
}

std::vector<of::PortDesc> OfSwitch::port_descs(const Bridge& b) const {
  std::vector<of::PortDesc> v;
  for (const std::string& name : dp_.ports(b.name)) {
    auto ofport = dp_.ofport(name);
    if (!ofport) continue;
    of::PortDesc p;
    p.port_no = *ofport == 65534 ? flowtable::OFPP_LOCAL : *ofport;
    p.name = name;
    p.hw_addr = read_mac(name);
    auto st = dp_.port_stats(name);
    bool up = st && st->link_up;
    p.state = up ? of::OFPPS_LIVE : of::OFPPS_LINK_DOWN;
    p.curr = p.advertised = p.supported = of::OFPPF_10GB_FD | of::OFPPF_COPPER;
    p.curr_speed_kbps = p.max_speed_kbps = 10000000;
    v.push_back(std::move(p));
  }
  return v;
}

void OfSwitch::reconfigure() {
  Tables t(db_.db());
  for (auto& [n, b] : bridges_) b->wanted = false;
  const std::vector<std::string> running = dp_.bridges();
  for (auto& [u, row] : t.db.table(t.bridge).rows) {
    RowView br(t.ts(t.bridge), *row);
    std::string name = br.str("name");
    if (std::find(running.begin(), running.end(), name) == running.end()) continue;
    auto& slot = bridges_[name];
    bool fresh = !slot;
    if (fresh) {
      slot = std::make_unique<Bridge>();
      slot->name = name;
      slot->mgmt_path = o_.rundir + "/" + name + ".mgmt";
      std::string err;
      slot->listen_fd = listen_unix(slot->mgmt_path, &err);
      if (slot->listen_fd < 0) o_.log("bridge " + name + ": OpenFlow management socket: " + err);
    }
    Bridge& b = *slot;
    b.wanted = true;
    std::vector<std::string> protocols;
    for (auto& a : br["protocols"].keys()) protocols.push_back(a.string());
    b.allowed = protocols_bitmap(protocols);
    // fail_mode secure: no implicit NORMAL; back to standalone: it returns.
    bool secure = br.str("fail_mode") == "secure";
    if (secure != b.secure || (fresh && secure)) {
      flowtable::FlowMod fm;
      fm.table = 0;
      fm.priority = 0;
      if (secure) {
        fm.command = flowtable::FlowMod::Command::kDeleteStrict;
      } else {
        fm.command = flowtable::FlowMod::Command::kAdd;
        fm.ins.apply.push_back(flowtable::Action::output(flowtable::OFPP_NORMAL));
      }
      if (auto e = dp_.flow_mod(name, fm)) o_.log("bridge " + name + ": fail mode: " + e->message);
    }
    b.secure = secure;
    // Controllers.
    for (auto& c : b.controllers) c->wanted = false;
    for (const Uuid& cu : br.refs("controller")) {
      const ctl::Row* crow = t.db.row(t.controller, cu);
      if (!crow) continue;
      RowView cr(t.ts(t.controller), *crow);
      std::string target = cr.str("target");
      auto it = std::find_if(b.controllers.begin(), b.controllers.end(),
                             [&](auto& c) { return c->target == target; });
      Controller* c;
      if (it == b.controllers.end()) {
        b.controllers.push_back(std::make_unique<Controller>());
        c = b.controllers.back().get();
        c->target = target;
        status_dirty_ = true;
      } else {
        c = it->get();
      }
      c->wanted = true;
      c->row = cu;
      c->probe_ms = cr.integer("inactivity_probe").value_or(kDefaultProbeMs);
      c->max_backoff_ms = std::max<int64_t>(1000, cr.integer("max_backoff").value_or(8000));
      if (c->conn) c->conn->allowed = b.allowed;
    }
    for (auto& c : b.controllers)
      if (!c->wanted && c->conn) close_conn(*c->conn, "controller " + c->target + " removed");
    b.controllers.erase(std::remove_if(b.controllers.begin(), b.controllers.end(),
                                       [](auto& c) { return !c->wanted; }),
                        b.controllers.end());
  }
  for (auto it = bridges_.begin(); it != bridges_.end();) {
    if (it->second->wanted) {
      ++it;
      continue;
    }
    Bridge& b = *it->second;
    for (auto& c : conns_)
      if (c->bridge == &b) close_conn(*c, "bridge " + b.name + " deleted");
    if (b.listen_fd >= 0) {
      close(b.listen_fd);
      unlink(b.mgmt_path.c_str());
    }
    it = bridges_.erase(it);
  }
  send_port_status();
}

void OfSwitch::send_port_status() {
  for (auto& [name, b] : bridges_) {
    std::map<uint32_t, of::PortDesc> now;
    for (auto& p : port_descs(*b)) now[p.port_no] = p;
    auto announce = [&](uint8_t reason, const of::PortDesc& p) {
      for (auto& c : conns_)
        if (c->bridge == b.get() && c->version && !c->dead) send(*c, of::encode_port_status(c->version, 0, reason, p));
    };
    for (auto& [no, p] : b->ports)
      if (!now.count(no)) announce(of::OFPPR_DELETE, p);
    for (auto& [no, p] : now) {
      auto it = b->ports.find(no);
      if (it == b->ports.end()) announce(of::OFPPR_ADD, p);
      else if (it->second.state != p.state || it->second.name != p.name) announce(of::OFPPR_MODIFY, p);
    }
    b->ports = std::move(now);
  }
}

void OfSwitch::start_conn(Bridge& b, int fd, Controller* ctl) {
  auto c = std::make_unique<Conn>();
  c->fd = fd;
  c->bridge = &b;
  c->ctl = ctl;
  c->allowed = ctl ? b.allowed : of::kSupportedVersions;
  c->last_rx = now_ms();
  c->connecting = ctl != nullptr;
  if (ctl) ctl->conn = c.get();
  // The switch says HELLO first, with every version it allows.
  if (!c->connecting) send(*c, of::encode_hello(highest(c->allowed), 1, c->allowed));
  conns_.push_back(std::move(c));
}

void OfSwitch::accept_on(Bridge& b) {
  for (int i = 0; i < 16; ++i) {
    int fd = accept4(b.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    start_conn(b, fd, nullptr);
  }
}

void OfSwitch::close_conn(Conn& c, const std::string& why) {
  if (c.dead) return;
  c.dead = true;
  if (!why.empty()) o_.log("bridge " + c.bridge->name + ": OpenFlow connection closed: " + why);
  if (c.ctl) {
    c.ctl->conn = nullptr;
    c.ctl->retry_at = now_ms() + c.ctl->backoff_ms;
    c.ctl->backoff_ms = std::min(c.ctl->backoff_ms * 2, c.ctl->max_backoff_ms);
    status_dirty_ = true;
  }
  close(c.fd);
  c.fd = -1;
}

void OfSwitch::send(Conn& c, const of::Bytes& m) {
  if (c.dead) return;
  c.out.append(reinterpret_cast<const char*>(m.data()), m.size());
  if (c.out.size() - c.out_off > kMaxBacklog) close_conn(c, "peer does not read (backlog over 16 MiB)");
}

void OfSwitch::send_error(Conn& c, uint32_t xid, const OfError& e, of::ByteView msg) {
  send(c, of::encode_error(c.version ? c.version : uint8_t{of::OFP10_VERSION}, xid, e, msg));
}

void OfSwitch::read_conn(Conn& c) {
  uint8_t buf[65536];
  for (int round = 0; round < 16 && !c.dead; ++round) {
    ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n == 0) return close_conn(c, c.ctl ? "controller closed the connection" : "");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return close_conn(c, strerror(errno));
    }
    c.last_rx = now_ms();
    c.probe_sent = false;
    c.in.insert(c.in.end(), buf, buf + n);
    size_t off = 0;
    while (!c.dead) {
      of::ByteView rest(c.in.data() + off, c.in.size() - off);
      of::Frame f = of::frame(rest);
      if (f.status == of::Frame::Status::kNeedMore) break;
      if (f.status == of::Frame::Status::kBadLength) {
        send_error(c, 0, of::make_error(flowtable::OFPET_BAD_REQUEST, of::OFPBRC_BAD_LEN, "message length below 8"), rest);
        // Nothing after it can be framed: flush what we have and hang up.
        while (c.out_off < c.out.size()) {
          ssize_t w = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
          if (w <= 0) break;
          c.out_off += size_t(w);
        }
        return close_conn(c, "bad message length");
      }
      handle(c, rest.subspan(0, f.length));
      off += f.length;
    }
    c.in.erase(c.in.begin(), c.in.begin() + ptrdiff_t(off));
    // A short read drained the socket: no second recv just to hear EAGAIN
    // (poll is level-triggered; more data wakes us again).
    if (size_t(n) < sizeof buf) return;
  }
}

void OfSwitch::handle(Conn& c, of::ByteView msg) {
  of::Header h = of::parse_header(msg);
  if (c.version == 0) {
    if (h.type != 0) {  // OFPT_HELLO first, as the spec requires
      send_error(c, h.xid, of::make_error(of::OFPET_HELLO_FAILED, of::OFPHFC_INCOMPATIBLE, "expected HELLO"), msg);
      return close_conn(c, "message before HELLO");
    }
    of::DecodeState any;
    any.version = h.version;
    auto d = of::decode(msg, any);
    uint32_t bitmap = d && std::holds_alternative<of::Hello>(d->msg) ? std::get<of::Hello>(d->msg).versions : 0;
    auto v = of::negotiate(c.allowed, h.version, bitmap);
    if (!v) {
      send_error(c, h.xid, of::make_error(of::OFPET_HELLO_FAILED, of::OFPHFC_INCOMPATIBLE,
                                          "no common OpenFlow version"), msg);
      return close_conn(c, "version negotiation failed");
    }
    c.version = *v;
    c.ds.version = *v;
    if (c.ctl) {
      c.ctl->backoff_ms = 1000;
      c.ctl->last_error.clear();
      status_dirty_ = true;
      o_.log("bridge " + c.bridge->name + ": connected to controller " + c.ctl->target +
             " (OpenFlow 0x0" + std::to_string(*v) + ")");
    }
    return;
  }
  auto d = of::decode(msg, c.ds);
  if (!d) return send_error(c, h.xid, d.error(), msg);
  dispatch(c, *d, msg);
}

void OfSwitch::dispatch(Conn& c, const of::Decoded& d, of::ByteView msg) {
  const uint8_t v = c.version;
  const uint32_t xid = d.xid;
  const std::string& br = c.bridge->name;
  const of::Message& m = d.msg;
  if (auto* e = std::get_if<of::EchoRequest>(&m)) {
    send(c, of::encode_echo_reply(v, xid, e->data));
  } else if (std::holds_alternative<of::EchoReply>(m) || std::holds_alternative<of::Hello>(m)) {
  } else if (auto* e = std::get_if<of::ErrorMsg>(&m)) {
    o_.log("bridge " + br + ": peer sent OpenFlow error type " + std::to_string(e->type) + " code " +
           std::to_string(e->code));
  } else if (std::holds_alternative<of::FeaturesRequest>(m)) {
    of::Features f;
    f.datapath_id = dpid(*c.bridge);
    f.n_tables = 254;
    if (v == of::OFP10_VERSION) f.ports = port_descs(*c.bridge);
    send(c, of::encode_features_reply(v, xid, f));
  } else if (std::holds_alternative<of::GetConfigRequest>(m)) {
    send(c, of::encode_get_config_reply(v, xid, c.bridge->config));
  } else if (auto* sc = std::get_if<of::SwitchConfig>(&m)) {
    c.bridge->config = *sc;
  } else if (auto* fm = std::get_if<of::FlowModMsg>(&m)) {
    if (auto e = dp_.flow_mod(br, fm->fm)) send_error(c, xid, *e, msg);
  } else if (std::holds_alternative<of::BarrierRequest>(m)) {
    // Every earlier message is applied: they run in order on this thread.
    send(c, of::encode_barrier_reply(v, xid));
  } else if (auto* rr = std::get_if<of::RoleRequest>(&m)) {
    of::RoleRequest reply = *rr;
    if (reply.role == of::OFPCR_ROLE_NOCHANGE) reply.role = of::OFPCR_ROLE_EQUAL;
    send(c, of::encode_role_reply(v, xid, reply));
  } else if (std::holds_alternative<of::DescRequest>(m)) {
    of::SwitchDesc desc;
    desc.dp = br;
    send(c, of::encode_desc_reply(v, xid, desc));
  } else if (auto* fs = std::get_if<of::FlowStatsReq>(&m)) {
    auto flows = dp_.dump_flows(br, fs->req);
    if (!flows) {
      return send_error(c, xid, of::make_error(flowtable::OFPET_BAD_REQUEST, of::OFPBRC_EPERM, flows.error().message), msg);
    }
    if (fs->aggregate) {
      of::AggregateStats a;
      for (auto& f : *flows) a.packets += f.packets, a.bytes += f.bytes, ++a.flows;
      send(c, of::encode_aggregate_reply(v, xid, fs->format, a));
    } else {
      for (auto& part : of::encode_flow_stats_reply(v, xid, fs->format, *flows)) send(c, part);
    }
  } else if (std::holds_alternative<of::TableStatsRequest>(m)) {
    std::vector<of::TableStats> tables(254);
    for (size_t i = 0; i < tables.size(); ++i) tables[i].table_id = uint8_t(i);
    flowtable::FlowStatsRequest all;
    if (auto flows = dp_.dump_flows(br, all))
      for (auto& f : *flows)
        if (f.table < tables.size()) ++tables[f.table].active_count;
    for (auto& part : of::encode_table_stats_reply(v, xid, tables)) send(c, part);
  } else if (auto* ps = std::get_if<of::PortStatsRequest>(&m)) {
    std::vector<of::PortStats> out;
    for (const std::string& name : dp_.ports(br)) {
      auto ofport = dp_.ofport(name);
      auto st = dp_.port_stats(name);
      if (!ofport || !st) continue;
      uint32_t no = *ofport == 65534 ? flowtable::OFPP_LOCAL : *ofport;
      if (ps->port_no != flowtable::OFPP_ANY && ps->port_no != no) continue;
      of::PortStats p;
      p.port_no = no;
      p.rx_packets = st->rx_packets, p.tx_packets = st->tx_packets;
      p.rx_bytes = st->rx_bytes, p.tx_bytes = st->tx_bytes;
      p.rx_dropped = st->rx_dropped, p.tx_dropped = st->tx_dropped;
      p.rx_errors = st->rx_errors, p.tx_errors = st->tx_errors;
      out.push_back(p);
    }
    for (auto& part : of::encode_port_stats_reply(v, xid, out)) send(c, part);
  } else if (std::holds_alternative<of::PortDescRequest>(m)) {
    for (auto& part : of::encode_port_desc_reply(v, xid, port_descs(*c.bridge))) send(c, part);
  } else if (std::holds_alternative<of::TableFeaturesRequest>(m)) {
    for (auto& part : of::encode_table_features_reply(v, xid, 254)) send(c, part);
  } else if (std::holds_alternative<of::MeterFeaturesRequest>(m)) {
    send(c, of::encode_meter_features_reply(v, xid));
  } else if (auto* bc = std::get_if<of::BundleControl>(&m)) {
    auto it = c.bundles.find(bc->bundle_id);
    switch (bc->type) {
      case of::OFPBCT_OPEN_REQUEST:
        if (it != c.bundles.end())
          return send_error(c, xid, of::make_error(of::OFPET_BUNDLE_FAILED, 2 /* OFPBFC_BAD_ID */, "bundle already open"), msg);
        c.bundles[bc->bundle_id];
        break;
      case of::OFPBCT_CLOSE_REQUEST:
        if (it == c.bundles.end())
          return send_error(c, xid, of::make_error(of::OFPET_BUNDLE_FAILED, 2, "no such bundle"), msg);
        it->second.closed = true;
        break;
      case of::OFPBCT_COMMIT_REQUEST: {
        if (it == c.bundles.end())
          return send_error(c, xid, of::make_error(of::OFPET_BUNDLE_FAILED, 2, "no such bundle"), msg);
        auto mods = std::move(it->second.mods);
        c.bundles.erase(it);
        // All or nothing (the flow tables' bundle).
        if (auto e = dp_.flow_mods(br, mods)) return send_error(c, xid, *e, msg);
        break;
      }
      case of::OFPBCT_DISCARD_REQUEST:
        if (it != c.bundles.end()) c.bundles.erase(it);
        break;
      default:
        return send_error(c, xid, of::make_error(of::OFPET_BUNDLE_FAILED, of::OFPBFC_BAD_TYPE, "bad bundle control type"), msg);
    }
    send(c, of::encode_bundle_control_reply(v, xid, *bc));
  } else if (auto* ba = std::get_if<of::BundleAdd>(&m)) {
    auto& bundle = c.bundles[ba->bundle_id];  // an add opens the bundle (OpenFlow 1.4 7.3.9)
    if (bundle.closed)
      return send_error(c, xid, of::make_error(of::OFPET_BUNDLE_FAILED, 3 /* OFPBFC_BUNDLE_CLOSED */, "bundle closed"), msg);
    bundle.mods.push_back(ba->flow_mod.fm);
  } else if (auto* po = std::get_if<of::PacketOut>(&m)) {
    // trestle buffers no packets (FEATURES says n_buffers 0): a packet-out
    // carries its frame.
    if (po->buffer_id != 0xffffffff)
      return send_error(c, xid, of::make_error(flowtable::OFPET_BAD_REQUEST, of::OFPBRC_BUFFER_UNKNOWN,
                                               "no packet is buffered (buffer_id must be NO_BUFFER)"), msg);
    if (auto e = dp_.packet_out(br, po->in_port, po->actions, po->data)) send_error(c, xid, *e, msg);
  } else if (std::holds_alternative<of::PortMod>(m)) {
    // Port administrative state is the database's (Interface.admin_state):
    // accepted, nothing to change.
  } else if (auto* nf = std::get_if<of::NxSetFlowFormat>(&m)) {
    (void)nf;  // the format is per message (NXT_FLOW_MOD / NXST_FLOW carry NXM)
  } else if (auto* nt = std::get_if<of::NxFlowModTableId>(&m)) {
    c.ds.flow_mod_table_id = nt->enable;
  } else if (std::holds_alternative<of::NxSetPacketInFormat>(m) ||
             std::holds_alternative<of::NxSetControllerId>(m)) {
  }
}

std::vector<int> OfSwitch::fds() const {
  std::vector<int> v;
  for (auto& [n, b] : bridges_)
    if (b->listen_fd >= 0) v.push_back(b->listen_fd);
  for (auto& c : conns_)
    if (!c->dead) v.push_back(c->fd);
  return v;
}

int OfSwitch::timeout_ms() const {
  int64_t now = now_ms(), next = now + 1000;
  bool any_controller = false;
  for (auto& [n, b] : bridges_)
    for (auto& c : b->controllers) {
      any_controller = true;
      if (!c->conn) next = std::min(next, c->retry_at);
    }
  for (auto& c : conns_) {
    if (c->out_off < c->out.size()) next = now;  // output to flush
    if (c->ctl && c->ctl->probe_ms > 0) next = std::min(next, c->last_rx + c->ctl->probe_ms);
  }
  // Packet-ins wait for the next pass: keep it short while a controller may want them.
  if (any_controller) next = std::min(next, now + 20);
  return int(std::max<int64_t>(0, next - now));
}

void OfSwitch::run(const std::vector<int>* ready) {
  std::vector<pollfd> fds;
  std::vector<std::pair<Bridge*, Conn*>> who;
  for (auto& [n, b] : bridges_)
    if (b->listen_fd >= 0) fds.push_back({b->listen_fd, POLLIN, 0}), who.emplace_back(b.get(), nullptr);
  for (auto& c : conns_) {
    short ev = POLLIN;
    if (c->connecting || c->out_off < c->out.size()) ev |= POLLOUT;
    fds.push_back({c->fd, ev, 0});
    who.emplace_back(nullptr, c.get());
  }
  // The caller's poll already says which sockets are readable; a poll of our
  // own is needed only when we wait to write (a connect, a backlog).
  bool need_poll = !ready;
  for (auto& c : conns_) need_poll = need_poll || c->connecting || c->out_off < c->out.size();
  int n_ready = 0;
  if (fds.empty()) {
  } else if (need_poll) {
    n_ready = ::poll(fds.data(), fds.size(), 0);
  } else {
    for (pollfd& f : fds)
      if (std::find(ready->begin(), ready->end(), f.fd) != ready->end()) f.revents = POLLIN, ++n_ready;
  }
  if (n_ready > 0) {
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      if (who[i].first) {
        accept_on(*who[i].first);
        continue;
      }
      Conn& c = *who[i].second;
      if (c.dead) continue;
      if (c.connecting && (fds[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          c.ctl->last_error = strerror(err);
          close_conn(c, "");
          continue;
        }
        c.connecting = false;
        send(c, of::encode_hello(highest(c.allowed), 1, c.allowed));
      }
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) read_conn(c);
    }
  }
  // Packet-ins to the bridge's controllers (ovs-ofctl sessions do not ask).
  for (auto& pi : dp_.take_packet_ins()) {
    for (auto& c : conns_) {
      if (c->dead || !c->ctl || !c->version || c->bridge->name != pi.bridge) continue;
      of::PacketIn p;
      p.total_len = uint16_t(std::min<uint32_t>(pi.total_len, 0xffff));
      p.reason = of::OFPR_ACTION;
      p.in_port = pi.in_port;
      p.data = pi.data;
      send(*c, of::encode_packet_in(c->version, 0, p));
    }
  }
  // Rules that asked for it (OFPFF_SEND_FLOW_REM) and left: FLOW_REMOVED.
  for (auto& fr : dp_.take_flow_removed())
    for (auto& c : conns_)
      if (!c->dead && c->ctl && c->version && c->bridge->name == fr.bridge)
        send(*c, of::encode_flow_removed(c->version, 0, fr.removed));
  int64_t now = now_ms();
  for (auto& c : conns_) {
    if (c->dead || !c->ctl || c->connecting || c->ctl->probe_ms <= 0) continue;
    int64_t idle = now - c->last_rx;
    if (idle >= 2 * c->ctl->probe_ms && c->probe_sent) {
      close_conn(*c, "controller " + c->ctl->target + " did not answer the inactivity probe");
    } else if (idle >= c->ctl->probe_ms && !c->probe_sent && c->version) {
      send(*c, of::encode_echo_request(c->version, 0, {}));
      c->probe_sent = true;
    }
  }
  for (auto& [n, b] : bridges_)
    for (auto& ctl : b->controllers) {
      if (ctl->conn || now < ctl->retry_at) continue;
      std::string err;
      int fd = connect_to(ctl->target, &err);
      if (fd < 0) {
        ctl->last_error = err;
        ctl->retry_at = now + ctl->backoff_ms;
        ctl->backoff_ms = std::min(ctl->backoff_ms * 2, ctl->max_backoff_ms);
        status_dirty_ = true;
        continue;
      }
      start_conn(*b, fd, ctl.get());
    }
  for (auto& cp : conns_) {
    Conn& c = *cp;
    while (!c.dead && !c.connecting && c.out_off < c.out.size()) {
      ssize_t w = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        close_conn(c, strerror(errno));
        break;
      }
      c.out_off += size_t(w);
    }
    if (c.out_off == c.out.size()) c.out.clear(), c.out_off = 0;
  }
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [](auto& c) { return c->dead; }), conns_.end());
  for (auto& [n, b] : bridges_) update_fail_open(*b, now);
  if (status_dirty_) write_controller_status();
}

// fail_mode standalone, as ovs-vswitchd does it: when no controller of the
// bridge has been connected for three times the longest inactivity probe
// (time to probe, to wait for the answer, to reconnect), the bridge becomes
// a learning switch (NORMAL), its flows kept but unused, until a
// controller connects again. secure never does.
void OfSwitch::update_fail_open(Bridge& b, int64_t now) {
  bool open = false;
  if (!b.secure && !b.controllers.empty()) {
    int64_t last_up = 0, max_probe = 0;
    bool up = false;
    for (auto& c : b.controllers) {
      if (c->conn && c->conn->version) {
        c->last_up_ms = now;
        up = true;
      }
      last_up = std::max(last_up, c->last_up_ms);
      max_probe = std::max<int64_t>(max_probe, c->probe_ms);
    }
    open = !up && now - last_up >= 3 * max_probe;
  }
  if (open == b.fail_open) return;
  if (auto r = dp_.set_fail_open(b.name, open); !r) return o_.log("bridge " + b.name + ": " + r.error().message);
  b.fail_open = open;
  o_.log("bridge " + b.name + (open ? ": no controller connected: failing open (NORMAL switching, flows unused)"
                                    : ": fail-open ends (controller connected or not needed)"));
}

void OfSwitch::write_controller_status() {
  status_dirty_ = false;
  Tables t(db_.db());
  Json::Array ops;
  for (auto& [n, b] : bridges_)
    for (auto& c : b->controllers) {
      const ctl::Row* row = t.db.row(t.controller, c->row);
      if (!row) continue;
      RowView cr(t.ts(t.controller), *row);
      bool connected = c->conn && c->conn->version;
      std::string state = connected ? "ACTIVE" : c->conn ? "CONNECTING" : "BACKOFF";
      Json::Array status{Json::Array{"state", state}};
      if (!c->last_error.empty() && !connected) status.push_back(Json::Array{"last_error", c->last_error});
      Json::Object set;
      if (cr["is_connected"].empty() || cr["is_connected"].keys()[0].boolean() != connected) set["is_connected"] = connected;
      // OpenFlow's EQUAL role is OVS's "other".
      if (cr.str("role") != (connected ? "other" : "")) {
        if (connected) set["role"] = "other";
        else set["role"] = Json::Array{"set", Json::Array{}};
      }
      auto cur = cr.smap("status");
      std::map<std::string, std::string> want{{"state", state}};
      if (!c->last_error.empty() && !connected) want["last_error"] = c->last_error;
      if (cur != want) set["status"] = Json::Array{"map", status};
      if (!set.empty())
        ops.push_back(Json::Object{{"op", "update"},
                                   {"table", "Controller"},
                                   {"where", Json::Array{Json::Array{"_uuid", "==", Json::Array{"uuid", c->row.str()}}}},
                                   {"row", std::move(set)}});
    }
  if (ops.empty()) return;
  ops.push_back(Json::Object{{"op", "comment"}, {"comment", Reconciler::kStatusComment}});
  db_.transact(ops);
}

}  // namespace trestle::shim
