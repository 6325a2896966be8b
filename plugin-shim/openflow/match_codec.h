#pragma once
// Matches on the wire: OpenFlow 1.0's fixed ofp_match, Nicira NXM and
// OpenFlow 1.1+ OXM TLVs (the same TLV format; both decoders accept both
// classes, as OVS does: NXM registers inside OpenFlow 1.3, OXM-only fields
// such as metadata inside NXM), and the single-field TLVs of set_field,
// reg_load and move.

#include <cstdint>
#include <optional>

#include "flowtable/match.h"
#include "plugin-shim/openflow/ofp.h"
#include "plugin-shim/openflow/wire.h"

namespace trestle::shim::ofp {

using flowtable::Field;
using flowtable::Match;
using flowtable::u128;

// OpenFlow 1.0 16-bit ports <-> the flowtable's 32-bit ones.
inline uint32_t port_from_of10(uint16_t p) { return p >= 0xff00 ? 0xffff0000u | p : p; }
inline uint16_t port_to_of10(uint32_t p) {
  return p >= 0xffffff00u ? static_cast<uint16_t>(p) : static_cast<uint16_t>(p > 0xfeff ? 0 : p);
}

inline constexpr size_t kOf10MatchLen = 40;
// OpenFlow 1.0 ofp_match. Fields whose prerequisites the match does not
// establish are ignored, as OpenFlow 1.0 says.
OfResult<Match> decode_of10_match(ByteView b);
// Best effort: fields and masks OpenFlow 1.0 cannot express are left out
// (of10_expressible() tells whether any would be).
void encode_of10_match(Writer& w, const Match& m);
bool of10_expressible(const Match& m);

// NXM / OXM TLVs, back to back (NXT_FLOW_MOD's nx_match, an OXM ofp_match's
// oxm_fields). Checks lengths, masks, values, duplicates, prerequisites.
OfResult<Match> decode_tlvs(ByteView fields);
// The TLVs of `m`, NXM classes preferred for kNxm, OXM for kOxm.
void encode_tlvs(Writer& w, const Match& m, MatchFormat format);

// OpenFlow 1.1+ struct ofp_match (type OFPMT_OXM, length, fields, padding).
OfResult<Match> decode_oxm_match(Reader& r);
void encode_oxm_match(Writer& w, const Match& m);

// One TLV of set_field / reg_load2: the field(s) it sets (NXM_OF_VLAN_TCI
// can set vlan_vid and vlan_pcp at once).
struct FieldWrite {
  Field field;
  u128 value;
  u128 mask;
};
struct FieldWrites {
  FieldWrite w[2];
  int n = 0;
};
OfResult<FieldWrites> decode_field_tlv(ByteView tlv, bool allow_mask);
void encode_field_tlv(Writer& w, Field f, u128 value, std::optional<u128> mask,
                      MatchFormat format);

// A field as a bit string named by an NXM/OXM header (move, reg_load): the
// flowtable field and where the wire's bit 0 lies in it (NXM_OF_IP_TOS's
// bit 2 is ip_dscp's bit 0, so shift -2; NXM_OF_VLAN_TCI's bits 13-15 are
// vlan_pcp).
struct FieldRef {
  Field field;
  int shift;   // flowtable bit = wire bit + shift
  int n_bits;  // the wire field's width
};
std::optional<FieldRef> field_ref(uint32_t header, unsigned wire_ofs);
// The header (without mask) naming `f` in `format`, and the wire offset of
// the field's bit 0.
uint32_t field_header(Field f, MatchFormat format, int* wire_shift);
// The wire width in bytes of the header's field.
inline unsigned header_len(uint32_t h) { return h & 0xff; }

}  // namespace trestle::shim::ofp

namespace trestle::shim::ofp {
// The OXM headers (OpenFlow 1.3 preferred, NXM for registers) of every
// field the codec decodes, the mask bit set on maskable ones when
// `mark_maskable` (TABLE_FEATURES' match and wildcards properties).
std::vector<uint32_t> supported_headers(bool mark_maskable);
}  // namespace trestle::shim::ofp
