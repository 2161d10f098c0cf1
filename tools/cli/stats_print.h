// Printers for `nvmeoe stats` and `nvmeoe target-stats`: a table per controller (or per target
// transport) with one row per queue, or JSON, from the same models. With a previous sample the
// counters become rates per second over the interval (the --watch view) and the latency
// percentiles those of the commands completed in the interval (from the difference of the two
// histograms); in-flight counts are the current values.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/list_model.h"
#include "common/status.h"
#include "target/target_stats.h"

namespace nvmeoe::cli {

// One target process's answer on its control socket.
struct TargetProcessStats {
  std::string socket;
  int pid = 0;
  std::vector<TargetSnapshot> targets;
};

// `prev` null (or a controller missing from it): totals since connect. Otherwise rates per second
// over `interval_s`.
std::string format_host_stats(const std::vector<ControllerModel>& now, const std::vector<ControllerModel>* prev,
                              double interval_s);
nlohmann::ordered_json host_stats_json(const std::vector<ControllerModel>& now,
                                       const std::vector<ControllerModel>* prev, double interval_s);

std::string format_target_stats(const std::vector<TargetProcessStats>& now, const std::vector<TargetProcessStats>* prev,
                                double interval_s);
nlohmann::ordered_json target_stats_json(const std::vector<TargetProcessStats>& now,
                                         const std::vector<TargetProcessStats>* prev, double interval_s);

// Parses a target control socket's stats reply line; `next` (if given) gets the "from" of the
// next page of associations, 0 when this was the last (src/target/control_server.h).
Result<TargetProcessStats> decode_target_stats_reply(const std::string& socket, const std::string& line,
                                                     uint64_t* next = nullptr);

}  // namespace nvmeoe::cli
