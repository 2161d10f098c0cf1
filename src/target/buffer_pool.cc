// The target's data buffer pool (see buffer_pool.h).
#include "target/buffer_pool.h"

#include <bit>
#include <cstdlib>
#include <utility>

namespace {
constexpr size_t kAlignment = 4096;  // O_DIRECT, as alloc_aligned()
}  // namespace

namespace nvmeoe {

PoolBuffer& PoolBuffer::operator=(PoolBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    std::swap(pool_, o.pool_);
    std::swap(p_, o.p_);
    std::swap(cap_, o.cap_);
    std::swap(charge_, o.charge_);
  }
  return *this;
}

void PoolBuffer::reset() {
  if (!p_) return;
  if (charge_) *charge_ -= cap_;
  pool_->give_back(p_, cap_);
  pool_ = nullptr;
  p_ = nullptr;
  cap_ = 0;
  charge_ = nullptr;
}

DataBufferPool::DataBufferPool(uint64_t budget_bytes) : budget_(budget_bytes), free_(48) {}

DataBufferPool::~DataBufferPool() {
  trim();
}

size_t DataBufferPool::class_size(size_t bytes) {
  return bytes <= kMinClass ? kMinClass : std::bit_ceil(bytes);
}

size_t DataBufferPool::class_index(size_t cap) {
  return size_t(std::countr_zero(cap / kMinClass));
}

void DataBufferPool::trim() {
  for (auto& list : free_) {
    for (uint8_t* p : list) std::free(p);
    list.clear();
  }
  kept_ = 0;
}

PoolBuffer DataBufferPool::acquire(size_t bytes, uint64_t* charge, uint64_t charge_limit) {
  PoolBuffer out;
  size_t cap = class_size(bytes);
  if (cap < bytes || (charge && *charge + cap > charge_limit)) {
    ++refusals_;
    return out;
  }
  size_t idx = class_index(cap);
  uint8_t* p = nullptr;
  if (idx < free_.size() && !free_[idx].empty()) {
    p = free_[idx].back();
    free_[idx].pop_back();
    kept_ -= cap;
  } else {
    if (in_use_ + kept_ + cap > budget_) trim();  // kept buffers of other sizes give way
    if (in_use_ + cap > budget_) {
      ++refusals_;
      return out;
    }
    void* mem = nullptr;
    if (::posix_memalign(&mem, kAlignment, cap) != 0) {
      ++refusals_;
      return out;
    }
    p = static_cast<uint8_t*>(mem);
  }
  in_use_ += cap;
  if (in_use_ > peak_) peak_ = in_use_;
  if (charge) *charge += cap;
  out.pool_ = this;
  out.p_ = p;
  out.cap_ = cap;
  out.charge_ = charge;
  return out;
}

void DataBufferPool::give_back(uint8_t* p, size_t cap) {
  in_use_ -= cap;
  size_t idx = class_index(cap);
  // Kept for reuse up to a quarter of the budget; beyond that the memory goes back to the system.
  if (idx < free_.size() && kept_ + cap <= budget_ / 4) {
    free_[idx].push_back(p);
    kept_ += cap;
  } else {
    std::free(p);
  }
}

}  // namespace nvmeoe
