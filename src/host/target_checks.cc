// Checks of what a target sends (see target_checks.h).
#include "host/target_checks.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/bytes.h"

namespace nvmeoe {

namespace {

// A field as the message shows it: printable ASCII as is, other bytes as \xNN, bounded.
std::string shown(const uint8_t* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && out.size() < 80; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f) {
      out += char(p[i]);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", p[i]);
      out += hex;
    }
  }
  return out;
}

// An ASCII field of Identify (space padded; NUL padding is tolerated): everything before the
// padding must be printable.
std::string check_ascii(const uint8_t* data, size_t offset, size_t width, const char* name) {
  const uint8_t* p = data + offset;
  size_t n = width;
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == 0)) --n;
  for (size_t i = 0; i < n; ++i)
    if (p[i] < 0x20 || p[i] > 0x7e)
      return std::string("Identify Controller: ") + name + " (bytes " + std::to_string(offset) + "-" +
             std::to_string(offset + width - 1) + ") is not printable ASCII: '" + shown(p, n) + "'";
  return "";
}

}  // namespace

std::string check_connect_grant(const ConnectRequest& asked, const ConnectResponse& got) {
  if (got.queue_size < 2)
    return "Connect Response grants a queue of " + std::to_string(got.queue_size) +
           " entries (queue size; at least 2 are needed)";
  if (got.max_frame < kMinMtu || got.max_frame > asked.max_frame)
    return "Connect Response grants " + std::to_string(got.max_frame) + "-byte frames (max frame; this host needs " +
           std::to_string(kMinMtu) + " to " + std::to_string(asked.max_frame) + ")";
  if (got.digests & ~asked.digests)
    return "Connect Response turns on digests the host did not ask for (digests " + std::to_string(got.digests) +
           ", asked " + std::to_string(asked.digests) + ")";
  if (got.max_transfer < kIdentifySize)
    return "Connect Response allows " + std::to_string(got.max_transfer) +
           " bytes per command (max transfer; at least " + std::to_string(kIdentifySize) + " are needed)";
  return "";
}

uint64_t mdts_bytes(uint8_t mdts) {
  // 4 KiB pages (CAP.MPSMIN 0); from 2^20 pages (4 GiB) on, more than one command can carry anyway.
  if (mdts == 0 || mdts >= 20) return uint64_t(1) << 32;
  return uint64_t(4096) << mdts;
}

std::string check_identify_controller(const uint8_t* data, const std::string& subnqn) {
  using namespace idctl;
  if (std::string why = check_ascii(data, kSn, kSnLen, "SN"); !why.empty()) return why;
  if (std::string why = check_ascii(data, kMn, kMnLen, "MN"); !why.empty()) return why;
  if (std::string why = check_ascii(data, kFr, kFrLen, "FR"); !why.empty()) return why;
  const uint8_t* p = data + kSubnqn;
  const void* nul = std::memchr(p, 0, kNqnSize);
  size_t n = nul ? size_t(static_cast<const uint8_t*>(nul) - p) : kNqnSize;
  std::string got(reinterpret_cast<const char*>(p), n);
  if (!nul || !valid_nqn(got))
    return "Identify Controller: SUBNQN (bytes 768-1023) is not a valid NQN: '" + shown(p, n) + "'";
  if (got != subnqn)
    return "Identify Controller: SUBNQN '" + got + "' is not the subsystem connected to ('" + subnqn + "')";
  return "";
}

std::string check_namespace_format(uint32_t nsid, const uint8_t* id) {
  using namespace idns;
  std::string ns = "namespace " + std::to_string(nsid) + ": Identify Namespace: ";
  uint8_t nlbaf = id[kNlbaf];
  uint8_t fmt = id[kFlbas] & 0x0f;
  if (nlbaf > 63 || fmt > nlbaf)
    return ns + "FLBAS selects LBA format " + std::to_string(fmt) + " of " + std::to_string(nlbaf + 1) + " (NLBAF " +
           std::to_string(nlbaf) + ")";
  uint32_t lbaf = get_le32(id + kLbaf0 + 4 * fmt);
  uint32_t lbads = (lbaf >> 16) & 0xff, ms = lbaf & 0xffff;
  if (lbads != 9) {
    std::string size =
        lbads < 32 ? std::to_string(uint64_t(1) << lbads) + "-byte" : "2^" + std::to_string(lbads) + "-byte";
    return ns + "LBADS " + std::to_string(lbads) + " (" + size +
           " blocks) is not supported: this host serves 512-byte blocks (LBADS 9) only";
  }
  if (ms != 0) return ns + "MS " + std::to_string(ms) + ": metadata per block is not supported";
  return "";
}

std::string check_active_ns_list(const std::vector<uint32_t>& nsids) {
  for (size_t i = 0; i < nsids.size(); ++i) {
    if (nsids[i] >= 0xfffffffe)
      return "Active Namespace List: entry " + std::to_string(i) + " is the reserved NSID " + std::to_string(nsids[i]);
    if (i > 0 && nsids[i] <= nsids[i - 1])
      return "Active Namespace List: entry " + std::to_string(i) + " (NSID " + std::to_string(nsids[i]) +
             ") does not follow NSID " + std::to_string(nsids[i - 1]) + " in ascending order";
  }
  return "";
}

uint32_t granted_io_queues(uint32_t dw0, std::string* why) {
  uint32_t nsqa = dw0 & 0xffff, ncqa = dw0 >> 16;
  // 0-based counts; FFFFh would be 65536 queues, more than a queue ID can name.
  if (nsqa == 0xffff || ncqa == 0xffff) {
    *why = "Set Features (Number of Queues) grants " + std::to_string(nsqa + 1) + " submission and " +
           std::to_string(ncqa + 1) + " completion queues (NSQA/NCQA FFFFh is reserved)";
    return 0;
  }
  return std::min(nsqa, ncqa) + 1;
}

}  // namespace nvmeoe
