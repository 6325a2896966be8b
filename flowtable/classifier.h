#pragma once
// Classifier: one OpenFlow table's rules, found by priority for a packet key.
//
// Tuple-space search: rules are grouped into subtables by their mask; each
// subtable is an open-addressing hash table from the masked key to the
// rules with exactly that match (sorted by priority). A lookup visits the
// subtables in order of the highest priority they hold and stops as soon as
// no remaining subtable can beat the best match found: a table whose rules
// share one mask (in_port + vlan: the neutron pattern) costs one hash probe,
// and many masks cost one probe each only down to the best hit's priority.
//
// Versions (see rule.h): lookup() takes the reader's version and ignores
// rules not visible in it, so inserts and logical deletes staged at the next
// version stay invisible until the owner publishes it.
//
// Thread-safety:
//  - One writer (the control thread) calls insert(), remove(), publish().
//  - Any number of readers call lookup() concurrently, without locks, and
//    never wait: every structure they traverse is either immutable (subtable
//    order, rule lists) and replaced with a release store, or a slot array
//    written with release stores of fully built nodes.
//  - Everything unlinked goes to the Reclaimer and is freed after a grace
//    period. remove() unlinks at once, so the owner calls it only for rules
//    no reader can still need: invisible in every version a reader may hold
//    (FlowTables waits a grace period after publishing the version that
//    hid them).

#include <atomic>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "flowtable/key.h"
#include "flowtable/reclaim.h"
#include "flowtable/rule.h"

namespace trestle::flowtable {

class Classifier {
 public:
  explicit Classifier(Reclaimer* reclaimer);
  ~Classifier();  // frees the structure (not the rules); no reader may be left
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // --- the writer ---
  void insert(const Rule* r);
  void remove(const Rule* r);
  // Makes the subtable order current for readers; call before publishing
  // the version that makes new rules visible.
  void publish();
  size_t n_rules() const { return n_rules_; }
  size_t n_subtables() const { return by_mask_.size(); }

  // --- readers ---
  // The highest-priority rule visible at `version` that matches `k`, if its
  // priority is above `min_priority`; null otherwise.
  //
  // Conjunctive matches (Nicira conjunction(id, k/n), as OVS defines them):
  // rules whose actions are conjunction() are clauses, never returned. When
  // the packet matches, at one priority above the best ordinary match, at
  // least one clause of each of conjunction id's n dimensions, the table is
  // searched again with conj_id = id (clauses ignored); a rule found there is
  // the result, else the search goes on to lower priorities and in the end
  // returns the ordinary match.
  const Rule* lookup(const FlowKey& k, uint64_t version, int32_t min_priority = -1) const {
    // Relaxed: a conjunctive rule is inserted (and this count raised) before
    // the version that makes it visible is published; a reader that can see
    // the rule acquired that version after the count changed.
    if (n_conjunctive_.load(std::memory_order_relaxed) == 0)
      return lookup_plain<false>(k, version, min_priority);
    return lookup_conjunctive(k, version, min_priority);
  }

  struct Node;
  struct Subtable;

 private:
  struct Entry {
    const Subtable* st;
    int32_t max_priority;  // an upper bound of the subtable's priorities
  };
  struct Order {
    uint32_t n;
    Entry e[];  // n entries, by max_priority, highest first
  };
  struct MaskHash {
    size_t operator()(const FlowKey& m) const;
  };

  template <bool kSkipClauses>
  const Rule* lookup_plain(const FlowKey& k, uint64_t version, int32_t min_priority) const;
  const Rule* lookup_conjunctive(const FlowKey& k, uint64_t version, int32_t min_priority) const;
  Subtable* subtable_for(const FlowKey& mask);
  void drop_subtable(Subtable* st);

  Reclaimer* reclaimer_;
  std::atomic<const Order*> order_;
  std::atomic<uint32_t> n_conjunctive_{0};  // conjunctive clauses in the table (any version)
  std::unordered_map<FlowKey, Subtable*, MaskHash> by_mask_;
  std::vector<Subtable*> dropped_;  // empty, still in the published order
  bool order_dirty_ = false;
  size_t n_rules_ = 0;
};

}  // namespace trestle::flowtable
