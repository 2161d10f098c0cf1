// `nvmeoe list`, `nvmeoe disconnect` and `nvmeoe disconnect-all`: they find controllers through
// the agents' sockets in the run directory.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/control.h"
#include "cli/list_print.h"
#include "cli/run_files.h"
#include "cli/stale.h"
#include "common/log.h"
#include "common/mac.h"

namespace nvmeoe::cli {

namespace {

constexpr auto kInfoTimeout = std::chrono::seconds(3);
constexpr auto kDisconnectWait = std::chrono::seconds(10);

// Every live controller, in name order. A socket whose agent is gone is skipped quietly, as
// nvme-cli skips devices that vanish while it scans.
ListModel collect_model(bool with_stale = false) {
  ListModel model;
  bool told_root = false;
  if (::access(run_dir().c_str(), R_OK | X_OK) != 0 && errno == EACCES) {
    std::fprintf(stderr, "nvmeoe list needs root: cannot read the run directory %s (%s)\n", run_dir().c_str(),
                 std::strerror(EACCES));
    told_root = true;
  }
  for (const auto& name : list_controller_names()) {
    auto stream = connect_control(name, kInfoTimeout);
    if (!stream) {
      if (stream.status().err() == EACCES && !told_root) {
        std::fprintf(stderr, "nvmeoe list needs root: the agents' sockets in %s are root's (%s)\n", run_dir().c_str(),
                     stream.status().message().c_str());
        told_root = true;
      }
      LOG_DEBUG("skipping %s: %s", name.c_str(), stream.status().message().c_str());
      continue;
    }
    auto reply = control_call(*stream, ControlRequest{ControlOp::kInfo});
    if (!reply || !reply->has_info) {
      // The agent is there but its answer is not: say so rather than list nothing.
      std::string why = !reply                                   ? reply.status().message()
                        : reply->kind == ControlReply::Kind::kOk ? std::string("the reply has no \"info\"")
                                                                 : reply->describe();
      LOG_WARN("%s: no controller information: %s", name.c_str(), why.c_str());
      continue;
    }
    model.controllers.push_back(std::move(reply->info));
  }
  if (with_stale) {
    for (auto& s : find_stale_controllers()) model.controllers.push_back(std::move(s.info));
    std::sort(model.controllers.begin(), model.controllers.end(),
              [](const ControllerModel& a, const ControllerModel& b) { return controller_name_less(a.name, b.name); });
  }
  return model;
}

bool process_gone(int pid) {
  return pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH);
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Asks one agent to disconnect and waits (bounded) until it has exited and freed its name.
Status disconnect_controller(const ControllerModel& c) {
  auto stream = connect_control(c.name, kInfoTimeout);
  if (!stream) return stream.status();
  // The agent shuts the association down before exiting; give it the whole wait for the reply.
  stream->set_timeout(kDisconnectWait);
  auto reply = control_call(*stream, ControlRequest{ControlOp::kDisconnect});
  if (!reply) return Status::error(c.name + ": " + reply.status().message());
  if (reply->kind != ControlReply::Kind::kOk) return Status::error(c.name + ": " + reply->describe());
  auto deadline = std::chrono::steady_clock::now() + kDisconnectWait;
  const std::string lock = control_lock_path(c.name);
  while (std::chrono::steady_clock::now() < deadline) {
    if (process_gone(c.pid) || !file_exists(lock)) return Status::ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::error(c.name + ": the agent (pid " + std::to_string(c.pid) + ") did not exit within " +
                       std::to_string(kDisconnectWait.count()) + " s");
}

// Disconnects `controllers` and prints nvme-cli's "NQN:%s disconnected %d controller(s)" per NQN.
int disconnect_and_report(const std::vector<ControllerModel>& controllers, const std::string& only_nqn) {
  std::map<std::string, int> per_nqn;
  if (!only_nqn.empty()) per_nqn[only_nqn] = 0;
  int rc = 0;
  for (const auto& c : controllers) {
    Status s = disconnect_controller(c);
    if (!s) {
      std::fprintf(stderr, "failed to disconnect %s\n", s.message().c_str());
      rc = 1;
      continue;
    }
    ++per_nqn[c.subnqn];
  }
  for (const auto& [nqn, count] : per_nqn) std::printf("NQN:%s disconnected %d controller(s)\n", nqn.c_str(), count);
  return rc;
}

struct ListArgs {
  std::string output_format = "normal";
  bool verbose = false;
  LogOptions log;
};

int run_list(const ListArgs& a) {
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  ListModel model = collect_model(/*with_stale=*/true);
  if (a.output_format == "json") {
    std::printf("%s\n", list_json(model, a.verbose).dump(2).c_str());
  } else {
    std::fputs(a.verbose ? format_list_verbose(model).c_str() : format_list_table(model).c_str(), stdout);
  }
  for (const auto& c : model.controllers) {
    if (c.state == "dead")
      std::fprintf(stderr,
                   "%s: dead (its agent%s is gone); the next nvmeoe connect or disconnect removes what it left\n",
                   c.name.c_str(), c.pid > 0 ? (" pid " + std::to_string(c.pid)).c_str() : "");
    else if (c.state == "unreachable")
      std::fprintf(stderr, "%s: unreachable (its agent%s holds the name but does not answer)\n", c.name.c_str(),
                   c.pid > 0 ? (" pid " + std::to_string(c.pid)).c_str() : "");
  }
  return 0;
}

struct DisconnectArgs {
  std::string device, device_opt, nqn, traddr, host_iface;
  LogOptions log;
};

int run_disconnect(const DisconnectArgs& a) {
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  const std::vector<std::string> cleaned = clean_up_dead_controllers();
  if ((!a.traddr.empty() || !a.host_iface.empty()) && a.nqn.empty()) {
    std::fprintf(stderr, "-a and --host-iface narrow -n NQN: give -n too\n");
    return 1;
  }
  std::string device = !a.device.empty() ? a.device : a.device_opt;
  if (device.empty() == a.nqn.empty()) {
    std::fprintf(stderr, "give either a device (nvmeoe0) or -n NQN\n");
    return 1;
  }
  if (!a.nqn.empty()) {
    std::vector<ControllerModel> matching;
    auto want_mac = MacAddress::parse(a.traddr);
    for (auto& c : collect_model().controllers) {
      if (c.subnqn != a.nqn) continue;
      if (!a.traddr.empty()) {
        auto mac = MacAddress::parse(c.target_mac);
        if (!mac || !want_mac || !(*mac == *want_mac)) continue;
      }
      if (!a.host_iface.empty() && c.iface != a.host_iface) continue;
      matching.push_back(std::move(c));
    }
    return disconnect_and_report(matching, a.nqn);
  }
  auto node = parse_node_name(device);
  if (!node) {
    std::fprintf(stderr, "%s\n", node.status().message().c_str());
    return 1;
  }
  // A controller whose agent had died is gone now: what the user asked for is done.
  if (std::find(cleaned.begin(), cleaned.end(), node->controller) != cleaned.end()) return 0;
  ControllerModel info;
  {
    auto stream = connect_control(node->controller, kInfoTimeout);
    if (!stream) {
      std::fprintf(stderr, "%s\n", stream.status().message().c_str());
      return 1;
    }
    auto reply = control_call(*stream, ControlRequest{ControlOp::kInfo});
    if (!reply || !reply->has_info) {
      std::fprintf(stderr, "%s: %s\n", node->controller.c_str(),
                   reply ? reply->describe().c_str() : reply.status().message().c_str());
      return 1;
    }
    info = std::move(reply->info);
  }  // the info connection is closed before the disconnect opens its own
  return disconnect_and_report({info}, "");
}

}  // namespace

Subcommand add_list_command(CLI::App& parent) {
  auto a = std::make_shared<ListArgs>();
  CLI::App* app = parent.add_subcommand("list", "List all nvmeoe controllers' namespaces (like nvme list)");
  app->add_option("-o,--output-format", a->output_format, "Output format: normal or json")
      ->check(CLI::IsMember({"normal", "json"}))
      ->capture_default_str();
  app->add_flag("-v,--verbose", a->verbose, "Show subsystems, controllers, association details and queue statistics");
  add_log_options(*app, &a->log, /*with_verbose_flag=*/false);
  app->footer(
      "Examples:\n"
      "  nvmeoe list\n"
      "  nvmeoe list -v\n"
      "  nvmeoe list -o json");
  return {app, [a] { return run_list(*a); }};
}

Subcommand add_disconnect_command(CLI::App& parent) {
  auto a = std::make_shared<DisconnectArgs>();
  CLI::App* app = parent.add_subcommand("disconnect", "Disconnect a controller, or all controllers of an NQN");
  app->add_option("device", a->device, "Controller (nvmeoe0) or namespace (nvmeoe0n1)")->check(node_name_validator());
  app->add_option("-d,--device", a->device_opt, "Same as the positional device")->check(node_name_validator());
  app->add_option("-n,--nqn", a->nqn, "Disconnect every controller of this subsystem NQN")->check(nqn_validator());
  app->add_option("-a,--traddr", a->traddr, "With -n: only controllers of this target MAC")->check(mac_validator());
  app->add_option("--host-iface", a->host_iface, "With -n: only controllers through this local interface");
  add_log_options(*app, &a->log);
  app->footer(
      "Examples:\n"
      "  nvmeoe disconnect nvmeoe0\n"
      "  nvmeoe disconnect -n nqn.2024-01.io.nvmeoe:disk1\n"
      "  nvmeoe disconnect -n nqn.2024-01.io.nvmeoe:disk1 -a 02:00:00:00:00:01 --host-iface eth1");
  return {app, [a] { return run_disconnect(*a); }};
}

Subcommand add_disconnect_all_command(CLI::App& parent) {
  auto log = std::make_shared<LogOptions>();
  CLI::App* app = parent.add_subcommand("disconnect-all", "Disconnect every nvmeoe controller");
  add_log_options(*app, log.get());
  app->footer("Example:\n  nvmeoe disconnect-all");
  return {app, [log] {
            apply_log_options(*log, static_cast<int>(LogLevel::kWarn));
            clean_up_dead_controllers();
            return disconnect_and_report(collect_model().controllers, "");
          }};
}

}  // namespace nvmeoe::cli
