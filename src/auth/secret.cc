// DHHC-1 secrets: parsing with the kernel's checks, formatting as nvme-cli does, the key transform.
#include "auth/secret.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <array>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nvmeoe::auth {

namespace {

constexpr std::string_view kPrefix = "DHHC-1:";
constexpr std::string_view kTransformSeed = "NVMe-over-Fabrics";
constexpr size_t kMaxSecretFile = 4096;

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

bool base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool valid_key_len(size_t n) {
  return n == 32 || n == 48 || n == 64;
}

}  // namespace

Secret& Secret::operator=(const Secret& o) {
  if (this != &o) {
    wipe(key_);
    transform_ = o.transform_;
    key_ = o.key_;
  }
  return *this;
}

uint32_t crc32_ieee(std::span<const uint8_t> data) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : data) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

Result<Secret> parse_secret(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  if (text.substr(0, kPrefix.size()) != kPrefix)
    return Status::error("not a DH-HMAC-CHAP secret (no 'DHHC-1:' prefix)");
  text.remove_prefix(kPrefix.size());
  if (text.size() < 3 || text[2] != ':' || text[0] < '0' || text[0] > '9' || text[1] < '0' || text[1] > '9')
    return Status::error("DH-HMAC-CHAP secret: the hash field after 'DHHC-1:' must be two digits and ':'");
  int transform = (text[0] - '0') * 10 + (text[1] - '0');
  if (transform > 3)
    return Status::error("DH-HMAC-CHAP secret: unknown key transformation " + std::to_string(transform) +
                         " (00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512)");
  text.remove_prefix(3);
  if (!text.empty() && text.back() == ':') text.remove_suffix(1);
  if (text.empty() || text.size() % 4 != 0 || text.size() > 96)
    return Status::error("DH-HMAC-CHAP secret: the key is not base64 of 36, 52 or 68 bytes");
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=' && i + 2 >= text.size()) {
      ++pad;
    } else if (!base64_char(c) || pad) {
      return Status::error("DH-HMAC-CHAP secret: invalid base64 character at key position " + std::to_string(i));
    }
  }
  std::vector<uint8_t> raw(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
  if (n < 0 || size_t(n) < pad) return Status::error("DH-HMAC-CHAP secret: the key is not valid base64");
  raw.resize(size_t(n) - pad);
  if (raw.size() < 4 || !valid_key_len(raw.size() - 4)) {
    size_t got = raw.size();
    wipe(raw);
    return Status::error("DH-HMAC-CHAP secret: " + std::to_string(got) +
                         " bytes decoded, a key of 32, 48 or 64 bytes and its CRC (36, 52 or 68) expected");
  }
  size_t key_len = raw.size() - 4;
  uint32_t stored = uint32_t(raw[key_len]) | uint32_t(raw[key_len + 1]) << 8 | uint32_t(raw[key_len + 2]) << 16 |
                    uint32_t(raw[key_len + 3]) << 24;
  if (stored != crc32_ieee({raw.data(), key_len})) {
    wipe(raw);
    return Status::error("DH-HMAC-CHAP secret: CRC mismatch (mistyped or truncated secret)");
  }
  raw.resize(key_len);
  Secret s(HashId(transform), std::move(raw));
  return s;
}

std::string format_secret(HashId transform, std::span<const uint8_t> key) {
  std::vector<uint8_t> raw(key.begin(), key.end());
  uint32_t crc = crc32_ieee(key);
  for (int i = 0; i < 4; ++i) raw.push_back(uint8_t(crc >> (8 * i)));
  std::string b64((raw.size() + 2) / 3 * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), raw.data(), int(raw.size()));
  b64.resize(n > 0 ? size_t(n) : 0);
  wipe(raw);
  char head[16];
  std::snprintf(head, sizeof head, "DHHC-1:%02u:", unsigned(transform));
  return head + b64 + ":";
}

Result<std::vector<uint8_t>> transformed_key(const Secret& secret, const std::string& nqn) {
  if (secret.empty()) return Status::error("no DH-HMAC-CHAP key");
  if (secret.transform() == HashId::kNone) return std::vector<uint8_t>(secret.key().begin(), secret.key().end());
  std::vector<uint8_t> out(hash_len(secret.transform()));
  NVMEOE_RETURN_IF_ERROR(hmac(secret.transform(), secret.key(), {bytes_of(nqn), bytes_of(kTransformSeed)}, out.data()));
  return out;
}

Result<std::string> generate_secret_text(HashId transform, std::span<const uint8_t> secret, const std::string& nqn) {
  if (!valid_key_len(secret.size()))
    return Status::error("invalid key length " + std::to_string(secret.size()) + " (32, 48 or 64 bytes)");
  if (transform == HashId::kNone) return format_secret(transform, secret);
  if (secret.size() != hash_len(transform))
    return Status::error("invalid key length " + std::to_string(secret.size()) + " for " + hash_name(transform) + " (" +
                         std::to_string(hash_len(transform)) + " bytes)");
  std::vector<uint8_t> key(hash_len(transform));
  NVMEOE_RETURN_IF_ERROR(hmac(transform, secret, {bytes_of(nqn), bytes_of(kTransformSeed)}, key.data()));
  std::string text = format_secret(transform, key);
  wipe(key);
  return text;
}

Result<Secret> load_secret(const std::string& value, const std::string& what) {
  if (value.rfind(kPrefix, 0) == 0) {
    auto s = parse_secret(value);
    if (!s) return Status::error(what + ": " + s.status().message());
    return s;
  }
  struct stat st {};
  if (::stat(value.c_str(), &st) != 0)
    return Status::error(what + ": neither a DHHC-1 secret nor a readable file (" + std::strerror(errno) + ")", EINVAL);
  if (!S_ISREG(st.st_mode) || st.st_size > off_t(kMaxSecretFile))
    return Status::error(what + ": " + value + " is not a small regular file holding a DHHC-1 secret");
  std::ifstream in(value);
  if (!in) return Status::from_errno(errno, what + ": cannot read " + value);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  // Leading white space and comment lines are allowed in a key file.
  std::string line;
  std::istringstream lines(text);
  while (std::getline(lines, line)) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    auto s = parse_secret(std::string_view(line).substr(b));
    wipe({reinterpret_cast<uint8_t*>(text.data()), text.size()});
    if (!s) return Status::error(what + ": " + value + ": " + s.status().message());
    return s;
  }
  return Status::error(what + ": " + value + " holds no DHHC-1 secret");
}

}  // namespace nvmeoe::auth
