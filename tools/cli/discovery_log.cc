// The discovery controller client of `nvmeoe discover --log-page`.
#include "cli/discovery_log.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "host/discovery.h"
#include "nvme/spec.h"
#include "nvmeoe/host.h"

namespace nvmeoe::cli {

namespace {

const char* treq_name(uint8_t treq) {
  switch (treq & 3) {
    case 1:
      return "required";
    case 2:
      return "not required";
    default:
      return "not specified";
  }
}

}  // namespace

// libnvme's nvmf_eflags_str(): the names of bits 0 (EPCSD), 1 (DUPRETINFO) and 2 (NCC).
std::string eflags_name(uint16_t eflags) {
  static const char* kBits[] = {"explicit discovery connections", "duplicate discovery information",
                                "no cdc connectivity"};
  if ((eflags & 7) == 0) return "none";
  std::string out;
  for (int b = 0; b < 3; ++b)
    if (eflags & (1u << b)) out += (out.empty() ? "" : ", ") + std::string(kBits[b]);
  return out;
}

std::string format_discovery_log(const DiscoveryLog& log) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "\nDiscovery Log Number of Records %llu, Generation counter %llu\n",
                static_cast<unsigned long long>(log.numrec), static_cast<unsigned long long>(log.genctr));
  out += line;
  for (size_t i = 0; i < log.entries.size(); ++i) {
    const DiscoveryLogEntry& e = log.entries[i];
    std::snprintf(line, sizeof line,
                  "=====Discovery Log Entry %zu======\n"
                  "trtype:  %s\n"
                  "adrfam:  %s\n"
                  "subtype: %s\n"
                  "treq:    %s\n"
                  "portid:  %u\n"
                  "trsvcid: %s\n"
                  "subnqn:  %s\n"
                  "traddr:  %s\n"
                  "eflags:  %s\n",
                  i, trtype_name(e.trtype), adrfam_name(e.adrfam), subtype_name(e.subtype), treq_name(e.treq), e.portid,
                  e.trsvcid.c_str(), e.subnqn.c_str(), e.traddr.c_str(), eflags_name(e.eflags).c_str());
    out += line;
  }
  return out;
}

std::string format_discovery_log_json(const DiscoveryLog& log) {
  nlohmann::ordered_json doc;
  doc["genctr"] = log.genctr;
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  for (const DiscoveryLogEntry& e : log.entries) {
    nlohmann::ordered_json r;
    r["trtype"] = trtype_name(e.trtype);
    r["adrfam"] = adrfam_name(e.adrfam);
    r["subtype"] = subtype_name(e.subtype);
    r["treq"] = treq_name(e.treq);
    r["portid"] = e.portid;
    r["trsvcid"] = e.trsvcid;
    r["subnqn"] = e.subnqn;
    r["traddr"] = e.traddr;
    r["eflags"] = eflags_name(e.eflags);
    records.push_back(std::move(r));
  }
  doc["records"] = std::move(records);
  return doc.dump(2) + "\n";
}

int print_discovery_log_page(const std::string& iface, const std::string& link, uint16_t ethertype,
                             const std::string& hostnqn, const std::string& target_mac, bool json) {
  ConnectOptions o;
  o.host_iface = iface;
  o.target_mac = target_mac;
  o.subnqn = kDiscoveryNqn;
  o.hostnqn = hostnqn;
  o.ethertype = ethertype;
  o.link = link;
  o.kato_ms = 0;  // a short-lived discovery association, as nvme-cli's
  o.ctrl_loss_tmo = std::chrono::milliseconds(0);
  auto ctrl = HostController::connect(o);
  if (!ctrl) {
    std::fprintf(stderr, "discovery controller at %s: %s\n", target_mac.c_str(), ctrl.status().message().c_str());
    return 1;
  }
  auto log = read_discovery_log(**ctrl);
  (*ctrl)->disconnect();
  if (!log) {
    std::fprintf(stderr, "discovery controller at %s: %s\n", target_mac.c_str(), log.status().message().c_str());
    return 1;
  }
  std::string text = json ? format_discovery_log_json(*log) : format_discovery_log(*log);
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace nvmeoe::cli
