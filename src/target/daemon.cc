#include "target/daemon.h"

#include <sys/stat.h>
#include <sys/sysinfo.h>

#include <cstdio>

#include "auth/crypto.h"
#include "backend/backend.h"
#include "common/log.h"
#include "target/config_apply.h"
#include "target/resource_limits.h"

namespace nvmeoe {

namespace {

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

std::string describe_subsystem(const Subsystem& s) {
  std::string out;
  for (const auto& ns : s.namespaces) {
    const BackendCaps& caps = ns->backend->caps();
    out += (out.empty() ? "" : ", ") + std::to_string(ns->nsid) + " (" + human_size(caps.size_bytes) + ", " +
           std::to_string(caps.block_size) + " B blocks" + (ns->read_only ? ", read-only" : "") + ")";
  }
  return out.empty() ? "no namespaces" : out;
}

// mem:SIZE namespaces take their memory as they are written, so a size beyond the machine's memory
// starts fine and fails later (the OOM killer, or allocation errors on writes): say so at start.
void warn_if_ram_exceeds_memory(const TargetConfig& config, const std::vector<std::unique_ptr<Subsystem>>& subs) {
  uint64_t ram_bytes = 0;
  std::string names;
  for (const auto& sub : subs) {
    const SubsystemConfig* sc = nullptr;
    for (const auto& c : config.subsystems)
      if (c.nqn == sub->nqn) sc = &c;
    if (!sc) continue;
    for (const auto& ns : sub->namespaces)
      for (const auto& nc : sc->namespaces)
        if (nc.nsid == ns->nsid && nc.path.compare(0, 4, "mem:") == 0) {
          ram_bytes += ns->backend->caps().size_bytes;
          names +=
              (names.empty() ? "" : ", ") + sub->nqn + " namespace " + std::to_string(ns->nsid) + " (" + nc.path + ")";
        }
  }
  struct sysinfo si {};
  if (ram_bytes == 0 || ::sysinfo(&si) != 0) return;
  const uint64_t total = uint64_t(si.totalram) * si.mem_unit;
  if (ram_bytes <= total) return;
  LOG_WARN(
      "RAM namespaces total %s, more than this machine's memory (%s): %s. They are allocated as they are "
      "written, so writes will fail or the OOM killer will stop this target once memory runs out; use a "
      "file or block device for that much",
      human_size(ram_bytes).c_str(), human_size(total).c_str(), names.c_str());
}

}  // namespace

Result<std::unique_ptr<TargetDaemon>> TargetDaemon::create(const TargetConfig& config,
                                                           std::vector<std::unique_ptr<Link>> links,
                                                           DaemonOptions options) {
  const std::string file = options.config_file;  // a copy: `options` moves into the daemon
  if (config.ports.empty()) return Status::error(file + ": ports: no port to serve on");
  if (links.size() != config.ports.size())
    return Status::error("the configuration has " + std::to_string(config.ports.size()) + " ports, but " +
                         std::to_string(links.size()) + " links were given");
  TargetConfig effective = config;
  for (const auto& [key, value] : options.limit_flags) effective.limits[key] = value;
  NVMEOE_RETURN_IF_ERROR(set_limits(&options.transport.limits, effective.limits));

  std::unique_ptr<TargetDaemon> d(new TargetDaemon(effective, std::move(options)));
  auto subsystems = build_subsystems(effective, file);
  if (!subsystems) return subsystems.status();
  warn_if_ram_exceeds_memory(effective, *subsystems);
  auto host_auth = build_host_auth(effective, file);
  if (!host_auth) return host_auth.status();
  for (const auto& [nqn, ha] : *host_auth)
    LOG_INFO("host %s must authenticate: DH-HMAC-CHAP %s, DH group %s%s", nqn.c_str(),
             auth::hash_name(ha->hash).c_str(), auth::dhgroup_name(ha->dhgroup).c_str(),
             ha->ctrl_key.empty() ? "" : ", controller key for bidirectional authentication");
  struct stat fst {};
  if (!host_auth->empty() && !file.empty() && ::stat(file.c_str(), &fst) == 0 && (fst.st_mode & 077))
    LOG_WARN("%s holds DH-HMAC-CHAP secrets and is readable by others (mode %03o): chmod 600 it", file.c_str(),
             unsigned(fst.st_mode & 0777));
  d->core_.set_host_auth(std::move(host_auth).value());
  for (auto& sub : *subsystems) {
    std::string what = sub->nqn + ": " + describe_subsystem(*sub);
    if (Status s = d->core_.add_subsystem(std::move(sub)); !s)
      return Status::error(file + (file.empty() ? "" : ": ") + s.message(), s.err());
    LOG_INFO("namespaces of %s", what.c_str());
  }

  std::vector<std::string> macs;
  std::vector<TargetPort> ports;
  for (auto& link : links) {
    macs.push_back(link->local_mac().str());
    TargetPort port;
    port.link = std::move(link);
    ports.push_back(std::move(port));
  }
  d->core_.set_ports(ports_for(effective, macs));
  // The one place the transport is made: every port, one thread.
  d->transport_ = std::make_unique<TargetTransport>(&d->core_, std::move(ports), d->options_.transport);
  if (!d->options_.config_file.empty()) d->transport_->set_reload_handler([raw = d.get()] { raw->reload(); });
  d->log_what_is_served(macs);
  return d;
}

TargetDaemon::~TargetDaemon() = default;

void TargetDaemon::log_what_is_served(const std::vector<std::string>& macs) const {
  for (size_t i = 0; i < current_.ports.size(); ++i) {
    const PortConfig& pc = current_.ports[i];
    std::string subs;
    for (const auto& nqn : pc.subsystems) subs += (subs.empty() ? "" : ", ") + nqn;
    LOG_INFO("serving %s on %s (%s, EtherType 0x%04x, port %u)", subs.empty() ? "nothing" : subs.c_str(),
             pc.traddr.c_str(), macs[i].c_str(), pc.ethertype, pc.portid);
  }
  for (const auto& sub : current_.subsystems) {
    if (sub.allow_any_host) {
      LOG_INFO("%s: any host may connect", sub.nqn.c_str());
    } else {
      std::string hosts;
      for (const auto& h : sub.allowed_hosts) hosts += (hosts.empty() ? "" : ", ") + h;
      LOG_INFO("%s: allowed hosts: %s", sub.nqn.c_str(), hosts.empty() ? "none" : hosts.c_str());
    }
  }
}

// On the transport thread, between two loop turns.
void TargetDaemon::reload() {
  const std::string& file = options_.config_file;
  LOG_INFO("SIGHUP: re-reading %s", file.c_str());
  auto next = load_target_config(file);
  if (!next) {
    LOG_ERROR("configuration not changed: %s", next.status().message().c_str());
    return;
  }
  for (const auto& [key, value] : options_.limit_flags) next->limits[key] = value;  // the flags still win
  std::vector<std::string> summary;
  if (Status s = apply_config_change(core_, current_, *next, file, &summary); !s) {
    LOG_ERROR("configuration not changed: %s", s.message().c_str());
    return;
  }
  current_ = std::move(next).value();
  if (summary.empty()) summary.push_back("no change");
  for (const auto& line : summary) LOG_INFO("reload: %s", line.c_str());
}

Status TargetDaemon::run() {
  // Statistics for `nvmeoe target-stats`: one socket per process, one source per port.
  std::unique_ptr<TargetControlServer> control;
  if (!options_.control_socket.empty()) {
    std::vector<TargetControlServer::Source> sources;
    for (size_t i = 0; i < current_.ports.size(); ++i) {
      std::string name = current_.ports[i].traddr;
      for (const auto& nqn : current_.ports[i].subsystems) name += " " + nqn;
      sources.push_back({name, transport_.get(), i});
    }
    auto started = TargetControlServer::start(options_.control_socket, std::move(sources));
    if (started)
      control = std::move(started).value();
    else
      LOG_WARN("no statistics socket: %s", started.status().message().c_str());
  }
  Status s = transport_->run();
  control.reset();
  return s;
}

}  // namespace nvmeoe
