#pragma once
// FlowTables: a bridge's OpenFlow tables 0-254 with OpenFlow 1.3 flow_mod
// semantics, driven through FlowMod values (the OpenFlow channel decodes
// wire messages into them), and read by the PMD threads through lookup().
//
//  - add replaces a rule with an identical match and priority (counters
//    carried over unless OFPFF_RESET_COUNTS; duration restarts), or fails
//    with OFPFMFC_OVERLAP under OFPFF_CHECK_OVERLAP when any rule of the same
//    priority overlaps;
//  - modify / modify_strict replace the instructions of the rules they
//    select (non-strict: rules whose match lies within the flow_mod's, any
//    priority; strict: identical match and priority), keeping cookie,
//    timeouts, duration and counters (cookie changes when cookie_mask is 0,
//    as OVS does; counters reset under OFPFF_RESET_COUNTS); OpenFlow 1.0's
//    "modify adds when nothing matches" with FlowMod::modify_may_add;
//  - delete / delete_strict, on one table or all (OFPTT_ALL), filtered by
//    out_port, out_group and cookie/cookie_mask;
//  - idle and hard timeouts through expire(), flow-removed records for
//    rules with OFPFF_SEND_FLOW_REM;
//  - bundles: flow_mods staged together commit atomically or not at all.
// A new FlowTables holds one rule, table 0 priority 0 actions=NORMAL, as a
// new OVS bridge does (Options::default_normal).
//
// Thread-safety:
//  - One writer (the control thread) calls every non-const method and
//    dump(). Each flow_mod (or bundle) is staged at version V+1 (new rules
//    invisible, removed rules marked to disappear at V+1) and committed with
//    one release store of V+1: a reader sees all of it or none of it.
//  - Readers (PMD threads) call version() once per burst and lookup() with
//    it, concurrently with the writer, never blocking. Rules removed at V
//    are unlinked from the classifier one grace period after V is published
//    (no reader can still hold an older version) and freed one grace period
//    later, through the Reclaimer.

#include <array>
#include <bitset>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

#include "flowtable/action.h"
#include "flowtable/classifier.h"
#include "flowtable/errors.h"
#include "flowtable/match.h"
#include "flowtable/reclaim.h"
#include "flowtable/rule.h"

namespace trestle::flowtable {

struct FlowMod {
  enum class Command : uint8_t { kAdd, kModify, kModifyStrict, kDelete, kDeleteStrict };
  Command command = Command::kAdd;
  uint8_t table = 0;  // OFPTT_ALL for modify/delete on every table
  uint16_t priority = 0x8000;
  Match match;
  uint64_t cookie = 0, cookie_mask = 0;
  uint16_t idle_timeout = 0, hard_timeout = 0, flags = 0;
  uint32_t out_port = OFPP_ANY;
  uint32_t out_group = OFPG_ANY;
  Instructions ins;
  bool modify_may_add = false;  // OpenFlow 1.0 semantics of modify
};

struct FlowStats {
  uint8_t table;
  uint16_t priority;
  uint64_t cookie;
  uint16_t idle_timeout, hard_timeout, flags;
  uint64_t duration_ms;
  uint64_t packets, bytes;
  Match match;
  Instructions ins;
};

struct FlowStatsRequest {
  uint8_t table = OFPTT_ALL;
  Match match;  // non-strict: rules whose match lies within it
  bool strict = false;
  uint16_t priority = 0;  // strict only
  uint32_t out_port = OFPP_ANY;
  uint32_t out_group = OFPG_ANY;
  uint64_t cookie = 0, cookie_mask = 0;
};

enum class RemovedReason : uint8_t { kIdleTimeout = 0, kHardTimeout = 1, kDelete = 2 };

struct FlowRemoved {
  FlowStats stats;
  RemovedReason reason;
};

class FlowTables {
 public:
  struct Options {
    unsigned n_counter_slots = 1;  // one per reader thread that counts (PMD index)
    bool default_normal = true;
    std::function<uint64_t()> now_ms;  // monotonic; default steady_clock
  };

  FlowTables(Reclaimer* reclaimer, Options opts);
  explicit FlowTables(Reclaimer* reclaimer) : FlowTables(reclaimer, Options{}) {}
  ~FlowTables();
  FlowTables(const FlowTables&) = delete;
  FlowTables& operator=(const FlowTables&) = delete;

  // --- the writer ---
  // One flow_mod, committed at once (or rejected, changing nothing).
  OfStatus apply(const FlowMod& fm);
  // A bundle: flow_mods staged by bundle_add() (each checked as it comes;
  // a failing one discards the bundle), committed together.
  void bundle_open();
  OfStatus bundle_add(const FlowMod& fm);
  OfStatus bundle_commit();
  void bundle_discard();
  bool bundle_is_open() const { return bundle_open_; }

  std::vector<FlowStats> dump(const FlowStatsRequest& req) const;
  // Removes rules whose idle or hard timeout passed; returns the flow-removed
  // records of those with OFPFF_SEND_FLOW_REM. Call about once a second.
  std::vector<FlowRemoved> expire();
  // Flow-removed records of rules deleted by flow_mods since the last call.
  std::vector<FlowRemoved> take_removed();
  size_t n_rules() const { return n_rules_; }
  size_t n_rules(uint8_t table) const { return index_[table].size(); }
  size_t n_subtables(uint8_t table) const { return tables_[table]->n_subtables(); }

  // --- readers ---
  // 8< reader api
  uint64_t version() const {
    // Acquire: pairs with the release store in commit(); everything staged
    // for this version (rules, lists, subtable order) is visible after it.
    return version_.load(std::memory_order_acquire);
  }
  const Rule* lookup(uint8_t table, const FlowKey& k, uint64_t version) const {
    return tables_[table]->lookup(k, version);
  }
  // >8
  // The sole rule when the tables hold exactly one: table 0, matching
  // everything, actions=NORMAL and nothing else (a new bridge, or
  // fail_mode standalone without flows); null otherwise. A walk may then
  // skip the lookup: the pointer is stored before the version it describes
  // is published, and always describes a whole committed state, so a
  // packet using it sees that state entirely.
  const Rule* sole_normal_rule() const {
    // Acquire: pairs with the release in commit(); the rule is complete.
    return sole_normal_.load(std::memory_order_acquire);
  }

 private:
  struct Ident {
    const Match* match;
    uint16_t priority;
  };
  struct IdentHash {
    using is_transparent = void;
    size_t operator()(const Rule* r) const { return r->match.hash() ^ r->priority; }
    size_t operator()(const Ident& i) const { return i.match->hash() ^ i.priority; }
  };
  struct IdentEq {
    using is_transparent = void;
    static bool eq(const Match& a, uint16_t pa, const Match& b, uint16_t pb) {
      return pa == pb && a == b;
    }
    bool operator()(const Rule* a, const Rule* b) const {
      return eq(a->match, a->priority, b->match, b->priority);
    }
    bool operator()(const Ident& a, const Rule* b) const {
      return eq(*a.match, a.priority, b->match, b->priority);
    }
    bool operator()(const Rule* a, const Ident& b) const {
      return eq(a->match, a->priority, *b.match, b.priority);
    }
  };
  using Index = std::unordered_set<Rule*, IdentHash, IdentEq>;
  struct Undo {
    bool added;  // else removed
    Rule* rule;
  };

  OfStatus stage(const FlowMod& fm);
  OfStatus stage_add(const FlowMod& fm);
  OfStatus stage_modify(const FlowMod& fm);
  void stage_delete(const FlowMod& fm, RemovedReason why);
  Rule* new_rule(const FlowMod& fm, uint8_t table);
  void stage_insert(Rule* r);
  void stage_remove(Rule* r, RemovedReason why, bool report);
  void stage_replace(Rule* old, Rule* r, bool reset_counts);
  void commit();
  void rollback();
  void touch(uint8_t table) {
    if (!touched_set_.test(table)) {
      touched_set_.set(table);
      touched_.push_back(table);
    }
  }
  void publish_touched();  // the subtable order of the tables staging changed
  bool selects(const Rule* r, const FlowMod& fm, bool strict) const;
  FlowStats stats_of(const Rule* r) const;
  void unlink(Rule* r);

  // What readers touch first, on one cache line: the version, the trivial
  // rule, then the tables.
  alignas(64) std::atomic<uint64_t> version_{1};
  std::atomic<const Rule*> sole_normal_{nullptr};
  std::array<std::unique_ptr<Classifier>, kNumTables> tables_;
  Reclaimer* reclaimer_;
  Options opts_;
  std::array<Index, kNumTables> index_;  // the staged state, by identity
  std::unordered_set<Rule*> timed_;      // live rules with a timeout
  std::unordered_set<Rule*> zombies_;    // removed, waiting to be unlinked
  std::vector<Undo> undo_;               // what the staged version changed
  std::vector<FlowRemoved> removed_;     // committed, for take_removed()
  std::vector<FlowRemoved> staged_removed_;
  uint64_t staged_ = 2;  // the version being staged
  bool bundle_open_ = false;
  size_t n_rules_ = 0;  // in the staged state, all tables
  std::vector<uint8_t> touched_;  // tables whose classifier changed since the last publish
  std::bitset<kNumTables> touched_set_;
  // Lets deferred unlinks know whether the tables still exist.
  std::shared_ptr<FlowTables*> self_;
};

}  // namespace trestle::flowtable
