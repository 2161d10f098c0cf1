// Building and re-applying target configurations.
#include "target/config_apply.h"

#include <map>
#include <set>

#include "auth/secret.h"
#include "backend/backend.h"
#include "common/log.h"

namespace nvmeoe {

namespace {

std::string ns_path(size_t sub, size_t ns) {
  return "subsystems[" + std::to_string(sub) + "].namespaces[" + std::to_string(ns) + "]";
}

Result<std::unique_ptr<Namespace>> build_namespace(const NamespaceConfig& c, const std::string& file,
                                                   const std::string& key) {
  auto backend = open_backend(c.path, c.readonly);
  if (!backend) {
    // The command-line form (no file) reports the device error as it is.
    if (file.empty()) return backend.status();
    return Status::error(file + ": " + key + ".device.path: " + backend.status().message());
  }
  auto ns = std::make_unique<Namespace>();
  ns->nsid = c.nsid;
  ns->read_only = c.readonly;
  if (!c.nguid.empty()) parse_nguid(c.nguid, ns->nguid.data());
  ns->backend = std::move(backend).value();
  return ns;
}

Result<std::unique_ptr<Subsystem>> build_subsystem(const SubsystemConfig& c, size_t index, const std::string& file) {
  auto sub = std::make_unique<Subsystem>();
  sub->nqn = c.nqn;
  sub->serial = c.serial;
  if (!c.model.empty()) sub->model = c.model;
  sub->allow_any_host = c.allow_any_host;
  sub->allowed_hosts.insert(c.allowed_hosts.begin(), c.allowed_hosts.end());
  for (size_t k = 0; k < c.namespaces.size(); ++k) {
    if (!c.namespaces[k].enable) continue;
    auto ns = build_namespace(c.namespaces[k], file, ns_path(index, k));
    if (!ns) return ns.status();
    sub->namespaces.push_back(std::move(ns).value());
  }
  return sub;
}

const NamespaceConfig* find_enabled(const SubsystemConfig& s, uint32_t nsid) {
  for (const auto& n : s.namespaces)
    if (n.nsid == nsid && n.enable) return &n;
  return nullptr;
}

}  // namespace

Result<std::map<std::string, std::shared_ptr<const HostAuth>>> build_host_auth(const TargetConfig& config,
                                                                               const std::string& file) {
  std::map<std::string, std::shared_ptr<const HostAuth>> out;
  const std::string where = file.empty() ? "" : file + ": ";
  for (const auto& [nqn, d] : config.dhchap) {
    if (d.key.empty()) continue;  // hash or group alone: nothing to authenticate with
    auto a = std::make_shared<HostAuth>();
    auto key = auth::parse_secret(d.key);
    if (!key) return Status::error(where + "host " + nqn + ": dhchap key: " + key.status().message());
    a->host_key = *key;
    if (!d.ctrl_key.empty()) {
      auto ck = auth::parse_secret(d.ctrl_key);
      if (!ck) return Status::error(where + "host " + nqn + ": dhchap ctrl_key: " + ck.status().message());
      a->ctrl_key = *ck;
    }
    if (!d.hash.empty() && !auth::parse_hash_name(d.hash, &a->hash))
      return Status::error(where + "host " + nqn + ": unknown dhchap hash '" + d.hash + "'");
    if (!d.dhgroup.empty() && !auth::parse_dhgroup_name(d.dhgroup, &a->dhgroup))
      return Status::error(where + "host " + nqn + ": unknown dhchap DH group '" + d.dhgroup + "'");
    out[nqn] = std::move(a);
  }
  return out;
}

Result<std::vector<std::unique_ptr<Subsystem>>> build_subsystems(const TargetConfig& config, const std::string& file) {
  std::vector<std::unique_ptr<Subsystem>> out;
  for (size_t i = 0; i < config.subsystems.size(); ++i) {
    auto sub = build_subsystem(config.subsystems[i], i, file);
    if (!sub) return sub.status();
    out.push_back(std::move(sub).value());
  }
  return out;
}

std::vector<Port> ports_for(const TargetConfig& config, const std::vector<std::string>& macs) {
  std::vector<Port> out;
  for (size_t i = 0; i < config.ports.size() && i < macs.size(); ++i) {
    Port d;
    d.portid = config.ports[i].portid;
    d.traddr = macs[i];
    d.ethertype = config.ports[i].ethertype;
    d.all_subsystems = false;
    d.subsystems.insert(config.ports[i].subsystems.begin(), config.ports[i].subsystems.end());
    out.push_back(std::move(d));
  }
  return out;
}

Status apply_config_change(TargetCore& core, const TargetConfig& current, const TargetConfig& next,
                           const std::string& file, std::vector<std::string>* summary) {
  // The resource limits size the transport's tables and pool: read once, at start.
  if (current.limits != next.limits)
    return Status::error(file + ": limits: changing the resource limits needs a restart");
  // 1. Ports keep their addresses: a listening interface cannot change under running associations.
  bool same_ports = current.ports.size() == next.ports.size();
  for (size_t i = 0; same_ports && i < next.ports.size(); ++i)
    same_ports = current.ports[i].portid == next.ports[i].portid && current.ports[i].traddr == next.ports[i].traddr &&
                 current.ports[i].ethertype == next.ports[i].ethertype;
  if (!same_ports)
    return Status::error(file +
                         ": ports: adding, removing or re-addressing a port needs a restart (portid, traddr "
                         "and trsvcid must stay as they are)");

  // 2. Open everything new before touching the core.
  std::map<std::string, std::unique_ptr<Subsystem>> new_subsystems;
  std::map<std::string, std::vector<std::unique_ptr<Namespace>>> new_namespaces;
  for (size_t i = 0; i < next.subsystems.size(); ++i) {
    const SubsystemConfig& n = next.subsystems[i];
    const SubsystemConfig* c = current.find_subsystem(n.nqn);
    if (!c) {
      auto sub = build_subsystem(n, i, file);
      if (!sub) return sub.status();
      new_subsystems[n.nqn] = std::move(sub).value();
      continue;
    }
    for (size_t k = 0; k < n.namespaces.size(); ++k) {
      const NamespaceConfig& ns = n.namespaces[k];
      if (!ns.enable) continue;
      const NamespaceConfig* old = find_enabled(*c, ns.nsid);
      if (old && *old == ns) continue;
      auto built = build_namespace(ns, file, ns_path(i, k));
      if (!built) return built.status();
      new_namespaces[n.nqn].push_back(std::move(built).value());
    }
  }

  auto host_auth = build_host_auth(next, file);
  if (!host_auth) return host_auth.status();

  // 3. Apply: nothing below fails.
  if (current.dhchap != next.dhchap) {
    // Controllers already up keep what they authenticated with; new ones (and reconnects) use these.
    core.set_host_auth(std::move(host_auth).value());
    summary->push_back("DH-HMAC-CHAP settings changed (they apply to new connections)");
  }
  for (const SubsystemConfig& c : current.subsystems) {
    if (next.find_subsystem(c.nqn)) continue;
    core.remove_subsystem(c.nqn);
    summary->push_back("removed subsystem " + c.nqn);
  }
  for (const SubsystemConfig& n : next.subsystems) {
    const SubsystemConfig* c = current.find_subsystem(n.nqn);
    if (!c) continue;
    Subsystem* sub = core.find_subsystem(n.nqn);
    if (!sub) continue;
    for (const NamespaceConfig& old : c->namespaces) {
      if (!old.enable) continue;
      const NamespaceConfig* now = find_enabled(n, old.nsid);
      if (now && *now == old) continue;
      core.remove_namespace(sub, old.nsid);
      summary->push_back(n.nqn + ": removed namespace " + std::to_string(old.nsid));
    }
    for (auto& ns : new_namespaces[n.nqn]) {
      uint32_t nsid = ns->nsid;
      if (Status s = core.add_namespace(sub, std::move(ns)); !s) return s;  // checked by the parser: cannot happen
      summary->push_back(n.nqn + ": added namespace " + std::to_string(nsid));
    }
    if (c->allow_any_host != n.allow_any_host || c->allowed_hosts != n.allowed_hosts) {
      core.set_allowed_hosts(sub, n.allow_any_host,
                             std::set<std::string>(n.allowed_hosts.begin(), n.allowed_hosts.end()));
      summary->push_back(n.nqn + ": allowed hosts changed");
    }
    if (!n.serial.empty()) sub->serial = n.serial;
    if (!n.model.empty()) sub->model = n.model;
  }
  for (auto& [nqn, sub] : new_subsystems) {
    if (Status s = core.add_subsystem(std::move(sub)); !s) return Status::error(file + ": " + s.message(), s.err());
    summary->push_back("added subsystem " + nqn);
  }

  for (size_t i = 0; i < next.ports.size(); ++i)
    if (current.ports[i].subsystems != next.ports[i].subsystems)
      summary->push_back("port " + std::to_string(next.ports[i].portid) + " (" + next.ports[i].traddr +
                         "): subsystems changed");
  // Discovery: the ports' subsystem lists, with the MACs the core already knows.
  std::vector<std::string> macs;
  for (const auto& d : core.ports()) macs.push_back(d.traddr);
  core.set_ports(ports_for(next, macs));
  core.configuration_changed();
  return Status::ok();
}

}  // namespace nvmeoe
