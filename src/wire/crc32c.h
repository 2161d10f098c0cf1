// CRC32C (Castagnoli), as used by NVMe/TCP header and data digests: SSE4.2 when the CPU has it,
// a table otherwise. crc32c("123456789") == 0xE3069283.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvmeoe {

// Continues a running CRC: pass the previous result as `crc` (0 to start).
uint32_t crc32c_extend(uint32_t crc, const uint8_t* data, size_t len);
inline uint32_t crc32c(const uint8_t* data, size_t len) {
  return crc32c_extend(0, data, len);
}
// The portable implementation, exposed so tests can compare both paths.
uint32_t crc32c_extend_portable(uint32_t crc, const uint8_t* data, size_t len);

}  // namespace nvmeoe
