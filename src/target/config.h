// Target configuration files in the layout of nvmetcli's saved configuration (`nvmetcli save`):
// top-level "hosts", "ports" and "subsystems", with trtype "eth", traddr = interface name and
// trsvcid = EtherType. Parsing checks everything that can be checked without opening devices and
// names the file, the JSON path of the offending key and the reason. The format is described in
// README.md ("Configuration files").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace nvmeoe {

struct NamespaceConfig {
  uint32_t nsid = 0;
  bool enable = true;       // a disabled namespace stays in the file but is not served
  bool readonly = false;    // nvmeoe's key "readonly" on the namespace
  std::string path;         // device.path: block device, file, or mem:SIZE
  std::string uuid, nguid;  // device.uuid / device.nguid as written (nguid: 32 hex digits, dashes allowed)
  uint32_t ana_grpid = 0;   // kept for the round trip; 0 = absent
  bool operator==(const NamespaceConfig&) const = default;
};

struct SubsystemConfig {
  std::string nqn;
  bool allow_any_host = false;  // attr.allow_any_host; absent = "0", as in nvmet
  std::string serial, model, version;
  std::vector<std::string> allowed_hosts;
  std::vector<NamespaceConfig> namespaces;
  bool operator==(const SubsystemConfig&) const = default;
};

struct PortConfig {
  uint16_t portid = 0;
  std::string trtype = "eth";
  std::string traddr;   // interface name
  std::string trsvcid;  // EtherType text; empty = 0x88b5
  std::string adrfam;   // optional, kept as written ("" or "mac")
  std::string treq;     // optional, kept as written
  std::vector<std::string> subsystems;
  uint16_t ethertype = 0x88B5;  // parsed trsvcid
  bool operator==(const PortConfig&) const = default;
};

// DH-HMAC-CHAP settings of one host, as written: nvmetcli saves them as the "dhchap" group of a
// "hosts" entry ({"key", "ctrl_key", "hash", "dhgroup"}, the configfs attributes dhchap_key, ...);
// the flat names "dhchap_key", ... are accepted too. Empty: not set. A host with a key must
// authenticate (docs/SECURITY.md).
struct HostDhchapConfig {
  std::string key;       // DHHC-1 secret the host proves it holds
  std::string ctrl_key;  // DHHC-1 secret the controller proves it holds (bidirectional)
  std::string hash;      // "hmac(sha256)" (default), "hmac(sha384)", "hmac(sha512)"
  std::string dhgroup;   // "null" (default), "ffdhe2048" ... "ffdhe8192"
  bool operator==(const HostDhchapConfig&) const = default;
};

struct TargetConfig {
  std::vector<std::string> hosts;
  std::map<std::string, HostDhchapConfig> dhchap;  // by host NQN; only hosts with settings
  std::vector<PortConfig> ports;
  std::vector<SubsystemConfig> subsystems;
  // nvmeoe's top-level "limits": resource limits by name (resource_limits.h), as given.
  std::map<std::string, uint64_t> limits;
  bool operator==(const TargetConfig&) const = default;
  const SubsystemConfig* find_subsystem(const std::string& nqn) const;
};

// Parses `text`; `file` names the source in messages ("FILE: KEY: reason", or "FILE:LINE:COL:
// invalid JSON: ..."). Checks types, unknown keys, NQNs, duplicate NQNs/NSIDs/ports, trtype "eth",
// ports naming unknown subsystems, allowed hosts missing from "hosts", and (unless
// `check_devices` is false) that every enabled namespace's device exists.
Result<TargetConfig> parse_target_config(std::string_view text, const std::string& file, bool check_devices = true);
Result<TargetConfig> load_target_config(const std::string& path, bool check_devices = true);

// The configuration in the same layout (keys sorted, two-space indent, trailing newline):
// parse(dump(c)) == c, and dump(parse(dump(c))) == dump(c).
std::string dump_target_config(const TargetConfig& config);

// Parses an NGUID text (32 hex digits, dashes ignored) into 16 bytes.
bool parse_nguid(const std::string& text, uint8_t out[16]);

}  // namespace nvmeoe
