#include "dataplane/port_device.h"

#include <net/if.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

namespace trestle::dataplane {
namespace {

struct TypeInfo {
  const char* name;
  PortType type;
  std::set<std::string> options;  // accepted (some only for OVS compatibility)
};

const std::vector<TypeInfo>& types() {
  static const std::vector<TypeInfo> t = {
      {"dpdk", PortType::kDpdk, {"dpdk-devargs", "n_rxq", "n_rxq_desc", "n_txq_desc"}},
      {"dpdkvhostuser", PortType::kVhostUser, {"n_rxq", "tx-retries-max"}},
      {"dpdkvhostuserclient",
       PortType::kVhostUserClient,
       {"vhost-server-path", "n_rxq", "tx-retries-max"}},
      {"internal", PortType::kInternal, {}},
      {"patch", PortType::kPatch, {"peer"}},
  };
  return t;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out.empty() ? "none" : out;
}

Result<int> parse_count(const PortSpec& spec, const char* key, int def, int max) {
  auto it = spec.options.find(key);
  if (it == spec.options.end()) return def;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 4 || !std::all_of(v.begin(), v.end(), ::isdigit) ||
      std::stoi(v) < 1 || std::stoi(v) > max)
    return make_error("port " + spec.name + ": options:" + key + " must be a number from 1 to " +
                      std::to_string(max) + ", not \"" + v + "\"");
  return std::stoi(v);
}

std::string errno_text(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

}  // namespace

Result<PortType> validate_port_spec(const PortSpec& spec) {
  const std::string& n = spec.name;
  if (n.empty() || n.find('/') != std::string::npos || n.find(',') != std::string::npos)
    return make_error("port \"" + n + "\": a port name must be non-empty, without '/' or ','");
  const TypeInfo* ti = nullptr;
  for (const auto& t : types())
    if (spec.type == t.name) ti = &t;
  if (!ti) {
    if (spec.type.empty() || spec.type == "system" || spec.type == "afxdp")
      return make_error("port " + n + ": type \"" + (spec.type.empty() ? "system" : spec.type) +
                        "\" (a kernel netdev over AF_XDP) is not supported by trestle yet");
    return make_error("port " + n + ": unknown type \"" + spec.type +
                      "\" (expected dpdk, dpdkvhostuser, dpdkvhostuserclient, internal or patch)");
  }
  for (const auto& [k, v] : spec.options)
    if (!ti->options.count(k))
      return make_error("port " + n + ": unknown option \"" + k + "\" for type " + ti->name +
                        " (known: " + join(ti->options) + ")");
  if (spec.mtu_request && (*spec.mtu_request < 68 || *spec.mtu_request > 9710))
    return make_error("port " + n + ": mtu_request " + std::to_string(*spec.mtu_request) +
                      " is out of range (68 to 9710)");
  if (auto r = parse_count(spec, "n_rxq", 1, 64); !r) return r.error();
  if (auto it = spec.options.find("tx-retries-max"); it != spec.options.end()) {
    const std::string& v = it->second;
    if (v.empty() || v.size() > 2 || !std::all_of(v.begin(), v.end(), ::isdigit) || std::stoi(v) > 32)
      return make_error("port " + n + ": options:tx-retries-max must be a number from 0 to 32, not \"" + v + "\"");
  }
  switch (ti->type) {
    case PortType::kDpdk:
      if (!spec.options.count("dpdk-devargs") || spec.options.at("dpdk-devargs").empty())
        return make_error("port " + n + ": type dpdk needs options:dpdk-devargs");
      break;
    case PortType::kVhostUserClient: {
      auto it = spec.options.find("vhost-server-path");
      if (it == spec.options.end() || it->second.empty())
        return make_error("port " + n + ": type dpdkvhostuserclient needs options:vhost-server-path");
      if (it->second[0] != '/')
        return make_error("port " + n + ": vhost-server-path must be an absolute path, not \"" +
                          it->second + "\"");
      if (it->second.find(',') != std::string::npos)
        return make_error("port " + n + ": vhost-server-path must not contain ','");
      break;
    }
    case PortType::kInternal:
      if (n.size() >= IFNAMSIZ)
        return make_error("port " + n + ": an internal port's name must be at most " +
                          std::to_string(IFNAMSIZ - 1) + " characters (it names a tap device)");
      break;
    case PortType::kPatch:
      if (!spec.options.count("peer") || spec.options.at("peer").empty())
        return make_error("port " + n + ": type patch needs options:peer");
      if (spec.options.at("peer") == n)
        return make_error("port " + n + ": a patch port cannot be its own peer");
      break;
    case PortType::kVhostUser:
      break;
  }
  return ti->type;
}

Result<EthDevice> open_eth_device(const PortSpec& spec, PortType type, unsigned n_pmds, uint32_t uid, rte_mempool* pool) {
  const std::string& n = spec.name;
  const int n_rxq = parse_count(spec, "n_rxq", 1, 64).value();
  EthDevice dev;
  std::string devargs;
  switch (type) {
    case PortType::kDpdk:
      devargs = spec.options.at("dpdk-devargs");
      break;
    case PortType::kVhostUser:
    case PortType::kVhostUserClient:
      return make_error("port " + n + ": a vhost-user port is not an ethdev (VhostPort)");
    case PortType::kInternal:
      devargs = "net_tap" + std::to_string(uid) + ",iface=" + n;
      break;
    case PortType::kPatch:
      return make_error("port " + n + ": a patch port has no device");
  }
  dev.name = devargs.substr(0, devargs.find(','));

  int rc = rte_dev_probe(devargs.c_str());
  if (rc == 0) {
    dev.owned = true;
  } else if (rc != -EEXIST) {
    return make_error("port " + n + ": could not attach DPDK device \"" + devargs +
                      "\": " + errno_text(rc));
  }
  // The device's first ethdev port: by the device's name (a PCI address, a
  // vdev name), else by the ethdev's own name.
  bool found = false;
  uint16_t pid;
  RTE_ETH_FOREACH_DEV(pid) {
    rte_eth_dev_info di;
    if (rte_eth_dev_info_get(pid, &di) == 0 && di.device && dev.name == rte_dev_name(di.device)) {
      dev.port_id = pid;
      found = true;
      break;
    }
  }
  if (!found && rte_eth_dev_get_port_by_name(dev.name.c_str(), &dev.port_id) != 0) {
    if (dev.owned) rte_eal_hotplug_remove("vdev", dev.name.c_str());
    return make_error("port " + n + ": device \"" + dev.name + "\" attached but has no ethdev port");
  }

  auto fail = [&](const std::string& what, int code) -> Error {
    close_eth_device(dev);
    return make_error("port " + n + ": " + what + ": " + errno_text(code));
  };
  rte_eth_dev_info info;
  if ((rc = rte_eth_dev_info_get(dev.port_id, &info)) != 0) return fail("device info", rc);
  dev.n_rxq = static_cast<uint16_t>(std::min<int>(n_rxq, info.max_rx_queues));
  dev.n_txq = static_cast<uint16_t>(std::max<int>(1, std::min<int>(n_pmds, info.max_tx_queues)));
  if (dev.n_rxq == 0) return fail("device has no rx queue", EINVAL);
  rte_eth_conf conf{};
  if ((rc = rte_eth_dev_configure(dev.port_id, dev.n_rxq, dev.n_txq, &conf)) != 0 &&
      dev.n_rxq != dev.n_txq) {
    // Some devices (net_tap) want as many tx as rx queues: give both the
    // larger count; every rx queue is polled.
    const uint16_t n = std::max(dev.n_rxq, dev.n_txq);
    if (n <= info.max_rx_queues && n <= info.max_tx_queues) {
      dev.n_rxq = dev.n_txq = n;
      rc = rte_eth_dev_configure(dev.port_id, n, n, &conf);
    }
  }
  if (rc != 0) return fail("configure", rc);
  uint16_t rxd = 1024, txd = 1024;
  if (auto r = parse_count(spec, "n_rxq_desc", 1024, 4096)) rxd = static_cast<uint16_t>(r.value());
  if (auto r = parse_count(spec, "n_txq_desc", 1024, 4096)) txd = static_cast<uint16_t>(r.value());
  rte_eth_dev_adjust_nb_rx_tx_desc(dev.port_id, &rxd, &txd);
  int socket = rte_eth_dev_socket_id(dev.port_id);
  if (socket < 0) socket = SOCKET_ID_ANY;
  for (uint16_t q = 0; q < dev.n_rxq; ++q)
    if ((rc = rte_eth_rx_queue_setup(dev.port_id, q, rxd, socket, nullptr, pool)) != 0)
      return fail("rx queue setup", rc);
  for (uint16_t q = 0; q < dev.n_txq; ++q)
    if ((rc = rte_eth_tx_queue_setup(dev.port_id, q, txd, socket, nullptr)) != 0)
      return fail("tx queue setup", rc);
  if ((rc = rte_eth_dev_start(dev.port_id)) != 0) return fail("start", rc);
  rte_eth_promiscuous_enable(dev.port_id);  // not every device has the notion
  return dev;
}

Result<std::string> vhost_socket_path(const PortSpec& spec, PortType type,
                                      const std::string& rundir) {
  if (type == PortType::kVhostUserClient) return spec.options.at("vhost-server-path");
  // dpdkvhostuser: trestle serves <rundir>/<port name>, as ovs-vswitchd does.
  std::string path = rundir + "/" + spec.name;
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error("port " + spec.name + ": " + path + " exists and is not a socket");
    unlink(path.c_str());  // a stale socket of an earlier run
  }
  return path;
}

uint8_t port_tx_retries(const PortSpec& spec) {
  auto it = spec.options.find("tx-retries-max");
  return it == spec.options.end() ? 8 : static_cast<uint8_t>(std::stoi(it->second));
}

uint16_t port_n_rxq(const PortSpec& spec) {
  return static_cast<uint16_t>(parse_count(spec, "n_rxq", 1, 64).value());
}

void close_eth_device(const EthDevice& dev) {
  rte_eth_dev_info info;
  rte_device* rdev = rte_eth_dev_info_get(dev.port_id, &info) == 0 ? info.device : nullptr;
  rte_eth_dev_stop(dev.port_id);
  rte_eth_dev_close(dev.port_id);
  if (dev.owned && rdev) rte_dev_remove(rdev);
}

}  // namespace trestle::dataplane
