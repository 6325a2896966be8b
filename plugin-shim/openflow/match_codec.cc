#include "plugin-shim/openflow/match_codec.h"

#include <array>

namespace trestle::shim::ofp {
namespace {

using flowtable::field_all_ones;
using flowtable::field_info;

enum : uint16_t { NXM_CLASS0 = 0x0000, NXM_CLASS1 = 0x0001, OXM_BASIC = 0x8000 };

// How a wire field's bytes become a flowtable value.
enum class Kind : uint8_t {
  kPlain,
  kPort16,   // NXM_OF_IN_PORT: an OpenFlow 1.0 port
  kVlanTci,  // NXM_OF_VLAN_TCI: PCP | CFI | VID, vlan_vid and vlan_pcp
  kTos,      // NXM_OF_IP_TOS: DSCP << 2
};

struct WireField {
  uint16_t cls;
  uint8_t field;
  uint8_t len;  // bytes
  Field f;
  Kind kind;
  bool maskable;
};

constexpr uint32_t make_header(uint16_t cls, uint8_t field, bool hasmask, uint8_t len) {
  return uint32_t{cls} << 16 | uint32_t{field} << 9 | uint32_t{hasmask} << 8 | len;
}

// 8< wire fields
constexpr WireField kWireFields[] = {
    // Nicira NXM_OF_* (class 0x0000)
    {NXM_CLASS0, 0, 2, Field::in_port, Kind::kPort16, false},
    {NXM_CLASS0, 1, 6, Field::eth_dst, Kind::kPlain, true},
    {NXM_CLASS0, 2, 6, Field::eth_src, Kind::kPlain, true},
    {NXM_CLASS0, 3, 2, Field::eth_type, Kind::kPlain, false},
    {NXM_CLASS0, 4, 2, Field::vlan_vid, Kind::kVlanTci, true},
    {NXM_CLASS0, 5, 1, Field::ip_dscp, Kind::kTos, false},
    {NXM_CLASS0, 6, 1, Field::ip_proto, Kind::kPlain, false},
    {NXM_CLASS0, 7, 4, Field::ipv4_src, Kind::kPlain, true},
    {NXM_CLASS0, 8, 4, Field::ipv4_dst, Kind::kPlain, true},
    {NXM_CLASS0, 9, 2, Field::tcp_src, Kind::kPlain, true},
    {NXM_CLASS0, 10, 2, Field::tcp_dst, Kind::kPlain, true},
    {NXM_CLASS0, 11, 2, Field::udp_src, Kind::kPlain, true},
    {NXM_CLASS0, 12, 2, Field::udp_dst, Kind::kPlain, true},
    {NXM_CLASS0, 13, 1, Field::icmpv4_type, Kind::kPlain, false},
    {NXM_CLASS0, 14, 1, Field::icmpv4_code, Kind::kPlain, false},
    {NXM_CLASS0, 15, 2, Field::arp_op, Kind::kPlain, false},
    {NXM_CLASS0, 16, 4, Field::arp_spa, Kind::kPlain, true},
    {NXM_CLASS0, 17, 4, Field::arp_tpa, Kind::kPlain, true},
    // Nicira NXM_NX_* (class 0x0001)
    {NXM_CLASS1, 0, 4, Field::reg0, Kind::kPlain, true},
    {NXM_CLASS1, 1, 4, Field::reg1, Kind::kPlain, true},
    {NXM_CLASS1, 2, 4, Field::reg2, Kind::kPlain, true},
    {NXM_CLASS1, 3, 4, Field::reg3, Kind::kPlain, true},
    {NXM_CLASS1, 4, 4, Field::reg4, Kind::kPlain, true},
    {NXM_CLASS1, 5, 4, Field::reg5, Kind::kPlain, true},
    {NXM_CLASS1, 6, 4, Field::reg6, Kind::kPlain, true},
    {NXM_CLASS1, 7, 4, Field::reg7, Kind::kPlain, true},
    {NXM_CLASS1, 8, 4, Field::reg8, Kind::kPlain, true},
    {NXM_CLASS1, 9, 4, Field::reg9, Kind::kPlain, true},
    {NXM_CLASS1, 10, 4, Field::reg10, Kind::kPlain, true},
    {NXM_CLASS1, 11, 4, Field::reg11, Kind::kPlain, true},
    {NXM_CLASS1, 12, 4, Field::reg12, Kind::kPlain, true},
    {NXM_CLASS1, 13, 4, Field::reg13, Kind::kPlain, true},
    {NXM_CLASS1, 14, 4, Field::reg14, Kind::kPlain, true},
    {NXM_CLASS1, 15, 4, Field::reg15, Kind::kPlain, true},
    {NXM_CLASS1, 17, 6, Field::arp_sha, Kind::kPlain, true},
    {NXM_CLASS1, 18, 6, Field::arp_tha, Kind::kPlain, true},
    {NXM_CLASS1, 19, 16, Field::ipv6_src, Kind::kPlain, true},
    {NXM_CLASS1, 20, 16, Field::ipv6_dst, Kind::kPlain, true},
    {NXM_CLASS1, 21, 1, Field::icmpv6_type, Kind::kPlain, false},
    {NXM_CLASS1, 22, 1, Field::icmpv6_code, Kind::kPlain, false},
    {NXM_CLASS1, 23, 16, Field::ipv6_nd_target, Kind::kPlain, true},
    {NXM_CLASS1, 24, 6, Field::ipv6_nd_sll, Kind::kPlain, true},
    {NXM_CLASS1, 25, 6, Field::ipv6_nd_tll, Kind::kPlain, true},
    {NXM_CLASS1, 27, 4, Field::ipv6_flabel, Kind::kPlain, true},
    {NXM_CLASS1, 28, 1, Field::ip_ecn, Kind::kPlain, false},
    {NXM_CLASS1, 37, 4, Field::conj_id, Kind::kPlain, false},
    // OpenFlow 1.3 OXM (class OFPXMC_OPENFLOW_BASIC)
    {OXM_BASIC, 0, 4, Field::in_port, Kind::kPlain, false},
    {OXM_BASIC, 2, 8, Field::metadata, Kind::kPlain, true},
    {OXM_BASIC, 3, 6, Field::eth_dst, Kind::kPlain, true},
    {OXM_BASIC, 4, 6, Field::eth_src, Kind::kPlain, true},
    {OXM_BASIC, 5, 2, Field::eth_type, Kind::kPlain, false},
    {OXM_BASIC, 6, 2, Field::vlan_vid, Kind::kPlain, true},
    {OXM_BASIC, 7, 1, Field::vlan_pcp, Kind::kPlain, false},
    {OXM_BASIC, 8, 1, Field::ip_dscp, Kind::kPlain, false},
    {OXM_BASIC, 9, 1, Field::ip_ecn, Kind::kPlain, false},
    {OXM_BASIC, 10, 1, Field::ip_proto, Kind::kPlain, false},
    {OXM_BASIC, 11, 4, Field::ipv4_src, Kind::kPlain, true},
    {OXM_BASIC, 12, 4, Field::ipv4_dst, Kind::kPlain, true},
    {OXM_BASIC, 13, 2, Field::tcp_src, Kind::kPlain, true},
    {OXM_BASIC, 14, 2, Field::tcp_dst, Kind::kPlain, true},
    {OXM_BASIC, 15, 2, Field::udp_src, Kind::kPlain, true},
    {OXM_BASIC, 16, 2, Field::udp_dst, Kind::kPlain, true},
    {OXM_BASIC, 17, 2, Field::sctp_src, Kind::kPlain, true},
    {OXM_BASIC, 18, 2, Field::sctp_dst, Kind::kPlain, true},
    {OXM_BASIC, 19, 1, Field::icmpv4_type, Kind::kPlain, false},
    {OXM_BASIC, 20, 1, Field::icmpv4_code, Kind::kPlain, false},
    {OXM_BASIC, 21, 2, Field::arp_op, Kind::kPlain, false},
    {OXM_BASIC, 22, 4, Field::arp_spa, Kind::kPlain, true},
    {OXM_BASIC, 23, 4, Field::arp_tpa, Kind::kPlain, true},
    {OXM_BASIC, 24, 6, Field::arp_sha, Kind::kPlain, true},
    {OXM_BASIC, 25, 6, Field::arp_tha, Kind::kPlain, true},
    {OXM_BASIC, 26, 16, Field::ipv6_src, Kind::kPlain, true},
    {OXM_BASIC, 27, 16, Field::ipv6_dst, Kind::kPlain, true},
    {OXM_BASIC, 28, 4, Field::ipv6_flabel, Kind::kPlain, true},
    {OXM_BASIC, 29, 1, Field::icmpv6_type, Kind::kPlain, false},
    {OXM_BASIC, 30, 1, Field::icmpv6_code, Kind::kPlain, false},
    {OXM_BASIC, 31, 16, Field::ipv6_nd_target, Kind::kPlain, true},
    {OXM_BASIC, 32, 6, Field::ipv6_nd_sll, Kind::kPlain, true},
    {OXM_BASIC, 33, 6, Field::ipv6_nd_tll, Kind::kPlain, true},
};
// >8

const WireField* find_wire(uint16_t cls, uint8_t field) {
  for (const WireField& w : kWireFields)
    if (w.cls == cls && w.field == field) return &w;
  return nullptr;
}

// The entry encoding `f` in `format`: NXM's own classes first for kNxm,
// OXM first for kOxm (registers and conj_id only exist as NXM).
const WireField* wire_for(Field f, MatchFormat format) {
  const WireField* nxm = nullptr;
  const WireField* oxm = nullptr;
  for (const WireField& w : kWireFields) {
    if (w.f != f) continue;
    if (w.cls == OXM_BASIC) {
      if (!oxm) oxm = &w;
    } else if (!nxm) {
      nxm = &w;
    }
  }
  if (f == Field::vlan_pcp && format == MatchFormat::kNxm) return find_wire(NXM_CLASS0, 4);
  if (format == MatchFormat::kNxm) return nxm ? nxm : oxm;
  return oxm ? oxm : nxm;
}

OfError bad_match(uint16_t code, std::string msg) {
  return make_error(flowtable::OFPET_BAD_MATCH, code, std::move(msg));
}

// Emission order: every prerequisite before the fields depending on it
// (OpenFlow 1.3 §7.2.3.6), and the order OVS uses, so golden bytes match.
constexpr Field kOrder[] = {
    Field::conj_id, Field::in_port, Field::metadata, Field::eth_src, Field::eth_dst, Field::eth_type, Field::vlan_vid, Field::vlan_pcp,
    Field::ipv4_src, Field::ipv4_dst, Field::ipv6_src, Field::ipv6_dst, Field::ipv6_flabel,
    Field::ip_proto, Field::ip_dscp, Field::ip_ecn, Field::arp_op, Field::arp_spa, Field::arp_tpa,
    Field::arp_sha, Field::arp_tha, Field::tcp_src, Field::tcp_dst, Field::udp_src,
    Field::udp_dst, Field::sctp_src, Field::sctp_dst, Field::icmpv4_type, Field::icmpv4_code,
    Field::icmpv6_type, Field::icmpv6_code, Field::ipv6_nd_target, Field::ipv6_nd_sll,
    Field::ipv6_nd_tll, Field::reg0, Field::reg1, Field::reg2, Field::reg3, Field::reg4,
    Field::reg5, Field::reg6, Field::reg7, Field::reg8, Field::reg9, Field::reg10, Field::reg11,
    Field::reg12, Field::reg13, Field::reg14, Field::reg15,
};
static_assert(std::size(kOrder) == flowtable::kNumFields);

}  // namespace

// ---------------------------------------------------------------------------
// OpenFlow 1.0 ofp_match

namespace {
enum : uint32_t {
  OFPFW_IN_PORT = 1 << 0, OFPFW_DL_VLAN = 1 << 1, OFPFW_DL_SRC = 1 << 2, OFPFW_DL_DST = 1 << 3,
  OFPFW_DL_TYPE = 1 << 4, OFPFW_NW_PROTO = 1 << 5, OFPFW_TP_SRC = 1 << 6, OFPFW_TP_DST = 1 << 7,
  OFPFW_NW_SRC_SHIFT = 8, OFPFW_NW_DST_SHIFT = 14, OFPFW_DL_VLAN_PCP = 1 << 20,
  OFPFW_NW_TOS = 1 << 21, OFPFW_ALL = (1 << 22) - 1,
};
constexpr uint16_t OFP_VLAN_NONE = 0xffff;

uint32_t cidr_mask(unsigned wild_bits) {
  return wild_bits >= 32 ? 0 : ~uint32_t{0} << wild_bits;
}
// Wildcard bit count of a CIDR mask, or -1.
int cidr_wild(uint32_t mask) {
  for (int n = 0; n <= 32; ++n)
    if (cidr_mask(n) == mask) return n;
  return -1;
}
}  // namespace

OfResult<Match> decode_of10_match(ByteView b) {
  Reader r(b);
  const uint32_t wc = r.u32();
  const uint16_t in_port = r.u16();
  const u128 dl_src = r.uint(6), dl_dst = r.uint(6);
  const uint16_t dl_vlan = r.u16();
  const uint8_t pcp = r.u8();
  r.skip(1);
  const uint16_t dl_type = r.u16();
  const uint8_t tos = r.u8(), proto = r.u8();
  r.skip(2);
  const uint32_t nw_src = r.u32(), nw_dst = r.u32();
  const uint16_t tp_src = r.u16(), tp_dst = r.u16();
  if (!r.ok()) return bad_match(OFPBMC_BAD_LEN, "ofp_match is cut short");

  Match m;
  if (!(wc & OFPFW_IN_PORT)) m.set(Field::in_port, port_from_of10(in_port));
  if (!(wc & OFPFW_DL_SRC)) m.set(Field::eth_src, dl_src);
  if (!(wc & OFPFW_DL_DST)) m.set(Field::eth_dst, dl_dst);
  if (!(wc & OFPFW_DL_VLAN)) {
    if (dl_vlan == OFP_VLAN_NONE) {
      m.set_untagged();
    } else {
      if (dl_vlan > 0xfff) return bad_match(flowtable::OFPBMC_BAD_VALUE, "dl_vlan above 4095");
      m.set(Field::vlan_vid, flowtable::kVlanPresent | dl_vlan);
    }
  }
  if (!(wc & OFPFW_DL_VLAN_PCP) && !(!(wc & OFPFW_DL_VLAN) && dl_vlan == OFP_VLAN_NONE)) {
    if (!m.has(Field::vlan_vid)) m.set(Field::vlan_vid, flowtable::kVlanPresent, flowtable::kVlanPresent);
    m.set(Field::vlan_pcp, pcp & 7);
  }
  if (!(wc & OFPFW_DL_TYPE)) {
    m.set(Field::eth_type, dl_type);
    const bool ip = dl_type == 0x0800, arp = dl_type == 0x0806;
    const uint32_t src_mask = cidr_mask((wc >> OFPFW_NW_SRC_SHIFT) & 0x3f);
    const uint32_t dst_mask = cidr_mask((wc >> OFPFW_NW_DST_SHIFT) & 0x3f);
    if (ip) {
      if (!(wc & OFPFW_NW_TOS)) m.set(Field::ip_dscp, tos >> 2);
      if (src_mask) m.set(Field::ipv4_src, nw_src, src_mask);
      if (dst_mask) m.set(Field::ipv4_dst, nw_dst, dst_mask);
      if (!(wc & OFPFW_NW_PROTO)) {
        m.set(Field::ip_proto, proto);
        Field s = Field::in_port, d = Field::in_port;
        if (proto == 6) s = Field::tcp_src, d = Field::tcp_dst;
        if (proto == 17) s = Field::udp_src, d = Field::udp_dst;
        if (proto == 132) s = Field::sctp_src, d = Field::sctp_dst;
        if (proto == 1) s = Field::icmpv4_type, d = Field::icmpv4_code;
        if (s != Field::in_port) {
          if (!(wc & OFPFW_TP_SRC)) m.set(s, tp_src & field_all_ones(s));
          if (!(wc & OFPFW_TP_DST)) m.set(d, tp_dst & field_all_ones(d));
        }
      }
    } else if (arp) {
      if (!(wc & OFPFW_NW_PROTO)) m.set(Field::arp_op, proto);
      if (src_mask) m.set(Field::arp_spa, nw_src, src_mask);
      if (dst_mask) m.set(Field::arp_tpa, nw_dst, dst_mask);
    }
  }
  return m;
}

bool of10_expressible(const Match& m) {
  constexpr uint64_t kExact = flowtable::field_bit(Field::in_port) |
      flowtable::field_bit(Field::eth_type) | flowtable::field_bit(Field::ip_proto) |
      flowtable::field_bit(Field::ip_dscp) | flowtable::field_bit(Field::arp_op) |
      flowtable::field_bit(Field::tcp_src) | flowtable::field_bit(Field::tcp_dst) |
      flowtable::field_bit(Field::udp_src) | flowtable::field_bit(Field::udp_dst) |
      flowtable::field_bit(Field::sctp_src) | flowtable::field_bit(Field::sctp_dst) |
      flowtable::field_bit(Field::icmpv4_type) | flowtable::field_bit(Field::icmpv4_code) |
      flowtable::field_bit(Field::eth_src) | flowtable::field_bit(Field::eth_dst) |
      flowtable::field_bit(Field::vlan_pcp);
  constexpr uint64_t kCidr = flowtable::field_bit(Field::ipv4_src) |
      flowtable::field_bit(Field::ipv4_dst) | flowtable::field_bit(Field::arp_spa) |
      flowtable::field_bit(Field::arp_tpa);
  for (size_t i = 0; i < flowtable::kNumFields; ++i) {
    const Field f = static_cast<Field>(i);
    if (!m.has(f)) continue;
    const uint64_t bit = flowtable::field_bit(f);
    const u128 mask = m.get_mask(f);
    if (bit & kExact) {
      if (mask != field_all_ones(f)) return false;
    } else if (bit & kCidr) {
      if (cidr_wild(static_cast<uint32_t>(mask)) < 0) return false;
    } else if (f == Field::vlan_vid) {
      // Exact (a VID or untagged), or "any tag" under a PCP match.
      if (mask != 0x1fff && !(mask == flowtable::kVlanPresent && m.has(Field::vlan_pcp)))
        return false;
    } else {
      return false;
    }
  }
  return true;
}

void encode_of10_match(Writer& w, const Match& m) {
  uint32_t wc = OFPFW_ALL;
  auto exact = [&](Field f) { return m.has(f) && m.get_mask(f) == field_all_ones(f); };
  uint16_t in_port = 0, dl_vlan = 0, dl_type = 0, tp_src = 0, tp_dst = 0;
  uint8_t pcp = 0, tos = 0, proto = 0;
  uint32_t nw_src = 0, nw_dst = 0;
  if (exact(Field::in_port)) wc &= ~OFPFW_IN_PORT, in_port = port_to_of10(m.get(Field::in_port));
  if (exact(Field::vlan_vid)) {
    wc &= ~OFPFW_DL_VLAN;
    const uint16_t v = static_cast<uint16_t>(m.get(Field::vlan_vid));
    dl_vlan = (v & flowtable::kVlanPresent) ? (v & 0xfff) : OFP_VLAN_NONE;
  }
  if (exact(Field::vlan_pcp)) wc &= ~OFPFW_DL_VLAN_PCP, pcp = m.get(Field::vlan_pcp);
  if (exact(Field::eth_type)) wc &= ~OFPFW_DL_TYPE, dl_type = m.get(Field::eth_type);
  if (exact(Field::ip_dscp)) wc &= ~OFPFW_NW_TOS, tos = static_cast<uint8_t>(m.get(Field::ip_dscp) << 2);
  if (exact(Field::ip_proto)) wc &= ~OFPFW_NW_PROTO, proto = m.get(Field::ip_proto);
  if (exact(Field::arp_op)) wc &= ~OFPFW_NW_PROTO, proto = m.get(Field::arp_op);
  auto nw = [&](Field f, int shift, uint32_t* out) {
    if (!m.has(f)) return;
    const int wild = cidr_wild(static_cast<uint32_t>(m.get_mask(f)));
    if (wild < 0) return;
    wc = (wc & ~(0x3fu << shift)) | (uint32_t(wild) << shift);
    *out = static_cast<uint32_t>(m.get(f));
  };
  wc = (wc & ~(0x3fu << OFPFW_NW_SRC_SHIFT)) | (32u << OFPFW_NW_SRC_SHIFT);
  wc = (wc & ~(0x3fu << OFPFW_NW_DST_SHIFT)) | (32u << OFPFW_NW_DST_SHIFT);
  nw(Field::ipv4_src, OFPFW_NW_SRC_SHIFT, &nw_src);
  nw(Field::arp_spa, OFPFW_NW_SRC_SHIFT, &nw_src);
  nw(Field::ipv4_dst, OFPFW_NW_DST_SHIFT, &nw_dst);
  nw(Field::arp_tpa, OFPFW_NW_DST_SHIFT, &nw_dst);
  for (Field f : {Field::tcp_src, Field::udp_src, Field::sctp_src, Field::icmpv4_type})
    if (exact(f)) wc &= ~OFPFW_TP_SRC, tp_src = m.get(f);
  for (Field f : {Field::tcp_dst, Field::udp_dst, Field::sctp_dst, Field::icmpv4_code})
    if (exact(f)) wc &= ~OFPFW_TP_DST, tp_dst = m.get(f);
  if (exact(Field::eth_src)) wc &= ~OFPFW_DL_SRC;
  if (exact(Field::eth_dst)) wc &= ~OFPFW_DL_DST;
  w.u32(wc);
  w.u16(in_port);
  w.uint(exact(Field::eth_src) ? m.get(Field::eth_src) : 0, 6);
  w.uint(exact(Field::eth_dst) ? m.get(Field::eth_dst) : 0, 6);
  w.u16(dl_vlan);
  w.u8(pcp);
  w.zeros(1);
  w.u16(dl_type);
  w.u8(tos);
  w.u8(proto);
  w.zeros(2);
  w.u32(nw_src);
  w.u32(nw_dst);
  w.u16(tp_src);
  w.u16(tp_dst);
}

// ---------------------------------------------------------------------------
// TLVs

namespace {

struct Tlv {
  const WireField* wf;
  bool hasmask;
  u128 value, mask;
};

// Reads one TLV; r is left after it.
OfResult<Tlv> read_tlv(Reader& r) {
  const uint32_t h = r.u32();
  if (!r.ok()) return bad_match(OFPBMC_BAD_LEN, "match field header cut short");
  const uint16_t cls = static_cast<uint16_t>(h >> 16);
  const uint8_t field = (h >> 9) & 0x7f;
  const bool hasmask = h & 0x100;
  const unsigned len = h & 0xff;
  ByteView body = r.view(len);
  if (!r.ok()) return bad_match(OFPBMC_BAD_LEN, "match field runs past the match");
  const WireField* wf = find_wire(cls, field);
  if (!wf) {
    char buf[64];
    snprintf(buf, sizeof(buf), "match field class 0x%04x field %u is not supported", cls, field);
    return bad_match(flowtable::OFPBMC_BAD_FIELD, buf);
  }
  if (len != (hasmask ? 2u : 1u) * wf->len)
    return bad_match(OFPBMC_BAD_LEN, std::string(field_info(wf->f).name) + ": wrong length");
  Reader b(body);
  Tlv t{wf, hasmask, b.uint(wf->len), 0};
  t.mask = hasmask ? b.uint(wf->len) : ~u128{0} >> (128 - 8 * wf->len);
  return t;
}

}  // namespace

OfResult<FieldWrites> decode_field_tlv(ByteView tlv, bool allow_mask) {
  Reader r(tlv);
  OfResult<Tlv> t = read_tlv(r);
  if (!t) return t.error();
  const WireField& wf = *t->wf;
  if (t->hasmask && !allow_mask)
    return bad_match(flowtable::OFPBMC_BAD_MASK, "set_field takes no mask");
  FieldWrites out;
  u128 v = t->value, m = t->mask;
  switch (wf.kind) {
    case Kind::kPort16:
      out.w[out.n++] = {wf.f, port_from_of10(static_cast<uint16_t>(v)), field_all_ones(wf.f)};
      break;
    case Kind::kTos:
      out.w[out.n++] = {Field::ip_dscp, v >> 2, (m >> 2) & 0x3f};
      break;
    case Kind::kVlanTci:
      if (m & 0x1fff) out.w[out.n++] = {Field::vlan_vid, v & 0x1fff, m & 0x1fff};
      if (m >> 13) out.w[out.n++] = {Field::vlan_pcp, (v >> 13) & 7, (m >> 13) & 7};
      break;
    case Kind::kPlain:
      if (v & ~field_all_ones(wf.f))
        return bad_match(flowtable::OFPBMC_BAD_VALUE,
                         std::string(field_info(wf.f).name) + ": value wider than the field");
      out.w[out.n++] = {wf.f, v, m & field_all_ones(wf.f)};
      break;
  }
  return out;
}

OfResult<Match> decode_tlvs(ByteView fields) {
  Reader r(fields);
  Match m;
  uint64_t seen = 0;
  while (!r.at_end()) {
    OfResult<Tlv> t = read_tlv(r);
    if (!t) return t.error();
    const WireField& wf = *t->wf;
    const std::string name(field_info(wf.f).name);
    if (t->hasmask && !wf.maskable)
      return bad_match(flowtable::OFPBMC_BAD_MASK, name + " cannot be masked");
    if (t->value & ~t->mask)
      return bad_match(OFPBMC_BAD_WILDCARDS, name + ": value has bits outside its mask");
    u128 v = t->value, mask = t->mask;
    auto put = [&](Field f, u128 val, u128 msk) -> OfStatus {
      if (seen & flowtable::field_bit(f))
        return bad_match(OFPBMC_DUP_FIELD, std::string(field_info(f).name) + " appears twice");
      seen |= flowtable::field_bit(f);
      if (val & ~field_all_ones(f))
        return bad_match(flowtable::OFPBMC_BAD_VALUE,
                         std::string(field_info(f).name) + ": value wider than the field");
      m.set(f, val, msk & field_all_ones(f));
      return std::nullopt;
    };
    OfStatus st;
    switch (wf.kind) {
      case Kind::kPort16:
        st = put(wf.f, port_from_of10(static_cast<uint16_t>(v)), field_all_ones(wf.f));
        break;
      case Kind::kTos:
        if (v & 3) return bad_match(flowtable::OFPBMC_BAD_VALUE, "nw_tos has ECN bits set");
        st = put(Field::ip_dscp, v >> 2, 0x3f);
        break;
      case Kind::kVlanTci: {
        const uint16_t vid_m = mask & 0x1fff, pcp_m = (mask >> 13) & 7;
        u128 vid_v = v & 0x1fff, vid_mask = vid_m;
        const bool untagged = (vid_m & flowtable::kVlanPresent) && !(v & flowtable::kVlanPresent);
        if (pcp_m && !untagged) {
          if (!(vid_m & flowtable::kVlanPresent)) {
            // A PCP match without the CFI bit also matches untagged frames
            // when the PCP is 0: not expressible over the flowtable's
            // vlan_pcp, which requires a tag.
            if ((v >> 13) == 0)
              return bad_match(flowtable::OFPBMC_BAD_PREREQ,
                               "vlan_tci: a PCP match needs the CFI bit matched");
            vid_v |= flowtable::kVlanPresent;
            vid_mask |= flowtable::kVlanPresent;
          }
          if ((st = put(Field::vlan_pcp, (v >> 13) & 7, pcp_m))) break;
        }
        if (vid_mask) st = put(Field::vlan_vid, vid_v, vid_mask);
        else seen |= flowtable::field_bit(Field::vlan_vid);
        // An exact vlan_tci=0x0000: untagged, shown back exact (as OVS does).
        if (!st && untagged && vid_m == 0x1fff && pcp_m == 7) m.set_untagged();
        break;
      }
      case Kind::kPlain:
        st = put(wf.f, v, mask);
        break;
    }
    if (st) return *st;
  }
  if (OfStatus st = m.validate()) return *st;
  return m;
}

void encode_field_tlv(Writer& w, Field f, u128 value, std::optional<u128> mask,
                      MatchFormat format) {
  const WireField* wf = wire_for(f, format);
  if (!wf) return;
  u128 v = value, m = mask.value_or(0);
  switch (wf->kind) {
    case Kind::kPort16: v = port_to_of10(static_cast<uint32_t>(v)); m = 0xffff; break;
    case Kind::kTos: v <<= 2; m <<= 2; break;
    case Kind::kVlanTci:
      if (f == Field::vlan_pcp) v <<= 13, m <<= 13;
      break;
    case Kind::kPlain: break;
  }
  const bool hasmask = mask.has_value() && wf->maskable;
  w.u32(make_header(wf->cls, wf->field, hasmask, static_cast<uint8_t>(wf->len * (hasmask ? 2 : 1))));
  w.uint(v, wf->len);
  if (hasmask) w.uint(m, wf->len);
}

void encode_tlvs(Writer& w, const Match& m, MatchFormat format) {
  for (Field f : kOrder) {
    if (!m.has(f)) continue;
    const u128 full = field_all_ones(f);
    if (format == MatchFormat::kNxm && (f == Field::vlan_vid || f == Field::vlan_pcp)) {
      // One NXM_OF_VLAN_TCI for both.
      if (f == Field::vlan_pcp && m.has(Field::vlan_vid)) continue;
      const u128 v = m.get(Field::vlan_vid) | m.get(Field::vlan_pcp) << 13;
      u128 mk = m.get_mask(Field::vlan_vid) | m.get_mask(Field::vlan_pcp) << 13;
      if (m.whole_tci()) mk = 0xffff;  // OF1.0's dl_vlan=0xffff: vlan_tci=0x0000, as OVS has it
      w.u32(make_header(NXM_CLASS0, 4, mk != 0xffff, mk != 0xffff ? 4 : 2));
      w.u16(static_cast<uint16_t>(v));
      if (mk != 0xffff) w.u16(static_cast<uint16_t>(mk));
      continue;
    }
    const u128 mask = m.get_mask(f);
    encode_field_tlv(w, f, m.get(f), mask == full ? std::nullopt : std::optional<u128>(mask),
                     format);
  }
}

OfResult<Match> decode_oxm_match(Reader& r) {
  const uint16_t type = r.u16();
  const uint16_t len = r.u16();
  if (!r.ok() || len < 4) return bad_match(OFPBMC_BAD_LEN, "ofp_match is cut short");
  if (type != 1) return bad_match(OFPBMC_BAD_TYPE, "only OXM matches (type 1) are supported");
  ByteView fields = r.view(len - 4);
  r.skip((8 - len % 8) % 8);
  if (!r.ok()) return bad_match(OFPBMC_BAD_LEN, "ofp_match runs past the message");
  return decode_tlvs(fields);
}

void encode_oxm_match(Writer& w, const Match& m) {
  const size_t start = w.size();
  w.u16(1);
  w.u16(0);
  encode_tlvs(w, m, MatchFormat::kOxm);
  w.patch16(start + 2, static_cast<uint16_t>(w.size() - start));
  w.pad_from(start);
}

std::optional<FieldRef> field_ref(uint32_t header, unsigned wire_ofs) {
  const WireField* wf = find_wire(static_cast<uint16_t>(header >> 16), (header >> 9) & 0x7f);
  if (!wf || (header & 0x100)) return std::nullopt;
  switch (wf->kind) {
    case Kind::kPort16: return FieldRef{wf->f, 0, 16};
    case Kind::kTos: return FieldRef{Field::ip_dscp, -2, 8};
    case Kind::kVlanTci:
      if (wire_ofs >= 13) return FieldRef{Field::vlan_pcp, -13, 16};
      return FieldRef{Field::vlan_vid, 0, 16};
    case Kind::kPlain: return FieldRef{wf->f, 0, wf->len * 8};
  }
  return std::nullopt;
}

uint32_t field_header(Field f, MatchFormat format, int* wire_shift) {
  const WireField* wf = wire_for(f, format);
  *wire_shift = 0;
  if (!wf) return 0;
  if (wf->kind == Kind::kTos) *wire_shift = 2;
  if (wf->kind == Kind::kVlanTci && f == Field::vlan_pcp) *wire_shift = 13;
  return make_header(wf->cls, wf->field, false, wf->len);
}

}  // namespace trestle::shim::ofp

namespace trestle::shim::ofp {
std::vector<uint32_t> supported_headers(bool mark_maskable) {
  std::vector<uint32_t> out;
  for (Field f : kOrder) {
    const WireField* wf = wire_for(f, MatchFormat::kOxm);
    out.push_back(make_header(wf->cls, wf->field, mark_maskable && wf->maskable, wf->len));
  }
  return out;
}
}  // namespace trestle::shim::ofp
