#pragma once
// A Sink for Pipeline tests: records every output with the key as it was and
// a VLAN stack (outermost first) as the frame would carry it.

#include <cstdint>
#include <string>
#include <vector>

#include "flowtable/key.h"
#include "flowtable/rule.h"

namespace trestle::flowtable::test {

struct Output {
  uint32_t port;
  uint16_t max_len;
  FlowKey key;
  uint64_t dirty;
  std::vector<uint16_t> vlans;  // key_tci values, outermost first
};

struct RecordingSink {
  std::vector<uint16_t> vlans;  // the frame's tags, outermost first
  std::vector<Output> outs;
  std::vector<uint8_t> misses;
  unsigned resubmit_limits = 0, in_port_outputs = 0;

  explicit RecordingSink(uint16_t key_tci = 0) {
    if (key_tci) vlans.push_back(key_tci);
  }
  void output(uint32_t port, uint16_t max_len, const FlowKey& k, uint64_t dirty) {
    outs.push_back({port, max_len, k, dirty, vlans});
  }
  void push_vlan(uint16_t, uint16_t tci) { vlans.insert(vlans.begin(), tci); }
  uint16_t pop_vlan() {
    if (!vlans.empty()) vlans.erase(vlans.begin());
    return vlans.empty() ? 0 : vlans.front();
  }
  void set_vlan_tci(uint16_t tci) {
    if (!vlans.empty()) vlans.front() = tci;
  }
  void table_miss(uint8_t t) { misses.push_back(t); }
  void resubmit_limit() { ++resubmit_limits; }
  void in_port_output() { ++in_port_outputs; }
  void matched(const Rule* r) { rules.push_back(r); }
  std::vector<const Rule*> rules;
};

}  // namespace trestle::flowtable::test
