// Rate-limited log lines (see log_limit.h).
#include "common/log_limit.h"

#include <functional>

namespace nvmeoe {

namespace {

uint64_t source_key(std::string_view source) {
  return std::hash<std::string_view>{}(source);
}

}  // namespace

void LogLimiter::configure(uint32_t per_source, uint32_t per_kind) {
  std::lock_guard<std::mutex> lock(mu_);
  per_source_ = per_source;
  per_kind_ = per_kind;
  for (auto& [name, k] : kinds_) k.limiter.set_limits(per_source, per_kind);
}

void LogLimiter::summarize(const std::string& kind, Kind& k, Clock::time_point now) {
  if (uint64_t n = k.limiter.roll(now)) {
    log_message(k.level, "%s: %llu similar line(s) suppressed in the last %lld s", kind.c_str(),
                static_cast<unsigned long long>(n),
                static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(kWindow).count()));
  }
}

LogLimiter::Kind& LogLimiter::kind_of(const char* kind, LogLevel level, Clock::time_point now) {
  auto it = kinds_.find(std::string_view(kind));
  if (it == kinds_.end())
    it = kinds_.emplace(kind, Kind{KeyedRateLimiter(per_source_, per_kind_, kWindow), level}).first;
  summarize(it->first, it->second, now);
  return it->second;
}

bool LogLimiter::open(const char* kind) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = kinds_.find(std::string_view(kind));
  if (it == kinds_.end() || !it->second.limiter.full(Clock::now())) return true;
  it->second.limiter.refuse();
  ++suppressed_;
  return false;
}

bool LogLimiter::allow(const char* kind, LogLevel level, std::string_view source) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  bool ok = kind_of(kind, level, now).limiter.allow(source_key(source), now);
  if (!ok) ++suppressed_;
  return ok;
}

void LogLimiter::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  for (auto& [name, k] : kinds_)
    if (k.limiter.refused_in_window()) summarize(name, k, now);
}

uint64_t LogLimiter::suppressed_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return suppressed_;
}

LogLimiter& log_limiter() {
  static LogLimiter limiter;
  return limiter;
}

}  // namespace nvmeoe
