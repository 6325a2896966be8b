#include "dataplane/pmd.h"

#include <pthread.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_prefetch.h>
#include <rte_vhost.h>

#include <algorithm>
#include <cstring>

#include "dataplane/vhost.h"
#include "flowtable/frame_write.h"
#include "flowtable/pipeline.h"
#include "vlan/normal.h"
#include "vlan/tag.h"

namespace trestle::dataplane {
namespace {

constexpr uint32_t kMaxEmits = kMaxPorts;
constexpr size_t kPacketInQueue = 256;

Drop ingress_drop(vlan::IngressDrop d) {
  switch (d) {
    case vlan::IngressDrop::kTaggedOnAccess: return Drop::tagged_on_access;
    case vlan::IngressDrop::kDoubleTaggedOnAccess: return Drop::double_tagged_on_access;
    default: return Drop::vlan_not_trunked;
  }
}

Drop normal_drop(vlan::NormalVerdict v) {
  switch (v) {
    case vlan::NormalVerdict::kSamePort: return Drop::same_port;
    case vlan::NormalVerdict::kNotCarried: return Drop::not_carried;
    default: return Drop::no_destination;
  }
}

}  // namespace

Pmd::Pmd(unsigned index, unsigned core, const std::atomic<const Snapshot*>* snapshot,
         const std::atomic<uint64_t>* generation, rte_rcu_qsbr* qsbr, rte_mempool* pool,
         uint32_t learn_queue_size, uint64_t tsc_base)
    : index_(index),
      core_(core),
      snapshot_(snapshot),
      generation_(generation),
      qsbr_(qsbr),
      pool_(pool),
      tsc_base_(tsc_base),
      tsc_hz_(rte_get_tsc_hz()),
      ports_(new PortCounters[kMaxPorts]),
      learn_q_(learn_queue_size),
      packet_in_q_(kPacketInQueue),
      tx_(new TxBatch[kMaxPorts]) {
  dirty_.reserve(kMaxPorts);
  outs_.resize(size_t{kMaxPatchDepth} * kMaxPorts);
  emits_.resize(kMaxEmits);
  keys_.resize(kMaxEmits);
  packet_in_scratch_ = std::make_unique<PacketInRaw>();
  packet_in_frame_.reset(new uint8_t[kPacketInBytes + 2 * vlan::kVlanHeaderLen]);
}

Pmd::~Pmd() { stop(); }

void Pmd::start() {
  stop_.store(false, std::memory_order_relaxed);
  thread_ = std::thread([this] { run(); });
}

bool Pmd::move_to(unsigned core) {
  if (thread_.joinable()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    if (pthread_setaffinity_np(thread_.native_handle(), sizeof(set), &set) != 0) return false;
  }
  core_.store(core, std::memory_order_relaxed);
  if (!thread_.joinable()) return true;
  char name[16];
  snprintf(name, sizeof(name), "pmd-c%02u", core);
  pthread_setname_np(thread_.native_handle(), name);
  return true;
}

void Pmd::stop() {
  // Relaxed: the flag carries no data; join() orders everything after it.
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
}

// 8< iterate
uint32_t Pmd::iterate() {
  // Acquire: pairs with the release store that published the snapshot, so
  // everything the control thread wrote into it is visible here.
  const Snapshot* s = snapshot_->load(std::memory_order_acquire);
  // Acquire: pairs with the control thread's release increment after a
  // change, so a walk stamped with this generation saw that change.
  gen_ = generation_->load(std::memory_order_acquire);
  const uint64_t t0 = rte_rdtsc();
  now_sec_ = static_cast<uint32_t>((t0 - tsc_base_) / tsc_hz_);
  uint32_t got = 0;
  rte_mbuf* pkts[kBurst];
  for (const RxqRef& q : s->pmd_rxqs[index_]) {
    uint16_t n;
    if (q.vhost) {
      const int vid = q.vhost->rx_vid(q.queue);
      // The guest's transmit vring of queue pair q is 2q + 1.
      n = vid < 0 ? 0 : rte_vhost_dequeue_burst(vid, static_cast<uint16_t>(2 * q.queue + 1), pool_,
                                                pkts, kBurst);
    } else {
      n = rte_eth_rx_burst(q.eth_port, q.queue, pkts, kBurst);
    }
    if (n == 0) continue;
    got += n;
    process_burst(*s, q.port, pkts, n);
  }
  // The control side hands every packet-out to this queue of PMD 0, so
  // each also leaves in the order it was sent; at most as many are in
  // flight as the done queue holds, so the push back always succeeds.
  PacketOutJob* job;
  while (po_in_.pop(job)) {
    run_packet_out(*s, *job);
    po_done_.push(job);
  }
  flush_all(*s);
  const uint64_t t1 = rte_rdtsc();
  counters_.iterations.add(1);
  if (got) {
    counters_.busy_iterations.add(1);
    counters_.busy_cycles.add(t1 - t0);
    counters_.packets.add(got);
  } else {
    counters_.idle_cycles.add(t1 - t0);
  }
  return got;
}
// >8

void Pmd::run() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core(), &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  char name[16];
  snprintf(name, sizeof(name), "pmd-c%02u", core());
  pthread_setname_np(pthread_self(), name);
  // An lcore id gives this thread a mempool cache; without one it still works.
  const bool registered = rte_thread_register() == 0;
  lcore_.store(registered ? rte_lcore_id() : -1, std::memory_order_relaxed);
  rte_rcu_qsbr_thread_register(qsbr_, index_);
  rte_rcu_qsbr_thread_online(qsbr_, index_);

  while (!stop_.load(std::memory_order_relaxed)) {
    iterate();
    // Nothing of the snapshot is held past this point: the control thread
    // may free snapshots (and ports) older than the current one once every
    // PMD has reported this.
    rte_rcu_qsbr_quiescent(qsbr_, index_);
  }
  rte_rcu_qsbr_thread_offline(qsbr_, index_);
  rte_rcu_qsbr_thread_unregister(qsbr_, index_);
  if (registered) rte_thread_unregister();
}

// 8< process_burst
void Pmd::process_burst(const Snapshot& s, uint32_t in_port, rte_mbuf** pkts, uint16_t n) {
  const PortRt& p = s.ports[in_port];
  const BridgeRt& b = s.bridges[p.bridge];
  // Stage 1: parse each frame once (its flow key), drop the malformed, hash
  // the key and prefetch its exact-match cache set. The frames are in
  // cache: the rx copy just wrote them.
  uint64_t bytes = 0;
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
    bytes += m->pkt_len;
    const vlan::L2Header h = vlan::parse_l2(d, m->data_len);
    if (h.status != vlan::L2Status::kOk) {
      drop(in_port, h.status == vlan::L2Status::kRunt ? Drop::runt : Drop::truncated_vlan);
      rte_pktmbuf_free(m);
      continue;
    }
    if (m->pkt_len > p.max_frame + (h.tagged ? 4u : 0u) + (h.inner_tagged ? 4u : 0u)) {
      drop(in_port, Drop::oversize);
      rte_pktmbuf_free(m);
      continue;
    }
    Meta& mt = meta_[kept++];
    mt.m = m;
    mt.vlans = vlan::VlanStack::parse(d, m->data_len);
    flowtable::extract(d, m->data_len, p.ofport, &mt.key);
    mt.hash = Emc::hash(mt.key, in_port);
    mt.use_emc = emc_on_ || (++emc_sample_ & (kEmcSampleOneIn - 1)) == 0;
    if (mt.use_emc) emc_.prefetch(mt.hash);
  }
  ports_[in_port].rx_packets.add(n);
  ports_[in_port].rx_bytes.add(bytes);
  emc_changed_ = false;
  // Stage 2: look the packets up in the cache; for the misses, prefetch the
  // MAC-table slots NORMAL will look up (source and destination, in the
  // input bridge and the bridges its patch ports lead to), so their cache
  // misses overlap.
  for (uint16_t i = 0; i < kept; ++i) {
    Meta& mt = meta_[i];
    mt.hit = mt.use_emc ? emc_.lookup(mt.key, in_port, mt.hash, s.version, gen_) : nullptr;
    if (mt.use_emc) judge_emc(mt.hit != nullptr);
    if (mt.hit) continue;
    const uint64_t dst = vlan::load_mac(mt.key.eth_dst), src = vlan::load_mac(mt.key.eth_src);
    const uint16_t v = p.vlan.ingress(mt.vlans.header()).vlan;
    b.macs->prefetch(v, src);
    b.macs->prefetch(v, dst);
    for (const vlan::MacTable* t : b.patch_neighbours) {
      t->prefetch(v, src);
      t->prefetch(v, dst);
    }
  }
  // Stage 3: switch them.
  for (uint16_t i = 0; i < kept; ++i) switch_packet(s, in_port, meta_[i]);
  flush_replays(s);
}
// >8

// 8< walk
struct Pmd::Walk {
  Pmd& pmd;
  const Snapshot& s;
  uint32_t in_port;  // port index the packet entered this bridge on
  const BridgeRt& b;
  vlan::VlanStack vlans;
  uint32_t bytes;
  uint32_t depth;  // patch ports crossed so far

  void output(uint32_t port, uint16_t max_len, const flowtable::FlowKey& k, uint64_t dirty) {
    switch (port) {
      case flowtable::OFPP_NORMAL: pmd.normal(*this, k, dirty); return;
      case flowtable::OFPP_FLOOD:
      case flowtable::OFPP_ALL: pmd.flood(*this, k, dirty); return;
      case flowtable::OFPP_CONTROLLER: pmd.to_controller(*this, max_len, k, dirty); return;
      case flowtable::OFPP_LOCAL:
        if (b.local_port == kNoPeer)
          pmd.drop(in_port, Drop::no_such_port);
        else
          pmd.to_port(*this, b.local_port, vlans, k, dirty);
        return;
      default:
        if (port >= b.by_ofport.size() || b.by_ofport[port] == kNoPeer) {
          pmd.drop(in_port, Drop::no_such_port);
          return;
        }
        pmd.to_port(*this, b.by_ofport[port], vlans, k, dirty);
    }
  }
  void push_vlan(uint16_t tpid, uint16_t key_tci) {
    (void)tpid;  // pushed tags are 0x8100 (VlanStack); 0x88a8 is matched, not pushed
    if (!vlans.push(wire_tci(key_tci))) overflow = true;
  }
  uint16_t pop_vlan() {
    vlans.pop();
    return vlans.has_top ? static_cast<uint16_t>(vlans.top | flowtable::kVlanPresent) : 0;
  }
  void set_vlan_tci(uint16_t key_tci) { vlans.set_top(wire_tci(key_tci)); }
  void table_miss(uint8_t) { pmd.drop(in_port, Drop::table_miss); }
  void resubmit_limit() { pmd.drop(in_port, Drop::resubmit_limit); }
  void in_port_output() {}
  void matched(const flowtable::Rule* r) {
    if (!pmd.recording_) return;
    if (pmd.rec_.n_rules < kProgRules)
      pmd.rec_.rules[pmd.rec_.n_rules++] = r;
    else
      pmd.cacheable_ = false;
  }
  // The wire TCI for a key TCI: the key's bit 12 means "tagged", the wire's
  // is DEI, which is kept from the current tag.
  uint16_t wire_tci(uint16_t key_tci) const {
    const uint16_t dei = vlans.has_top ? (vlans.top & flowtable::kVlanPresent) : 0;
    return static_cast<uint16_t>((key_tci & ~flowtable::kVlanPresent) | dei);
  }
  bool overflow = false;  // a push_vlan this stack cannot represent
  bool from_controller = false;  // a packet-out from no port: learn nothing, flood everywhere
};
// >8

// 8< switch_packet
void Pmd::switch_packet(const Snapshot& s, uint32_t in_port, Meta& mt) {
  rte_mbuf* m = mt.m;
  // An insert by an earlier packet of this burst may have replaced the
  // entry stage 2 found.
  if (mt.hit && emc_changed_) mt.hit = emc_.lookup(mt.key, in_port, mt.hash, s.version, gen_);
  if (mt.hit) {
    counters_.emc_hits.add(1);
    replay(s, mt.hit->prog, m);
    return;
  }
  counters_.walks.add(1);
  flush_replays(s);  // the insert below may replace the pending program
  n_emits_ = 0;
  counted_drop_ = false;
  cur_ = &mt;
  rec_.n_rules = rec_.n_touches = rec_.n_emits = rec_.n_patches = rec_.n_drops = 0;
  // Record the walk only when the cache may take it.
  recording_ = cacheable_ = mt.use_emc;
  if (mt.use_emc) emc_key_ = mt.key;  // the walk edits mt.key
  Walk w{*this, s, in_port, s.bridges[s.ports[in_port].bridge], mt.vlans, m->pkt_len, 0};
  run_tables(w, mt.key, &mt.key);
  recording_ = false;
  if (cacheable_ && emc_.insert(emc_key_, in_port, mt.hash, s.version, gen_, rec_))
    emc_changed_ = true;
  output_emits(s, m);
}
// >8

// 8< replay
void Pmd::replay(const Snapshot& s, const Program& p, rte_mbuf* m) {
  // Counters of consecutive packets with the same program are added once.
  if (pending_ != &p) {
    flush_replays(s);
    pending_ = &p;
  }
  ++pending_packets_;
  pending_bytes_ += m->pkt_len;
  n_emits_ = p.n_emits;
  for (uint8_t i = 0; i < p.n_emits; ++i) {
    Emit& e = emits_[i];
    e.port = p.emits[i].port;
    e.vlans = p.emits[i].vlans;
    e.dirty = 0;
  }
  output_emits(s, m);
}

// What a run of replays of one program adds to the counters it touches.
void Pmd::flush_replays(const Snapshot& s) {
  if (!pending_) return;
  const Program& p = *pending_;
  const uint64_t n = pending_packets_, bytes = pending_bytes_;
  pending_ = nullptr;
  pending_packets_ = pending_bytes_ = 0;
  for (uint8_t i = 0; i < p.n_rules; ++i) p.rules[i]->count(index_, n, bytes);
  // Relaxed, stored only when it changes: as MacTable::lookup_touch().
  for (uint8_t i = 0; i < p.n_touches; ++i)
    if (p.touches[i]->load(std::memory_order_relaxed) != now_sec_)
      p.touches[i]->store(now_sec_, std::memory_order_relaxed);
  for (uint8_t i = 0; i < p.n_patches; ++i) {
    const uint32_t a = p.patches[i], b = s.ports[a].peer;
    ports_[a].tx_packets.add(n);
    ports_[a].tx_bytes.add(bytes);
    if (b == kNoPeer) continue;
    ports_[b].rx_packets.add(n);
    ports_[b].rx_bytes.add(bytes);
  }
  for (uint8_t i = 0; i < p.n_drops; ++i)
    ports_[p.drops[i].port].drops[static_cast<size_t>(p.drops[i].why)].add(n);
}
// >8

void Pmd::output_emits(const Snapshot& s, rte_mbuf* m) {
  if (n_emits_ == 0) {
    rte_pktmbuf_free(m);
    return;
  }
  // Every output but the last gets a copy (their edits may differ).
  for (uint32_t i = 0; i + 1 < n_emits_; ++i) {
    rte_mbuf* c = rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX);
    if (!c) {
      drop(emits_[i].port, Drop::no_mbuf);
      continue;
    }
    send(s, c, i);
  }
  send(s, m, n_emits_ - 1);
}

// `k` is the packet's key as this bridge sees it, when `mutable_key` is
// given (the walk may edit it); a patch crossing passes the key of the
// bridge before and copies it only when this bridge has real flows to run.
void Pmd::run_tables(Walk& w, const flowtable::FlowKey& k, flowtable::FlowKey* mutable_key) {
  const flowtable::FlowTables& t = *w.b.flows;
  const uint32_t emits_before = n_emits_;
  const bool counted_before = counted_drop_;
  counted_drop_ = false;
  if (w.b.fail_open) {
    // A standalone bridge whose controllers are gone: a learning switch
    // whatever its flows say (OVS's hidden fail-open rule).
    normal(w, k, 0);
  } else if (const flowtable::Rule* sole = t.sole_normal_rule()) {
    // A bridge whose only rule is priority=0 actions=NORMAL: no lookup, and
    // NORMAL reads only the MAC addresses of the key.
    sole->count(index_, 1, w.bytes);
    w.matched(sole);
    normal(w, k, 0);
  } else {
    flowtable::FlowKey copy;
    flowtable::FlowKey* key = mutable_key;
    if (!key) {
      // A packet entering by a patch port: registers and metadata start at
      // zero, in_port and the VLAN are this side's (as in OVS).
      copy = k;
      copy.in_port = w.s.ports[w.in_port].ofport;
      copy.metadata = 0;
      std::memset(copy.regs, 0, sizeof(copy.regs));
      copy.vlan_tci =
          w.vlans.has_top ? static_cast<uint16_t>(w.vlans.top | flowtable::kVlanPresent) : 0;
      key = &copy;
    }
    // One acquire load per bridge walk: the packet sees one version of the
    // bridge's tables from start to end.
    flowtable::Pipeline<Walk>(t, t.version(), index_, w).run(*key, w.bytes);
  }
  if (w.overflow) drop(w.in_port, Drop::vlan_push_limit);
  // The flows of this bridge sent the packet nowhere and no reason was
  // counted on the way (actions=drop, or outputs only to the input port):
  // counted on the port it entered this bridge by.
  if (n_emits_ == emits_before && !counted_drop_) drop(w.in_port, Drop::flow_drop);
  counted_drop_ = counted_drop_ || counted_before;
}

void Pmd::to_port(Walk& w, uint32_t port, const vlan::VlanStack& vlans,
                  const flowtable::FlowKey& k, uint64_t dirty) {
  if (w.overflow) return;  // counted once the walk ends
  const PortRt& o = w.s.ports[port];
  if (o.kind == PortKind::kPatch) {
    cross_patch(w, port, vlans, k);
    return;
  }
  if (n_emits_ == kMaxEmits) {
    drop(port, Drop::too_many_outputs);
    return;
  }
  if (recording_) {
    if (dirty || rec_.n_emits == kProgEmits) {
      cacheable_ = false;  // rewrites need the key; many outputs do not fit
    } else {
      rec_.emits[rec_.n_emits++] = {port, vlans};
    }
  }
  // Built in place: no temporary stack copy on the common path.
  Emit& e = emits_[n_emits_];
  e.port = port;
  e.vlans = vlans;
  e.dirty = dirty;
  if (dirty) keys_[n_emits_] = k;
  ++n_emits_;
}

void Pmd::cross_patch(Walk& w, uint32_t patch, const vlan::VlanStack& vlans,
                      const flowtable::FlowKey& k) {
  // Same PMD pass, no queue, no copy: continue in the peer bridge, as a
  // packet received there (registers and metadata start at zero, as in OVS).
  const PortRt& o = w.s.ports[patch];
  if (recording_) {
    if (rec_.n_patches < kProgPatches)
      rec_.patches[rec_.n_patches++] = patch;
    else
      cacheable_ = false;
  }
  ports_[patch].tx_packets.add(1);
  ports_[patch].tx_bytes.add(w.bytes);
  if (o.peer == kNoPeer) {
    drop(patch, Drop::patch_unconnected);
    return;
  }
  if (w.depth + 1 >= kMaxPatchDepth) {
    drop(o.peer, Drop::patch_loop);
    return;
  }
  ports_[o.peer].rx_packets.add(1);
  ports_[o.peer].rx_bytes.add(w.bytes);
  const PortRt& peer = w.s.ports[o.peer];
  Walk next{*this, w.s, o.peer, w.s.bridges[peer.bridge], vlans, w.bytes, w.depth + 1};
  run_tables(next, k, nullptr);
}

void Pmd::normal(Walk& w, const flowtable::FlowKey& k, uint64_t dirty) {
  const Snapshot& s = w.s;
  const uint32_t in_port = w.in_port;
  const PortRt& p = s.ports[in_port];
  const BridgeRt& b = w.b;
  const vlan::Ingress ig = p.vlan.ingress(w.vlans.header());
  if (ig.drop != vlan::IngressDrop::kNone) {
    drop(in_port, ingress_drop(ig.drop));
    return;
  }
  const uint64_t dst = vlan::load_mac(k.eth_dst), src = vlan::load_mac(k.eth_src);
  if ((dst & 0xfffffffffff0ull) == 0x0180c2000000ull) {
    drop(in_port, Drop::reserved_multicast);
    return;
  }
  if (!vlan::is_multicast_mac(src) && !w.from_controller) {
    std::atomic<uint32_t>* cell;
    if (b.macs->lookup_touch(ig.vlan, src, now_sec_, &cell) != static_cast<int32_t>(in_port)) {
      // A learning event is a side effect a cached program would not repeat.
      cacheable_ = false;
      if (learn_q_.push(LearnEvent{src, in_port, p.uid, ig.vlan, p.bridge}))
        counters_.learn_events.add(1);
      else
        counters_.learn_queue_full.add(1);
    } else if (recording_) {
      if (rec_.n_touches < kProgTouches)
        rec_.touches[rec_.n_touches++] = cell;
      else
        cacheable_ = false;
    }
  }
  int32_t learned = vlan::kNoPort;
  const vlan::PortVlan* learned_vlan = nullptr;
  if (!vlan::is_multicast_mac(dst)) {
    learned = b.macs->lookup(ig.vlan, dst);
    if (learned != vlan::kNoPort && static_cast<uint32_t>(learned) < s.n_ports) {
      const PortRt& o = s.ports[learned];
      if (o.kind != PortKind::kAbsent && o.bridge == p.bridge) learned_vlan = &o.vlan;
    }
  }
  vlan::NormalOutput* out = &outs_[size_t{w.depth} * kMaxPorts];
  const vlan::NormalResult r =
      vlan::normal_forward(b.ports, in_port, ig.vlan, learned, learned_vlan, out);
  if (r.n_out == 0) {
    drop(in_port, normal_drop(r.verdict));
    return;
  }
  for (uint32_t i = 0; i < r.n_out; ++i) {
    vlan::VlanStack v = w.vlans;
    v.egress(out[i].tagged, ig.vlan);
    to_port(w, out[i].port, v, k, dirty);
  }
}

void Pmd::flood(Walk& w, const flowtable::FlowKey& k, uint64_t dirty) {
  for (const vlan::NormalPort& np : w.b.ports)
    if (np.port != w.in_port || w.from_controller) to_port(w, np.port, w.vlans, k, dirty);
}

void Pmd::run_packet_out(const Snapshot& s, const PacketOutJob& j) {
  // The bridge or the port may have gone since the control side checked.
  if (j.bridge >= s.bridges.size() || !s.bridges[j.bridge].present || j.in_port >= s.n_ports)
    return;
  const PortRt& p = s.ports[j.in_port];
  if (p.kind == PortKind::kAbsent || p.uid != j.in_port_uid) return;
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);  // a mempool get, not an allocation
  const uint32_t len = static_cast<uint32_t>(j.frame.size());
  auto* d = m ? reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(len))) : nullptr;
  if (!d) {
    if (m) rte_pktmbuf_free(m);
    drop(j.in_port, Drop::no_mbuf);
    return;
  }
  std::memcpy(d, j.frame.data(), len);
  Meta& mt = po_meta_;
  mt.m = m;
  mt.hit = nullptr;
  mt.use_emc = false;
  mt.vlans = vlan::VlanStack::parse(d, len);
  flowtable::extract(d, len, j.in_ofport, &mt.key);
  flush_replays(s);
  n_emits_ = 0;
  counted_drop_ = false;
  cur_ = &mt;
  recording_ = cacheable_ = false;  // never cached
  const BridgeRt& b = s.bridges[j.bridge];
  Walk w{*this, s, j.in_port, b, mt.vlans, len, 0};
  w.from_controller = j.from_controller;
  flowtable::Pipeline<Walk>(*b.flows, b.flows->version(), index_, w).run_actions(j.actions, mt.key, len);
  if (w.overflow) drop(j.in_port, Drop::vlan_push_limit);
  output_emits(s, m);
}

void Pmd::to_controller(Walk& w, uint16_t max_len, const flowtable::FlowKey& k, uint64_t dirty) {
  cacheable_ = false;  // every packet must reach the controller
  if (packet_in_q_.write_available() == 0) {
    drop(w.in_port, Drop::packet_in_queue_full);
    return;
  }
  PacketInRaw& pi = *packet_in_scratch_;
  const rte_mbuf* m = cur_->m;
  // The frame as it is at this point of the walk: the VLAN edits and
  // rewritten fields of earlier actions applied to a copy (4 bytes of
  // headroom for a pushed tag).
  uint8_t* buf = packet_in_frame_.get();
  const uint32_t copied = std::min<uint32_t>(m->data_len, kPacketInBytes);
  uint8_t* start = buf + vlan::kVlanHeaderLen;
  std::memcpy(start, rte_pktmbuf_mtod(m, const uint8_t*), copied);
  uint32_t len = copied;
  const vlan::VlanStack& v = w.vlans;
  for (uint8_t i = 0; i < v.popped && len >= vlan::kEthHeaderLen + vlan::kVlanHeaderLen; ++i) {
    vlan::pop_tag(start);
    start += vlan::kVlanHeaderLen;
    len -= vlan::kVlanHeaderLen;
  }
  if (v.pushed) {
    start -= vlan::kVlanHeaderLen;
    vlan::push_tag(start, v.top);
    len += vlan::kVlanHeaderLen;
  } else if (v.rewrite_outer() && len >= vlan::kEthHeaderLen + vlan::kVlanHeaderLen) {
    vlan::store_be16(start + 14, v.top);
  }
  if (dirty) flowtable::write_fields(start, len, k, dirty);
  pi.bridge = w.s.ports[w.in_port].bridge;
  pi.max_len = max_len;
  pi.in_port = k.in_port;
  pi.total_len = m->pkt_len + len - copied;
  pi.len = std::min<uint32_t>({len, kPacketInBytes, uint32_t{max_len}});
  std::memcpy(pi.data, start, pi.len);
  pi.key = k;
  packet_in_q_.push(pi);  // room checked above; one producer
}

void Pmd::send(const Snapshot& s, rte_mbuf* m, uint32_t i) {
  const Emit& e = emits_[i];
  const vlan::VlanStack& v = e.vlans;
  if (!v.unchanged()) {
    for (uint8_t k = 0; k < v.popped; ++k) {
      vlan::pop_tag(rte_pktmbuf_mtod(m, uint8_t*));
      rte_pktmbuf_adj(m, vlan::kVlanHeaderLen);
    }
    if (v.pushed) {
      auto* nd = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, vlan::kVlanHeaderLen));
      if (!nd) {
        drop(e.port, Drop::no_headroom);
        rte_pktmbuf_free(m);
        return;
      }
      vlan::push_tag(nd, v.top);
    } else if (v.rewrite_outer()) {
      vlan::store_be16(rte_pktmbuf_mtod(m, uint8_t*) + 14, v.top);
    }
  }
  if (e.dirty) flowtable::write_fields(rte_pktmbuf_mtod(m, uint8_t*), m->data_len, keys_[i], e.dirty);
  enqueue_tx(s, e.port, m);
}

void Pmd::enqueue_tx(const Snapshot& s, uint32_t port, rte_mbuf* m) {
  TxBatch& b = tx_[port];
  if (!b.listed) {
    b.listed = true;
    dirty_.push_back(port);  // each port at most once: reserved, never allocates
  }
  b.pkts[b.n++] = m;
  b.bytes += m->pkt_len;
  if (b.n == kBurst) flush_port(s, port);
}

void Pmd::flush_port(const Snapshot& s, uint32_t port) {
  TxBatch& b = tx_[port];
  if (b.n == 0) return;
  const PortRt& o = s.ports[port];
  uint16_t q = static_cast<uint16_t>(index_ % o.n_txq);
  uint16_t sent;
  if (o.kind == PortKind::kVhost) {
    // The guest's receive vring of queue pair q is 2q; the library copies
    // the frames into the guest's buffers, so every mbuf is freed here.
    const int vid = o.vhost->tx_vid(q, &q);
    sent = 0;
    if (vid >= 0) {
      // Only PMDs contend for this lock, never the control thread.
      if (o.txq_shared) rte_spinlock_lock(&o.tx_locks[q].lock);
      // As OVS: offer the rest again while the guest keeps taking some, at
      // most tx_retries more times; a vring that takes none is not waited on.
      unsigned retries = 0;
      do {
        const uint16_t got = rte_vhost_enqueue_burst(vid, static_cast<uint16_t>(2 * q), b.pkts + sent,
                                                     static_cast<uint16_t>(b.n - sent));
        if (got == 0) break;
        sent = static_cast<uint16_t>(sent + got);
      } while (sent < b.n && retries++ < o.tx_retries);
      if (o.txq_shared) rte_spinlock_unlock(&o.tx_locks[q].lock);
    }
    uint64_t sent_bytes = 0;
    for (uint16_t i = 0; i < sent; ++i) sent_bytes += b.pkts[i]->pkt_len;
    rte_pktmbuf_free_bulk(b.pkts, b.n);
    count_tx(port, sent, sent_bytes, b);
    return;
  }
  if (o.txq_shared) {
    // Only PMDs contend for this lock, never the control thread.
    rte_spinlock_lock(&o.tx_locks[q].lock);
    sent = rte_eth_tx_burst(o.eth_port, q, b.pkts, b.n);
    rte_spinlock_unlock(&o.tx_locks[q].lock);
  } else {
    sent = rte_eth_tx_burst(o.eth_port, q, b.pkts, b.n);
  }
  uint64_t unsent_bytes = 0;
  for (uint16_t i = sent; i < b.n; ++i) {
    unsent_bytes += b.pkts[i]->pkt_len;
    rte_pktmbuf_free(b.pkts[i]);
  }
  count_tx(port, sent, b.bytes - unsent_bytes, b);
}

void Pmd::count_tx(uint32_t port, uint16_t sent, uint64_t sent_bytes, TxBatch& b) {
  counters_.tx_batches.add(1);
  counters_.tx_batch_packets.add(b.n);
  PortCounters& c = ports_[port];
  c.tx_packets.add(sent);
  c.tx_bytes.add(sent_bytes);
  if (sent < b.n) c.drops[static_cast<size_t>(Drop::tx_failed)].add(b.n - sent);
  b.n = 0;
  b.bytes = 0;
}

void Pmd::flush_all(const Snapshot& s) {
  for (uint32_t port : dirty_) {
    flush_port(s, port);
    tx_[port].listed = false;
  }
  dirty_.clear();
}

}  // namespace trestle::dataplane
