#pragma once
// Pipeline: one packet's walk through a bridge's OpenFlow tables, from table
// 0: lookups, apply_actions in order, the action set (write_actions /
// clear_actions, executed when the walk ends without a goto_table),
// write_metadata, goto_table, Nicira resubmit (depth-limited) and move.
//
// What leaves the flow tables (outputs, NORMAL, FLOOD/ALL, CONTROLLER,
// LOCAL) and what changes the frame's VLAN headers is the Sink's: the
// dataplane's sink batches outputs and folds VLAN edits; a test's sink
// records them. Static dispatch: Sink is a template parameter, so the walk
// inlines into the PMD's loop.
//
// Sink:
//   void output(uint32_t port, uint16_t max_len, const FlowKey& k, uint64_t dirty);
//       port: an OpenFlow port number (IN_PORT already resolved to k.in_port)
//       or OFPP_NORMAL / FLOOD / ALL / CONTROLLER / LOCAL; `dirty` is the set
//       (field_bit) of header fields set_field changed, to be written into
//       the frame.
//   void push_vlan(uint16_t tpid, uint16_t key_tci);  // key_tci as in FlowKey
//   uint16_t pop_vlan();      // returns the new outer tag's key_tci (0: none)
//   void set_vlan_tci(uint16_t key_tci);  // rewrite the outer tag's VID/PCP
//   void table_miss(uint8_t table);
//   void resubmit_limit();    // the walk went deeper than kMaxResubmitDepth
//   void in_port_output();    // output:N to the input port, skipped as in OVS
//   void matched(const Rule* r);  // r matched (and was counted) on the walk
//
// Thread-safety: runs on a reader thread against FlowTables::version() as
// read once for the packet (or burst); touches only the rules' counters.

#include <cstdint>

#include "flowtable/flow_table.h"

namespace trestle::flowtable {

inline constexpr unsigned kMaxResubmitDepth = 64;
inline constexpr unsigned kMaxActionSetFields = 16;

// Header fields set_field writes into the frame (not registers/metadata,
// and not VLAN: the sink tracks VLAN edits itself).
inline constexpr uint64_t kFrameFields = ~(
    field_bit(Field::in_port) | field_bit(Field::metadata) | field_bit(Field::vlan_vid) |
    field_bit(Field::vlan_pcp) | field_bit(Field::conj_id) |
    (((uint64_t{1} << 16) - 1) << static_cast<unsigned>(Field::reg0)));

template <class Sink>
class Pipeline {
 public:
  Pipeline(const FlowTables& tables, uint64_t version, unsigned slot, Sink& sink)
      : t_(tables), version_(version), slot_(slot), sink_(sink) {}

  // Runs the packet (its key, as extracted; modified in place) from table 0.
  void run(FlowKey& k, uint32_t bytes) {
    bytes_ = bytes;
    dirty_ = 0;
    set_.clear();
    if (walk(0, k, 0)) execute_set(k);
  }

  // A packet-out's action list (validate_packet_out): applied in order;
  // output:TABLE runs the packet, as edited so far, through the tables from
  // table 0, then the list goes on.
  void run_actions(const std::vector<Action>& list, FlowKey& k, uint32_t bytes) {
    bytes_ = bytes;
    dirty_ = 0;
    for (const Action& a : list) {
      if (a.type == ActionType::kOutput && a.port == OFPP_TABLE) {
        set_.clear();
        if (walk(0, k, 1)) execute_set(k);
        continue;
      }
      act(a, k, 0, 0);
    }
  }

 private:
  // The action set, by pointer into the rules (which outlive the walk).
  struct ActionSet {
    const Action* pop = nullptr;
    const Action* push = nullptr;
    const Action* sets[kMaxActionSetFields];
    uint32_t n_sets = 0;
    const Action* output = nullptr;
    void clear() {
      pop = push = output = nullptr;
      n_sets = 0;
    }
    void merge(const std::vector<Action>& list) {
      for (const Action& a : list) {
        switch (a.type) {
          case ActionType::kPopVlan: pop = &a; break;
          case ActionType::kPushVlan: push = &a; break;
          case ActionType::kOutput: output = &a; break;
          case ActionType::kSetField:
          case ActionType::kSetVlanVid:
          case ActionType::kSetVlanPcp: {
            uint32_t i = 0;
            for (; i < n_sets; ++i)
              if (sets[i]->type == a.type && sets[i]->field == a.field) break;
            if (i < n_sets)
              sets[i] = &a;
            else if (n_sets < kMaxActionSetFields)
              sets[n_sets++] = &a;
            break;
          }
          default: break;  // validation keeps resubmit/move out of write_actions
        }
      }
    }
  };

  // 8< walk
  // Walks from `table`; false when the top-level walk ended in a table miss
  // (the packet is dropped, its action set with it).
  bool walk(uint8_t table, FlowKey& k, unsigned depth) {
    for (;;) {
      const Rule* r = t_.lookup(table, k, version_);
      if (!r) {
        sink_.table_miss(table);
        return false;
      }
      r->count(slot_, 1, bytes_);
      sink_.matched(r);
      const Instructions& ins = r->ins;
      if (!ins.apply.empty()) apply(ins.apply, k, table, depth);
      if (ins.clear_actions) set_.clear();
      if (ins.has_write) set_.merge(ins.write);
      if (ins.write_metadata) {
        const auto [v, m] = *ins.write_metadata;
        k.metadata = (k.metadata & ~m) | (v & m);
      }
      if (!ins.goto_table) return true;
      table = *ins.goto_table;
    }
  }
  // >8

  void apply(const std::vector<Action>& list, FlowKey& k, uint8_t table, unsigned depth) {
    for (const Action& a : list) act(a, k, table, depth);
  }

  void act(const Action& a, FlowKey& k, uint8_t table, unsigned depth) {
    switch (a.type) {
      case ActionType::kOutput:
        // Output to the input port is skipped, as in OVS; a packet-out's
        // input port may be CONTROLLER, which still gets output:CONTROLLER.
        if (a.port == k.in_port && a.port != OFPP_CONTROLLER) {
          sink_.in_port_output();
          break;
        }
        sink_.output(a.port == OFPP_IN_PORT ? k.in_port : a.port, a.max_len, k, dirty_);
        break;
      case ActionType::kPushVlan: {
        // The new tag copies VID and PCP from the current outer tag, if any.
        const uint16_t tci = static_cast<uint16_t>(kVlanPresent | (k.vlan_tci & ~kVlanPresent));
        sink_.push_vlan(a.ethertype, tci);
        k.vlan_tci = tci;
        break;
      }
      case ActionType::kPopVlan:
        if (k.vlan_tci) k.vlan_tci = sink_.pop_vlan();
        break;
      case ActionType::kSetVlanVid:
      case ActionType::kSetVlanPcp: {
        // OpenFlow 1.0: an untagged packet gets a tag (VID/PCP 0 otherwise).
        if (!k.vlan_tci) {
          k.vlan_tci = kVlanPresent;
          sink_.push_vlan(0x8100, k.vlan_tci);
        }
        const uint16_t v = static_cast<uint16_t>(a.value);
        k.vlan_tci = a.type == ActionType::kSetVlanVid
                         ? static_cast<uint16_t>((k.vlan_tci & 0xf000) | v)
                         : static_cast<uint16_t>((k.vlan_tci & 0x1fff) | v << 13);
        sink_.set_vlan_tci(k.vlan_tci);
        break;
      }
      case ActionType::kSetField:
        set(a.field, a.value, a.mask, k);
        break;
      case ActionType::kResubmit: {
        if (depth + 1 >= kMaxResubmitDepth) {
          sink_.resubmit_limit();
          break;
        }
        const uint32_t saved = k.in_port;
        if (a.port != OFPP_IN_PORT) k.in_port = a.port;
        walk(a.table == 0xff ? table : a.table, k, depth + 1);
        k.in_port = saved;
        break;
      }
      case ActionType::kConjunction:
        break;  // the classifier never returns a conjunctive clause
      case ActionType::kRegMove: {
        const u128 bits = (field_all_ones(a.src) >> a.src_ofs) &
                          (a.n_bits >= 128 ? ~u128{0} : (u128{1} << a.n_bits) - 1);
        const u128 v = (get_field(k, a.src) >> a.src_ofs) & bits;
        set(a.field, v << a.dst_ofs, bits << a.dst_ofs, k);
        break;
      }
    }
  }

  void set(Field f, u128 value, u128 mask, FlowKey& k) {
    if (f == Field::vlan_vid) {
      // OpenFlow 1.1+: no tag is pushed; an untagged packet is unchanged.
      if (!k.vlan_tci) return;
      set_field(&k, f, value, mask & 0x0fff);
      sink_.set_vlan_tci(k.vlan_tci);
      return;
    }
    if (f == Field::vlan_pcp) {
      if (!k.vlan_tci) return;
      set_field(&k, f, value, mask);
      sink_.set_vlan_tci(k.vlan_tci);
      return;
    }
    set_field(&k, f, value, mask);
    dirty_ |= field_bit(f) & kFrameFields;
  }

  void execute_set(FlowKey& k) {
    if (set_.pop) act(*set_.pop, k, 0, 0);
    if (set_.push) act(*set_.push, k, 0, 0);
    for (uint32_t i = 0; i < set_.n_sets; ++i) act(*set_.sets[i], k, 0, 0);
    if (set_.output) act(*set_.output, k, 0, 0);
  }

  const FlowTables& t_;
  const uint64_t version_;
  const unsigned slot_;
  Sink& sink_;
  uint32_t bytes_ = 0;
  uint64_t dirty_ = 0;
  ActionSet set_;
};

}  // namespace trestle::flowtable
