// The model behind `nvmeoe list` (host -> controller -> namespace, as libnvme's tree): filled from
// the agents' "info" answers, rendered by list_print.h as nvme-cli's table or as JSON. The model
// also travels as the JSON body of the control protocol's info reply, hence to_json/from_json.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace nvmeoe::cli {

struct NamespaceModel {
  uint32_t nsid = 0;
  uint64_t blocks = 0;       // NSZE
  uint64_t used_blocks = 0;  // NUSE
  uint32_t block_size = 512;
  uint32_t metadata_size = 0;
  bool read_only = false;
  std::string node;  // the frontend's device or file ("/dev/ublkb0", ".../nvmeoe0n1"); empty: none
  uint64_t capacity_bytes() const { return blocks * block_size; }
  uint64_t used_bytes() const { return used_blocks * block_size; }
};

struct QueueModel {
  uint16_t qid = 0;
  uint16_t size = 0;
  uint64_t commands = 0, retransmits = 0, timeouts = 0, errors = 0, in_flight = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t duplicates = 0, digest_errors = 0;
  uint64_t reads = 0, writes = 0, other = 0;
  uint64_t latency_count = 0;  // completed commands in the latency figures (µs)
  double latency_mean_us = 0, latency_max_us = 0, latency_p50_us = 0, latency_p99_us = 0, latency_p999_us = 0;
  std::vector<std::pair<uint16_t, uint64_t>> latency_buckets;  // (bucket, count), see QueueStats
};

struct ControllerModel {
  std::string name;  // "nvmeoe0"
  int pid = 0;       // the agent holding the association
  std::string target_mac, iface, hostnqn, subnqn;
  std::string serial, model, firmware;
  uint16_t cntlid = 0;
  uint32_t max_transfer = 0;  // bytes per command
  uint16_t io_queues = 0;
  uint16_t ethertype = 0x88B5;
  std::string link;            // HostController::link_kind(): "packet", "af_xdp native", ...
  std::string state = "live";  // nvme-cli's controller states: "live", or "connecting" while reconnecting
  uint64_t reconnects = 0;
  std::string frontend = "none";  // "ublk", "fuse" or "none": how the namespaces reach the system
  std::vector<NamespaceModel> namespaces;
  std::vector<QueueModel> queues;
  const NamespaceModel* find_namespace(uint32_t nsid) const;
};

// The Node column: the frontend's device or file when there is one, else the nvmeoe name.
std::string namespace_display_node(const ControllerModel& c, const NamespaceModel& ns);

struct ListModel {
  std::vector<ControllerModel> controllers;  // in natural name order (nvmeoe2 before nvmeoe10)
};

// Natural order of controller names, as nvme-cli sorts devices.
bool controller_name_less(const std::string& a, const std::string& b);

void to_json(nlohmann::json& j, const NamespaceModel& m);
void from_json(const nlohmann::json& j, NamespaceModel& m);
void to_json(nlohmann::json& j, const QueueModel& m);
void from_json(const nlohmann::json& j, QueueModel& m);
void to_json(nlohmann::json& j, const ControllerModel& m);
void from_json(const nlohmann::json& j, ControllerModel& m);

}  // namespace nvmeoe::cli
