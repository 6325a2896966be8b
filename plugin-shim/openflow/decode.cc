// decode(): one framed message into a Message, or the error to answer.

#include <cstdio>

#include "plugin-shim/openflow/action_codec.h"
#include "plugin-shim/openflow/match_codec.h"
#include "plugin-shim/openflow/msg_types.h"
#include "plugin-shim/openflow/ofp.h"

namespace trestle::shim::ofp {

using flowtable::FlowMod;

OfError make_error(uint16_t type, uint16_t code, std::string message) {
  return OfError{type, code, std::move(message)};
}

std::optional<uint8_t> negotiate(uint32_t ours, uint8_t peer_version, uint32_t peer_bitmap) {
  uint32_t peer = peer_bitmap;
  if (!peer) peer = peer_version >= 31 ? ~uint32_t{0} : (uint32_t{2} << peer_version) - 1;
  const uint32_t common = ours & peer;
  if (!common) return std::nullopt;
  return static_cast<uint8_t>(31 - __builtin_clz(common));
}

Frame frame(ByteView b) {
  if (b.size() < kHeaderLen) return {};
  const size_t len = size_t(b[2]) << 8 | b[3];
  if (len < kHeaderLen) return {Frame::Status::kBadLength, 0};
  if (b.size() < len) return {};
  return {Frame::Status::kMessage, len};
}

Header parse_header(ByteView m) {
  Reader r(m);
  Header h;
  h.version = r.u8();
  h.type = r.u8();
  h.length = r.u16();
  h.xid = r.u32();
  return h;
}

namespace {

OfError bad_request(uint16_t code, std::string msg) {
  return make_error(flowtable::OFPET_BAD_REQUEST, code, std::move(msg));
}
OfError bad_len(const char* what) {
  return bad_request(OFPBRC_BAD_LEN, std::string(what) + ": wrong length");
}

OfResult<Message> decode_hello(Reader& r) {
  Hello h;
  // Elements: type, length (including the 4-byte header), padded to 8.
  while (r.left() >= 4) {
    const uint16_t type = r.u16(), len = r.u16();
    if (len < 4 || len - 4u > r.left()) return make_error(OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE, "HELLO element runs past the message");
    Reader e(r.view(len - 4));
    if (type == 1) {
      // The first 32-bit word covers versions 0-31; later words, higher ones.
      if (e.left() >= 4) h.versions = e.u32();
      if (!h.versions) h.versions = 0;
    }
    r.skip(std::min<size_t>((8 - len % 8) % 8, r.left()));
  }
  return Message{h};
}

// The fixed part of an OpenFlow 1.0 / NXT flow_mod after the match.
OfStatus common_flow_mod(FlowMod* fm, uint16_t command, bool table_id_ext, uint16_t flags,
                         uint8_t version) {
  uint8_t cmd = command & 0xff;
  if (cmd > 4) return make_error(flowtable::OFPET_FLOW_MOD_FAILED, flowtable::OFPFMFC_BAD_COMMAND, "unknown flow_mod command");
  fm->command = static_cast<FlowMod::Command>(cmd);
  if (table_id_ext) {
    fm->table = static_cast<uint8_t>(command >> 8);
  } else {
    if (command >> 8) return make_error(flowtable::OFPET_FLOW_MOD_FAILED, flowtable::OFPFMFC_BAD_COMMAND, "unknown flow_mod command");
    fm->table = fm->command == FlowMod::Command::kAdd ? 0 : flowtable::OFPTT_ALL;
  }
  if (fm->command == FlowMod::Command::kAdd && fm->table == flowtable::OFPTT_ALL)
    return make_error(flowtable::OFPET_FLOW_MOD_FAILED, flowtable::OFPFMFC_BAD_TABLE_ID, "flow_mod add to table 255");
  if (flags & ~uint16_t{3})
    return make_error(flowtable::OFPET_FLOW_MOD_FAILED, flowtable::OFPFMFC_BAD_FLAGS, "flow_mod flags other than send_flow_rem and check_overlap");
  fm->flags = flags;
  // OpenFlow 1.0 has no reset_counts flag: its "add" always resets the
  // counters of the rule it replaces (and OVS shows the flag in 1.3 dumps).
  if (version == OFP10_VERSION && fm->command == FlowMod::Command::kAdd)
    fm->flags |= flowtable::OFPFF_RESET_COUNTS;
  fm->modify_may_add = fm->command == FlowMod::Command::kModify ||
                       fm->command == FlowMod::Command::kModifyStrict;
  return std::nullopt;
}

OfResult<Message> decode_of10_flow_mod(Reader& r, const DecodeState& st) {
  FlowModMsg m;
  m.format = MatchFormat::kOf10;
  FlowMod& fm = m.fm;
  ByteView match = r.view(40);
  fm.cookie = r.u64();
  const uint16_t command = r.u16();
  fm.idle_timeout = r.u16();
  fm.hard_timeout = r.u16();
  fm.priority = r.u16();
  m.buffer_id = r.u32();
  fm.out_port = port_from_of10(r.u16());
  const uint16_t flags = r.u16();
  if (!r.ok()) return bad_len("OFPT_FLOW_MOD");
  OfResult<flowtable::Match> mt = decode_of10_match(match);
  if (!mt) return mt.error();
  fm.match = mt.value();
  if (OfStatus s = common_flow_mod(&fm, command, st.flow_mod_table_id, flags, st.version)) return *s;
  if (fm.command == FlowMod::Command::kAdd) fm.cookie_mask = 0;
  OfResult<flowtable::Instructions> ins = decode_of10_actions(r.rest(), fm.match);
  if (!ins) return ins.error();
  fm.ins = std::move(ins.value());
  return Message{std::move(m)};
}

OfResult<Message> decode_nx_flow_mod(Reader& r, const DecodeState& st) {
  FlowModMsg m;
  m.format = MatchFormat::kNxm;
  FlowMod& fm = m.fm;
  fm.cookie = r.u64();
  const uint16_t command = r.u16();
  fm.idle_timeout = r.u16();
  fm.hard_timeout = r.u16();
  fm.priority = r.u16();
  m.buffer_id = r.u32();
  fm.out_port = port_from_of10(r.u16());
  const uint16_t flags = r.u16();
  const uint16_t match_len = r.u16();
  r.skip(6);
  ByteView match = r.view(match_len);
  r.skip((8 - match_len % 8) % 8);
  if (!r.ok()) return bad_len("NXT_FLOW_MOD");
  OfResult<flowtable::Match> mt = decode_tlvs(match);
  if (!mt) return mt.error();
  fm.match = mt.value();
  if (OfStatus s = common_flow_mod(&fm, command, st.flow_mod_table_id, flags, st.version)) return *s;
  OfResult<flowtable::Instructions> ins = decode_of10_actions(r.rest(), fm.match);
  if (!ins) return ins.error();
  fm.ins = std::move(ins.value());
  return Message{std::move(m)};
}

OfResult<FlowModMsg> decode_of13_flow_mod(Reader& r, uint8_t version) {
  FlowModMsg m;
  FlowMod& fm = m.fm;
  fm.cookie = r.u64();
  fm.cookie_mask = r.u64();
  fm.table = r.u8();
  const uint8_t cmd = r.u8();
  fm.idle_timeout = r.u16();
  fm.hard_timeout = r.u16();
  fm.priority = r.u16();
  m.buffer_id = r.u32();
  fm.out_port = r.u32();
  fm.out_group = r.u32();
  const uint16_t flags = r.u16();
  r.skip(2);  // pad (1.3), importance (1.4)
  if (!r.ok()) return bad_len("OFPT_FLOW_MOD");
  OfResult<flowtable::Match> mt = decode_oxm_match(r);
  if (!mt) return mt.error();
  fm.match = mt.value();
  if (cmd > 4) return make_error(flowtable::OFPET_FLOW_MOD_FAILED, flowtable::OFPFMFC_BAD_COMMAND, "unknown flow_mod command");
  fm.command = static_cast<FlowMod::Command>(cmd);
  if (fm.command == FlowMod::Command::kAdd && fm.table == flowtable::OFPTT_ALL)
    return make_error(flowtable::OFPET_FLOW_MOD_FAILED, flowtable::OFPFMFC_BAD_TABLE_ID, "flow_mod add to table 255");
  if (flags & ~uint16_t{0x1f})
    return make_error(flowtable::OFPET_FLOW_MOD_FAILED, flowtable::OFPFMFC_BAD_FLAGS, "unknown flow_mod flags");
  fm.flags = flags;
  OfResult<flowtable::Instructions> ins = decode_instructions(r.rest(), version, fm.match);
  if (!ins) return ins.error();
  fm.ins = std::move(ins.value());
  return m;
}

OfResult<Message> decode_bundle(Reader& r, uint8_t version, uint32_t xid, bool add, bool onf) {
  if (!add) {
    BundleControl c;
    c.onf = onf;
    c.bundle_id = r.u32();
    c.type = r.u16();
    c.flags = r.u16();
    if (!r.ok()) return bad_len("bundle control");
    if (c.type > OFPBCT_DISCARD_REPLY || c.type % 2)
      return make_error(OFPET_BUNDLE_FAILED, OFPBFC_BAD_TYPE, "bundle control type is not a request");
    if (c.flags & ~uint16_t{3}) return make_error(OFPET_BUNDLE_FAILED, OFPBFC_BAD_FLAGS, "unknown bundle flags");
    return Message{c};
  }
  BundleAdd a;
  a.onf = onf;
  a.bundle_id = r.u32();
  r.skip(2);
  a.flags = r.u16();
  if (!r.ok()) return bad_len("bundle add");
  ByteView rest = r.rest();
  Reader inner(rest);
  const uint8_t iv = inner.u8(), itype = inner.u8();
  const uint16_t ilen = inner.u16();
  a.inner_xid = inner.u32();
  if (!inner.ok() || ilen < 8 || ilen > rest.size())
    return make_error(OFPET_BUNDLE_FAILED, OFPBFC_MSG_BAD_LEN, "bundled message has a bad length");
  (void)xid;
  if (iv != version) return bad_request(OFPBRC_BAD_VERSION, "bundled message of another version");
  if (itype != OFPT_FLOW_MOD)
    return make_error(OFPET_BUNDLE_FAILED, OFPBFC_MSG_UNSUP, "only flow_mods can be bundled");
  Reader body(rest.subspan(8, ilen - 8));
  OfResult<FlowModMsg> fm = decode_of13_flow_mod(body, version);
  if (!fm) return fm.error();
  a.flow_mod = std::move(fm.value());
  return Message{std::move(a)};
}

OfResult<Message> decode_nx_vendor(Reader& r, const DecodeState& st) {
  const uint32_t subtype = r.u32();
  if (!r.ok()) return bad_len("Nicira message");
  switch (subtype) {
    case NXT_SET_FLOW_FORMAT: {
      NxSetFlowFormat m{r.u32()};
      if (!r.ok() || !r.at_end()) return bad_len("NXT_SET_FLOW_FORMAT");
      if (m.format != NXFF_OPENFLOW10 && m.format != NXFF_NXM)
        return bad_request(OFPBRC_EPERM, "flow format must be openflow10 or nxm");
      return Message{m};
    }
    case NXT_FLOW_MOD_TABLE_ID: {
      NxFlowModTableId m{r.u8() != 0};
      r.skip(7);
      if (!r.ok() || !r.at_end()) return bad_len("NXT_FLOW_MOD_TABLE_ID");
      return Message{m};
    }
    case NXT_SET_PACKET_IN_FORMAT: {
      NxSetPacketInFormat m{r.u32()};
      if (!r.ok() || !r.at_end()) return bad_len("NXT_SET_PACKET_IN_FORMAT");
      return Message{m};
    }
    case NXT_SET_CONTROLLER_ID: {
      r.skip(6);
      NxSetControllerId m{r.u16()};
      if (!r.ok() || !r.at_end()) return bad_len("NXT_SET_CONTROLLER_ID");
      return Message{m};
    }
    case NXT_FLOW_MOD:
      if (st.version != OFP10_VERSION) break;
      return decode_nx_flow_mod(r, st);
    default: break;
  }
  char buf[64];
  snprintf(buf, sizeof(buf), "Nicira message subtype %u is not supported", subtype);
  return bad_request(OFPBRC_BAD_EXP_TYPE, buf);
}

OfResult<Message> decode_stats_request(Reader& r, uint8_t version) {
  const bool of10 = version == OFP10_VERSION;
  const uint16_t type = r.u16();
  r.u16();  // flags: no request uses REQ_MORE here
  if (!of10) r.skip(4);
  if (!r.ok()) return bad_len("stats request");
  auto empty = [&](Message m, const char* what) -> OfResult<Message> {
    if (!r.at_end()) return bad_len(what);
    return m;
  };
  switch (type) {
    case OFPMP_DESC: return empty(DescRequest{}, "desc request");
    case OFPMP_TABLE: return empty(TableStatsRequest{}, "table stats request");
    case OFPMP_PORT_DESC:
      if (of10) break;
      // OpenFlow 1.4 adds a port_no (+pad) body.
      if (version >= OFP14_VERSION && r.left() == 8) r.skip(8);
      return empty(PortDescRequest{}, "port desc request");
    case OFPMP_TABLE_FEATURES:
      if (of10) break;
      if (!r.at_end()) return make_error(13 /*OFPET_TABLE_FEATURES_FAILED*/, 5 /*EPERM*/, "changing table features is not supported");
      return Message{TableFeaturesRequest{}};
    case OFPMP_METER_FEATURES:
      if (of10) break;
      return empty(MeterFeaturesRequest{}, "meter features request");
    case OFPMP_PORT_STATS: {
      PortStatsRequest p;
      if (of10) {
        p.port_no = port_from_of10(r.u16());
        r.skip(6);
      } else {
        p.port_no = r.u32();
        r.skip(4);
      }
      if (!r.ok()) return bad_len("port stats request");
      return empty(p, "port stats request");
    }
    case OFPMP_FLOW:
    case OFPMP_AGGREGATE: {
      FlowStatsReq f;
      f.aggregate = type == OFPMP_AGGREGATE;
      if (of10) {
        f.format = MatchFormat::kOf10;
        ByteView match = r.view(40);
        f.req.table = r.u8();
        r.skip(1);
        f.req.out_port = port_from_of10(r.u16());
        if (!r.ok() || !r.at_end()) return bad_len("flow stats request");
        OfResult<flowtable::Match> m = decode_of10_match(match);
        if (!m) return m.error();
        f.req.match = m.value();
      } else {
        f.req.table = r.u8();
        r.skip(3);
        f.req.out_port = r.u32();
        f.req.out_group = r.u32();
        r.skip(4);
        f.req.cookie = r.u64();
        f.req.cookie_mask = r.u64();
        if (!r.ok()) return bad_len("flow stats request");
        OfResult<flowtable::Match> m = decode_oxm_match(r);
        if (!m) return m.error();
        if (!r.at_end()) return bad_len("flow stats request");
        f.req.match = m.value();
      }
      return Message{f};
    }
    case OFPMP_EXPERIMENTER: {
      const uint32_t vendor = r.u32();
      if (!of10 || vendor != NX_VENDOR_ID) {
        if (!r.ok()) return bad_len("stats request");
        return bad_request(OFPBRC_BAD_EXPERIMENTER, "stats vendor is not supported");
      }
      const uint32_t subtype = r.u32();
      r.skip(4);
      if (!r.ok()) return bad_len("Nicira stats request");
      if (subtype != NXST_FLOW && subtype != NXST_AGGREGATE)
        return bad_request(OFPBRC_BAD_EXP_TYPE, "Nicira stats subtype is not supported");
      FlowStatsReq f;
      f.format = MatchFormat::kNxm;
      f.aggregate = subtype == NXST_AGGREGATE;
      f.req.out_port = port_from_of10(r.u16());
      const uint16_t match_len = r.u16();
      f.req.table = r.u8();
      r.skip(3);
      ByteView match = r.view(match_len);
      r.skip((8 - match_len % 8) % 8);
      if (!r.ok() || !r.at_end()) return bad_len("Nicira flow stats request");
      OfResult<flowtable::Match> m = decode_tlvs(match);
      if (!m) return m.error();
      f.req.match = m.value();
      return Message{f};
    }
    default: break;
  }
  char buf[64];
  snprintf(buf, sizeof(buf), "multipart type %u is not supported", type);
  return bad_request(OFPBRC_BAD_MULTIPART, buf);
}

OfResult<Message> decode_body(const Header& h, Reader& r, const DecodeState& st) {
  const bool of10 = h.version == OFP10_VERSION;
  switch (h.type) {
    case OFPT_HELLO: return decode_hello(r);
    case OFPT_ERROR: {
      ErrorMsg e;
      e.type = r.u16();
      e.code = r.u16();
      if (!r.ok()) return bad_len("OFPT_ERROR");
      ByteView d = r.rest();
      e.data.assign(d.begin(), d.end());
      return Message{std::move(e)};
    }
    case OFPT_ECHO_REQUEST: {
      ByteView d = r.rest();
      return Message{EchoRequest{Bytes(d.begin(), d.end())}};
    }
    case OFPT_ECHO_REPLY: {
      ByteView d = r.rest();
      return Message{EchoReply{Bytes(d.begin(), d.end())}};
    }
    case OFPT_FEATURES_REQUEST:
      if (!r.at_end()) return bad_len("OFPT_FEATURES_REQUEST");
      return Message{FeaturesRequest{}};
    case OFPT_GET_CONFIG_REQUEST:
      if (!r.at_end()) return bad_len("OFPT_GET_CONFIG_REQUEST");
      return Message{GetConfigRequest{}};
    case OFPT_SET_CONFIG: {
      SwitchConfig c;
      c.flags = r.u16();
      c.miss_send_len = r.u16();
      if (!r.ok() || !r.at_end()) return bad_len("OFPT_SET_CONFIG");
      return Message{c};
    }
    case OFPT_FLOW_MOD: {
      if (of10) return decode_of10_flow_mod(r, st);
      OfResult<FlowModMsg> fm = decode_of13_flow_mod(r, h.version);
      if (!fm) return fm.error();
      return Message{std::move(fm.value())};
    }
    case OFPT_PACKET_OUT: {
      PacketOut p;
      p.buffer_id = r.u32();
      p.in_port = of10 ? port_from_of10(r.u16()) : r.u32();
      const uint16_t actions_len = r.u16();
      if (!of10) r.skip(6);
      ByteView acts = r.view(actions_len);
      if (!r.ok()) return bad_len("OFPT_PACKET_OUT");
      OfResult<std::vector<flowtable::Action>> a = decode_actions(acts, h.version, flowtable::Match{});
      if (!a) return a.error();
      p.actions = std::move(a.value());
      ByteView d = r.rest();
      p.data.assign(d.begin(), d.end());
      if (p.buffer_id != OFP_NO_BUFFER)
        return bad_request(OFPBRC_BUFFER_UNKNOWN, "the switch buffers no packets");
      return Message{std::move(p)};
    }
    case OFPT_EXPERIMENTER: {
      const uint32_t vendor = r.u32();
      if (!r.ok()) return bad_len("experimenter message");
      if (of10 && vendor == NX_VENDOR_ID) return decode_nx_vendor(r, st);
      if (!of10 && vendor == ONF_EXPERIMENTER_ID) {
        const uint32_t exp_type = r.u32();
        if (exp_type == ONFT_BUNDLE_CONTROL || exp_type == ONFT_BUNDLE_ADD_MESSAGE)
          return decode_bundle(r, h.version, h.xid, exp_type == ONFT_BUNDLE_ADD_MESSAGE, true);
        return bad_request(OFPBRC_BAD_EXP_TYPE, "ONF experimenter type is not supported");
      }
      if (!of10 && vendor == NX_VENDOR_ID) return decode_nx_vendor(r, st);
      char buf[64];
      snprintf(buf, sizeof(buf), "experimenter 0x%08x is not supported", vendor);
      return bad_request(OFPBRC_BAD_EXPERIMENTER, buf);
    }
    default: break;
  }
  if (of10) {
    switch (h.type) {
      case OFPT10_PORT_MOD: {
        PortMod p;
        p.port_no = port_from_of10(r.u16());
        p.hw_addr = static_cast<uint64_t>(r.uint(6));
        p.config = r.u32();
        p.mask = r.u32();
        p.advertise = r.u32();
        r.skip(4);
        if (!r.ok() || !r.at_end()) return bad_len("OFPT_PORT_MOD");
        return Message{p};
      }
      case OFPT10_STATS_REQUEST: return decode_stats_request(r, h.version);
      case OFPT10_BARRIER_REQUEST:
        if (!r.at_end()) return bad_len("OFPT_BARRIER_REQUEST");
        return Message{BarrierRequest{}};
      default: break;
    }
  } else {
    switch (h.type) {
      case OFPT_PORT_MOD: {
        PortMod p;
        p.port_no = r.u32();
        r.skip(4);
        p.hw_addr = static_cast<uint64_t>(r.uint(6));
        r.skip(2);
        p.config = r.u32();
        p.mask = r.u32();
        if (h.version == OFP13_VERSION) {
          p.advertise = r.u32();
          r.skip(4);
          if (!r.at_end()) return bad_len("OFPT_PORT_MOD");
        }
        if (!r.ok()) return bad_len("OFPT_PORT_MOD");
        return Message{p};
      }
      case OFPT_MULTIPART_REQUEST: return decode_stats_request(r, h.version);
      case OFPT_BARRIER_REQUEST:
        if (!r.at_end()) return bad_len("OFPT_BARRIER_REQUEST");
        return Message{BarrierRequest{}};
      case OFPT_ROLE_REQUEST: {
        RoleRequest q;
        q.role = r.u32();
        r.skip(4);
        q.generation_id = r.u64();
        if (!r.ok() || !r.at_end()) return bad_len("OFPT_ROLE_REQUEST");
        if (q.role > OFPCR_ROLE_SLAVE)
          return make_error(OFPET_ROLE_REQUEST_FAILED, OFPRRFC_BAD_ROLE, "unknown role");
        return Message{q};
      }
      case OFPT_BUNDLE_CONTROL:
      case OFPT_BUNDLE_ADD_MESSAGE:
        if (h.version < OFP14_VERSION) break;
        return decode_bundle(r, h.version, h.xid, h.type == OFPT_BUNDLE_ADD_MESSAGE, false);
      default: break;
    }
  }
  char buf[64];
  snprintf(buf, sizeof(buf), "message type %u is not supported in version 0x%02x", h.type, h.version);
  return bad_request(OFPBRC_BAD_TYPE, buf);
}

}  // namespace

OfResult<Decoded> decode(ByteView msg, const DecodeState& st) {
  if (msg.size() < kHeaderLen) return bad_request(OFPBRC_BAD_LEN, "message shorter than its header");
  const Header h = parse_header(msg);
  if (h.length != msg.size()) return bad_request(OFPBRC_BAD_LEN, "length field disagrees with the message");
  if (h.type != OFPT_HELLO && h.version != st.version) {
    char buf[80];
    snprintf(buf, sizeof(buf), "version 0x%02x on a connection that negotiated 0x%02x", h.version, st.version);
    return bad_request(OFPBRC_BAD_VERSION, buf);
  }
  Reader r(msg.subspan(kHeaderLen));
  OfResult<Message> m = decode_body(h, r, st);
  if (!m) return m.error();
  return Decoded{h.version, h.xid, std::move(m.value())};
}

}  // namespace trestle::shim::ofp
