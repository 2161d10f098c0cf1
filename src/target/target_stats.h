// Statistics of a target transport: the totals (TargetStats) and one record per association
// (queue), as a snapshot taken on the transport thread. The JSON mapping is the body of the target
// control socket's stats reply (src/target/control_server.h) and of `nvmeoe target-stats -o json`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/histogram.h"

namespace nvmeoe {

struct TargetStats {
  uint64_t frames_in = 0, frames_out = 0, bad_frames = 0, unknown_association = 0;
  uint64_t commands = 0, duplicates = 0, stale = 0, digest_errors = 0;
  // Frames of an authenticated association dropped: a tag that does not match, a replayed or
  // too old sequence number, no tag where one is required, a tag where none can be checked.
  uint64_t auth_errors = 0;
  uint64_t associations = 0;  // queues currently associated
  // The resource limits at work (resource_limits.h; docs/OPERATIONS.md "Resource limits"):
  uint64_t refused_connects = 0;      // Connect Requests refused: no room (per MAC or in all)
  uint64_t refused_busy = 0;          // Fabrics Connects refused: the room left is kept for listed hosts
  uint64_t evicted = 0;               // handshakes and controllers being set up that gave way
  uint64_t expired = 0;               // ... that ran out of setup_timeout_ms
  uint64_t unbound_commands = 0;      // commands before Fabrics Connect, refused without state
  uint64_t buffer_drops = 0;          // commands dropped for want of buffer room (the host resends)
  uint64_t buffer_reclaims = 0;       // buffers taken back from waiting or completed commands
  uint64_t discover_suppressed = 0;   // Discover Queries left unanswered (rate limit)
  uint64_t terminate_suppressed = 0;  // Terminate replies not sent (rate limit)
  uint64_t log_suppressed = 0;        // log lines held back (whole process)
  // Gauges, at the time of the snapshot:
  uint64_t unbound = 0;       // associations without Fabrics Connect
  uint64_t setting_up = 0;    // controllers without an I/O queue yet
  uint64_t controllers = 0;   // controllers of the target core (all ports, discovery included)
  uint64_t buffer_bytes = 0;  // data buffers held (in use and kept for reuse), whole target
  uint64_t buffer_peak = 0;   // the most ever in use
};

// Counters one queue keeps on the transport thread (a few adds per command).
struct TargetQueueCounters {
  uint64_t commands = 0, reads = 0, writes = 0, other = 0;
  uint64_t bytes_in = 0, bytes_out = 0;  // host-to-controller data executed, controller-to-host data returned
  uint64_t retransmit_requests = 0;      // Retransmit Requests sent (holes and "executing")
  uint64_t duplicates = 0, stale = 0, digest_errors = 0, auth_errors = 0;
};

struct TargetQueueStats {
  std::string host_mac, hostnqn, subnqn;  // NQNs empty until Fabrics Connect bound the queue
  uint16_t qid = 0, cntlid = 0xFFFF, size = 0;
  uint32_t nonce = 0;
  uint64_t in_flight = 0;  // commands receiving data or executing
  TargetQueueCounters counters;
  LatencySummary service_time;     // command received to response sent, µs
  LatencyBuckets service_buckets;  // the histogram behind it (histogram.h layout)
};

struct TargetSnapshot {
  std::string name;  // what the process serves on this transport ("eth1 nqn...")
  std::string mac;
  TargetStats totals;
  std::vector<TargetQueueStats> queues;  // by host MAC, qid, nonce (in a control reply: one page)
  uint64_t queue_count = 0;              // associations in the snapshot (all pages)
};

void to_json(nlohmann::json& j, const TargetSnapshot& s);
void from_json(const nlohmann::json& j, TargetSnapshot& s);  // "queues" may be absent
void to_json(nlohmann::json& j, const TargetQueueStats& q);
void from_json(const nlohmann::json& j, TargetQueueStats& q);

}  // namespace nvmeoe
