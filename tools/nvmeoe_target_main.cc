// nvmeoe-target: serves one NVMe subsystem over raw Ethernet. Namespaces 1..N are the DEVICE, FILE
// or mem:SIZE arguments in order. Runs in the foreground (systemd-friendly), logs to stderr, and
// stops cleanly on SIGINT/SIGTERM. Built from this file alone (see CMakeLists.txt), so it shares
// only the header-only cli/run_files.h with the host CLI.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "cli/run_files.h"
#include "common/log.h"
#include "link/link.h"
#include "nvme/spec.h"
#include "target/control_server.h"
#include "target/core.h"
#include "target/target.h"
#include "wire/frame.h"

#ifndef NVMEOE_VERSION
#define NVMEOE_VERSION "unknown"
#endif

namespace {

using namespace nvmeoe;

// Read from the signal handler: lock-free atomics are async-signal-safe.
std::atomic<TargetTransport*> g_transport{nullptr};
volatile sig_atomic_t g_signals = 0;
static_assert(std::atomic<TargetTransport*>::is_always_lock_free);

void on_stop_signal(int) {
  // The first signal asks for an orderly stop; a third one gives up waiting for it.
  g_signals = g_signals + 1;
  if (g_signals >= 3) ::_exit(1);
  if (TargetTransport* t = g_transport.load()) t->request_stop();
}

struct Args {
  std::string nqn, iface, ethertype = "0x88b5", log_level;
  std::vector<std::string> allow_hosts, devices;
  bool readonly = false;
  int verbose = 0;
  uint32_t poll_us = 0;
};

std::string nqn_problem(const std::string& nqn) {
  if (nqn.compare(0, 4, "nqn.") != 0) return "invalid NQN '" + nqn + "': must start with \"nqn.\"";
  if (!valid_nqn(nqn)) return "invalid NQN '" + nqn + "': at most 223 printable ASCII characters without spaces";
  return "";
}

bool parse_ethertype(const std::string& text, uint16_t* out) {
  char* end = nullptr;
  unsigned long v = std::strtoul(text.c_str(), &end, 0);
  if (text.empty() || *end != '\0' || v < 0x0600 || v > 0xffff) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

std::string human_size(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, kUnits[u]);
  return buf;
}

// The inode of this process's network namespace: /run is shared between namespaces, so the lock
// name must say which one the interface belongs to.
uint64_t netns_inode() {
  struct stat st;
  return ::stat("/proc/self/ns/net", &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

std::string target_lock_path(const std::string& iface, const std::string& nqn) {
  char tag[64];
  std::snprintf(tag, sizeof tag, "-%016" PRIx64 "-net%" PRIu64, cli::fnv1a64(nqn), netns_inode());
  return cli::run_dir() + "/target-" + cli::sanitize_component(iface, 16) + "-" + cli::sanitize_component(nqn, 96) +
         tag + ".lock";
}

int serve(const Args& a) {
  if (std::string why = nqn_problem(a.nqn); !why.empty()) {
    LOG_ERROR("--nqn: %s", why.c_str());
    return 1;
  }
  for (const auto& host : a.allow_hosts)
    if (std::string why = nqn_problem(host); !why.empty()) {
      LOG_ERROR("--allow-host: %s", why.c_str());
      return 1;
    }
  uint16_t ethertype = kDefaultEtherType;
  if (!parse_ethertype(a.ethertype, &ethertype)) {
    LOG_ERROR("--ethertype: invalid EtherType '%s': expected a value from 0x0600 to 0xffff, like 0x88b5",
              a.ethertype.c_str());
    return 1;
  }

  // Refuse a second target for the same NQN on the same interface before touching any device.
  if (Status s = cli::ensure_run_dir(cli::run_dir()); !s) {
    LOG_ERROR("%s", s.message().c_str());
    return 1;
  }
  cli::LockFile lock;
  std::string lock_error;
  const std::string lock_path = target_lock_path(a.iface, a.nqn);
  switch (lock.try_lock(lock_path, &lock_error)) {
    case cli::LockFile::Outcome::kLocked:
      lock.write_pid();
      break;
    case cli::LockFile::Outcome::kBusy: {
      int pid = cli::read_lock_pid(lock_path);
      LOG_ERROR("another nvmeoe-target%s already serves %s on %s in this network namespace",
                pid > 0 ? (" (pid " + std::to_string(pid) + ")").c_str() : "", a.nqn.c_str(), a.iface.c_str());
      return 1;
    }
    case cli::LockFile::Outcome::kError:
      LOG_ERROR("%s", lock_error.c_str());
      return 1;
  }

  auto subsys = std::make_unique<Subsystem>();
  subsys->nqn = a.nqn;
  subsys->allowed_hosts.insert(a.allow_hosts.begin(), a.allow_hosts.end());
  subsys->allow_any_host = a.allow_hosts.empty();
  std::string ns_summary;
  for (size_t i = 0; i < a.devices.size(); ++i) {
    auto backend = open_backend(a.devices[i], a.readonly);
    if (!backend) {
      LOG_ERROR("%s", backend.status().message().c_str());
      lock.release(true);
      return 1;
    }
    auto ns = std::make_unique<Namespace>();
    ns->nsid = static_cast<uint32_t>(i + 1);
    const BackendCaps& caps = (*backend)->caps();
    ns->read_only = a.readonly || caps.read_only;
    ns_summary += (i ? ", " : "") + std::to_string(ns->nsid) + "=" + a.devices[i] + " (" + human_size(caps.size_bytes) +
                  ", " + std::to_string(caps.block_size) + " B blocks" + (ns->read_only ? ", read-only" : "") + ")";
    ns->backend = std::move(backend).value();
    subsys->namespaces.push_back(std::move(ns));
  }

  TargetCore core;
  if (Status s = core.add_subsystem(std::move(subsys)); !s) {
    LOG_ERROR("%s", s.message().c_str());
    lock.release(true);
    return 1;
  }

  auto link = open_packet_link(a.iface, ethertype, kMinMtu);
  if (!link) {
    LOG_ERROR("%s", link.status().message().c_str());
    lock.release(true);
    return 1;
  }
  std::string mac = (*link)->local_mac().str();

  TargetOptions options;
  options.poll_us = a.poll_us;
  TargetTransport transport(&core, std::move(link).value(), options);

  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  g_transport.store(&transport);
  if (g_signals) transport.request_stop();  // a signal before the handler could see the transport

  LOG_INFO("serving %s on %s (%s) with %zu namespace%s: %s", a.nqn.c_str(), a.iface.c_str(), mac.c_str(),
           a.devices.size(), a.devices.size() == 1 ? "" : "s", ns_summary.c_str());
  if (a.allow_hosts.empty()) {
    LOG_INFO("any host may connect (use --allow-host to restrict)");
  } else {
    std::string hosts;
    for (const auto& h : a.allow_hosts) hosts += (hosts.empty() ? "" : ", ") + h;
    LOG_INFO("allowed hosts: %s", hosts.c_str());
  }

  // Statistics for `nvmeoe target-stats`; the target serves without them if the socket fails.
  auto control = TargetControlServer::start(target_socket_path(lock_path), {{a.iface + " " + a.nqn, &transport}});
  if (!control) LOG_WARN("no statistics socket: %s", control.status().message().c_str());

  Status s = transport.run();
  g_transport.store(nullptr);
  if (control) control->reset();
  lock.release(true);
  if (!s) {
    LOG_ERROR("%s", s.message().c_str());
    return 1;
  }
  return 0;  // the transport has logged its orderly stop
}

}  // namespace

int main(int argc, char** argv) {
  set_log_prefix("nvmeoe-target");
  Args a;
  CLI::App app{"nvmeoe-target: serve an NVMe subsystem over raw Ethernet (EtherType 0x88B5)", "nvmeoe-target"};
  app.set_version_flag("--version", "nvmeoe-target version " NVMEOE_VERSION);
  app.add_option("--nqn", a.nqn, "Subsystem NQN to serve (starts with \"nqn.\")")->required();
  app.add_option("--iface", a.iface, "Network interface to serve on")->required();
  app.add_option("--allow-host", a.allow_hosts, "Host NQN allowed to connect (repeatable; default: any host)");
  app.add_flag("--readonly", a.readonly, "Export every namespace read-only");
  app.add_option("--ethertype", a.ethertype, "EtherType of nvmeoe frames")->capture_default_str();
  app.add_option("--poll-us", a.poll_us, "Busy-poll this many microseconds before sleeping (lower latency, more CPU)")
      ->capture_default_str();
  app.add_option("--log-level", a.log_level, "Log level: error, warn, info, debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  app.add_flag("-v,--verbose", a.verbose, "Debug logging");
  app.add_option("devices", a.devices, "Block device, file, or mem:SIZE (e.g. mem:20G); NSIDs 1..N in order")
      ->required();
  app.footer(
      "Examples:\n"
      "  nvmeoe-target --nqn nqn.2024-01.io.nvmeoe:disk1 --iface eth1 mem:20G\n"
      "  nvmeoe-target --nqn nqn.2024-01.io.nvmeoe:disk1 --iface eth1 /dev/nvme0n1 /var/lib/nvmeoe/disk2.img\n"
      "  nvmeoe-target --nqn nqn.2024-01.io.nvmeoe:ro --iface eth1 --readonly \\\n"
      "      --allow-host nqn.2014-08.org.nvmexpress:uuid:4c4c4544-0034-5a10-8052-b4c04f333232 /srv/image.raw\n\n"
      "Needs CAP_NET_RAW (root). One target per NQN and interface; lock files live in $NVMEOE_RUN_DIR\n"
      "(default /run/nvmeoe). SIGINT/SIGTERM stop it cleanly.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 1;
  }
  LogLevel level = LogLevel::kInfo;
  if (!a.log_level.empty()) parse_log_level(a.log_level.c_str(), &level);
  if (a.verbose) level = LogLevel::kDebug;
  set_log_level(level);
  return serve(a);
}
