// The bounds on what peers can make a target keep, send or log: associations per port and per
// source MAC, handshakes that have not reached Fabrics Connect, room kept for the hosts an
// allow-list names, how long an association or controller may take to be set up, bytes of data
// buffers, and the rates of answers and log lines any sender can provoke. docs/OPERATIONS.md
// ("Resource limits") explains each and its default. They are set by nvmeoe-target flags
// (--max-associations ...) and by the "limits" object of a configuration file (the same names),
// and each has a counter in `nvmeoe target-stats`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace nvmeoe {

struct ResourceLimits {
  uint32_t max_associations = 4096;           // queues per port, all hosts
  uint32_t max_associations_per_mac = 256;    // queues per port from one source MAC
  uint32_t max_unbound = 256;                 // queues per port still without Fabrics Connect
  uint32_t max_unbound_per_mac = 8;           // the same, from one source MAC
  uint32_t reserved_associations = 256;       // of max_associations, only for allow-listed hosts
  uint32_t setup_timeout_ms = 10000;          // to reach Fabrics Connect, and then an I/O queue
  uint64_t buffer_bytes = 256ull << 20;       // command data buffers, whole target
  uint64_t queue_buffer_bytes = 32ull << 20;  // command data buffers, one queue
  uint32_t discover_replies_per_mac = 10;     // Discover Replies per second to one MAC
  uint32_t discover_replies = 500;            // Discover Replies per second in all
  uint32_t terminate_replies = 50;            // Terminate (Unknown Association) per second
  uint32_t log_lines_per_source = 3;          // per kind of line and source, per 10 s
  uint32_t log_lines_per_kind = 20;           // per kind of line, per 10 s
};

// One limit by name: the configuration file's key (snake_case) and the flag (--key-with-dashes).
struct LimitKey {
  const char* key;
  const char* help;
  uint64_t lo, hi;
};
const std::vector<LimitKey>& limit_keys();
const LimitKey* find_limit_key(const std::string& key);
std::string limit_flag(const LimitKey& k);  // "--max-associations"

uint64_t get_limit(const ResourceLimits& l, const std::string& key);
// Sets `key` (range-checked; the message names the key and the range).
Status set_limit(ResourceLimits* l, const std::string& key, uint64_t value);
// Applies every (key, value) of `values` in order.
Status set_limits(ResourceLimits* l, const std::map<std::string, uint64_t>& values);
// The limits must fit together: the reserve below the total, per-MAC bounds within the totals,
// one queue's buffers within the target's and large enough for one command of `max_transfer`.
Status check_limits(const ResourceLimits& l, uint32_t max_transfer);

}  // namespace nvmeoe
