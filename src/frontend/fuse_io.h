// The arithmetic and resources of the FUSE frontend's I/O path, apart from libfuse so that they can
// be unit-tested: byte ranges to whole blocks (read-modify-write edges), splitting to the
// controller's transfer limit, NVMe status to errno, the preallocated buffer pool, and the gate
// that keeps read-modify-write from racing other writes to the same file.
#pragma once

#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/status.h"

namespace nvmeoe {

// The byte range [offset, offset + length) of a namespace of `capacity` bytes in `block_size`
// blocks, clipped to the capacity and widened to whole blocks.
struct BlockExtent {
  uint64_t offset = 0, length = 0;  // the clipped byte range (length 0: nothing to do)
  uint64_t slba = 0, nlb = 0;       // whole blocks covering it
  uint64_t head = 0;                // bytes of the first block before `offset`
  bool head_partial = false;        // the first block is only partly covered
  bool tail_partial = false;        // the last block is only partly covered
  bool aligned() const { return !head_partial && !tail_partial; }
  // The two partial blocks are one and the same block.
  bool single_partial_block() const { return nlb == 1 && (head_partial || tail_partial); }
};
BlockExtent block_extent(uint64_t offset, uint64_t length, uint64_t capacity, uint32_t block_size);

// Blocks per Read/Write command: the controller's max transfer (0: no limit) and the 16-bit NLB
// field (65536 blocks) both bound it; at least 1.
uint32_t blocks_per_command(uint32_t max_transfer, uint32_t block_size);
// Commands needed for `nlb` blocks at `per_command` blocks each.
inline uint64_t command_count(uint64_t nlb, uint32_t per_command) {
  return (nlb + per_command - 1) / per_command;
}

// errno for a failed NVMe command (status in the Linux layout): write-protected or read-only ->
// EROFS, out of range -> ENOSPC, invalid field -> EINVAL, anything else -> EIO.
int nvme_status_errno(uint16_t status);

// Fixed-size buffers allocated once (page-aligned, locked in memory where allowed), handed out and
// back without allocation. acquire() waits for a free buffer; close() makes it return -1 at once.
class BufferPool {
 public:
  BufferPool() = default;
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  Status init(size_t count, size_t buffer_size);
  // Index of a free buffer, or -1 once closed.
  int acquire();
  void release(int index);
  void close();
  // Leaves the buffers mapped for the rest of the process: for commands that may still write
  // into them when their owner has to go.
  void abandon() { base_ = nullptr; }
  uint8_t* data(int index) const { return base_ + static_cast<size_t>(index) * buffer_size_; }
  size_t buffer_size() const { return buffer_size_; }
  size_t count() const { return count_; }
  size_t in_use() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> free_;
  bool closed_ = false;
  uint8_t* base_ = nullptr;
  size_t count_ = 0, buffer_size_ = 0, mapped_ = 0;
};

// Aligned writes run in parallel with each other; a read-modify-write runs alone, so that the
// blocks it reads and writes back cannot change in between. enter_*() return false once closed.
class WriteGate {
 public:
  bool enter_shared();
  void leave_shared();
  bool enter_exclusive();
  void leave_exclusive();
  void close();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t shared_ = 0;
  bool exclusive_ = false, closed_ = false;
};

}  // namespace nvmeoe
