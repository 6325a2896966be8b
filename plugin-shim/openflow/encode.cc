// Encoders: everything the switch sends, and requests for tests and tools.

#include "plugin-shim/openflow/action_codec.h"
#include "plugin-shim/openflow/match_codec.h"
#include "plugin-shim/openflow/msg_types.h"
#include "plugin-shim/openflow/ofp.h"

namespace trestle::shim::ofp {
namespace {

using flowtable::FlowMod;

constexpr size_t kMaxMsg = 0xffff;

// A message under construction: header written, length patched by done().
class Msg {
 public:
  Msg(uint8_t version, uint8_t type, uint32_t xid) {
    Writer w(&b_);
    w.u8(version); w.u8(type); w.u16(0); w.u32(xid);
  }
  // A writer appending to this message (it holds only a pointer to it).
  Writer w() { return Writer(&b_); }
  Bytes done() {
    w().patch16(2, static_cast<uint16_t>(b_.size()));
    return std::move(b_);
  }
  size_t size() const { return b_.size(); }

 private:
  Bytes b_;
};

bool of10(uint8_t v) { return v == OFP10_VERSION; }

// OpenFlow 1.0 error numbering for an OpenFlow 1.3 (type, code).
std::pair<uint16_t, uint16_t> to_of10_error(uint16_t type, uint16_t code) {
  switch (type) {
    case OFPET_HELLO_FAILED: return {0, code};
    case flowtable::OFPET_BAD_REQUEST:
      return {1, static_cast<uint16_t>(code <= 8 ? code : uint16_t{OFPBRC_EPERM})};
    case flowtable::OFPET_BAD_ACTION:
      return {2, static_cast<uint16_t>(code <= 8 ? code : uint16_t{flowtable::OFPBAC_BAD_ARGUMENT})};
    case flowtable::OFPET_FLOW_MOD_FAILED:
      switch (code) {
        case flowtable::OFPFMFC_TABLE_FULL: return {3, 0};
        case flowtable::OFPFMFC_OVERLAP: return {3, 1};
        case 4 /* EPERM */: return {3, 2};
        case flowtable::OFPFMFC_BAD_COMMAND: return {3, 4};
        default: return {3, 5};  // OFPFMFC_UNSUPPORTED
      }
    case OFPET_PORT_MOD_FAILED: return {4, code};
    // OpenFlow 1.0 has no match or instruction errors: the nearest ones.
    case flowtable::OFPET_BAD_MATCH: return {1, OFPBRC_EPERM};
    case flowtable::OFPET_BAD_INSTRUCTION: return {2, flowtable::OFPBAC_BAD_ARGUMENT};
    default: return {1, OFPBRC_EPERM};
  }
}

void multipart_header(Msg& m, uint8_t version, uint16_t type, uint16_t flags) {
  m.w().u16(type);
  m.w().u16(flags);
  if (!of10(version)) m.w().zeros(4);
}

uint8_t mp_type(uint8_t version, bool request) {
  if (of10(version)) return request ? OFPT10_STATS_REQUEST : OFPT10_STATS_REPLY;
  return request ? OFPT_MULTIPART_REQUEST : OFPT_MULTIPART_REPLY;
}

// A multipart reply of `type` whose entries are appended by `entries`, split
// into messages of at most 64 KiB. `entry(i, Writer&)` writes entry i.
template <typename F>
std::vector<Bytes> split_reply(uint8_t version, uint32_t xid, uint16_t type, size_t n,
                               F entry, ByteView extra_header = {}) {
  std::vector<Bytes> out;
  auto start = [&] {
    Msg m(version, mp_type(version, false), xid);
    multipart_header(m, version, type, 0);
    m.w().bytes(extra_header);
    return m;
  };
  Msg m = start();
  const size_t empty = m.size();
  for (size_t i = 0; i < n; ++i) {
    Bytes one;
    Writer ow(&one);
    entry(i, ow);
    if (m.size() + one.size() > kMaxMsg && m.size() > empty) {
      Bytes b = m.done();
      b[10] |= OFPMPF_MORE >> 8;  // flags field: big-endian at offset 10
      b[11] |= OFPMPF_MORE & 0xff;
      out.push_back(std::move(b));
      m = start();
    }
    m.w().bytes(one);
  }
  out.push_back(m.done());
  return out;
}

uint32_t features_to_of10(uint32_t f) {
  return (f & 0x7f) | ((f >> 11) & 0x1f) << 7;
}

void encode_port(Writer& w, uint8_t version, const PortDesc& p) {
  char name[16] = {};
  snprintf(name, sizeof(name), "%s", p.name.c_str());
  if (of10(version)) {
    w.u16(port_to_of10(p.port_no));
    w.uint(p.hw_addr, 6);
    w.str(name, 16);
    w.u32(p.config);
    w.u32(p.state & OFPPS_LINK_DOWN);
    w.u32(features_to_of10(p.curr));
    w.u32(features_to_of10(p.advertised));
    w.u32(features_to_of10(p.supported));
    w.u32(features_to_of10(p.peer));
    return;
  }
  if (version == OFP13_VERSION) {
    w.u32(p.port_no);
    w.zeros(4);
    w.uint(p.hw_addr, 6);
    w.zeros(2);
    w.str(name, 16);
    w.u32(p.config);
    w.u32(p.state);
    w.u32(p.curr);
    w.u32(p.advertised);
    w.u32(p.supported);
    w.u32(p.peer);
    w.u32(p.curr_speed_kbps);
    w.u32(p.max_speed_kbps);
    return;
  }
  // OpenFlow 1.4: ofp_port with an Ethernet property.
  w.u32(p.port_no);
  w.u16(72);
  w.zeros(2);
  w.uint(p.hw_addr, 6);
  w.zeros(2);
  w.str(name, 16);
  w.u32(p.config);
  w.u32(p.state);
  w.u16(0);  // OFPPDPT_ETHERNET
  w.u16(32);
  w.zeros(4);
  w.u32(p.curr);
  w.u32(p.advertised);
  w.u32(p.supported);
  w.u32(p.peer);
  w.u32(p.curr_speed_kbps);
  w.u32(p.max_speed_kbps);
}

void put_flow_mod_body(Writer& w, uint8_t version, const FlowModMsg& m, const DecodeState& st) {
  const FlowMod& fm = m.fm;
  if (of10(version)) {
    const uint16_t cmd = static_cast<uint16_t>(fm.command) |
                         (st.flow_mod_table_id ? uint16_t(fm.table) << 8 : 0);
    // 1.0 has only these two (its bit 2 is OFPFF_EMERG; reset_counts is
    // implied by "add").
    const uint16_t flags = fm.flags & (flowtable::OFPFF_SEND_FLOW_REM | flowtable::OFPFF_CHECK_OVERLAP);
    if (m.format == MatchFormat::kNxm) {
      w.u32(NX_VENDOR_ID);
      w.u32(NXT_FLOW_MOD);
      w.u64(fm.cookie);
      w.u16(cmd);
      w.u16(fm.idle_timeout); w.u16(fm.hard_timeout); w.u16(fm.priority);
      w.u32(m.buffer_id);
      w.u16(port_to_of10(fm.out_port));
      w.u16(flags);
      const size_t len_at = w.size();
      w.u16(0);
      w.zeros(6);
      const size_t ms = w.size();
      encode_tlvs(w, fm.match, MatchFormat::kNxm);
      w.patch16(len_at, static_cast<uint16_t>(w.size() - ms));
      w.pad_from(ms);
    } else {
      encode_of10_match(w, fm.match);
      w.u64(fm.cookie);
      w.u16(cmd);
      w.u16(fm.idle_timeout); w.u16(fm.hard_timeout); w.u16(fm.priority);
      w.u32(m.buffer_id);
      w.u16(port_to_of10(fm.out_port));
      w.u16(flags);
    }
    encode_of10_actions(w, fm.ins);
    return;
  }
  w.u64(fm.cookie);
  w.u64(fm.cookie_mask);
  w.u8(fm.table);
  w.u8(static_cast<uint8_t>(fm.command));
  w.u16(fm.idle_timeout); w.u16(fm.hard_timeout); w.u16(fm.priority);
  w.u32(m.buffer_id);
  w.u32(fm.out_port);
  w.u32(fm.out_group);
  w.u16(fm.flags);
  w.zeros(2);
  encode_oxm_match(w, fm.match);
  encode_instructions(w, fm.ins, version);
}

}  // namespace

Bytes encode_error(uint8_t version, uint32_t xid, const OfError& e, ByteView offending) {
  Msg m(version, OFPT_ERROR, xid);
  auto [type, code] = of10(version) ? to_of10_error(e.type, e.code)
                                    : std::pair<uint16_t, uint16_t>{e.type, e.code};
  m.w().u16(type);
  m.w().u16(code);
  if (type == OFPET_HELLO_FAILED) {
    m.w().bytes(ByteView(reinterpret_cast<const uint8_t*>(e.message.data()), e.message.size()));
  } else {
    m.w().bytes(offending.first(std::min<size_t>(offending.size(), 64)));
  }
  return m.done();
}

Bytes encode_hello(uint8_t version, uint32_t xid, uint32_t versions) {
  Msg m(version, OFPT_HELLO, xid);
  if (versions) {
    m.w().u16(1);  // OFPHET_VERSIONBITMAP
    m.w().u16(8);
    m.w().u32(versions);
  }
  return m.done();
}

Bytes encode_echo_request(uint8_t version, uint32_t xid, ByteView data) {
  Msg m(version, OFPT_ECHO_REQUEST, xid);
  m.w().bytes(data);
  return m.done();
}
Bytes encode_echo_reply(uint8_t version, uint32_t xid, ByteView data) {
  Msg m(version, OFPT_ECHO_REPLY, xid);
  m.w().bytes(data);
  return m.done();
}
Bytes encode_barrier_reply(uint8_t version, uint32_t xid) {
  return Msg(version, of10(version) ? uint8_t{OFPT10_BARRIER_REPLY} : uint8_t{OFPT_BARRIER_REPLY}, xid).done();
}
Bytes encode_get_config_reply(uint8_t version, uint32_t xid, const SwitchConfig& c) {
  Msg m(version, OFPT_GET_CONFIG_REPLY, xid);
  m.w().u16(c.flags);
  m.w().u16(c.miss_send_len);
  return m.done();
}
Bytes encode_role_reply(uint8_t version, uint32_t xid, const RoleRequest& r) {
  Msg m(version, OFPT_ROLE_REPLY, xid);
  m.w().u32(r.role);
  m.w().zeros(4);
  m.w().u64(r.generation_id);
  return m.done();
}

Bytes encode_features_reply(uint8_t version, uint32_t xid, const Features& f) {
  Msg m(version, OFPT_FEATURES_REPLY, xid);
  Writer w = m.w();
  w.u64(f.datapath_id);
  w.u32(f.n_buffers);
  w.u8(f.n_tables);
  if (of10(version)) {
    w.zeros(3);
    w.u32(f.capabilities);
    w.u32(0x7ff);  // OFPAT10_OUTPUT .. OFPAT10_SET_TP_DST
    for (const PortDesc& p : f.ports) encode_port(w, version, p);
  } else {
    w.u8(0);  // auxiliary_id
    w.zeros(2);
    w.u32(f.capabilities);
    w.u32(0);
  }
  return m.done();
}

Bytes encode_port_status(uint8_t version, uint32_t xid, uint8_t reason, const PortDesc& p) {
  Msg m(version, OFPT_PORT_STATUS, xid);
  m.w().u8(reason);
  m.w().zeros(7);
  Writer w = m.w();
  encode_port(w, version, p);
  return m.done();
}

Bytes encode_packet_in(uint8_t version, uint32_t xid, const PacketIn& p) {
  Msg m(version, OFPT_PACKET_IN, xid);
  Writer w = m.w();
  w.u32(p.buffer_id);
  w.u16(p.total_len);
  if (of10(version)) {
    w.u16(port_to_of10(p.in_port));
    w.u8(p.reason);
    w.zeros(1);
  } else {
    w.u8(p.reason);
    w.u8(p.table_id);
    w.u64(p.cookie);
    flowtable::Match match;
    match.set(flowtable::Field::in_port, p.in_port);
    encode_oxm_match(w, match);
    w.zeros(2);
  }
  const size_t room = kMaxMsg - m.size();
  w.bytes(ByteView(p.data).first(std::min(room, p.data.size())));
  return m.done();
}

Bytes encode_flow_removed(uint8_t version, uint32_t xid, const flowtable::FlowRemoved& r) {
  Msg m(version, OFPT_FLOW_REMOVED, xid);
  Writer w = m.w();
  const flowtable::FlowStats& s = r.stats;
  const uint32_t sec = static_cast<uint32_t>(s.duration_ms / 1000);
  const uint32_t nsec = static_cast<uint32_t>(s.duration_ms % 1000 * 1000000);
  if (of10(version)) {
    encode_of10_match(w, s.match);
    w.u64(s.cookie);
    w.u16(s.priority);
    w.u8(static_cast<uint8_t>(r.reason));
    w.zeros(1);
    w.u32(sec); w.u32(nsec);
    w.u16(s.idle_timeout);
    w.zeros(2);
    w.u64(s.packets); w.u64(s.bytes);
  } else {
    w.u64(s.cookie);
    w.u16(s.priority);
    w.u8(static_cast<uint8_t>(r.reason));
    w.u8(s.table);
    w.u32(sec); w.u32(nsec);
    w.u16(s.idle_timeout); w.u16(s.hard_timeout);
    w.u64(s.packets); w.u64(s.bytes);
    encode_oxm_match(w, s.match);
  }
  return m.done();
}

Bytes encode_desc_reply(uint8_t version, uint32_t xid, const SwitchDesc& d) {
  Msg m(version, mp_type(version, false), xid);
  multipart_header(m, version, OFPMP_DESC, 0);
  m.w().str(d.mfr.c_str(), 256);
  m.w().str(d.hw.c_str(), 256);
  m.w().str(d.sw.c_str(), 256);
  m.w().str(d.serial.c_str(), 32);
  m.w().str(d.dp.c_str(), 256);
  return m.done();
}

std::vector<Bytes> encode_flow_stats_reply(uint8_t version, uint32_t xid, MatchFormat format,
                                           const std::vector<flowtable::FlowStats>& flows) {
  auto entry = [&](size_t i, Writer& w) {
    const flowtable::FlowStats& s = flows[i];
    const uint32_t sec = static_cast<uint32_t>(s.duration_ms / 1000);
    const uint32_t nsec = static_cast<uint32_t>(s.duration_ms % 1000 * 1000000);
    const size_t start = w.size();
    w.u16(0);
    w.u8(s.table);
    w.zeros(1);
    if (of10(version) && format == MatchFormat::kOf10) {
      encode_of10_match(w, s.match);
      w.u32(sec); w.u32(nsec);
      w.u16(s.priority); w.u16(s.idle_timeout); w.u16(s.hard_timeout);
      w.zeros(6);
      w.u64(s.cookie); w.u64(s.packets); w.u64(s.bytes);
      encode_of10_actions(w, s.ins);
    } else if (of10(version)) {  // nx_flow_stats
      w.u32(sec); w.u32(nsec);
      w.u16(s.priority); w.u16(s.idle_timeout); w.u16(s.hard_timeout);
      const size_t len_at = w.size();
      w.u16(0);
      w.u16(0); w.u16(0);  // idle_age, hard_age: unknown
      w.u64(s.cookie); w.u64(s.packets); w.u64(s.bytes);
      const size_t ms = w.size();
      encode_tlvs(w, s.match, MatchFormat::kNxm);
      w.patch16(len_at, static_cast<uint16_t>(w.size() - ms));
      w.pad_from(ms);
      encode_of10_actions(w, s.ins);
    } else {
      w.u32(sec); w.u32(nsec);
      w.u16(s.priority); w.u16(s.idle_timeout); w.u16(s.hard_timeout);
      w.u16(s.flags);
      w.zeros(4);
      w.u64(s.cookie); w.u64(s.packets); w.u64(s.bytes);
      encode_oxm_match(w, s.match);
      encode_instructions(w, s.ins, version);
    }
    w.patch16(start, static_cast<uint16_t>(w.size() - start));
  };
  if (of10(version) && format == MatchFormat::kNxm) {
    Bytes nx;
    Writer w(&nx);
    w.u32(NX_VENDOR_ID); w.u32(NXST_FLOW); w.zeros(4);
    return split_reply(version, xid, OFPMP_EXPERIMENTER, flows.size(), entry, nx);
  }
  return split_reply(version, xid, OFPMP_FLOW, flows.size(), entry);
}

Bytes encode_aggregate_reply(uint8_t version, uint32_t xid, MatchFormat format,
                             const AggregateStats& a) {
  Msg m(version, mp_type(version, false), xid);
  const bool nx = of10(version) && format == MatchFormat::kNxm;
  multipart_header(m, version, nx ? OFPMP_EXPERIMENTER : OFPMP_AGGREGATE, 0);
  if (nx) {
    m.w().u32(NX_VENDOR_ID); m.w().u32(NXST_AGGREGATE); m.w().zeros(4);
  }
  m.w().u64(a.packets);
  m.w().u64(a.bytes);
  m.w().u32(a.flows);
  m.w().zeros(4);
  return m.done();
}

std::vector<Bytes> encode_table_stats_reply(uint8_t version, uint32_t xid,
                                            const std::vector<TableStats>& tables) {
  return split_reply(version, xid, OFPMP_TABLE, tables.size(), [&](size_t i, Writer& w) {
    const TableStats& t = tables[i];
    w.u8(t.table_id);
    w.zeros(3);
    if (of10(version)) {
      char name[32];
      snprintf(name, sizeof(name), "table%u", t.table_id);
      w.str(name, 32);
      w.u32((1u << 22) - 1);  // every OpenFlow 1.0 wildcard
      w.u32(1000000);
      w.u32(t.active_count);
    } else {
      w.u32(t.active_count);
    }
    w.u64(t.lookup_count);
    w.u64(t.matched_count);
  });
}

std::vector<Bytes> encode_port_stats_reply(uint8_t version, uint32_t xid,
                                           const std::vector<PortStats>& ports) {
  return split_reply(version, xid, OFPMP_PORT_STATS, ports.size(), [&](size_t i, Writer& w) {
    const PortStats& p = ports[i];
    const uint64_t c[] = {p.rx_packets, p.tx_packets, p.rx_bytes, p.tx_bytes,
                          p.rx_dropped, p.tx_dropped, p.rx_errors, p.tx_errors};
    if (version >= OFP14_VERSION) {
      w.u16(80); w.zeros(2);
      w.u32(p.port_no);
      w.u32(p.duration_sec); w.u32(p.duration_nsec);
      for (uint64_t v : c) w.u64(v);
      return;
    }
    if (of10(version)) {
      w.u16(port_to_of10(p.port_no)); w.zeros(6);
    } else {
      w.u32(p.port_no); w.zeros(4);
    }
    for (uint64_t v : c) w.u64(v);
    for (int k = 0; k < 4; ++k) w.u64(0);  // frame, overrun, CRC errors, collisions
    if (!of10(version)) {
      w.u32(p.duration_sec); w.u32(p.duration_nsec);
    }
  });
}

std::vector<Bytes> encode_port_desc_reply(uint8_t version, uint32_t xid,
                                          const std::vector<PortDesc>& ports) {
  return split_reply(version, xid, OFPMP_PORT_DESC, ports.size(),
                     [&](size_t i, Writer& w) { encode_port(w, version, ports[i]); });
}

std::vector<Bytes> encode_table_features_reply(uint8_t version, uint32_t xid, uint8_t n_tables) {
  const std::vector<uint32_t> match = supported_headers(true);
  const std::vector<uint32_t> fields = supported_headers(false);
  std::vector<uint32_t> wildcards, settable;
  for (uint32_t h : fields) {
    wildcards.push_back(h);
    if (auto ref = field_ref(h, 0); ref && flowtable::field_info(ref->field).settable)
      settable.push_back(h);
  }
  auto entry = [&](size_t i, Writer& w) {
    const size_t start = w.size();
    const uint8_t t = static_cast<uint8_t>(i);
    w.u16(0);
    w.u8(t);
    w.zeros(5);
    char name[32];
    snprintf(name, sizeof(name), "table%u", t);
    w.str(name, 32);
    w.u64(~uint64_t{0});  // metadata_match
    w.u64(~uint64_t{0});  // metadata_write
    w.u32(0);             // config
    w.u32(1000000);       // max_entries
    auto prop = [&](uint16_t type, auto body) {
      const size_t s = w.size();
      w.u16(type);
      w.u16(0);
      body();
      w.patch16(s + 2, static_cast<uint16_t>(w.size() - s));
      w.pad_from(s);
    };
    // OFPTFPT_INSTRUCTIONS: goto, write_metadata, write/apply/clear actions.
    prop(0, [&] {
      for (uint16_t it : {1, 2, 3, 4, 5}) { w.u16(it); w.u16(4); }
    });
    prop(2, [&] {  // OFPTFPT_NEXT_TABLES
      for (unsigned n = t + 1u; n < n_tables; ++n) w.u8(static_cast<uint8_t>(n));
    });
    auto actions = [&] {
      for (uint16_t at : {0, 17, 18, 25}) { w.u16(at); w.u16(4); }  // output push/pop_vlan set_field
    };
    prop(4, actions);  // OFPTFPT_WRITE_ACTIONS
    prop(6, actions);  // OFPTFPT_APPLY_ACTIONS
    prop(8, [&] { for (uint32_t h : match) w.u32(h); });       // OFPTFPT_MATCH
    prop(10, [&] { for (uint32_t h : wildcards) w.u32(h); });  // OFPTFPT_WILDCARDS
    prop(12, [&] { for (uint32_t h : settable) w.u32(h); });   // OFPTFPT_WRITE_SETFIELD
    prop(14, [&] { for (uint32_t h : settable) w.u32(h); });   // OFPTFPT_APPLY_SETFIELD
    w.patch16(start, static_cast<uint16_t>(w.size() - start));
  };
  return split_reply(version, xid, OFPMP_TABLE_FEATURES, n_tables, entry);
}

Bytes encode_meter_features_reply(uint8_t version, uint32_t xid) {
  Msg m(version, OFPT_MULTIPART_REPLY, xid);
  multipart_header(m, version, OFPMP_METER_FEATURES, 0);
  m.w().zeros(16);
  return m.done();
}

Bytes encode_bundle_control_reply(uint8_t version, uint32_t xid, const BundleControl& c) {
  BundleControl r = c;
  r.type = static_cast<uint16_t>(c.type + 1);
  return encode(version, xid, Message{r});
}

namespace {
struct EncodeVisitor {
  uint8_t v;
  uint32_t xid;
  const DecodeState& st;
  Bytes simple(uint8_t type) { return Msg(v, type, xid).done(); }
  Bytes stats(uint16_t type, auto body) {
    Msg m(v, mp_type(v, true), xid);
    multipart_header(m, v, type, 0);
    Writer w = m.w();
    body(w);
    return m.done();
  }
  Bytes operator()(const Hello& h) { return encode_hello(v, xid, h.versions); }
  Bytes operator()(const ErrorMsg& e) {
    Msg m(v, OFPT_ERROR, xid);
    m.w().u16(e.type); m.w().u16(e.code); m.w().bytes(e.data);
    return m.done();
  }
  Bytes operator()(const EchoRequest& e) { return encode_echo_request(v, xid, e.data); }
  Bytes operator()(const EchoReply& e) { return encode_echo_reply(v, xid, e.data); }
  Bytes operator()(const FeaturesRequest&) { return simple(OFPT_FEATURES_REQUEST); }
  Bytes operator()(const GetConfigRequest&) { return simple(OFPT_GET_CONFIG_REQUEST); }
  Bytes operator()(const SwitchConfig& c) {
    Msg m(v, OFPT_SET_CONFIG, xid);
    m.w().u16(c.flags); m.w().u16(c.miss_send_len);
    return m.done();
  }
  Bytes operator()(const FlowModMsg& fm) {
    const bool nx = of10(v) && fm.format == MatchFormat::kNxm;
    Msg m(v, nx ? OFPT_EXPERIMENTER : OFPT_FLOW_MOD, xid);
    Writer w = m.w();
    put_flow_mod_body(w, v, fm, st);
    return m.done();
  }
  Bytes operator()(const PacketOut& p) {
    Msg m(v, OFPT_PACKET_OUT, xid);
    Writer w = m.w();
    w.u32(p.buffer_id);
    if (of10(v)) w.u16(port_to_of10(p.in_port)); else w.u32(p.in_port);
    const size_t len_at = w.size();
    w.u16(0);
    if (!of10(v)) w.zeros(6);
    const size_t as = w.size();
    encode_actions(w, p.actions, v);
    w.patch16(len_at, static_cast<uint16_t>(w.size() - as));
    w.bytes(p.data);
    return m.done();
  }
  Bytes operator()(const PortMod& p) {
    Msg m(v, of10(v) ? uint8_t{OFPT10_PORT_MOD} : uint8_t{OFPT_PORT_MOD}, xid);
    Writer w = m.w();
    if (of10(v)) {
      w.u16(port_to_of10(p.port_no)); w.uint(p.hw_addr, 6);
    } else {
      w.u32(p.port_no); w.zeros(4); w.uint(p.hw_addr, 6); w.zeros(2);
    }
    w.u32(p.config); w.u32(p.mask);
    if (v <= OFP13_VERSION) { w.u32(p.advertise); w.zeros(4); }
    return m.done();
  }
  Bytes operator()(const BarrierRequest&) {
    return simple(of10(v) ? uint8_t{OFPT10_BARRIER_REQUEST} : uint8_t{OFPT_BARRIER_REQUEST});
  }
  Bytes operator()(const RoleRequest& r) {
    Msg m(v, OFPT_ROLE_REQUEST, xid);
    m.w().u32(r.role); m.w().zeros(4); m.w().u64(r.generation_id);
    return m.done();
  }
  Bytes operator()(const DescRequest&) { return stats(OFPMP_DESC, [](Writer&) {}); }
  Bytes operator()(const FlowStatsReq& f) {
    const flowtable::FlowStatsRequest& q = f.req;
    if (of10(v) && f.format == MatchFormat::kNxm) {
      return stats(OFPMP_EXPERIMENTER, [&](Writer& w) {
        w.u32(NX_VENDOR_ID); w.u32(f.aggregate ? NXST_AGGREGATE : NXST_FLOW); w.zeros(4);
        w.u16(port_to_of10(q.out_port));
        const size_t len_at = w.size();
        w.u16(0);
        w.u8(q.table);
        w.zeros(3);
        const size_t ms = w.size();
        encode_tlvs(w, q.match, MatchFormat::kNxm);
        w.patch16(len_at, static_cast<uint16_t>(w.size() - ms));
        w.pad_from(ms);
      });
    }
    return stats(f.aggregate ? OFPMP_AGGREGATE : OFPMP_FLOW, [&](Writer& w) {
      if (of10(v)) {
        encode_of10_match(w, q.match);
        w.u8(q.table); w.zeros(1); w.u16(port_to_of10(q.out_port));
      } else {
        w.u8(q.table); w.zeros(3); w.u32(q.out_port); w.u32(q.out_group); w.zeros(4);
        w.u64(q.cookie); w.u64(q.cookie_mask);
        encode_oxm_match(w, q.match);
      }
    });
  }
  Bytes operator()(const TableStatsRequest&) { return stats(OFPMP_TABLE, [](Writer&) {}); }
  Bytes operator()(const PortStatsRequest& p) {
    return stats(OFPMP_PORT_STATS, [&](Writer& w) {
      if (of10(v)) { w.u16(port_to_of10(p.port_no)); w.zeros(6); }
      else { w.u32(p.port_no); w.zeros(4); }
    });
  }
  Bytes operator()(const PortDescRequest&) { return stats(OFPMP_PORT_DESC, [](Writer&) {}); }
  Bytes operator()(const TableFeaturesRequest&) {
    return stats(OFPMP_TABLE_FEATURES, [](Writer&) {});
  }
  Bytes operator()(const MeterFeaturesRequest&) {
    return stats(OFPMP_METER_FEATURES, [](Writer&) {});
  }
  Bytes operator()(const BundleControl& c) {
    Msg m(v, c.onf ? uint8_t{OFPT_EXPERIMENTER} : uint8_t{OFPT_BUNDLE_CONTROL}, xid);
    if (c.onf) { m.w().u32(ONF_EXPERIMENTER_ID); m.w().u32(ONFT_BUNDLE_CONTROL); }
    m.w().u32(c.bundle_id); m.w().u16(c.type); m.w().u16(c.flags);
    return m.done();
  }
  Bytes operator()(const BundleAdd& a) {
    Msg m(v, a.onf ? uint8_t{OFPT_EXPERIMENTER} : uint8_t{OFPT_BUNDLE_ADD_MESSAGE}, xid);
    if (a.onf) { m.w().u32(ONF_EXPERIMENTER_ID); m.w().u32(ONFT_BUNDLE_ADD_MESSAGE); }
    m.w().u32(a.bundle_id); m.w().zeros(2); m.w().u16(a.flags);
    m.w().bytes((*this)(a.flow_mod));
    Bytes b = m.done();
    // The inner message keeps its own xid.
    const size_t inner = a.onf ? 24 : 16;
    for (int i = 0; i < 4; ++i) b[inner + 4 + i] = static_cast<uint8_t>(a.inner_xid >> (24 - 8 * i));
    return b;
  }
  Bytes nx(uint32_t subtype, auto body) {
    Msg m(v, OFPT_EXPERIMENTER, xid);
    Writer w = m.w();
    w.u32(NX_VENDOR_ID); w.u32(subtype);
    body(w);
    return m.done();
  }
  Bytes operator()(const NxSetFlowFormat& f) {
    return nx(NXT_SET_FLOW_FORMAT, [&](Writer& w) { w.u32(f.format); });
  }
  Bytes operator()(const NxFlowModTableId& f) {
    return nx(NXT_FLOW_MOD_TABLE_ID, [&](Writer& w) { w.u8(f.enable); w.zeros(7); });
  }
  Bytes operator()(const NxSetPacketInFormat& f) {
    return nx(NXT_SET_PACKET_IN_FORMAT, [&](Writer& w) { w.u32(f.format); });
  }
  Bytes operator()(const NxSetControllerId& f) {
    return nx(NXT_SET_CONTROLLER_ID, [&](Writer& w) { w.zeros(6); w.u16(f.id); });
  }
};
}  // namespace

Bytes encode(uint8_t version, uint32_t xid, const Message& msg, const DecodeState& st) {
  return std::visit(EncodeVisitor{version, xid, st}, msg);
}

}  // namespace trestle::shim::ofp
