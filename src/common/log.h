// Leveled logging to stderr, one line per event. Nothing is logged per I/O at the default level.
#pragma once

#include <cstdarg>

namespace nvmeoe {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
// Parses "error", "warn", "info", "debug"; returns false on anything else.
bool parse_log_level(const char* text, LogLevel* out);
void set_log_prefix(const char* prefix);
void log_message(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace nvmeoe

#define NVMEOE_LOG(level, ...)                                                                                         \
  do {                                                                                                                 \
    if (static_cast<int>(level) <= static_cast<int>(::nvmeoe::log_level())) ::nvmeoe::log_message(level, __VA_ARGS__); \
  } while (0)
#define LOG_ERROR(...) NVMEOE_LOG(::nvmeoe::LogLevel::kError, __VA_ARGS__)
#define LOG_WARN(...) NVMEOE_LOG(::nvmeoe::LogLevel::kWarn, __VA_ARGS__)
#define LOG_INFO(...) NVMEOE_LOG(::nvmeoe::LogLevel::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) NVMEOE_LOG(::nvmeoe::LogLevel::kDebug, __VA_ARGS__)
