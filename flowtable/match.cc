#include "flowtable/match.h"

#include <cstdio>

namespace trestle::flowtable {
namespace {

bool exact_is(const Match& m, Field f, u128 v) {
  return m.get_mask(f) == field_all_ones(f) && m.get(f) == v;
}

std::string format_value(Field f, u128 v) {
  char buf[64];
  const unsigned bits = field_info(f).bits;
  if (bits == 48) {
    snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(v >> 40) & 0xff,
             unsigned(v >> 32) & 0xff, unsigned(v >> 24) & 0xff, unsigned(v >> 16) & 0xff,
             unsigned(v >> 8) & 0xff, unsigned(v) & 0xff);
  } else if (f == Field::ipv4_src || f == Field::ipv4_dst || f == Field::arp_spa ||
             f == Field::arp_tpa) {
    snprintf(buf, sizeof(buf), "%u.%u.%u.%u", unsigned(v >> 24) & 0xff, unsigned(v >> 16) & 0xff,
             unsigned(v >> 8) & 0xff, unsigned(v) & 0xff);
  } else if (bits == 128) {
    snprintf(buf, sizeof(buf), "0x%016llx%016llx", static_cast<unsigned long long>(v >> 64),
             static_cast<unsigned long long>(v));
  } else if (f == Field::in_port || f == Field::ip_proto || f == Field::arp_op ||
             (f >= Field::tcp_src && f <= Field::icmpv4_code) || f == Field::icmpv6_type ||
             f == Field::icmpv6_code) {
    snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(v));
  } else {
    snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  }
  return buf;
}

}  // namespace

Match& Match::set(Field f, u128 value, u128 mask) {
  mask &= field_all_ones(f);
  // Clear the field first: a second set() of the same field replaces it.
  flowtable::set_field(&value_, f, 0, field_all_ones(f));
  flowtable::set_field(&mask_, f, 0, field_all_ones(f));
  flowtable::set_field(&value_, f, value & mask, mask);
  flowtable::set_field(&mask_, f, mask, mask);
  if (mask)
    fields_ |= field_bit(f);
  else
    fields_ &= ~field_bit(f);
  if (f == Field::vlan_vid || f == Field::vlan_pcp) whole_tci_ = false;
  return *this;
}

bool Match::satisfies(Prereq p) const {
  switch (p) {
    case Prereq::kNone: return true;
    case Prereq::kVlanTagged:
      return (get_mask(Field::vlan_vid) & kVlanPresent) && (get(Field::vlan_vid) & kVlanPresent);
    case Prereq::kIpAny: return exact_is(*this, Field::eth_type, 0x0800) ||
                                exact_is(*this, Field::eth_type, 0x86dd);
    case Prereq::kIpv4: return exact_is(*this, Field::eth_type, 0x0800);
    case Prereq::kTcp: return satisfies(Prereq::kIpAny) && exact_is(*this, Field::ip_proto, 6);
    case Prereq::kUdp: return satisfies(Prereq::kIpAny) && exact_is(*this, Field::ip_proto, 17);
    case Prereq::kSctp: return satisfies(Prereq::kIpAny) && exact_is(*this, Field::ip_proto, 132);
    case Prereq::kIcmpv4: return satisfies(Prereq::kIpv4) && exact_is(*this, Field::ip_proto, 1);
    case Prereq::kArp: return exact_is(*this, Field::eth_type, 0x0806);
    case Prereq::kIpv6: return exact_is(*this, Field::eth_type, 0x86dd);
    case Prereq::kIcmpv6: return satisfies(Prereq::kIpv6) && exact_is(*this, Field::ip_proto, 58);
    case Prereq::kNd:
      return satisfies(Prereq::kIcmpv6) && (exact_is(*this, Field::icmpv6_type, 135) ||
                                            exact_is(*this, Field::icmpv6_type, 136));
    case Prereq::kNdSolicit:
      return satisfies(Prereq::kIcmpv6) && exact_is(*this, Field::icmpv6_type, 135);
    case Prereq::kNdAdvert:
      return satisfies(Prereq::kIcmpv6) && exact_is(*this, Field::icmpv6_type, 136);
  }
  return false;
}

OfStatus Match::validate() const {
  for (size_t i = 0; i < kNumFields; ++i) {
    const Field f = static_cast<Field>(i);
    if (!has(f)) continue;
    const FieldInfo& fi = field_info(f);
    if (!satisfies(fi.prereq))
      return OfError{OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ,
                     std::string("match on ") + std::string(fi.name) +
                         " lacks its prerequisites (" + to_string() + ")"};
  }
  return std::nullopt;
}

bool Match::within(const Match& wider) const {
  for (size_t i = 0; i < kKeyWords; ++i) {
    const uint64_t wm = wider.mask_.word(i);
    if (wm & ~mask_.word(i)) return false;
    if ((value_.word(i) & wm) != wider.value_.word(i)) return false;
  }
  return true;
}

bool Match::overlaps(const Match& o) const {
  for (size_t i = 0; i < kKeyWords; ++i)
    if ((value_.word(i) ^ o.value_.word(i)) & mask_.word(i) & o.mask_.word(i)) return false;
  return true;
}

size_t Match::hash() const {
  uint64_t h = 0x243f6a8885a308d3ull;
  for (size_t i = 0; i < kKeyWords; ++i) {
    h = (h ^ value_.word(i)) * 0x9e3779b97f4a7c15ull;
    h = (h ^ mask_.word(i) ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull;
  }
  return static_cast<size_t>(h ^ (h >> 29));
}

std::string Match::to_string() const {
  std::string s;
  for (size_t i = 0; i < kNumFields; ++i) {
    const Field f = static_cast<Field>(i);
    if (!has(f)) continue;
    if (!s.empty()) s += ',';
    s += field_info(f).name;
    s += '=';
    s += format_value(f, get(f));
    if (get_mask(f) != field_all_ones(f)) {
      s += '/';
      s += format_value(f, get_mask(f));
    }
  }
  return s;
}

}  // namespace trestle::flowtable
