#include "flowtable/action.h"

#include <string>

namespace trestle::flowtable {
namespace {

OfError bad(uint16_t type, uint16_t code, std::string msg) { return OfError{type, code, std::move(msg)}; }

std::string fname(Field f) { return std::string(field_info(f).name); }

bool valid_out_port(uint32_t p) {
  if (p == 0) return false;
  if (p <= OFPP_MAX) return true;
  return p == OFPP_IN_PORT || p == OFPP_NORMAL || p == OFPP_FLOOD || p == OFPP_ALL ||
         p == OFPP_CONTROLLER || p == OFPP_LOCAL;
}

// `tagged`: the packet surely carries a VLAN tag at this point of the list
// (the match says so, or a push came since the last pop). Writing vlan_vid
// needs one too: OpenFlow 1.1+ set_field does not push a tag, and OVS
// refuses such a flow with MATCH_INCONSISTENT rather than let it do nothing.
OfStatus check_field_access(Field f, const Match& m, bool tagged, bool write, const char* what) {
  const Prereq p = field_info(f).prereq;
  if (p == Prereq::kVlanTagged || (write && f == Field::vlan_vid)) {
    if (tagged) return std::nullopt;
    return bad(OFPET_BAD_ACTION, OFPBAC_MATCH_INCONSISTENT,
               std::string(what) + " " + fname(f) + " needs a VLAN tag that the match (" +
                   (m.to_string().empty() ? "empty" : m.to_string()) + ") or a push_vlan guarantees");
  }
  if (!m.satisfies(p))
    return bad(OFPET_BAD_ACTION, OFPBAC_MATCH_INCONSISTENT,
               std::string(what) + " " + fname(f) + " needs a match that guarantees the field (" +
                   (m.to_string().empty() ? "match is empty" : m.to_string()) + ")");
  return std::nullopt;
}

OfStatus validate_list(const std::vector<Action>& list, const Match& m, bool action_set) {
  bool tagged = m.satisfies(Prereq::kVlanTagged);
  int outputs = 0;
  for (const Action& a : list) {
    switch (a.type) {
      case ActionType::kOutput:
        if (!valid_out_port(a.port))
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_OUT_PORT,
                     "output to port " + std::to_string(a.port) + " is not valid in a flow");
        ++outputs;
        break;
      case ActionType::kPushVlan:
        if (a.ethertype != 0x8100 && a.ethertype != 0x88a8)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_ARGUMENT,
                     "push_vlan ethertype must be 0x8100 or 0x88a8");
        tagged = true;
        break;
      case ActionType::kPopVlan:
        tagged = false;  // an inner tag is not something a match can promise
        break;
      case ActionType::kSetVlanVid:
        if (a.value > 0xfff)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_ARGUMENT, "mod_vlan_vid value above 4095");
        tagged = true;  // OpenFlow 1.0 mod_vlan_vid pushes one if need be
        break;
      case ActionType::kSetVlanPcp:
        if (a.value > 7)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_ARGUMENT, "mod_vlan_pcp value above 7");
        tagged = true;
        break;
      case ActionType::kSetField: {
        const FieldInfo& fi = field_info(a.field);
        if (!fi.settable)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_SET_TYPE,
                     "set_field to " + fname(a.field) + " is not supported");
        if (a.value & ~field_all_ones(a.field))
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_SET_ARGUMENT,
                     "set_field value does not fit " + fname(a.field));
        if (auto e = check_field_access(a.field, m, tagged, true, "set_field to")) return e;
        break;
      }
      case ActionType::kResubmit:
        if (action_set)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_TYPE, "resubmit cannot be in write_actions");
        break;
      case ActionType::kConjunction:
        if (action_set)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_TYPE, "conjunction cannot be in write_actions");
        if (a.n_clauses < 2 || a.n_clauses > 64 || a.clause < 1 || a.clause > a.n_clauses)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_ARGUMENT,
                     "conjunction(" + std::to_string(a.port) + "," + std::to_string(a.clause) + "/" +
                         std::to_string(a.n_clauses) + ") needs 1 <= k <= n and 2 <= n <= 64");
        break;
      case ActionType::kRegMove: {
        if (action_set)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_TYPE, "move cannot be in write_actions");
        if (a.n_bits == 0 || a.src_ofs + a.n_bits > field_info(a.src).bits ||
            a.dst_ofs + a.n_bits > field_info(a.field).bits)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_ARGUMENT,
                     "move bit range does not fit " + fname(a.src) + " -> " + fname(a.field));
        if (!field_info(a.field).settable)
          return bad(OFPET_BAD_ACTION, OFPBAC_BAD_SET_TYPE,
                     "move into " + fname(a.field) + " is not supported");
        if (auto e = check_field_access(a.src, m, tagged, false, "move from")) return e;
        if (auto e = check_field_access(a.field, m, tagged, false, "move into")) return e;
        break;
      }
    }
  }
  if (action_set && outputs > 1)
    return bad(OFPET_BAD_ACTION, OFPBAC_TOO_MANY, "write_actions holds more than one output");
  return std::nullopt;
}

}  // namespace

bool Instructions::outputs_to(uint32_t port) const {
  if (port == OFPP_ANY) return true;
  for (const Action& a : apply)
    if (a.type == ActionType::kOutput && a.port == port) return true;
  if (has_write)
    for (const Action& a : write)
      if (a.type == ActionType::kOutput && a.port == port) return true;
  return false;
}

OfStatus validate_instructions(const Instructions& ins, const Match& m, uint8_t table) {
  // A conjunctive clause does nothing else (OVS: conjunction actions may
  // only be combined with each other).
  bool conj = false, other = false;
  for (const Action& a : ins.apply) (a.type == ActionType::kConjunction ? conj : other) = true;
  if (conj && (other || ins.has_write || ins.clear_actions || ins.write_metadata || ins.goto_table))
    return bad(OFPET_BAD_ACTION, OFPBAC_BAD_ARGUMENT,
               "conjunction actions cannot be combined with other actions or instructions");
  if (ins.goto_table && (*ins.goto_table <= table || *ins.goto_table >= kNumTables))
    return bad(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_TABLE_ID,
               "goto_table:" + std::to_string(*ins.goto_table) + " from table " +
                   std::to_string(table) + " does not go forward");
  if (auto e = validate_list(ins.apply, m, false)) return e;
  if (ins.has_write)
    if (auto e = validate_list(ins.write, m, true)) return e;
  return std::nullopt;
}

OfStatus validate_packet_out(const std::vector<Action>& list, const FlowKey& k) {
  // The packet's own headers stand for the match: what it carries is what
  // set_field may write.
  Match m;
  m.set(Field::eth_type, get_field(k, Field::eth_type));
  if (k.vlan_tci) m.set(Field::vlan_vid, get_field(k, Field::vlan_vid));
  if (m.satisfies(Prereq::kIpAny)) m.set(Field::ip_proto, get_field(k, Field::ip_proto));
  if (m.satisfies(Prereq::kIcmpv6)) m.set(Field::icmpv6_type, get_field(k, Field::icmpv6_type));
  std::vector<Action> checked = list;
  for (Action& a : checked) {
    if (a.type == ActionType::kConjunction)
      return bad(OFPET_BAD_ACTION, OFPBAC_BAD_TYPE, "conjunction is not a packet-out action");
    if (a.type == ActionType::kOutput && a.port == OFPP_TABLE) a.port = OFPP_NORMAL;  // valid here
  }
  return validate_list(checked, m, false);
}

}  // namespace trestle::flowtable
