#pragma once
// Test peers for the dataplane: a "VM" as a DPDK virtio-user device in the
// test process (client of a dpdkvhostuser socket, or server for a
// dpdkvhostuserclient port), frame builders, and an EAL started once per
// test process with its own file prefix.

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace trestle::testing {

using Frame = std::vector<uint8_t>;

// Starts the EAL (no hugepages, a per-process file prefix) or fails the test
// binary; returns the pool test peers allocate from.
rte_mempool* test_eal();

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
  static std::unique_ptr<VirtioPeer> open(const std::string& path, bool server);
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

 private:
  VirtioPeer() = default;
  uint16_t port_ = 0;
  std::string name_;
};

// Runs a shell command; returns its exit status.
int sh(const std::string& cmd);
// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace trestle::testing
