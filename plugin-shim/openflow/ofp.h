#pragma once
// The OpenFlow wire codec: bytes <-> the flowtable's types, for OpenFlow 1.0
// (with the Nicira extensions stock ovs-ofctl 3.1 sends), 1.3 (what the
// neutron agent's os-ken controller speaks, with ONF EXT-230 bundles) and
// 1.4 (what `ovs-ofctl --bundle` negotiates).
//
// A connection feeds its byte stream to frame(), hands each whole message
// to decode() and answers with the encode_*() functions. Everything a peer
// can send that is malformed, truncated, unknown or unsupported decodes to
// the OpenFlow error the spec names for it (OfError, with OpenFlow 1.3
// numbering; encode_error() renumbers for OpenFlow 1.0); nothing reads past
// the message.
//
// Port numbers are the flowtable's 32-bit OpenFlow 1.1+ ones throughout:
// OpenFlow 1.0's 16-bit numbers 0xff00-0xffff (reserved ports) become
// 0xffffff00-0xffffffff on decode and back on encode.
//
// Thread-safety: none needed. Every function is pure (no global state):
// call it from the connection's thread; the only per-connection state,
// DecodeState, belongs to the caller.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "flowtable/errors.h"
#include "flowtable/flow_table.h"
#include "plugin-shim/openflow/wire.h"

namespace trestle::shim::ofp {

using flowtable::OfError;
using flowtable::OfStatus;

// --- versions ------------------------------------------------------------
enum : uint8_t { OFP10_VERSION = 0x01, OFP13_VERSION = 0x04, OFP14_VERSION = 0x05 };
// A set of versions as HELLO's version bitmap: bit v for version v.
inline constexpr uint32_t version_bit(uint8_t v) { return v < 32 ? uint32_t{1} << v : 0; }
inline constexpr uint32_t kSupportedVersions =
    version_bit(OFP10_VERSION) | version_bit(OFP13_VERSION) | version_bit(OFP14_VERSION);

// OpenFlow 1.3.1 §6.3.1: the highest version both sides support. A peer
// HELLO without a bitmap supports every version up to its header's.
// nullopt when there is none (answer OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE).
std::optional<uint8_t> negotiate(uint32_t ours, uint8_t peer_header_version,
                                 uint32_t peer_bitmap /* 0: none sent */);

// --- framing -------------------------------------------------------------
inline constexpr size_t kHeaderLen = 8;
struct Header {
  uint8_t version = 0;
  uint8_t type = 0;
  uint16_t length = 0;
  uint32_t xid = 0;
};
struct Frame {
  enum class Status : uint8_t { kNeedMore, kMessage, kBadLength };
  Status status = Status::kNeedMore;
  size_t length = 0;  // kMessage: the message's bytes at the front of the buffer
};
// Looks at the front of a stream buffer: a whole message, not enough bytes
// yet, or a length field below 8 (the stream cannot be resynchronised:
// send OFPBRC_BAD_LEN and close). The length field cannot exceed 65535.
Frame frame(ByteView buffer);
Header parse_header(ByteView msg);  // msg.size() >= 8

// --- errors (OpenFlow 1.3 numbering; errors.h has the flow_mod ones) -----
enum : uint16_t {
  OFPET_HELLO_FAILED = 0, OFPET_PORT_MOD_FAILED = 7, OFPET_SWITCH_CONFIG_FAILED = 10,
  OFPET_ROLE_REQUEST_FAILED = 11, OFPET_BUNDLE_FAILED = 17, OFPET_EXPERIMENTER = 0xffff,
};
enum : uint16_t { OFPHFC_INCOMPATIBLE = 0, OFPHFC_EPERM = 1 };
enum : uint16_t {
  OFPBRC_BAD_VERSION = 0, OFPBRC_BAD_TYPE = 1, OFPBRC_BAD_MULTIPART = 2,
  OFPBRC_BAD_EXPERIMENTER = 3, OFPBRC_BAD_EXP_TYPE = 4, OFPBRC_EPERM = 5, OFPBRC_BAD_LEN = 6,
  OFPBRC_BUFFER_UNKNOWN = 8, OFPBRC_BAD_TABLE_ID = 9, OFPBRC_BAD_PORT = 11,
};
// OpenFlow 1.0 spells the same codes OFPBRC_BAD_STAT / BAD_VENDOR / BAD_SUBTYPE.
enum : uint16_t {
  OFPBAC_BAD_LEN = 1, OFPBAC_BAD_EXPERIMENTER = 2, OFPBAC_BAD_EXP_TYPE = 3,
  OFPBAC_UNSUPPORTED_ORDER = 11, OFPBAC_BAD_SET_LEN = 14,
};
enum : uint16_t {
  OFPBIC_UNKNOWN_INST = 0, OFPBIC_UNSUP_METADATA = 3, OFPBIC_BAD_EXPERIMENTER = 5,
  OFPBIC_BAD_LEN = 7, OFPBIC_DUP_INST = 9,  // DUP_INST: OpenFlow 1.4
};
enum : uint16_t {
  OFPBMC_BAD_TYPE = 0, OFPBMC_BAD_LEN = 1, OFPBMC_BAD_WILDCARDS = 5, OFPBMC_DUP_FIELD = 10,
};
enum : uint16_t { OFPRRFC_BAD_ROLE = 2 };
enum : uint16_t {
  OFPBFC_UNKNOWN = 0, OFPBFC_BAD_TYPE = 6, OFPBFC_BAD_FLAGS = 7, OFPBFC_MSG_BAD_LEN = 8,
  OFPBFC_MSG_UNSUP = 10,
};

OfError make_error(uint16_t type, uint16_t code, std::string message);

// --- what a peer sends ---------------------------------------------------
struct Hello {
  uint32_t versions = 0;  // the version bitmap; 0 when none was sent
  bool operator==(const Hello&) const = default;
};
struct ErrorMsg {  // an error the peer sent (OpenFlow 1.3 numbering for 1.0 peers too)
  uint16_t type = 0, code = 0;
  Bytes data;
  bool operator==(const ErrorMsg&) const = default;
};
struct EchoRequest {
  Bytes data;
  bool operator==(const EchoRequest&) const = default;
};
struct EchoReply {
  Bytes data;
  bool operator==(const EchoReply&) const = default;
};
struct FeaturesRequest { bool operator==(const FeaturesRequest&) const = default; };
struct GetConfigRequest { bool operator==(const GetConfigRequest&) const = default; };
struct BarrierRequest { bool operator==(const BarrierRequest&) const = default; };
struct SwitchConfig {  // SET_CONFIG, and GET_CONFIG_REPLY's body
  uint16_t flags = 0;
  uint16_t miss_send_len = 128;
  bool operator==(const SwitchConfig&) const = default;
};

// How a flow_mod or flow stats exchange spelled its match: OpenFlow 1.0
// ofp_match, Nicira NXM (NXT_FLOW_MOD, NXST_FLOW) or OXM (OpenFlow 1.1+).
enum class MatchFormat : uint8_t { kOf10, kNxm, kOxm };

struct FlowModMsg {
  flowtable::FlowMod fm;
  uint32_t buffer_id = 0xffffffff;
  MatchFormat format = MatchFormat::kOxm;
};
struct PacketOut {
  uint32_t buffer_id = 0xffffffff;
  uint32_t in_port = flowtable::OFPP_CONTROLLER;
  std::vector<flowtable::Action> actions;
  Bytes data;
  bool operator==(const PacketOut&) const = default;
};
struct PortMod {
  uint32_t port_no = 0;
  uint64_t hw_addr = 0;  // 48-bit
  uint32_t config = 0, mask = 0, advertise = 0;
  bool operator==(const PortMod&) const = default;
};
enum : uint32_t {
  OFPCR_ROLE_NOCHANGE = 0, OFPCR_ROLE_EQUAL = 1, OFPCR_ROLE_MASTER = 2, OFPCR_ROLE_SLAVE = 3,
};
struct RoleRequest {
  uint32_t role = OFPCR_ROLE_NOCHANGE;
  uint64_t generation_id = 0;
  bool operator==(const RoleRequest&) const = default;
};
struct DescRequest { bool operator==(const DescRequest&) const = default; };
struct FlowStatsReq {  // OFPST_FLOW / NXST_FLOW / OFPMP_FLOW, and the AGGREGATE ones
  flowtable::FlowStatsRequest req;
  bool aggregate = false;
  MatchFormat format = MatchFormat::kOxm;
};
struct TableStatsRequest { bool operator==(const TableStatsRequest&) const = default; };
struct PortStatsRequest {
  uint32_t port_no = flowtable::OFPP_ANY;
  bool operator==(const PortStatsRequest&) const = default;
};
struct PortDescRequest { bool operator==(const PortDescRequest&) const = default; };
struct TableFeaturesRequest { bool operator==(const TableFeaturesRequest&) const = default; };
struct MeterFeaturesRequest { bool operator==(const MeterFeaturesRequest&) const = default; };

// OpenFlow 1.4 bundles, and the same carried as ONF EXT-230 experimenter
// messages in OpenFlow 1.3 (`onf`).
enum : uint16_t {
  OFPBCT_OPEN_REQUEST = 0, OFPBCT_OPEN_REPLY = 1, OFPBCT_CLOSE_REQUEST = 2,
  OFPBCT_CLOSE_REPLY = 3, OFPBCT_COMMIT_REQUEST = 4, OFPBCT_COMMIT_REPLY = 5,
  OFPBCT_DISCARD_REQUEST = 6, OFPBCT_DISCARD_REPLY = 7,
};
enum : uint16_t { OFPBF_ATOMIC = 1, OFPBF_ORDERED = 2 };
struct BundleControl {
  uint32_t bundle_id = 0;
  uint16_t type = OFPBCT_OPEN_REQUEST;
  uint16_t flags = 0;
  bool onf = false;
  bool operator==(const BundleControl&) const = default;
};
struct BundleAdd {  // only flow_mods can be bundled (anything else: OFPBFC_MSG_UNSUP)
  uint32_t bundle_id = 0;
  uint16_t flags = 0;
  bool onf = false;
  uint32_t inner_xid = 0;
  FlowModMsg flow_mod;
};

// Nicira vendor messages (OpenFlow 1.0) ovs-ofctl 3.1 sends.
enum : uint32_t { NXFF_OPENFLOW10 = 0, NXFF_NXM = 2 };
struct NxSetFlowFormat {
  uint32_t format = NXFF_NXM;
  bool operator==(const NxSetFlowFormat&) const = default;
};
struct NxFlowModTableId {
  bool enable = true;
  bool operator==(const NxFlowModTableId&) const = default;
};
struct NxSetPacketInFormat {
  uint32_t format = 0;
  bool operator==(const NxSetPacketInFormat&) const = default;
};
struct NxSetControllerId {
  uint16_t id = 0;
  bool operator==(const NxSetControllerId&) const = default;
};

using Message =
    std::variant<Hello, ErrorMsg, EchoRequest, EchoReply, FeaturesRequest, GetConfigRequest,
                 SwitchConfig, FlowModMsg, PacketOut, PortMod, BarrierRequest, RoleRequest,
                 DescRequest, FlowStatsReq, TableStatsRequest, PortStatsRequest, PortDescRequest,
                 TableFeaturesRequest, MeterFeaturesRequest, BundleControl, BundleAdd,
                 NxSetFlowFormat, NxFlowModTableId, NxSetPacketInFormat, NxSetControllerId>;

struct Decoded {
  uint8_t version = 0;
  uint32_t xid = 0;
  Message msg;
};

// Either a value or the OpenFlow error to answer with.
template <typename T>
class [[nodiscard]] OfResult {
 public:
  OfResult(T v) : v_(std::move(v)) {}         // NOLINT: implicit by design
  OfResult(OfError e) : v_(std::move(e)) {}   // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const OfError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, OfError> v_;
};

// The per-connection state that changes how messages decode.
struct DecodeState {
  uint8_t version = OFP10_VERSION;  // negotiated (HELLO decodes at any version)
  bool flow_mod_table_id = false;   // NXT_FLOW_MOD_TABLE_ID: OF1.0 command's high byte is the table
};

// One whole message (as frame() delimited it). A header version other than
// the negotiated one is OFPBRC_BAD_VERSION (HELLO excepted).
OfResult<Decoded> decode(ByteView msg, const DecodeState& state);

// --- encoders --------------------------------------------------------------
// Everything the switch sends, and (for tests and tools) the requests too.

// The first 64 bytes of `offending` go in the data, as OpenFlow says.
Bytes encode_error(uint8_t version, uint32_t xid, const OfError& e, ByteView offending);
Bytes encode_hello(uint8_t version, uint32_t xid, uint32_t versions /* 0: no bitmap */);
Bytes encode_echo_request(uint8_t version, uint32_t xid, ByteView data);
Bytes encode_echo_reply(uint8_t version, uint32_t xid, ByteView data);
Bytes encode_barrier_reply(uint8_t version, uint32_t xid);
Bytes encode_get_config_reply(uint8_t version, uint32_t xid, const SwitchConfig& c);
Bytes encode_role_reply(uint8_t version, uint32_t xid, const RoleRequest& r);

// A port as FEATURES_REPLY (1.0), PORT_DESC and PORT_STATUS describe it.
enum : uint32_t { OFPPC_PORT_DOWN = 1 };
enum : uint32_t { OFPPS_LINK_DOWN = 1, OFPPS_LIVE = 4 };  // LIVE: 1.3 only
enum : uint32_t {  // 1.3 ofp_port_features (1.0 shares the first 12 bits' meaning)
  OFPPF_10MB_FD = 1 << 1, OFPPF_100MB_FD = 1 << 3, OFPPF_1GB_FD = 1 << 5, OFPPF_10GB_FD = 1 << 6,
  OFPPF_COPPER = 1 << 11, OFPPF_FIBER = 1 << 12,
};
struct PortDesc {
  uint32_t port_no = 0;
  uint64_t hw_addr = 0;  // 48-bit
  std::string name;      // at most 15 characters go on the wire
  uint32_t config = 0, state = 0;
  uint32_t curr = 0, advertised = 0, supported = 0, peer = 0;  // OFPPF_* (1.3 numbering)
  uint32_t curr_speed_kbps = 0, max_speed_kbps = 0;            // 1.3+
};
struct Features {
  uint64_t datapath_id = 0;
  uint32_t n_buffers = 0;
  uint8_t n_tables = 254;
  uint32_t capabilities = 0x47;  // FLOW_STATS | TABLE_STATS | PORT_STATS | ... as OVS
  std::vector<PortDesc> ports;   // OpenFlow 1.0 only
};
Bytes encode_features_reply(uint8_t version, uint32_t xid, const Features& f);
enum : uint8_t { OFPPR_ADD = 0, OFPPR_DELETE = 1, OFPPR_MODIFY = 2 };
Bytes encode_port_status(uint8_t version, uint32_t xid, uint8_t reason, const PortDesc& p);

enum : uint8_t { OFPR_NO_MATCH = 0, OFPR_ACTION = 1, OFPR_INVALID_TTL = 2 };
struct PacketIn {
  uint32_t buffer_id = 0xffffffff;
  uint16_t total_len = 0;  // the frame's length before truncation to max_len
  uint8_t reason = OFPR_ACTION;
  uint8_t table_id = 0;
  uint64_t cookie = 0xffffffffffffffff;
  uint32_t in_port = 0;
  Bytes data;
};
Bytes encode_packet_in(uint8_t version, uint32_t xid, const PacketIn& p);
Bytes encode_flow_removed(uint8_t version, uint32_t xid, const flowtable::FlowRemoved& r);

// Multipart / stats replies. Those that can exceed one message come back
// as several, all but the last flagged OFPMPF_REPLY_MORE.
struct SwitchDesc {
  std::string mfr = "trestle", hw = "trestle", sw = "0.1.0", serial = "None", dp = "None";
};
Bytes encode_desc_reply(uint8_t version, uint32_t xid, const SwitchDesc& d);
std::vector<Bytes> encode_flow_stats_reply(uint8_t version, uint32_t xid, MatchFormat format,
                                           const std::vector<flowtable::FlowStats>& flows);
struct AggregateStats {
  uint64_t packets = 0, bytes = 0;
  uint32_t flows = 0;
};
Bytes encode_aggregate_reply(uint8_t version, uint32_t xid, MatchFormat format,
                             const AggregateStats& a);
struct TableStats {
  uint8_t table_id = 0;
  uint32_t active_count = 0;
  uint64_t lookup_count = 0, matched_count = 0;
};
std::vector<Bytes> encode_table_stats_reply(uint8_t version, uint32_t xid,
                                            const std::vector<TableStats>& tables);
struct PortStats {
  uint32_t port_no = 0;
  uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
  uint64_t rx_dropped = 0, tx_dropped = 0, rx_errors = 0, tx_errors = 0;
  uint32_t duration_sec = 0, duration_nsec = 0;  // 1.3+
};
std::vector<Bytes> encode_port_stats_reply(uint8_t version, uint32_t xid,
                                           const std::vector<PortStats>& ports);
std::vector<Bytes> encode_port_desc_reply(uint8_t version, uint32_t xid,
                                          const std::vector<PortDesc>& ports);
// Tables 0..n_tables-1, each with the properties ovs-ofctl 3.1 requires
// (it refuses a table without all eight non-miss ones).
std::vector<Bytes> encode_table_features_reply(uint8_t version, uint32_t xid,
                                               uint8_t n_tables = 254);
Bytes encode_meter_features_reply(uint8_t version, uint32_t xid);  // no meters
Bytes encode_bundle_control_reply(uint8_t version, uint32_t xid, const BundleControl& request);

// Requests, for tests and tools; encode(decode(x)) reproduces x.
Bytes encode(uint8_t version, uint32_t xid, const Message& m, const DecodeState& state = {});

}  // namespace trestle::shim::ofp
