// The Discovery Log Page (Get Log Page LID 70h on a discovery controller, NVMe over Fabrics 1.1
// §5.3 / NVMe Base 2.0 figure 262): a 1024-byte header (GENCTR, NUMREC, RECFMT) followed by
// 1024-byte entries. nvmeoe's Ethernet transport values (TRTYPE, ADRFAM, TRADDR and TRSVCID text)
// are defined here and in docs/PROTOCOL.md §12.5.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nvmeoe {

constexpr size_t kDiscoveryLogHeaderSize = 1024;
constexpr size_t kDiscoveryLogEntrySize = 1024;

// Assigned by NVMe: 1 RDMA, 2 FC, 3 TCP, FEh intra-host. nvmeoe uses FDh, a value no NVMe
// transport specification assigns, for "raw Ethernet, EtherType in TRSVCID".
constexpr uint8_t kTrtypeEth = 0xfd;
// ADRFAM likewise: 0 PCIe, 1 IPv4, 2 IPv6, 3 IB, 4 FC, FEh intra-host; FDh = IEEE 802 MAC address.
constexpr uint8_t kAdrfamEthMac = 0xfd;
constexpr uint8_t kSubtypeReferral = 1;  // another discovery subsystem
constexpr uint8_t kSubtypeNvm = 2;       // an NVM subsystem
constexpr uint8_t kTreqNotSpecified = 0;

namespace disclog {
// Header
constexpr size_t kGenctr = 0, kNumrec = 8, kRecfmt = 16;
// Entry
constexpr size_t kTrtype = 0, kAdrfam = 1, kSubtype = 2, kTreq = 3, kPortid = 4, kCntlid = 6, kAsqsz = 8;
constexpr size_t kEflags = 10, kTrsvcid = 32, kTrsvcidLen = 32, kSubnqn = 256, kTraddr = 512, kTraddrLen = 256;
constexpr size_t kTsas = 768;
}  // namespace disclog

struct DiscoveryLogEntry {
  uint8_t trtype = kTrtypeEth;
  uint8_t adrfam = kAdrfamEthMac;
  uint8_t subtype = kSubtypeNvm;
  uint8_t treq = kTreqNotSpecified;
  uint16_t portid = 0;
  uint16_t eflags = 0;       // entry flags (explicit persistent connection, duplicate information, ...)
  uint16_t cntlid = 0xffff;  // dynamic controller model
  uint16_t asqsz = 0;        // admin submission queue entries the controller accepts
  std::string trsvcid;       // EtherType, "0x88b5"
  std::string subnqn;
  std::string traddr;  // target MAC, "aa:bb:cc:dd:ee:ff" (lower case)
  bool operator==(const DiscoveryLogEntry&) const = default;
};

struct DiscoveryLog {
  uint64_t genctr = 0;
  uint16_t recfmt = 0;
  uint64_t numrec = 0;  // as read; entries may hold fewer when only a part of the page was read
  std::vector<DiscoveryLogEntry> entries;
};

// The whole page: header plus one entry per element (NUMREC = entries.size()).
std::vector<uint8_t> encode_discovery_log(uint64_t genctr, const std::vector<DiscoveryLogEntry>& entries);
// Decodes a page (or its first `bytes.size()` bytes): the header, then every whole entry present.
// False when shorter than the header.
bool decode_discovery_log(const uint8_t* bytes, size_t size, DiscoveryLog* out);

const char* trtype_name(uint8_t trtype);    // "eth", "tcp", ...
const char* adrfam_name(uint8_t adrfam);    // "mac", "ipv4", ...
const char* subtype_name(uint8_t subtype);  // "nvme subsystem", "discovery subsystem referral", ...

}  // namespace nvmeoe
