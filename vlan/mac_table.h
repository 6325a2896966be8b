#pragma once
// MacTable: the MAC-learning table of one bridge, keyed by (VLAN, MAC), that
// implements OpenFlow's NORMAL action (learn source, forward to destination,
// flood when unknown).
//
// An open-addressing hash table (linear probing, tombstones) of 16-byte slots
// sized to at most 3/4 occupancy, so a probe always ends at an empty slot.
// An entry holds the output port (the dataplane's port index) and the time it
// was last seen, in seconds of the caller's clock.
//
// Thread-safety:
//  - One writer (the control thread) calls learn(), age(), flush_*(),
//    set_max_entries(). Writers are not synchronised with each other.
//  - Any number of readers (PMD threads) call lookup() and lookup_touch()
//    concurrently with the writer, without locks or retries that can spin:
//    a reader sees an entry either before or after a concurrent change, or
//    misses it (a miss only makes the packet flood within its VLAN).
//  - lookup_touch() stores the time into the slot (a relaxed atomic store, the
//    only thing a reader writes): it keeps an active entry from aging without
//    a learning event per packet.
//  - When the writer rebuilds the slot array (growing, or sweeping
//    tombstones), the old array is handed to the `retire` callback given at
//    construction, which must free it only after every reader has passed a
//    quiescent point (the dataplane uses rte_rcu_qsbr). The default frees at
//    once and is only for single-threaded use.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace trestle::vlan {

inline constexpr uint32_t kDefaultMacTableSize = 8192;
inline constexpr uint32_t kDefaultMacAgingSec = 300;
inline constexpr int32_t kNoPort = -1;

enum class LearnResult : uint8_t { kLearned, kMoved, kRefreshed, kTableFull, kInvalid };

struct MacEntry {
  uint16_t vlan;
  uint64_t mac;
  uint32_t port;
  uint32_t age_sec;
};

struct MacTableStats {
  uint64_t learned = 0;
  uint64_t moved = 0;
  uint64_t aged = 0;
  uint64_t table_full = 0;  // learning events refused because the table was full
};

class MacTable {
 public:
  using Retire = std::function<void(std::function<void()> free_fn)>;

  explicit MacTable(uint32_t max_entries = kDefaultMacTableSize, Retire retire = {});
  ~MacTable();
  MacTable(const MacTable&) = delete;
  MacTable& operator=(const MacTable&) = delete;

  // --- readers (any thread) ---
  // 8< lookup
  int32_t lookup(uint16_t vlan, uint64_t mac) const {
    uint32_t port;
    return find(vlan, mac, &port) ? static_cast<int32_t>(port) : kNoPort;
  }
  // >8

  // Looks up and, on a hit, records `now` as the entry's last-seen time.
  // Returns the port, or kNoPort.
  int32_t lookup_touch(uint16_t vlan, uint64_t mac, uint32_t now) const {
    uint32_t port;
    Slot* s = const_cast<Slot*>(find(vlan, mac, &port));
    if (!s) return kNoPort;
    // Relaxed: last_seen is a hint for aging; no other data depends on it.
    // Store only when it changes, so the cache line stays shared otherwise.
    if (s->last_seen.load(std::memory_order_relaxed) != now)
      s->last_seen.store(now, std::memory_order_relaxed);
    return static_cast<int32_t>(port);
  }

  // lookup_touch() that also returns the entry's last-seen cell (null on a
  // miss): for caches of NORMAL's decisions, which refresh it on a hit as
  // lookup_touch() would. The cell is valid until the entry is removed or
  // the table rebuilt, both of which the dataplane treats as a change that
  // invalidates such caches.
  int32_t lookup_touch(uint16_t vlan, uint64_t mac, uint32_t now,
                       std::atomic<uint32_t>** cell) const {
    uint32_t port;
    Slot* s = const_cast<Slot*>(find(vlan, mac, &port));
    *cell = s ? &s->last_seen : nullptr;
    if (!s) return kNoPort;
    if (s->last_seen.load(std::memory_order_relaxed) != now)
      s->last_seen.store(now, std::memory_order_relaxed);  // as in lookup_touch()
    return static_cast<int32_t>(port);
  }

  // Starts loading the slot where (vlan, mac) would be, so that a lookup
  // soon after finds it in cache. A burst prefetches all its packets' slots
  // first: their cache misses then overlap instead of stalling one by one.
  void prefetch(uint16_t vlan, uint64_t mac) const {
    const Slots* t = slots_.load(std::memory_order_acquire);
    __builtin_prefetch(&t->slot[hash(make_key(vlan, mac)) & t->mask]);
  }

  // --- writer (control thread) ---
  LearnResult learn(uint16_t vlan, uint64_t mac, uint32_t port, uint32_t now);
  size_t age(uint32_t now, uint32_t max_age_sec);  // returns entries removed
  size_t flush_port(uint32_t port);
  size_t flush_vlan(uint16_t vlan);
  size_t flush_all();
  void set_max_entries(uint32_t max_entries);

  uint32_t max_entries() const { return max_entries_; }
  uint32_t size() const { return count_; }
  uint32_t capacity() const { return slots_.load(std::memory_order_relaxed)->mask + 1; }
  const MacTableStats& stats() const { return stats_; }
  // Live entries; age_sec is now - last seen.
  std::vector<MacEntry> dump(uint32_t now) const;

 private:
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kTombstone = 1;
  static constexpr uint64_t kLive = 1ull << 63;

  struct Slot {
    std::atomic<uint64_t> key{kEmpty};  // kLive | vlan << 48 | mac, or kEmpty / kTombstone
    std::atomic<uint32_t> port{0};
    std::atomic<uint32_t> last_seen{0};
  };
  struct Slots {
    explicit Slots(uint32_t cap) : mask(cap - 1), slot(new Slot[cap]) {}
    uint32_t mask;
    std::unique_ptr<Slot[]> slot;
  };

  static uint64_t make_key(uint16_t vlan, uint64_t mac) {
    return kLive | uint64_t{vlan & 0x0fffu} << 48 | (mac & 0xffffffffffffull);
  }
  static uint32_t hash(uint64_t key) {
    // Fibonacci hashing; the high bits mix every input bit.
    return static_cast<uint32_t>((key * 0x9e3779b97f4a7c15ull) >> 32);
  }
  static uint32_t capacity_for(uint32_t max_entries);

  const Slot* find(uint16_t vlan, uint64_t mac, uint32_t* port_out) const {
    // Acquire: pairs with the release in rebuild(); the slot array's contents
    // written before publication are visible.
    const Slots* t = slots_.load(std::memory_order_acquire);
    const uint64_t key = make_key(vlan, mac);
    for (uint32_t i = hash(key) & t->mask, n = 0; n <= t->mask; i = (i + 1) & t->mask, ++n) {
      const Slot& s = t->slot[i];
      // Acquire: pairs with the release store of the key in learn(); the port
      // written before the key is visible.
      uint64_t k = s.key.load(std::memory_order_acquire);
      if (k == kEmpty) return nullptr;
      if (k != key) continue;
      // Read the port, then check the key again: if the slot was deleted and
      // reused while we read, the key differs and we report a miss rather
      // than another entry's port. The acquire on port orders the second key
      // load after it; the writer's release store of the port orders its
      // earlier tombstone store before it.
      *port_out = s.port.load(std::memory_order_acquire);
      if (s.key.load(std::memory_order_relaxed) != key) return nullptr;
      return &s;
    }
    return nullptr;
  }
  Slot* find_mut(uint64_t key, Slot** first_free) const;
  void remove(Slot& s);
  template <typename Pred>
  size_t remove_if(Pred pred);  // pred(key, slot) on live slots
  void rebuild(uint32_t capacity, bool keep_entries);

  std::atomic<Slots*> slots_;
  Retire retire_;
  uint32_t max_entries_;
  uint32_t count_ = 0;
  uint32_t tombstones_ = 0;
  MacTableStats stats_;
};

}  // namespace trestle::vlan
