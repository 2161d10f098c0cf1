// Discovery Log Page encoding. Text fields: TRSVCID and TRADDR are ASCII padded with spaces (as
// NVMe's other ASCII fields), SUBNQN is NUL-terminated and NUL-padded (as in Fabrics Connect).
#include "nvme/discovery_log.h"

#include <cstring>

#include "common/bytes.h"
#include "nvme/spec.h"

namespace nvmeoe {

namespace {

std::string trimmed_ascii(const uint8_t* p, size_t width) {
  size_t n = 0;
  while (n < width && p[n] != 0) ++n;
  while (n > 0 && p[n - 1] == ' ') --n;
  return std::string(reinterpret_cast<const char*>(p), n);
}

}  // namespace

std::vector<uint8_t> encode_discovery_log(uint64_t genctr, const std::vector<DiscoveryLogEntry>& entries) {
  std::vector<uint8_t> page(kDiscoveryLogHeaderSize + kDiscoveryLogEntrySize * entries.size(), 0);
  put_le64(page.data() + disclog::kGenctr, genctr);
  put_le64(page.data() + disclog::kNumrec, entries.size());
  put_le16(page.data() + disclog::kRecfmt, 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    const DiscoveryLogEntry& e = entries[i];
    uint8_t* p = page.data() + kDiscoveryLogHeaderSize + kDiscoveryLogEntrySize * i;
    p[disclog::kTrtype] = e.trtype;
    p[disclog::kAdrfam] = e.adrfam;
    p[disclog::kSubtype] = e.subtype;
    p[disclog::kTreq] = e.treq;
    put_le16(p + disclog::kPortid, e.portid);
    put_le16(p + disclog::kEflags, e.eflags);
    put_le16(p + disclog::kCntlid, e.cntlid);
    put_le16(p + disclog::kAsqsz, e.asqsz);
    put_ascii_padded(p + disclog::kTrsvcid, disclog::kTrsvcidLen, e.trsvcid.c_str());
    put_cstr_padded(p + disclog::kSubnqn, kNqnSize, e.subnqn.substr(0, kNqnSize - 1).c_str());
    put_ascii_padded(p + disclog::kTraddr, disclog::kTraddrLen, e.traddr.c_str());
  }
  return page;
}

bool decode_discovery_log(const uint8_t* bytes, size_t size, DiscoveryLog* out) {
  if (size < kDiscoveryLogHeaderSize) return false;
  out->genctr = get_le64(bytes + disclog::kGenctr);
  out->numrec = get_le64(bytes + disclog::kNumrec);
  out->recfmt = get_le16(bytes + disclog::kRecfmt);
  out->entries.clear();
  for (uint64_t i = 0; i < out->numrec; ++i) {
    size_t at = kDiscoveryLogHeaderSize + kDiscoveryLogEntrySize * size_t(i);
    if (at + kDiscoveryLogEntrySize > size) break;
    const uint8_t* p = bytes + at;
    DiscoveryLogEntry e;
    e.trtype = p[disclog::kTrtype];
    e.adrfam = p[disclog::kAdrfam];
    e.subtype = p[disclog::kSubtype];
    e.treq = p[disclog::kTreq];
    e.portid = get_le16(p + disclog::kPortid);
    e.eflags = get_le16(p + disclog::kEflags);
    e.cntlid = get_le16(p + disclog::kCntlid);
    e.asqsz = get_le16(p + disclog::kAsqsz);
    e.trsvcid = trimmed_ascii(p + disclog::kTrsvcid, disclog::kTrsvcidLen);
    e.subnqn = trimmed_ascii(p + disclog::kSubnqn, kNqnSize);
    e.traddr = trimmed_ascii(p + disclog::kTraddr, disclog::kTraddrLen);
    out->entries.push_back(std::move(e));
  }
  return true;
}

const char* trtype_name(uint8_t trtype) {
  switch (trtype) {
    case 1:
      return "rdma";
    case 2:
      return "fc";
    case 3:
      return "tcp";
    case 0xfe:
      return "loop";
    case kTrtypeEth:
      return "eth";
    default:
      return "unrecognized";
  }
}

const char* adrfam_name(uint8_t adrfam) {
  switch (adrfam) {
    case 0:
      return "pci";
    case 1:
      return "ipv4";
    case 2:
      return "ipv6";
    case 3:
      return "infiniband";
    case 4:
      return "fibre-channel";
    case 0xfe:
      return "loop";
    case kAdrfamEthMac:
      return "mac";
    default:
      return "unrecognized";
  }
}

const char* subtype_name(uint8_t subtype) {
  switch (subtype) {
    case kSubtypeReferral:
      return "discovery subsystem referral";
    case kSubtypeNvm:
      return "nvme subsystem";
    case 3:
      return "current discovery subsystem";
    default:
      return "unrecognized";
  }
}

}  // namespace nvmeoe
