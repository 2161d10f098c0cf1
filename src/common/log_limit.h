// Rate-limited log lines for events any sender can provoke (a new association, a refused host, a
// controller created): at most N lines of one kind per window from one source, and M of that
// kind in all; what is held back is counted and summarized once the window ends ("kind: N
// similar lines suppressed in the last 10 s"). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/log.h"
#include "common/rate_limit.h"

namespace nvmeoe {

class LogLimiter {
 public:
  using Clock = SteadyClock;
  static constexpr auto kWindow = std::chrono::seconds(10);

  // Lines per window: per kind and source, and per kind in all. Applies to every kind.
  void configure(uint32_t per_source, uint32_t per_kind);
  // True when a line of `kind` (a short fixed name) from `source` may be written now.
  bool allow(const char* kind, LogLevel level, std::string_view source);
  // False (and counted as held back) when no line of `kind` may be written now, from any source:
  // lets a caller skip building the source. True does not count anything.
  bool open(const char* kind);
  // Writes the summary line of every kind whose window has ended with lines suppressed.
  void flush();
  uint64_t suppressed_total() const;

 private:
  struct Kind {
    KeyedRateLimiter limiter;
    LogLevel level;
  };
  void summarize(const std::string& kind, Kind& k, Clock::time_point now);

  mutable std::mutex mu_;
  uint32_t per_source_ = 3, per_kind_ = 20;
  Kind& kind_of(const char* kind, LogLevel level, Clock::time_point now);
  std::map<std::string, Kind, std::less<>> kinds_;  // a handful of fixed names
  uint64_t suppressed_ = 0;
};

LogLimiter& log_limiter();

}  // namespace nvmeoe

// LOG_LIMITED(level, "kind", source, fmt, ...): a log line at `level`, rate-limited per kind and
// source (a MAC, a host NQN) by log_limiter().
#define LOG_LIMITED(level, kind, source, ...)                                                                       \
  do {                                                                                                              \
    if (static_cast<int>(level) <= static_cast<int>(::nvmeoe::log_level()) && ::nvmeoe::log_limiter().open(kind) && \
        ::nvmeoe::log_limiter().allow(kind, level, source))                                                         \
      ::nvmeoe::log_message(level, __VA_ARGS__);                                                                    \
  } while (0)
