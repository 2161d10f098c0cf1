// Encoders and decoders for Identify data and log pages.
#include "nvme/identify.h"

#include <cstdio>
#include <cstring>

#include "common/bytes.h"

namespace nvmeoe {

static std::string read_ascii(const uint8_t* p, size_t width) {
  std::string s(reinterpret_cast<const char*>(p), width);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

static std::string read_cstr(const uint8_t* p, size_t width) {
  const void* nul = std::memchr(p, 0, width);
  size_t n = nul ? static_cast<const uint8_t*>(nul) - p : width;
  return std::string(reinterpret_cast<const char*>(p), n);
}

void encode_identify_controller(const IdentifyController& id, uint8_t* out) {
  using namespace idctl;
  std::memset(out, 0, kIdentifySize);
  put_le16(out + kVid, id.vid);
  put_le16(out + kSsvid, id.ssvid);
  put_ascii_padded(out + kSn, kSnLen, id.serial.c_str());
  put_ascii_padded(out + kMn, kMnLen, id.model.c_str());
  put_ascii_padded(out + kFr, kFrLen, id.firmware.c_str());
  out[kRab] = 6;
  out[kCmic] = 0x02;  // may be one of several controllers of the subsystem
  out[kMdts] = id.mdts;
  put_le16(out + kCntlid, id.cntlid);
  put_le32(out + kVer, id.version);
  out[kCntrltype] = id.cntrltype;
  put_le32(out + kOaes, id.oaes);
  out[kAcl] = 3;
  out[kAerl] = id.aerl;
  out[kFrmw] = id.frmw;
  out[kLpa] = id.lpa;
  out[kElpe] = id.elpe;
  put_le16(out + kKas, id.kas);
  out[kSqes] = 0x66;  // 64-byte SQE, required and maximum
  out[kCqes] = 0x44;  // 16-byte CQE
  put_le16(out + kMaxcmd, id.maxcmd);
  put_le32(out + kNn, id.nn);
  put_le16(out + kOncs, id.oncs);
  out[kVwc] = id.vwc;
  put_le32(out + kSgls, id.sgls);
  put_le32(out + kMnan, 0);
  put_cstr_padded(out + kSubnqn, kNqnSize, id.subnqn.c_str());
  put_le32(out + kIoccsz, id.ioccsz);
  put_le32(out + kIorcsz, id.iorcsz);
  put_le16(out + kIcdoff, id.icdoff);
  out[kMsdbd] = id.msdbd;
}

IdentifyController decode_identify_controller(const uint8_t* in) {
  using namespace idctl;
  IdentifyController id;
  id.vid = get_le16(in + kVid);
  id.ssvid = get_le16(in + kSsvid);
  id.serial = read_ascii(in + kSn, kSnLen);
  id.model = read_ascii(in + kMn, kMnLen);
  id.firmware = read_ascii(in + kFr, kFrLen);
  id.mdts = in[kMdts];
  id.cntlid = get_le16(in + kCntlid);
  id.version = get_le32(in + kVer);
  id.cntrltype = in[kCntrltype];
  id.oaes = get_le32(in + kOaes);
  id.frmw = in[kFrmw];
  id.lpa = in[kLpa];
  id.elpe = in[kElpe];
  id.aerl = in[kAerl];
  id.kas = get_le16(in + kKas);
  id.maxcmd = get_le16(in + kMaxcmd);
  id.nn = get_le32(in + kNn);
  id.oncs = get_le16(in + kOncs);
  id.vwc = in[kVwc];
  id.sgls = get_le32(in + kSgls);
  id.subnqn = read_cstr(in + kSubnqn, kNqnSize);
  id.ioccsz = get_le32(in + kIoccsz);
  id.iorcsz = get_le32(in + kIorcsz);
  id.icdoff = get_le16(in + kIcdoff);
  id.msdbd = in[kMsdbd];
  return id;
}

void encode_identify_namespace(const IdentifyNamespace& id, uint8_t* out) {
  using namespace idns;
  std::memset(out, 0, kIdentifySize);
  put_le64(out + kNsze, id.nsze);
  put_le64(out + kNcap, id.ncap);
  put_le64(out + kNuse, id.nuse);
  out[kNsfeat] = id.nsfeat;
  out[kNlbaf] = 0;  // one format
  out[kFlbas] = 0;
  out[kDlfeat] = id.dlfeat;
  std::memcpy(out + kNguid, id.nguid.data(), 16);
  std::memcpy(out + kEui64, id.eui64.data(), 8);
  put_le32(out + kLbaf0, uint32_t(id.lbads) << 16);  // MS 0, LBADS, RP 0
  // NSATTR (byte 99) bit 0: write protected.
  out[99] = id.write_protected ? 1 : 0;
}

IdentifyNamespace decode_identify_namespace(const uint8_t* in) {
  using namespace idns;
  IdentifyNamespace id;
  id.nsze = get_le64(in + kNsze);
  id.ncap = get_le64(in + kNcap);
  id.nuse = get_le64(in + kNuse);
  id.nsfeat = in[kNsfeat];
  id.dlfeat = in[kDlfeat];
  std::memcpy(id.nguid.data(), in + kNguid, 16);
  std::memcpy(id.eui64.data(), in + kEui64, 8);
  uint8_t fmt = in[kFlbas] & 0x0f;
  id.lbads = uint8_t(get_le32(in + kLbaf0 + 4 * fmt) >> 16);
  id.write_protected = in[99] & 1;
  return id;
}

void encode_active_ns_list(const std::vector<uint32_t>& nsids, uint32_t after, uint8_t* out) {
  std::memset(out, 0, kIdentifySize);
  size_t n = 0;
  for (uint32_t id : nsids) {
    if (id <= after) continue;
    if (n == kIdentifySize / 4) break;
    put_le32(out + 4 * n++, id);
  }
}

std::vector<uint32_t> decode_active_ns_list(const uint8_t* in) {
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < kIdentifySize / 4; ++i) {
    uint32_t id = get_le32(in + 4 * i);
    if (id == 0) break;
    ids.push_back(id);
  }
  return ids;
}

void encode_controller_list(const std::vector<uint16_t>& cntlids, uint16_t from, uint8_t* out) {
  std::memset(out, 0, kIdentifySize);
  size_t n = 0;
  for (uint16_t id : cntlids) {
    if (id < from) continue;
    if (n == 2047) break;
    put_le16(out + 2 + 2 * n++, id);
  }
  put_le16(out, uint16_t(n));
}

void encode_ns_descriptors(const std::array<uint8_t, 16>& nguid, uint8_t* out) {
  std::memset(out, 0, kIdentifySize);
  out[0] = 2;  // NIDT: NGUID
  out[1] = 16;
  std::memcpy(out + 4, nguid.data(), 16);
  out[20] = 4;  // NIDT: Command Set Identifier
  out[21] = 1;
  out[24] = 0;  // NVM command set
}

void encode_smart_log(const SmartLog& s, uint8_t* out) {
  std::memset(out, 0, kSmartLogSize);
  out[0] = s.critical_warning;
  put_le16(out + 1, s.temperature_k);
  out[3] = s.available_spare;
  out[4] = s.spare_threshold;
  out[5] = s.percent_used;
  // 128-bit counters: the high 64 bits stay zero.
  put_le64(out + 32, s.data_units_read);
  put_le64(out + 48, s.data_units_written);
  put_le64(out + 64, s.host_reads);
  put_le64(out + 80, s.host_writes);
  put_le64(out + 128, s.power_on_hours);
  put_le64(out + 160, s.media_errors);
  put_le64(out + 176, s.error_log_entries);
}

SmartLog decode_smart_log(const uint8_t* in) {
  SmartLog s;
  s.critical_warning = in[0];
  s.temperature_k = get_le16(in + 1);
  s.available_spare = in[3];
  s.spare_threshold = in[4];
  s.percent_used = in[5];
  s.data_units_read = get_le64(in + 32);
  s.data_units_written = get_le64(in + 48);
  s.host_reads = get_le64(in + 64);
  s.host_writes = get_le64(in + 80);
  s.power_on_hours = get_le64(in + 128);
  s.media_errors = get_le64(in + 160);
  s.error_log_entries = get_le64(in + 176);
  return s;
}

void encode_firmware_log(const std::string& fw, uint8_t* out) {
  std::memset(out, 0, kFirmwareLogSize);
  out[0] = 0x01;  // AFI: slot 1 active
  put_ascii_padded(out + 8, 8, fw.c_str());
}

void encode_error_log_entry(const ErrorLogEntry& e, uint8_t* out) {
  std::memset(out, 0, kErrorLogEntrySize);
  put_le64(out, e.error_count);
  put_le16(out + 8, e.sqid);
  put_le16(out + 10, e.cid);
  put_le16(out + 12, uint16_t(e.status << 1));
  put_le16(out + 14, 0xffff);  // parameter error location: not specified
  put_le64(out + 16, e.lba);
  put_le32(out + 24, e.nsid);
}

ErrorLogEntry decode_error_log_entry(const uint8_t* in) {
  ErrorLogEntry e;
  e.error_count = get_le64(in);
  e.sqid = get_le16(in + 8);
  e.cid = get_le16(in + 10);
  e.status = uint16_t(get_le16(in + 12) >> 1);
  e.lba = get_le64(in + 16);
  e.nsid = get_le32(in + 24);
  return e;
}

std::string serial_from_nqn(const std::string& nqn) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : nqn) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;  // 16 hex digits; padded with spaces to 20 in Identify
}

}  // namespace nvmeoe
