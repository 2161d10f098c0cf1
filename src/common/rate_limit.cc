// Windowed rate limits per key and in total (see rate_limit.h).
#include "common/rate_limit.h"

namespace nvmeoe {

uint64_t KeyedRateLimiter::roll(Clock::time_point now) {
  if (started_ && now - start_ < window_) return 0;
  uint64_t ended = started_ ? refused_window_ : 0;
  started_ = true;
  start_ = now;
  used_ = 0;
  refused_window_ = 0;
  per_key_used_.clear();
  return ended;
}

bool KeyedRateLimiter::allow(uint64_t key, Clock::time_point now) {
  if (!started_ || now - start_ >= window_) roll(now);
  bool ok = used_ < total_;
  if (ok) {
    auto it = per_key_used_.find(key);
    if (it == per_key_used_.end()) {
      if (per_key_used_.size() < kMaxKeys) it = per_key_used_.emplace(key, 0).first;
    }
    uint32_t* n = it == per_key_used_.end() ? nullptr : &it->second;
    // A key the table has no room for counts against the total only.
    ok = n ? *n < per_key_ : per_key_ > 0 && used_ + 1 < total_;
    if (ok && n) ++*n;
  }
  if (ok) {
    ++used_;
  } else {
    ++refused_window_;
    ++refused_total_;
  }
  return ok;
}

}  // namespace nvmeoe
