#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace nvmeoe {

static std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
static std::string g_prefix = "nvmeoe";

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}
LogLevel log_level() {
  return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed));
}
void set_log_prefix(const char* prefix) {
  g_prefix = prefix;
}

bool parse_log_level(const char* text, LogLevel* out) {
  static const struct {
    const char* name;
    LogLevel level;
  } kNames[] = {
      {"error", LogLevel::kError}, {"warn", LogLevel::kWarn}, {"info", LogLevel::kInfo}, {"debug", LogLevel::kDebug}};
  for (const auto& n : kNames)
    if (std::strcmp(text, n.name) == 0) {
      *out = n.level;
      return true;
    }
  return false;
}

void log_message(LogLevel level, const char* fmt, ...) {
  static const char* kTags[] = {"error", "warn", "info", "debug"};
  char body[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "%s[%s]: %s\n", g_prefix.c_str(), kTags[static_cast<int>(level)], body);
}

}  // namespace nvmeoe
