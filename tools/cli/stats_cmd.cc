// `nvmeoe stats` (per-queue statistics of connected controllers, from their agents) and
// `nvmeoe target-stats` (per-association statistics of running targets, from their control
// sockets), once or every --watch seconds.
#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/control.h"
#include "cli/run_files.h"
#include "cli/stats_print.h"
#include "common/log.h"

namespace nvmeoe::cli {

namespace {

constexpr auto kStatsTimeout = std::chrono::seconds(3);
// target-stats lists the associations of a target that has at most this many unless asked
// (--associations: all, in pages; --totals: none).
constexpr uint64_t kListByDefault = 64;
constexpr uint64_t kPageBytes = 1 << 20;

struct StatsArgs {
  std::string name;
  std::string socket;                         // target-stats only
  bool associations = false, totals = false;  // target-stats only
  double watch = 0;
  int count = 0;
  std::string output_format = "normal";
  LogOptions log;
};

// Runs `sample` once, or every a.watch seconds until a.count samples (0: until interrupted).
// `render(prev_or_null, interval)` prints one sample; the first one always shows totals.
template <typename Sample, typename SampleFn, typename PrintFn>
int watch_loop(const StatsArgs& a, SampleFn sample, PrintFn print) {
  int samples = a.watch > 0 ? a.count : 1;
  bool clear = a.watch > 0 && a.output_format == "normal" && ::isatty(STDOUT_FILENO);
  std::unique_ptr<Sample> prev;
  auto prev_at = std::chrono::steady_clock::now();
  for (int i = 0; samples == 0 || i < samples; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::duration<double>(a.watch));
    Sample now;
    if (int rc = sample(&now); rc != 0) return rc;
    auto at = std::chrono::steady_clock::now();
    double interval = std::chrono::duration<double>(at - prev_at).count();
    if (clear) std::fputs("\033[H\033[2J", stdout);
    print(now, prev.get(), interval);
    std::fflush(stdout);
    prev = std::make_unique<Sample>(std::move(now));
    prev_at = at;
  }
  return 0;
}

// ---- host ----

int sample_host(const StatsArgs& a, std::vector<ControllerModel>* out) {
  std::vector<std::string> names;
  if (!a.name.empty())
    names.push_back(a.name);  // run_stats reduced a namespace name to its controller
  else
    names = list_controller_names();
  for (const auto& name : names) {
    auto stream = connect_control(name, kStatsTimeout);
    if (!stream) {
      if (!a.name.empty()) {
        std::fprintf(stderr, "%s\n", stream.status().message().c_str());
        return 1;
      }
      LOG_DEBUG("skipping %s: %s", name.c_str(), stream.status().message().c_str());
      continue;
    }
    auto reply = control_call(*stream, ControlRequest{ControlOp::kStats});
    if (!reply || !reply->has_stats) {
      std::string why = reply ? reply->describe() : reply.status().message();
      if (!a.name.empty()) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), why.c_str());
        return 1;
      }
      LOG_DEBUG("skipping %s: %s", name.c_str(), why.c_str());
      continue;
    }
    out->push_back(std::move(reply->stats));
  }
  return 0;
}

int run_stats(StatsArgs a) {
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  if (!a.name.empty()) {
    auto node = parse_node_name(a.name);
    if (!node) {
      std::fprintf(stderr, "%s\n", node.status().message().c_str());
      return 1;
    }
    a.name = node->controller;  // nvmeoe0n1 means its controller
  }
  using Sample = std::vector<ControllerModel>;
  bool lines = a.watch > 0;  // JSON lines while watching, one indented document otherwise
  return watch_loop<Sample>(
      a, [&](Sample* s) { return sample_host(a, s); },
      [&](const Sample& now, const Sample* prev, double interval) {
        if (a.output_format == "json") {
          auto j = host_stats_json(now, prev, interval);
          std::printf("%s\n", lines ? j.dump().c_str() : j.dump(2).c_str());
        } else {
          std::fputs(format_host_stats(now, prev, interval).c_str(), stdout);
        }
      });
}

// ---- target ----

std::vector<std::string> target_sockets() {
  std::vector<std::string> out;
  std::string dir = run_dir();
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string f = e->d_name;
    if (f.size() > 12 && f.compare(0, 7, "target-") == 0 && f.compare(f.size() - 5, 5, ".sock") == 0)
      out.push_back(dir + "/" + f);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// One target process's statistics: the totals, and its associations page by page (all of them
// with --associations, none with --totals, else those of targets with few).
Result<TargetProcessStats> query_target(const std::string& path, const StatsArgs& a) {
  auto stream = connect_unix(path, kStatsTimeout, "no nvmeoe-target is listening on " + path);
  if (!stream) return stream.status();
  ControlStream& s = *stream;
  auto page = [&](uint64_t from, uint64_t* next) -> Result<TargetProcessStats> {
    nlohmann::json req{{"op", "stats"}, {"from", from}, {"max_bytes", kPageBytes}, {"queues", !a.totals}};
    NVMEOE_RETURN_IF_ERROR(s.write_all(req.dump() + "\n"));
    std::string line;
    NVMEOE_RETURN_IF_ERROR(s.read_line(&line, nullptr, kMaxReplyLineBytes));
    return decode_target_stats_reply(path, line, next);
  };
  uint64_t next = 0;
  auto first = page(0, &next);
  if (!first) return first.status();
  TargetProcessStats p = std::move(first).value();
  uint64_t count = 0;
  for (const auto& t : p.targets) count += t.queue_count;
  if (!a.associations && count > kListByDefault) {
    for (auto& t : p.targets) t.queues.clear();
    return p;
  }
  for (uint64_t pages = 1; next != 0; ++pages) {
    if (pages > count + 1) return Status::error(path + ": the target's pages of associations do not end");
    auto more = page(next, &next);
    if (!more) return more.status();
    if (more->targets.size() != p.targets.size()) return Status::error(path + ": the target's pages do not match");
    for (size_t i = 0; i < p.targets.size(); ++i)
      for (auto& q : more->targets[i].queues) p.targets[i].queues.push_back(std::move(q));
  }
  return p;
}

// `*failed` is set when a running target did not answer: what the others said is still shown,
// but the command does not end in success.
int sample_targets(const StatsArgs& a, std::vector<TargetProcessStats>* out, bool* failed) {
  std::vector<std::string> paths;
  if (!a.socket.empty())
    paths.push_back(a.socket);
  else
    paths = target_sockets();
  for (const auto& path : paths) {
    auto r = query_target(path, a);
    if (!r) {
      if (!a.socket.empty()) {
        std::fprintf(stderr, "%s\n", r.status().message().c_str());
        return 1;
      }
      if (r.status().err() == ENODEV) {  // a socket left by a target that is gone
        LOG_DEBUG("skipping %s: %s", path.c_str(), r.status().message().c_str());
        continue;
      }
      std::fprintf(stderr, "%s: %s\n", path.c_str(), r.status().message().c_str());
      *failed = true;
      continue;
    }
    out->push_back(std::move(r).value());
  }
  return 0;
}

int run_target_stats(const StatsArgs& a) {
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  using Sample = std::vector<TargetProcessStats>;
  bool lines = a.watch > 0;
  bool failed = false;
  int rc = watch_loop<Sample>(
      a, [&](Sample* s) { return sample_targets(a, s, &failed); },
      [&](const Sample& now, const Sample* prev, double interval) {
        if (a.output_format == "json") {
          auto j = target_stats_json(now, prev, interval);
          std::printf("%s\n", lines ? j.dump().c_str() : j.dump(2).c_str());
        } else {
          std::fputs(format_target_stats(now, prev, interval).c_str(), stdout);
        }
      });
  return rc != 0 ? rc : failed ? 1 : 0;
}

void add_watch_options(CLI::App* app, StatsArgs* a) {
  CLI::Option* watch =
      app->add_option("--watch", a->watch, "Redraw every SECONDS, showing rates per second since the last sample")
          ->check(CLI::Range(0.1, 86400.0));
  app->add_option("--count", a->count, "With --watch: stop after N samples (default: until Ctrl-C)")
      ->check(CLI::Range(1, 1000000))
      ->needs(watch);
  app->add_option("-o,--output-format", a->output_format,
                  "Output format: normal or json (one line per sample with --watch)")
      ->check(CLI::IsMember({"normal", "json"}))
      ->capture_default_str();
  add_log_options(*app, &a->log);
}

}  // namespace

Subcommand add_stats_command(CLI::App& parent) {
  auto a = std::make_shared<StatsArgs>();
  CLI::App* app = parent.add_subcommand("stats", "Per-queue statistics of connected controllers");
  app->add_option("name", a->name, "Controller (nvmeoe0, or one of its namespaces); default: all")
      ->check(node_name_validator());
  add_watch_options(app, a.get());
  app->footer(
      "Examples:\n"
      "  nvmeoe stats\n"
      "  nvmeoe stats nvmeoe0 --watch 1\n"
      "  nvmeoe stats -o json");
  return {app, [a] { return run_stats(*a); }};
}

Subcommand add_target_stats_command(CLI::App& parent) {
  auto a = std::make_shared<StatsArgs>();
  CLI::App* app =
      parent.add_subcommand("target-stats", "Per-association statistics of running nvmeoe-target processes");
  app->add_option("--socket", a->socket,
                  "A target's control socket; default: every target-*.sock in the run directory");
  CLI::Option* all = app->add_flag("-A,--associations", a->associations,
                                   "List every association (default: only for targets with at most 64)");
  app->add_flag("--totals", a->totals, "Show the totals only")->excludes(all);
  add_watch_options(app, a.get());
  app->footer(
      "Examples:\n"
      "  nvmeoe target-stats\n"
      "  nvmeoe target-stats --watch 2 --count 5\n"
      "  nvmeoe target-stats -o json\n\n"
      "Targets keep their sockets in $NVMEOE_RUN_DIR (default /run/nvmeoe).");
  return {app, [a] { return run_target_stats(*a); }};
}

}  // namespace nvmeoe::cli
