// `nvmeoe list` printers. The table formats are nvme-cli 2.3's (Debian 12), nvme-print.c:
//   nvme_show_simple_list():  "%-21s %-21s %-20s %-40s %-9s %-26s %-16s %-8s\n" (header),
//                             "%-.21s %-.21s %-.20s %-.40s %-.9s %-.26s %-.16s %-.8s\n" (dashes)
//   nvme_show_list_item():    "%-21s %-21s %-20s %-40s %-9d %-26s %-16s %-8s\n" (one namespace)
//   nvme_show_detailed_list(): the three verbose tables reproduced below.
// Usage and Format cells come from size_format.h (util/suffix.c). The Node column shows the
// frontend's device or file path when there is one; a path longer than nvme-cli's 21 characters
// widens the column (header and dashes included) rather than being cut, as later nvme-cli
// versions size columns to their longest entry.
#include "cli/list_print.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <map>

#include "cli/args.h"
#include "cli/size_format.h"

namespace nvmeoe::cli {

namespace {

// nvme-cli prints dashes with "%-.Ns" from a long run of '-'.
constexpr const char kDash[] =
    "----------------------------------------------------------------------------------------------------";

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof buf) {
    out.append(buf, static_cast<size_t>(n));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  big.resize(static_cast<size_t>(n));
  out += big;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string address_of(const ControllerModel& c) {
  char et[8];
  std::snprintf(et, sizeof et, "0x%04x", c.ethertype);
  return "traddr=" + c.target_mac + ",trsvcid=" + et + ",host_iface=" + c.iface;
}

// Subsystems in order of first appearance, named like nvme-cli's nvme-subsysN.
struct SubsystemGroup {
  std::string name, nqn;
  std::vector<const ControllerModel*> controllers;
};
std::vector<SubsystemGroup> group_by_subsystem(const ListModel& model) {
  std::vector<SubsystemGroup> groups;
  for (const auto& c : model.controllers) {
    SubsystemGroup* g = nullptr;
    for (auto& existing : groups)
      if (existing.nqn == c.subnqn) g = &existing;
    if (!g) {
      groups.push_back({"nvmeoe-subsys" + std::to_string(groups.size()), c.subnqn, {}});
      g = &groups.back();
    }
    g->controllers.push_back(&c);
  }
  return groups;
}

}  // namespace

std::string format_list_table(const ListModel& model) {
  std::string out;
  int node_width = 21;
  for (const auto& c : model.controllers)
    for (const auto& ns : c.namespaces)
      node_width = std::max(node_width, static_cast<int>(namespace_display_node(c, ns).size()));
  std::string node_dashes(static_cast<size_t>(node_width), '-');
  appendf(out, "%-*s %-21s %-20s %-40s %-9s %-26s %-16s %-8s\n", node_width, "Node", "Generic", "SN", "Model",
          "Namespace", "Usage", "Format", "FW Rev");
  appendf(out, "%s %-.21s %-.20s %-.40s %-.9s %-.26s %-.16s %-.8s\n", node_dashes.c_str(), kDash, kDash, kDash, kDash,
          kDash, kDash, kDash);
  for (const auto& c : model.controllers) {
    if (c.namespaces.empty() && c.state != "live") {
      // A controller whose agent is dead or does not answer: one row that says so.
      appendf(out, "%-*s %-21s %-20s %-40s %-9s %-26s %-16s %-8s\n", node_width, c.name.c_str(), kNoGenericDevice,
              c.serial.empty() ? "-" : c.serial.c_str(), ("(" + c.state + ": no agent answers)").c_str(), "-", "-", "-",
              "-");
      continue;
    }
    for (const auto& ns : c.namespaces) {
      appendf(out, "%-*s %-21s %-20s %-40s %-9d %-26s %-16s %-8s\n", node_width, namespace_display_node(c, ns).c_str(),
              kNoGenericDevice, c.serial.c_str(), c.model.c_str(), static_cast<int>(ns.nsid),
              format_usage(ns.used_bytes(), ns.capacity_bytes()).c_str(),
              format_lba_format(ns.block_size, ns.metadata_size).c_str(), c.firmware.c_str());
    }
  }
  return out;
}

std::string format_list_verbose(const ListModel& model) {
  std::string out;
  auto groups = group_by_subsystem(model);
  std::map<const ControllerModel*, std::string> subsys_of;

  appendf(out, "%-16s %-96s %-.16s\n", "Subsystem", "Subsystem-NQN", "Controllers");
  appendf(out, "%-.16s %-.96s %-.16s\n", kDash, kDash, kDash);
  for (const auto& g : groups) {
    std::vector<std::string> names;
    for (const auto* c : g.controllers) {
      names.push_back(c->name);
      subsys_of[c] = g.name;
    }
    appendf(out, "%-16s %-96s %s\n", g.name.c_str(), g.nqn.c_str(), join(names).c_str());
  }
  out += "\n";

  appendf(out, "%-8s %-20s %-40s %-8s %-6s %-14s %-12s %-16s\n", "Device", "SN", "MN", "FR", "TxPort", "Address",
          "Subsystem", "Namespaces");
  appendf(out, "%-.8s %-.20s %-.40s %-.8s %-.6s %-.14s %-.12s %-.16s\n", kDash, kDash, kDash, kDash, kDash, kDash,
          kDash, kDash);
  for (const auto& c : model.controllers) {
    std::vector<std::string> nodes;
    for (const auto& ns : c.namespaces) nodes.push_back(namespace_node(c.name, ns.nsid));
    appendf(out, "%-8s %-20s %-40s %-8s %-6s %-14s %-12s %s\n", c.name.c_str(), c.serial.c_str(), c.model.c_str(),
            c.firmware.c_str(), "eth", address_of(c).c_str(), subsys_of[&c].c_str(), join(nodes).c_str());
  }
  out += "\n";

  appendf(out, "%-12s %-12s %-8s %-26s %-16s %-16s\n", "Device", "Generic", "NSID", "Usage", "Format", "Controllers");
  appendf(out, "%-.12s %-.12s %-.8s %-.26s %-.16s %-.16s\n", kDash, kDash, kDash, kDash, kDash, kDash);
  for (const auto& c : model.controllers) {
    for (const auto& ns : c.namespaces) {
      appendf(out, "%-12s %-12s %-8x %-26s %-16s %s\n", namespace_node(c.name, ns.nsid).c_str(), kNoGenericDevice,
              ns.nsid, format_usage(ns.used_bytes(), ns.capacity_bytes()).c_str(),
              format_lba_format(ns.block_size, ns.metadata_size).c_str(), c.name.c_str());
    }
  }

  // nvmeoe's own part: what nvme-cli would read from sysfs for a fabrics controller.
  for (const auto& c : model.controllers) {
    out += "\n";
    appendf(out, "%s: %s, cntlid %u, agent pid %d, %u I/O queue(s), max transfer %s, %llu reconnect(s)\n",
            c.name.c_str(), c.state.c_str(), c.cntlid, c.pid, c.io_queues, format_binary_bytes(c.max_transfer).c_str(),
            static_cast<unsigned long long>(c.reconnects));
    appendf(out, "  target MAC:    %s (EtherType 0x%04x) via %s%s%s\n", c.target_mac.c_str(), c.ethertype,
            c.iface.c_str(), c.link.empty() ? "" : ", link ", c.link.c_str());
    appendf(out, "  subsystem NQN: %s\n", c.subnqn.c_str());
    appendf(out, "  host NQN:      %s\n", c.hostnqn.c_str());
    std::vector<std::string> nodes;
    for (const auto& ns : c.namespaces)
      if (!ns.node.empty()) nodes.push_back(ns.node);
    appendf(out, "  frontend:      %s%s%s\n", c.frontend.c_str(), nodes.empty() ? "" : ": ", join(nodes).c_str());
    if (c.queues.empty()) continue;
    appendf(out, "  %-5s %6s %12s %12s %9s %8s %11s %13s %9s %16s %16s\n", "Queue", "Size", "Commands", "Retransmits",
            "Timeouts", "Errors", "Duplicates", "Digest-errors", "In-flight", "Bytes-read", "Bytes-written");
    for (const auto& q : c.queues) {
      appendf(out, "  %-5u %6u %12llu %12llu %9llu %8llu %11llu %13llu %9llu %16llu %16llu\n", q.qid, q.size,
              static_cast<unsigned long long>(q.commands), static_cast<unsigned long long>(q.retransmits),
              static_cast<unsigned long long>(q.timeouts), static_cast<unsigned long long>(q.errors),
              static_cast<unsigned long long>(q.duplicates), static_cast<unsigned long long>(q.digest_errors),
              static_cast<unsigned long long>(q.in_flight), static_cast<unsigned long long>(q.bytes_read),
              static_cast<unsigned long long>(q.bytes_written));
    }
  }
  return out;
}

namespace {

// nvme-cli 2.16 json_list_item_obj() / json_detail_list(): namespace entries.
nlohmann::ordered_json namespace_json(const ControllerModel& c, const NamespaceModel& ns, bool verbose) {
  nlohmann::ordered_json d;
  if (verbose) {
    d["NameSpace"] = namespace_node(c.name, ns.nsid);
    d["Generic"] = namespace_node(c.name, ns.nsid);
    d["NSID"] = ns.nsid;
  } else {
    d["NameSpace"] = ns.nsid;
    d["DevicePath"] = namespace_display_node(c, ns);
    // nvme-cli's generic device (/dev/ngXnY) is the node for passthrough commands; nvmeoe's is the
    // namespace name that `nvmeoe read`, `id-ns` and the other commands take.
    d["GenericPath"] = namespace_node(c.name, ns.nsid);
    d["Firmware"] = c.firmware;
    d["ModelNumber"] = c.model;
    d["SerialNumber"] = c.serial;
  }
  d["UsedBytes"] = ns.used_bytes();
  d["MaximumLBA"] = ns.blocks;
  d["PhysicalSize"] = ns.capacity_bytes();
  d["SectorSize"] = ns.block_size;
  if (verbose) {
    d["DevicePath"] = namespace_display_node(c, ns);  // nvmeoe's: the frontend's node
  } else {
    // nvmeoe's additions: the namespace's nvmeoe name (for nvmeoe read/write) and its frontend.
    d["Name"] = namespace_node(c.name, ns.nsid);
    d["Frontend"] = c.frontend;
  }
  return d;
}

nlohmann::ordered_json controller_json(const ControllerModel& c) {
  using nlohmann::ordered_json;
  ordered_json j;
  // nvme-cli's keys (Cntlid is a string there, read from sysfs), then nvmeoe's.
  j["Controller"] = c.name;
  j["Cntlid"] = std::to_string(c.cntlid);
  j["SerialNumber"] = c.serial;
  j["ModelNumber"] = c.model;
  j["Firmware"] = c.firmware;
  j["Transport"] = "eth";
  j["Address"] = address_of(c);
  j["Slot"] = "";
  j["State"] = c.state;
  j["Reconnects"] = c.reconnects;
  j["AgentPid"] = c.pid;
  j["TargetMAC"] = c.target_mac;
  j["EtherType"] = c.ethertype;
  j["HostInterface"] = c.iface;
  j["SubsystemNQN"] = c.subnqn;
  j["HostNQN"] = c.hostnqn;
  if (!c.link.empty()) j["Link"] = c.link;
  j["MaxTransferBytes"] = c.max_transfer;
  j["IOQueues"] = c.io_queues;
  j["Frontend"] = c.frontend;
  ordered_json namespaces = ordered_json::array();
  for (const auto& ns : c.namespaces) namespaces.push_back(namespace_json(c, ns, true));
  j["Namespaces"] = std::move(namespaces);
  j["Paths"] = ordered_json::array();
  ordered_json queues = ordered_json::array();
  for (const auto& q : c.queues) {
    queues.push_back(ordered_json{{"QueueId", q.qid},
                                  {"Size", q.size},
                                  {"Commands", q.commands},
                                  {"Retransmits", q.retransmits},
                                  {"Timeouts", q.timeouts},
                                  {"Errors", q.errors},
                                  {"Duplicates", q.duplicates},
                                  {"DigestErrors", q.digest_errors},
                                  {"InFlight", q.in_flight},
                                  {"BytesRead", q.bytes_read},
                                  {"BytesWritten", q.bytes_written}});
  }
  j["Queues"] = std::move(queues);
  return j;
}

}  // namespace

nlohmann::ordered_json list_json(const ListModel& model, bool verbose) {
  using nlohmann::ordered_json;
  ordered_json root;
  if (!verbose) {
    ordered_json devices = ordered_json::array();
    for (const auto& c : model.controllers)
      for (const auto& ns : c.namespaces) devices.push_back(namespace_json(c, ns, false));
    root["Devices"] = std::move(devices);
    return root;
  }
  // nvme-cli 2.16 json_detail_list(): Devices[] per host NQN, Subsystems[] per subsystem NQN,
  // Controllers[] with their Namespaces[], and the subsystem's shared Namespaces[] (none here).
  ordered_json hosts = ordered_json::array();
  for (const auto& g : group_by_subsystem(model)) {
    const std::string& hostnqn = g.controllers.front()->hostnqn;
    ordered_json* host = nullptr;
    for (auto& h : hosts)
      if (h["HostNQN"] == hostnqn) host = &h;
    if (!host) {
      hosts.push_back(ordered_json{{"HostNQN", hostnqn}, {"Subsystems", ordered_json::array()}});
      host = &hosts.back();
    }
    ordered_json sub;
    sub["Subsystem"] = g.name;
    sub["SubsystemNQN"] = g.nqn;
    ordered_json ctrls = ordered_json::array();
    for (const auto* c : g.controllers) ctrls.push_back(controller_json(*c));
    sub["Controllers"] = std::move(ctrls);
    sub["Namespaces"] = ordered_json::array();
    (*host)["Subsystems"].push_back(std::move(sub));
  }
  root["Devices"] = std::move(hosts);
  return root;
}

}  // namespace nvmeoe::cli
