// The clock of the protocol's timers (target keep-alive and set-up expiry, housekeeping, rate and
// log limits; host retransmission, keep-alive and reconnect): std::chrono::steady_clock plus an
// offset that only tests move. A test that must see time pass (a keep-alive timeout, an expiry)
// advances the clock instead of sleeping; everything else reads real time, one relaxed load more.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace nvmeoe {

struct SteadyClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<SteadyClock>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    return time_point(std::chrono::duration_cast<duration>(std::chrono::steady_clock::now().time_since_epoch()) +
                      duration(offset_ns().load(std::memory_order_relaxed)));
  }

  // Tests only: every later now() is `d` further on (time never goes back).
  static void advance(duration d) { offset_ns().fetch_add(d.count(), std::memory_order_relaxed); }

 private:
  static std::atomic<int64_t>& offset_ns() {
    static std::atomic<int64_t> offset{0};
    return offset;
  }
};

}  // namespace nvmeoe
