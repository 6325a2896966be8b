#include "flowtable/classifier.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace trestle::flowtable {
namespace {

constexpr uint64_t kEmpty = 0;
constexpr uint64_t kTombstone = 1;
constexpr uint64_t kPtrMask = (uint64_t{1} << 48) - 1;

inline uint64_t mix(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 32);
}
inline uint64_t finish(uint64_t h) {
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

// A list of rules with the same match, highest priority first. Immutable.
struct RuleList {
  uint32_t n;
  const Rule* r[];
  static RuleList* make(uint32_t n) {
    auto* l = static_cast<RuleList*>(std::malloc(sizeof(RuleList) + n * sizeof(const Rule*)));
    if (!l) throw std::bad_alloc();
    l->n = n;
    return l;
  }
};

}  // namespace

// A distinct masked key of a subtable and its rules.
struct Classifier::Node {
  uint64_t hash;
  std::atomic<const RuleList*> rules;
  uint64_t words[];  // the masked key words, in the subtable's word order

  static Node* make(uint64_t hash, const uint64_t* w, uint32_t n_words, const RuleList* l) {
    void* p = std::malloc(sizeof(Node) + n_words * sizeof(uint64_t));
    if (!p) throw std::bad_alloc();
    Node* n = new (p) Node;
    n->hash = hash;
    n->rules.store(l, std::memory_order_relaxed);
    std::copy(w, w + n_words, n->words);
    return n;
  }
  static void destroy(Node* n) {
    std::free(const_cast<RuleList*>(n->rules.load(std::memory_order_relaxed)));
    n->~Node();
    std::free(n);
  }
};

struct Slots {
  uint64_t mask;  // capacity - 1
  std::atomic<uint64_t> s[];
  static Slots* make(uint64_t cap) {
    void* p = std::calloc(1, sizeof(Slots) + cap * sizeof(std::atomic<uint64_t>));
    if (!p) throw std::bad_alloc();
    auto* sl = static_cast<Slots*>(p);
    sl->mask = cap - 1;
    return sl;
  }
};

struct Classifier::Subtable {
  FlowKey mask;
  uint32_t n_words = 0;
  uint8_t word_idx[kKeyWords];
  uint64_t mask_words[kKeyWords];
  std::atomic<Slots*> slots{nullptr};
  // Writer only.
  uint64_t used = 0;   // live nodes + tombstones
  uint64_t nodes = 0;  // live nodes
  uint64_t rules = 0;
  int32_t max_priority = -1;

  // The masked words of `k` and their hash.
  uint64_t masked(const FlowKey& k, uint64_t* w) const {
    uint64_t h = 0x243f6a8885a308d3ull;
    for (uint32_t i = 0; i < n_words; ++i) {
      w[i] = k.word(word_idx[i]) & mask_words[i];
      h = mix(h, w[i]);
    }
    return finish(h);
  }

  // 8< find
  // The node for masked words `w` (and its slot index in `*at`), or null.
  Node* find(const Slots* sl, uint64_t h, const uint64_t* w, uint64_t* at) const {
    const uint64_t tag = h >> 48;
    for (uint64_t i = h & sl->mask;; i = (i + 1) & sl->mask) {
      // Acquire: pairs with the writer's release store of the slot, so the
      // node it points to is fully built.
      const uint64_t s = sl->s[i].load(std::memory_order_acquire);
      if (s == kEmpty) return nullptr;
      if (s == kTombstone || (s >> 48) != tag) continue;
      Node* n = reinterpret_cast<Node*>(s & kPtrMask);
      if (n->hash == h && std::equal(w, w + n_words, n->words)) {
        *at = i;
        return n;
      }
    }
  }
  // >8
};

size_t Classifier::MaskHash::operator()(const FlowKey& m) const {
  uint64_t h = 0;
  for (size_t i = 0; i < kKeyWords; ++i) h = mix(h, m.word(i));
  return static_cast<size_t>(finish(h));
}

Classifier::Classifier(Reclaimer* reclaimer) : reclaimer_(reclaimer) {
  auto* o = static_cast<Order*>(std::calloc(1, sizeof(Order)));
  if (!o) throw std::bad_alloc();
  order_.store(o, std::memory_order_relaxed);
}

Classifier::~Classifier() {
  for (Subtable* st : dropped_) {
    std::free(st->slots.load(std::memory_order_relaxed));
    delete st;
  }
  for (auto& [mask, st] : by_mask_) {
    Slots* sl = st->slots.load(std::memory_order_relaxed);
    for (uint64_t i = 0; i <= sl->mask; ++i) {
      const uint64_t s = sl->s[i].load(std::memory_order_relaxed);
      if (s != kEmpty && s != kTombstone) Node::destroy(reinterpret_cast<Node*>(s & kPtrMask));
    }
    std::free(sl);
    delete st;
  }
  std::free(const_cast<Order*>(order_.load(std::memory_order_relaxed)));
}

Classifier::Subtable* Classifier::subtable_for(const FlowKey& mask) {
  auto it = by_mask_.find(mask);
  if (it != by_mask_.end()) return it->second;
  auto* st = new Subtable;
  st->mask = mask;
  for (uint8_t i = 0; i < kKeyWords; ++i) {
    if (mask.word(i) == 0) continue;
    st->word_idx[st->n_words] = i;
    st->mask_words[st->n_words] = mask.word(i);
    ++st->n_words;
  }
  st->slots.store(Slots::make(8), std::memory_order_relaxed);
  by_mask_.emplace(mask, st);
  order_dirty_ = true;
  return st;
}

void Classifier::insert(const Rule* r) {
  Subtable* st = subtable_for(r->match.mask());
  uint64_t w[kKeyWords];
  const uint64_t h = st->masked(r->match.value(), w);
  Slots* sl = st->slots.load(std::memory_order_relaxed);
  uint64_t at;
  if (Node* n = st->find(sl, h, w, &at)) {
    const RuleList* old = n->rules.load(std::memory_order_relaxed);
    RuleList* l = RuleList::make(old->n + 1);
    uint32_t j = 0;
    bool placed = false;
    for (uint32_t i = 0; i < old->n; ++i) {
      if (!placed && r->priority > old->r[i]->priority) {
        l->r[j++] = r;
        placed = true;
      }
      l->r[j++] = old->r[i];
    }
    if (!placed) l->r[j++] = r;
    // Release: the list is complete before a reader can load it.
    n->rules.store(l, std::memory_order_release);
    reclaimer_->defer([old] { std::free(const_cast<RuleList*>(old)); });
  } else {
    // Grow (or sweep tombstones) first, keeping at most half the slots used.
    if ((st->used + 1) * 2 > sl->mask + 1) {
      uint64_t cap = 8;
      while (cap < (st->nodes + 1) * 4) cap <<= 1;
      Slots* ns = Slots::make(cap);
      for (uint64_t i = 0; i <= sl->mask; ++i) {
        const uint64_t s = sl->s[i].load(std::memory_order_relaxed);
        if (s == kEmpty || s == kTombstone) continue;
        const Node* n = reinterpret_cast<const Node*>(s & kPtrMask);
        uint64_t j = n->hash & ns->mask;
        while (ns->s[j].load(std::memory_order_relaxed) != kEmpty) j = (j + 1) & ns->mask;
        ns->s[j].store(s, std::memory_order_relaxed);
      }
      // Release: the new array's slots are written before readers load it.
      st->slots.store(ns, std::memory_order_release);
      reclaimer_->defer([sl] { std::free(sl); });
      sl = ns;
      st->used = st->nodes;
    }
    RuleList* l = RuleList::make(1);
    l->r[0] = r;
    Node* node = Node::make(h, w, st->n_words, l);
    uint64_t i = h & sl->mask;
    for (;; i = (i + 1) & sl->mask) {
      const uint64_t s = sl->s[i].load(std::memory_order_relaxed);
      if (s == kEmpty || s == kTombstone) {
        if (s == kEmpty) ++st->used;
        break;
      }
    }
    // Release: the node (key words, list) is complete before readers see it.
    sl->s[i].store((h >> 48) << 48 | reinterpret_cast<uint64_t>(node), std::memory_order_release);
    ++st->nodes;
  }
  ++st->rules;
  ++n_rules_;
  if (r->conjunctive) n_conjunctive_.fetch_add(1, std::memory_order_relaxed);  // see lookup()
  if (r->priority > st->max_priority) {
    st->max_priority = r->priority;
    order_dirty_ = true;
  }
}

void Classifier::remove(const Rule* r) {
  auto it = by_mask_.find(r->match.mask());
  if (it == by_mask_.end()) return;
  Subtable* st = it->second;
  uint64_t w[kKeyWords];
  const uint64_t h = st->masked(r->match.value(), w);
  Slots* sl = st->slots.load(std::memory_order_relaxed);
  uint64_t at;
  Node* n = st->find(sl, h, w, &at);
  if (!n) return;
  const RuleList* old = n->rules.load(std::memory_order_relaxed);
  const auto end = old->r + old->n;
  if (std::find(old->r, end, r) == end) return;
  if (old->n == 1) {
    // Readers that loaded the node keep using it until the grace period ends.
    sl->s[at].store(kTombstone, std::memory_order_relaxed);
    --st->nodes;
    reclaimer_->defer([n] { Node::destroy(n); });
  } else {
    RuleList* l = RuleList::make(old->n - 1);
    uint32_t j = 0;
    for (uint32_t i = 0; i < old->n; ++i)
      if (old->r[i] != r) l->r[j++] = old->r[i];
    n->rules.store(l, std::memory_order_release);  // as in insert()
    reclaimer_->defer([old] { std::free(const_cast<RuleList*>(old)); });
  }
  --n_rules_;
  if (r->conjunctive) n_conjunctive_.fetch_sub(1, std::memory_order_relaxed);
  if (--st->rules == 0) drop_subtable(st);
  // max_priority stays as an upper bound: lookups stay correct, only a
  // little less eager to stop.
}

void Classifier::drop_subtable(Subtable* st) {
  by_mask_.erase(st->mask);
  order_dirty_ = true;
  // Readers may reach it through the current order until publish()
  // replaces that; only then can it be deferred.
  dropped_.push_back(st);
}

void Classifier::publish() {
  if (!order_dirty_) return;
  order_dirty_ = false;
  const size_t n = by_mask_.size();
  auto* o = static_cast<Order*>(std::calloc(1, sizeof(Order) + n * sizeof(Entry)));
  if (!o) throw std::bad_alloc();
  o->n = static_cast<uint32_t>(n);
  size_t i = 0;
  for (const auto& [mask, st] : by_mask_) o->e[i++] = Entry{st, st->max_priority};
  std::sort(o->e, o->e + n,
            [](const Entry& a, const Entry& b) { return a.max_priority > b.max_priority; });
  const Order* old = order_.load(std::memory_order_relaxed);
  // Release: the entries are written before a reader can load the order.
  order_.store(o, std::memory_order_release);
  reclaimer_->defer([old] { std::free(const_cast<Order*>(old)); });
  for (Subtable* st : dropped_) {
    // No live node is left; tombstoned nodes were deferred already.
    Slots* sl = st->slots.load(std::memory_order_relaxed);
    reclaimer_->defer([st, sl] {
      std::free(sl);
      delete st;
    });
  }
  dropped_.clear();
}

// 8< lookup
template <bool kSkipClauses>
const Rule* Classifier::lookup_plain(const FlowKey& k, uint64_t version, int32_t min_priority) const {
  // Acquire: pairs with publish()'s release store.
  const Order* o = order_.load(std::memory_order_acquire);
  const Rule* best = nullptr;
  int32_t best_priority = min_priority;
  uint64_t w[kKeyWords];
  for (uint32_t i = 0; i < o->n; ++i) {
    const Entry& e = o->e[i];
    if (e.max_priority <= best_priority) break;  // nothing further can beat it
    const Subtable* st = e.st;
    const uint64_t h = st->masked(k, w);
    // Acquire: pairs with the release store of a grown slot array.
    const Slots* sl = st->slots.load(std::memory_order_acquire);
    uint64_t at;
    const Node* n = st->find(sl, h, w, &at);
    if (!n) continue;
    // Acquire: pairs with the release store of a rebuilt rule list.
    const RuleList* l = n->rules.load(std::memory_order_acquire);
    for (uint32_t j = 0; j < l->n; ++j) {
      const Rule* r = l->r[j];
      if (r->priority <= best_priority) break;
      if (!r->visible(version) || (kSkipClauses && r->conjunctive)) continue;
      best = r;
      best_priority = r->priority;
      break;
    }
  }
  return best;
}
// >8

template const Rule* Classifier::lookup_plain<false>(const FlowKey&, uint64_t, int32_t) const;

const Rule* Classifier::lookup_conjunctive(const FlowKey& k, uint64_t version,
                                           int32_t min_priority) const {
  const Rule* hard = lookup_plain<true>(k, version, min_priority);
  const int32_t floor = hard ? hard->priority : min_priority;
  // Every visible clause above the ordinary match (bounded: more are ignored).
  constexpr uint32_t kMaxSoft = 64;
  const Rule* soft[kMaxSoft];
  uint32_t n_soft = 0;
  const Order* o = order_.load(std::memory_order_acquire);  // as in lookup_plain
  uint64_t w[kKeyWords];
  for (uint32_t i = 0; i < o->n && n_soft < kMaxSoft; ++i) {
    if (o->e[i].max_priority <= floor) break;
    const Subtable* st = o->e[i].st;
    const uint64_t h = st->masked(k, w);
    uint64_t at;
    const Node* n = st->find(st->slots.load(std::memory_order_acquire), h, w, &at);
    if (!n) continue;
    const RuleList* l = n->rules.load(std::memory_order_acquire);
    for (uint32_t j = 0; j < l->n && n_soft < kMaxSoft; ++j) {
      const Rule* r = l->r[j];
      if (r->priority <= floor) break;
      if (r->conjunctive && r->visible(version)) soft[n_soft++] = r;
    }
  }
  std::sort(soft, soft + n_soft, [](const Rule* a, const Rule* b) { return a->priority > b->priority; });
  // Priority by priority, highest first: which conjunctions have a clause
  // of every dimension?
  struct Conj {
    uint32_t id;
    uint8_t n;
    uint64_t seen;
  };
  Conj conj[kMaxSoft];
  for (uint32_t i = 0; i < n_soft;) {
    const uint16_t prio = soft[i]->priority;
    uint32_t n_conj = 0;
    for (; i < n_soft && soft[i]->priority == prio; ++i) {
      for (const Action& a : soft[i]->ins.apply) {
        uint32_t c = 0;
        while (c < n_conj && conj[c].id != a.port) ++c;
        if (c == n_conj) {
          if (n_conj == kMaxSoft) continue;
          conj[n_conj++] = {a.port, a.n_clauses, 0};
        }
        if (conj[c].n == a.n_clauses) conj[c].seen |= uint64_t{1} << (a.clause - 1);
      }
    }
    for (uint32_t c = 0; c < n_conj; ++c) {
      const uint64_t all = conj[c].n == 64 ? ~uint64_t{0} : (uint64_t{1} << conj[c].n) - 1;
      if (conj[c].seen != all) continue;
      FlowKey kc = k;
      kc.conj_id = conj[c].id;
      if (const Rule* r = lookup_plain<true>(kc, version, -1)) return r;
    }
  }
  return hard;
}

}  // namespace trestle::flowtable
