#include "flowtable/flow_table.h"

#include <algorithm>
#include <chrono>

namespace trestle::flowtable {
namespace {

uint64_t steady_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

constexpr uint16_t kKnownFlags = OFPFF_SEND_FLOW_REM | OFPFF_CHECK_OVERLAP | OFPFF_RESET_COUNTS |
                                 OFPFF_NO_PKT_COUNTS | OFPFF_NO_BYT_COUNTS;

OfError err(uint16_t type, uint16_t code, std::string msg) { return OfError{type, code, std::move(msg)}; }

}  // namespace

FlowTables::FlowTables(Reclaimer* reclaimer, Options opts)
    : reclaimer_(reclaimer), opts_(std::move(opts)), self_(std::make_shared<FlowTables*>(this)) {
  if (!opts_.now_ms) opts_.now_ms = steady_ms;
  if (opts_.n_counter_slots == 0) opts_.n_counter_slots = 1;
  for (auto& t : tables_) t = std::make_unique<Classifier>(reclaimer_);
  if (opts_.default_normal) {
    FlowMod fm;
    fm.priority = 0;
    fm.ins.apply.push_back(Action::output(OFPP_NORMAL));
    (void)apply(fm);
  }
}

FlowTables::~FlowTables() {
  *self_ = nullptr;
  std::vector<Rule*> all(zombies_.begin(), zombies_.end());
  for (auto& idx : index_) all.insert(all.end(), idx.begin(), idx.end());
  for (auto& u : undo_) all.push_back(u.rule);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  for (auto& t : tables_) t.reset();
  for (Rule* r : all) delete r;
}

Rule* FlowTables::new_rule(const FlowMod& fm, uint8_t table) {
  auto* r = new Rule(opts_.n_counter_slots);
  r->match = fm.match;
  r->priority = fm.priority;
  r->table = table;
  r->cookie = fm.cookie;
  r->ins = fm.ins;
  r->conjunctive = r->ins.conjunctive();
  r->idle_timeout = fm.idle_timeout;
  r->hard_timeout = fm.hard_timeout;
  r->flags = fm.flags;
  r->created_ms = r->last_used_ms = opts_.now_ms();
  r->add_version = staged_;
  return r;
}

void FlowTables::stage_insert(Rule* r) {
  ++n_rules_;
  touch(r->table);
  tables_[r->table]->insert(r);
  index_[r->table].insert(r);
  if (r->idle_timeout || r->hard_timeout) timed_.insert(r);
  undo_.push_back({true, r});
}

void FlowTables::stage_remove(Rule* r, RemovedReason why, bool report) {
  // Relaxed: readers on versions below staged_ answer the same either way.
  r->remove_version.store(staged_, std::memory_order_relaxed);
  --n_rules_;
  index_[r->table].erase(r);
  timed_.erase(r);
  undo_.push_back({false, r});
  if (report && (r->flags & OFPFF_SEND_FLOW_REM)) staged_removed_.push_back({stats_of(r), why});
}

// `r` takes `old`'s place in the same version step, with its counters
// unless they are reset.
void FlowTables::stage_replace(Rule* old, Rule* r, bool reset_counts) {
  if (!reset_counts) {
    r->base_packets = old->packets();
    r->base_bytes = old->bytes();
  }
  stage_remove(old, RemovedReason::kDelete, false);
  stage_insert(r);
}

bool FlowTables::selects(const Rule* r, const FlowMod& fm, bool strict) const {
  if (strict) {
    if (r->priority != fm.priority || !(r->match == fm.match)) return false;
  } else if (!r->match.within(fm.match)) {
    return false;
  }
  if ((r->cookie & fm.cookie_mask) != (fm.cookie & fm.cookie_mask)) return false;
  if (!r->ins.outputs_to(fm.out_port)) return false;
  if (fm.out_group != OFPG_ANY) return false;  // no rule outputs to a group
  return true;
}

OfStatus FlowTables::stage_add(const FlowMod& fm) {
  if (fm.table >= kNumTables)
    return err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID,
               "flow_mod add needs a table 0-254, not " + std::to_string(fm.table));
  if (auto e = validate_instructions(fm.ins, fm.match, fm.table)) return e;
  Index& idx = index_[fm.table];
  if (fm.flags & OFPFF_CHECK_OVERLAP) {
    for (const Rule* r : idx)
      if (r->priority == fm.priority && r->match.overlaps(fm.match))
        return err(OFPET_FLOW_MOD_FAILED, OFPFMFC_OVERLAP,
                   "flow overlaps an existing flow of priority " + std::to_string(fm.priority) +
                       " (" + r->match.to_string() + ")");
  }
  Rule* r = new_rule(fm, fm.table);
  auto it = idx.find(Ident{&fm.match, fm.priority});
  if (it != idx.end())
    stage_replace(*it, r, fm.flags & OFPFF_RESET_COUNTS);
  else
    stage_insert(r);
  return std::nullopt;
}

OfStatus FlowTables::stage_modify(const FlowMod& fm) {
  const bool strict = fm.command == FlowMod::Command::kModifyStrict;
  if (fm.table != OFPTT_ALL && fm.table >= kNumTables)
    return err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID, "no table " + std::to_string(fm.table));
  if (auto e = validate_instructions(fm.ins, fm.match, fm.table == OFPTT_ALL ? 0 : fm.table))
    return e;
  // Modify selects by cookie only when a mask is given; without one it
  // sets the cookie (OVS's reading of OpenFlow 1.1+).
  FlowMod sel = fm;
  sel.out_port = OFPP_ANY;
  sel.out_group = OFPG_ANY;
  std::vector<Rule*> hits;
  const unsigned lo = fm.table == OFPTT_ALL ? 0 : fm.table;
  const unsigned hi = fm.table == OFPTT_ALL ? kNumTables - 1 : fm.table;
  for (unsigned t = lo; t <= hi; ++t)
    for (Rule* r : index_[t])
      if (selects(r, sel, strict)) hits.push_back(r);
  if (hits.empty()) {
    if (!fm.modify_may_add) return std::nullopt;
    FlowMod add = fm;
    add.command = FlowMod::Command::kAdd;
    add.table = fm.table == OFPTT_ALL ? 0 : fm.table;
    return stage_add(add);
  }
  for (Rule* old : hits)
    if (fm.ins.goto_table && *fm.ins.goto_table <= old->table)
      return err(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_TABLE_ID,
                 "goto_table:" + std::to_string(*fm.ins.goto_table) + " from table " +
                     std::to_string(old->table) + " does not go forward");
  for (Rule* old : hits) {
    FlowMod keep = fm;
    keep.match = old->match;
    keep.priority = old->priority;
    keep.cookie = fm.cookie_mask == 0 ? fm.cookie : old->cookie;
    keep.idle_timeout = old->idle_timeout;
    keep.hard_timeout = old->hard_timeout;
    keep.flags = static_cast<uint16_t>(old->flags | (fm.flags & OFPFF_RESET_COUNTS));
    Rule* r = new_rule(keep, old->table);
    r->flags = old->flags;
    r->created_ms = old->created_ms;
    r->last_used_ms = old->last_used_ms;
    stage_replace(old, r, fm.flags & OFPFF_RESET_COUNTS);
  }
  return std::nullopt;
}

void FlowTables::stage_delete(const FlowMod& fm, RemovedReason why) {
  const bool strict = fm.command == FlowMod::Command::kDeleteStrict;
  const unsigned lo = fm.table == OFPTT_ALL ? 0 : fm.table;
  const unsigned hi = fm.table == OFPTT_ALL ? kNumTables - 1 : fm.table;
  std::vector<Rule*> hits;
  for (unsigned t = lo; t <= hi; ++t) {
    if (strict) {
      auto it = index_[t].find(Ident{&fm.match, fm.priority});
      if (it != index_[t].end() && selects(*it, fm, true)) hits.push_back(*it);
      continue;
    }
    for (Rule* r : index_[t])
      if (selects(r, fm, false)) hits.push_back(r);
  }
  for (Rule* r : hits) stage_remove(r, why, true);
}

OfStatus FlowTables::stage(const FlowMod& fm) {
  if (fm.flags & ~kKnownFlags)
    return err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_FLAGS, "unknown flow_mod flags");
  if (auto e = fm.match.validate()) return e;
  switch (fm.command) {
    case FlowMod::Command::kAdd: return stage_add(fm);
    case FlowMod::Command::kModify:
    case FlowMod::Command::kModifyStrict: return stage_modify(fm);
    case FlowMod::Command::kDelete:
    case FlowMod::Command::kDeleteStrict:
      if (fm.table != OFPTT_ALL && fm.table >= kNumTables)
        return err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID,
                   "no table " + std::to_string(fm.table));
      stage_delete(fm, RemovedReason::kDelete);
      return std::nullopt;
  }
  return err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_COMMAND, "unknown flow_mod command");
}

void FlowTables::unlink(Rule* r) {
  if (!zombies_.erase(r)) return;
  tables_[r->table]->remove(r);
  tables_[r->table]->publish();
  reclaimer_->defer([r] { delete r; });
}

// 8< commit
void FlowTables::commit() {
  publish_touched();
  // The state being committed is trivial when the tables hold one rule:
  // table 0, empty match, apply_actions=NORMAL only.
  const Rule* sole = nullptr;
  if (index_[0].size() == 1 && n_rules() == 1) {
    const Rule* r = *index_[0].begin();
    const Instructions& i = r->ins;
    if (r->match.fields() == 0 && i.apply.size() == 1 && i.apply[0].type == ActionType::kOutput &&
        i.apply[0].port == OFPP_NORMAL && !i.has_write && !i.clear_actions && !i.write_metadata &&
        !i.goto_table)
      sole = r;
  }
  // Release, before the version: see sole_normal_rule().
  sole_normal_.store(sole, std::memory_order_release);
  // Release: every rule, list and order staged for this version is written
  // before a reader can acquire the version number.
  version_.store(staged_, std::memory_order_release);
  for (const Undo& u : undo_) {
    if (u.added) continue;
    // Removed at staged_: once a grace period has passed no reader holds an
    // older version, and the rule can leave the classifier.
    zombies_.insert(u.rule);
    std::weak_ptr<FlowTables*> self = self_;
    Rule* r = u.rule;
    reclaimer_->defer([self, r] {
      if (auto s = self.lock(); s && *s) (*s)->unlink(r);
    });
  }
  undo_.clear();
  removed_.insert(removed_.end(), staged_removed_.begin(), staged_removed_.end());
  staged_removed_.clear();
  ++staged_;
}
// >8

void FlowTables::publish_touched() {
  for (uint8_t t : touched_) tables_[t]->publish();
  touched_.clear();
  touched_set_.reset();
}

void FlowTables::rollback() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    Rule* r = it->rule;
    if (it->added) {
      --n_rules_;
      index_[r->table].erase(r);
      timed_.erase(r);
      // Never visible (add_version was never published); readers may still
      // be looking at it in a list, so it is freed after a grace period.
      touch(r->table);
      tables_[r->table]->remove(r);
      reclaimer_->defer([r] { delete r; });
    } else {
      r->remove_version.store(kVersionNever, std::memory_order_relaxed);
      ++n_rules_;
      index_[r->table].insert(r);
      if (r->idle_timeout || r->hard_timeout) timed_.insert(r);
    }
  }
  publish_touched();
  undo_.clear();
  staged_removed_.clear();
}

OfStatus FlowTables::apply(const FlowMod& fm) {
  if (bundle_open_) return bundle_add(fm);
  if (auto e = stage(fm)) {
    rollback();
    return e;
  }
  commit();
  return std::nullopt;
}

void FlowTables::bundle_open() {
  if (bundle_open_) bundle_discard();
  bundle_open_ = true;
}

OfStatus FlowTables::bundle_add(const FlowMod& fm) {
  if (!bundle_open_) return err(OFPET_BAD_REQUEST, 0, "no bundle is open");
  if (auto e = stage(fm)) {
    rollback();
    bundle_open_ = false;
    return e;
  }
  return std::nullopt;
}

OfStatus FlowTables::bundle_commit() {
  if (!bundle_open_) return err(OFPET_BAD_REQUEST, 0, "no bundle is open");
  bundle_open_ = false;
  commit();
  return std::nullopt;
}

void FlowTables::bundle_discard() {
  rollback();
  bundle_open_ = false;
}

FlowStats FlowTables::stats_of(const Rule* r) const {
  return FlowStats{r->table,        r->priority,       r->cookie,
                   r->idle_timeout, r->hard_timeout,   r->flags,
                   opts_.now_ms() - r->created_ms,     r->packets(),
                   r->bytes(),      r->match,          r->ins};
}

std::vector<FlowStats> FlowTables::dump(const FlowStatsRequest& req) const {
  FlowMod sel;
  sel.match = req.match;
  sel.priority = req.priority;
  sel.out_port = req.out_port;
  sel.out_group = req.out_group;
  sel.cookie = req.cookie;
  sel.cookie_mask = req.cookie_mask;
  std::vector<const Rule*> hits;
  const unsigned lo = req.table == OFPTT_ALL ? 0 : req.table;
  const unsigned hi = req.table == OFPTT_ALL ? kNumTables - 1 : std::min<unsigned>(req.table, kNumTables - 1);
  for (unsigned t = lo; t <= hi; ++t)
    for (const Rule* r : index_[t])
      if (selects(r, sel, req.strict)) hits.push_back(r);
  std::sort(hits.begin(), hits.end(), [](const Rule* a, const Rule* b) {
    if (a->table != b->table) return a->table < b->table;
    if (a->priority != b->priority) return a->priority > b->priority;
    return a->match.to_string() < b->match.to_string();
  });
  std::vector<FlowStats> out;
  out.reserve(hits.size());
  for (const Rule* r : hits) out.push_back(stats_of(r));
  return out;
}

std::vector<FlowRemoved> FlowTables::expire() {
  const uint64_t now = opts_.now_ms();
  std::vector<std::pair<Rule*, RemovedReason>> due;
  for (Rule* r : timed_) {
    if (r->take_hit()) r->last_used_ms = now;
    if (r->hard_timeout && now - r->created_ms >= r->hard_timeout * 1000ull)
      due.push_back({r, RemovedReason::kHardTimeout});
    else if (r->idle_timeout && now - r->last_used_ms >= r->idle_timeout * 1000ull)
      due.push_back({r, RemovedReason::kIdleTimeout});
  }
  std::vector<FlowRemoved> out;
  if (due.empty() || bundle_open_) return out;
  for (auto& [r, why] : due) {
    if (r->flags & OFPFF_SEND_FLOW_REM) out.push_back({stats_of(r), why});
    stage_remove(r, why, false);
  }
  commit();
  return out;
}

std::vector<FlowRemoved> FlowTables::take_removed() {
  std::vector<FlowRemoved> out;
  out.swap(removed_);
  return out;
}


}  // namespace trestle::flowtable
