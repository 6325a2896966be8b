#include "flowtable/fields.h"

#include <array>

namespace trestle::flowtable {
namespace {

constexpr std::array<FieldInfo, kNumFields> kInfo = {{
#define TRESTLE_X(name, bits, prereq, settable) {#name, bits, Prereq::prereq, settable},
    TRESTLE_FIELDS(TRESTLE_X)
#undef TRESTLE_X
}};

u128 load_bytes(const uint8_t* p, size_t n) {
  u128 v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}

void store_bytes(uint8_t* p, size_t n, u128 v, u128 mask) {
  for (size_t i = n; i-- > 0;) {
    const uint8_t m = static_cast<uint8_t>(mask);
    p[i] = static_cast<uint8_t>((p[i] & ~m) | (static_cast<uint8_t>(v) & m));
    v >>= 8;
    mask >>= 8;
  }
}

template <typename T>
void store_int(T* p, u128 v, u128 mask, unsigned shift = 0) {
  const T m = static_cast<T>(mask << shift);
  *p = static_cast<T>((*p & ~m) | (static_cast<T>(v << shift) & m));
}

}  // namespace

const FieldInfo& field_info(Field f) { return kInfo[static_cast<size_t>(f)]; }

std::optional<Field> field_by_name(std::string_view name) {
  for (size_t i = 0; i < kNumFields; ++i)
    if (kInfo[i].name == name) return static_cast<Field>(i);
  return std::nullopt;
}

u128 get_field(const FlowKey& k, Field f) {
  if (f >= Field::reg0 && f <= Field::reg15)
    return k.regs[static_cast<unsigned>(f) - static_cast<unsigned>(Field::reg0)];
  switch (f) {
    case Field::in_port: return k.in_port;
    case Field::metadata: return k.metadata;
    case Field::eth_src: return load_bytes(k.eth_src, 6);
    case Field::eth_dst: return load_bytes(k.eth_dst, 6);
    case Field::eth_type: return k.eth_type;
    case Field::vlan_vid: return k.vlan_tci & 0x1fff;
    case Field::vlan_pcp: return k.vlan_tci >> 13;
    case Field::ip_proto: return k.nw_proto;
    case Field::ip_dscp: return k.nw_tos >> 2;
    case Field::ip_ecn: return k.nw_tos & 3;
    case Field::ipv4_src: case Field::arp_spa: return k.nw_src;
    case Field::ipv4_dst: case Field::arp_tpa: return k.nw_dst;
    case Field::tcp_src: case Field::udp_src: case Field::sctp_src: case Field::icmpv4_type:
    case Field::icmpv6_type: return k.tp_src;
    case Field::tcp_dst: case Field::udp_dst: case Field::sctp_dst: case Field::icmpv4_code:
    case Field::icmpv6_code: return k.tp_dst;
    case Field::arp_op: return k.nw_proto;
    case Field::arp_sha: case Field::ipv6_nd_sll: return load_bytes(k.arp_sha, 6);
    case Field::arp_tha: case Field::ipv6_nd_tll: return load_bytes(k.arp_tha, 6);
    case Field::ipv6_src: return load_bytes(k.ipv6_src, 16);
    case Field::ipv6_dst: return load_bytes(k.ipv6_dst, 16);
    case Field::ipv6_flabel: return k.ipv6_label;
    case Field::ipv6_nd_target: return load_bytes(k.nd_target, 16);
    case Field::conj_id: return k.conj_id;
    default: return 0;
  }
}

void set_field(FlowKey* k, Field f, u128 value, u128 mask) {
  mask &= field_all_ones(f);
  if (f >= Field::reg0 && f <= Field::reg15) {
    store_int(&k->regs[static_cast<unsigned>(f) - static_cast<unsigned>(Field::reg0)], value, mask);
    return;
  }
  switch (f) {
    case Field::in_port: store_int(&k->in_port, value, mask); break;
    case Field::metadata: store_int(&k->metadata, value, mask); break;
    case Field::eth_src: store_bytes(k->eth_src, 6, value, mask); break;
    case Field::eth_dst: store_bytes(k->eth_dst, 6, value, mask); break;
    case Field::eth_type: store_int(&k->eth_type, value, mask); break;
    case Field::vlan_vid: store_int(&k->vlan_tci, value, mask); break;
    case Field::vlan_pcp: store_int(&k->vlan_tci, value, mask, 13); break;
    case Field::ip_proto: case Field::arp_op: store_int(&k->nw_proto, value, mask); break;
    case Field::ip_dscp: store_int(&k->nw_tos, value, mask, 2); break;
    case Field::ip_ecn: store_int(&k->nw_tos, value, mask); break;
    case Field::ipv4_src: case Field::arp_spa: store_int(&k->nw_src, value, mask); break;
    case Field::ipv4_dst: case Field::arp_tpa: store_int(&k->nw_dst, value, mask); break;
    case Field::tcp_src: case Field::udp_src: case Field::sctp_src: case Field::icmpv4_type:
    case Field::icmpv6_type: store_int(&k->tp_src, value, mask); break;
    case Field::tcp_dst: case Field::udp_dst: case Field::sctp_dst: case Field::icmpv4_code:
    case Field::icmpv6_code: store_int(&k->tp_dst, value, mask); break;
    case Field::arp_sha: case Field::ipv6_nd_sll: store_bytes(k->arp_sha, 6, value, mask); break;
    case Field::arp_tha: case Field::ipv6_nd_tll: store_bytes(k->arp_tha, 6, value, mask); break;
    case Field::ipv6_src: store_bytes(k->ipv6_src, 16, value, mask); break;
    case Field::ipv6_dst: store_bytes(k->ipv6_dst, 16, value, mask); break;
    case Field::ipv6_flabel: store_int(&k->ipv6_label, value, mask); break;
    case Field::ipv6_nd_target: store_bytes(k->nd_target, 16, value, mask); break;
    case Field::conj_id: store_int(&k->conj_id, value, mask); break;
    default: break;
  }
}

}  // namespace trestle::flowtable
