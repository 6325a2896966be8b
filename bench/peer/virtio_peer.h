#pragma once
// Peers of the switch for tests, the demo and benchmarks: a "VM" as a DPDK
// virtio-user device in the caller's process (client of a dpdkvhostuser
// socket, or server for a dpdkvhostuserclient port, as QEMU is), and frame
// builders. The caller has started the EAL.

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace trestle::peer {

using Frame = std::vector<uint8_t>;

// An Ethernet frame: dst, src, optional 802.1Q tags (outermost first, each a
// TCI), ethertype 0x0800 and zero payload up to `len` bytes in all.
Frame make_frame(uint64_t dst, uint64_t src, std::vector<uint16_t> tags = {}, uint32_t len = 64,
                 uint16_t tpid = 0x8100);
uint64_t frame_dst(const Frame& f);
uint64_t frame_src(const Frame& f);
// The outer VID, or nullopt when untagged.
std::optional<uint16_t> frame_vid(const Frame& f);

class VirtioPeer {
 public:
  // server=false: connects to `path` (trestle is the vhost-user server);
  // server=true: listens on `path` (trestle's dpdkvhostuserclient connects).
  // Frames to send are allocated from `pool`. Throws std::runtime_error.
  static std::unique_ptr<VirtioPeer> open(const std::string& path, bool server,
                                          rte_mempool* pool);
  ~VirtioPeer();

  uint16_t port() const { return port_; }
  bool wait_link(int timeout_ms = 5000);
  // Sends all frames (retrying a full ring for up to a second); returns how
  // many were sent.
  size_t send(const std::vector<Frame>& frames);
  // Receives until `count` frames arrived or `timeout_ms` passed.
  std::vector<Frame> receive(size_t count, int timeout_ms = 2000);
  // Whatever arrives within `ms`.
  std::vector<Frame> drain(int ms = 200) { return receive(SIZE_MAX, ms); }

  // The fast, non-blocking pair for load: one tx burst of up to `n` copies
  // of `f` (returns how many the ring took; the rest are freed) and one rx
  // burst counted into `c` and freed.
  uint16_t tx_copies(const Frame& f, uint16_t n);
  struct RxCount {
    uint64_t packets = 0, bytes = 0;
    std::map<int, uint64_t> by_vid;  // outer VID, -1 for untagged
  };
  uint16_t rx_count(RxCount& c);

 private:
  VirtioPeer() = default;
  uint16_t port_ = 0;
  std::string name_;
  rte_mempool* pool_ = nullptr;
};

}  // namespace trestle::peer
