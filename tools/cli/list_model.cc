// JSON mapping of the list model (the info reply of the control protocol) and name ordering.
#include "cli/list_model.h"

#include <cctype>
#include <cstdlib>

#include "cli/args.h"

namespace nvmeoe::cli {

const NamespaceModel* ControllerModel::find_namespace(uint32_t nsid) const {
  for (const auto& ns : namespaces)
    if (ns.nsid == nsid) return &ns;
  return nullptr;
}

std::string namespace_display_node(const ControllerModel& c, const NamespaceModel& ns) {
  return ns.node.empty() ? namespace_node(c.name, ns.nsid) : ns.node;
}

bool controller_name_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = std::isdigit(static_cast<unsigned char>(a[i])), db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      unsigned long long va = std::strtoull(a.substr(i, ei - i).c_str(), nullptr, 10);
      unsigned long long vb = std::strtoull(b.substr(j, ej - j).c_str(), nullptr, 10);
      if (va != vb) return va < vb;
      i = ei;
      j = ej;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

void to_json(nlohmann::json& j, const NamespaceModel& m) {
  j = {{"nsid", m.nsid},
       {"blocks", m.blocks},
       {"used_blocks", m.used_blocks},
       {"block_size", m.block_size},
       {"metadata_size", m.metadata_size},
       {"read_only", m.read_only},
       {"node", m.node}};
}

void from_json(const nlohmann::json& j, NamespaceModel& m) {
  m.nsid = j.at("nsid").get<uint32_t>();
  m.blocks = j.at("blocks").get<uint64_t>();
  m.used_blocks = j.value("used_blocks", m.blocks);
  m.block_size = j.value("block_size", 512u);
  m.metadata_size = j.value("metadata_size", 0u);
  m.read_only = j.value("read_only", false);
  m.node = j.value("node", std::string());
}

void to_json(nlohmann::json& j, const QueueModel& m) {
  j = {{"qid", m.qid},
       {"size", m.size},
       {"commands", m.commands},
       {"retransmits", m.retransmits},
       {"timeouts", m.timeouts},
       {"errors", m.errors},
       {"in_flight", m.in_flight},
       {"bytes_read", m.bytes_read},
       {"bytes_written", m.bytes_written},
       {"duplicates", m.duplicates},
       {"digest_errors", m.digest_errors},
       {"reads", m.reads},
       {"writes", m.writes},
       {"other", m.other},
       {"latency_count", m.latency_count},
       {"latency_mean_us", m.latency_mean_us},
       {"latency_max_us", m.latency_max_us},
       {"latency_p50_us", m.latency_p50_us},
       {"latency_p99_us", m.latency_p99_us},
       {"latency_p999_us", m.latency_p999_us},
       {"latency_buckets", m.latency_buckets}};
}

void from_json(const nlohmann::json& j, QueueModel& m) {
  m.qid = j.value("qid", uint16_t{0});
  m.size = j.value("size", uint16_t{0});
  m.commands = j.value("commands", uint64_t{0});
  m.retransmits = j.value("retransmits", uint64_t{0});
  m.timeouts = j.value("timeouts", uint64_t{0});
  m.errors = j.value("errors", uint64_t{0});
  m.in_flight = j.value("in_flight", uint64_t{0});
  m.bytes_read = j.value("bytes_read", uint64_t{0});
  m.bytes_written = j.value("bytes_written", uint64_t{0});
  m.duplicates = j.value("duplicates", uint64_t{0});
  m.digest_errors = j.value("digest_errors", uint64_t{0});
  m.reads = j.value("reads", uint64_t{0});
  m.writes = j.value("writes", uint64_t{0});
  m.other = j.value("other", uint64_t{0});
  m.latency_count = j.value("latency_count", uint64_t{0});
  m.latency_mean_us = j.value("latency_mean_us", 0.0);
  m.latency_max_us = j.value("latency_max_us", 0.0);
  m.latency_p50_us = j.value("latency_p50_us", 0.0);
  m.latency_p99_us = j.value("latency_p99_us", 0.0);
  m.latency_p999_us = j.value("latency_p999_us", 0.0);
  m.latency_buckets = j.value("latency_buckets", std::vector<std::pair<uint16_t, uint64_t>>{});
}

void to_json(nlohmann::json& j, const ControllerModel& m) {
  j = {{"name", m.name},
       {"pid", m.pid},
       {"target_mac", m.target_mac},
       {"iface", m.iface},
       {"hostnqn", m.hostnqn},
       {"subnqn", m.subnqn},
       {"serial", m.serial},
       {"model", m.model},
       {"firmware", m.firmware},
       {"cntlid", m.cntlid},
       {"max_transfer", m.max_transfer},
       {"io_queues", m.io_queues},
       {"ethertype", m.ethertype},
       {"link", m.link},
       {"state", m.state},
       {"reconnects", m.reconnects},
       {"frontend", m.frontend},
       {"namespaces", m.namespaces},
       {"queues", m.queues}};
}

void from_json(const nlohmann::json& j, ControllerModel& m) {
  m.name = j.at("name").get<std::string>();
  m.pid = j.value("pid", 0);
  m.target_mac = j.value("target_mac", std::string());
  m.iface = j.value("iface", std::string());
  m.hostnqn = j.value("hostnqn", std::string());
  m.subnqn = j.value("subnqn", std::string());
  m.serial = j.value("serial", std::string());
  m.model = j.value("model", std::string());
  m.firmware = j.value("firmware", std::string());
  m.cntlid = j.value("cntlid", uint16_t{0});
  m.max_transfer = j.value("max_transfer", 0u);
  m.io_queues = j.value("io_queues", uint16_t{0});
  m.ethertype = j.value("ethertype", uint16_t{0x88B5});
  m.link = j.value("link", std::string());
  m.state = j.value("state", std::string("live"));
  m.reconnects = j.value("reconnects", uint64_t{0});
  m.frontend = j.value("frontend", std::string("none"));
  m.namespaces = j.value("namespaces", std::vector<NamespaceModel>{});
  m.queues = j.value("queues", std::vector<QueueModel>{});
}

}  // namespace nvmeoe::cli
