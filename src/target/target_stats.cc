// JSON mapping of target transport statistics (field names are documented in README.md).
#include "target/target_stats.h"

#include <algorithm>

namespace nvmeoe {

namespace {

using nlohmann::json;

template <typename T>
T get_or(const json& j, const char* key, T dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  return it->get<T>();
}

}  // namespace

void to_json(json& j, const TargetQueueStats& q) {
  const TargetQueueCounters& c = q.counters;
  j = json{{"host_mac", q.host_mac},
           {"hostnqn", q.hostnqn},
           {"subnqn", q.subnqn},
           {"cntlid", q.cntlid},
           {"qid", q.qid},
           {"nonce", q.nonce},
           {"size", q.size},
           {"commands", c.commands},
           {"reads", c.reads},
           {"writes", c.writes},
           {"other", c.other},
           {"bytes_in", c.bytes_in},
           {"bytes_out", c.bytes_out},
           {"in_flight", q.in_flight},
           {"retransmit_requests", c.retransmit_requests},
           {"duplicates", c.duplicates},
           {"stale", c.stale},
           {"digest_errors", c.digest_errors},
           {"auth_errors", c.auth_errors},
           {"service_count", q.service_time.count},
           {"service_mean_us", q.service_time.mean_us},
           {"service_max_us", q.service_time.max_us},
           {"service_p50_us", q.service_time.p50_us},
           {"service_p99_us", q.service_time.p99_us},
           {"service_p999_us", q.service_time.p999_us},
           {"service_buckets", q.service_buckets}};
}

void to_json(json& j, const TargetSnapshot& s) {
  const TargetStats& t = s.totals;
  j = json{{"name", s.name},
           {"mac", s.mac},
           {"totals",
            {{"frames_in", t.frames_in},
             {"frames_out", t.frames_out},
             {"bad_frames", t.bad_frames},
             {"unknown_association", t.unknown_association},
             {"commands", t.commands},
             {"duplicates", t.duplicates},
             {"stale", t.stale},
             {"digest_errors", t.digest_errors},
             {"auth_errors", t.auth_errors},
             {"associations", t.associations},
             {"refused_connects", t.refused_connects},
             {"refused_busy", t.refused_busy},
             {"evicted", t.evicted},
             {"expired", t.expired},
             {"unbound_commands", t.unbound_commands},
             {"buffer_drops", t.buffer_drops},
             {"buffer_reclaims", t.buffer_reclaims},
             {"discover_suppressed", t.discover_suppressed},
             {"terminate_suppressed", t.terminate_suppressed},
             {"log_suppressed", t.log_suppressed},
             {"unbound", t.unbound},
             {"setting_up", t.setting_up},
             {"controllers", t.controllers},
             {"buffer_bytes", t.buffer_bytes},
             {"buffer_peak", t.buffer_peak},
             // Frames per command both ways, since the start (packing makes them fractions).
             {"frames_in_per_command", t.commands ? double(t.frames_in) / double(t.commands) : 0.0},
             {"frames_out_per_command", t.commands ? double(t.frames_out) / double(t.commands) : 0.0}}}};
  json queues = json::array();
  for (const auto& q : s.queues) queues.push_back(q);
  j["queues"] = std::move(queues);
  j["queue_count"] = std::max<uint64_t>(s.queue_count, s.queues.size());
}

void from_json(const json& j, TargetSnapshot& s) {
  s.name = get_or<std::string>(j, "name", "");
  s.mac = get_or<std::string>(j, "mac", "");
  const json& t = j.at("totals");
  s.totals.frames_in = get_or<uint64_t>(t, "frames_in", 0);
  s.totals.frames_out = get_or<uint64_t>(t, "frames_out", 0);
  s.totals.bad_frames = get_or<uint64_t>(t, "bad_frames", 0);
  s.totals.unknown_association = get_or<uint64_t>(t, "unknown_association", 0);
  s.totals.commands = get_or<uint64_t>(t, "commands", 0);
  s.totals.duplicates = get_or<uint64_t>(t, "duplicates", 0);
  s.totals.stale = get_or<uint64_t>(t, "stale", 0);
  s.totals.digest_errors = get_or<uint64_t>(t, "digest_errors", 0);
  s.totals.auth_errors = get_or<uint64_t>(t, "auth_errors", 0);
  s.totals.associations = get_or<uint64_t>(t, "associations", 0);
  s.totals.refused_connects = get_or<uint64_t>(t, "refused_connects", 0);
  s.totals.refused_busy = get_or<uint64_t>(t, "refused_busy", 0);
  s.totals.evicted = get_or<uint64_t>(t, "evicted", 0);
  s.totals.expired = get_or<uint64_t>(t, "expired", 0);
  s.totals.unbound_commands = get_or<uint64_t>(t, "unbound_commands", 0);
  s.totals.buffer_drops = get_or<uint64_t>(t, "buffer_drops", 0);
  s.totals.buffer_reclaims = get_or<uint64_t>(t, "buffer_reclaims", 0);
  s.totals.discover_suppressed = get_or<uint64_t>(t, "discover_suppressed", 0);
  s.totals.terminate_suppressed = get_or<uint64_t>(t, "terminate_suppressed", 0);
  s.totals.log_suppressed = get_or<uint64_t>(t, "log_suppressed", 0);
  s.totals.unbound = get_or<uint64_t>(t, "unbound", 0);
  s.totals.setting_up = get_or<uint64_t>(t, "setting_up", 0);
  s.totals.controllers = get_or<uint64_t>(t, "controllers", 0);
  s.totals.buffer_bytes = get_or<uint64_t>(t, "buffer_bytes", 0);
  s.totals.buffer_peak = get_or<uint64_t>(t, "buffer_peak", 0);
  s.queues.clear();
  if (auto it = j.find("queues"); it != j.end() && it->is_array())
    for (const auto& q : *it) s.queues.push_back(q.get<TargetQueueStats>());
  s.queue_count = get_or<uint64_t>(j, "queue_count", s.queues.size());
}

void from_json(const json& q, TargetQueueStats& r) {
  r = TargetQueueStats{};
  r.host_mac = get_or<std::string>(q, "host_mac", "");
  r.hostnqn = get_or<std::string>(q, "hostnqn", "");
  r.subnqn = get_or<std::string>(q, "subnqn", "");
  r.cntlid = get_or<uint16_t>(q, "cntlid", 0xFFFF);
  r.qid = get_or<uint16_t>(q, "qid", 0);
  r.nonce = get_or<uint32_t>(q, "nonce", 0);
  r.size = get_or<uint16_t>(q, "size", 0);
  r.in_flight = get_or<uint64_t>(q, "in_flight", 0);
  TargetQueueCounters& c = r.counters;
  c.commands = get_or<uint64_t>(q, "commands", 0);
  c.reads = get_or<uint64_t>(q, "reads", 0);
  c.writes = get_or<uint64_t>(q, "writes", 0);
  c.other = get_or<uint64_t>(q, "other", 0);
  c.bytes_in = get_or<uint64_t>(q, "bytes_in", 0);
  c.bytes_out = get_or<uint64_t>(q, "bytes_out", 0);
  c.retransmit_requests = get_or<uint64_t>(q, "retransmit_requests", 0);
  c.duplicates = get_or<uint64_t>(q, "duplicates", 0);
  c.stale = get_or<uint64_t>(q, "stale", 0);
  c.digest_errors = get_or<uint64_t>(q, "digest_errors", 0);
  c.auth_errors = get_or<uint64_t>(q, "auth_errors", 0);
  r.service_time.count = get_or<uint64_t>(q, "service_count", 0);
  r.service_time.mean_us = get_or<double>(q, "service_mean_us", 0);
  r.service_time.max_us = get_or<double>(q, "service_max_us", 0);
  r.service_time.p50_us = get_or<double>(q, "service_p50_us", 0);
  r.service_time.p99_us = get_or<double>(q, "service_p99_us", 0);
  r.service_time.p999_us = get_or<double>(q, "service_p999_us", 0);
  r.service_buckets = get_or<LatencyBuckets>(q, "service_buckets", {});
}

}  // namespace nvmeoe
