// Statistics counters written by one thread and read by any.
#pragma once

#include <atomic>
#include <cstdint>

namespace nvmeoe {

// Adds to a counter that only one thread (or one lock holder) writes; other threads may read it
// at any time. A relaxed load+store avoids a locked instruction on the data path.
inline void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace nvmeoe
