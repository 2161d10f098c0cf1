// `nvmeoe discover` and `nvmeoe connect-all`: find targets with a Discover Query (broadcast, or to
// one MAC) and list or connect to every subsystem they offer this host.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/agent.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/connect_args.h"
#include "cli/discovery_log.h"
#include "cli/privileges.h"
#include "cli/size_format.h"
#include "cli/stale.h"
#include "common/log.h"
#include "host/discovery.h"
#include "wire/frame.h"

namespace nvmeoe::cli {

namespace {

constexpr unsigned kDefaultTimeoutMs = 1000;

struct DiscoverArgs {
  std::string traddr, nqn, host_iface, hostnqn, ethertype = "0x88b5", output = "normal", link, transport = "eth";
  unsigned timeout_ms = kDefaultTimeoutMs;
  bool log_page = false;
  LogOptions log;
};

std::string ethertype_text(uint16_t et) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", et);
  return buf;
}

// Runs the query; on success `*out` holds every answering target (possibly none).
Status run_query(const std::string& iface, const std::string& link_name, uint16_t ethertype, const std::string& hostnqn,
                 const std::string& subnqn, const std::string& traddr, unsigned timeout_ms,
                 std::vector<DiscoveredTarget>* out) {
  auto kind = parse_link_kind(link_name);
  if (!kind) return kind.status();
  auto link = open_link(*kind, iface, ethertype, kMinMtu);
  if (!link) return link.status();
  DiscoveryRequest req;
  req.hostnqn = hostnqn;
  req.subnqn = subnqn;
  req.timeout = std::chrono::milliseconds(timeout_ms);
  if (!traddr.empty()) req.target = *MacAddress::parse(traddr);
  auto targets = discover_targets(**link, req);
  if (!targets) return targets.status();
  *out = std::move(targets).value();
  return Status::ok();
}

void print_records(const std::vector<DiscoveredTarget>& targets, uint16_t ethertype, bool json) {
  size_t records = 0;
  for (const auto& t : targets) records += t.subsystems.size();
  if (json) {
    // nvme-cli's json_discovery_log() record fields and order, then nvmeoe's (the Discover Reply
    // also says how much each subsystem offers). A broadcast answer has no generation counter or
    // port ID: genctr and portid are 0 (--log-page reads the real ones).
    nlohmann::ordered_json recs = nlohmann::ordered_json::array();
    for (const auto& t : targets)
      for (const auto& e : t.subsystems) {
        nlohmann::ordered_json r;
        r["trtype"] = trtype_name(kTrtypeEth);
        r["adrfam"] = adrfam_name(kAdrfamEthMac);
        r["subtype"] = subtype_name(kSubtypeNvm);
        r["treq"] = "not specified";
        r["portid"] = 0;
        r["trsvcid"] = ethertype_text(ethertype);
        r["subnqn"] = e.subnqn;
        r["traddr"] = t.mac.str();
        r["eflags"] = eflags_name(0);
        r["namespaces"] = e.namespaces;
        r["capacity"] = e.capacity_bytes;
        r["readonly"] = e.read_only;
        recs.push_back(std::move(r));
      }
    nlohmann::ordered_json doc;
    doc["genctr"] = 0;
    doc["records"] = std::move(recs);
    doc["targets"] = targets.size();
    std::printf("%s\n", doc.dump(2).c_str());
    return;
  }
  std::printf("\nDiscovery Log Number of Records %zu, from %zu target%s\n", records, targets.size(),
              targets.size() == 1 ? "" : "s");
  size_t i = 0;
  for (const auto& t : targets)
    for (const auto& e : t.subsystems) {
      std::printf("=====Discovery Log Entry %zu======\n", i++);
      std::printf("trtype:  eth\n");
      std::printf("subtype: nvme subsystem\n");
      std::printf("trsvcid: %s\n", ethertype_text(ethertype).c_str());
      std::printf("subnqn:  %s\n", e.subnqn.c_str());
      std::printf("traddr:  %s\n", t.mac.str().c_str());
      std::printf("nsnum:   %u\n", e.namespaces);
      std::printf("size:    %s\n", format_si_bytes(e.capacity_bytes).c_str());
      std::printf("access:  %s\n", e.read_only ? "read-only" : "read-write");
    }
}

int run_discover(const DiscoverArgs& a) {
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  if (std::string why = raw_socket_privilege_problem("nvmeoe discover"); !why.empty()) {
    std::fprintf(stderr, "%s\n", why.c_str());
    return 1;
  }
  if (!check_link_name(a.link)) return 1;
  uint16_t ethertype = *parse_ethertype(a.ethertype);
  std::string hostnqn = a.hostnqn.empty() ? default_hostnqn() : a.hostnqn;
  if (a.log_page) {
    if (a.traddr.empty()) {
      std::fprintf(stderr, "--log-page needs -a MAC: the discovery controller of one target\n");
      return 1;
    }
    return print_discovery_log_page(a.host_iface, a.link, ethertype, hostnqn, a.traddr, a.output == "json");
  }
  std::vector<DiscoveredTarget> targets;
  if (Status s = run_query(a.host_iface, a.link, ethertype, hostnqn, a.nqn, a.traddr, a.timeout_ms, &targets); !s) {
    std::fprintf(stderr, "discover failed: %s\n", s.message().c_str());
    return 1;
  }
  if (targets.empty()) {
    if (!a.traddr.empty()) {
      // Like nvme-cli failing to reach one discovery controller: an error.
      std::fprintf(stderr, "no answer from %s on %s within %u ms\n", a.traddr.c_str(), a.host_iface.c_str(),
                   a.timeout_ms);
      return 1;
    }
    std::fprintf(stderr, "no targets answered on %s within %u ms\n", a.host_iface.c_str(), a.timeout_ms);
  }
  // A target answers even when it offers this host nothing: its allow-lists leave the host out
  // (the Discover Reply cannot tell that from a subsystem it does not serve, so both are named).
  for (const auto& t : targets) {
    if (!t.subsystems.empty()) continue;
    const std::string what = a.nqn.empty() ? "subsystem" : a.nqn;
    std::fprintf(stderr,
                 "target %s refused host %s: it offers it no %s%s (the subsystem's allow-list does not include "
                 "this host, or the target does not serve it; see nvmeoe-target --allow-host)\n",
                 t.mac.str().c_str(), hostnqn.c_str(), a.nqn.empty() ? "" : "access to ", what.c_str());
  }
  print_records(targets, ethertype, a.output == "json");
  return 0;
}

struct ConnectAllArgs {
  ConnectArgs connect;
  unsigned timeout_ms = kDefaultTimeoutMs;
};

int run_connect_all(const ConnectAllArgs& a) {
  apply_log_options(a.connect.log, static_cast<int>(LogLevel::kWarn));
  if (std::string why = raw_socket_privilege_problem("nvmeoe connect-all"); !why.empty()) {
    std::fprintf(stderr, "%s\n", why.c_str());
    return 1;
  }
  ConnectOptions base = connect_options_from(a.connect);
  AgentFrontendOptions fe;
  if (!frontend_options_from(a.connect, &fe) || !check_link_name(base.link)) return 1;
  clean_up_dead_controllers();
  std::vector<DiscoveredTarget> targets;
  if (Status s = run_query(base.host_iface, base.link, base.ethertype, base.hostnqn, a.connect.nqn, a.connect.traddr,
                           a.timeout_ms, &targets);
      !s) {
    std::fprintf(stderr, "discover failed: %s\n", s.message().c_str());
    return 1;
  }
  if (targets.empty()) {
    std::fprintf(stderr, "no targets answered on %s within %u ms\n", base.host_iface.c_str(), a.timeout_ms);
    return a.connect.traddr.empty() ? 0 : 1;
  }
  int failures = 0;
  for (const auto& t : targets)
    for (const auto& e : t.subsystems) {
      ConnectOptions o = base;
      o.target_mac = t.mac.str();
      o.subnqn = e.subnqn;
      if (!a.connect.duplicate_connect) {
        std::string existing = existing_connection(o);
        if (!existing.empty()) {
          std::fprintf(stderr, "%s at %s: already connected as %s\n", o.subnqn.c_str(), o.target_mac.c_str(),
                       existing.c_str());
          continue;
        }
      }
      std::fflush(stdout);
      if (start_agent(o, fe, agent_wait_limit(o)) != 0) {
        std::fprintf(stderr, "%s at %s: connect failed\n", o.subnqn.c_str(), o.target_mac.c_str());
        ++failures;
      }
      std::fflush(stdout);
    }
  return failures ? 1 : 0;
}

}  // namespace

Subcommand add_discover_command(CLI::App& parent) {
  auto a = std::make_shared<DiscoverArgs>();
  CLI::App* app = parent.add_subcommand("discover", "Find targets and the subsystems they offer this host");
  app->add_option("-f,--host-iface", a->host_iface, "Local network interface to query on")->required();
  app->add_option("-t,--transport", a->transport, "Transport type: eth (raw Ethernet), the only one")
      ->check(transport_validator())
      ->capture_default_str();
  app->add_option("-a,--traddr", a->traddr, "Ask only this target MAC (default: broadcast)")->check(mac_validator());
  app->add_option("-n,--nqn", a->nqn, "Only this subsystem NQN")->check(nqn_validator());
  app->add_option("-q,--hostnqn", a->hostnqn, "Host NQN (default: /etc/nvme/hostnqn, else generated)")
      ->check(nqn_validator());
  app->add_option("-s,--trsvcid,--ethertype", a->ethertype,
                  "EtherType of nvmeoe frames (nvme-cli's transport service ID)")
      ->check(ethertype_validator())
      ->capture_default_str();
  add_link_option(*app, &a->link);
  app->add_option("--timeout", a->timeout_ms, "Milliseconds to collect answers")
      ->check(int_range_validator(10, 60000, "the discovery timeout"))
      ->capture_default_str();
  app->add_option("-o,--output-format", a->output, "Output format: normal or json")
      ->check(CLI::IsMember({"normal", "json"}))
      ->capture_default_str();
  app->add_flag("--log-page", a->log_page,
                "Read the Discovery Log Page (LID 70h) from the target's discovery controller (needs -a)");
  add_log_options(*app, &a->log);
  app->footer(
      "Without -a the query is broadcast and every target on the segment that serves a subsystem\n"
      "this host may use answers. Exit status 0 also when no target answered (\"no targets answered\"\n"
      "on stderr); with -a a silent target is an error.\n\n"
      "Examples:\n"
      "  nvmeoe discover --host-iface eth1\n"
      "  nvmeoe discover --host-iface eth1 -n nqn.2024-01.io.nvmeoe:disk1 -o json\n"
      "  nvmeoe discover --host-iface eth1 -a 02:00:00:00:00:01 --log-page");
  return {app, [a] { return run_discover(*a); }};
}

Subcommand add_connect_all_command(CLI::App& parent) {
  auto a = std::make_shared<ConnectAllArgs>();
  CLI::App* app = parent.add_subcommand("connect-all", "Discover targets and connect to every subsystem found");
  app->add_option("-f,--host-iface", a->connect.host_iface, "Local network interface to use")->required();
  app->add_option("-t,--transport", a->connect.transport, "Transport type: eth (raw Ethernet), the only one")
      ->check(transport_validator())
      ->capture_default_str();
  app->add_option("-a,--traddr", a->connect.traddr, "Ask only this target MAC (default: broadcast)")
      ->check(mac_validator());
  app->add_option("-n,--nqn", a->connect.nqn, "Only this subsystem NQN")->check(nqn_validator());
  app->add_option("--timeout", a->timeout_ms, "Milliseconds to collect discovery answers")
      ->check(int_range_validator(10, 60000, "the discovery timeout"))
      ->capture_default_str();
  add_connect_tuning_options(*app, &a->connect);
  add_log_options(*app, &a->connect.log);
  app->footer(
      "Prints one controller name per new connection. Subsystems already connected through the same\n"
      "interface (same target MAC, NQN and host NQN) are skipped with a note on stderr.\n\n"
      "Examples:\n"
      "  nvmeoe connect-all --host-iface eth1\n"
      "  nvmeoe connect-all --host-iface eth1 -n nqn.2024-01.io.nvmeoe:disk1 -i 4 -Q 256");
  return {app, [a] { return run_connect_all(*a); }};
}

}  // namespace nvmeoe::cli
