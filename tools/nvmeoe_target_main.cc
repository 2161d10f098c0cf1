// nvmeoe-target: serves NVMe subsystems over raw Ethernet: one from the command line (namespaces
// 1..N are the DEVICE, FILE or mem:SIZE arguments in order), or several on several interfaces from
// an nvmetcli-layout JSON file (--config), which SIGHUP re-reads. Runs in the foreground
// (systemd-friendly), logs to stderr, and stops cleanly on SIGINT/SIGTERM. Built from this file alone (see
// CMakeLists.txt), so it shares only the header-only cli/run_files.h with the host CLI.
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "auth/secret.h"
#include "backend/backend.h"
#include "cli/privileges.h"
#include "cli/run_files.h"
#include "common/log.h"
#include "link/link.h"
#include "nvme/spec.h"
#include "target/config.h"
#include "target/control_server.h"
#include "target/core.h"
#include "target/daemon.h"
#include "target/resource_limits.h"
#include "target/target.h"
#include "wire/frame.h"

#ifndef NVMEOE_VERSION
#define NVMEOE_VERSION "unknown"
#endif

namespace {

// CPUs this process may run on.
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return CPU_COUNT(&set);
}

using namespace nvmeoe;

// Read from the signal handler: lock-free atomics are async-signal-safe.
std::atomic<TargetDaemon*> g_daemon{nullptr};
volatile sig_atomic_t g_signals = 0;
static_assert(std::atomic<TargetDaemon*>::is_always_lock_free);

void on_reload_signal(int) {
  if (TargetDaemon* d = g_daemon.load()) d->request_reload();
}

void on_stop_signal(int) {
  // The first signal asks for an orderly stop; a third one gives up waiting for it.
  g_signals = g_signals + 1;
  if (g_signals >= 3) ::_exit(1);
  if (TargetDaemon* d = g_daemon.load()) d->request_stop();
}

struct Args {
  std::string nqn, iface, ethertype = "0x88b5", log_level, config, link = default_link_name();
  std::vector<std::string> allow_hosts, devices;
  // DH-HMAC-CHAP of --allow-host hosts: [HOSTNQN=]SECRET|FILE each; hash and group for all of them.
  std::vector<std::string> dhchap_keys, dhchap_ctrl_keys;
  std::string dhchap_hash, dhchap_dhgroup;
  bool readonly = false, dump_config = false;
  int verbose = 0;
  uint32_t poll_us = 50;  // a QD1 round trip here takes ~15 µs with both ends spinning; a sleep costs more
  std::string tx_thread = "off";
  std::map<std::string, uint64_t> limits;  // resource limits given as flags (override the file's)
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

// The inode of this process's network namespace: /run is shared between namespaces, so the lock
// name must say which one the interface belongs to.
uint64_t netns_inode() {
  struct stat st;
  return ::stat("/proc/self/ns/net", &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

// One target process per interface and EtherType: a second one on the same pair would answer the
// same frames (both see every frame of the EtherType), so hosts would get answers from a target
// that does not have their subsystem. Several subsystems on one interface go in one --config file.
std::string target_lock_path(const std::string& iface, uint16_t ethertype) {
  char tag[64];
  std::snprintf(tag, sizeof tag, "-%04x-%016" PRIx64 "-net%" PRIu64, ethertype, cli::fnv1a64(iface), netns_inode());
  return cli::run_dir() + "/target-" + cli::sanitize_component(iface, 16) + tag + ".lock";
}

// --dhchap-key / --dhchap-ctrl-key [HOSTNQN=]SECRET|FILE for hosts of --allow-host (the NQN may be
// left out when there is one), and --dhchap-hash / --dhchap-dhgroup for all of them.
Status dhchap_from_args(const Args& a, TargetConfig* c) {
  auto add = [&](const std::string& value, const char* flag, bool ctrl) -> Status {
    std::string nqn, secret = value;
    size_t eq = value.find('=');
    if (value.compare(0, 4, "nqn.") == 0 && eq != std::string::npos) {
      nqn = value.substr(0, eq);
      secret = value.substr(eq + 1);
    } else if (a.allow_hosts.size() == 1) {
      nqn = a.allow_hosts[0];
    } else {
      return Status::error(std::string(flag) + ": give HOSTNQN=SECRET (or a file) when there is not exactly one " +
                           "--allow-host");
    }
    if (std::find(a.allow_hosts.begin(), a.allow_hosts.end(), nqn) == a.allow_hosts.end())
      return Status::error(std::string(flag) + ": host '" + nqn + "' is not given with --allow-host");
    auto key = auth::load_secret(secret, flag);
    if (!key) return key.status();
    HostDhchapConfig& d = c->dhchap[nqn];
    std::string& slot = ctrl ? d.ctrl_key : d.key;
    if (!slot.empty()) return Status::error(std::string(flag) + ": given twice for host '" + nqn + "'");
    slot = auth::format_secret(key->transform(), key->key());
    return Status::ok();
  };
  for (const auto& v : a.dhchap_keys) NVMEOE_RETURN_IF_ERROR(add(v, "--dhchap-key", false));
  for (const auto& v : a.dhchap_ctrl_keys) NVMEOE_RETURN_IF_ERROR(add(v, "--dhchap-ctrl-key", true));
  auth::HashId hash;
  if (!a.dhchap_hash.empty() && !auth::parse_hash_name(a.dhchap_hash, &hash))
    return Status::error("--dhchap-hash: unknown hash '" + a.dhchap_hash + "': hmac(sha256), hmac(sha384) or " +
                         "hmac(sha512)");
  auth::DhGroup group;
  if (!a.dhchap_dhgroup.empty() && !auth::parse_dhgroup_name(a.dhchap_dhgroup, &group))
    return Status::error("--dhchap-dhgroup: unknown DH group '" + a.dhchap_dhgroup + "': null, ffdhe2048, " +
                         "ffdhe3072, ffdhe4096, ffdhe6144 or ffdhe8192");
  if ((!a.dhchap_hash.empty() || !a.dhchap_dhgroup.empty()) && a.dhchap_keys.empty())
    return Status::error("--dhchap-hash and --dhchap-dhgroup apply to hosts with a --dhchap-key");
  for (auto& [nqn, d] : c->dhchap) {
    if (d.key.empty()) return Status::error("--dhchap-ctrl-key: host '" + nqn + "' has no --dhchap-key");
    if (!a.dhchap_hash.empty()) d.hash = auth::hash_name(hash);
    if (!a.dhchap_dhgroup.empty()) d.dhgroup = auth::dhgroup_name(group);
  }
  return Status::ok();
}

// The command-line form as a configuration: one subsystem on one port.
Result<TargetConfig> config_from_args(const Args& a) {
  if (a.nqn.empty() || a.iface.empty() || a.devices.empty())
    return Status::error("give --config FILE, or --nqn, --iface and at least one device (see --help)");
  if (std::string why = nqn_problem(a.nqn); !why.empty()) return Status::error("--nqn: " + why);
  for (const auto& host : a.allow_hosts)
    if (std::string why = nqn_problem(host); !why.empty()) return Status::error("--allow-host: " + why);
  uint16_t ethertype = kDefaultEtherType;
  if (!parse_ethertype(a.ethertype, &ethertype))
    return Status::error("--ethertype: invalid EtherType '" + a.ethertype +
                         "': expected a value from 0x0600 to 0xffff, like 0x88b5");
  TargetConfig c;
  SubsystemConfig sub;
  sub.nqn = a.nqn;
  sub.allow_any_host = a.allow_hosts.empty();
  for (const auto& h : a.allow_hosts) {
    if (std::find(c.hosts.begin(), c.hosts.end(), h) != c.hosts.end()) continue;
    c.hosts.push_back(h);
    sub.allowed_hosts.push_back(h);
  }
  NVMEOE_RETURN_IF_ERROR(dhchap_from_args(a, &c));
  for (size_t i = 0; i < a.devices.size(); ++i) {
    NamespaceConfig ns;
    ns.nsid = uint32_t(i + 1);
    ns.path = a.devices[i];
    ns.readonly = a.readonly;
    sub.namespaces.push_back(ns);
  }
  c.subsystems.push_back(std::move(sub));
  PortConfig port;
  port.portid = 1;
  port.traddr = a.iface;
  char et[8];
  std::snprintf(et, sizeof et, "0x%04x", ethertype);
  port.trsvcid = et;
  port.ethertype = ethertype;
  port.subsystems.push_back(a.nqn);
  c.ports.push_back(std::move(port));
  return c;
}

int serve(const TargetConfig& config, const std::string& file, const Args& a) {
  if (config.ports.empty()) {
    LOG_ERROR("%s: ports: no port to serve on", file.c_str());  // only a file can say so (before any lock)
    return 1;
  }
  // Refuse a second target on the same interface and EtherType before touching any device.
  if (Status s = cli::ensure_run_dir(cli::run_dir()); !s) {
    LOG_ERROR("%s", s.message().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<cli::LockFile>> locks;
  std::string first_lock_path;  // names the control socket
  auto release_locks = [&locks] {
    for (auto& l : locks) l->release(true);
  };
  for (const auto& port : config.ports) {
    auto lock = std::make_unique<cli::LockFile>();
    std::string lock_error;
    const std::string lock_path = target_lock_path(port.traddr, port.ethertype);
    switch (lock->try_lock(lock_path, &lock_error)) {
      case cli::LockFile::Outcome::kLocked:
        lock->write_pid();
        locks.push_back(std::move(lock));
        if (first_lock_path.empty()) first_lock_path = lock_path;
        break;
      case cli::LockFile::Outcome::kBusy: {
        int pid = cli::read_lock_pid(lock_path);
        LOG_ERROR(
            "another nvmeoe-target%s already serves %s (EtherType 0x%04x) in this network namespace: one target "
            "process per interface; to serve several subsystems on %s, list them all in one --config FILE.json "
            "(nvmeoe-target --config, README \"Configuration files\")",
            pid > 0 ? (" (pid " + std::to_string(pid) + ")").c_str() : "", port.traddr.c_str(), port.ethertype,
            port.traddr.c_str());
        release_locks();
        return 1;
      }
      case cli::LockFile::Outcome::kError:
        LOG_ERROR("%s", lock_error.c_str());
        release_locks();
        return 1;
    }
  }

  const LinkKind link_kind = *parse_link_kind(a.link);  // checked in main
  std::vector<std::unique_ptr<Link>> links;
  for (size_t i = 0; i < config.ports.size(); ++i) {
    const PortConfig& pc = config.ports[i];
    auto link = open_link(link_kind, pc.traddr, pc.ethertype, kMinMtu);
    if (!link) {
      if (file.empty())
        LOG_ERROR("%s", link.status().message().c_str());
      else
        LOG_ERROR("%s: ports[%zu].addr.traddr: %s", file.c_str(), i, link.status().message().c_str());
      release_locks();
      return 1;
    }
    links.push_back(std::move(link).value());
  }

  DaemonOptions options;
  options.config_file = a.config;
  options.limit_flags = a.limits;
  options.transport.poll_us = a.poll_us;
  // auto: only with cores to spare beyond the loop's; on 2 cores shared with the host side the
  // hand-over cost more than it saved (docs/PERFORMANCE.md).
  options.transport.tx_thread = a.tx_thread == "on" || (a.tx_thread == "auto" && usable_cpus() >= 4);
  LOG_DEBUG("send thread per port: %s", options.transport.tx_thread ? "yes" : "no");
  // One statistics socket per process, named after its first lock.
  options.control_socket = target_socket_path(
      first_lock_path.empty() ? target_lock_path(config.ports[0].traddr, config.ports[0].ethertype) : first_lock_path);
  auto daemon = TargetDaemon::create(config, std::move(links), std::move(options));
  if (!daemon) {
    LOG_ERROR("%s", daemon.status().message().c_str());
    release_locks();
    return 1;
  }

  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = a.config.empty() ? SIG_IGN : on_reload_signal;
  sigemptyset(&hup.sa_mask);
  ::sigaction(SIGHUP, &hup, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  g_daemon.store(daemon->get());
  if (g_signals) (*daemon)->request_stop();  // a signal before the handler could see the daemon

  Status s = (*daemon)->run();
  g_daemon.store(nullptr);
  release_locks();
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
  CLI::App app{"nvmeoe-target: serve NVMe subsystems over raw Ethernet (EtherType 0x88B5)", "nvmeoe-target"};
  app.set_version_flag("--version", "nvmeoe-target version " NVMEOE_VERSION);
  app.add_option("--config", a.config, "Serve what this nvmetcli-layout JSON file describes (SIGHUP re-reads it)");
  app.add_flag("--dump-config", a.dump_config,
               "Print the configuration (from --config or the options) as JSON and exit");
  app.add_option("--nqn", a.nqn, "Subsystem NQN to serve (starts with \"nqn.\")");
  app.add_option("--iface", a.iface, "Network interface to serve on");
  app.add_option("--allow-host", a.allow_hosts, "Host NQN allowed to connect (repeatable; default: any host)")
      ->allow_extra_args(false);  // one value each time, so the devices that follow stay devices
  app.add_flag("--readonly", a.readonly, "Export every namespace read-only");
  app.add_option("--dhchap-key", a.dhchap_keys,
                 "[HOSTNQN=]SECRET|FILE: the DH-HMAC-CHAP secret an --allow-host host must prove it holds "
                 "(repeatable; HOSTNQN may be left out with one --allow-host)")
      ->allow_extra_args(false)
      ->group("Authentication");
  app.add_option("--dhchap-ctrl-key", a.dhchap_ctrl_keys,
                 "[HOSTNQN=]SECRET|FILE: the controller's secret, for hosts that authenticate it too (bidirectional)")
      ->allow_extra_args(false)
      ->group("Authentication");
  app.add_option("--dhchap-hash", a.dhchap_hash,
                 "HMAC of DH-HMAC-CHAP: hmac(sha256) (default), hmac(sha384), hmac(sha512)")
      ->group("Authentication");
  app.add_option("--dhchap-dhgroup", a.dhchap_dhgroup,
                 "DH group the hosts must use: null (default, no DH), ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, "
                 "ffdhe8192")
      ->group("Authentication");
  app.add_option("--ethertype", a.ethertype, "EtherType of nvmeoe frames")->capture_default_str();
  app.add_option("--tx-thread", a.tx_thread,
                 "Send large frame batches from a second thread per port: on, off, auto (on with 4+ CPUs)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app.add_option("--link", a.link,
                 "How frames reach the network: packet (AF_PACKET) or af_xdp (an XDP program and AF_XDP "
                 "sockets); default from NVMEOE_LINK, else packet")
      ->capture_default_str();
  app.add_option("--poll-us", a.poll_us, "Busy-poll this many microseconds before sleeping (lower latency, more CPU)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--log-level", a.log_level, "Log level: error, warn, info, debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  app.add_flag("-v,--verbose", a.verbose, "Debug logging");
  app.add_option("devices", a.devices, "Block device, file, or mem:SIZE (e.g. mem:20G); NSIDs 1..N in order");
  // Resource limits (docs/OPERATIONS.md "Resource limits"): one flag per key of the "limits"
  // object of a configuration file; a flag overrides the file.
  std::vector<std::pair<std::string, uint64_t>> limit_values(limit_keys().size());
  for (size_t i = 0; i < limit_keys().size(); ++i) {
    const LimitKey& k = limit_keys()[i];
    limit_values[i].first = k.key;
    limit_values[i].second = get_limit(ResourceLimits{}, k.key);
    app.add_option(limit_flag(k), limit_values[i].second, k.help)
        ->check(CLI::Range(k.lo, k.hi))
        ->capture_default_str()
        ->group("Resource limits");
  }
  app.footer(
      "Examples:\n"
      "  nvmeoe-target --nqn nqn.2024-01.io.nvmeoe:disk1 --iface eth1 mem:20G\n"
      "  nvmeoe-target --nqn nqn.2024-01.io.nvmeoe:disk1 --iface eth1 /dev/nvme0n1 /var/lib/nvmeoe/disk2.img\n"
      "  nvmeoe-target --nqn nqn.2024-01.io.nvmeoe:ro --iface eth1 --readonly \\\n"
      "      --allow-host nqn.2014-08.org.nvmexpress:uuid:4c4c4544-0034-5a10-8052-b4c04f333232 /srv/image.raw\n"
      "  nvmeoe-target --nqn nqn.2024-01.io.nvmeoe:disk1 --iface eth1 --dhchap-key /etc/nvmeoe/host1.key \\\n"
      "      --allow-host nqn.2014-08.org.nvmexpress:uuid:4c4c4544-0034-5a10-8052-b4c04f333232 mem:1G\n"
      "  nvmeoe-target --config /etc/nvmeoe/lab.json\n"
      "  nvmeoe-target --nqn nqn.2024-01.io.nvmeoe:disk1 --iface eth1 mem:20G --dump-config > "
      "/etc/nvmeoe/disk1.json\n\n"
      "Needs CAP_NET_RAW (root; --link af_xdp also CAP_NET_ADMIN and CAP_BPF). One target process per\n"
      "interface and EtherType (several subsystems on one interface: --config); lock files live in\n"
      "$NVMEOE_RUN_DIR (default /run/nvmeoe). SIGINT/SIGTERM stop it\n"
      "cleanly; with --config, SIGHUP re-reads the file and applies the difference (a file with an\n"
      "error changes nothing).");
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

  if (Result<LinkKind> kind = parse_link_kind(a.link); !kind) {
    // The option's value, or NVMEOE_LINK's when the option was not given.
    LOG_ERROR("%s: %s", app.count("--link") ? "--link" : "NVMEOE_LINK", kind.status().message().c_str());
    return 1;
  }
  for (size_t i = 0; i < limit_keys().size(); ++i)
    if (app.count(limit_flag(limit_keys()[i]))) a.limits[limit_values[i].first] = limit_values[i].second;
  if (!a.config.empty() &&
      (!a.nqn.empty() || !a.iface.empty() || !a.devices.empty() || !a.allow_hosts.empty() || a.readonly ||
       !a.dhchap_keys.empty() || !a.dhchap_ctrl_keys.empty() || !a.dhchap_hash.empty() || !a.dhchap_dhgroup.empty())) {
    LOG_ERROR(
        "--config describes everything: it excludes --nqn, --iface, --allow-host, --readonly, --dhchap-* and devices");
    return 1;
  }
  Result<TargetConfig> config = a.config.empty() ? config_from_args(a) : load_target_config(a.config, !a.dump_config);
  if (!config) {
    LOG_ERROR("%s", config.status().message().c_str());
    return 1;
  }
  for (const auto& [key, value] : a.limits) config->limits[key] = value;
  {
    ResourceLimits l;
    Status ls = set_limits(&l, config->limits);
    if (ls) ls = check_limits(l, TargetLimits{}.max_transfer);
    if (!ls) {
      LOG_ERROR("%s", ls.message().c_str());
      return 1;
    }
  }
  if (a.dump_config) {
    std::fputs(dump_target_config(*config).c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  if (std::string why = cli::raw_socket_privilege_problem("nvmeoe-target"); !why.empty()) {
    LOG_ERROR("%s", why.c_str());
    return 1;
  }
  return serve(*config, a.config, a);
}
