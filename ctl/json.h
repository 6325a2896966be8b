#pragma once
// JSON values for the control protocols (unixctl now, OVSDB's JSON-RPC
// next): parse with errors a peer can act on, serialise compactly, and split
// a byte stream into whole JSON texts (JSON-RPC over a stream socket has no
// framing: one value follows another).
//
// Numbers keep whether they were written as integers (OVSDB's "integer" vs
// "real" matters); integers are int64.
//
// Thread-safety: values are plain data; a JsonSplitter belongs to one
// connection.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"

namespace trestle::ctl {

class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::map<std::string, Json>;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  Json(int v) : v_(int64_t{v}) {}
  Json(int64_t v) : v_(v) {}
  Json(double v) : v_(v) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Object o) : v_(std::move(o)) {}

  bool is_null() const { return v_.index() == 0; }
  bool is_bool() const { return v_.index() == 1; }
  bool is_integer() const { return v_.index() == 2; }
  bool is_real() const { return v_.index() == 3; }
  bool is_number() const { return is_integer() || is_real(); }
  bool is_string() const { return v_.index() == 4; }
  bool is_array() const { return v_.index() == 5; }
  bool is_object() const { return v_.index() == 6; }

  bool as_bool() const { return std::get<1>(v_); }
  int64_t as_integer() const { return std::get<2>(v_); }
  double as_number() const { return is_integer() ? double(std::get<2>(v_)) : std::get<3>(v_); }
  const std::string& as_string() const { return std::get<4>(v_); }
  const Array& as_array() const { return std::get<5>(v_); }
  Array& as_array() { return std::get<5>(v_); }
  const Object& as_object() const { return std::get<6>(v_); }
  Object& as_object() { return std::get<6>(v_); }

  // Member of an object, or null when absent or not an object.
  const Json& operator[](const std::string& key) const;
  bool has(const std::string& key) const { return is_object() && as_object().count(key); }

  std::string dump() const;
  static Result<Json> parse(std::string_view text);

  bool operator==(const Json&) const = default;

 private:
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, Array, Object> v_;
};

// Finds where each complete JSON text ends in a stream of bytes.
class JsonSplitter {
 public:
  // Appends bytes; returns every complete top-level text now available (as
  // unparsed strings, in order). A byte that cannot start a JSON text
  // outside any value is an error: the connection should be dropped.
  Result<std::vector<std::string>> feed(std::string_view bytes);
  size_t buffered() const { return buf_.size(); }

 private:
  std::string buf_;
  size_t scan_ = 0;    // bytes of buf_ already scanned
  std::string open_;  // the [ and { not closed yet, innermost last
  bool in_string_ = false, escape_ = false, started_ = false;
};

}  // namespace trestle::ctl
