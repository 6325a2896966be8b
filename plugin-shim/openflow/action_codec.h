#pragma once
// Actions and instructions on the wire: OpenFlow 1.0 actions (with
// OFPAT_VENDOR Nicira actions), OpenFlow 1.3/1.4 actions and instructions
// (with Nicira experimenter actions).
//
// OpenFlow 1.0 cannot say everything the flowtable can; the encoder then
// writes what OVS writes: goto_table as resubmit(,T), write_metadata as
// NXAST_WRITE_METADATA, set_field as the OpenFlow 1.0 set actions or
// reg_load; write/clear actions and a lone push_vlan are left out.

#include "flowtable/action.h"
#include "plugin-shim/openflow/ofp.h"
#include "plugin-shim/openflow/wire.h"

namespace trestle::shim::ofp {

// An action list (OpenFlow 1.0: the whole flow's actions, which may carry
// NXAST_WRITE_METADATA, hence Instructions). `match` tells OpenFlow 1.0's
// set_tp_src whether it means TCP, UDP or SCTP.
OfResult<flowtable::Instructions> decode_of10_actions(ByteView b, const flowtable::Match& match);
OfResult<std::vector<flowtable::Action>> decode_actions(ByteView b, uint8_t version,
                                                        const flowtable::Match& match);
void encode_actions(Writer& w, const std::vector<flowtable::Action>& actions, uint8_t version);
// OpenFlow 1.0: the actions of `ins` (see above for what OpenFlow 1.0 lacks).
void encode_of10_actions(Writer& w, const flowtable::Instructions& ins);

OfResult<flowtable::Instructions> decode_instructions(ByteView b, uint8_t version,
                                                      const flowtable::Match& match);
void encode_instructions(Writer& w, const flowtable::Instructions& ins, uint8_t version);

}  // namespace trestle::shim::ofp
