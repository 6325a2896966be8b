#include "dataplane/dataplane.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "dataplane/eal.h"
#include "dataplane/pmd.h"
#include "dataplane/port_device.h"
#include "dataplane/rcu_reclaimer.h"
#include "dataplane/snapshot.h"
#include "dataplane/vhost.h"

namespace trestle::dataplane {
namespace {

constexpr uint32_t kDefaultMtu = 1500;
constexpr size_t kMaxLearnPerPoll = 65536;
constexpr size_t kMaxPacketIns = 1024;

struct Bridge {
  std::string name;
  uint16_t index = 0;
  BridgeSettings settings;
  bool fail_open = false;
  std::unique_ptr<vlan::MacTable> macs;
  std::unique_ptr<flowtable::FlowTables> flows;
  std::vector<uint32_t> ports;
  std::map<uint32_t, uint32_t> ofports;  // OpenFlow port number -> port index
  // Numbering as ovs-vswitchd does it: a cursor that moves on from the
  // last number given, and a number a deleted port held is not given again
  // for an hour (flows naming it may still be there) unless no other is free.
  uint32_t ofport_cursor = 0;
  std::map<uint32_t, std::chrono::steady_clock::time_point> ofport_freed;
};

struct Port {
  PortSpec spec;
  PortType type = PortType::kPatch;
  uint32_t index = 0;
  uint32_t uid = 0;
  uint16_t bridge = 0;
  uint32_t ofport = 0;
  EthDevice dev;  // queue counts only, for a vhost-user port
  std::unique_ptr<VhostPort> vhost;
  std::unique_ptr<TxQueueLock[]> tx_locks;
  std::vector<unsigned> rxq_pmd;  // PMD index of each rx queue
  vlan::PortVlan vlan;
  uint32_t max_frame = 0;
  PortStats baseline;  // counters left at this index by earlier ports
};

unsigned last_allowed_cpu() { return allowed_cpus().back(); }

// The longest untagged frame a port accepts (its MTU plus the Ethernet header).
uint32_t max_frame_for(const PortSpec& spec) {
  return static_cast<uint32_t>(spec.mtu_request.value_or(kDefaultMtu)) + 14;
}

}  // namespace

struct Dataplane::Impl {
  DataplaneConfig cfg;
  mutable std::mutex mu;
  rte_mempool* pool = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;
  std::unique_ptr<RcuReclaimer> reclaimer;  // flow tables' deferred frees
  std::atomic<const Snapshot*> snapshot{nullptr};
  // Moves on every change that can alter a forwarding decision the PMDs'
  // exact-match caches hold (flows, MAC entries, ports): emc.h.
  std::atomic<uint64_t> generation{1};
  uint64_t version = 0;
  uint64_t tsc_base = 0;
  uint64_t tsc_hz = 1;
  uint64_t stats_since_tsc = 0;
  uint32_t last_age_sec = 0;
  uint32_t next_uid = 1;
  std::vector<std::unique_ptr<Pmd>> pmds;
  std::vector<PmdStats> pmd_baseline;
  std::vector<std::unique_ptr<Bridge>> bridges;  // by index
  std::vector<std::unique_ptr<Port>> ports;      // by index
  std::vector<PacketIn> packet_ins;              // drained from the PMDs by poll()
  std::vector<FlowRemovedEvent> flow_removed;    // deleted or expired rules that asked for it
  void note_removed(const Bridge& b, std::vector<flowtable::FlowRemoved> rs) {
    for (auto& r : rs) {
      if (flow_removed.size() >= 65536) flow_removed.erase(flow_removed.begin());
      flow_removed.push_back({b.name, std::move(r)});
    }
  }
  std::thread ctl_thread;
  std::atomic<bool> ctl_stop{false};
  // Packet-outs not yet handed to PMD 0 (its queue holds kPacketOutQueue),
  // and how many it holds or has run but not handed back.
  std::deque<std::unique_ptr<PacketOutJob>> po_backlog;
  size_t po_in_flight = 0;
  void pump_packet_outs() {
    Pmd& pmd = *pmds[0];
    PacketOutJob* done;
    while (pmd.packet_out_done().pop(done)) {
      delete done;
      --po_in_flight;
    }
    while (!po_backlog.empty() && po_in_flight < kPacketOutQueue) {
      pmd.packet_out_queue().push(po_backlog.front().release());  // room: in_flight < capacity
      po_backlog.pop_front();
      ++po_in_flight;
    }
  }

  ~Impl();
  uint32_t now_sec() const { return static_cast<uint32_t>((rte_rdtsc() - tsc_base) / tsc_hz); }
  void synchronize() {
    // Waits (on the control thread only) until every online PMD has passed a
    // quiescent point: one poll-loop iteration, microseconds.
    if (qsbr) rte_rcu_qsbr_synchronize(qsbr, RTE_QSBR_THRID_INVALID);
  }
  void publish();
  void bump() {
    // Release: the change (rules, MAC entries) is visible to a PMD that
    // acquires the new generation.
    generation.fetch_add(1, std::memory_order_release);
  }
  Bridge* find_bridge(const std::string& name) const {
    for (const auto& b : bridges)
      if (b && b->name == name) return b.get();
    return nullptr;
  }
  Port* find_port(const std::string& name) const {
    for (const auto& p : ports)
      if (p && p->spec.name == name) return p.get();
    return nullptr;
  }
  PortStats raw_stats(uint32_t index) const;
  PmdStats raw_pmd_stats(size_t i) const;
  // `keep`: the number to give back when no ofport_request is set (a port
  // recreated for a new type keeps its number, as OVS's ofport column does).
  Result<void> add_port_locked(Bridge& b, const PortSpec& spec,
                               std::optional<uint32_t> keep = std::nullopt);
  // ofport_request when it is free and in OVS's range (1 to 65,279, or
  // 65,534: OpenFlow's LOCAL, the bridge's own port), else the next number
  // after the last one given (1 to 32,767, the lower half OVS numbers
  // automatically) that is free and was not freed in the last hour; failing
  // that the free number freed longest ago, then the lowest free above.
  static uint32_t pick_ofport(Bridge& b, std::optional<uint32_t> request) {
    if (request && ((*request >= 1 && *request <= 65279) || *request == 65534) && !b.ofports.count(*request))
      return *request;
    constexpr uint32_t kAutoMax = 32767;
    const auto now = std::chrono::steady_clock::now();
    uint32_t lru = 0;
    auto lru_at = std::chrono::steady_clock::time_point::max();
    for (uint32_t i = 0; i < kAutoMax; ++i) {
      if (++b.ofport_cursor > kAutoMax) b.ofport_cursor = 1;
      const uint32_t n = b.ofport_cursor;
      if (b.ofports.count(n)) continue;
      auto f = b.ofport_freed.find(n);
      if (f == b.ofport_freed.end() || now - f->second >= std::chrono::hours(1)) return n;
      if (f->second < lru_at) lru = n, lru_at = f->second;
    }
    if (lru) return lru;
    uint32_t n = kAutoMax + 1;
    while (b.ofports.count(n)) ++n;
    return n;
  }

  void remove_ports_locked(const std::vector<uint32_t>& indices);
};

Dataplane::Impl::~Impl() {
  ctl_stop.store(true, std::memory_order_relaxed);
  if (ctl_thread.joinable()) ctl_thread.join();
  for (auto& p : pmds) p->stop();
  if (!pmds.empty()) {
    PacketOutJob* j;
    while (pmds[0]->packet_out_queue().pop(j)) delete j;
    while (pmds[0]->packet_out_done().pop(j)) delete j;
  }
  for (auto& p : ports)
    if (p && p->type != PortType::kPatch && !p->vhost) close_eth_device(p->dev);
  ports.clear();  // vhost-user sockets unregistered
  delete snapshot.load(std::memory_order_relaxed);
  pmds.clear();
  bridges.clear();
  reclaimer.reset();  // the PMDs are offline: runs everything left
  if (pool) rte_mempool_free(pool);
  if (qsbr) rte_free(qsbr);
}

void Dataplane::Impl::publish() {
  auto s = std::make_unique<Snapshot>();
  s->version = ++version;
  s->ports.resize(ports.size());
  s->n_ports = static_cast<uint32_t>(ports.size());
  const unsigned n_pmds = static_cast<unsigned>(pmds.size());
  for (const auto& p : ports) {
    if (!p) continue;
    PortRt& r = s->ports[p->index];
    r.kind = p->type == PortType::kPatch ? PortKind::kPatch
             : p->vhost                  ? PortKind::kVhost
                                         : PortKind::kEth;
    r.eth_port = p->dev.port_id;
    r.vhost = p->vhost.get();
    r.bridge = p->bridge;
    r.n_txq = p->dev.n_txq;
    // A vhost-user PMD falls back to another enabled queue pair when its own
    // is not, so with several PMDs they may share one.
    r.txq_shared = p->vhost ? n_pmds > 1 : p->dev.n_txq < n_pmds;
    r.tx_retries = p->vhost ? port_tx_retries(p->spec) : 0;
    r.tx_locks = p->tx_locks.get();
    r.uid = p->uid;
    // The bridge's own port (OVS's ofport 65534) is OpenFlow's LOCAL in
    // packet keys, so that flows' in_port=LOCAL match it.
    r.ofport = p->ofport == 65534 ? flowtable::OFPP_LOCAL : p->ofport;
    r.max_frame = p->max_frame;
    r.vlan = p->vlan;
    if (p->type == PortType::kPatch) {
      // Connected only when both ends name each other, as in OVS.
      const Port* peer = find_port(p->spec.options.at("peer"));
      if (peer && peer->type == PortType::kPatch && peer->spec.options.at("peer") == p->spec.name)
        r.peer = peer->index;
    }
  }
  s->bridges.resize(bridges.size());
  for (const auto& b : bridges) {
    if (!b) continue;
    BridgeRt& r = s->bridges[b->index];
    r.present = true;
    r.fail_open = b->fail_open;
    r.macs = b->macs.get();
    r.flows = b->flows.get();
    for (uint32_t idx : b->ports) {
      r.ports.push_back({idx, &s->ports[idx].vlan});
      if (ports[idx]->spec.name == b->name) r.local_port = idx;
    }
    // LOCAL (65534) is reached through local_port: keep the map small.
    uint32_t top = 0;
    for (const auto& [ofp, idx] : b->ofports)
      if (ofp != 65534) top = std::max(top, ofp);
    r.by_ofport.assign(size_t{top} + 1, kNoPeer);
    for (const auto& [ofp, idx] : b->ofports)
      if (ofp != 65534) r.by_ofport[ofp] = idx;
  }
  for (const PortRt& r : s->ports) {
    if (r.kind != PortKind::kPatch || r.peer == kNoPeer) continue;
    const vlan::MacTable* t = s->bridges[s->ports[r.peer].bridge].macs;
    auto& nb = s->bridges[r.bridge].patch_neighbours;
    if (std::find(nb.begin(), nb.end(), t) == nb.end()) nb.push_back(t);
  }
  s->pmd_rxqs.resize(n_pmds);
  for (const auto& p : ports) {
    if (!p || p->type == PortType::kPatch) continue;
    for (uint16_t q = 0; q < p->dev.n_rxq; ++q)
      s->pmd_rxqs[p->rxq_pmd[q]].push_back({p->index, p->dev.port_id, q, p->vhost.get()});
  }
  // Release: PMDs that acquire the pointer see the snapshot fully built.
  const Snapshot* old = snapshot.exchange(s.release(), std::memory_order_acq_rel);
  synchronize();
  delete old;
}

PortStats Dataplane::Impl::raw_stats(uint32_t index) const {
  PortStats st;
  for (const auto& pmd : pmds) {
    const PortCounters& c = pmd->port_counters(index);
    st.rx_packets += c.rx_packets.get();
    st.rx_bytes += c.rx_bytes.get();
    st.tx_packets += c.tx_packets.get();
    st.tx_bytes += c.tx_bytes.get();
    for (size_t d = 0; d < kNumDrops; ++d) st.drops[d] += c.drops[d].get();
  }
  return st;
}

PmdStats Dataplane::Impl::raw_pmd_stats(size_t i) const {
  const Pmd& p = *pmds[i];
  const PmdCounters& c = p.counters();
  PmdStats st;
  st.core = p.core();
  st.lcore = p.lcore();
  st.iterations = c.iterations.get();
  st.busy_iterations = c.busy_iterations.get();
  st.busy_cycles = c.busy_cycles.get();
  st.idle_cycles = c.idle_cycles.get();
  st.packets = c.packets.get();
  st.learn_events = c.learn_events.get();
  st.learn_queue_full = c.learn_queue_full.get();
  st.tx_batches = c.tx_batches.get();
  st.tx_batch_packets = c.tx_batch_packets.get();
  st.emc_hits = c.emc_hits.get();
  st.walks = c.walks.get();
  st.tsc_hz = tsc_hz;
  return st;
}

Result<std::unique_ptr<Dataplane>> Dataplane::create(const DataplaneConfig& cfg) {
  if (!eal_initialized()) return make_error("the DPDK EAL is not initialised (eal_init)");
  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  if (impl->cfg.pmd_cores.empty()) impl->cfg.pmd_cores.push_back(last_allowed_cpu());
  impl->tsc_hz = rte_get_tsc_hz();
  impl->tsc_base = rte_rdtsc();
  impl->stats_since_tsc = impl->tsc_base;

  static std::atomic<unsigned> instance{0};
  const std::string pool_name = "trestle_mb" + std::to_string(instance.fetch_add(1));
  impl->pool = rte_pktmbuf_pool_create(pool_name.c_str(), cfg.n_mbufs, 256, 0,
                                       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (!impl->pool)
    return make_error("cannot create the packet buffer pool (" + std::to_string(cfg.n_mbufs) +
                      " buffers): " + rte_strerror(rte_errno) + "; raise the EAL memory (-m)");
  const uint32_t n_pmds = static_cast<uint32_t>(impl->cfg.pmd_cores.size());
  const size_t sz = rte_rcu_qsbr_get_memsize(n_pmds);
  impl->qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("trestle_qsbr", sz, RTE_CACHE_LINE_SIZE));
  if (!impl->qsbr || rte_rcu_qsbr_init(impl->qsbr, n_pmds) != 0)
    return make_error("cannot set up RCU for the PMD threads");
  impl->reclaimer = std::make_unique<RcuReclaimer>(impl->qsbr);

  for (unsigned i = 0; i < n_pmds; ++i)
    impl->pmds.push_back(std::make_unique<Pmd>(i, impl->cfg.pmd_cores[i], &impl->snapshot,
                                               &impl->generation, impl->qsbr, impl->pool, cfg.learn_queue_size,
                                               impl->tsc_base));
  impl->pmd_baseline.resize(n_pmds);
  impl->publish();  // an empty snapshot before any PMD runs
  if (cfg.start_pmd_threads)
    for (auto& p : impl->pmds) p->start();
  return std::unique_ptr<Dataplane>(new Dataplane(std::move(impl)));
}

Dataplane::Dataplane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dataplane::~Dataplane() = default;

Result<void> Dataplane::add_bridge(const std::string& name, const BridgeSettings& s) {
  std::lock_guard lock(impl_->mu);
  if (name.empty()) return make_error("a bridge needs a name");
  if (impl_->find_bridge(name)) return make_error("bridge " + name + " already exists");
  if (s.mac_table_size == 0) return make_error("bridge " + name + ": mac-table-size must be at least 1");
  auto& bridges = impl_->bridges;
  size_t idx = 0;
  while (idx < bridges.size() && bridges[idx]) ++idx;
  if (idx >= kMaxBridges) return make_error("bridge " + name + ": too many bridges");
  if (idx == bridges.size()) bridges.emplace_back();
  auto b = std::make_unique<Bridge>();
  b->name = name;
  b->index = static_cast<uint16_t>(idx);
  b->settings = s;
  Impl* impl = impl_.get();
  b->macs = std::make_unique<vlan::MacTable>(s.mac_table_size, [impl](std::function<void()> f) {
    impl->synchronize();
    f();
  });
  flowtable::FlowTables::Options fo;
  fo.n_counter_slots = static_cast<unsigned>(impl->pmds.size());
  b->flows = std::make_unique<flowtable::FlowTables>(impl->reclaimer.get(), fo);
  bridges[idx] = std::move(b);
  impl_->publish();
  return {};
}

Result<void> Dataplane::set_bridge(const std::string& name, const BridgeSettings& s) {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(name);
  if (!b) return make_error("no bridge named " + name);
  if (s.mac_table_size == 0) return make_error("bridge " + name + ": mac-table-size must be at least 1");
  b->settings = s;
  b->macs->set_max_entries(s.mac_table_size);
  impl_->bump();
  return {};
}

Result<void> Dataplane::set_fail_open(const std::string& name, bool on) {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(name);
  if (!b) return make_error("no bridge named " + name);
  if (b->fail_open == on) return {};
  b->fail_open = on;
  impl_->publish();
  impl_->bump();  // cached walks of the old mode are stale
  return {};
}

Result<void> Dataplane::del_bridge(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(name);
  if (!b) return make_error("no bridge named " + name);
  uint16_t idx = b->index;
  std::vector<uint32_t> ports = b->ports;
  impl_->remove_ports_locked(ports);
  // The MAC table goes once no PMD can still hold the old snapshot.
  std::unique_ptr<Bridge> gone = std::move(impl_->bridges[idx]);
  impl_->publish();
  return {};
}

std::vector<std::string> Dataplane::bridges() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& b : impl_->bridges)
    if (b) out.push_back(b->name);
  return out;
}

Result<void> Dataplane::Impl::add_port_locked(Bridge& b, const PortSpec& spec,
                                              std::optional<uint32_t> keep) {
  auto type = validate_port_spec(spec);
  if (!type) return type.error();
  if (find_port(spec.name)) return make_error("port " + spec.name + " already exists");
  auto vl = vlan::PortVlan::compile(spec.vlan, "port " + spec.name);
  if (!vl) return vl.error();

  size_t idx = 0;
  while (idx < ports.size() && ports[idx]) ++idx;
  if (idx >= kMaxPorts) return make_error("port " + spec.name + ": too many ports");

  auto p = std::make_unique<Port>();
  p->spec = spec;
  p->type = type.value();
  p->index = static_cast<uint32_t>(idx);
  p->uid = next_uid++;
  p->bridge = b.index;
  p->vlan = vl.value();
  p->max_frame = max_frame_for(spec);
  if (p->type == PortType::kVhostUser || p->type == PortType::kVhostUserClient) {
    auto path = vhost_socket_path(spec, p->type, cfg.rundir);
    if (!path) return path.error();
    const uint16_t nq = port_n_rxq(spec);
    auto vh = VhostPort::open(spec.name, *path, p->type == PortType::kVhostUserClient, nq, qsbr);
    if (!vh) return vh.error();
    p->vhost = std::move(vh.value());
    p->dev.name = *path;
    p->dev.port_id = UINT16_MAX;  // no ethdev
    p->dev.n_rxq = p->dev.n_txq = nq;
  } else if (p->type != PortType::kPatch) {
    auto dev = open_eth_device(spec, p->type, static_cast<unsigned>(pmds.size()), p->uid, pool);
    if (!dev) return dev.error();
    p->dev = dev.value();
  }
  if (p->type != PortType::kPatch) {
    p->tx_locks.reset(new TxQueueLock[p->dev.n_txq]);
    // Place each rx queue on the PMD with the fewest; placements never move,
    // so no queue is ever polled by two PMDs at once.
    std::vector<unsigned> load(pmds.size(), 0);
    for (const auto& o : ports)
      if (o)
        for (unsigned pm : o->rxq_pmd) ++load[pm];
    for (uint16_t q = 0; q < p->dev.n_rxq; ++q) {
      unsigned best = static_cast<unsigned>(std::min_element(load.begin(), load.end()) - load.begin());
      p->rxq_pmd.push_back(best);
      ++load[best];
    }
  }
  p->ofport = pick_ofport(b, spec.ofport_request ? spec.ofport_request : keep);
  b.ofports[p->ofport] = p->index;
  b.ofport_freed.erase(p->ofport);
  p->baseline = raw_stats(p->index);
  if (idx == ports.size()) ports.emplace_back();
  b.ports.push_back(p->index);
  ports[idx] = std::move(p);
  publish();
  return {};
}

void Dataplane::Impl::remove_ports_locked(const std::vector<uint32_t>& indices) {
  std::vector<std::unique_ptr<Port>> gone;
  for (uint32_t idx : indices) {
    Port& p = *ports[idx];
    Bridge& b = *bridges[p.bridge];
    std::erase(b.ports, idx);
    b.ofports.erase(p.ofport);
    b.ofport_freed[p.ofport] = std::chrono::steady_clock::now();
    gone.push_back(std::move(ports[idx]));
  }
  publish();  // after this no PMD polls or sends to the removed ports
  for (auto& p : gone) {
    bridges[p->bridge]->macs->flush_port(p->index);
    if (p->type != PortType::kPatch && !p->vhost) close_eth_device(p->dev);
    p->vhost.reset();  // unregisters the socket
  }
  bump();
}

Result<void> Dataplane::add_port(const std::string& bridge, const PortSpec& spec) {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(bridge);
  if (!b) return make_error("port " + spec.name + ": no bridge named " + bridge);
  return impl_->add_port_locked(*b, spec);
}

Result<void> Dataplane::modify_port(const std::string& bridge, const PortSpec& spec) {
  std::lock_guard lock(impl_->mu);
  Port* p = impl_->find_port(spec.name);
  if (!p) return make_error("no port named " + spec.name);
  Bridge* b = impl_->find_bridge(bridge);
  if (!b) return make_error("port " + spec.name + ": no bridge named " + bridge);
  if (p->spec == spec && p->bridge == b->index) return {};
  if (p->spec.type == spec.type && p->spec.options == spec.options && p->bridge == b->index) {
    if (auto t = validate_port_spec(spec); !t) return t.error();
    auto vl = vlan::PortVlan::compile(spec.vlan, "port " + spec.name);
    if (!vl) return vl.error();
    const bool vlan_changed = !(p->spec.vlan == spec.vlan);
    if (spec.ofport_request != p->spec.ofport_request && spec.ofport_request &&
        *spec.ofport_request != p->ofport) {
      b->ofports.erase(p->ofport);
      b->ofport_freed[p->ofport] = std::chrono::steady_clock::now();
      p->ofport = Impl::pick_ofport(*b, spec.ofport_request);
      b->ofports[p->ofport] = p->index;
      b->ofport_freed.erase(p->ofport);
    }
    p->spec = spec;
    p->vlan = vl.value();
    p->max_frame = max_frame_for(spec);
    impl_->publish();
    if (vlan_changed) b->macs->flush_port(p->index);  // as OVS does on a VLAN change
    impl_->bump();
    return {};
  }
  // Another device: validate first so a bad spec loses nothing.
  if (auto t = validate_port_spec(spec); !t) return t.error();
  if (auto vl = vlan::PortVlan::compile(spec.vlan, "port " + spec.name); !vl) return vl.error();
  const uint32_t ofport = p->ofport;
  impl_->remove_ports_locked({p->index});
  return impl_->add_port_locked(*b, spec, ofport);
}

Result<void> Dataplane::del_port(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  Port* p = impl_->find_port(name);
  if (!p) return make_error("no port named " + name);
  impl_->remove_ports_locked({p->index});
  return {};
}

std::vector<std::string> Dataplane::ports(const std::string& bridge) const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  if (Bridge* b = impl_->find_bridge(bridge))
    for (uint32_t idx : b->ports) out.push_back(impl_->ports[idx]->spec.name);
  return out;
}

Result<PortStats> Dataplane::port_stats(const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  Port* p = impl_->find_port(name);
  if (!p) return make_error("no port named " + name);
  PortStats raw = impl_->raw_stats(p->index);
  const PortStats& b = p->baseline;
  PortStats st;
  st.rx_packets = raw.rx_packets - b.rx_packets;
  st.rx_bytes = raw.rx_bytes - b.rx_bytes;
  st.tx_packets = raw.tx_packets - b.tx_packets;
  st.tx_bytes = raw.tx_bytes - b.tx_bytes;
  for (size_t d = 0; d < kNumDrops; ++d) {
    st.drops[d] = raw.drops[d] - b.drops[d];
    if (d != static_cast<size_t>(Drop::tx_failed)) st.rx_dropped += st.drops[d];
  }
  st.tx_dropped = st.drops[static_cast<size_t>(Drop::tx_failed)];
  if (p->type == PortType::kPatch) {
    st.link_up = impl_->snapshot.load(std::memory_order_relaxed)->ports[p->index].peer != kNoPeer;
  } else if (p->vhost) {
    st.link_up = p->vhost->connected();
  } else {
    rte_eth_stats es;
    if (rte_eth_stats_get(p->dev.port_id, &es) == 0) {
      st.rx_errors = es.ierrors;
      st.tx_errors = es.oerrors;
      st.rx_missed = es.imissed + es.rx_nombuf;
    }
    rte_eth_link link;
    if (rte_eth_link_get_nowait(p->dev.port_id, &link) == 0) {
      st.link_up = link.link_status == RTE_ETH_LINK_UP;
      if (link.link_speed != RTE_ETH_SPEED_NUM_NONE && link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN) {
        st.link_speed_bps = uint64_t{link.link_speed} * 1000000;
        st.full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
      }
    }
  }
  return st;
}

Result<uint64_t> Dataplane::port_mac(const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  const Port* p = impl_->find_port(name);
  if (!p) return make_error("no port named " + name);
  if (p->vhost) return uint64_t{0};
  if (p->type == PortType::kPatch) {
    // FNV-1a of the name: the same address for the same port every time;
    // locally administered, unicast.
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
    return ((h & 0xffffffffffffull) | (uint64_t{0x02} << 40)) & ~(uint64_t{0x01} << 40);
  }
  rte_ether_addr a;
  if (rte_eth_macaddr_get(p->dev.port_id, &a) != 0) return make_error("port " + name + ": no MAC address");
  uint64_t mac = 0;
  for (uint8_t b : a.addr_bytes) mac = mac << 8 | b;
  return mac;
}

std::vector<PmdStats> Dataplane::pmd_stats() const {
  std::lock_guard lock(impl_->mu);
  std::vector<PmdStats> out;
  const Snapshot* s = impl_->snapshot.load(std::memory_order_relaxed);
  for (size_t i = 0; i < impl_->pmds.size(); ++i) {
    PmdStats raw = impl_->raw_pmd_stats(i);
    const PmdStats& b = impl_->pmd_baseline[i];
    raw.iterations -= b.iterations;
    raw.busy_iterations -= b.busy_iterations;
    raw.busy_cycles -= b.busy_cycles;
    raw.idle_cycles -= b.idle_cycles;
    raw.packets -= b.packets;
    raw.learn_events -= b.learn_events;
    raw.learn_queue_full -= b.learn_queue_full;
    raw.tx_batches -= b.tx_batches;
    raw.tx_batch_packets -= b.tx_batch_packets;
    raw.emc_hits -= b.emc_hits;
    raw.walks -= b.walks;
    for (const RxqRef& q : s->pmd_rxqs[i])
      raw.rxqs.push_back(impl_->ports[q.port]->spec.name + ":" + std::to_string(q.queue));
    out.push_back(std::move(raw));
  }
  return out;
}

Result<void> Dataplane::set_pmd_cores(const std::vector<unsigned>& cores) {
  std::lock_guard lock(impl_->mu);
  const auto& allowed = allowed_cpus();
  for (unsigned c : cores)
    if (std::find(allowed.begin(), allowed.end(), c) == allowed.end())
      return make_error("CPU " + std::to_string(c) + " is not one this process may run on");
  if (cores.size() != impl_->pmds.size())
    return make_error("the mask names " + std::to_string(cores.size()) + " CPUs and " +
                      std::to_string(impl_->pmds.size()) +
                      " PMD threads run: a different number of PMDs takes a restart of the switch");
  for (size_t i = 0; i < cores.size(); ++i) {
    if (!impl_->pmds[i]->move_to(cores[i]))
      return make_error("PMD " + std::to_string(i) + " cannot move to CPU " + std::to_string(cores[i]));
    impl_->cfg.pmd_cores[i] = cores[i];
  }
  return {};
}

std::vector<unsigned> Dataplane::pmd_cores() const {
  std::lock_guard lock(impl_->mu);
  return impl_->cfg.pmd_cores;
}

void Dataplane::clear_pmd_stats() {
  std::lock_guard lock(impl_->mu);
  for (size_t i = 0; i < impl_->pmds.size(); ++i) impl_->pmd_baseline[i] = impl_->raw_pmd_stats(i);
  impl_->stats_since_tsc = rte_rdtsc();
}

double Dataplane::pmd_stats_seconds() const {
  std::lock_guard lock(impl_->mu);
  return double(rte_rdtsc() - impl_->stats_since_tsc) / double(impl_->tsc_hz);
}

Result<std::vector<MacTableEntry>> Dataplane::mac_table(const std::string& bridge) const {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(bridge);
  if (!b) return make_error("no bridge named " + bridge);
  std::vector<MacTableEntry> out;
  for (const vlan::MacEntry& e : b->macs->dump(impl_->now_sec())) {
    const Port* p = e.port < impl_->ports.size() ? impl_->ports[e.port].get() : nullptr;
    out.push_back({p ? p->spec.name : "?", e.vlan, e.mac, e.age_sec});
  }
  return out;
}

Result<MacTableCounters> Dataplane::mac_table_counters(const std::string& bridge) const {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(bridge);
  if (!b) return make_error("no bridge named " + bridge);
  return MacTableCounters{b->macs->stats(), b->macs->size(), b->macs->max_entries()};
}

Result<void> Dataplane::flush_macs(const std::string& bridge) {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(bridge);
  if (!b) return make_error("no bridge named " + bridge);
  b->macs->flush_all();
  impl_->bump();
  return {};
}

Result<uint32_t> Dataplane::ofport(const std::string& port) const {
  std::lock_guard lock(impl_->mu);
  Port* p = impl_->find_port(port);
  if (!p) return make_error("no port named " + port);
  return p->ofport;
}

flowtable::OfStatus Dataplane::flow_mod(const std::string& bridge, const flowtable::FlowMod& fm) {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(bridge);
  if (!b) return flowtable::OfError{flowtable::OFPET_BAD_REQUEST, 0, "no bridge named " + bridge};
  auto e = b->flows->apply(fm);
  if (!e) impl_->bump();
  impl_->note_removed(*b, b->flows->take_removed());
  return e;
}

flowtable::OfStatus Dataplane::flow_mods(const std::string& bridge,
                                         const std::vector<flowtable::FlowMod>& fms) {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(bridge);
  if (!b) return flowtable::OfError{flowtable::OFPET_BAD_REQUEST, 0, "no bridge named " + bridge};
  b->flows->bundle_open();
  for (const auto& fm : fms)
    if (auto e = b->flows->bundle_add(fm)) return e;  // the bundle is discarded
  auto e = b->flows->bundle_commit();
  impl_->bump();
  impl_->note_removed(*b, b->flows->take_removed());
  return e;
}

Result<std::vector<flowtable::FlowStats>> Dataplane::dump_flows(
    const std::string& bridge, const flowtable::FlowStatsRequest& req) const {
  std::lock_guard lock(impl_->mu);
  Bridge* b = impl_->find_bridge(bridge);
  if (!b) return make_error("no bridge named " + bridge);
  return b->flows->dump(req);
}

std::vector<FlowRemovedEvent> Dataplane::take_flow_removed() {
  std::lock_guard lock(impl_->mu);
  std::vector<FlowRemovedEvent> out;
  out.swap(impl_->flow_removed);
  return out;
}

flowtable::OfStatus Dataplane::packet_out(const std::string& bridge, uint32_t in_port,
                                          const std::vector<flowtable::Action>& actions,
                                          const std::vector<uint8_t>& frame) {
  using flowtable::OfError;
  constexpr uint16_t kBadLen = 6, kBadPort = 11;  // OFPBRC_* (OpenFlow 1.3 7.4.4)
  std::lock_guard lock(impl_->mu);
  Impl& im = *impl_;
  Bridge* b = im.find_bridge(bridge);
  if (!b) return OfError{flowtable::OFPET_BAD_REQUEST, kBadPort, "no bridge named " + bridge};
  const uint32_t room = rte_pktmbuf_data_room_size(im.pool) - RTE_PKTMBUF_HEADROOM;
  if (frame.size() < 14 || frame.size() > room)
    return OfError{flowtable::OFPET_BAD_REQUEST, kBadLen,
                   "packet-out frame of " + std::to_string(frame.size()) +
                       " bytes (an Ethernet frame of 14 to " + std::to_string(room) + " bytes)"};
  flowtable::FlowKey key;
  flowtable::extract(frame.data(), static_cast<uint32_t>(frame.size()), in_port, &key);
  if (auto e = flowtable::validate_packet_out(actions, key)) return e;
  auto job = std::make_unique<PacketOutJob>();
  job->bridge = b->index;
  uint32_t idx = kNoPeer;
  if (in_port == flowtable::OFPP_LOCAL || in_port == 65534 || in_port == flowtable::OFPP_CONTROLLER ||
      in_port == flowtable::OFPP_ANY) {
    job->from_controller = in_port == flowtable::OFPP_CONTROLLER || in_port == flowtable::OFPP_ANY;
    job->in_ofport = job->from_controller ? flowtable::OFPP_CONTROLLER : flowtable::OFPP_LOCAL;
    // The bridge's own port stands for the controller as the packet's
    // context (its VLAN settings; drops are counted there).
    for (uint32_t i : b->ports)
      if (im.ports[i]->spec.name == b->name) idx = i;
    if (idx == kNoPeer)
      return OfError{flowtable::OFPET_BAD_REQUEST, kBadPort,
                     "bridge " + bridge + " has no local port for a packet-out from LOCAL or the controller"};
  } else {
    auto it = b->ofports.find(in_port);
    if (it == b->ofports.end())
      return OfError{flowtable::OFPET_BAD_REQUEST, kBadPort,
                     "packet-out in_port " + std::to_string(in_port) + " is not a port of " + bridge};
    idx = it->second;
    job->in_ofport = in_port;
  }
  job->in_port = idx;
  job->in_port_uid = im.ports[idx]->uid;
  job->actions = actions;
  job->frame = frame;
  if (im.po_backlog.size() >= 65536) {
    return OfError{flowtable::OFPET_BAD_REQUEST, 5 /* OFPBRC_EPERM */,
                   "too many packet-outs waiting (65,536)"};
  }
  im.po_backlog.push_back(std::move(job));
  im.pump_packet_outs();
  return std::nullopt;
}

std::vector<PacketIn> Dataplane::take_packet_ins() {
  std::lock_guard lock(impl_->mu);
  std::vector<PacketIn> out;
  out.swap(impl_->packet_ins);
  return out;
}

size_t Dataplane::poll() {
  std::lock_guard lock(impl_->mu);
  Impl& im = *impl_;
  const uint32_t now = im.now_sec();
  size_t handled = 0;
  bool changed = false;
  im.reclaimer->poll();
  im.pump_packet_outs();
  for (auto& pmd : im.pmds) {
    auto& q = pmd->packet_in_queue();
    while (q.read_available()) {
      const PacketInRaw& raw = q.front();
      // Bounded: an OpenFlow channel that never takes them loses the oldest.
      if (im.packet_ins.size() >= kMaxPacketIns) im.packet_ins.erase(im.packet_ins.begin());
      PacketIn pi;
      const Bridge* b = raw.bridge < im.bridges.size() ? im.bridges[raw.bridge].get() : nullptr;
      pi.bridge = b ? b->name : "";
      pi.in_port = raw.in_port;
      pi.max_len = raw.max_len;
      pi.total_len = raw.total_len;
      pi.data.assign(raw.data, raw.data + raw.len);
      pi.key = raw.key;
      im.packet_ins.push_back(std::move(pi));
      q.pop();
    }
  }
  for (auto& pmd : im.pmds) {
    LearnEvent e;
    while (handled < kMaxLearnPerPoll && pmd->learn_queue().pop(e)) {
      ++handled;
      // Events may be stale: the port may be gone, or its index reused.
      if (e.port >= im.ports.size() || !im.ports[e.port]) continue;
      const Port& p = *im.ports[e.port];
      if (p.uid != e.uid || p.bridge != e.bridge) continue;
      const vlan::LearnResult r = im.bridges[e.bridge]->macs->learn(e.vlan, e.mac, e.port, now);
      changed |= r == vlan::LearnResult::kLearned || r == vlan::LearnResult::kMoved;
    }
  }
  if (now != im.last_age_sec) {
    im.last_age_sec = now;
    for (auto& b : im.bridges) {
      if (!b) continue;
      changed |= b->macs->age(now, b->settings.mac_aging_sec) > 0;
      const uint64_t v = b->flows->version();
      im.note_removed(*b, b->flows->expire());
      changed |= b->flows->version() != v;
    }
  }
  if (changed) im.bump();
  return handled;
}

uint32_t Dataplane::run_pmd_iteration(unsigned pmd) {
  if (impl_->cfg.start_pmd_threads || pmd >= impl_->pmds.size()) return 0;
  return impl_->pmds[pmd]->iterate();
}

void Dataplane::start_control_thread() {
  if (impl_->ctl_thread.joinable()) return;
  impl_->ctl_thread = std::thread([this] {
    while (!impl_->ctl_stop.load(std::memory_order_relaxed)) {
      if (poll() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
}

}  // namespace trestle::dataplane
