// The resource limits by name (see resource_limits.h).
#include "target/resource_limits.h"

#include <algorithm>

namespace nvmeoe {

namespace {

constexpr uint64_t kMiB = 1ull << 20;

// Where each key lives in ResourceLimits.
struct Field {
  const char* key;
  uint32_t ResourceLimits::*u32 = nullptr;
  uint64_t ResourceLimits::*u64 = nullptr;
};

const Field kFields[] = {
    {"max_associations", &ResourceLimits::max_associations},
    {"max_associations_per_mac", &ResourceLimits::max_associations_per_mac},
    {"max_unbound", &ResourceLimits::max_unbound},
    {"max_unbound_per_mac", &ResourceLimits::max_unbound_per_mac},
    {"reserved_associations", &ResourceLimits::reserved_associations},
    {"setup_timeout_ms", &ResourceLimits::setup_timeout_ms},
    {"buffer_bytes", nullptr, &ResourceLimits::buffer_bytes},
    {"queue_buffer_bytes", nullptr, &ResourceLimits::queue_buffer_bytes},
    {"discover_replies_per_mac", &ResourceLimits::discover_replies_per_mac},
    {"discover_replies", &ResourceLimits::discover_replies},
    {"terminate_replies", &ResourceLimits::terminate_replies},
    {"log_lines_per_source", &ResourceLimits::log_lines_per_source},
    {"log_lines_per_kind", &ResourceLimits::log_lines_per_kind},
};

const Field* find_field(const std::string& key) {
  for (const auto& f : kFields)
    if (key == f.key) return &f;
  return nullptr;
}

}  // namespace

const std::vector<LimitKey>& limit_keys() {
  static const std::vector<LimitKey> keys = {
      {"max_associations", "Associations (queues) per port, all hosts together", 16, 65536},
      {"max_associations_per_mac", "Associations per port from one source MAC", 1, 65536},
      {"max_unbound", "Associations per port that have not done Fabrics Connect (the oldest gives way)", 1, 65536},
      {"max_unbound_per_mac", "The same, from one source MAC", 1, 65536},
      {"reserved_associations", "Associations kept for hosts an allow-list names", 0, 65536},
      {"setup_timeout_ms", "Time for an association to do Fabrics Connect, and a controller to connect an I/O queue",
       100, 3600000},
      {"buffer_bytes", "Bytes of command data buffers, whole target", 4 * kMiB, 1ull << 40},
      {"queue_buffer_bytes", "Bytes of command data buffers, one queue", kMiB, 1ull << 40},
      {"discover_replies_per_mac", "Discover Replies per second to one MAC", 0, 1000000},
      {"discover_replies", "Discover Replies per second in all", 0, 1000000},
      {"terminate_replies", "Terminate replies to unknown associations per second", 0, 1000000},
      {"log_lines_per_source", "Log lines of one kind from one source per 10 s", 1, 1000000},
      {"log_lines_per_kind", "Log lines of one kind per 10 s", 1, 1000000},
  };
  return keys;
}

const LimitKey* find_limit_key(const std::string& key) {
  for (const auto& k : limit_keys())
    if (key == k.key) return &k;
  return nullptr;
}

std::string limit_flag(const LimitKey& k) {
  std::string f = std::string("--") + k.key;
  std::replace(f.begin() + 2, f.end(), '_', '-');
  return f;
}

uint64_t get_limit(const ResourceLimits& l, const std::string& key) {
  const Field* f = find_field(key);
  if (!f) return 0;
  return f->u32 ? l.*(f->u32) : l.*(f->u64);
}

Status set_limit(ResourceLimits* l, const std::string& key, uint64_t value) {
  const LimitKey* k = find_limit_key(key);
  const Field* f = find_field(key);
  if (!k || !f) return Status::error("unknown limit '" + key + "'", EINVAL);
  if (value < k->lo || value > k->hi)
    return Status::error(key + " must be between " + std::to_string(k->lo) + " and " + std::to_string(k->hi) +
                             ", not " + std::to_string(value),
                         EINVAL);
  if (f->u32)
    l->*(f->u32) = uint32_t(value);
  else
    l->*(f->u64) = value;
  return Status::ok();
}

Status set_limits(ResourceLimits* l, const std::map<std::string, uint64_t>& values) {
  for (const auto& [key, value] : values) NVMEOE_RETURN_IF_ERROR(set_limit(l, key, value));
  return Status::ok();
}

Status check_limits(const ResourceLimits& l, uint32_t max_transfer) {
  auto bad = [](const std::string& why) { return Status::error("limits: " + why, EINVAL); };
  if (l.reserved_associations >= l.max_associations)
    return bad("reserved_associations (" + std::to_string(l.reserved_associations) +
               ") must be below max_associations (" + std::to_string(l.max_associations) + ")");
  if (l.max_unbound > l.max_associations) return bad("max_unbound must not exceed max_associations");
  if (l.max_unbound_per_mac > l.max_unbound) return bad("max_unbound_per_mac must not exceed max_unbound");
  if (l.max_associations_per_mac > l.max_associations)
    return bad("max_associations_per_mac must not exceed max_associations");
  if (l.queue_buffer_bytes > l.buffer_bytes) return bad("queue_buffer_bytes must not exceed buffer_bytes");
  if (l.queue_buffer_bytes < max_transfer)
    return bad("queue_buffer_bytes must hold one command of the largest transfer (" + std::to_string(max_transfer) +
               " bytes)");
  return Status::ok();
}

}  // namespace nvmeoe
