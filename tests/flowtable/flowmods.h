#pragma once
// Short FlowMod builders for flowtable tests.

#include <initializer_list>

#include "flowtable/flow_table.h"

namespace trestle::flowtable::test {

inline Instructions actions(std::initializer_list<Action> a) {
  Instructions i;
  i.apply = a;
  return i;
}
inline Instructions then_goto(uint8_t table, std::initializer_list<Action> a = {}) {
  Instructions i = actions(a);
  i.goto_table = table;
  return i;
}
inline FlowMod add(uint8_t table, uint16_t priority, const Match& m, const Instructions& ins,
                   uint64_t cookie = 0) {
  FlowMod fm;
  fm.command = FlowMod::Command::kAdd;
  fm.table = table;
  fm.priority = priority;
  fm.match = m;
  fm.ins = ins;
  fm.cookie = cookie;
  return fm;
}
inline FlowMod del(uint8_t table, const Match& m) {
  FlowMod fm;
  fm.command = FlowMod::Command::kDelete;
  fm.table = table;
  fm.match = m;
  return fm;
}
inline FlowMod del_strict(uint8_t table, uint16_t priority, const Match& m) {
  FlowMod fm = del(table, m);
  fm.command = FlowMod::Command::kDeleteStrict;
  fm.priority = priority;
  return fm;
}
inline Match in_port(uint32_t p) { return Match().set(Field::in_port, p); }
// OpenFlow 1.3 vlan_vid=VID with OFPVID_PRESENT, as neutron matches dl_vlan.
inline Match in_port_vlan(uint32_t p, uint16_t vid) {
  return Match().set(Field::in_port, p).set(Field::vlan_vid, kVlanPresent | vid);
}

inline FlowStatsRequest in_table(uint8_t table) {
  FlowStatsRequest r;
  r.table = table;
  return r;
}
inline FlowStatsRequest strict_req(uint8_t table, uint16_t priority, const Match& m) {
  FlowStatsRequest r = in_table(table);
  r.strict = true;
  r.priority = priority;
  r.match = m;
  return r;
}

}  // namespace trestle::flowtable::test
