// Encoding of SQE/CQE/Connect structures and status names.
#include "nvme/spec.h"

#include <cstdio>
#include <cstring>

#include "common/bytes.h"

namespace nvmeoe {

void encode_sqe(const Sqe& s, uint8_t* out) {
  out[0] = s.opcode;
  out[1] = s.flags;
  put_le16(out + 2, s.cid);
  put_le32(out + 4, s.nsid);
  put_le32(out + 8, s.cdw2);
  put_le32(out + 12, s.cdw3);
  put_le64(out + 16, s.mptr);
  std::memcpy(out + 24, s.dptr.data(), 16);
  const uint32_t cdw[6] = {s.cdw10, s.cdw11, s.cdw12, s.cdw13, s.cdw14, s.cdw15};
  for (int i = 0; i < 6; ++i) put_le32(out + 40 + 4 * i, cdw[i]);
}

Sqe decode_sqe(const uint8_t* in) {
  Sqe s;
  s.opcode = in[0];
  s.flags = in[1];
  s.cid = get_le16(in + 2);
  s.nsid = get_le32(in + 4);
  s.cdw2 = get_le32(in + 8);
  s.cdw3 = get_le32(in + 12);
  s.mptr = get_le64(in + 16);
  std::memcpy(s.dptr.data(), in + 24, 16);
  s.cdw10 = get_le32(in + 40);
  s.cdw11 = get_le32(in + 44);
  s.cdw12 = get_le32(in + 48);
  s.cdw13 = get_le32(in + 52);
  s.cdw14 = get_le32(in + 56);
  s.cdw15 = get_le32(in + 60);
  return s;
}

void encode_cqe(const Cqe& c, uint8_t* out) {
  put_le32(out, c.dw0);
  put_le32(out + 4, c.dw1);
  put_le16(out + 8, c.sq_head);
  put_le16(out + 10, c.sq_id);
  put_le16(out + 12, c.cid);
  put_le16(out + 14, uint16_t(c.status << 1));
}

Cqe decode_cqe(const uint8_t* in) {
  Cqe c;
  c.dw0 = get_le32(in);
  c.dw1 = get_le32(in + 4);
  c.sq_head = get_le16(in + 8);
  c.sq_id = get_le16(in + 10);
  c.cid = get_le16(in + 12);
  c.status = uint16_t(get_le16(in + 14) >> 1);
  return c;
}

// SGL descriptor: bytes 0-7 address, 8-11 length, 12-14 reserved, 15 type (7:4) | subtype (3:0).
constexpr uint8_t kSglTransportDataBlock = 0x5a;

void set_sgl_length(Sqe& s, uint32_t length) {
  s.dptr.fill(0);
  s.flags = uint8_t((s.flags & 0x3f) | kPsdtSgl);
  if (length == 0) return;
  put_le32(s.dptr.data() + 8, length);
  s.dptr[15] = kSglTransportDataBlock;
}

uint32_t sgl_length(const Sqe& s) {
  return s.dptr[15] == kSglTransportDataBlock ? get_le32(s.dptr.data() + 8) : 0;
}

bool sgl_valid(const Sqe& s) {
  if (s.dptr[15] == kSglTransportDataBlock) return true;
  for (uint8_t b : s.dptr)
    if (b) return false;
  return true;
}

DataDirection data_direction(const Sqe& s) {
  uint8_t bits = (s.opcode == admin_opcode::kFabrics ? s.fctype() : s.opcode) & 0x3;
  switch (bits) {
    case 1:
      return DataDirection::kHostToController;
    case 2:
      return DataDirection::kControllerToHost;
    case 3:
      return DataDirection::kBidirectional;
    default:
      return DataDirection::kNone;
  }
}

std::string status_name(NvmeStatus s) {
  static const struct {
    NvmeStatus code;
    const char* name;
  } kNames[] = {
      {sc::kSuccess, "Success"},
      {sc::kInvalidOpcode, "Invalid Command Opcode"},
      {sc::kInvalidField, "Invalid Field in Command"},
      {sc::kCidConflict, "Command ID Conflict"},
      {sc::kDataTransferError, "Data Transfer Error"},
      {sc::kInternalError, "Internal Error"},
      {sc::kAbortRequested, "Command Abort Requested"},
      {sc::kInvalidNamespace, "Invalid Namespace or Format"},
      {sc::kCommandSequenceError, "Command Sequence Error"},
      {sc::kDataSglLengthInvalid, "Data SGL Length Invalid"},
      {sc::kSglInvalidDescriptorType, "SGL Descriptor Type Invalid"},
      {sc::kNsWriteProtected, "Namespace is Write Protected"},
      {sc::kTransientTransportError, "Transient Transport Error"},
      {sc::kLbaOutOfRange, "LBA Out of Range"},
      {sc::kCapacityExceeded, "Capacity Exceeded"},
      {sc::kNamespaceNotReady, "Namespace Not Ready"},
      {sc::kInvalidQueueIdentifier, "Invalid Queue Identifier"},
      {sc::kInvalidQueueSize, "Invalid Queue Size"},
      {sc::kAsyncEventLimitExceeded, "Asynchronous Event Request Limit Exceeded"},
      {sc::kInvalidLogPage, "Invalid Log Page"},
      {sc::kFeatureNotSaveable, "Feature Identifier Not Saveable"},
      {sc::kConnectIncompatibleFormat, "Connect Incompatible Format"},
      {sc::kConnectControllerBusy, "Connect Controller Busy"},
      {sc::kConnectInvalidParameters, "Connect Invalid Parameters"},
      {sc::kConnectRestartDiscovery, "Connect Restart Discovery"},
      {sc::kConnectInvalidHost, "Connect Invalid Host"},
      {sc::kAuthRequired, "Authentication Required"},
      {sc::kWriteFault, "Write Fault"},
      {sc::kUnrecoveredReadError, "Unrecovered Read Error"},
      {sc::kInternalPathError, "Internal Path Error"},
      {sc::kAnaTransition, "Asymmetric Access Transition"},
      {sc::kHostAbortedCommand, "Host Aborted Command"},
  };
  const char* name = "Unknown Status";
  for (const auto& n : kNames)
    if (n.code == (s & 0x7ff)) name = n.name;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s (sct 0x%x sc 0x%x%s)", name, status_sct(s), status_code(s),
                status_dnr(s) ? " dnr" : "");
  return buf;
}

std::string opcode_name(uint8_t opcode, bool admin, uint8_t fctype) {
  if (opcode == admin_opcode::kFabrics) {
    switch (fctype) {
      case fabrics_type::kPropertySet:
        return "Property Set";
      case fabrics_type::kConnect:
        return "Connect";
      case fabrics_type::kPropertyGet:
        return "Property Get";
      case fabrics_type::kAuthSend:
        return "Authentication Send";
      case fabrics_type::kAuthReceive:
        return "Authentication Receive";
      case fabrics_type::kDisconnect:
        return "Disconnect";
      default:
        return "Fabrics";
    }
  }
  if (admin) {
    switch (opcode) {
      case admin_opcode::kGetLogPage:
        return "Get Log Page";
      case admin_opcode::kIdentify:
        return "Identify";
      case admin_opcode::kAbort:
        return "Abort";
      case admin_opcode::kSetFeatures:
        return "Set Features";
      case admin_opcode::kGetFeatures:
        return "Get Features";
      case admin_opcode::kAsyncEventRequest:
        return "Asynchronous Event Request";
      case admin_opcode::kKeepAlive:
        return "Keep Alive";
    }
  } else {
    switch (opcode) {
      case io_opcode::kFlush:
        return "Flush";
      case io_opcode::kWrite:
        return "Write";
      case io_opcode::kRead:
        return "Read";
      case io_opcode::kWriteZeroes:
        return "Write Zeroes";
      case io_opcode::kDatasetManagement:
        return "Dataset Management";
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "opcode 0x%02x", opcode);
  return buf;
}

ConnectCommand decode_connect_command(const Sqe& s) {
  ConnectCommand c;
  c.recfmt = uint16_t(s.cdw10);
  c.qid = uint16_t(s.cdw10 >> 16);
  c.sqsize = uint16_t(s.cdw11);
  c.cattr = uint8_t(s.cdw11 >> 16);
  c.kato_ms = s.cdw12;
  return c;
}

void encode_connect_command(const ConnectCommand& c, Sqe& s) {
  s.opcode = admin_opcode::kFabrics;
  s.nsid = fabrics_type::kConnect;
  s.cdw10 = uint32_t(c.recfmt) | uint32_t(c.qid) << 16;
  s.cdw11 = uint32_t(c.sqsize) | uint32_t(c.cattr) << 16;
  s.cdw12 = c.kato_ms;
}

void encode_connect_data(const ConnectData& d, uint8_t* out) {
  std::memset(out, 0, kConnectDataSize);
  std::memcpy(out, d.hostid.data(), 16);
  put_le16(out + 16, d.cntlid);
  put_cstr_padded(out + 256, kNqnSize - 1, d.subnqn.c_str());
  put_cstr_padded(out + 512, kNqnSize - 1, d.hostnqn.c_str());
}

static bool read_nqn_field(const uint8_t* p, std::string* out) {
  const void* nul = std::memchr(p, 0, kNqnSize);
  if (!nul) return false;
  out->assign(reinterpret_cast<const char*>(p), static_cast<const uint8_t*>(nul) - p);
  return true;
}

bool decode_connect_data(const uint8_t* in, ConnectData* out) {
  std::memcpy(out->hostid.data(), in, 16);
  out->cntlid = get_le16(in + 16);
  return read_nqn_field(in + 256, &out->subnqn) && read_nqn_field(in + 512, &out->hostnqn);
}

bool valid_nqn(const std::string& nqn) {
  if (nqn.size() < 5 || nqn.size() > kMaxNqnLength || nqn.compare(0, 4, "nqn.") != 0) return false;
  for (char c : nqn)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

}  // namespace nvmeoe
