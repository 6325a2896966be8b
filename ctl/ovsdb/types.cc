#include "ctl/ovsdb/types.h"

#include <sys/random.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace trestle::ctl {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// xoshiro256** seeded once per thread from the kernel: UUIDs are made on
// every insert and every row change (_version), so a syscall each would
// cost more than the rest of a small transaction.
struct Rng {
  uint64_t s[4];
  Rng() {
    if (getrandom(s, sizeof s, 0) != sizeof s) {
      uint64_t seed = uint64_t(reinterpret_cast<uintptr_t>(this)) ^ uint64_t(time(nullptr));
      for (auto& w : s) w = seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return r;
  }
};

std::string format_real(double d) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

bool plain_word(const std::string& s) {
  if (s.empty() || isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return s != "true" && s != "false";
}

}  // namespace

std::string atom_text(const Atom& a) {
  switch (a.type()) {
    case AtomicType::kInteger: return std::to_string(a.integer());
    case AtomicType::kReal: return format_real(a.real());
    case AtomicType::kBoolean: return a.boolean() ? "true" : "false";
    case AtomicType::kString: return plain_word(a.string()) ? a.string() : Json(a.string()).dump();
    case AtomicType::kUuid: return a.uuid().str();
  }
  return "";
}

std::optional<Uuid> Uuid::parse(std::string_view t) {
  if (t.size() != 36) return std::nullopt;
  Uuid u;
  int n = 0;
  for (size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (t[i] != '-') return std::nullopt;
      continue;
    }
    int v = hex_value(t[i]);
    if (v < 0) return std::nullopt;
    uint64_t& w = n < 16 ? u.hi : u.lo;
    w = (w << 4) | uint64_t(v);
    ++n;
  }
  return u;
}

Uuid Uuid::random() {
  thread_local Rng rng;
  Uuid u{rng.next(), rng.next()};
  u.hi = (u.hi & ~(0xfull << 12)) | (0x4ull << 12);  // version 4
  u.lo = (u.lo & ~(0x3ull << 62)) | (0x2ull << 62);  // RFC 4122 variant
  return u;
}

std::string Uuid::str() const {
  char buf[40];
  snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%04x%08x", unsigned(hi >> 32),
           unsigned((hi >> 16) & 0xffff), unsigned(hi & 0xffff), unsigned(lo >> 48),
           unsigned((lo >> 32) & 0xffff), unsigned(lo & 0xffffffff));
  return buf;
}

Json OvsdbError::to_json() const {
  Json::Object o{{"error", error}};
  if (!details.empty()) o["details"] = details;
  if (syntax) o["syntax"] = syntax->dump();
  return o;
}

OvsdbError syntax_error(const Json& syntax, std::string details) {
  return OvsdbError{"syntax error", std::move(details), syntax};
}

const char* atomic_type_name(AtomicType t) {
  switch (t) {
    case AtomicType::kInteger: return "integer";
    case AtomicType::kReal: return "real";
    case AtomicType::kBoolean: return "boolean";
    case AtomicType::kString: return "string";
    case AtomicType::kUuid: return "uuid";
  }
  return "?";
}

Atom Atom::default_of(AtomicType t) {
  switch (t) {
    case AtomicType::kInteger: return Atom(int64_t{0});
    case AtomicType::kReal: return Atom(0.0);
    case AtomicType::kBoolean: return Atom(false);
    case AtomicType::kString: return Atom(std::string());
    case AtomicType::kUuid: return Atom(Uuid{});
  }
  return Atom();
}

Json Atom::to_json() const {
  switch (type()) {
    case AtomicType::kInteger: return Json(integer());
    case AtomicType::kReal: return Json(real());
    case AtomicType::kBoolean: return Json(boolean());
    case AtomicType::kString: return Json(string());
    case AtomicType::kUuid: return Json(Json::Array{"uuid", uuid().str()});
  }
  return Json();
}

std::weak_ordering Atom::operator<=>(const Atom& o) const {
  if (v_.index() != o.v_.index()) return v_.index() <=> o.v_.index();
  switch (type()) {
    case AtomicType::kInteger: return integer() <=> o.integer();
    case AtomicType::kReal: {
      double a = real(), b = o.real();
      return a < b ? std::weak_ordering::less
                   : (b < a ? std::weak_ordering::greater : std::weak_ordering::equivalent);
    }
    case AtomicType::kBoolean: return boolean() <=> o.boolean();
    case AtomicType::kString: {
      int c = string().compare(o.string());
      return c < 0 ? std::weak_ordering::less
                   : (c > 0 ? std::weak_ordering::greater : std::weak_ordering::equivalent);
    }
    case AtomicType::kUuid: return uuid() <=> o.uuid();
  }
  return std::weak_ordering::equivalent;
}

Uuid NamedUuids::lookup_or_create(const std::string& name) {
  for (auto& s : symbols_)
    if (s.name == name) return s.uuid;
  symbols_.push_back({name, Uuid::random(), false});
  return symbols_.back().uuid;
}

const Uuid* NamedUuids::find(const std::string& name) const {
  for (auto& s : symbols_)
    if (s.name == name) return &s.uuid;
  return nullptr;
}

bool NamedUuids::define(const std::string& name, Uuid* uuid) {
  for (auto& s : symbols_) {
    if (s.name != name) continue;
    if (s.defined) return false;
    s.defined = true;
    *uuid = s.uuid;
    return true;
  }
  symbols_.push_back({name, *uuid = Uuid::random(), true});
  return true;
}

bool NamedUuids::define_as(const std::string& name, const Uuid& uuid) {
  for (auto& s : symbols_) {
    if (s.name != name) continue;
    if (s.defined) return false;
    s.defined = true;
    s.uuid = uuid;  // earlier forward references keep the random UUID: OVS alike
    return true;
  }
  symbols_.push_back({name, uuid, true});
  return true;
}

std::optional<BaseType> BaseType::from_json(const Json& j, std::string* why) {
  BaseType b;
  auto set_type = [&](const std::string& name) {
    static const char* names[] = {"integer", "real", "boolean", "string", "uuid"};
    for (int i = 0; i < 5; ++i)
      if (name == names[i]) {
        b.type = AtomicType(i);
        return true;
      }
    *why = "unknown atomic type " + name;
    return false;
  };
  if (j.is_string()) {
    if (!set_type(j.as_string())) return std::nullopt;
    return b;
  }
  if (!j.is_object() || !j["type"].is_string()) {
    *why = "base type must be a string or an object with a \"type\"";
    return std::nullopt;
  }
  if (!set_type(j["type"].as_string())) return std::nullopt;
  if (j.has("enum")) {
    ColumnType set_type_of_enum;
    set_type_of_enum.key.type = b.type;
    set_type_of_enum.min = 0;
    set_type_of_enum.max = ColumnType::kUnlimited;
    Datum d;
    if (auto e = Datum::from_json(set_type_of_enum, j["enum"], nullptr, &d)) {
      *why = "bad enum: " + e->details;
      return std::nullopt;
    }
    b.enumeration = d.keys();
  }
  if (j["minInteger"].is_integer()) b.min_integer = j["minInteger"].as_integer();
  if (j["maxInteger"].is_integer()) b.max_integer = j["maxInteger"].as_integer();
  if (j["minReal"].is_number()) b.min_real = j["minReal"].as_number();
  if (j["maxReal"].is_number()) b.max_real = j["maxReal"].as_number();
  if (j["minLength"].is_integer()) b.min_length = uint64_t(j["minLength"].as_integer());
  if (j["maxLength"].is_integer()) b.max_length = uint64_t(j["maxLength"].as_integer());
  if (j["refTable"].is_string()) b.ref_table = j["refTable"].as_string();
  if (j["refType"].is_string()) b.weak = j["refType"].as_string() == "weak";
  return b;
}

DbStatus BaseType::check(const Atom& a) const {
  if (!enumeration.empty()) {
    if (std::binary_search(enumeration.begin(), enumeration.end(), a)) return std::nullopt;
    std::string allowed;
    for (auto& e : enumeration) allowed += (allowed.empty() ? "" : ", ") + atom_text(e);
    return OvsdbError{"constraint violation",
                      atom_text(a) + " is not one of the allowed values ([" + allowed + "])",
                      std::nullopt};
  }
  if (type == AtomicType::kInteger) {
    int64_t v = a.integer();
    if (v >= min_integer && v <= max_integer) return std::nullopt;
    char buf[160];
    if (min_integer != INT64_MIN && max_integer != INT64_MAX)
      snprintf(buf, sizeof buf, "%" PRId64 " is not in the valid range %" PRId64 " to %" PRId64
               " (inclusive)", v, min_integer, max_integer);
    else if (min_integer != INT64_MIN)
      snprintf(buf, sizeof buf, "%" PRId64 " is less than minimum allowed value %" PRId64, v,
               min_integer);
    else
      snprintf(buf, sizeof buf, "%" PRId64 " is greater than maximum allowed value %" PRId64, v,
               max_integer);
    return OvsdbError{"constraint violation", buf, std::nullopt};
  }
  if (type == AtomicType::kReal) {
    double v = a.real();
    if (v >= min_real && v <= max_real) return std::nullopt;
    return OvsdbError{"constraint violation",
                      format_real(v) + " is not in the valid range " + format_real(min_real) +
                          " to " + format_real(max_real) + " (inclusive)",
                      std::nullopt};
  }
  if (type == AtomicType::kString && (min_length > 0 || max_length != UINT64_MAX)) {
    // Lengths count UTF-8 characters, not bytes.
    uint64_t n = 0;
    for (unsigned char c : a.string()) n += (c & 0xc0) != 0x80;
    if (n < min_length)
      return OvsdbError{"constraint violation",
                        "\"" + a.string() + "\" length " + std::to_string(n) +
                            " is less than minimum allowed length " + std::to_string(min_length),
                        std::nullopt};
    if (n > max_length)
      return OvsdbError{"constraint violation",
                        "\"" + a.string() + "\" length " + std::to_string(n) +
                            " is greater than maximum allowed length " +
                            std::to_string(max_length),
                        std::nullopt};
  }
  return std::nullopt;
}

std::optional<ColumnType> ColumnType::from_json(const Json& j, std::string* why) {
  ColumnType t;
  if (j.is_string()) {
    auto b = BaseType::from_json(j, why);
    if (!b) return std::nullopt;
    t.key = *b;
    return t;
  }
  if (!j.is_object() || !j.has("key")) {
    *why = "column type must be a string or an object with a \"key\"";
    return std::nullopt;
  }
  auto k = BaseType::from_json(j["key"], why);
  if (!k) return std::nullopt;
  t.key = *k;
  if (j.has("value")) {
    auto v = BaseType::from_json(j["value"], why);
    if (!v) return std::nullopt;
    t.value = *v;
  }
  if (j["min"].is_integer()) t.min = uint32_t(j["min"].as_integer());
  const Json& max = j["max"];
  if (max.is_integer()) t.max = uint32_t(max.as_integer());
  else if (max.is_string() && max.as_string() == "unlimited") t.max = kUnlimited;
  if (t.min > 1 || t.max < 1 || t.min > t.max) {
    *why = "bad min/max";
    return std::nullopt;
  }
  return t;
}

DbStatus atom_from_json(const BaseType& b, const Json& j, NamedUuids* names, Atom* out) {
  switch (b.type) {
    case AtomicType::kInteger:
      if (!j.is_integer()) return syntax_error(j, "expected integer");
      *out = Atom(j.as_integer());
      return std::nullopt;
    case AtomicType::kReal:
      if (!j.is_number()) return syntax_error(j, "expected real");
      *out = Atom(j.as_number());
      return std::nullopt;
    case AtomicType::kBoolean:
      if (!j.is_bool()) return syntax_error(j, "expected boolean");
      *out = Atom(j.as_bool());
      return std::nullopt;
    case AtomicType::kString:
      if (!j.is_string()) return syntax_error(j, "expected string");
      *out = Atom(j.as_string());
      return std::nullopt;
    case AtomicType::kUuid: {
      if (!j.is_array() || j.as_array().size() != 2 || !j.as_array()[0].is_string() ||
          !j.as_array()[1].is_string())
        return syntax_error(j, "expected [\"uuid\", <string>] or [\"named-uuid\", <string>]");
      const std::string& kind = j.as_array()[0].as_string();
      const std::string& text = j.as_array()[1].as_string();
      if (kind == "uuid") {
        auto u = Uuid::parse(text);
        if (!u) return syntax_error(j, "\"" + text + "\" is not a valid UUID");
        *out = Atom(*u);
        return std::nullopt;
      }
      if (kind == "named-uuid") {
        if (!names) return syntax_error(j, "named-uuid is not allowed here");
        *out = Atom(names->lookup_or_create(text));
        return std::nullopt;
      }
      return syntax_error(j, "expected [\"uuid\", <string>] or [\"named-uuid\", <string>]");
    }
  }
  return syntax_error(j, "bad type");
}

Datum Datum::default_of(const ColumnType& t) {
  Datum d;
  if (t.min == 1) {
    d.mk().push_back(Atom::default_of(t.key.type));
    if (t.value) d.mv().push_back(Atom::default_of(t.value->type));
  }
  return d;
}

bool Datum::is_default(const ColumnType& t) const {
  if (t.min == 0) return keys().empty();
  return keys().size() == 1 && keys()[0] == Atom::default_of(t.key.type) &&
         (!t.value || values()[0] == Atom::default_of(t.value->type));
}

DbStatus Datum::from_json(const ColumnType& t, const Json& j, NamedUuids* names, Datum* out) {
  Datum d;
  if (t.is_map()) {
    const auto* a = j.is_array() ? &j.as_array() : nullptr;
    if (!a || a->size() != 2 || !(*a)[0].is_string() || (*a)[0].as_string() != "map" ||
        !(*a)[1].is_array())
      return syntax_error(j, "expected [\"map\", <pairs>]");
    for (const Json& pair : (*a)[1].as_array()) {
      if (!pair.is_array() || pair.as_array().size() != 2)
        return syntax_error(pair, "expected [<key>, <value>]");
      Atom k, v;
      if (auto e = atom_from_json(t.key, pair.as_array()[0], names, &k)) return e;
      if (auto e = atom_from_json(*t.value, pair.as_array()[1], names, &v)) return e;
      d.mk().push_back(std::move(k));
      d.mv().push_back(std::move(v));
    }
  } else if (j.is_array() && j.as_array().size() == 2 && j.as_array()[0].is_string() &&
             j.as_array()[0].as_string() == "set") {
    if (!j.as_array()[1].is_array()) return syntax_error(j, "expected [\"set\", <array>]");
    for (const Json& e : j.as_array()[1].as_array()) {
      Atom k;
      if (auto err = atom_from_json(t.key, e, names, &k)) return err;
      d.mk().push_back(std::move(k));
    }
  } else {
    Atom k;
    if (auto err = atom_from_json(t.key, j, names, &k)) return err;
    d.mk().push_back(std::move(k));
  }
  size_t n = d.mk().size();
  d.sort_unique(t.is_map());
  if (d.mk().size() != n)
    return OvsdbError{"ovsdb error", t.is_map() ? "map contains duplicate key" : "set contains duplicate",
                      std::nullopt};
  if (d.size() < t.min || d.size() > t.max) {
    std::string max = t.max == ColumnType::kUnlimited ? "unlimited" : std::to_string(t.max);
    return syntax_error(j, "\"" + std::string(t.is_map() ? "map" : "set") + "\" must have " +
                               std::to_string(t.min) + " to " + max + " members but " +
                               std::to_string(d.size()) + " are present");
  }
  if (auto e = d.check(t)) {
    e->syntax = j;
    return e;
  }
  *out = std::move(d);
  return std::nullopt;
}

DbStatus Datum::check(const ColumnType& t) const {
  if (size() < t.min || size() > t.max)
    return OvsdbError{"constraint violation",
                      "Attempted to store " + std::to_string(size()) +
                          " elements in set of " + atomic_type_name(t.key.type) +
                          " with min " + std::to_string(t.min) + " and max " +
                          (t.max == ColumnType::kUnlimited ? std::string("unlimited")
                                                           : std::to_string(t.max)) + ".",
                      std::nullopt};
  for (auto& k : keys())
    if (auto e = t.key.check(k)) return e;
  if (t.value)
    for (auto& v : values())
      if (auto e = t.value->check(v)) return e;
  return std::nullopt;
}

Json Datum::to_json(const ColumnType& t) const {
  if (t.is_map()) {
    Json::Array pairs;
    pairs.reserve(keys().size());
    for (size_t i = 0; i < keys().size(); ++i)
      pairs.push_back(Json::Array{keys()[i].to_json(), values()[i].to_json()});
    return Json::Array{"map", std::move(pairs)};
  }
  if (keys().size() == 1) return keys()[0].to_json();
  Json::Array elems;
  elems.reserve(keys().size());
  for (auto& k : keys()) elems.push_back(k.to_json());
  return Json::Array{"set", std::move(elems)};
}

void Datum::sort_unique(bool is_map) {
  if (mk().size() < 2) return;
  if (!is_map) {
    std::sort(mk().begin(), mk().end());
    mk().erase(std::unique(mk().begin(), mk().end()), mk().end());
    return;
  }
  std::vector<size_t> order(mk().size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return mk()[a] < mk()[b]; });
  std::vector<Atom> k, v;
  for (size_t i : order) {
    if (!k.empty() && k.back() == mk()[i]) continue;  // first one wins; caller detects
    k.push_back(std::move(mk()[i]));
    v.push_back(std::move(mv()[i]));
  }
  mk() = std::move(k);
  mv() = std::move(v);
}

ptrdiff_t Datum::find(const Atom& a) const {
  auto it = std::lower_bound(keys().begin(), keys().end(), a);
  return it != keys().end() && *it == a ? it - keys().begin() : -1;
}

void Datum::insert(Atom key, std::optional<Atom> value) {
  auto it = std::lower_bound(mk().begin(), mk().end(), key);
  size_t at = size_t(it - mk().begin());
  if (it != mk().end() && *it == key) {
    if (value) mv()[at] = std::move(*value);
    return;
  }
  mk().insert(it, std::move(key));
  if (value) mv().insert(mv().begin() + ptrdiff_t(at), std::move(*value));
}

void Datum::union_with(const Datum& o) {
  bool is_map = !o.values().empty() || !mv().empty();
  for (size_t i = 0; i < o.keys().size(); ++i) {
    if (find(o.keys()[i]) >= 0) continue;
    insert(o.keys()[i], is_map ? std::optional<Atom>(o.values()[i]) : std::nullopt);
  }
}

void Datum::subtract(const Datum& o, bool match_values) {
  for (size_t i = 0; i < o.keys().size(); ++i) {
    ptrdiff_t at = find(o.keys()[i]);
    if (at < 0) continue;
    if (match_values && mv()[size_t(at)] != o.values()[i]) continue;
    mk().erase(mk().begin() + at);
    if (!mv().empty()) mv().erase(mv().begin() + at);
  }
}

bool Datum::includes(const Datum& o, bool is_map) const {
  for (size_t i = 0; i < o.keys().size(); ++i) {
    ptrdiff_t at = find(o.keys()[i]);
    if (at < 0 || (is_map && values()[size_t(at)] != o.values()[i])) return false;
  }
  return true;
}

bool Datum::excludes(const Datum& o, bool is_map) const {
  for (size_t i = 0; i < o.keys().size(); ++i) {
    ptrdiff_t at = find(o.keys()[i]);
    if (at >= 0 && (!is_map || values()[size_t(at)] == o.values()[i])) return false;
  }
  return true;
}

Datum Datum::diff(const Datum& a, const Datum& b, bool is_map) {
  Datum d;
  size_t i = 0, j = 0;
  while (i < a.keys().size() || j < b.keys().size()) {
    if (j == b.keys().size() || (i < a.keys().size() && a.keys()[i] < b.keys()[j])) {
      d.mk().push_back(a.keys()[i]);  // removed
      if (is_map) d.mv().push_back(a.values()[i]);
      ++i;
    } else if (i == a.keys().size() || b.keys()[j] < a.keys()[i]) {
      d.mk().push_back(b.keys()[j]);  // added
      if (is_map) d.mv().push_back(b.values()[j]);
      ++j;
    } else {
      if (is_map && a.values()[i] != b.values()[j]) {
        d.mk().push_back(b.keys()[j]);  // changed: the new value
        d.mv().push_back(b.values()[j]);
      }
      ++i, ++j;
    }
  }
  return d;
}

void Datum::apply_diff(const Datum& d, bool is_map) {
  for (size_t i = 0; i < d.keys().size(); ++i) {
    ptrdiff_t at = find(d.keys()[i]);
    if (at < 0) {
      insert(d.keys()[i], is_map ? std::optional<Atom>(d.values()[i]) : std::nullopt);
    } else if (is_map && mv()[size_t(at)] != d.values()[i]) {
      mv()[size_t(at)] = d.values()[i];
    } else {
      mk().erase(mk().begin() + at);
      if (is_map) mv().erase(mv().begin() + at);
    }
  }
}

std::weak_ordering Datum::operator<=>(const Datum& o) const {
  size_t n = std::min(keys().size(), o.keys().size());
  for (size_t i = 0; i < n; ++i) {
    if (auto c = keys()[i] <=> o.keys()[i]; c != 0) return c;
    if (i < values().size() && i < o.values().size())
      if (auto c = values()[i] <=> o.values()[i]; c != 0) return c;
  }
  return keys().size() <=> o.keys().size();
}

size_t Datum::hash() const {
  size_t h = keys().size();
  auto mix = [&](const Atom& a) {
    size_t x = 0;
    switch (a.type()) {
      case AtomicType::kInteger: x = std::hash<int64_t>()(a.integer()); break;
      case AtomicType::kReal: x = std::hash<double>()(a.real()); break;
      case AtomicType::kBoolean: x = a.boolean(); break;
      case AtomicType::kString: x = std::hash<std::string>()(a.string()); break;
      case AtomicType::kUuid: x = UuidHash()(a.uuid()); break;
    }
    h = (h ^ x) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
  };
  for (auto& k : keys()) mix(k);
  for (auto& v : values()) mix(v);
  return h;
}

}  // namespace trestle::ctl
