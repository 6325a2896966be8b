#pragma once
// What every dataplane test process shares: an EAL started once with its own
// file prefix, a pool for peers, shell commands, temporary directories.

#include <rte_mempool.h>

#include <string>

#include "bench/peer/virtio_peer.h"

namespace trestle::testing {

using peer::Frame;
using peer::VirtioPeer;
using peer::frame_dst;
using peer::frame_src;
using peer::frame_vid;
using peer::make_frame;

// Starts the EAL (no hugepages, a per-process file prefix) or throws;
// returns the pool that test peers allocate from.
rte_mempool* test_eal();

// Runs a shell command; returns its exit status.
int sh(const std::string& cmd);
// Runs a shell command; returns what it printed (stdout and stderr, the
// trailing newlines cut), prefixed "FAILED(<status>): " unless it exited 0.
std::string run(const std::string& cmd);

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
