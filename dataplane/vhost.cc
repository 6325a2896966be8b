#include "dataplane/vhost.h"

#include <rte_errno.h>
#include <rte_vhost.h>

#include <map>
#include <mutex>

namespace trestle::dataplane {
namespace {

// Socket path -> port, for the callbacks (which know a device by its id and
// its socket path only). Taken by the control thread and DPDK's vhost
// thread, never by a PMD.
std::mutex g_mu;
std::map<std::string, VhostPort*>& registry() {
  static std::map<std::string, VhostPort*> m;
  return m;
}

VhostPort* port_of(int vid) {
  char path[PATH_MAX];
  if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0) return nullptr;
  std::lock_guard lock(g_mu);
  auto it = registry().find(path);
  return it == registry().end() ? nullptr : it->second;
}

int new_device(int vid) {
  if (VhostPort* p = port_of(vid)) p->on_ready(vid);
  return 0;
}

void destroy_device(int vid) {
  if (VhostPort* p = port_of(vid)) p->on_gone();
}

int vring_state_changed(int vid, uint16_t vring, int enable) {
  if (VhostPort* p = port_of(vid)) p->on_vring(vring, enable != 0);
  return 0;
}

const rte_vhost_device_ops kOps = {
    .new_device = new_device,
    .destroy_device = destroy_device,
    .vring_state_changed = vring_state_changed,
    .features_changed = nullptr,
    .new_connection = nullptr,
    .destroy_connection = nullptr,
    .guest_notified = nullptr,
    .reserved = {nullptr},
};

// Offloads neither side may use, so frames cross the switch whole: the
// virtio-net feature bits (virtio spec 5.1.3; <linux/virtio_net.h> does not
// compile as C++) CSUM 0, GUEST_CSUM 1, GUEST_TSO4 7, GUEST_TSO6 8,
// GUEST_ECN 9, GUEST_UFO 10, HOST_TSO4 11, HOST_TSO6 12, HOST_ECN 13,
// HOST_UFO 14.
constexpr uint64_t kNoOffloads = 1ULL << 0 | 1ULL << 1 | 1ULL << 7 | 1ULL << 8 | 1ULL << 9 |
                                 1ULL << 10 | 1ULL << 11 | 1ULL << 12 | 1ULL << 13 | 1ULL << 14;

uint64_t low_bits(unsigned n) { return n >= 64 ? ~0ULL : (1ULL << n) - 1; }

}  // namespace

Result<std::unique_ptr<VhostPort>> VhostPort::open(const std::string& port_name,
                                                   const std::string& path, bool client,
                                                   uint16_t n_queues, rte_rcu_qsbr* qsbr) {
  if (n_queues == 0 || n_queues > kMaxVhostQueuePairs)
    return make_error("port " + port_name + ": n_rxq must be 1 to " +
                      std::to_string(kMaxVhostQueuePairs));
  std::unique_ptr<VhostPort> p(new VhostPort(port_name, path, client, n_queues, qsbr));
  {
    std::lock_guard lock(g_mu);
    if (registry().count(path))
      return make_error("port " + port_name + ": socket " + path + " is used by another port");
    registry()[path] = p.get();
  }
  auto fail = [&](const std::string& what) -> Error {
    const std::string why = rte_strerror(rte_errno);
    return make_error("port " + port_name + ": vhost-user socket " + path + ": " + what +
                      (rte_errno ? " (" + why + ")" : ""));
  };
  rte_errno = 0;
  if (rte_vhost_driver_register(path.c_str(), client ? RTE_VHOST_USER_CLIENT : 0) != 0) {
    std::lock_guard lock(g_mu);
    registry().erase(path);
    return fail("cannot register");
  }
  p->registered_ = true;  // from here the destructor unregisters
  if (rte_vhost_driver_disable_features(path.c_str(), kNoOffloads) != 0)
    return fail("cannot set its features");
  if (rte_vhost_driver_callback_register(path.c_str(), &kOps) != 0)
    return fail("cannot register callbacks");
  if (rte_vhost_driver_start(path.c_str()) != 0)
    return fail(client ? "cannot start connecting" : "cannot listen");
  return p;
}

VhostPort::~VhostPort() {
  // Unregistering closes the connection: DPDK runs destroy_device (on_gone)
  // first when a device is up. Not under g_mu: the callbacks take it.
  if (registered_) rte_vhost_driver_unregister(path_.c_str());
  std::lock_guard lock(g_mu);
  auto it = registry().find(path_);
  if (it != registry().end() && it->second == this) registry().erase(it);
}

void VhostPort::on_ready(int vid) {
  for (uint16_t i = 0; i < rte_vhost_get_vring_num(vid); ++i)
    rte_vhost_enable_guest_notification(vid, i, 0);  // PMDs poll: no kicks
  // Vring pairs that exist now; the enable / disable callbacks refine this
  // (a guest without the protocol features never sends them).
  const uint64_t pairs = low_bits(std::min<unsigned>(rte_vhost_get_vring_num(vid) / 2, n_queues_));
  // Relaxed: published by the release store of the id below.
  rx_enabled_.fetch_or(pairs, std::memory_order_relaxed);
  tx_enabled_.fetch_or(pairs, std::memory_order_relaxed);
  // Release: a PMD that acquires the id sees the device set up (DPDK has
  // finished with it before calling us) and the masks above.
  vid_.store(vid, std::memory_order_release);
}

void VhostPort::on_gone() {
  // Relaxed: the grace period below orders these before DPDK frees anything.
  vid_.store(-1, std::memory_order_relaxed);
  rx_enabled_.store(0, std::memory_order_relaxed);
  tx_enabled_.store(0, std::memory_order_relaxed);
  // Every PMD passes a quiescent point (the end of a poll-loop iteration)
  // after it could last have read the old id: none is inside a vhost call
  // on this device any more. Never called on a PMD thread.
  if (qsbr_) rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
}

void VhostPort::on_vring(uint16_t vring, bool enabled) {
  const uint16_t q = vring / 2;
  if (q >= n_queues_) return;  // a queue pair we do not poll
  std::atomic<uint64_t>& m = vring % 2 ? rx_enabled_ : tx_enabled_;
  // Relaxed: see rx_vid; the vring's own state is DPDK's, under its lock.
  if (enabled)
    m.fetch_or(1ULL << q, std::memory_order_relaxed);
  else
    m.fetch_and(~(1ULL << q), std::memory_order_relaxed);
}

}  // namespace trestle::dataplane
