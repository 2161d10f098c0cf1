// JSON mapping of target transport statistics (field names are documented in README.md).
#include "target/target_stats.h"

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
             {"associations", t.associations}}}};
  json queues = json::array();
  for (const auto& q : s.queues) {
    const TargetQueueCounters& c = q.counters;
    queues.push_back({{"host_mac", q.host_mac},
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
                      {"service_count", q.service_time.count},
                      {"service_mean_us", q.service_time.mean_us},
                      {"service_max_us", q.service_time.max_us},
                      {"service_p50_us", q.service_time.p50_us},
                      {"service_p99_us", q.service_time.p99_us},
                      {"service_p999_us", q.service_time.p999_us},
                      {"service_buckets", q.service_buckets}});
  }
  j["queues"] = std::move(queues);
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
  s.totals.associations = get_or<uint64_t>(t, "associations", 0);
  s.queues.clear();
  for (const auto& q : j.at("queues")) {
    TargetQueueStats r;
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
    r.service_time.count = get_or<uint64_t>(q, "service_count", 0);
    r.service_time.mean_us = get_or<double>(q, "service_mean_us", 0);
    r.service_time.max_us = get_or<double>(q, "service_max_us", 0);
    r.service_time.p50_us = get_or<double>(q, "service_p50_us", 0);
    r.service_time.p99_us = get_or<double>(q, "service_p99_us", 0);
    r.service_time.p999_us = get_or<double>(q, "service_p999_us", 0);
    r.service_buckets = get_or<LatencyBuckets>(q, "service_buckets", {});
    s.queues.push_back(std::move(r));
  }
}

}  // namespace nvmeoe
