// Little-endian encode/decode helpers: the only place byte order is handled. Wire structures are
// never memcpy'd; every field goes through these.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace nvmeoe {

inline void put_u8(uint8_t* p, uint8_t v) {
  p[0] = v;
}
inline void put_le16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
// The 32- and 64-bit helpers are one unaligned load or store on a little-endian machine (the
// byte-at-a-time loops they replace cost ~30 instructions each on the frame decode path).
inline void put_le32(uint8_t* p, uint32_t v) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline void put_le64(uint8_t* p, uint64_t v) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}
inline void put_be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

inline uint8_t get_u8(const uint8_t* p) {
  return p[0];
}
inline uint16_t get_le16(const uint8_t* p) {
  return uint16_t(p[0] | (uint16_t(p[1]) << 8));
}
inline uint32_t get_le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}
inline uint64_t get_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}
inline uint16_t get_be16(const uint8_t* p) {
  return uint16_t((uint16_t(p[0]) << 8) | p[1]);
}

// Copies a string into a fixed-width, space-padded ASCII field (Identify SN/MN/FR).
inline void put_ascii_padded(uint8_t* p, size_t width, const char* s) {
  size_t n = std::strlen(s);
  if (n > width) n = width;
  std::memcpy(p, s, n);
  std::memset(p + n, ' ', width - n);
}
// Copies a string into a fixed-width, NUL-padded field (NQNs).
inline void put_cstr_padded(uint8_t* p, size_t width, const char* s) {
  size_t n = std::strlen(s);
  if (n > width) n = width;
  std::memcpy(p, s, n);
  std::memset(p + n, 0, width - n);
}

}  // namespace nvmeoe
