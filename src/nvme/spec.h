// NVMe base and fabrics definitions used on the wire: submission/completion queue entries, opcodes,
// status codes, properties. Field offsets follow NVMe Base 2.0 and NVMe over Fabrics 1.1; sizes are
// checked at compile time. Structures are in-memory forms; encode/decode go through common/bytes.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace nvmeoe {

constexpr size_t kSqeSize = 64;
constexpr size_t kCqeSize = 16;
constexpr size_t kIdentifySize = 4096;
constexpr size_t kConnectDataSize = 1024;
constexpr size_t kNqnSize = 256;  // NUL-terminated field; NQNs are at most 223 bytes
constexpr size_t kMaxNqnLength = 223;
constexpr uint32_t kLbaSize = 512;
constexpr const char* kDiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

// Submission queue entry (64 bytes). For Fabrics commands (opcode 0x7F) the FCTYPE is byte 4, the
// low byte of `nsid`.
struct Sqe {
  uint8_t opcode = 0;
  uint8_t flags = 0;  // FUSE bits 1:0, PSDT bits 7:6
  uint16_t cid = 0;
  uint32_t nsid = 0;
  uint32_t cdw2 = 0;
  uint32_t cdw3 = 0;
  uint64_t mptr = 0;
  std::array<uint8_t, 16> dptr{};  // SGL1 (NVMe-oF uses SGLs)
  uint32_t cdw10 = 0, cdw11 = 0, cdw12 = 0, cdw13 = 0, cdw14 = 0, cdw15 = 0;

  uint8_t fctype() const { return uint8_t(nsid & 0xff); }
};
static_assert(sizeof(Sqe) == kSqeSize);
static_assert(offsetof(Sqe, dptr) == 24);
static_assert(offsetof(Sqe, cdw10) == 40);

// Completion queue entry (16 bytes). `status` holds the CQE status field without the phase bit
// (Linux layout): SC bits 7:0, SCT bits 10:8, CRD 12:11, More 13, DNR 14.
struct Cqe {
  uint32_t dw0 = 0;
  uint32_t dw1 = 0;
  uint16_t sq_head = 0;
  uint16_t sq_id = 0;
  uint16_t cid = 0;
  uint16_t status = 0;
};
static_assert(sizeof(Cqe) == kCqeSize);
static_assert(offsetof(Cqe, cid) == 12);

void encode_sqe(const Sqe& sqe, uint8_t* out);  // writes kSqeSize bytes
Sqe decode_sqe(const uint8_t* in);              // reads kSqeSize bytes
void encode_cqe(const Cqe& cqe, uint8_t* out);  // phase bit written as 0
Cqe decode_cqe(const uint8_t* in);

// SGL1 as nvmeoe uses it: a Transport SGL Data Block descriptor (type 5h, subtype Ah) whose
// length is the command's data transfer length, or an all-zero descriptor for no data.
constexpr uint8_t kPsdtSgl = 0x40;  // flags bits 7:6 = 01b
void set_sgl_length(Sqe& sqe, uint32_t length);
uint32_t sgl_length(const Sqe& sqe);
bool sgl_valid(const Sqe& sqe);  // a transport data block descriptor, or empty with length 0

namespace admin_opcode {
constexpr uint8_t kGetLogPage = 0x02;
constexpr uint8_t kIdentify = 0x06;
constexpr uint8_t kAbort = 0x08;
constexpr uint8_t kSetFeatures = 0x09;
constexpr uint8_t kGetFeatures = 0x0a;
constexpr uint8_t kAsyncEventRequest = 0x0c;
constexpr uint8_t kKeepAlive = 0x18;
constexpr uint8_t kFabrics = 0x7f;
}  // namespace admin_opcode

namespace io_opcode {
constexpr uint8_t kFlush = 0x00;
constexpr uint8_t kWrite = 0x01;
constexpr uint8_t kRead = 0x02;
constexpr uint8_t kWriteZeroes = 0x08;
constexpr uint8_t kDatasetManagement = 0x09;
}  // namespace io_opcode

namespace fabrics_type {
constexpr uint8_t kPropertySet = 0x00;
constexpr uint8_t kConnect = 0x01;
constexpr uint8_t kPropertyGet = 0x04;
constexpr uint8_t kAuthSend = 0x05;
constexpr uint8_t kAuthReceive = 0x06;
constexpr uint8_t kDisconnect = 0x08;
}  // namespace fabrics_type

enum class DataDirection { kNone, kHostToController, kControllerToHost, kBidirectional };
// Direction of a command's data from the opcode bits 1:0 (or the FCTYPE bits 1:0 for Fabrics).
DataDirection data_direction(const Sqe& sqe);

// Status values in the Linux layout (see Cqe::status).
using NvmeStatus = uint16_t;
namespace sc {
constexpr NvmeStatus kDnr = 0x4000;
constexpr NvmeStatus kSuccess = 0x0000;
// Generic command status (SCT 0)
constexpr NvmeStatus kInvalidOpcode = 0x0001;
constexpr NvmeStatus kInvalidField = 0x0002;
constexpr NvmeStatus kCidConflict = 0x0003;
constexpr NvmeStatus kDataTransferError = 0x0004;
constexpr NvmeStatus kInternalError = 0x0006;
constexpr NvmeStatus kAbortRequested = 0x0007;
constexpr NvmeStatus kInvalidNamespace = 0x000b;
constexpr NvmeStatus kCommandSequenceError = 0x000c;
constexpr NvmeStatus kDataSglLengthInvalid = 0x000f;
constexpr NvmeStatus kSglInvalidDescriptorType = 0x0011;
constexpr NvmeStatus kNsWriteProtected = 0x0020;
constexpr NvmeStatus kTransientTransportError = 0x0022;
constexpr NvmeStatus kLbaOutOfRange = 0x0080;
constexpr NvmeStatus kCapacityExceeded = 0x0081;
constexpr NvmeStatus kNamespaceNotReady = 0x0082;
// Command specific status (SCT 1)
constexpr NvmeStatus kInvalidQueueIdentifier = 0x0101;
constexpr NvmeStatus kInvalidQueueSize = 0x0102;
constexpr NvmeStatus kAsyncEventLimitExceeded = 0x0105;
constexpr NvmeStatus kInvalidLogPage = 0x0109;
constexpr NvmeStatus kFeatureNotSaveable = 0x010d;
constexpr NvmeStatus kConnectIncompatibleFormat = 0x0180;
constexpr NvmeStatus kConnectControllerBusy = 0x0181;
constexpr NvmeStatus kConnectInvalidParameters = 0x0182;
constexpr NvmeStatus kConnectRestartDiscovery = 0x0183;
constexpr NvmeStatus kConnectInvalidHost = 0x0184;
// NVMe in-band authentication is required and the queue has not been authenticated (NVMe Base
// 2.0 SCT 1h SC 91h, Linux NVME_SC_AUTH_REQUIRED).
constexpr NvmeStatus kAuthRequired = 0x0191;
// Media and data integrity errors (SCT 2)
constexpr NvmeStatus kWriteFault = 0x0280;
constexpr NvmeStatus kUnrecoveredReadError = 0x0281;
// Path related status (SCT 3)
constexpr NvmeStatus kInternalPathError = 0x0300;
constexpr NvmeStatus kAnaTransition = 0x0303;
constexpr NvmeStatus kHostAbortedCommand = 0x0371;  // host-side: transport gave up (Linux uses 0x371)
}  // namespace sc

inline uint8_t status_sct(NvmeStatus s) {
  return uint8_t((s >> 8) & 0x7);
}
inline uint8_t status_code(NvmeStatus s) {
  return uint8_t(s & 0xff);
}
inline bool status_dnr(NvmeStatus s) {
  return s & sc::kDnr;
}
inline bool status_ok(NvmeStatus s) {
  return (s & 0x7ff) == 0;
}
// "LBA Out of Range (sct 0x0 sc 0x80)", for messages and listings.
std::string status_name(NvmeStatus s);
std::string opcode_name(uint8_t opcode, bool admin, uint8_t fctype);

// Controller properties (register offsets) reachable through Property Get/Set.
namespace prop {
constexpr uint32_t kCap = 0x00;   // 8 bytes
constexpr uint32_t kVs = 0x08;    // 4 bytes
constexpr uint32_t kCc = 0x14;    // 4 bytes
constexpr uint32_t kCsts = 0x1c;  // 4 bytes
constexpr uint32_t kNssr = 0x20;  // 4 bytes
constexpr uint32_t kCcEnable = 1u << 0;
constexpr uint32_t kCcShnShift = 14;  // shutdown notification, bits 15:14
constexpr uint32_t kCstsReady = 1u << 0;
constexpr uint32_t kCstsFatal = 1u << 1;
constexpr uint32_t kCstsShstComplete = 2u << 2;  // bits 3:2 = 10b
constexpr uint32_t kVersion20 = 0x00020000;
}  // namespace prop

// Fields of the Fabrics Connect command (CDW10..12) and its 1024-byte data.
struct ConnectCommand {
  uint16_t recfmt = 0;
  uint16_t qid = 0;
  uint16_t sqsize = 0;  // 0-based
  uint8_t cattr = 0;
  uint32_t kato_ms = 0;
};
ConnectCommand decode_connect_command(const Sqe& sqe);
void encode_connect_command(const ConnectCommand& c, Sqe& sqe);

struct ConnectData {
  std::array<uint8_t, 16> hostid{};
  uint16_t cntlid = 0xffff;  // 0xFFFF: dynamic controller model, the target picks one
  std::string subnqn;
  std::string hostnqn;
};
void encode_connect_data(const ConnectData& d, uint8_t* out);  // kConnectDataSize bytes
// Fails (returns false) when an NQN field lacks a terminating NUL within its 256 bytes.
bool decode_connect_data(const uint8_t* in, ConnectData* out);

// Validates an NQN: 1..223 bytes, printable ASCII, starts with "nqn.".
bool valid_nqn(const std::string& nqn);

}  // namespace nvmeoe
