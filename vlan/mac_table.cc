#include "vlan/mac_table.h"

#include "vlan/tag.h"

#include <algorithm>

namespace trestle::vlan {

uint32_t MacTable::capacity_for(uint32_t max_entries) {
  // At most half full when the table holds max_entries, so tombstones have
  // room before a sweep; at least 1024 slots.
  uint64_t want = std::max<uint64_t>(1024, uint64_t{max_entries} * 2);
  uint32_t cap = 1;
  while (cap < want) cap <<= 1;
  return cap;
}

MacTable::MacTable(uint32_t max_entries, Retire retire)
    : slots_(new Slots(capacity_for(max_entries))),
      retire_(std::move(retire)),
      max_entries_(max_entries) {
  if (!retire_) retire_ = [](std::function<void()> free_fn) { free_fn(); };
}

MacTable::~MacTable() { delete slots_.load(std::memory_order_relaxed); }

MacTable::Slot* MacTable::find_mut(uint64_t key, Slot** first_free) const {
  Slots* t = slots_.load(std::memory_order_relaxed);  // the writer's own pointer
  *first_free = nullptr;
  for (uint32_t i = hash(key) & t->mask, n = 0; n <= t->mask; i = (i + 1) & t->mask, ++n) {
    Slot& s = t->slot[i];
    uint64_t k = s.key.load(std::memory_order_relaxed);
    if (k == key) return &s;
    if (k == kTombstone && !*first_free) *first_free = &s;
    if (k == kEmpty) {
      if (!*first_free) *first_free = &s;
      return nullptr;
    }
  }
  return nullptr;
}

LearnResult MacTable::learn(uint16_t vlan, uint64_t mac, uint32_t port, uint32_t now) {
  if (is_multicast_mac(mac) || vlan >= 4096) return LearnResult::kInvalid;
  const uint64_t key = make_key(vlan, mac);
  Slot* free_slot;
  if (Slot* s = find_mut(key, &free_slot)) {
    s->last_seen.store(now, std::memory_order_relaxed);
    if (s->port.load(std::memory_order_relaxed) == port) return LearnResult::kRefreshed;
    // Release: a reader that sees the new port sees nothing older than it.
    s->port.store(port, std::memory_order_release);
    ++stats_.moved;
    return LearnResult::kMoved;
  }
  if (count_ >= max_entries_) {
    ++stats_.table_full;
    return LearnResult::kTableFull;
  }
  if (uint64_t{count_ + tombstones_ + 1} * 4 > uint64_t{capacity()} * 3) {
    rebuild(capacity_for(max_entries_), true);
    find_mut(key, &free_slot);
  }
  Slot& s = *free_slot;
  if (s.key.load(std::memory_order_relaxed) == kTombstone) --tombstones_;
  s.last_seen.store(now, std::memory_order_relaxed);
  // Release on the port: orders an earlier tombstone store of this slot
  // before it, which the reader's second key check relies on (see find()).
  s.port.store(port, std::memory_order_release);
  // Release on the key: publishes the port and time to readers that acquire
  // the key.
  s.key.store(key, std::memory_order_release);
  ++count_;
  ++stats_.learned;
  return LearnResult::kLearned;
}

void MacTable::remove(Slot& s) {
  // Release: the readers' acquire of the key sees the slot as gone. Tombstone
  // (not empty) so probe chains that pass through stay intact.
  s.key.store(kTombstone, std::memory_order_release);
  --count_;
  ++tombstones_;
}

template <typename Pred>
size_t MacTable::remove_if(Pred pred) {
  Slots* t = slots_.load(std::memory_order_relaxed);
  size_t removed = 0;
  for (uint32_t i = 0; i <= t->mask; ++i) {
    Slot& s = t->slot[i];
    const uint64_t k = s.key.load(std::memory_order_relaxed);
    if ((k & kLive) && pred(k, s)) {
      remove(s);
      ++removed;
    }
  }
  return removed;
}

size_t MacTable::age(uint32_t now, uint32_t max_age_sec) {
  const size_t removed = remove_if([&](uint64_t, const Slot& s) {
    // Signed difference: a reader's touch may be newer than `now`.
    return static_cast<int32_t>(now - s.last_seen.load(std::memory_order_relaxed)) >=
           static_cast<int32_t>(max_age_sec);
  });
  stats_.aged += removed;
  return removed;
}

size_t MacTable::flush_port(uint32_t port) {
  return remove_if([&](uint64_t, const Slot& s) {
    return s.port.load(std::memory_order_relaxed) == port;
  });
}

size_t MacTable::flush_vlan(uint16_t vlan) {
  return remove_if([&](uint64_t k, const Slot&) { return ((k >> 48) & 0x0fff) == vlan; });
}

size_t MacTable::flush_all() {
  size_t n = count_;
  rebuild(capacity(), /*keep_entries=*/false);
  return n;
}

void MacTable::set_max_entries(uint32_t max_entries) {
  max_entries_ = max_entries;
  uint32_t want = capacity_for(max_entries);
  if (want > capacity()) rebuild(want, true);
}

void MacTable::rebuild(uint32_t capacity, bool keep_entries) {
  Slots* old = slots_.load(std::memory_order_relaxed);
  auto* fresh = new Slots(capacity);
  uint32_t kept = 0;
  if (keep_entries) {
    for (uint32_t i = 0; i <= old->mask; ++i) {
      const Slot& s = old->slot[i];
      uint64_t k = s.key.load(std::memory_order_relaxed);
      if (!(k & kLive)) continue;
      for (uint32_t j = hash(k) & fresh->mask;; j = (j + 1) & fresh->mask) {
        Slot& d = fresh->slot[j];
        if (d.key.load(std::memory_order_relaxed) != kEmpty) continue;
        d.port.store(s.port.load(std::memory_order_relaxed), std::memory_order_relaxed);
        d.last_seen.store(s.last_seen.load(std::memory_order_relaxed), std::memory_order_relaxed);
        d.key.store(k, std::memory_order_relaxed);
        ++kept;
        break;
      }
    }
  }
  // Release: readers that acquire the new pointer see its filled slots.
  slots_.store(fresh, std::memory_order_release);
  count_ = kept;
  tombstones_ = 0;
  retire_([old] { delete old; });
}

std::vector<MacEntry> MacTable::dump(uint32_t now) const {
  std::vector<MacEntry> out;
  const Slots* t = slots_.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i <= t->mask; ++i) {
    const Slot& s = t->slot[i];
    uint64_t k = s.key.load(std::memory_order_relaxed);
    if (!(k & kLive)) continue;
    out.push_back({static_cast<uint16_t>((k >> 48) & 0x0fff), k & 0xffffffffffffull,
                   s.port.load(std::memory_order_relaxed),
                   now - s.last_seen.load(std::memory_order_relaxed)});
  }
  return out;
}

}  // namespace trestle::vlan
