#include "frontend/ublk_params.h"

#include <cerrno>
#include <climits>
#include <string>

namespace nvmeoe::ublk {

namespace {

constexpr uint32_t kSector = 512;
constexpr uint32_t kPage = 4096;  // ublk requires logical blocks no larger than a page

int log2_exact(uint32_t v) {
  if (v == 0 || (v & (v - 1)) != 0) return -1;
  int s = 0;
  while ((1u << s) != v) ++s;
  return s;
}

}  // namespace

Result<DeviceConfig> make_device_config(const NamespaceInfo& ns, const ControllerInfo& ctrl, uint16_t queues,
                                        uint16_t depth) {
  int shift = log2_exact(ns.block_size);
  if (shift < 9 || ns.block_size > kPage)
    return Status::error("namespace " + std::to_string(ns.nsid) + ": block size " + std::to_string(ns.block_size) +
                         " is not a power of two between 512 and 4096, which ublk needs");
  if (ns.blocks == 0) return Status::error("namespace " + std::to_string(ns.nsid) + " has no blocks");
  if (queues == 0) return Status::error("ublk needs at least one queue");
  if (depth == 0 || depth > UBLK_MAX_QUEUE_DEPTH)
    return Status::error("ublk queue depth " + std::to_string(depth) + " is outside 1.." +
                         std::to_string(UBLK_MAX_QUEUE_DEPTH));

  // The largest I/O: the controller's limit (0 = none given), capped so that the per-tag buffers
  // stay small, in whole pages.
  uint32_t max_io = ctrl.max_transfer ? ctrl.max_transfer : kDefaultMaxIo;
  if (max_io > kDefaultMaxIo) max_io = kDefaultMaxIo;
  max_io = max_io / kPage * kPage;
  if (max_io < kPage)
    return Status::error("controller max transfer " + std::to_string(ctrl.max_transfer) +
                         " bytes is below one page (4096), too small for ublk");

  DeviceConfig c;
  c.max_io_bytes = max_io;
  c.info.nr_hw_queues = queues;
  c.info.queue_depth = depth;
  c.info.max_io_buf_bytes = max_io;
  c.info.dev_id = UINT32_MAX;

  ublk_param_basic& b = c.params.basic;
  b.attrs = UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA | (ns.read_only ? UBLK_ATTR_READ_ONLY : 0);
  b.logical_bs_shift = uint8_t(shift);
  b.physical_bs_shift = uint8_t(shift);
  b.io_min_shift = uint8_t(shift);
  b.io_opt_shift = uint8_t(shift);
  b.max_sectors = max_io / kSector;
  b.dev_sectors = ns.blocks * (ns.block_size / kSector);
  c.params.types = UBLK_PARAM_TYPE_BASIC;

  if (!ns.read_only) {
    // Discard -> Dataset Management (deallocate), one range per request; Write Zeroes counts
    // blocks in 16 bits. A bio carries at most UINT_MAX bytes.
    uint32_t spb = ns.block_size / kSector;
    ublk_param_discard& d = c.params.discard;
    d.discard_granularity = ns.block_size;
    d.max_discard_sectors = (UINT_MAX >> 9) / spb * spb;
    d.max_write_zeroes_sectors = kMaxWriteZeroesBlocks * spb;
    d.max_discard_segments = 1;
    c.params.types |= UBLK_PARAM_TYPE_DISCARD;
  }
  c.params.len = sizeof(c.params);
  return c;
}

int plan_io(const ublksrv_io_desc& iod, uint32_t block_size, uint64_t blocks, uint32_t max_io_bytes, IoPlan* out) {
  uint32_t op = iod.op_flags & 0xff;
  uint32_t flags = iod.op_flags >> 8;
  *out = IoPlan{};
  switch (op) {
    case UBLK_IO_OP_READ:
      out->kind = IoKind::kRead;
      break;
    case UBLK_IO_OP_WRITE:
      out->kind = IoKind::kWrite;
      break;
    case UBLK_IO_OP_FLUSH:
      out->kind = IoKind::kFlush;
      return 0;
    case UBLK_IO_OP_DISCARD:
      out->kind = IoKind::kDiscard;
      break;
    case UBLK_IO_OP_WRITE_ZEROES:
      out->kind = IoKind::kWriteZeroes;
      break;
    default:
      return -EINVAL;
  }
  uint32_t spb = block_size / kSector;
  if (spb == 0 || iod.nr_sectors == 0 || iod.start_sector % spb != 0 || iod.nr_sectors % spb != 0) return -EINVAL;
  out->slba = iod.start_sector / spb;
  out->nlb = iod.nr_sectors / spb;
  if (out->slba >= blocks || out->nlb > blocks - out->slba) return -EINVAL;
  if (out->kind == IoKind::kRead || out->kind == IoKind::kWrite) {
    if (uint64_t(iod.nr_sectors) * kSector > max_io_bytes) return -EINVAL;
    out->bytes = iod.nr_sectors * kSector;
    out->fua = out->kind == IoKind::kWrite && (flags & (UBLK_IO_F_FUA >> 8)) != 0;
  } else if (out->kind == IoKind::kWriteZeroes && out->nlb > kMaxWriteZeroesBlocks) {
    return -EINVAL;
  }
  return 0;
}

}  // namespace nvmeoe::ublk
