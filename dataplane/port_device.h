#pragma once
// Turning a PortSpec into a started DPDK ethdev (vhost-user ports are
// VhostPorts, vhost.h; a patch port has no device), by type, as OVS names
// the types:
//   dpdk                 options:dpdk-devargs (PCI address or vdev), n_rxq
//   dpdkvhostuser        trestle serves <rundir>/<port name>; n_rxq
//   dpdkvhostuserclient  trestle connects to options:vhost-server-path and
//                        reconnects by itself when the peer restarts
//   internal             a Linux tap named after the port (net_tap)
//   patch                options:peer
// Every misconfiguration is an Error naming the port and the option.
//
// Thread-safety: control thread only.

#include <cstdint>
#include <string>

#include "base/result.h"
#include "dataplane/dataplane.h"

struct rte_mempool;

namespace trestle::dataplane {

enum class PortType : uint8_t { kDpdk, kVhostUser, kVhostUserClient, kInternal, kPatch };

struct EthDevice {
  uint16_t port_id = 0;
  std::string name;    // the ethdev / device name
  bool owned = false;  // we probed it, so we detach it
  uint16_t n_rxq = 0;
  uint16_t n_txq = 0;
};

// Checks the type and options; returns the type.
Result<PortType> validate_port_spec(const PortSpec& spec);

// Probes, configures and starts the device behind a non-patch port.
Result<EthDevice> open_eth_device(const PortSpec& spec, PortType type, unsigned n_pmds, uint32_t uid, rte_mempool* pool);

// The socket of a vhost-user port (a stale one of an earlier run removed).
Result<std::string> vhost_socket_path(const PortSpec& spec, PortType type,
                                      const std::string& rundir);
// options:tx-retries-max of a validated vhost-user spec (default 8, as OVS):
// how many more times a PMD offers the rest of a batch to a vring that
// took part of it.
uint8_t port_tx_retries(const PortSpec& spec);
// options:n_rxq of a validated spec (default 1).
uint16_t port_n_rxq(const PortSpec& spec);

// Stops, closes and (when owned) detaches it. No PMD may still poll it.
void close_eth_device(const EthDevice& dev);

}  // namespace trestle::dataplane
