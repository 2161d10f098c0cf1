// Validation and parsing of command-line values shared by the nvmeoe subcommands: MAC addresses,
// NQNs, host IDs, EtherTypes, byte sizes, workloads and controller/namespace names. Each returns
// a Status or Result whose message is ready to show the user; the CLI11 glue lives in app.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace nvmeoe::cli {

// "aa:bb:cc:dd:ee:ff" (or with '-'); not broadcast, multicast or all zeroes, since a target MAC
// must name one station.
Status check_unicast_mac(const std::string& text);
// An NQN as NVMe defines it: starts with "nqn.", at most 223 bytes, printable ASCII.
Status check_nqn(const std::string& text);
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (a UUID), as nvme-cli's --hostid.
Status check_hostid(const std::string& text);
// "0x88b5", "88b5h"-free plain hex with 0x, or decimal; must be >= 0x0600 (values below are
// 802.3 length fields, not EtherTypes).
Result<uint16_t> parse_ethertype(const std::string& text);
// A byte count: digits with an optional binary suffix K, M, G, T (also KiB, k, ...). Zero is
// rejected: every size the CLI takes must be positive.
Result<uint64_t> parse_byte_size(const std::string& text);
// A non-negative integer (decimal, or hex with 0x), as nvme-cli's numeric options.
Result<uint64_t> parse_u64(const std::string& text);
// A comma-separated list of parse_u64 values ("0,8,16"), as nvme-cli's --slbs and --blocks.
Result<std::vector<uint64_t>> parse_u64_list(const std::string& text);

enum class Workload { kRead, kWrite, kRandRead, kRandWrite, kRw, kRandRw };
// "read", "write", "randread", "randwrite", "rw" (sequential mix), "randrw" (random mix).
Result<Workload> parse_workload(const std::string& text);
const char* workload_name(Workload w);
inline bool workload_random(Workload w) {
  return w == Workload::kRandRead || w == Workload::kRandWrite || w == Workload::kRandRw;
}
inline bool workload_mixed(Workload w) {
  return w == Workload::kRw || w == Workload::kRandRw;
}

// Controllers are named "nvmeoe<N>"; namespaces "nvmeoe<N>n<NSID>", like nvme0 and nvme0n1. A
// leading "/dev/" is accepted for users who type nvme-cli habits.
struct NodeName {
  std::string controller;        // "nvmeoe0"
  unsigned index = 0;            // 0
  std::optional<uint32_t> nsid;  // set for "nvmeoe0n1"
};
Result<NodeName> parse_node_name(const std::string& text);
std::string controller_name(unsigned index);
std::string namespace_node(const std::string& controller, uint32_t nsid);

}  // namespace nvmeoe::cli
