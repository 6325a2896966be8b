#pragma once
// VhostPort: a vhost-user port driven through DPDK's vhost library directly
// (rte_vhost), not through the net_vhost ethdev, so it takes no ethdev slot:
// Debian's DPDK has RTE_MAX_ETHPORTS = 32, which capped a switch at 31 VM
// ports. As in OVS:
//   dpdkvhostuser        trestle serves the socket (the VM connects);
//   dpdkvhostuserclient  trestle connects to options:vhost-server-path and
//                        reconnects by itself when the peer restarts.
// Guest offloads (checksum, TSO, UFO) are not offered: every frame crosses
// the switch whole.
//
// Threads: open/close on the control thread. DPDK's vhost thread runs the
// callbacks (device ready / gone, vring enabled / disabled) and publishes
// the device id and the enabled queues through atomics; PMDs read them on
// the fast path (rx_vid / tx_vid) and then call rte_vhost_dequeue_burst /
// rte_vhost_enqueue_burst. A device going away waits for an RCU grace period
// of the PMDs (rte_rcu_qsbr) before DPDK frees it, so no PMD ever calls into
// a device that is gone. The callbacks take a registry mutex that no PMD
// ever takes.

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"

namespace trestle::dataplane {

inline constexpr uint16_t kMaxVhostQueuePairs = 64;

class VhostPort {
 public:
  // Registers and starts the socket. `qsbr`: the PMDs' RCU state, waited on
  // when the device goes away.
  static Result<std::unique_ptr<VhostPort>> open(const std::string& port_name,
                                                 const std::string& path, bool client,
                                                 uint16_t n_queues, rte_rcu_qsbr* qsbr);
  ~VhostPort();  // unregisters the socket; no PMD may still use the port

  VhostPort(const VhostPort&) = delete;
  VhostPort& operator=(const VhostPort&) = delete;

  // Fast path: the device id to poll queue pair `q` with (its guest-to-host
  // vring enabled), or -1.
  int rx_vid(uint16_t q) const {
    // Acquire: pairs with the release store in the ready callback, so the
    // device the id names was fully set up before a PMD uses it.
    const int vid = vid_.load(std::memory_order_acquire);
    // Relaxed: the mask only keeps PMDs off vrings that do not exist (DPDK
    // itself checks a vring's state under its own lock).
    return vid >= 0 && (rx_enabled_.load(std::memory_order_relaxed) >> q & 1) ? vid : -1;
  }
  // Fast path: the device id and the queue pair to send on, preferring
  // `want` (the PMD's queue), else the first enabled one; -1 when none.
  int tx_vid(uint16_t want, uint16_t* q) const {
    const int vid = vid_.load(std::memory_order_acquire);  // as in rx_vid
    if (vid < 0) return -1;
    const uint64_t m = tx_enabled_.load(std::memory_order_relaxed);  // as in rx_vid
    if (m >> want & 1) {
      *q = want;
    } else {
      if (!m) return -1;
      *q = static_cast<uint16_t>(__builtin_ctzll(m));
    }
    return vid;
  }

  bool connected() const { return vid_.load(std::memory_order_relaxed) >= 0; }
  const std::string& path() const { return path_; }
  bool client() const { return client_; }
  uint16_t n_queues() const { return n_queues_; }

  // Called by the vhost library's callbacks (vhost.cc): not for other use.
  void on_ready(int vid);
  void on_gone();
  void on_vring(uint16_t vring, bool enabled);

 private:
  VhostPort(std::string name, std::string path, bool client, uint16_t n_queues, rte_rcu_qsbr* qsbr)
      : name_(std::move(name)), path_(std::move(path)), client_(client), n_queues_(n_queues),
        qsbr_(qsbr) {}

  const std::string name_;
  const std::string path_;
  const bool client_;
  const uint16_t n_queues_;
  rte_rcu_qsbr* const qsbr_;
  bool registered_ = false;
  std::atomic<int> vid_{-1};
  // Bit q: queue pair q's vring enabled by the guest; rx = the guest's
  // transmit vring (2q + 1), tx = its receive vring (2q).
  std::atomic<uint64_t> rx_enabled_{0}, tx_enabled_{0};
};

}  // namespace trestle::dataplane
