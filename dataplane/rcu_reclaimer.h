#pragma once
// RcuReclaimer: flowtable::Reclaimer over DPDK's rte_rcu_qsbr, the one the
// PMD threads report quiescent states to once per poll-loop iteration.
// defer() takes a token (rte_rcu_qsbr_start) and never waits; poll(), on
// the control thread, runs what every PMD has passed since (non-blocking
// rte_rcu_qsbr_check). Destruction waits for a grace period and runs the
// rest.
//
// Thread-safety: control thread only (callers hold the dataplane mutex).

#include <rte_rcu_qsbr.h>

#include <deque>
#include <functional>

#include "flowtable/reclaim.h"

namespace trestle::dataplane {

class RcuReclaimer final : public flowtable::Reclaimer {
 public:
  explicit RcuReclaimer(rte_rcu_qsbr* qsbr) : qsbr_(qsbr) {}
  ~RcuReclaimer() override { drain(); }

  void defer(std::function<void()> fn) override {
    pending_.push_back({rte_rcu_qsbr_start(qsbr_), std::move(fn)});
  }
  // Runs what is past its grace period; returns how many ran.
  size_t poll() {
    size_t n = 0;
    while (!pending_.empty() && rte_rcu_qsbr_check(qsbr_, pending_.front().token, false) == 1) {
      auto fn = std::move(pending_.front().fn);
      pending_.pop_front();
      fn();  // may defer more
      ++n;
    }
    return n;
  }
  // Waits for the PMDs and runs everything pending (shutdown, bridge removal).
  void drain() {
    while (!pending_.empty()) {
      rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
      poll();
    }
  }
  size_t pending() const { return pending_.size(); }

 private:
  struct Item {
    uint64_t token;
    std::function<void()> fn;
  };
  rte_rcu_qsbr* qsbr_;
  std::deque<Item> pending_;
};

}  // namespace trestle::dataplane
