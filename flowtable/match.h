#pragma once
// Match: a rule's match fields as a (value, mask) pair of FlowKeys, value
// always within mask, plus the set of fields the rule named (prerequisites
// are judged on what was named, not on bits that happen to be set).

#include <cstdint>
#include <string>

#include "flowtable/errors.h"
#include "flowtable/fields.h"
#include "flowtable/key.h"

namespace trestle::flowtable {

class Match {
 public:
  Match() : value_(zero_key()), mask_(zero_key()) {}

  // Exact match on `f`, or under `mask` (bits outside the mask are dropped
  // from the value, as OpenFlow requires of a masked field).
  Match& set(Field f, u128 value) { return set(f, value, field_all_ones(f)); }
  Match& set(Field f, u128 value, u128 mask);
  // OpenFlow 1.0's dl_vlan=0xffff: untagged (vlan_vid=OFPVID_NONE), the
  // same match. Only NXM tells the two apart: OVS shows this one back as an
  // exact vlan_tci=0x0000 and 1.3's as vlan_tci=0x0000/0x1fff, so the match
  // remembers which it was (whole_tci; set() of a VLAN field forgets it).
  Match& set_untagged() {
    set(Field::vlan_vid, 0);
    whole_tci_ = true;
    return *this;
  }
  bool whole_tci() const { return whole_tci_; }

  const FlowKey& value() const { return value_; }
  const FlowKey& mask() const { return mask_; }
  uint64_t fields() const { return fields_; }
  bool has(Field f) const { return fields_ & field_bit(f); }
  u128 get(Field f) const { return get_field(value_, f); }
  u128 get_mask(Field f) const { return get_field(mask_, f); }

  // 8< matches
  bool matches(const FlowKey& k) const {
    for (size_t i = 0; i < kKeyWords; ++i)
      if ((k.word(i) & mask_.word(i)) != value_.word(i)) return false;
    return true;
  }
  // >8

  // Prerequisites (OpenFlow 1.3 §7.2.3.8): OFPBMC_BAD_PREREQ when a field is
  // named without the fields it depends on being matched exactly.
  OfStatus validate() const;
  // Whether a packet with field `f` is guaranteed by this match to have
  // that field (the same prerequisite test, for set_field).
  bool satisfies(Prereq p) const;

  // Same value and mask (what "identical match" means to flow_mod).
  bool operator==(const Match& o) const { return value_ == o.value_ && mask_ == o.mask_; }
  // Whether every packet this match accepts is accepted by `wider` too...
  // in the OpenFlow non-strict sense: `wider`'s mask is within ours and the
  // values agree on it.
  bool within(const Match& wider) const;
  // Whether some packet matches both.
  bool overlaps(const Match& o) const;
  size_t hash() const;

  // OVS-style text ("in_port=1,dl_vlan=2000" as "in_port=1,vlan_vid=0x17d0"),
  // for messages and tests.
  std::string to_string() const;

 private:
  FlowKey value_;
  FlowKey mask_;
  uint64_t fields_ = 0;
  bool whole_tci_ = false;  // presentation only: not part of ==, within, hash
};

}  // namespace trestle::flowtable
