#pragma once
// A Dataplane with its own run dir and PMD, plus virtio-user "VMs" attached
// to its vhost-user ports, for integration tests with real DPDK traffic.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "dataplane/dataplane.h"
#include "tests/support/support.h"

namespace trestle::testing {

class SwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_eal();
    cfg_.rundir = dir_.path();
    auto r = dataplane::Dataplane::create(cfg_);
    ASSERT_TRUE(r.ok()) << r.error().message;
    dp_ = std::move(r.value());
    dp_->start_control_thread();
  }
  void TearDown() override {
    peers_.clear();
    dp_.reset();
  }

  void bridge(const std::string& name, dataplane::BridgeSettings s = {}) {
    auto r = dp_->add_bridge(name, s);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  void port(const std::string& br, dataplane::PortSpec spec) {
    auto r = dp_->add_port(br, spec);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  // A dpdkvhostuser port with a connected virtio-user VM.
  VirtioPeer& vm(const std::string& br, const std::string& name, vlan::PortVlanSettings v) {
    port(br, {name, "dpdkvhostuser", {}, v, {}});
    auto peer = VirtioPeer::open(dir_.path() + "/" + name, false, test_eal());
    EXPECT_TRUE(peer->wait_link());
    EXPECT_TRUE(wait_link(name));
    auto& ref = *peer;
    peers_[name] = std::move(peer);
    return ref;
  }
  void patch(const std::string& br1, const std::string& p1, const std::string& br2,
             const std::string& p2) {
    port(br1, {p1, "patch", {{"peer", p2}}, {}, {}});
    port(br2, {p2, "patch", {{"peer", p1}}, {}, {}});
  }
  bool wait_link(const std::string& name, int timeout_ms = 5000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      auto st = dp_->port_stats(name);
      if (st.ok() && st->link_up) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  dataplane::PortStats stats(const std::string& name) {
    auto st = dp_->port_stats(name);
    EXPECT_TRUE(st.ok());
    return st.ok() ? st.value() : dataplane::PortStats{};
  }
  uint64_t drops(const std::string& name, dataplane::Drop d) {
    return stats(name).drops[static_cast<size_t>(d)];
  }
  // Waits until the bridge has learned `mac` (learning is asynchronous).
  bool wait_learned(const std::string& br, uint64_t mac, int timeout_ms = 2000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      auto t = dp_->mac_table(br);
      if (t.ok())
        for (const auto& e : t.value())
          if (e.mac == mac) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  TempDir dir_;
  dataplane::DataplaneConfig cfg_;
  std::unique_ptr<dataplane::Dataplane> dp_;
  std::map<std::string, std::unique_ptr<VirtioPeer>> peers_;
};

inline vlan::PortVlanSettings access(int tag) { return {"access", tag, {}}; }
inline vlan::PortVlanSettings trunk(std::vector<int> trunks = {}) {
  return {"trunk", std::nullopt, std::move(trunks)};
}

}  // namespace trestle::testing
