#include "plugin-shim/openflow/action_codec.h"

#include "plugin-shim/openflow/match_codec.h"

namespace trestle::shim::ofp {
namespace {

using flowtable::Action;
using flowtable::ActionType;
using flowtable::Instructions;

enum : uint16_t {  // OpenFlow 1.0 ofp_action_type
  OFPAT10_OUTPUT = 0, OFPAT10_SET_VLAN_VID = 1, OFPAT10_SET_VLAN_PCP = 2, OFPAT10_STRIP_VLAN = 3,
  OFPAT10_SET_DL_SRC = 4, OFPAT10_SET_DL_DST = 5, OFPAT10_SET_NW_SRC = 6,
  OFPAT10_SET_NW_DST = 7, OFPAT10_SET_NW_TOS = 8, OFPAT10_SET_TP_SRC = 9,
  OFPAT10_SET_TP_DST = 10, OFPAT10_VENDOR = 0xffff,
};
enum : uint16_t {  // OpenFlow 1.3 ofp_action_type
  OFPAT_OUTPUT = 0, OFPAT_PUSH_VLAN = 17, OFPAT_POP_VLAN = 18, OFPAT_SET_FIELD = 25,
  OFPAT_EXPERIMENTER = 0xffff,
};
enum : uint16_t {  // OpenFlow 1.3 ofp_instruction_type
  OFPIT_GOTO_TABLE = 1, OFPIT_WRITE_METADATA = 2, OFPIT_WRITE_ACTIONS = 3,
  OFPIT_APPLY_ACTIONS = 4, OFPIT_CLEAR_ACTIONS = 5, OFPIT_METER = 6, OFPIT_EXPERIMENTER = 0xffff,
};
constexpr uint32_t NX_VENDOR_ID = 0x00002320;
enum : uint16_t {  // Nicira action subtypes
  NXAST_RESUBMIT = 1, NXAST_REG_MOVE = 6, NXAST_REG_LOAD = 7, NXAST_RESUBMIT_TABLE = 14,
  NXAST_WRITE_METADATA = 22, NXAST_REG_LOAD2 = 33, NXAST_CONJUNCTION = 34,
};

OfError bad_action(uint16_t code, std::string msg) {
  return make_error(flowtable::OFPET_BAD_ACTION, code, std::move(msg));
}

bool valid_out_port(uint32_t p) {
  return (p != 0 && p < flowtable::OFPP_MAX) ||
         (p >= flowtable::OFPP_IN_PORT && p <= flowtable::OFPP_LOCAL);
}

// What decoding an action list collects besides the actions.
struct Collected {
  std::vector<Action> actions;
  std::optional<std::pair<uint64_t, uint64_t>> write_metadata;
};

OfStatus decode_set_field_writes(const FieldWrites& fw, std::vector<Action>* out) {
  for (int i = 0; i < fw.n; ++i) {
    const FieldWrite& x = fw.w[i];
    if (!flowtable::field_info(x.field).settable)
      return bad_action(flowtable::OFPBAC_BAD_SET_TYPE,
                        std::string(flowtable::field_info(x.field).name) + " is read-only");
    out->push_back(Action::set_field(x.field, x.value, x.mask));
  }
  return std::nullopt;
}

OfStatus decode_nx_action(Reader& a, uint8_t version, Collected* c) {
  const uint16_t subtype = a.u16();
  switch (subtype) {
    case NXAST_RESUBMIT:
    case NXAST_RESUBMIT_TABLE: {
      const uint16_t port = a.u16();
      const uint8_t table = subtype == NXAST_RESUBMIT_TABLE ? a.u8() : 0xff;
      if (!a.ok()) break;
      c->actions.push_back(Action::resubmit(port_from_of10(port), table));
      return std::nullopt;
    }
    case NXAST_REG_MOVE: {
      const uint16_t n_bits = a.u16(), src_ofs = a.u16(), dst_ofs = a.u16();
      const uint32_t src = a.u32(), dst = a.u32();
      if (!a.ok()) break;
      auto s = field_ref(src, src_ofs), d = field_ref(dst, dst_ofs);
      if (!s || !d) return make_error(flowtable::OFPET_BAD_MATCH, flowtable::OFPBMC_BAD_FIELD,
                                      "move: unsupported field");
      const int so = int(src_ofs) + s->shift, dof = int(dst_ofs) + d->shift;
      if (n_bits == 0 || src_ofs + n_bits > s->n_bits || dst_ofs + n_bits > d->n_bits || so < 0 ||
          dof < 0)
        return bad_action(flowtable::OFPBAC_BAD_ARGUMENT, "move: bit range outside the field");
      c->actions.push_back(Action::reg_move(s->field, so, d->field, dof, n_bits));
      return std::nullopt;
    }
    case NXAST_REG_LOAD: {
      const uint16_t ofs_nbits = a.u16();
      const uint32_t dst = a.u32();
      const uint64_t value = a.u64();
      if (!a.ok()) break;
      const unsigned ofs = ofs_nbits >> 6, n_bits = (ofs_nbits & 0x3f) + 1;
      auto d = field_ref(dst, ofs);
      if (!d) return make_error(flowtable::OFPET_BAD_MATCH, flowtable::OFPBMC_BAD_FIELD,
                                "load: unsupported field");
      const int fofs = int(ofs) + d->shift;
      if (ofs + n_bits > unsigned(d->n_bits) || fofs < 0 ||
          unsigned(fofs) + n_bits > flowtable::field_info(d->field).bits ||
          (n_bits < 64 && (value >> n_bits) != 0))
        return bad_action(flowtable::OFPBAC_BAD_SET_ARGUMENT, "load: value or bits outside the field");
      FieldWrites fw;
      const u128 ones = n_bits == 64 ? u128{~uint64_t{0}} : (u128{1} << n_bits) - 1;
      fw.w[fw.n++] = {d->field, u128{value} << fofs, ones << fofs};
      return decode_set_field_writes(fw, &c->actions);
    }
    case NXAST_REG_LOAD2: {  // NOLINT
      ByteView tlv = a.rest();
      if (tlv.size() < 4 || 4u + tlv[3] > tlv.size())
        return bad_action(OFPBAC_BAD_LEN, "reg_load2 field runs past the action");
      const size_t tlv_len = 4 + (tlv[3]);
      OfResult<FieldWrites> fw = decode_field_tlv(tlv.first(tlv_len), true);
      if (!fw) return fw.error();
      return decode_set_field_writes(*fw, &c->actions);
    }
    case NXAST_CONJUNCTION: {
      const uint8_t clause = a.u8(), n_clauses = a.u8();
      const uint32_t id = a.u32();
      if (!a.ok()) break;
      if (n_clauses < 2 || n_clauses > 64 || clause >= n_clauses)
        return bad_action(flowtable::OFPBAC_BAD_ARGUMENT, "conjunction: bad clause numbers");
      c->actions.push_back(Action::conjunction(id, clause + 1, n_clauses));
      return std::nullopt;
    }
    case NXAST_WRITE_METADATA: {
      if (version != OFP10_VERSION) break;
      a.skip(6);
      const uint64_t md = a.u64(), mask = a.u64();
      if (!a.ok()) break;
      c->write_metadata = std::make_pair(md & mask, mask);
      return std::nullopt;
    }
    default: {
      char buf[64];
      snprintf(buf, sizeof(buf), "Nicira action subtype %u is not supported", subtype);
      return bad_action(OFPBAC_BAD_EXP_TYPE, buf);
    }
  }
  if (!a.ok()) return bad_action(OFPBAC_BAD_LEN, "Nicira action is cut short");
  return bad_action(OFPBAC_BAD_EXP_TYPE, "Nicira action not valid here");
}

OfStatus decode_list(ByteView b, uint8_t version, const flowtable::Match& match, Collected* c) {
  Reader r(b);
  while (!r.at_end()) {
    const uint16_t type = r.peek16(0), len = r.peek16(2);
    if (r.left() < 8 || len < 8 || len % 8 || len > r.left())
      return bad_action(OFPBAC_BAD_LEN, "action length is not a multiple of 8 within the list");
    Reader a(r.view(len));
    a.skip(4);
    const bool of10 = version == OFP10_VERSION;
    auto fixed_len = [&](uint16_t want) -> OfStatus {
      if (len != want) return bad_action(OFPBAC_BAD_LEN, "action has the wrong length");
      return std::nullopt;
    };
    OfStatus st;
    if (type == 0xffff) {
      const uint32_t vendor = a.u32();
      if (vendor != NX_VENDOR_ID) {
        char buf[80];
        snprintf(buf, sizeof(buf), "action vendor 0x%08x is not supported", vendor);
        return bad_action(OFPBAC_BAD_EXPERIMENTER, buf);
      }
      if ((st = decode_nx_action(a, version, c))) return st;
      continue;
    }
    if (of10) {
      switch (type) {
        case OFPAT10_OUTPUT: {
          if ((st = fixed_len(8))) return st;
          const uint32_t port = port_from_of10(a.u16());
          const uint16_t max_len = a.u16();
          if (!valid_out_port(port))
            return bad_action(flowtable::OFPBAC_BAD_OUT_PORT, "output to an invalid port");
          c->actions.push_back(Action::output(port, max_len));
          break;
        }
        case OFPAT10_SET_VLAN_VID: {
          if ((st = fixed_len(8))) return st;
          const uint16_t vid = a.u16();
          if (vid > 0xfff) return bad_action(flowtable::OFPBAC_BAD_ARGUMENT, "VLAN ID above 4095");
          c->actions.push_back(Action::set_vlan_vid(vid));
          break;
        }
        case OFPAT10_SET_VLAN_PCP: {
          if ((st = fixed_len(8))) return st;
          const uint8_t pcp = a.u8();
          if (pcp > 7) return bad_action(flowtable::OFPBAC_BAD_ARGUMENT, "VLAN PCP above 7");
          c->actions.push_back(Action::set_vlan_pcp(pcp));
          break;
        }
        case OFPAT10_STRIP_VLAN:
          if ((st = fixed_len(8))) return st;
          c->actions.push_back(Action::pop_vlan());
          break;
        case OFPAT10_SET_DL_SRC:
        case OFPAT10_SET_DL_DST:
          if ((st = fixed_len(16))) return st;
          c->actions.push_back(Action::set_field(
              type == OFPAT10_SET_DL_SRC ? Field::eth_src : Field::eth_dst, a.uint(6)));
          break;
        case OFPAT10_SET_NW_SRC:
        case OFPAT10_SET_NW_DST:
          if ((st = fixed_len(8))) return st;
          c->actions.push_back(Action::set_field(
              type == OFPAT10_SET_NW_SRC ? Field::ipv4_src : Field::ipv4_dst, a.u32()));
          break;
        case OFPAT10_SET_NW_TOS: {
          if ((st = fixed_len(8))) return st;
          const uint8_t tos = a.u8();
          if (tos & 3) return bad_action(flowtable::OFPBAC_BAD_ARGUMENT, "nw_tos has ECN bits");
          c->actions.push_back(Action::set_field(Field::ip_dscp, tos >> 2));
          break;
        }
        case OFPAT10_SET_TP_SRC:
        case OFPAT10_SET_TP_DST: {
          if ((st = fixed_len(8))) return st;
          const bool src = type == OFPAT10_SET_TP_SRC;
          const u128 proto = match.has(Field::ip_proto) ? match.get(Field::ip_proto) : 0;
          Field f = src ? Field::tcp_src : Field::tcp_dst;
          if (proto == 17) f = src ? Field::udp_src : Field::udp_dst;
          if (proto == 132) f = src ? Field::sctp_src : Field::sctp_dst;
          c->actions.push_back(Action::set_field(f, a.u16()));
          break;
        }
        default: {
          char buf[64];
          snprintf(buf, sizeof(buf), "OpenFlow 1.0 action type %u is not supported", type);
          return bad_action(flowtable::OFPBAC_BAD_TYPE, buf);
        }
      }
      continue;
    }
    switch (type) {
      case OFPAT_OUTPUT: {
        if ((st = fixed_len(16))) return st;
        const uint32_t port = a.u32();
        const uint16_t max_len = a.u16();
        if (!valid_out_port(port))
          return bad_action(flowtable::OFPBAC_BAD_OUT_PORT, "output to an invalid port");
        c->actions.push_back(Action::output(port, max_len));
        break;
      }
      case OFPAT_PUSH_VLAN: {
        if ((st = fixed_len(8))) return st;
        const uint16_t et = a.u16();
        if (et != 0x8100 && et != 0x88a8)
          return bad_action(flowtable::OFPBAC_BAD_ARGUMENT, "push_vlan ethertype must be 0x8100 or 0x88a8");
        c->actions.push_back(Action::push_vlan(et));
        break;
      }
      case OFPAT_POP_VLAN:
        if ((st = fixed_len(8))) return st;
        c->actions.push_back(Action::pop_vlan());
        break;
      case OFPAT_SET_FIELD: {
        ByteView tlv = a.rest();
        if (tlv.size() < 4 || 4u + tlv[3] > tlv.size())
          return bad_action(OFPBAC_BAD_SET_LEN, "set_field field runs past the action");
        // Padding after the field must make the action exactly a multiple of 8.
        if ((4 + 4 + tlv[3] + 7) / 8 * 8 != len)
          return bad_action(OFPBAC_BAD_SET_LEN, "set_field has the wrong length");
        OfResult<FieldWrites> fw = decode_field_tlv(tlv.first(4 + tlv[3]), true);
        if (!fw) {
          OfError e = fw.error();
          if (e.type == flowtable::OFPET_BAD_MATCH && e.code == flowtable::OFPBMC_BAD_FIELD)
            e = bad_action(flowtable::OFPBAC_BAD_SET_TYPE, e.message);
          else if (e.type == flowtable::OFPET_BAD_MATCH && e.code == OFPBMC_BAD_LEN)
            e = bad_action(OFPBAC_BAD_SET_LEN, e.message);
          else if (e.type == flowtable::OFPET_BAD_MATCH)
            e = bad_action(flowtable::OFPBAC_BAD_SET_ARGUMENT, e.message);
          return e;
        }
        if ((st = decode_set_field_writes(*fw, &c->actions))) return st;
        break;
      }
      default: {
        char buf[64];
        snprintf(buf, sizeof(buf), "action type %u is not supported", type);
        return bad_action(flowtable::OFPBAC_BAD_TYPE, buf);
      }
    }
  }
  return std::nullopt;
}

// --- encoding ---

size_t nx_begin(Writer& w, uint16_t subtype) {
  const size_t start = w.size();
  w.u16(0xffff);
  w.u16(0);
  w.u32(NX_VENDOR_ID);
  w.u16(subtype);
  return start;
}
void nx_end(Writer& w, size_t start) {
  w.pad_from(start);
  w.patch16(start + 2, static_cast<uint16_t>(w.size() - start));
}

bool contiguous(u128 mask, unsigned* ofs, unsigned* n) {
  if (mask == 0) return false;
  unsigned o = 0;
  while (!((mask >> o) & 1)) ++o;
  unsigned k = 0;
  while (o + k < 128 && ((mask >> (o + k)) & 1)) ++k;
  if (o + k < 128 && (mask >> (o + k)) != 0) return false;
  *ofs = o;
  *n = k;
  return true;
}

void encode_load(Writer& w, const Action& a, MatchFormat fmt) {
  unsigned ofs, n;
  const unsigned bits = flowtable::field_info(a.field).bits;
  int shift = 0;
  const uint32_t hdr = field_header(a.field, fmt, &shift);
  if (bits <= 64 && contiguous(a.mask, &ofs, &n) && n <= 64 && hdr) {
    const size_t s = nx_begin(w, NXAST_REG_LOAD);
    w.u16(static_cast<uint16_t>((ofs + shift) << 6 | (n - 1)));
    w.u32(hdr);
    w.u64(static_cast<uint64_t>(a.value >> ofs));
    nx_end(w, s);
    return;
  }
  const size_t s = nx_begin(w, NXAST_REG_LOAD2);
  encode_field_tlv(w, a.field, a.value, a.mask == flowtable::field_all_ones(a.field)
                                            ? std::nullopt : std::optional<u128>(a.mask), fmt);
  nx_end(w, s);
}

void encode_action(Writer& w, const Action& a, uint8_t version) {
  const bool of10 = version == OFP10_VERSION;
  const MatchFormat fmt = of10 ? MatchFormat::kNxm : MatchFormat::kOxm;
  switch (a.type) {
    case ActionType::kOutput:
      if (of10) {
        w.u16(OFPAT10_OUTPUT); w.u16(8); w.u16(port_to_of10(a.port)); w.u16(a.max_len);
      } else {
        w.u16(OFPAT_OUTPUT); w.u16(16); w.u32(a.port); w.u16(a.max_len); w.zeros(6);
      }
      return;
    case ActionType::kPushVlan:
      if (of10) return;  // OpenFlow 1.0 has none; a following set_vlan_vid pushes
      w.u16(OFPAT_PUSH_VLAN); w.u16(8); w.u16(a.ethertype); w.zeros(2);
      return;
    case ActionType::kPopVlan:
      w.u16(of10 ? uint16_t{OFPAT10_STRIP_VLAN} : uint16_t{OFPAT_POP_VLAN}); w.u16(8); w.zeros(4);
      return;
    case ActionType::kSetVlanVid:
      if (of10) {
        w.u16(OFPAT10_SET_VLAN_VID); w.u16(8); w.u16(static_cast<uint16_t>(a.value)); w.zeros(2);
      } else {
        encode_action(w, Action::set_field(Field::vlan_vid, a.value | flowtable::kVlanPresent), version);
      }
      return;
    case ActionType::kSetVlanPcp:
      if (of10) {
        w.u16(OFPAT10_SET_VLAN_PCP); w.u16(8); w.u8(static_cast<uint8_t>(a.value)); w.zeros(3);
      } else {
        encode_action(w, Action::set_field(Field::vlan_pcp, a.value), version);
      }
      return;
    case ActionType::kSetField: {
      const bool full = a.mask == flowtable::field_all_ones(a.field);
      if (of10 && full) {
        const uint64_t v = static_cast<uint64_t>(a.value);
        switch (a.field) {
          case Field::eth_src: case Field::eth_dst:
            w.u16(a.field == Field::eth_src ? uint16_t{OFPAT10_SET_DL_SRC} : uint16_t{OFPAT10_SET_DL_DST});
            w.u16(16); w.uint(v, 6); w.zeros(6);
            return;
          case Field::ipv4_src: case Field::ipv4_dst:
            w.u16(a.field == Field::ipv4_src ? uint16_t{OFPAT10_SET_NW_SRC} : uint16_t{OFPAT10_SET_NW_DST});
            w.u16(8); w.u32(static_cast<uint32_t>(v));
            return;
          case Field::ip_dscp:
            w.u16(OFPAT10_SET_NW_TOS); w.u16(8); w.u8(static_cast<uint8_t>(v << 2)); w.zeros(3);
            return;
          case Field::tcp_src: case Field::udp_src: case Field::sctp_src:
          case Field::tcp_dst: case Field::udp_dst: case Field::sctp_dst: {
            const bool src = a.field == Field::tcp_src || a.field == Field::udp_src ||
                             a.field == Field::sctp_src;
            w.u16(src ? uint16_t{OFPAT10_SET_TP_SRC} : uint16_t{OFPAT10_SET_TP_DST}); w.u16(8);
            w.u16(static_cast<uint16_t>(v)); w.zeros(2);
            return;
          }
          case Field::vlan_vid:
            if (v & flowtable::kVlanPresent) {
              w.u16(OFPAT10_SET_VLAN_VID); w.u16(8); w.u16(v & 0xfff); w.zeros(2);
              return;
            }
            break;
          case Field::vlan_pcp:
            w.u16(OFPAT10_SET_VLAN_PCP); w.u16(8); w.u8(static_cast<uint8_t>(v)); w.zeros(3);
            return;
          default: break;
        }
      }
      if (!of10 && full) {
        const size_t s = w.size();
        w.u16(OFPAT_SET_FIELD); w.u16(0);
        encode_field_tlv(w, a.field, a.value, std::nullopt, fmt);
        w.pad_from(s);
        w.patch16(s + 2, static_cast<uint16_t>(w.size() - s));
        return;
      }
      encode_load(w, a, fmt);
      return;
    }
    case ActionType::kResubmit: {
      const bool plain = a.table == 0xff;
      const size_t s = nx_begin(w, plain ? NXAST_RESUBMIT : NXAST_RESUBMIT_TABLE);
      w.u16(port_to_of10(a.port));
      if (!plain) w.u8(a.table);
      nx_end(w, s);
      return;
    }
    case ActionType::kRegMove: {
      int ss = 0, ds = 0;
      const uint32_t sh = field_header(a.src, fmt, &ss), dh = field_header(a.field, fmt, &ds);
      const size_t s = nx_begin(w, NXAST_REG_MOVE);
      w.u16(a.n_bits);
      w.u16(static_cast<uint16_t>(a.src_ofs + ss));
      w.u16(static_cast<uint16_t>(a.dst_ofs + ds));
      w.u32(sh);
      w.u32(dh);
      nx_end(w, s);
      return;
    }
    case ActionType::kConjunction: {
      const size_t s = nx_begin(w, NXAST_CONJUNCTION);
      w.u8(static_cast<uint8_t>(a.clause - 1));
      w.u8(a.n_clauses);
      w.u32(a.port);
      nx_end(w, s);
      return;
    }
  }
}

OfError bad_inst(uint16_t code, std::string msg) {
  return make_error(flowtable::OFPET_BAD_INSTRUCTION, code, std::move(msg));
}

}  // namespace

OfResult<Instructions> decode_of10_actions(ByteView b, const flowtable::Match& match) {
  Collected c;
  if (OfStatus st = decode_list(b, OFP10_VERSION, match, &c)) return *st;
  Instructions ins;
  ins.apply = std::move(c.actions);
  ins.write_metadata = c.write_metadata;
  return ins;
}

OfResult<std::vector<Action>> decode_actions(ByteView b, uint8_t version,
                                             const flowtable::Match& match) {
  Collected c;
  if (OfStatus st = decode_list(b, version, match, &c)) return *st;
  return std::move(c.actions);
}

void encode_actions(Writer& w, const std::vector<Action>& actions, uint8_t version) {
  for (const Action& a : actions) encode_action(w, a, version);
}

void encode_of10_actions(Writer& w, const Instructions& ins) {
  encode_actions(w, ins.apply, OFP10_VERSION);
  if (ins.goto_table) encode_action(w, Action::resubmit(flowtable::OFPP_IN_PORT, *ins.goto_table),
                                    OFP10_VERSION);
  // Last: OVS reads NXAST_WRITE_METADATA as an instruction, after which no
  // apply action may come.
  if (ins.write_metadata) {
    const size_t s = nx_begin(w, NXAST_WRITE_METADATA);
    w.zeros(6);
    w.u64(ins.write_metadata->first);
    w.u64(ins.write_metadata->second);
    nx_end(w, s);
  }
}

OfResult<Instructions> decode_instructions(ByteView b, uint8_t version,
                                           const flowtable::Match& match) {
  Reader r(b);
  Instructions ins;
  uint32_t seen = 0;
  while (!r.at_end()) {
    const uint16_t type = r.peek16(0), len = r.peek16(2);
    if (r.left() < 8 || len < 8 || len % 8 || len > r.left())
      return bad_inst(OFPBIC_BAD_LEN, "instruction length is not a multiple of 8 within the list");
    Reader in(r.view(len));
    in.skip(4);
    if (type < 32) {
      if (seen & (1u << type)) return bad_inst(OFPBIC_DUP_INST, "instruction appears twice");
      seen |= 1u << type;
    }
    switch (type) {
      case OFPIT_GOTO_TABLE:
        if (len != 8) return bad_inst(OFPBIC_BAD_LEN, "goto_table has the wrong length");
        ins.goto_table = in.u8();
        break;
      case OFPIT_WRITE_METADATA: {
        if (len != 24) return bad_inst(OFPBIC_BAD_LEN, "write_metadata has the wrong length");
        in.skip(4);
        const uint64_t v = in.u64(), m = in.u64();
        ins.write_metadata = std::make_pair(v & m, m);
        break;
      }
      case OFPIT_WRITE_ACTIONS:
      case OFPIT_APPLY_ACTIONS: {
        in.skip(4);
        OfResult<std::vector<Action>> acts = decode_actions(in.rest(), version, match);
        if (!acts) return acts.error();
        if (type == OFPIT_APPLY_ACTIONS) {
          ins.apply = std::move(acts.value());
        } else {
          ins.write = std::move(acts.value());
          ins.has_write = true;
        }
        break;
      }
      case OFPIT_CLEAR_ACTIONS:
        if (len != 8) return bad_inst(OFPBIC_BAD_LEN, "clear_actions has the wrong length");
        ins.clear_actions = true;
        break;
      case OFPIT_METER:
        return bad_inst(flowtable::OFPBIC_UNSUP_INST, "meters are not supported");
      case OFPIT_EXPERIMENTER:
        return bad_inst(OFPBIC_BAD_EXPERIMENTER, "experimenter instructions are not supported");
      default: {
        char buf[64];
        snprintf(buf, sizeof(buf), "instruction type %u is unknown", type);
        return bad_inst(OFPBIC_UNKNOWN_INST, buf);
      }
    }
  }
  return ins;
}

void encode_instructions(Writer& w, const Instructions& ins, uint8_t version) {
  auto list = [&](uint16_t type, const std::vector<Action>& acts) {
    const size_t s = w.size();
    w.u16(type); w.u16(0); w.zeros(4);
    encode_actions(w, acts, version);
    w.patch16(s + 2, static_cast<uint16_t>(w.size() - s));
  };
  if (!ins.apply.empty()) list(OFPIT_APPLY_ACTIONS, ins.apply);
  if (ins.clear_actions) {
    w.u16(OFPIT_CLEAR_ACTIONS); w.u16(8); w.zeros(4);
  }
  if (ins.has_write) list(OFPIT_WRITE_ACTIONS, ins.write);
  if (ins.write_metadata) {
    w.u16(OFPIT_WRITE_METADATA); w.u16(24); w.zeros(4);
    w.u64(ins.write_metadata->first);
    w.u64(ins.write_metadata->second);
  }
  if (ins.goto_table) {
    w.u16(OFPIT_GOTO_TABLE); w.u16(8); w.u8(*ins.goto_table); w.zeros(3);
  }
}

}  // namespace trestle::shim::ofp
