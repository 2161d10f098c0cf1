// I/O arithmetic, buffer pool and write gate of the FUSE frontend (fuse_io.h).
#include "frontend/fuse_io.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "nvmeoe/status.h"

namespace nvmeoe {

BlockExtent block_extent(uint64_t offset, uint64_t length, uint64_t capacity, uint32_t block_size) {
  BlockExtent e;
  if (block_size == 0 || offset >= capacity || length == 0) {
    e.offset = std::min(offset, capacity);
    return e;
  }
  e.offset = offset;
  e.length = std::min(length, capacity - offset);
  uint64_t end = e.offset + e.length;
  e.slba = e.offset / block_size;
  uint64_t end_lba = (end + block_size - 1) / block_size;
  e.nlb = end_lba - e.slba;
  e.head = e.offset % block_size;
  e.head_partial = e.head != 0;
  e.tail_partial = end % block_size != 0;
  // A range inside one block is partial at both ends only when it touches neither edge.
  return e;
}

uint32_t blocks_per_command(uint32_t max_transfer, uint32_t block_size) {
  uint64_t limit = 65536;
  if (max_transfer != 0 && block_size != 0) limit = std::min<uint64_t>(limit, max_transfer / block_size);
  return static_cast<uint32_t>(std::max<uint64_t>(limit, 1));
}

int nvme_status_errno(uint16_t status) {
  return nvme_status::to_errno(status);
}

BufferPool::~BufferPool() {
  if (base_) ::munmap(base_, mapped_);
}

Status BufferPool::init(size_t count, size_t buffer_size) {
  if (count == 0 || buffer_size == 0) return Status::error("buffer pool needs at least one non-empty buffer");
  const size_t page = 4096;
  buffer_size = (buffer_size + page - 1) / page * page;
  size_t total = count * buffer_size;
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED)
    return Status::from_errno(errno, "allocating " + std::to_string(total) + " bytes of I/O buffers");
  // Locked where allowed (mlockall in the agent covers it too): writeback through this frontend
  // must never wait for these pages to come back from swap.
  (void)::mlock(p, total);
  base_ = static_cast<uint8_t*>(p);
  mapped_ = total;
  count_ = count;
  buffer_size_ = buffer_size;
  free_.reserve(count);
  for (size_t i = count; i > 0; --i) free_.push_back(static_cast<int>(i - 1));
  return Status::ok();
}

int BufferPool::acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return closed_ || !free_.empty(); });
  if (closed_) return -1;
  int index = free_.back();
  free_.pop_back();
  return index;
}

void BufferPool::release(int index) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(index);  // capacity reserved in init(): no allocation
  }
  cv_.notify_one();
}

void BufferPool::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

size_t BufferPool::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_ - free_.size();
}

bool WriteGate::enter_shared() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return closed_ || !exclusive_; });
  if (closed_) return false;
  ++shared_;
  return true;
}

void WriteGate::leave_shared() {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake = --shared_ == 0 && exclusive_;
  }
  if (wake) cv_.notify_all();
}

bool WriteGate::enter_exclusive() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return closed_ || !exclusive_; });
  if (closed_) return false;
  exclusive_ = true;  // from here on no new shared entry; wait for the ones in flight
  cv_.wait(lock, [this] { return closed_ || shared_ == 0; });
  if (closed_) {
    exclusive_ = false;
    return false;
  }
  return true;
}

void WriteGate::leave_exclusive() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    exclusive_ = false;
  }
  cv_.notify_all();
}

void WriteGate::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace nvmeoe
