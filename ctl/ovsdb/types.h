#pragma once
// OVSDB's values (RFC 7047 section 5.1): atoms, the column types that
// constrain them, and datums (a column's value: a set of atoms, or a map).
//
// A Datum keeps its keys sorted and unique (maps: values beside the keys),
// in the order OVS sorts them (integers and reals by value, strings
// bytewise, UUIDs as their text), so equality is element-wise, set algebra
// is a merge, and the JSON we print lists elements in OVS's order.
//
// Errors are OVSDB error objects ({"error", "details", "syntax"}): the
// strings are the ones stock clients test for (compat-ovsdb.md section 4).
//
// Thread-safety: plain values.

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ctl/json.h"

namespace trestle::ctl {

struct Uuid {
  uint64_t hi = 0, lo = 0;  // hi = the first 16 hex digits: numeric order = text order

  static std::optional<Uuid> parse(std::string_view text);
  static Uuid random();  // RFC 4122 version 4
  std::string str() const;
  bool is_zero() const { return hi == 0 && lo == 0; }
  auto operator<=>(const Uuid&) const = default;
};
struct UuidHash {
  size_t operator()(const Uuid& u) const { return size_t(u.hi ^ (u.lo * 0x9e3779b97f4a7c15ull)); }
};

struct OvsdbError {
  std::string error;    // "syntax error", "constraint violation", ...
  std::string details;  // for a human
  std::optional<Json> syntax;  // the offending JSON, when there is one
  Json to_json() const;
};
using DbStatus = std::optional<OvsdbError>;
OvsdbError syntax_error(const Json& syntax, std::string details);

enum class AtomicType : uint8_t { kInteger, kReal, kBoolean, kString, kUuid };
const char* atomic_type_name(AtomicType t);

class Atom {
 public:
  Atom() = default;
  explicit Atom(int64_t v) : v_(v) {}
  explicit Atom(double v) : v_(v) {}
  explicit Atom(bool v) : v_(v) {}
  explicit Atom(std::string v) : v_(std::move(v)) {}
  explicit Atom(Uuid v) : v_(v) {}
  static Atom default_of(AtomicType t);

  int64_t integer() const { return std::get<int64_t>(v_); }
  double real() const { return std::get<double>(v_); }
  bool boolean() const { return std::get<bool>(v_); }
  const std::string& string() const { return std::get<std::string>(v_); }
  const Uuid& uuid() const { return std::get<Uuid>(v_); }
  AtomicType type() const { return AtomicType(v_.index()); }

  Json to_json() const;
  bool operator==(const Atom&) const = default;
  // Atoms of one column share a type; across types the order is by type.
  std::weak_ordering operator<=>(const Atom& o) const;

 private:
  std::variant<int64_t, double, bool, std::string, Uuid> v_;
};

// Named UUIDs of one transaction ("uuid-name" on insert, ["named-uuid", n]
// anywhere). A name used before its insert gets its UUID then (a forward
// reference); the insert adopts it.
class NamedUuids {
 public:
  Uuid lookup_or_create(const std::string& name);
  const Uuid* find(const std::string& name) const;
  // The insert that defines `name`; false when an earlier insert did.
  bool define(const std::string& name, Uuid* uuid);
  // Forces the UUID an insert with "uuid" chose for `name`.
  bool define_as(const std::string& name, const Uuid& uuid);

 private:
  struct Symbol {
    std::string name;
    Uuid uuid;
    bool defined;
  };
  std::vector<Symbol> symbols_;
};

struct BaseType {
  AtomicType type = AtomicType::kInteger;
  std::vector<Atom> enumeration;  // sorted; empty = any value
  int64_t min_integer = INT64_MIN, max_integer = INT64_MAX;
  double min_real = -1e308 * 10, max_real = 1e308 * 10;  // -inf, +inf
  uint64_t min_length = 0, max_length = UINT64_MAX;
  std::string ref_table;  // uuid references; "" = none
  bool weak = false;

  static std::optional<BaseType> from_json(const Json& j, std::string* why);
  // The constraint check of an atom that already has the right type.
  DbStatus check(const Atom& a) const;
};

struct ColumnType {
  static constexpr uint32_t kUnlimited = UINT32_MAX;
  BaseType key;
  std::optional<BaseType> value;  // maps
  uint32_t min = 1, max = 1;

  static std::optional<ColumnType> from_json(const Json& j, std::string* why);
  bool is_map() const { return value.has_value(); }
  bool is_scalar() const { return !value && min == 1 && max == 1; }
  // Set or map with more than one element possible: update2 carries a diff.
  bool is_composite() const { return max > 1; }
};

class Datum {
 public:
  Datum() = default;
  explicit Datum(Atom a) { mk().push_back(std::move(a)); }
  // An empty datum (most columns of most rows) is one null pointer: a
  // port's 30-odd columns cost 8 bytes each until they hold something.
  Datum(const Datum& o) : b_(o.empty() ? nullptr : std::make_unique<Body>(*o.b_)) {}
  Datum& operator=(const Datum& o) {
    if (this != &o) b_ = o.empty() ? nullptr : std::make_unique<Body>(*o.b_);
    return *this;
  }
  Datum(Datum&&) noexcept = default;
  Datum& operator=(Datum&&) noexcept = default;

  static Datum default_of(const ColumnType& t);
  // Parses `j` as a value of type `t` (atoms, ["set", ...], ["map", ...],
  // ["uuid", ...], ["named-uuid", ...] through `names` when non-null).
  // Checks types, atom constraints and cardinality.
  static DbStatus from_json(const ColumnType& t, const Json& j, NamedUuids* names, Datum* out);
  Json to_json(const ColumnType& t) const;

  size_t size() const { return b_ ? b_->keys.size() : 0; }
  bool empty() const { return size() == 0; }
  const std::vector<Atom>& keys() const { return b_ ? b_->keys : none(); }
  const std::vector<Atom>& values() const { return b_ ? b_->values : none(); }
  bool is_default(const ColumnType& t) const;

  // Set/map algebra (maps: a key present in both keeps this datum's value).
  void union_with(const Datum& o);
  // Removes keys of `o` (a set: by key; a map with values: only pairs that match).
  void subtract(const Datum& o, bool match_values);
  bool includes(const Datum& o, bool is_map) const;  // every element of o is here
  bool excludes(const Datum& o, bool is_map) const;  // no element of o is here
  // update2's diff: the elements in exactly one of old and new (maps: pairs
  // removed or changed in new carry the new value).
  static Datum diff(const Datum& old_value, const Datum& new_value, bool is_map);
  // Applies an update2/_is_diff difference.
  void apply_diff(const Datum& diff, bool is_map);

  // Cardinality and atom constraints against `t`.
  DbStatus check(const ColumnType& t) const;
  // Index of key `a`, or -1.
  ptrdiff_t find(const Atom& a) const;
  // Builders (keep the order invariant).
  void insert(Atom key, std::optional<Atom> value = std::nullopt);
  std::vector<Atom>& mutable_keys() { return mk(); }
  std::vector<Atom>& mutable_values() { return mv(); }
  void sort_unique(bool is_map);

  bool operator==(const Datum& o) const { return keys() == o.keys() && values() == o.values(); }
  std::weak_ordering operator<=>(const Datum& o) const;
  size_t hash() const;

 private:
  struct Body {
    std::vector<Atom> keys;
    std::vector<Atom> values;  // empty for sets
  };
  static const std::vector<Atom>& none() {
    static const std::vector<Atom> empty;
    return empty;
  }
  Body& body() {
    if (!b_) b_ = std::make_unique<Body>();
    return *b_;
  }
  std::vector<Atom>& mk() { return body().keys; }
  std::vector<Atom>& mv() { return body().values; }
  std::unique_ptr<Body> b_;
};

// An atom as OVS writes it in messages: strings bare when they are plain
// words, quoted otherwise.
std::string atom_text(const Atom& a);

// Parses one atom of base type `b` (no constraint check).
DbStatus atom_from_json(const BaseType& b, const Json& j, NamedUuids* names, Atom* out);

}  // namespace trestle::ctl
