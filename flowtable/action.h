#pragma once
// Actions and instructions of a rule, as a FlowMod carries them, and their
// validation against the rule's match and table.
//
// Port numbers are OpenFlow 1.3's 32-bit ones (the OpenFlow channel maps
// OpenFlow 1.0's 16-bit reserved ports onto them).

#include <cstdint>
#include <optional>
#include <vector>

#include "flowtable/errors.h"
#include "flowtable/fields.h"
#include "flowtable/match.h"

namespace trestle::flowtable {

// OpenFlow 1.3 reserved ports (ofp_port_no).
enum : uint32_t {
  OFPP_MAX = 0xffffff00,
  OFPP_IN_PORT = 0xfffffff8,
  OFPP_TABLE = 0xfffffff9,
  OFPP_NORMAL = 0xfffffffa,
  OFPP_FLOOD = 0xfffffffb,
  OFPP_ALL = 0xfffffffc,
  OFPP_CONTROLLER = 0xfffffffd,
  OFPP_LOCAL = 0xfffffffe,
  OFPP_ANY = 0xffffffff,
};
inline constexpr uint32_t OFPG_ANY = 0xffffffff;
inline constexpr uint8_t OFPTT_ALL = 0xff;
inline constexpr uint8_t kNumTables = 255;  // tables 0-254
inline constexpr uint16_t OFPCML_NO_BUFFER = 0xffff;

enum class ActionType : uint8_t {
  kOutput,      // port (a number or a reserved port), max_len for CONTROLLER
  kPushVlan,    // ethertype 0x8100 or 0x88a8
  kPopVlan,     // also OpenFlow 1.0 strip_vlan
  kSetField,    // field := value under mask (Nicira reg_load is a masked set)
  kSetVlanVid,  // OpenFlow 1.0 mod_vlan_vid: rewrites, or pushes a tag on an untagged packet
  kSetVlanPcp,  // OpenFlow 1.0 mod_vlan_pcp: likewise
  kResubmit,    // Nicira resubmit(port, table): port OFPP_IN_PORT keeps in_port, table 0xff the current
  kRegMove,     // Nicira move: dst[dst_ofs..+n_bits] := src[src_ofs..+n_bits]
  kConjunction, // Nicira conjunction(id, clause/n_clauses): a clause of a conjunctive match
};

struct Action {
  ActionType type = ActionType::kOutput;
  Field field = Field::in_port;  // kSetField target; kRegMove destination
  Field src = Field::in_port;    // kRegMove source
  uint8_t table = 0xff;          // kResubmit
  uint16_t ethertype = 0;        // kPushVlan
  uint16_t max_len = 0;          // kOutput to CONTROLLER
  uint16_t src_ofs = 0, dst_ofs = 0, n_bits = 0;  // kRegMove
  uint32_t port = 0;             // kOutput, kResubmit; kConjunction: the id
  uint8_t clause = 0, n_clauses = 0;  // kConjunction: k (1-based) of n
  u128 value = 0;                // kSetField, kSetVlanVid (VID), kSetVlanPcp
  u128 mask = 0;                 // kSetField

  static Action output(uint32_t port, uint16_t max_len = 0) {
    Action a;
    a.port = port;
    a.max_len = max_len;
    return a;
  }
  static Action push_vlan(uint16_t ethertype = 0x8100) {
    Action a;
    a.type = ActionType::kPushVlan;
    a.ethertype = ethertype;
    return a;
  }
  static Action pop_vlan() {
    Action a;
    a.type = ActionType::kPopVlan;
    return a;
  }
  static Action set_field(Field f, u128 value) { return set_field(f, value, field_all_ones(f)); }
  static Action set_field(Field f, u128 value, u128 mask) {
    Action a;
    a.type = ActionType::kSetField;
    a.field = f;
    a.value = value & mask;
    a.mask = mask;
    return a;
  }
  static Action set_vlan_vid(uint16_t vid) {
    Action a;
    a.type = ActionType::kSetVlanVid;
    a.value = vid;
    return a;
  }
  static Action set_vlan_pcp(uint8_t pcp) {
    Action a;
    a.type = ActionType::kSetVlanPcp;
    a.value = pcp;
    return a;
  }
  static Action resubmit(uint32_t port, uint8_t table) {
    Action a;
    a.type = ActionType::kResubmit;
    a.port = port;
    a.table = table;
    return a;
  }
  static Action reg_move(Field src, uint16_t src_ofs, Field dst, uint16_t dst_ofs,
                         uint16_t n_bits) {
    Action a;
    a.type = ActionType::kRegMove;
    a.src = src;
    a.src_ofs = src_ofs;
    a.field = dst;
    a.dst_ofs = dst_ofs;
    a.n_bits = n_bits;
    return a;
  }
  static Action conjunction(uint32_t id, uint8_t clause, uint8_t n_clauses) {
    Action a;
    a.type = ActionType::kConjunction;
    a.port = id;
    a.clause = clause;
    a.n_clauses = n_clauses;
    return a;
  }
  bool operator==(const Action&) const = default;
};

struct Instructions {
  std::vector<Action> apply;  // OFPIT_APPLY_ACTIONS
  std::vector<Action> write;  // OFPIT_WRITE_ACTIONS (when has_write)
  bool has_write = false;
  bool clear_actions = false;  // OFPIT_CLEAR_ACTIONS
  std::optional<std::pair<uint64_t, uint64_t>> write_metadata;  // value, mask
  std::optional<uint8_t> goto_table;

  bool operator==(const Instructions&) const = default;
  // Whether some output action of the rule sends to `port` (flow_mod and
  // flow stats out_port filters; OFPP_ANY matches everything).
  bool outputs_to(uint32_t port) const;
  // A clause of conjunctive matches: its only actions are conjunction().
  bool conjunctive() const {
    return !apply.empty() && apply.front().type == ActionType::kConjunction;
  }
};

// Checks instructions for a rule in `table` with `match`: goto_table only
// forward, set_field on settable fields whose prerequisites the match
// guarantees, sane ports, reg_move bit ranges, at most one output in the
// action set. Unsupported things are refused with their error, never
// ignored.
OfStatus validate_instructions(const Instructions& ins, const Match& match, uint8_t table);
// A packet-out's actions, judged against the packet itself (`k`, its
// extracted key): output:TABLE is allowed here, and not in a flow;
// conjunction is not.
OfStatus validate_packet_out(const std::vector<Action>& list, const FlowKey& k);

}  // namespace trestle::flowtable
