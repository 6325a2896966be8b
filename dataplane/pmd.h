#pragma once
// Pmd: one poll-mode thread, pinned to a core, run-to-completion: poll each
// assigned rx queue for a burst, run every packet through its bridge's
// OpenFlow tables (NORMAL = VLAN-aware learning switch; patch ports continue
// the walk in the peer bridge), batch the outputs per port, flush them,
// report a quiescent state, repeat.
//
// Thread-safety: the thread owns its counters and tx batches; the control
// side reads counters with relaxed loads (they are monotonic, written by this
// thread only) and drains learn_queue() and packet_in_queue() as their
// single consumer. Rule counters are written to this PMD's slot (its index).

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "dataplane/drops.h"
#include "dataplane/emc.h"
#include "dataplane/snapshot.h"
#include "flowtable/key.h"
#include "vlan/vlan_stack.h"

namespace trestle::dataplane {

inline constexpr uint16_t kBurst = 32;

struct LearnEvent {
  uint64_t mac;
  uint32_t port;
  uint32_t uid;
  uint16_t vlan;
  uint16_t bridge;
};

inline constexpr uint32_t kPacketInBytes = 2048;

// A packet for the controller, as queued by the PMD (fixed size: the queue
// never allocates).
struct PacketInRaw {
  uint16_t bridge;
  uint16_t max_len;
  uint32_t in_port;  // OpenFlow port number
  uint32_t total_len;
  uint32_t len;
  flowtable::FlowKey key;
  uint8_t data[kPacketInBytes];
};

// A PACKET_OUT, built by the control thread and handed to PMD 0 by pointer
// (the PMD never allocates or frees it: it hands it back when done).
struct PacketOutJob {
  uint16_t bridge = 0;
  uint32_t in_port = 0;      // port index the packet enters by (its context)
  uint32_t in_port_uid = 0;  // that port's uid, to notice a reused index
  uint32_t in_ofport = 0;    // in_port in the packet's key (OFPP_CONTROLLER: from no port)
  bool from_controller = false;  // no learning; FLOOD includes the context port
  std::vector<flowtable::Action> actions;
  std::vector<uint8_t> frame;
};

inline constexpr size_t kPacketOutQueue = 256;

// Counters written by one PMD thread only: relaxed load + store, no
// read-modify-write; readers sum them over PMDs with relaxed loads.
struct Counter {
  std::atomic<uint64_t> v{0};
  void add(uint64_t n) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

struct PortCounters {
  Counter rx_packets, rx_bytes, tx_packets, tx_bytes;
  Counter drops[kNumDrops];
};

struct PmdCounters {
  Counter iterations, busy_iterations, busy_cycles, idle_cycles, packets;
  Counter learn_events, learn_queue_full;
  Counter tx_batches, tx_batch_packets;  // flushed output batches and their packets
  Counter emc_hits, walks;               // exact-match cache hits; table walks (misses)
};

class Pmd final {
 public:
  // `generation` moves on every change that can alter a forwarding decision
  // (see emc.h); the PMD reads it once per iteration.
  Pmd(unsigned index, unsigned core, const std::atomic<const Snapshot*>* snapshot,
      const std::atomic<uint64_t>* generation, rte_rcu_qsbr* qsbr, rte_mempool* pool,
      uint32_t learn_queue_size, uint64_t tsc_base);
  ~Pmd();

  void start();
  void stop();
  // One poll-loop iteration on the caller's thread (benchmarks and
  // deterministic tests run a PMD this way instead of start()); returns the
  // packets received. Never concurrently with the thread.
  uint32_t iterate();

  unsigned index() const { return index_; }
  unsigned core() const { return core_.load(std::memory_order_relaxed); }
  // Moves the running thread (or the one start() will make) to `core`;
  // false (and nothing changed) when the kernel refuses.
  bool move_to(unsigned core);
  // The EAL lcore id the thread registered as (-1: none, so no mempool cache).
  int lcore() const { return lcore_.load(std::memory_order_relaxed); }
  const PortCounters& port_counters(uint32_t port) const { return ports_[port]; }
  const PmdCounters& counters() const { return counters_; }
  boost::lockfree::spsc_queue<LearnEvent>& learn_queue() { return learn_q_; }
  boost::lockfree::spsc_queue<PacketInRaw>& packet_in_queue() { return packet_in_q_; }
  // Control -> PMD: packet-outs to run; PMD -> control: the ones run, to free.
  boost::lockfree::spsc_queue<PacketOutJob*>& packet_out_queue() { return po_in_; }
  boost::lockfree::spsc_queue<PacketOutJob*>& packet_out_done() { return po_done_; }

  // One bridge's part of a packet's walk: the Sink the flow tables' pipeline
  // outputs to (pmd.cc).
  struct Walk;

 private:
  struct TxBatch {
    uint16_t n = 0;
    bool listed = false;  // in dirty_
    uint64_t bytes = 0;
    rte_mbuf* pkts[kBurst];
  };
  struct Emit {
    uint32_t port;
    vlan::VlanStack vlans;
    uint64_t dirty;  // header fields to write from keys_[this emit's index]
  };
  // A received packet after stage 1 of process_burst.
  struct Meta {
    rte_mbuf* m;
    uint32_t hash;  // EMC hash of key + input port
    const EmcEntry* hit;  // its cache entry, or null
    bool use_emc;         // looked up in (and inserted into) the cache
    vlan::VlanStack vlans;
    flowtable::FlowKey key;
  };

  void run();
  void process_burst(const Snapshot& s, uint32_t in_port, rte_mbuf** pkts, uint16_t n);
  void switch_packet(const Snapshot& s, uint32_t in_port, Meta& mt);
  void replay(const Snapshot& s, const Program& p, rte_mbuf* m);
  void flush_replays(const Snapshot& s);
  void output_emits(const Snapshot& s, rte_mbuf* m);
  void run_tables(Walk& w, const flowtable::FlowKey& k, flowtable::FlowKey* mutable_key);
  void normal(Walk& w, const flowtable::FlowKey& k, uint64_t dirty);
  void flood(Walk& w, const flowtable::FlowKey& k, uint64_t dirty);
  void to_port(Walk& w, uint32_t port, const vlan::VlanStack& vlans, const flowtable::FlowKey& k,
               uint64_t dirty);
  void cross_patch(Walk& w, uint32_t patch, const vlan::VlanStack& vlans,
                   const flowtable::FlowKey& k);
  void to_controller(Walk& w, uint16_t max_len, const flowtable::FlowKey& k, uint64_t dirty);
  void send(const Snapshot& s, rte_mbuf* m, uint32_t emit);
  void enqueue_tx(const Snapshot& s, uint32_t port, rte_mbuf* m);
  void run_packet_out(const Snapshot& s, const PacketOutJob& j);
  void flush_port(const Snapshot& s, uint32_t port);
  void count_tx(uint32_t port, uint16_t sent, uint64_t sent_bytes, TxBatch& b);
  void flush_all(const Snapshot& s);
  void drop(uint32_t port, Drop why) {
    ports_[port].drops[static_cast<size_t>(why)].add(1);
    counted_drop_ = true;
    if (recording_) {
      if (rec_.n_drops < kProgDrops)
        rec_.drops[rec_.n_drops++] = {port, why};
      else
        cacheable_ = false;
    }
  }

  const unsigned index_;
  // Relaxed: read for display and at thread start; the move itself is
  // pthread_setaffinity_np's, which needs no ordering from us.
  std::atomic<unsigned> core_;
  const std::atomic<const Snapshot*>* snapshot_;
  const std::atomic<uint64_t>* generation_;
  uint64_t gen_ = 0;  // generation_ as read for this iteration
  rte_rcu_qsbr* qsbr_;
  rte_mempool* pool_;
  const uint64_t tsc_base_;
  const uint64_t tsc_hz_;
  uint32_t now_sec_ = 0;

  std::unique_ptr<PortCounters[]> ports_;
  PmdCounters counters_;
  boost::lockfree::spsc_queue<LearnEvent> learn_q_;
  boost::lockfree::spsc_queue<PacketInRaw> packet_in_q_;
  boost::lockfree::spsc_queue<PacketOutJob*> po_in_{kPacketOutQueue}, po_done_{kPacketOutQueue};
  Meta po_meta_;  // the packet-out being run

  // Scratch, sized once: no allocation on the fast path.
  std::unique_ptr<TxBatch[]> tx_;                   // by port index
  std::vector<uint32_t> dirty_;                     // ports with a pending batch
  std::vector<vlan::NormalOutput> outs_;            // kMaxPatchDepth * kMaxPorts
  std::vector<Emit> emits_;                         // one packet's outputs
  std::vector<flowtable::FlowKey> keys_;            // their rewritten headers
  Meta meta_[kBurst];
  const Meta* cur_ = nullptr;  // the packet being switched
  std::unique_ptr<PacketInRaw> packet_in_scratch_;
  std::unique_ptr<uint8_t[]> packet_in_frame_;  // a packet-in's frame while it is edited
  uint32_t n_emits_ = 0;
  bool counted_drop_ = false;  // a drop reason was counted for this packet
  // The exact-match cache, and the program recorded by a walk for it.
  Emc emc_;
  Program rec_;
  flowtable::FlowKey emc_key_;  // the key of the packet being recorded
  bool recording_ = false;
  bool cacheable_ = false;
  bool emc_changed_ = false;  // an entry was inserted during this burst
  // With more flows than the cache holds, a lookup that misses (and the
  // insert after it) costs more than the walk it could save. Over windows
  // of kEmcWindow lookups, the cache is switched off below a 1-in-10 hit
  // rate; while off, one packet in kEmcSampleOneIn still uses it, so it
  // comes back when the traffic becomes cacheable again.
  static constexpr uint32_t kEmcWindow = 4096, kEmcSampleOneIn = 16;
  bool emc_on_ = true;
  uint32_t emc_sample_ = 0, window_lookups_ = 0, window_hits_ = 0;
  void judge_emc(bool hit) {
    window_hits_ += hit;
    if (++window_lookups_ < (emc_on_ ? kEmcWindow : kEmcWindow / kEmcSampleOneIn)) return;
    emc_on_ = window_hits_ * 10 >= window_lookups_;
    window_lookups_ = window_hits_ = 0;
  }
  // Replays not yet added to the counters (consecutive hits on one entry).
  const Program* pending_ = nullptr;
  uint64_t pending_packets_ = 0, pending_bytes_ = 0;

  std::atomic<bool> stop_{false};
  std::atomic<int> lcore_{-1};
  std::thread thread_;
};

}  // namespace trestle::dataplane
