// Bounds on how often something may happen, per key and in total, over fixed windows: the target
// answers and logs what any sender on the segment provokes, and a sender can pick any source MAC,
// so both bounds are needed. The per-key table is bounded too (keys beyond it count against the
// total only). Not thread-safe: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>

#include "common/clock.h"

namespace nvmeoe {

class KeyedRateLimiter {
 public:
  using Clock = SteadyClock;
  static constexpr size_t kMaxKeys = 4096;

  // At most `per_key` events per key and `total` events in all per `window`; 0 means no event.
  KeyedRateLimiter(uint32_t per_key, uint32_t total, Clock::duration window)
      : per_key_(per_key), total_(total), window_(window) {}

  // True when an event for `key` may happen at `now` (and counts it); false counts it as refused.
  bool allow(uint64_t key, Clock::time_point now);
  // Refused since the window began, and in all.
  uint64_t refused_in_window() const { return refused_window_; }
  uint64_t refused_total() const { return refused_total_; }
  // True when the window in force at `now` has no event left for any key.
  bool full(Clock::time_point now) const { return started_ && now - start_ < window_ && used_ >= total_; }
  // Counts an event refused without asking (after full()).
  void refuse() {
    ++refused_window_;
    ++refused_total_;
  }
  // Starts a new window if the current one has ended; returns the events refused in the one that
  // ended (0 if it has not).
  uint64_t roll(Clock::time_point now);
  Clock::duration window() const { return window_; }
  void set_limits(uint32_t per_key, uint32_t total) {
    per_key_ = per_key;
    total_ = total;
  }

 private:
  uint32_t per_key_, total_;
  Clock::duration window_;
  Clock::time_point start_{};
  bool started_ = false;
  uint32_t used_ = 0;
  uint64_t refused_window_ = 0, refused_total_ = 0;
  std::unordered_map<uint64_t, uint32_t> per_key_used_;
};

// A MAC address as a key.
inline uint64_t mac_key(const uint8_t* b) {
  uint64_t k = 0;
  for (int i = 0; i < 6; ++i) k = k << 8 | b[i];
  return k;
}

}  // namespace nvmeoe
