#pragma once
// Reclaimer: how the single writer of a lock-free structure frees memory
// that readers may still be looking at. defer(fn) runs fn on the writer's
// thread once every reader has passed a quiescent point (held no reference
// into the structure) after the call. The dataplane implements it with
// DPDK's rte_rcu_qsbr; Qsbr below is the same idea without DPDK, for tests
// and benchmarks; ImmediateReclaimer is for single-threaded use only.
//
// Thread-safety: Qsbr::quiescent/online/offline are called by each reader
// for its own slot; everything else by the writer only.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

namespace trestle::flowtable {

class Reclaimer {
 public:
  virtual ~Reclaimer() = default;
  virtual void defer(std::function<void()> fn) = 0;
};

class ImmediateReclaimer final : public Reclaimer {
 public:
  void defer(std::function<void()> fn) override { fn(); }
};

class Qsbr final : public Reclaimer {
 public:
  explicit Qsbr(unsigned max_readers)
      : n_(max_readers), seen_(new Slot[max_readers]) {}
  ~Qsbr() override { run_all(); }

  // --- readers ---
  void online(unsigned r) { quiescent(r); }
  void offline(unsigned r) {
    // Release: the reader's earlier reads are done before it stops counting.
    seen_[r].epoch.store(0, std::memory_order_release);
  }
  // The reader holds no reference into the structure at this point.
  void quiescent(unsigned r) {
    // Acquire on the epoch: a reader that sees epoch E also sees every unlink
    // the writer made before advancing to E. Release on its report: its reads
    // so far happen-before the writer's acquire in poll().
    seen_[r].epoch.store(epoch_.load(std::memory_order_acquire), std::memory_order_release);
  }

  // --- the writer ---
  void defer(std::function<void()> fn) override {
    // The target epoch is the one after the unlinks done so far; release so
    // that a reader acquiring it sees them.
    const uint64_t target = epoch_.fetch_add(1, std::memory_order_acq_rel) + 1;
    pending_.push_back({target, std::move(fn)});
  }
  // Runs what every reader has passed; returns how many ran.
  size_t poll() {
    const uint64_t min = min_seen();
    size_t ran = 0;
    while (!pending_.empty() && pending_.front().target <= min) {
      auto fn = std::move(pending_.front().fn);
      pending_.pop_front();
      fn();  // may defer() more: those wait for a later poll
      ++ran;
    }
    return ran;
  }
  size_t pending() const { return pending_.size(); }
  // Runs everything, without waiting: only once no reader is online.
  void run_all() {
    while (!pending_.empty()) {
      auto fn = std::move(pending_.front().fn);
      pending_.pop_front();
      fn();
    }
  }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> epoch{0};  // 0: offline
  };
  struct Item {
    uint64_t target;
    std::function<void()> fn;
  };
  uint64_t min_seen() const {
    uint64_t min = UINT64_MAX;
    for (unsigned i = 0; i < n_; ++i) {
      const uint64_t e = seen_[i].epoch.load(std::memory_order_acquire);
      if (e != 0 && e < min) min = e;
    }
    return min;
  }
  const unsigned n_;
  std::unique_ptr<Slot[]> seen_;
  std::atomic<uint64_t> epoch_{1};
  std::deque<Item> pending_;
};

}  // namespace trestle::flowtable
