#pragma once
// Big-endian readers and writers for OpenFlow structures.
//
// Reader never reads past its span: a read beyond the end returns zeros and
// clears ok(), so a decoder reads a whole fixed structure and checks once.
// Writer appends to a byte vector and patches lengths afterwards.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace trestle::shim::ofp {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

class Reader {
 public:
  explicit Reader(ByteView b) : b_(b) {}

  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  size_t left() const { return ok_ ? b_.size() - pos_ : 0; }
  bool at_end() const { return left() == 0; }

  uint8_t u8() { return static_cast<uint8_t>(take(1)); }
  uint16_t u16() { return static_cast<uint16_t>(take(2)); }
  uint32_t u32() { return static_cast<uint32_t>(take(4)); }
  uint64_t u64() { return take(8); }
  // n bytes as a big-endian number of up to 16 bytes.
  unsigned __int128 uint(size_t n) {
    unsigned __int128 v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | u8();
    return v;
  }
  void skip(size_t n) {
    if (!need(n)) return;
    pos_ += n;
  }
  // The next n bytes (empty, and !ok(), when fewer are left).
  ByteView view(size_t n) {
    if (!need(n)) return {};
    ByteView v = b_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  ByteView rest() { return view(left()); }
  // Peeks without consuming (0 when short; ok() unchanged).
  uint16_t peek16(size_t at = 0) const {
    if (!ok_ || b_.size() - pos_ < at + 2) return 0;
    return static_cast<uint16_t>(b_[pos_ + at] << 8 | b_[pos_ + at + 1]);
  }

 private:
  bool need(size_t n) {
    if (!ok_ || b_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  uint64_t take(size_t n) {
    if (!need(n)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | b_[pos_ + i];
    pos_ += n;
    return v;
  }

  ByteView b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  explicit Writer(Bytes* out) : out_(out) {}

  size_t size() const { return out_->size(); }
  void u8(uint8_t v) { out_->push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void uint(unsigned __int128 v, size_t n) {
    for (size_t i = n; i-- > 0;) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void zeros(size_t n) { out_->insert(out_->end(), n, 0); }
  void bytes(ByteView b) { out_->insert(out_->end(), b.begin(), b.end()); }
  // A fixed-size, NUL-padded string field (names in descriptions).
  void str(const char* s, size_t n) {
    const size_t len = strnlen(s, n - 1);
    out_->insert(out_->end(), s, s + len);
    zeros(n - len);
  }
  // Zeros up to the next multiple of `align` counted from `from`.
  void pad_from(size_t from, size_t align = 8) {
    const size_t len = out_->size() - from;
    zeros((align - len % align) % align);
  }
  void patch16(size_t at, uint16_t v) {
    (*out_)[at] = static_cast<uint8_t>(v >> 8);
    (*out_)[at + 1] = static_cast<uint8_t>(v);
  }

 private:
  void put(uint64_t v, size_t n) {
    for (size_t i = n; i-- > 0;) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  Bytes* out_;
};

}  // namespace trestle::shim::ofp
