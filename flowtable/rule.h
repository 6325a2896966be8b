#pragma once
// Rule: one OpenFlow flow entry. Immutable once inserted, except for its
// counters, its hit mark and its remove_version: a modify that changes the
// instructions replaces the rule with a new one in the same version step.
//
// Versions: a rule is visible to a reader working at version v when
// add_version <= v < remove_version. The writer stages changes at the next
// version and publishes it with one store, so a reader sees a flow_mod (or
// a whole bundle) entirely or not at all.
//
// Thread-safety: readers (PMD threads) call visible(), count() for their own
// counter slot, and mark_hit(); the writer reads counters with relaxed
// loads (they are monotonic per slot) and owns everything else.

#include <atomic>
#include <cstdint>
#include <memory>

#include "flowtable/action.h"
#include "flowtable/match.h"

namespace trestle::flowtable {

inline constexpr uint64_t kVersionNever = UINT64_MAX;

// OpenFlow 1.3 ofp_flow_mod_flags.
enum : uint16_t {
  OFPFF_SEND_FLOW_REM = 1 << 0,
  OFPFF_CHECK_OVERLAP = 1 << 1,
  OFPFF_RESET_COUNTS = 1 << 2,
  OFPFF_NO_PKT_COUNTS = 1 << 3,
  OFPFF_NO_BYT_COUNTS = 1 << 4,
};

struct RuleCounter {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
};

class Rule {
 public:
  Rule(unsigned n_slots) : n_slots_(n_slots), counters_(new RuleCounter[n_slots]) {}

  Match match;
  uint16_t priority = 0x8000;
  uint8_t table = 0;
  uint64_t cookie = 0;
  Instructions ins;
  uint16_t idle_timeout = 0, hard_timeout = 0, flags = 0;
  bool conjunctive = false;   // ins.conjunctive(): a clause, never the rule a lookup returns
  uint64_t created_ms = 0;    // writer: for duration and hard_timeout
  uint64_t last_used_ms = 0;  // writer: updated from the hit mark, for idle_timeout
  uint64_t base_packets = 0, base_bytes = 0;  // carried over from a replaced rule
  uint64_t add_version = 0;
  std::atomic<uint64_t> remove_version{kVersionNever};

  // 8< visible
  bool visible(uint64_t v) const {
    // Relaxed: a reader that acquired version v sees a remove_version
    // written before v was published; for an older v either value answers
    // the same (old: never, new: v' > v).
    return add_version <= v && v < remove_version.load(std::memory_order_relaxed);
  }
  // >8

  // One packet of `bytes` hit the rule on counter slot `slot` (a PMD index):
  // a plain load + store, the slot has one writer.
  void count(unsigned slot, uint64_t packets, uint64_t bytes) const {
    RuleCounter& c = counters_[slot];
    c.packets.store(c.packets.load(std::memory_order_relaxed) + packets, std::memory_order_relaxed);
    c.bytes.store(c.bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
    // The hit mark feeds idle timeouts; stored only when clear so the line
    // is not written per packet.
    if (!hit_.load(std::memory_order_relaxed)) hit_.store(true, std::memory_order_relaxed);
  }
  uint64_t packets() const {
    uint64_t n = base_packets;
    for (unsigned i = 0; i < n_slots_; ++i) n += counters_[i].packets.load(std::memory_order_relaxed);
    return n;
  }
  uint64_t bytes() const {
    uint64_t n = base_bytes;
    for (unsigned i = 0; i < n_slots_; ++i) n += counters_[i].bytes.load(std::memory_order_relaxed);
    return n;
  }
  // Writer: whether the rule was hit since the last call.
  bool take_hit() { return hit_.exchange(false, std::memory_order_relaxed); }

 private:
  const unsigned n_slots_;
  std::unique_ptr<RuleCounter[]> counters_;
  mutable std::atomic<bool> hit_{false};
};

}  // namespace trestle::flowtable
