// Host NQN and host ID defaults.
#include "host/identity.h"

#include <cstdio>
#include <fstream>

#include "nvme/spec.h"
#include "nvmeoe/host.h"

namespace nvmeoe {

static std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

bool parse_uuid(const std::string& t, std::array<uint8_t, 16>* out) {
  if (t.size() != 36) return false;
  size_t j = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (t[i] != '-') return false;
      ++i;
      continue;
    }
    unsigned v;
    if (std::sscanf(t.c_str() + i, "%2x", &v) != 1 || !isxdigit(t[i]) || !isxdigit(t[i + 1])) return false;
    (*out)[j++] = uint8_t(v);
    i += 2;
  }
  return j == 16;
}

static std::string format_uuid(const std::array<uint8_t, 16>& u) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  return buf;
}

static std::array<uint8_t, 16> hash_to_uuid(const std::string& text) {
  std::array<uint8_t, 16> u{};
  uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
  for (unsigned char c : text) {
    h1 = (h1 ^ c) * 0x100000001b3ull;
    h2 = (h2 ^ c) * 0x100000001b3ull + 7;
  }
  for (int i = 0; i < 8; ++i) {
    u[i] = uint8_t(h1 >> (8 * i));
    u[8 + i] = uint8_t(h2 >> (8 * i));
  }
  u[6] = uint8_t((u[6] & 0x0f) | 0x40);  // version 4 layout
  u[8] = uint8_t((u[8] & 0x3f) | 0x80);
  return u;
}

std::array<uint8_t, 16> host_id_for(const std::string& hostnqn, const std::string& hostid) {
  std::array<uint8_t, 16> id{};
  if (!hostid.empty() && parse_uuid(hostid, &id)) return id;
  if (parse_uuid(read_first_line("/etc/nvme/hostid"), &id)) return id;
  auto pos = hostnqn.find(":uuid:");
  if (pos != std::string::npos && parse_uuid(hostnqn.substr(pos + 6), &id)) return id;
  return hash_to_uuid(hostnqn);
}

std::string default_hostnqn() {
  std::string nqn = read_first_line("/etc/nvme/hostnqn");
  if (valid_nqn(nqn)) return nqn;
  // Stable per machine: derived from the machine id, as nvme-cli's gen-hostnqn derives from DMI.
  std::string seed = read_first_line("/etc/machine-id");
  if (seed.empty()) seed = read_first_line("/proc/sys/kernel/random/boot_id");
  return "nqn.2014-08.org.nvmexpress:uuid:" + format_uuid(hash_to_uuid("nvmeoe-host:" + seed));
}

}  // namespace nvmeoe
