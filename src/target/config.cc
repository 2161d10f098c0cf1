// Parsing and dumping of nvmetcli-layout target configuration files.
#include "target/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "auth/crypto.h"
#include "auth/secret.h"
#include "nvme/spec.h"
#include "target/resource_limits.h"

namespace nvmeoe {

namespace {

using nlohmann::json;

constexpr uint32_t kMaxNsid = 0xfffffffe;
// Deeper nesting than any configuration needs is refused before parsing, so nothing that walks a
// value recursively (dump(), comparisons) can run out of stack on a hostile file.
constexpr int kMaxDepth = 32;
// Values and keys quoted in error messages are cut to this many characters.
constexpr size_t kMaxQuoted = 240;  // a whole NQN (223) fits

// `s` for an error message: printable ASCII as is, other bytes as \xNN, at most kMaxQuoted
// characters (then "..."), so that a message never carries a whole hostile value.
std::string bounded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= kMaxQuoted) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

// Line and column (1-based) of byte `at` of `text`.
std::string position(std::string_view text, size_t at) {
  at = std::min(at, text.size());
  size_t line = 1, col = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

// The byte offset where arrays and objects first nest deeper than `limit`, or npos.
size_t too_deep_at(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

// The text of a JSON library exception without its "[json.exception.type.N] " prefix, bounded.
std::string exception_text(const std::exception& e) {
  std::string what = e.what();
  if (size_t p = what.find("column "); p != std::string::npos) {
    if (size_t q = what.find(": ", p); q != std::string::npos) what = what.substr(q + 2);
  } else if (size_t q = what.find("] "); q != std::string::npos) {
    what = what.substr(q + 2);
  }
  if (what.size() > 2 * kMaxQuoted) what = what.substr(0, 2 * kMaxQuoted) + "...";
  return what;
}

class Parser {
 public:
  Parser(const std::string& file, bool check_devices) : file_(file), check_devices_(check_devices) {}

  Status fail(const std::string& path, const std::string& why) const {
    return Status::error(file_ + ": " + (path.empty() ? std::string("top level") : path) + ": " + why);
  }

  static const char* type_name(const json& j) {
    switch (j.type()) {
      case json::value_t::object:
        return "an object";
      case json::value_t::array:
        return "an array";
      case json::value_t::string:
        return "a string";
      case json::value_t::boolean:
        return "a boolean";
      case json::value_t::number_integer:
      case json::value_t::number_unsigned:
        return "an integer";
      case json::value_t::number_float:
        return "a number";
      case json::value_t::null:
        return "null";
      default:
        return "something else";
    }
  }

  Status expect(const json& j, json::value_t t, const std::string& path, const char* what) const {
    bool ok = j.type() == t || (t == json::value_t::number_unsigned && j.type() == json::value_t::number_integer);
    if (!ok) return fail(path, std::string("expected ") + what + ", found " + type_name(j));
    return Status::ok();
  }

  // Every key of `j` must be in `known`; `ignored` keys are accepted (nvmetcli writes them) and dropped.
  Status check_keys(const json& j, const std::string& path, const std::set<std::string>& known,
                    const std::set<std::string>& ignored = {}) const {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (known.count(it.key()) || ignored.count(it.key())) continue;
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return fail(join(path, it.key()), "unknown key (expected one of: " + list + ")");
    }
    return Status::ok();
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? bounded(key) : path + "." + bounded(key);
  }
  static std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

  Status get_string(const json& j, const std::string& path, std::string* out) const {
    NVMEOE_RETURN_IF_ERROR(expect(j, json::value_t::string, path, "a string"));
    *out = j.get<std::string>();
    // Names go to the kernel and the file system as C strings: a NUL would cut them short there.
    if (out->find('\0') != std::string::npos) return fail(path, "contains a NUL character");
    return Status::ok();
  }

  Status get_uint(const json& j, const std::string& path, uint64_t lo, uint64_t hi, uint64_t* out) const {
    if (!j.is_number_integer()) return fail(path, std::string("expected an integer, found ") + type_name(j));
    if (j.is_number_unsigned() ? false : j.get<int64_t>() < 0)
      return fail(path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    uint64_t v = j.get<uint64_t>();
    if (v < lo || v > hi)
      return fail(
          path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " + std::to_string(v));
    *out = v;
    return Status::ok();
  }

  // nvmetcli writes flags as "0"/"1" strings (attr) or 0/1 integers (enable); booleans are accepted too.
  Status get_flag(const json& j, const std::string& path, bool* out) const {
    if (j.is_boolean()) {
      *out = j.get<bool>();
    } else if (j.is_number_integer() && (j.get<int64_t>() == 0 || j.get<int64_t>() == 1)) {
      *out = j.get<int64_t>() == 1;
    } else if (j.is_string() && (j.get<std::string>() == "0" || j.get<std::string>() == "1")) {
      *out = j.get<std::string>() == "1";
    } else {
      std::string found = type_name(j);
      if (j.is_string()) found += " '" + bounded(j.get<std::string>()) + "'";
      if (j.is_number()) found += " " + bounded(j.dump());
      return fail(path, "expected 0, 1, \"0\", \"1\", true or false, found " + found);
    }
    return Status::ok();
  }

  Status get_nqn(const json& j, const std::string& path, std::string* out) const {
    NVMEOE_RETURN_IF_ERROR(get_string(j, path, out));
    if (out->compare(0, 4, "nqn.") != 0)
      return fail(path, "invalid NQN '" + bounded(*out) + "': must start with \"nqn.\"");
    if (!valid_nqn(*out))
      return fail(path, "invalid NQN '" + bounded(*out) + "': at most 223 printable ASCII characters without spaces");
    return Status::ok();
  }

  Status parse(const json& root, TargetConfig* c) {
    NVMEOE_RETURN_IF_ERROR(expect(root, json::value_t::object, "", "an object"));
    NVMEOE_RETURN_IF_ERROR(check_keys(root, "", {"hosts", "ports", "subsystems", "limits"}));
    if (root.contains("limits")) NVMEOE_RETURN_IF_ERROR(parse_limits(root["limits"], c));
    if (root.contains("hosts")) NVMEOE_RETURN_IF_ERROR(parse_hosts(root["hosts"], c));
    if (root.contains("subsystems")) NVMEOE_RETURN_IF_ERROR(parse_subsystems(root["subsystems"], c));
    if (root.contains("ports")) NVMEOE_RETURN_IF_ERROR(parse_ports(root["ports"], c));
    return Status::ok();
  }

  // nvmeoe's resource limits: {"max_associations": 4096, ...}, each key one of limit_keys().
  Status parse_limits(const json& j, TargetConfig* c) {
    NVMEOE_RETURN_IF_ERROR(expect(j, json::value_t::object, "limits", "an object"));
    std::set<std::string> known;
    for (const auto& k : limit_keys()) known.insert(k.key);
    NVMEOE_RETURN_IF_ERROR(check_keys(j, "limits", known));
    for (auto it = j.begin(); it != j.end(); ++it) {
      const LimitKey* k = find_limit_key(it.key());
      uint64_t v = 0;
      NVMEOE_RETURN_IF_ERROR(get_uint(*it, join("limits", it.key()), k->lo, k->hi, &v));
      c->limits[it.key()] = v;
    }
    ResourceLimits l;
    if (Status st = set_limits(&l, c->limits); !st) return fail("limits", st.message());
    if (Status st = check_limits(l, 1u << 20); !st) return fail("limits", st.message().substr(8));  // drop "limits: "
    return Status::ok();
  }

  Status parse_hosts(const json& j, TargetConfig* c) {
    NVMEOE_RETURN_IF_ERROR(expect(j, json::value_t::array, "hosts", "an array"));
    std::map<std::string, std::string> seen;
    for (size_t i = 0; i < j.size(); ++i) {
      std::string path = index("hosts", i);
      NVMEOE_RETURN_IF_ERROR(expect(j[i], json::value_t::object, path, "an object"));
      NVMEOE_RETURN_IF_ERROR(
          check_keys(j[i], path, {"nqn", "dhchap", "dhchap_key", "dhchap_ctrl_key", "dhchap_hash", "dhchap_dhgroup"}));
      if (!j[i].contains("nqn")) return fail(join(path, "nqn"), "missing");
      std::string nqn;
      NVMEOE_RETURN_IF_ERROR(get_nqn(j[i]["nqn"], join(path, "nqn"), &nqn));
      if (auto it = seen.find(nqn); it != seen.end())
        return fail(join(path, "nqn"), "duplicate host NQN '" + bounded(nqn) + "' (also " + it->second + ")");
      seen[nqn] = join(path, "nqn");
      c->hosts.push_back(nqn);
      HostDhchapConfig d;
      NVMEOE_RETURN_IF_ERROR(parse_dhchap(j[i], path, &d));
      if (!(d == HostDhchapConfig{})) c->dhchap[nqn] = d;
    }
    return Status::ok();
  }

  // A host's DH-HMAC-CHAP settings: nvmetcli's "dhchap" group, or the flat "dhchap_*" names.
  Status parse_dhchap(const json& host, const std::string& path, HostDhchapConfig* d) {
    struct Field {
      const char* name;
      std::string* value;
      std::string at;
    } fields[] = {
        {"key", &d->key, ""}, {"ctrl_key", &d->ctrl_key, ""}, {"hash", &d->hash, ""}, {"dhgroup", &d->dhgroup, ""}};
    if (host.contains("dhchap")) {
      const std::string gpath = join(path, "dhchap");
      NVMEOE_RETURN_IF_ERROR(expect(host["dhchap"], json::value_t::object, gpath, "an object"));
      NVMEOE_RETURN_IF_ERROR(check_keys(host["dhchap"], gpath, {"key", "ctrl_key", "hash", "dhgroup"}));
      for (auto& f : fields) {
        if (!host["dhchap"].contains(f.name)) continue;
        f.at = join(gpath, f.name);
        NVMEOE_RETURN_IF_ERROR(get_string(host["dhchap"][f.name], f.at, f.value));
      }
    }
    for (auto& f : fields) {
      std::string flat = std::string("dhchap_") + f.name;
      if (!host.contains(flat)) continue;
      std::string v;
      NVMEOE_RETURN_IF_ERROR(get_string(host[flat], join(path, flat), &v));
      if (!f.value->empty() && !v.empty() && v != *f.value) return fail(join(path, flat), "differs from " + f.at);
      if (!v.empty()) {
        *f.value = v;
        f.at = join(path, flat);
      }
    }
    // nvmetcli saves unset secrets as "" (and hash and group always): empty means not set.
    if (!d->key.empty())
      if (auto k = auth::parse_secret(d->key); !k) return fail(fields[0].at, k.status().message());
    if (!d->ctrl_key.empty()) {
      if (auto k = auth::parse_secret(d->ctrl_key); !k) return fail(fields[1].at, k.status().message());
      if (d->key.empty()) return fail(fields[1].at, "a controller key needs the host's key (key) too");
    }
    auth::HashId hash;
    if (!d->hash.empty() && !auth::parse_hash_name(d->hash, &hash))
      return fail(fields[2].at, "unknown hash '" + bounded(d->hash) + "': hmac(sha256), hmac(sha384) or hmac(sha512)");
    auth::DhGroup group;
    if (!d->dhgroup.empty() && !auth::parse_dhgroup_name(d->dhgroup, &group))
      return fail(fields[3].at, "unknown DH group '" + bounded(d->dhgroup) + "': null, ffdhe2048, ffdhe3072, " +
                                    "ffdhe4096, ffdhe6144 or ffdhe8192");
    return Status::ok();
  }

  Status parse_subsystems(const json& j, TargetConfig* c) {
    NVMEOE_RETURN_IF_ERROR(expect(j, json::value_t::array, "subsystems", "an array"));
    std::map<std::string, std::string> seen;
    std::set<std::string> hosts(c->hosts.begin(), c->hosts.end());
    for (size_t i = 0; i < j.size(); ++i) {
      std::string path = index("subsystems", i);
      const json& s = j[i];
      NVMEOE_RETURN_IF_ERROR(expect(s, json::value_t::object, path, "an object"));
      NVMEOE_RETURN_IF_ERROR(check_keys(s, path, {"nqn", "attr", "allowed_hosts", "namespaces"}));
      SubsystemConfig sub;
      if (!s.contains("nqn")) return fail(join(path, "nqn"), "missing");
      NVMEOE_RETURN_IF_ERROR(get_nqn(s["nqn"], join(path, "nqn"), &sub.nqn));
      if (sub.nqn == kDiscoveryNqn) return fail(join(path, "nqn"), "the discovery subsystem's NQN is reserved");
      if (auto it = seen.find(sub.nqn); it != seen.end())
        return fail(join(path, "nqn"), "duplicate subsystem NQN '" + bounded(sub.nqn) + "' (also " + it->second + ")");
      seen[sub.nqn] = join(path, "nqn");
      if (s.contains("attr")) {
        std::string apath = join(path, "attr");
        const json& a = s["attr"];
        NVMEOE_RETURN_IF_ERROR(expect(a, json::value_t::object, apath, "an object"));
        NVMEOE_RETURN_IF_ERROR(
            check_keys(a, apath, {"allow_any_host", "serial", "model", "version"},
                       {"cntlid_min", "cntlid_max", "pi_enable", "ieee_oui", "firmware", "qid_max"}));
        if (a.contains("allow_any_host"))
          NVMEOE_RETURN_IF_ERROR(get_flag(a["allow_any_host"], join(apath, "allow_any_host"), &sub.allow_any_host));
        if (a.contains("serial")) {
          NVMEOE_RETURN_IF_ERROR(get_string(a["serial"], join(apath, "serial"), &sub.serial));
          if (sub.serial.size() > 20) return fail(join(apath, "serial"), "at most 20 characters");
        }
        if (a.contains("model")) {
          NVMEOE_RETURN_IF_ERROR(get_string(a["model"], join(apath, "model"), &sub.model));
          if (sub.model.size() > 40) return fail(join(apath, "model"), "at most 40 characters");
        }
        if (a.contains("version"))
          NVMEOE_RETURN_IF_ERROR(get_string(a["version"], join(apath, "version"), &sub.version));
      }
      if (s.contains("allowed_hosts")) {
        std::string hpath = join(path, "allowed_hosts");
        NVMEOE_RETURN_IF_ERROR(expect(s["allowed_hosts"], json::value_t::array, hpath, "an array"));
        for (size_t k = 0; k < s["allowed_hosts"].size(); ++k) {
          std::string nqn;
          NVMEOE_RETURN_IF_ERROR(get_nqn(s["allowed_hosts"][k], index(hpath, k), &nqn));
          if (!hosts.count(nqn)) return fail(index(hpath, k), "host '" + bounded(nqn) + "' is not listed in \"hosts\"");
          for (const auto& h : sub.allowed_hosts)
            if (h == nqn) return fail(index(hpath, k), "host '" + bounded(nqn) + "' listed twice");
          sub.allowed_hosts.push_back(nqn);
        }
      }
      if (s.contains("namespaces"))
        NVMEOE_RETURN_IF_ERROR(parse_namespaces(s["namespaces"], join(path, "namespaces"), &sub));
      c->subsystems.push_back(std::move(sub));
    }
    return Status::ok();
  }

  Status parse_namespaces(const json& j, const std::string& base, SubsystemConfig* sub) {
    NVMEOE_RETURN_IF_ERROR(expect(j, json::value_t::array, base, "an array"));
    std::map<uint32_t, std::string> seen;
    for (size_t i = 0; i < j.size(); ++i) {
      std::string path = index(base, i);
      const json& n = j[i];
      NVMEOE_RETURN_IF_ERROR(expect(n, json::value_t::object, path, "an object"));
      NVMEOE_RETURN_IF_ERROR(check_keys(n, path, {"nsid", "enable", "device", "readonly", "ana_grpid"}));
      NamespaceConfig ns;
      if (!n.contains("nsid")) return fail(join(path, "nsid"), "missing");
      uint64_t v = 0;
      NVMEOE_RETURN_IF_ERROR(get_uint(n["nsid"], join(path, "nsid"), 1, kMaxNsid, &v));
      ns.nsid = uint32_t(v);
      if (auto it = seen.find(ns.nsid); it != seen.end())
        return fail(join(path, "nsid"), "duplicate NSID " + std::to_string(ns.nsid) + " (also " + it->second + ")");
      seen[ns.nsid] = join(path, "nsid");
      if (n.contains("enable")) NVMEOE_RETURN_IF_ERROR(get_flag(n["enable"], join(path, "enable"), &ns.enable));
      if (n.contains("readonly")) NVMEOE_RETURN_IF_ERROR(get_flag(n["readonly"], join(path, "readonly"), &ns.readonly));
      if (n.contains("ana_grpid")) {
        NVMEOE_RETURN_IF_ERROR(get_uint(n["ana_grpid"], join(path, "ana_grpid"), 1, 0xffffffff, &v));
        ns.ana_grpid = uint32_t(v);
      }
      std::string dpath = join(path, "device");
      if (!n.contains("device")) return fail(dpath, "missing");
      const json& d = n["device"];
      NVMEOE_RETURN_IF_ERROR(expect(d, json::value_t::object, dpath, "an object"));
      NVMEOE_RETURN_IF_ERROR(check_keys(d, dpath, {"path", "uuid", "nguid"}));
      if (!d.contains("path")) return fail(join(dpath, "path"), "missing");
      NVMEOE_RETURN_IF_ERROR(get_string(d["path"], join(dpath, "path"), &ns.path));
      if (ns.path.empty()) return fail(join(dpath, "path"), "empty");
      if (d.contains("uuid")) NVMEOE_RETURN_IF_ERROR(get_string(d["uuid"], join(dpath, "uuid"), &ns.uuid));
      if (d.contains("nguid")) {
        NVMEOE_RETURN_IF_ERROR(get_string(d["nguid"], join(dpath, "nguid"), &ns.nguid));
        uint8_t bytes[16];
        if (!ns.nguid.empty() && !parse_nguid(ns.nguid, bytes))
          return fail(join(dpath, "nguid"), "expected 32 hexadecimal digits, found '" + bounded(ns.nguid) + "'");
      }
      if (check_devices_ && ns.enable && ns.path.compare(0, 4, "mem:") != 0) {
        struct stat st;
        if (::stat(ns.path.c_str(), &st) != 0)
          return fail(join(dpath, "path"), "cannot use '" + bounded(ns.path) + "': " + std::strerror(errno));
      }
      sub->namespaces.push_back(std::move(ns));
    }
    return Status::ok();
  }

  Status parse_ports(const json& j, TargetConfig* c) {
    NVMEOE_RETURN_IF_ERROR(expect(j, json::value_t::array, "ports", "an array"));
    std::map<uint16_t, std::string> ids;
    std::map<std::pair<std::string, uint16_t>, std::string> addrs;
    for (size_t i = 0; i < j.size(); ++i) {
      std::string path = index("ports", i);
      const json& p = j[i];
      NVMEOE_RETURN_IF_ERROR(expect(p, json::value_t::object, path, "an object"));
      NVMEOE_RETURN_IF_ERROR(
          check_keys(p, path, {"portid", "addr", "subsystems", "referrals"}, {"ana_groups", "param"}));
      PortConfig port;
      if (!p.contains("portid")) return fail(join(path, "portid"), "missing");
      uint64_t v = 0;
      NVMEOE_RETURN_IF_ERROR(get_uint(p["portid"], join(path, "portid"), 1, 0xffff, &v));
      port.portid = uint16_t(v);
      if (auto it = ids.find(port.portid); it != ids.end())
        return fail(join(path, "portid"), "duplicate port id " + std::to_string(v) + " (also " + it->second + ")");
      ids[port.portid] = join(path, "portid");
      std::string apath = join(path, "addr");
      if (!p.contains("addr")) return fail(apath, "missing");
      const json& a = p["addr"];
      NVMEOE_RETURN_IF_ERROR(expect(a, json::value_t::object, apath, "an object"));
      NVMEOE_RETURN_IF_ERROR(check_keys(a, apath, {"trtype", "traddr", "trsvcid", "adrfam", "treq"}, {"tsas"}));
      if (!a.contains("trtype")) return fail(join(apath, "trtype"), "missing (nvmeoe serves trtype \"eth\")");
      NVMEOE_RETURN_IF_ERROR(get_string(a["trtype"], join(apath, "trtype"), &port.trtype));
      if (port.trtype != "eth")
        return fail(join(apath, "trtype"),
                    "unsupported transport '" + bounded(port.trtype) + "': nvmeoe serves only \"eth\"");
      if (!a.contains("traddr")) return fail(join(apath, "traddr"), "missing (the network interface to serve on)");
      NVMEOE_RETURN_IF_ERROR(get_string(a["traddr"], join(apath, "traddr"), &port.traddr));
      if (port.traddr.empty() || port.traddr.size() > 15 || port.traddr.find('/') != std::string::npos)
        return fail(join(apath, "traddr"), "invalid interface name '" + bounded(port.traddr) + "'");
      if (a.contains("trsvcid")) {
        NVMEOE_RETURN_IF_ERROR(get_string(a["trsvcid"], join(apath, "trsvcid"), &port.trsvcid));
        char* end = nullptr;
        unsigned long et = std::strtoul(port.trsvcid.c_str(), &end, 0);
        if (port.trsvcid.empty() || *end != '\0' || et < 0x0600 || et > 0xffff)
          return fail(join(apath, "trsvcid"),
                      "invalid EtherType '" + bounded(port.trsvcid) + "': expected 0x0600 to 0xffff, like 0x88b5");
        port.ethertype = uint16_t(et);
      }
      if (a.contains("adrfam")) {
        NVMEOE_RETURN_IF_ERROR(get_string(a["adrfam"], join(apath, "adrfam"), &port.adrfam));
        if (!port.adrfam.empty() && port.adrfam != "mac")
          return fail(join(apath, "adrfam"),
                      "unsupported address family '" + bounded(port.adrfam) + "' (use \"mac\" or omit it)");
      }
      if (a.contains("treq")) {
        NVMEOE_RETURN_IF_ERROR(get_string(a["treq"], join(apath, "treq"), &port.treq));
        if (!port.treq.empty() && port.treq != "not specified" && port.treq != "not required")
          return fail(join(apath, "treq"), "unsupported '" + bounded(port.treq) + "' (nvmeoe has no secure channel)");
      }
      auto key = std::make_pair(port.traddr, port.ethertype);
      if (auto it = addrs.find(key); it != addrs.end())
        return fail(apath,
                    "interface '" + bounded(port.traddr) + "' with this EtherType is already port " + it->second);
      addrs[key] = join(path, "portid");
      if (p.contains("referrals")) {
        NVMEOE_RETURN_IF_ERROR(expect(p["referrals"], json::value_t::array, join(path, "referrals"), "an array"));
        if (!p["referrals"].empty()) return fail(join(path, "referrals"), "referrals are not supported");
      }
      if (p.contains("subsystems")) {
        std::string spath = join(path, "subsystems");
        NVMEOE_RETURN_IF_ERROR(expect(p["subsystems"], json::value_t::array, spath, "an array"));
        for (size_t k = 0; k < p["subsystems"].size(); ++k) {
          std::string nqn;
          NVMEOE_RETURN_IF_ERROR(get_nqn(p["subsystems"][k], index(spath, k), &nqn));
          if (!c->find_subsystem(nqn)) return fail(index(spath, k), "unknown subsystem '" + bounded(nqn) + "'");
          for (const auto& have : port.subsystems)
            if (have == nqn) return fail(index(spath, k), "subsystem '" + bounded(nqn) + "' listed twice");
          port.subsystems.push_back(nqn);
        }
      }
      c->ports.push_back(std::move(port));
    }
    return Status::ok();
  }

 private:
  std::string file_;
  bool check_devices_;
};

}  // namespace

const SubsystemConfig* TargetConfig::find_subsystem(const std::string& nqn) const {
  for (const auto& s : subsystems)
    if (s.nqn == nqn) return &s;
  return nullptr;
}

bool parse_nguid(const std::string& text, uint8_t out[16]) {
  size_t n = 0;
  for (char ch : text) {
    if (ch == '-') continue;
    int v;
    if (ch >= '0' && ch <= '9')
      v = ch - '0';
    else if (ch >= 'a' && ch <= 'f')
      v = ch - 'a' + 10;
    else if (ch >= 'A' && ch <= 'F')
      v = ch - 'A' + 10;
    else
      return false;
    if (n >= 32) return false;
    if (n % 2 == 0)
      out[n / 2] = uint8_t(v << 4);
    else
      out[n / 2] |= uint8_t(v);
    ++n;
  }
  return n == 32;
}

Result<TargetConfig> parse_target_config(std::string_view text, const std::string& file, bool check_devices) {
  if (size_t at = too_deep_at(text, kMaxDepth); at != std::string_view::npos)
    return Status::error(file + ":" + position(text, at) + ": invalid JSON: nested deeper than " +
                         std::to_string(kMaxDepth) + " levels");
  json root;
  try {
    root = json::parse(text.begin(), text.end(), nullptr, true, false);
  } catch (const json::parse_error& e) {
    // Line and column of the byte where parsing stopped.
    size_t at = e.byte ? e.byte - 1 : 0;
    return Status::error(file + ":" + position(text, at) + ": invalid JSON: " + exception_text(e));
  } catch (const json::exception& e) {
    // Any other refusal of the JSON library (a number out of range, ...) is the same kind of error.
    return Status::error(file + ": invalid JSON: " + exception_text(e));
  }
  TargetConfig c;
  Parser p(file, check_devices);
  try {
    NVMEOE_RETURN_IF_ERROR(p.parse(root, &c));
  } catch (const json::exception& e) {
    return Status::error(file + ": " + exception_text(e));
  }
  return c;
}

Result<TargetConfig> load_target_config(const std::string& path, bool check_devices) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::from_errno(errno, "cannot read configuration file " + path);
  // A configuration is a few KiB; a huge file is a mistake (or an attack), not something to load.
  constexpr std::streamoff kMaxFileBytes = 16 << 20;
  in.seekg(0, std::ios::end);
  if (in && in.tellg() > kMaxFileBytes)
    return Status::error(path + ": larger than " + std::to_string(kMaxFileBytes >> 20) +
                         " MiB; not a configuration file");
  in.clear();
  in.seekg(0);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::from_errno(errno, "cannot read configuration file " + path);
  return parse_target_config(ss.str(), path, check_devices);
}

std::string dump_target_config(const TargetConfig& c) {
  json root = json::object();
  json hosts = json::array();
  for (const auto& h : c.hosts) {
    json host = {{"nqn", h}};
    if (auto it = c.dhchap.find(h); it != c.dhchap.end()) {
      // nvmetcli's group; only what is set, since nvmet refuses an empty secret on restore.
      json d = json::object();
      if (!it->second.key.empty()) d["key"] = it->second.key;
      if (!it->second.ctrl_key.empty()) d["ctrl_key"] = it->second.ctrl_key;
      if (!it->second.hash.empty()) d["hash"] = it->second.hash;
      if (!it->second.dhgroup.empty()) d["dhgroup"] = it->second.dhgroup;
      host["dhchap"] = std::move(d);
    }
    hosts.push_back(std::move(host));
  }
  root["hosts"] = std::move(hosts);
  json ports = json::array();
  for (const auto& p : c.ports) {
    json addr = {{"trtype", p.trtype}, {"traddr", p.traddr}};
    if (!p.trsvcid.empty()) addr["trsvcid"] = p.trsvcid;
    if (!p.adrfam.empty()) addr["adrfam"] = p.adrfam;
    if (!p.treq.empty()) addr["treq"] = p.treq;
    ports.push_back({{"portid", p.portid}, {"addr", addr}, {"referrals", json::array()}, {"subsystems", p.subsystems}});
  }
  root["ports"] = std::move(ports);
  json subs = json::array();
  for (const auto& s : c.subsystems) {
    json attr = {{"allow_any_host", s.allow_any_host ? "1" : "0"}};
    if (!s.serial.empty()) attr["serial"] = s.serial;
    if (!s.model.empty()) attr["model"] = s.model;
    if (!s.version.empty()) attr["version"] = s.version;
    json nss = json::array();
    for (const auto& n : s.namespaces) {
      json dev = {{"path", n.path}};
      if (!n.uuid.empty()) dev["uuid"] = n.uuid;
      if (!n.nguid.empty()) dev["nguid"] = n.nguid;
      json ns = {{"nsid", n.nsid}, {"enable", n.enable ? 1 : 0}, {"device", dev}};
      if (n.readonly) ns["readonly"] = 1;
      if (n.ana_grpid) ns["ana_grpid"] = n.ana_grpid;
      nss.push_back(std::move(ns));
    }
    subs.push_back({{"nqn", s.nqn}, {"attr", attr}, {"allowed_hosts", s.allowed_hosts}, {"namespaces", nss}});
  }
  root["subsystems"] = std::move(subs);
  if (!c.limits.empty()) root["limits"] = c.limits;
  return root.dump(2) + "\n";
}

}  // namespace nvmeoe
