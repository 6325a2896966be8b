#pragma once
// Emc: a PMD's exact-match cache from a packet's key (and input port) to the
// compiled outcome of its whole walk: the OpenFlow rules it matched in every
// bridge, the MAC entries NORMAL consulted, the patch ports it crossed, and
// the outputs with their VLAN edits (or the drop it ended in). A hit replays
// that program: rule counters and MAC last-seen times keep moving, outputs
// go out, no table is consulted.
//
// An entry is valid only for the generation it was computed in: the
// dataplane moves its generation on every change that can alter a decision
// (flow_mods, learned / moved / aged / flushed MACs, port and bridge
// changes), so a stale entry is recomputed, never used. Walks that had side
// effects (a learning event, a packet-in) or too many outputs, or rewrote
// header fields other than VLANs, are not cached.
//
// Thread-safety: owned by one PMD thread; nothing else touches it. Rule and
// MAC-slot pointers in a valid entry are safe: freeing them requires a
// change that moves the generation, then an RCU grace period this PMD
// cannot pass while it is using the entry.

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include "dataplane/drops.h"
#include "flowtable/key.h"
#include "flowtable/rule.h"
#include "vlan/vlan_stack.h"

namespace trestle::dataplane {

inline constexpr uint32_t kEmcEntries = 4096;  // 2-way sets, ~1.5 MiB per PMD
inline constexpr uint32_t kProgRules = 12;
inline constexpr uint32_t kProgTouches = 4;
inline constexpr uint32_t kProgEmits = 4;
inline constexpr uint32_t kProgPatches = 4;
inline constexpr uint32_t kProgDrops = 2;
// The key words a packet can set (regs, metadata and conj_id are 0 at rx).
inline constexpr uint32_t kEmcWords = 13;
inline constexpr uint8_t kEmcWordIdx[kEmcWords] = {0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13};

struct Program {
  uint8_t n_rules = 0, n_touches = 0, n_emits = 0, n_patches = 0, n_drops = 0;
  const flowtable::Rule* rules[kProgRules];
  std::atomic<uint32_t>* touches[kProgTouches];  // MAC entries' last-seen cells
  struct Emit {
    uint32_t port;
    vlan::VlanStack vlans;
  } emits[kProgEmits];
  uint32_t patches[kProgPatches];  // patch port crossed (its peer is in the snapshot)
  struct DropAt {
    uint32_t port;
    Drop why;
  } drops[kProgDrops];
};

struct EmcEntry {
  uint64_t words[kEmcWords];
  uint32_t in_port;  // port index (ofports repeat across bridges)
  uint32_t hash;
  uint64_t snapshot_version = 0;  // 0: empty
  uint64_t generation = 0;
  Program prog;
};

class Emc {
 public:
  Emc() : e_(new EmcEntry[kEmcEntries]) {}

  // 8< emc hash
  // Each word is multiplied by its own odd constant and the products summed:
  // the multiplies are independent, so they overlap in the pipeline (a
  // chained mix would cost a multiply's latency per word), and one final
  // mix spreads the sum's high bits into the index bits.
  static uint32_t hash(const flowtable::FlowKey& k, uint32_t in_port) {
    static constexpr uint64_t kMul[kEmcWords] = {
        0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull,
        0xff51afd7ed558ccdull, 0xc4ceb9fe1a85ec53ull, 0xd6e8feb86659fd93ull,
        0xa0761d6478bd642full, 0xe7037ed1a0b428dbull, 0x8ebc6af09c88c6e3ull,
        0x589965cc75374cc3ull, 0x1d8e4e27c47d124full, 0xcc9e2d51b5bd4e1bull,
        0x2127599bf4325c37ull};
    uint64_t h = uint64_t{in_port} * 0x880355f21e6d1965ull;
    for (uint32_t i = 0; i < kEmcWords; ++i) h += (k.word(kEmcWordIdx[i]) ^ (kMul[i] >> 7)) * kMul[i];
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return static_cast<uint32_t>(h ^ (h >> 32));
  }
  // >8

  void prefetch(uint32_t h) const { __builtin_prefetch(&e_[h & (kEmcEntries - 2)]); }

  const EmcEntry* lookup(const flowtable::FlowKey& k, uint32_t in_port, uint32_t h,
                         uint64_t snap, uint64_t gen) const {
    const EmcEntry* set = &e_[h & (kEmcEntries - 2)];
    for (int w = 0; w < 2; ++w) {
      const EmcEntry& e = set[w];
      if (e.hash != h || e.in_port != in_port || e.snapshot_version != snap || e.generation != gen)
        continue;
      bool same = true;
      for (uint32_t i = 0; i < kEmcWords && same; ++i) same = e.words[i] == k.word(kEmcWordIdx[i]);
      if (same) return &e;
    }
    return nullptr;
  }

  // Fills a stale way first. When both ways hold current entries, only one
  // miss in kInsertOneIn replaces the second way: with more flows than
  // entries, rewriting an entry on every miss would cost more than it saves
  // (OVS's emc-insert-inv-prob does the same). Returns whether it inserted.
  static constexpr uint32_t kInsertOneIn = 8;
  bool insert(const flowtable::FlowKey& k, uint32_t in_port, uint32_t h, uint64_t snap,
              uint64_t gen, const Program& p) {
    EmcEntry* set = &e_[h & (kEmcEntries - 2)];
    EmcEntry* e = &set[1];
    if (set[0].snapshot_version != snap || set[0].generation != gen)
      e = &set[0];
    else if ((set[1].snapshot_version == snap && set[1].generation == gen) &&
             ++misses_ % kInsertOneIn != 0)
      return false;
    for (uint32_t i = 0; i < kEmcWords; ++i) e->words[i] = k.word(kEmcWordIdx[i]);
    e->in_port = in_port;
    e->hash = h;
    e->snapshot_version = snap;
    e->generation = gen;
    e->prog = p;
    return true;
  }

 private:
  std::unique_ptr<EmcEntry[]> e_;
  uint32_t misses_ = 0;
};

}  // namespace trestle::dataplane
