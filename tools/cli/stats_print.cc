// Table and JSON rendering of host and target statistics (see stats_print.h).
#include "cli/stats_print.h"

#include <cstdarg>
#include <cstdio>

namespace nvmeoe::cli {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr double kMiB = 1024.0 * 1024.0;

void appendf(std::string* out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string* out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out->append(buf, std::min<size_t>(size_t(n), sizeof buf - 1));
}

// A counter as shown: the total, or its rate since the previous sample. A counter that went
// backwards (the controller was replaced under the same name) shows the new total.
double shown(uint64_t now, const uint64_t* prev, double interval_s) {
  if (!prev || interval_s <= 0) return double(now);
  return now >= *prev ? double(now - *prev) / interval_s : double(now);
}

const ControllerModel* find_controller(const std::vector<ControllerModel>* list, const std::string& name) {
  if (!list) return nullptr;
  for (const auto& c : *list)
    if (c.name == name) return &c;
  return nullptr;
}

const QueueModel* find_queue(const ControllerModel* c, uint16_t qid) {
  if (!c) return nullptr;
  for (const auto& q : c->queues)
    if (q.qid == qid) return &q;
  return nullptr;
}

const TargetQueueStats* find_target_queue(const std::vector<TargetProcessStats>* list, const std::string& socket,
                                          const std::string& name, const TargetQueueStats& q) {
  if (!list) return nullptr;
  for (const auto& p : *list) {
    if (p.socket != socket) continue;
    for (const auto& t : p.targets) {
      if (t.name != name) continue;
      for (const auto& r : t.queues)
        if (r.host_mac == q.host_mac && r.qid == q.qid && r.nonce == q.nonce) return &r;
    }
  }
  return nullptr;
}

// Fields of a host queue that are counters (rates in the watch view), in output order.
struct HostCounter {
  const char* key;
  uint64_t QueueModel::*field;
};
constexpr HostCounter kHostCounters[] = {{"commands", &QueueModel::commands},
                                         {"reads", &QueueModel::reads},
                                         {"writes", &QueueModel::writes},
                                         {"other", &QueueModel::other},
                                         {"bytes_read", &QueueModel::bytes_read},
                                         {"bytes_written", &QueueModel::bytes_written},
                                         {"retransmits", &QueueModel::retransmits},
                                         {"timeouts", &QueueModel::timeouts},
                                         {"errors", &QueueModel::errors},
                                         {"duplicates", &QueueModel::duplicates},
                                         {"digest_errors", &QueueModel::digest_errors}};

struct TargetCounter {
  const char* key;
  uint64_t TargetQueueCounters::*field;
};
constexpr TargetCounter kTargetCounters[] = {{"commands", &TargetQueueCounters::commands},
                                             {"reads", &TargetQueueCounters::reads},
                                             {"writes", &TargetQueueCounters::writes},
                                             {"other", &TargetQueueCounters::other},
                                             {"bytes_in", &TargetQueueCounters::bytes_in},
                                             {"bytes_out", &TargetQueueCounters::bytes_out},
                                             {"retransmit_requests", &TargetQueueCounters::retransmit_requests},
                                             {"duplicates", &TargetQueueCounters::duplicates},
                                             {"stale", &TargetQueueCounters::stale},
                                             {"digest_errors", &TargetQueueCounters::digest_errors}};

// The latency shown for a queue: since connect, or of the commands completed since the previous
// sample when there is one.
LatencySummary host_latency(const QueueModel& q, const QueueModel* prev) {
  if (!prev) {
    LatencySummary s;
    s.count = q.latency_count;
    s.mean_us = q.latency_mean_us;
    s.max_us = q.latency_max_us;
    s.p50_us = q.latency_p50_us;
    s.p99_us = q.latency_p99_us;
    s.p999_us = q.latency_p999_us;
    return s;
  }
  return summarize(bucket_difference(q.latency_buckets, prev->latency_buckets));
}

LatencySummary target_latency(const TargetQueueStats& q, const TargetQueueStats* prev) {
  if (!prev) return q.service_time;
  return summarize(bucket_difference(q.service_buckets, prev->service_buckets));
}

void add_interval_latency(ordered_json* rates, const char* prefix, const LatencySummary& s) {
  std::string p = prefix;
  (*rates)[p + "_count"] = s.count;
  (*rates)[p + "_mean_us"] = s.mean_us;
  (*rates)[p + "_p50_us"] = s.p50_us;
  (*rates)[p + "_p99_us"] = s.p99_us;
  (*rates)[p + "_p999_us"] = s.p999_us;
}

}  // namespace

std::string format_host_stats(const std::vector<ControllerModel>& now, const std::vector<ControllerModel>* prev,
                              double interval_s) {
  std::string out;
  if (now.empty()) return "No nvmeoe controllers.\n";
  for (const auto& c : now) {
    const ControllerModel* pc = find_controller(prev, c.name);
    bool rates = pc && interval_s > 0;
    appendf(&out, "%s: %s at %s via %s, cntlid %u, state %s, reconnects %llu%s\n", c.name.c_str(), c.subnqn.c_str(),
            c.target_mac.c_str(), c.iface.c_str(), c.cntlid, c.state.c_str(), (unsigned long long)c.reconnects,
            rates ? "" : " (totals since connect)");
    if (rates)
      appendf(&out, "%-4s %10s %10s %10s %10s %10s %8s %8s %8s %8s %8s %10s %10s %10s\n", "qid", "cmd/s", "reads/s",
              "writes/s", "MiB/s rd", "MiB/s wr", "inflight", "retx/s", "tmo/s", "dup/s", "dgst/s", "p50 us", "p99 us",
              "p999 us");
    else
      appendf(&out, "%-4s %10s %10s %10s %10s %10s %8s %8s %8s %8s %8s %10s %10s %10s\n", "qid", "commands", "reads",
              "writes", "MiB read", "MiB wrtn", "inflight", "retx", "timeouts", "dups", "dgst err", "p50 us", "p99 us",
              "p999 us");
    for (const auto& q : c.queues) {
      const QueueModel* pq = rates ? find_queue(pc, q.qid) : nullptr;
      auto v = [&](uint64_t QueueModel::*f) { return shown(q.*f, pq ? &(pq->*f) : nullptr, interval_s); };
      const char* num = pq ? "%10.1f" : "%10.0f";
      LatencySummary lat = host_latency(q, pq);
      std::string fmt = std::string("%-4u ") + num + " " + num + " " + num +
                        " %10.2f %10.2f %8llu %8.0f %8.0f %8.0f %8.0f %10.1f %10.1f %10.1f\n";
      appendf(&out, fmt.c_str(), q.qid, v(&QueueModel::commands), v(&QueueModel::reads), v(&QueueModel::writes),
              v(&QueueModel::bytes_read) / kMiB, v(&QueueModel::bytes_written) / kMiB, (unsigned long long)q.in_flight,
              v(&QueueModel::retransmits), v(&QueueModel::timeouts), v(&QueueModel::duplicates),
              v(&QueueModel::digest_errors), lat.p50_us, lat.p99_us, lat.p999_us);
    }
    out += "\n";
  }
  return out;
}

ordered_json host_stats_json(const std::vector<ControllerModel>& now, const std::vector<ControllerModel>* prev,
                             double interval_s) {
  ordered_json controllers = ordered_json::array();
  for (const auto& c : now) {
    const ControllerModel* pc = find_controller(prev, c.name);
    ordered_json jc = {{"name", c.name},   {"subnqn", c.subnqn},        {"target_mac", c.target_mac},
                       {"iface", c.iface}, {"hostnqn", c.hostnqn},      {"cntlid", c.cntlid},
                       {"state", c.state}, {"reconnects", c.reconnects}};
    ordered_json queues = ordered_json::array();
    for (const auto& q : c.queues) {
      ordered_json jq = {{"qid", q.qid}, {"size", q.size}};
      for (const auto& k : kHostCounters) jq[k.key] = q.*k.field;
      jq["in_flight"] = q.in_flight;
      jq["latency_count"] = q.latency_count;
      jq["latency_mean_us"] = q.latency_mean_us;
      jq["latency_max_us"] = q.latency_max_us;
      jq["latency_p50_us"] = q.latency_p50_us;
      jq["latency_p99_us"] = q.latency_p99_us;
      jq["latency_p999_us"] = q.latency_p999_us;
      jq["latency_buckets"] = q.latency_buckets;
      if (const QueueModel* pq = find_queue(pc, q.qid); pq && interval_s > 0) {
        ordered_json r;
        for (const auto& k : kHostCounters)
          r[std::string(k.key) + "_per_s"] = shown(q.*k.field, &(pq->*k.field), interval_s);
        add_interval_latency(&r, "latency", host_latency(q, pq));
        jq["rates"] = std::move(r);
      }
      queues.push_back(std::move(jq));
    }
    jc["queues"] = std::move(queues);
    controllers.push_back(std::move(jc));
  }
  ordered_json j;
  if (prev && interval_s > 0) j["interval_s"] = interval_s;
  j["controllers"] = std::move(controllers);
  return j;
}

std::string format_target_stats(const std::vector<TargetProcessStats>& now, const std::vector<TargetProcessStats>* prev,
                                double interval_s) {
  std::string out;
  if (now.empty()) return "No running nvmeoe-target with a control socket.\n";
  bool rates = prev && interval_s > 0;
  for (const auto& p : now) {
    for (const auto& t : p.targets) {
      const TargetStats& s = t.totals;
      appendf(&out,
              "%s (%s, pid %d): %llu associations, frames in %llu out %llu (per command %.2f in, %.2f out), bad %llu, "
              "digest errors %llu, auth errors %llu\n",
              t.name.c_str(), t.mac.c_str(), p.pid, (unsigned long long)s.associations, (unsigned long long)s.frames_in,
              (unsigned long long)s.frames_out, s.commands ? double(s.frames_in) / double(s.commands) : 0.0,
              s.commands ? double(s.frames_out) / double(s.commands) : 0.0, (unsigned long long)s.bad_frames,
              (unsigned long long)s.digest_errors, (unsigned long long)s.auth_errors);
      auto u = [](uint64_t v) { return (unsigned long long)v; };
      appendf(&out,
              "limits: refused %llu, busy %llu, evicted %llu, expired %llu, unbound now %llu (commands refused "
              "%llu), setting up %llu, buffers %.1f MiB (peak %.1f), drops %llu, reclaims %llu, suppressed: discover "
              "%llu, terminate %llu, log %llu\n",
              u(s.refused_connects), u(s.refused_busy), u(s.evicted), u(s.expired), u(s.unbound), u(s.unbound_commands),
              u(s.setting_up), double(s.buffer_bytes) / kMiB, double(s.buffer_peak) / kMiB, u(s.buffer_drops),
              u(s.buffer_reclaims), u(s.discover_suppressed), u(s.terminate_suppressed), u(s.log_suppressed));
      if (t.queues.empty() && t.queue_count) {
        appendf(&out, "(%llu associations not listed: --associations lists them)\n\n", u(t.queue_count));
        continue;
      }
      appendf(&out, "%-17s %6s %4s %10s %10s %10s %10s %10s %8s %8s %8s %8s %8s %10s %10s %10s\n", "host mac", "cntlid",
              "qid", rates ? "cmd/s" : "commands", rates ? "reads/s" : "reads", rates ? "writes/s" : "writes",
              rates ? "MiB/s in" : "MiB in", rates ? "MiB/s out" : "MiB out", "inflight",
              rates ? "rtxrq/s" : "retx req", rates ? "dup/s" : "dups", rates ? "stale/s" : "stale",
              rates ? "dgst/s" : "dgst err", "p50 us", "p99 us", "p999 us");
      for (const auto& q : t.queues) {
        const TargetQueueStats* pq = rates ? find_target_queue(prev, p.socket, t.name, q) : nullptr;
        auto v = [&](uint64_t TargetQueueCounters::*f) {
          return shown(q.counters.*f, pq ? &(pq->counters.*f) : nullptr, interval_s);
        };
        LatencySummary lat = target_latency(q, pq);
        char cntlid[8];
        if (q.cntlid == 0xFFFF)
          std::snprintf(cntlid, sizeof cntlid, "-");
        else
          std::snprintf(cntlid, sizeof cntlid, "%u", q.cntlid);
        appendf(&out,
                "%-17s %6s %4u %10.0f %10.0f %10.0f %10.2f %10.2f %8llu %8.0f %8.0f %8.0f %8.0f %10.1f %10.1f %10.1f\n",
                q.host_mac.c_str(), cntlid, q.qid, v(&TargetQueueCounters::commands), v(&TargetQueueCounters::reads),
                v(&TargetQueueCounters::writes), v(&TargetQueueCounters::bytes_in) / kMiB,
                v(&TargetQueueCounters::bytes_out) / kMiB, (unsigned long long)q.in_flight,
                v(&TargetQueueCounters::retransmit_requests), v(&TargetQueueCounters::duplicates),
                v(&TargetQueueCounters::stale), v(&TargetQueueCounters::digest_errors), lat.p50_us, lat.p99_us,
                lat.p999_us);
      }
      out += "\n";
    }
  }
  return out;
}

ordered_json target_stats_json(const std::vector<TargetProcessStats>& now, const std::vector<TargetProcessStats>* prev,
                               double interval_s) {
  ordered_json procs = ordered_json::array();
  for (const auto& p : now) {
    ordered_json targets = ordered_json::array();
    for (const auto& t : p.targets) {
      json plain = t;  // the documented field names of target_stats.cc
      ordered_json jt = {
          {"name", t.name}, {"mac", t.mac}, {"totals", plain["totals"]}, {"queue_count", plain["queue_count"]}};
      ordered_json queues = ordered_json::array();
      for (size_t i = 0; i < t.queues.size(); ++i) {
        ordered_json jq = plain["queues"][i];
        const TargetQueueStats* pq = find_target_queue(prev, p.socket, t.name, t.queues[i]);
        if (pq && interval_s > 0) {
          ordered_json r;
          for (const auto& k : kTargetCounters)
            r[std::string(k.key) + "_per_s"] =
                shown(t.queues[i].counters.*k.field, &(pq->counters.*k.field), interval_s);
          add_interval_latency(&r, "service", target_latency(t.queues[i], pq));
          jq["rates"] = std::move(r);
        }
        queues.push_back(std::move(jq));
      }
      jt["queues"] = std::move(queues);
      targets.push_back(std::move(jt));
    }
    procs.push_back({{"socket", p.socket}, {"pid", p.pid}, {"targets", std::move(targets)}});
  }
  ordered_json j;
  if (prev && interval_s > 0) j["interval_s"] = interval_s;
  j["processes"] = std::move(procs);
  return j;
}

Result<TargetProcessStats> decode_target_stats_reply(const std::string& socket, const std::string& line,
                                                     uint64_t* next) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::error(socket + ": reply is not a JSON object");
  if (auto it = j.find("error"); it != j.end())
    return Status::error(socket + ": " + (it->is_string() ? it->get<std::string>() : it->dump()));
  if (j.value("ok", false) != true || !j.contains("targets") || !j["targets"].is_array())
    return Status::error(socket + ": reply has no \"targets\"");
  TargetProcessStats p;
  p.socket = socket;
  try {
    p.pid = j.value("pid", 0);
    for (const auto& t : j["targets"]) p.targets.push_back(t.get<TargetSnapshot>());
    if (next) *next = j.value("next", uint64_t(0));
  } catch (const json::exception& e) {
    return Status::error(socket + ": malformed stats reply: " + e.what());
  }
  return p;
}

}  // namespace nvmeoe::cli
