// Identify data structures (controller, namespace, active namespace list, namespace identification
// descriptors) and log pages (error information, SMART / health, firmware slot), as in-memory forms
// with encoders to and decoders from the spec's byte layout. Offsets are the spec's, named below.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "nvme/spec.h"

namespace nvmeoe {

namespace cns {
constexpr uint8_t kNamespace = 0x00;
constexpr uint8_t kController = 0x01;
constexpr uint8_t kActiveNamespaceList = 0x02;
constexpr uint8_t kNamespaceDescriptors = 0x03;
constexpr uint8_t kNsControllerList = 0x12;  // controllers attached to NSID, from CDW10.CNTID
constexpr uint8_t kControllerList = 0x13;    // controllers of the NVM subsystem, from CDW10.CNTID
}  // namespace cns

namespace log_id {
constexpr uint8_t kErrorInformation = 0x01;
constexpr uint8_t kSmartHealth = 0x02;
constexpr uint8_t kFirmwareSlot = 0x03;
constexpr uint8_t kChangedNamespaceList = 0x04;
constexpr uint8_t kDiscovery = 0x70;
}  // namespace log_id

namespace feature_id {
constexpr uint8_t kNumberOfQueues = 0x07;
constexpr uint8_t kKeepAliveTimer = 0x0f;
}  // namespace feature_id

// Identify Controller byte offsets (NVMe Base 2.0, figure 275; Fabrics 1.1 for 1792+).
namespace idctl {
constexpr size_t kVid = 0, kSsvid = 2, kSn = 4, kSnLen = 20, kMn = 24, kMnLen = 40, kFr = 64, kFrLen = 8;
constexpr size_t kRab = 72, kIeee = 73, kCmic = 76, kMdts = 77, kCntlid = 78, kVer = 80;
constexpr size_t kOaes = 92, kCtratt = 96, kCntrltype = 111;
constexpr size_t kOacs = 256, kAcl = 258, kAerl = 259, kFrmw = 260, kLpa = 261, kElpe = 262;
constexpr size_t kKas = 320;
constexpr size_t kSqes = 512, kCqes = 513, kMaxcmd = 514, kNn = 516, kOncs = 520, kFuses = 522;
constexpr size_t kFna = 524, kVwc = 525, kAwun = 526, kAwupf = 528, kSgls = 536, kMnan = 540;
constexpr size_t kSubnqn = 768;
constexpr size_t kIoccsz = 1792, kIorcsz = 1796, kIcdoff = 1800, kFcatt = 1802, kMsdbd = 1803;
constexpr uint32_t kOaesNamespaceAttribute = 1u << 8;
constexpr uint16_t kOncsDsm = 1u << 2, kOncsWriteZeroes = 1u << 3;
}  // namespace idctl

struct IdentifyController {
  uint16_t vid = 0;
  uint16_t ssvid = 0;
  std::string serial;    // 20 chars max
  std::string model;     // 40 chars max
  std::string firmware;  // 8 chars max
  uint8_t mdts = 0;      // max transfer = 2^mdts * 4096 (CAP.MPSMIN = 4 KiB); 0 = no limit
  uint16_t cntlid = 0;
  uint32_t version = prop::kVersion20;
  uint8_t cntrltype = 1;  // 1: I/O controller, 2: discovery controller
  uint32_t oaes = 0;      // optional asynchronous events; bit 8: Namespace Attribute Notices
  uint8_t elpe = 0;       // error log entries, 0-based
  uint8_t aerl = 0;       // outstanding Asynchronous Event Requests, 0-based
  uint8_t frmw = 0x03;    // slot 1 read-only, 1 slot
  uint8_t lpa = 0x04;     // bit 2: extended data (NUMDU, LPO) for Get Log Page
  uint16_t kas = 10;      // keep-alive granularity, 100 ms units
  uint16_t maxcmd = 0;
  uint32_t nn = 0;
  uint16_t oncs = 0;
  uint8_t vwc = 0;
  uint32_t sgls = 0;
  std::string subnqn;
  uint32_t ioccsz = 4;  // I/O command capsule size in 16-byte units (SQE only = 4)
  uint32_t iorcsz = 1;  // response capsule size in 16-byte units (CQE only = 1)
  uint16_t icdoff = 0;
  uint8_t msdbd = 1;
};
void encode_identify_controller(const IdentifyController& id, uint8_t* out);  // kIdentifySize bytes
IdentifyController decode_identify_controller(const uint8_t* in);

// Identify Namespace byte offsets.
namespace idns {
constexpr size_t kNsze = 0, kNcap = 8, kNuse = 16, kNsfeat = 24, kNlbaf = 25, kFlbas = 26;
constexpr size_t kNmic = 30, kDlfeat = 33, kNvmcap = 48, kNguid = 104, kEui64 = 120, kLbaf0 = 128;
}  // namespace idns

struct IdentifyNamespace {
  uint64_t nsze = 0;  // blocks
  uint64_t ncap = 0;
  uint64_t nuse = 0;
  uint8_t nsfeat = 0;
  uint8_t dlfeat = 0;  // 0x09: deallocated blocks read as zeroes; Write Zeroes may deallocate
  uint8_t lbads = 9;   // log2 of the LBA data size
  std::array<uint8_t, 16> nguid{};
  std::array<uint8_t, 8> eui64{};
  bool write_protected = false;  // not in Identify Namespace itself; carried for listings (NSATTR bit 0)
};
void encode_identify_namespace(const IdentifyNamespace& id, uint8_t* out);
IdentifyNamespace decode_identify_namespace(const uint8_t* in);

// CNS 02h: up to 1024 NSIDs greater than `after`, ascending, zero-terminated.
void encode_active_ns_list(const std::vector<uint32_t>& nsids, uint32_t after, uint8_t* out);
std::vector<uint32_t> decode_active_ns_list(const uint8_t* in);

// CNS 12h/13h: a count and up to 2047 controller IDs not below `from`, ascending.
void encode_controller_list(const std::vector<uint16_t>& cntlids, uint16_t from, uint8_t* out);

// CNS 03h: NGUID (type 2) and CSI (type 4, NVM = 0) descriptors.
void encode_ns_descriptors(const std::array<uint8_t, 16>& nguid, uint8_t* out);

// SMART / Health Information (log 02h), 512 bytes. Counters in the spec's units: data units are
// thousands of 512-byte units, rounded up.
struct SmartLog {
  uint8_t critical_warning = 0;
  uint16_t temperature_k = 0;
  uint8_t available_spare = 100;
  uint8_t spare_threshold = 10;
  uint8_t percent_used = 0;
  uint64_t data_units_read = 0, data_units_written = 0;
  uint64_t host_reads = 0, host_writes = 0;
  uint64_t power_on_hours = 0, media_errors = 0, error_log_entries = 0;
};
constexpr size_t kSmartLogSize = 512;
void encode_smart_log(const SmartLog& s, uint8_t* out);
SmartLog decode_smart_log(const uint8_t* in);

// Firmware Slot Information (log 03h), 512 bytes: slot 1 active, revision `fw`.
constexpr size_t kFirmwareLogSize = 512;
void encode_firmware_log(const std::string& fw, uint8_t* out);

// Error Information entry (log 01h), 64 bytes each.
constexpr size_t kErrorLogEntrySize = 64;
struct ErrorLogEntry {
  uint64_t error_count = 0;
  uint16_t sqid = 0, cid = 0, status = 0;
  uint64_t lba = 0;
  uint32_t nsid = 0;
};
void encode_error_log_entry(const ErrorLogEntry& e, uint8_t* out);
ErrorLogEntry decode_error_log_entry(const uint8_t* in);

// A stable 20-character serial number derived from an NQN (hex of a 64-bit FNV-1a hash).
std::string serial_from_nqn(const std::string& nqn);

}  // namespace nvmeoe
