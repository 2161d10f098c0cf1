// Parsing and validation of command-line values; messages name the bad value and what is expected.
#include "cli/args.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>

#include "common/mac.h"
#include "nvme/spec.h"

namespace nvmeoe::cli {

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool all_digits(const std::string& s, size_t from, size_t to) {
  if (from >= to) return false;
  for (size_t i = from; i < to; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

Status check_unicast_mac(const std::string& text) {
  auto mac = MacAddress::parse(text);
  if (!mac) return mac.status();
  if (mac->is_zero()) return Status::error("invalid MAC address '" + text + "': all zeroes");
  if (mac->is_multicast())
    return Status::error("invalid MAC address '" + text + "': a broadcast or multicast address cannot be a target");
  return Status::ok();
}

Status check_nqn(const std::string& text) {
  if (text.compare(0, 4, "nqn.") != 0)
    return Status::error("invalid NQN '" + text + "': must start with \"nqn.\" (e.g. nqn.2014-08.org.example:disk1)");
  if (text.size() > 223) return Status::error("invalid NQN '" + text.substr(0, 40) + "...': longer than 223 bytes");
  if (!valid_nqn(text))
    return Status::error("invalid NQN '" + text + "': only printable ASCII without spaces is allowed");
  return Status::ok();
}

Status check_hostid(const std::string& text) {
  static constexpr size_t kDashes[] = {8, 13, 18, 23};
  bool ok = text.size() == 36;
  for (size_t i = 0; ok && i < text.size(); ++i) {
    bool dash_pos = i == kDashes[0] || i == kDashes[1] || i == kDashes[2] || i == kDashes[3];
    ok = dash_pos ? text[i] == '-' : std::isxdigit(static_cast<unsigned char>(text[i])) != 0;
  }
  if (!ok)
    return Status::error("invalid host ID '" + text + "': expected a UUID like 4c4c4544-0034-5a10-8052-b4c04f333232");
  return Status::ok();
}

Result<uint64_t> parse_u64(const std::string& raw) {
  std::string text = trim(raw);
  bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  bool valid = hex ? text.size() > 2 : all_digits(text, 0, text.size());
  if (hex)
    for (size_t i = 2; i < text.size(); ++i)
      if (!std::isxdigit(static_cast<unsigned char>(text[i]))) valid = false;
  if (!valid) return Status::error("invalid number '" + raw + "'");
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, hex ? 16 : 10);
  if (errno == ERANGE || end != text.c_str() + text.size())
    return Status::error("number '" + raw + "' is out of range");
  return static_cast<uint64_t>(v);
}

Result<std::vector<uint64_t>> parse_u64_list(const std::string& text) {
  std::vector<uint64_t> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto v = parse_u64(item);
    if (!v) return Status::error("invalid list '" + text + "': '" + item + "' is not a number");
    out.push_back(*v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

Result<uint16_t> parse_ethertype(const std::string& text) {
  auto v = parse_u64(text);
  if (!v || *v > 0xffff) return Status::error("invalid EtherType '" + text + "': expected a 16-bit value like 0x88b5");
  if (*v < 0x0600)
    return Status::error("invalid EtherType '" + text + "': values below 0x0600 are 802.3 lengths, not EtherTypes");
  return static_cast<uint16_t>(*v);
}

Result<uint64_t> parse_byte_size(const std::string& raw) {
  std::string text = trim(raw);
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  auto bad = [&](const std::string& why) { return Status::error("invalid size '" + raw + "': " + why); };
  if (digits == 0) return bad("expected a number with an optional K, M, G or T suffix");
  std::string suffix = text.substr(digits);
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  unsigned shift = 0;
  if (suffix.empty() || suffix == "B")
    shift = 0;
  else if (suffix == "K" || suffix == "KB" || suffix == "KIB")
    shift = 10;
  else if (suffix == "M" || suffix == "MB" || suffix == "MIB")
    shift = 20;
  else if (suffix == "G" || suffix == "GB" || suffix == "GIB")
    shift = 30;
  else if (suffix == "T" || suffix == "TB" || suffix == "TIB")
    shift = 40;
  else
    return bad("unknown suffix '" + text.substr(digits) + "' (use K, M, G or T)");
  errno = 0;
  unsigned long long v = std::strtoull(text.substr(0, digits).c_str(), nullptr, 10);
  if (errno == ERANGE || v > (std::numeric_limits<uint64_t>::max() >> shift)) return bad("too large");
  if (v == 0) return bad("must be greater than zero");
  return static_cast<uint64_t>(v) << shift;
}

Result<Workload> parse_workload(const std::string& text) {
  static const struct {
    const char* name;
    Workload w;
  } kNames[] = {{"read", Workload::kRead},           {"write", Workload::kWrite}, {"randread", Workload::kRandRead},
                {"randwrite", Workload::kRandWrite}, {"rw", Workload::kRw},       {"randrw", Workload::kRandRw}};
  for (const auto& n : kNames)
    if (text == n.name) return n.w;
  return Status::error("unknown workload '" + text + "': use read, write, randread, randwrite, rw or randrw");
}

const char* workload_name(Workload w) {
  switch (w) {
    case Workload::kRead:
      return "read";
    case Workload::kWrite:
      return "write";
    case Workload::kRandRead:
      return "randread";
    case Workload::kRandWrite:
      return "randwrite";
    case Workload::kRw:
      return "rw";
    case Workload::kRandRw:
      return "randrw";
  }
  return "?";
}

std::string controller_name(unsigned index) {
  return "nvmeoe" + std::to_string(index);
}

std::string namespace_node(const std::string& controller, uint32_t nsid) {
  return controller + "n" + std::to_string(nsid);
}

Result<NodeName> parse_node_name(const std::string& raw) {
  std::string text = raw;
  if (text.compare(0, 5, "/dev/") == 0) text = text.substr(5);
  static const std::string kPrefix = "nvmeoe";
  auto bad = [&] {
    return Status::error("invalid device '" + raw +
                         "': expected a controller like nvmeoe0 or a namespace like nvmeoe0n1");
  };
  if (text.compare(0, kPrefix.size(), kPrefix) != 0) return bad();
  size_t pos = kPrefix.size(), n_at = text.find('n', pos);
  size_t ctrl_end = n_at == std::string::npos ? text.size() : n_at;
  if (!all_digits(text, pos, ctrl_end) || ctrl_end - pos > 6) return bad();
  NodeName out;
  out.index = static_cast<unsigned>(std::strtoul(text.substr(pos, ctrl_end - pos).c_str(), nullptr, 10));
  out.controller = controller_name(out.index);
  if (n_at != std::string::npos) {
    if (!all_digits(text, n_at + 1, text.size()) || text.size() - n_at - 1 > 10) return bad();
    unsigned long long nsid = std::strtoull(text.c_str() + n_at + 1, nullptr, 10);
    if (nsid == 0 || nsid > 0xfffffffeULL)
      return Status::error("invalid device '" + raw + "': namespace ID out of range");
    out.nsid = static_cast<uint32_t>(nsid);
  }
  return out;
}

}  // namespace nvmeoe::cli
