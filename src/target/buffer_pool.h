// Data buffers of the target's commands, from a pool with a byte budget: a command's buffer is
// taken only once the command is on an established queue, charged to its queue (which has a
// budget of its own) and to the target, and given back when the command no longer needs it. Freed
// buffers are kept for reuse in power-of-two size classes (4 KiB and up), within the budget.
// Buffers are not zero-filled: their pages become resident only as data lands in them, and a
// command's data is always written whole before it is read (a write's data is complete before it
// executes; a read returns only what the backend filled). One thread: the target's loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace nvmeoe {

class DataBufferPool;

// One buffer, given back to its pool when reset or destroyed. The pool must outlive it.
class PoolBuffer {
 public:
  PoolBuffer() = default;
  PoolBuffer(PoolBuffer&& o) noexcept { *this = std::move(o); }
  PoolBuffer& operator=(PoolBuffer&& o) noexcept;
  PoolBuffer(const PoolBuffer&) = delete;
  PoolBuffer& operator=(const PoolBuffer&) = delete;
  ~PoolBuffer() { reset(); }

  uint8_t* get() const { return p_; }
  size_t capacity() const { return cap_; }
  explicit operator bool() const { return p_ != nullptr; }
  void reset();

 private:
  friend class DataBufferPool;
  DataBufferPool* pool_ = nullptr;
  uint8_t* p_ = nullptr;
  size_t cap_ = 0;
  uint64_t* charge_ = nullptr;  // the owner's count (a queue's bytes), decreased on reset
};

class DataBufferPool {
 public:
  static constexpr size_t kMinClass = 4096;

  explicit DataBufferPool(uint64_t budget_bytes);
  ~DataBufferPool();
  DataBufferPool(const DataBufferPool&) = delete;
  DataBufferPool& operator=(const DataBufferPool&) = delete;

  // A buffer of at least `bytes`, charged to `*charge` as well, or an empty one when the pool's
  // budget or `charge_limit` (for *charge) has no room. Kept free buffers give way first.
  PoolBuffer acquire(size_t bytes, uint64_t* charge, uint64_t charge_limit);
  // The size a request of `bytes` is served with.
  static size_t class_size(size_t bytes);
  // Frees the kept free buffers.
  void trim();

  uint64_t budget() const { return budget_; }
  uint64_t in_use() const { return in_use_; }  // held by commands and their caches
  uint64_t kept() const { return kept_; }      // free, kept for reuse
  uint64_t peak() const { return peak_; }
  uint64_t refusals() const { return refusals_; }

 private:
  friend class PoolBuffer;
  void give_back(uint8_t* p, size_t cap);
  static size_t class_index(size_t cap);

  uint64_t budget_;
  uint64_t in_use_ = 0, kept_ = 0, peak_ = 0, refusals_ = 0;
  std::vector<std::vector<uint8_t*>> free_;  // by class
};

}  // namespace nvmeoe
