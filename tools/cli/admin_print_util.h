// Helpers of the admin printers: a bounds-checked little-endian reader over the data a controller
// returned (bytes past the end read as zero, so a short or hostile answer cannot be over-read),
// printf into a std::string, and nvme-cli's renderings of 128-bit counters and UUIDs.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

namespace nvmeoe::cli {

std::string strprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

class Bytes {
 public:
  explicit Bytes(std::span<const uint8_t> data) : data_(data) {}
  uint8_t u8(size_t off) const { return off < data_.size() ? data_[off] : 0; }
  uint64_t uint(size_t off, size_t size) const {  // little-endian, size <= 8
    uint64_t v = 0;
    for (size_t i = size > 8 ? 8 : size; i-- > 0;) v = v << 8 | u8(off + i);
    return v;
  }
  uint16_t u16(size_t off) const { return uint16_t(uint(off, 2)); }
  uint32_t u32(size_t off) const { return uint32_t(uint(off, 4)); }
  uint64_t u64(size_t off) const { return uint(off, 8); }
  // A fixed-width ASCII field: up to the first NUL when asked, trailing spaces kept as nvme-cli
  // prints them ("%-.*s").
  std::string text(size_t off, size_t width, bool stop_at_nul) const;
  std::string hex(size_t off, size_t n) const;  // "%02x" per byte
  std::string uuid(size_t off) const;           // 8-4-4-4-12 lowercase hex
  // A 128-bit little-endian counter in decimal (nvme-cli uint128_t_to_string, no separators).
  std::string u128_text(size_t off) const;
  bool u128_fits_u64(size_t off) const { return u64(off + 8) == 0; }
  size_t size() const { return data_.size(); }

 private:
  std::span<const uint8_t> data_;
};

// nvme-cli's JSON prints 128-bit counters as numbers; one beyond 64 bits becomes a decimal string.
void add_u128_json(nlohmann::ordered_json& j, const char* key, const Bytes& b, size_t off);

}  // namespace nvmeoe::cli
