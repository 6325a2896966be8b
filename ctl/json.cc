#include "ctl/json.h"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace trestle::ctl {
namespace {

constexpr int kMaxDepth = 1000;

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<Json> parse_text() {
    auto v = value(0);
    if (!v) return v;
    skip_ws();
    if (p_ != s_.size()) return error("unexpected data after the JSON value");
    return v;
  }

 private:
  Error error(const std::string& what) const {
    return make_error("JSON syntax error at byte " + std::to_string(p_) + ": " + what);
  }
  void skip_ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r'))
      ++p_;
  }
  bool literal(const char* word) {
    size_t n = strlen(word);
    if (s_.substr(p_, n) != word) return false;
    p_ += n;
    return true;
  }

  Result<Json> value(int depth) {
    if (depth > kMaxDepth) return error("nesting deeper than " + std::to_string(kMaxDepth));
    skip_ws();
    if (p_ >= s_.size()) return error("unexpected end of input");
    char c = s_[p_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') {
      auto str = string();
      if (!str) return str.error();
      return Json(std::move(str.value()));
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    if (literal("true")) return Json(true);
    if (literal("false")) return Json(false);
    if (literal("null")) return Json();
    return error(std::string("unexpected character '") + c + "'");
  }

  Result<Json> object(int depth) {
    ++p_;  // {
    Json::Object o;
    skip_ws();
    if (p_ < s_.size() && s_[p_] == '}') {
      ++p_;
      return Json(std::move(o));
    }
    for (;;) {
      skip_ws();
      if (p_ >= s_.size() || s_[p_] != '"') return error("expected a string as object member name");
      auto key = string();
      if (!key) return key.error();
      skip_ws();
      if (p_ >= s_.size() || s_[p_] != ':') return error("expected ':' after object member name");
      ++p_;
      auto v = value(depth + 1);
      if (!v) return v;
      o[key.value()] = std::move(v.value());
      skip_ws();
      if (p_ < s_.size() && s_[p_] == ',') {
        ++p_;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == '}') {
        ++p_;
        return Json(std::move(o));
      }
      return error("expected ',' or '}' in object");
    }
  }

  Result<Json> array(int depth) {
    ++p_;  // [
    Json::Array a;
    skip_ws();
    if (p_ < s_.size() && s_[p_] == ']') {
      ++p_;
      return Json(std::move(a));
    }
    for (;;) {
      auto v = value(depth + 1);
      if (!v) return v;
      a.push_back(std::move(v.value()));
      skip_ws();
      if (p_ < s_.size() && s_[p_] == ',') {
        ++p_;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == ']') {
        ++p_;
        return Json(std::move(a));
      }
      return error("expected ',' or ']' in array");
    }
  }

  Result<Json> number() {
    size_t start = p_;
    bool real = false;
    if (s_[p_] == '-') ++p_;
    if (p_ >= s_.size() || !isdigit(static_cast<unsigned char>(s_[p_]))) return error("bad number");
    if (s_[p_] == '0' && p_ + 1 < s_.size() && isdigit(static_cast<unsigned char>(s_[p_ + 1])))
      return error("leading zero in number");
    while (p_ < s_.size() && isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
    if (p_ < s_.size() && s_[p_] == '.') {
      real = true;
      ++p_;
      if (p_ >= s_.size() || !isdigit(static_cast<unsigned char>(s_[p_]))) return error("bad fraction");
      while (p_ < s_.size() && isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      real = true;
      ++p_;
      if (p_ < s_.size() && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
      if (p_ >= s_.size() || !isdigit(static_cast<unsigned char>(s_[p_]))) return error("bad exponent");
      while (p_ < s_.size() && isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
    }
    std::string text(s_.substr(start, p_ - start));
    if (!real) {
      errno = 0;
      long long v = strtoll(text.c_str(), nullptr, 10);
      if (errno == 0) return Json(int64_t{v});
    }
    double d = strtod(text.c_str(), nullptr);
    if (!std::isfinite(d)) return error("number out of range");
    return Json(d);
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | cp >> 18);
      out += static_cast<char>(0x80 | (cp >> 12 & 0x3f));
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  Result<uint32_t> hex4() {
    if (p_ + 4 > s_.size()) return error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[p_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return error("bad \\u escape");
    }
    return v;
  }

  Result<std::string> string() {
    ++p_;  // opening quote
    std::string out;
    while (p_ < s_.size()) {
      char c = s_[p_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ >= s_.size()) break;
      char e = s_[p_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto cp = hex4();
          if (!cp) return cp.error();
          uint32_t v = cp.value();
          if (v >= 0xd800 && v < 0xdc00) {
            if (p_ + 2 > s_.size() || s_[p_] != '\\' || s_[p_ + 1] != 'u')
              return error("unpaired UTF-16 surrogate");
            p_ += 2;
            auto lo = hex4();
            if (!lo) return lo.error();
            if (lo.value() < 0xdc00 || lo.value() > 0xdfff) return error("bad UTF-16 surrogate pair");
            v = 0x10000 + ((v - 0xd800) << 10) + (lo.value() - 0xdc00);
          } else if (v >= 0xdc00 && v < 0xe000) {
            return error("unpaired UTF-16 surrogate");
          }
          put_utf8(out, v);
          break;
        }
        default: return error(std::string("bad escape '\\") + e + "'");
      }
    }
    return error("unterminated string");
  }

  std::string_view s_;
  size_t p_ = 0;
};

void dump_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void dump_value(std::string& out, const Json& v) {
  if (v.is_null()) {
    out += "null";
  } else if (v.is_bool()) {
    out += v.as_bool() ? "true" : "false";
  } else if (v.is_integer()) {
    out += std::to_string(v.as_integer());
  } else if (v.is_real()) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%.17g", v.as_number());
    out += buf;
    if (!strpbrk(buf, ".eE")) out += ".0";
  } else if (v.is_string()) {
    dump_string(out, v.as_string());
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const Json& e : v.as_array()) {
      if (!first) out += ',';
      first = false;
      dump_value(out, e);
    }
    out += ']';
  } else {
    out += '{';
    bool first = true;
    for (const auto& [k, e] : v.as_object()) {
      if (!first) out += ',';
      first = false;
      dump_string(out, k);
      out += ':';
      dump_value(out, e);
    }
    out += '}';
  }
}

}  // namespace

const Json& Json::operator[](const std::string& key) const {
  static const Json null;
  if (!is_object()) return null;
  auto it = as_object().find(key);
  return it == as_object().end() ? null : it->second;
}

std::string Json::dump() const {
  std::string out;
  dump_value(out, *this);
  return out;
}

Result<Json> Json::parse(std::string_view text) { return Parser(text).parse_text(); }

Result<std::vector<std::string>> JsonSplitter::feed(std::string_view bytes) {
  buf_.append(bytes);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = scan_; i < buf_.size(); ++i) {
    char c = buf_[i];
    if (in_string_) {
      if (escape_) escape_ = false;
      else if (c == '\\') escape_ = true;
      else if (c == '"') in_string_ = false;
      continue;
    }
    if (!started_) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        start = i + 1;
        continue;
      }
      if (c != '{' && c != '[')
        return make_error(std::string("JSON-RPC stream: expected '{' or '[' to start a message, got '") +
                          c + "'");
      started_ = true;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      // Deeper than the parser takes: refuse now, not after buffering it.
      if (open_.size() >= size_t(kMaxDepth))
        return make_error("JSON-RPC stream: nesting deeper than " + std::to_string(kMaxDepth));
      open_ += c;
    } else if (c == '}' || c == ']') {
      if (open_.back() != (c == '}' ? '{' : '['))
        return make_error(std::string("JSON-RPC stream: '") + c + "' closes '" + open_.back() + "'");
      open_.pop_back();
      if (open_.empty()) {
        out.emplace_back(buf_.substr(start, i + 1 - start));
        start = i + 1;
        started_ = false;
      }
    }
  }
  buf_.erase(0, start);
  scan_ = buf_.size();
  return out;
}

}  // namespace trestle::ctl
