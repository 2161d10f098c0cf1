// Pure parts of the ublk frontend, testable without the kernel driver: the device description
// (ADD_DEV) and parameters (SET_PARAMS) of one namespace, and the translation of a ublk request
// descriptor into the NVMe command that serves it.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "frontend/ublk_uapi.h"
#include "nvmeoe/host.h"

namespace nvmeoe::ublk {

// Largest I/O a device takes when the controller sets no limit; also the cap on the per-tag buffers.
constexpr uint32_t kDefaultMaxIo = 1u << 20;
// NVMe Write Zeroes counts blocks in 16 bits (0-based).
constexpr uint32_t kMaxWriteZeroesBlocks = 65536;

struct DeviceConfig {
  ublksrv_ctrl_dev_info info{};  // for ADD_DEV (dev_id = -1: the driver picks)
  ublk_params params{};          // for SET_PARAMS
  uint32_t max_io_bytes = 0;     // per-tag buffer size
};

// Checks the namespace (block size a power of two in 512..4096, capacity > 0) and the options
// (queues >= 1, 1 <= depth <= UBLK_MAX_QUEUE_DEPTH), and computes what the driver is told.
Result<DeviceConfig> make_device_config(const NamespaceInfo& ns, const ControllerInfo& ctrl, uint16_t queues,
                                        uint16_t depth);

enum class IoKind { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };

struct IoPlan {
  IoKind kind = IoKind::kRead;
  uint64_t slba = 0;
  uint32_t nlb = 0;    // blocks of the namespace
  uint32_t bytes = 0;  // data bytes (read/write), the result reported on success
  bool fua = false;
};

// Translates one request descriptor (sectors of 512 bytes) for a namespace of `block_size` bytes
// and `blocks` blocks. Returns 0, or -EINVAL for an unknown operation, a range not aligned to the
// block size, past the end, or larger than `max_io_bytes` (read/write).
int plan_io(const ublksrv_io_desc& iod, uint32_t block_size, uint64_t blocks, uint32_t max_io_bytes, IoPlan* out);

}  // namespace nvmeoe::ublk
