// NVMe command status as the host library reports it in Completion::status (the Linux layout:
// status code type << 8 | status code, do-not-retry 0x4000; 0 is success), the values callers
// act on, and the errno a block device or file layer turns them into. docs/PROTOCOL.md §6.2
// lists the values on the wire.
#pragma once

#include <cerrno>
#include <cstdint>

namespace nvmeoe::nvme_status {

constexpr uint16_t kSuccess = 0x0000;
constexpr uint16_t kInvalidField = 0x0002;
constexpr uint16_t kInternalError = 0x0006;
constexpr uint16_t kNsWriteProtected = 0x0020;
constexpr uint16_t kLbaOutOfRange = 0x0080;
constexpr uint16_t kCapacityExceeded = 0x0081;
constexpr uint16_t kHostAborted = 0x0371;  // the transport gave up on the command
constexpr uint16_t kDnr = 0x4000;          // do not retry

// The errno of a completion: 0 for success, EROFS for a read-only namespace, ENOSPC for a range
// past the end, EINVAL for a command the namespace cannot take, EIO for everything else.
inline int to_errno(uint16_t status) {
  switch (status & 0x7ff) {
    case kSuccess:
      return 0;
    case kNsWriteProtected:
      return EROFS;
    case kLbaOutOfRange:
    case kCapacityExceeded:
      return ENOSPC;
    case kInvalidField:
      return EINVAL;
    default:
      return EIO;
  }
}

}  // namespace nvmeoe::nvme_status
