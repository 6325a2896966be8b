#pragma once
// The OpenFlow rules of the benchmark topologies, as bench/e2e/run installs
// them in OVS with stock ovs-ofctl, given to trestle's dataplane the same
// way (one bundle per bridge):
//   b2: br0 {vm, nic}: in_port=vm -> nic, in_port=nic -> vm, instead of NORMAL;
//   b3: the reference deployment plus what the neutron OVS agent installs for
//       a VLAN network, segmentation 2000 <-> local VLAN 1
//       (compat-openflow.md section 3).

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/dataplane.h"
#include "flowtable/flow_table.h"

namespace trestle::bench {

inline flowtable::FlowMod flow(uint8_t table, uint16_t prio, const flowtable::Match& m,
                               std::vector<flowtable::Action> acts,
                               std::optional<uint8_t> go = std::nullopt) {
  flowtable::FlowMod fm;
  fm.table = table;
  fm.priority = prio;
  fm.match = m;
  fm.ins.apply = std::move(acts);
  fm.ins.goto_table = go;
  return fm;
}

inline std::vector<std::pair<std::string, std::vector<flowtable::FlowMod>>> topology_flows(
    const std::string& topology, dataplane::Dataplane& dp) {
  using namespace trestle::flowtable;
  auto of = [&](const char* port) { return dp.ofport(port).value(); };
  if (topology == "b2") {
    FlowMod wipe;
    wipe.command = FlowMod::Command::kDelete;
    wipe.table = OFPTT_ALL;
    return {{"br0",
             {wipe, flow(0, 0x8000, Match().set(Field::in_port, of("vm")), {Action::output(of("nic"))}),
              flow(0, 0x8000, Match().set(Field::in_port, of("nic")), {Action::output(of("vm"))})}}};
  }
  if (topology != "b3") return {};
  const uint32_t int_patch = of("int-br-eth0"), phy_patch = of("phy-br-eth0");
  return {
      {"br-int",
       {flow(0, 0, Match(), {}, 59), flow(59, 0, Match(), {}, 60),
        flow(60, 3, Match(), {Action::output(OFPP_NORMAL)}), flow(23, 0, Match(), {}),
        flow(24, 0, Match(), {}),
        flow(0, 65535, Match().set(Field::vlan_vid, kVlanPresent | 4095), {}),
        flow(0, 2, Match().set(Field::in_port, int_patch), {}),
        flow(0, 3, Match().set(Field::in_port, int_patch).set(Field::vlan_vid, kVlanPresent | 2000),
             {Action::set_field(Field::vlan_vid, kVlanPresent | 1)}, 59)}},
      {"br-eth0",
       {flow(0, 2, Match().set(Field::in_port, phy_patch), {}),
        flow(0, 4, Match().set(Field::in_port, phy_patch).set(Field::vlan_vid, kVlanPresent | 1),
             {Action::set_field(Field::vlan_vid, kVlanPresent | 2000), Action::output(OFPP_NORMAL)})}}};
}

// n never-matching drops, as bench/e2e/control-plane gives OVS:
// table=0,priority=1,in_port=<in_port>,dl_src=0a:00:<i>,actions=drop.
inline std::vector<flowtable::FlowMod> never_matching_rules(uint32_t n, uint32_t in_port) {
  using namespace trestle::flowtable;
  std::vector<FlowMod> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i)
    out.push_back(flow(0, 1, Match().set(Field::in_port, in_port).set(Field::eth_src, 0x0a0000000000ull | i), {}));
  return out;
}

}  // namespace trestle::bench
