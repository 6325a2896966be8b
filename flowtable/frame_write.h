#pragma once
// Writes the header fields a pipeline changed (set_field, move) into the
// frame, fixing the IPv4 header checksum and the TCP/UDP checksum (RFC 1624
// incremental update) where the change touches what they cover. VLAN tags
// are not this function's: the dataplane applies those first, so the frame
// passed here already has its final tags.
//
// DPDK-free; the frame is a byte pointer and its length. A frame too short
// for a field leaves that field unwritten.

#include <cstdint>

#include "flowtable/key.h"

namespace trestle::flowtable {

// `dirty` is a set of field_bit()s; only fields FieldInfo::settable names
// are ever in it.
void write_fields(uint8_t* frame, uint32_t len, const FlowKey& k, uint64_t dirty);

}  // namespace trestle::flowtable
