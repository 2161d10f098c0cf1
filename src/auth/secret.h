// DH-HMAC-CHAP secrets in the representation nvme-cli and the kernel use,
// "DHHC-1:xx:<base64(key || CRC-32(key))>:" (NVMe Base 2.0, 8.13.5.8; Linux
// drivers/nvme/common/auth.c nvme_auth_extract_key, nvme-cli gen-dhchap-key), and the
// transformation of such a key into the HMAC key of one side (nvme_auth_transform_key).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth/crypto.h"
#include "common/status.h"

namespace nvmeoe::auth {

// A parsed secret. The key bytes are wiped when it goes.
class Secret {
 public:
  Secret() = default;
  Secret(HashId transform, std::vector<uint8_t> key) : transform_(transform), key_(std::move(key)) {}
  Secret(const Secret& o) = default;
  Secret& operator=(const Secret& o);
  ~Secret() { wipe(key_); }

  // The "xx" field: the hash that turns the key into an HMAC key (kNone: used as it is).
  HashId transform() const { return transform_; }
  // 32, 48 or 64 bytes.
  std::span<const uint8_t> key() const { return key_; }
  bool empty() const { return key_.empty(); }
  bool operator==(const Secret& o) const { return transform_ == o.transform_ && key_ == o.key_; }

 private:
  HashId transform_ = HashId::kNone;
  std::vector<uint8_t> key_;
};

// Parses "DHHC-1:xx:BASE64:" (the last ':' and trailing white space may be missing, as the kernel
// accepts): xx is 00..03, the decoded bytes are 36, 52 or 68 long and end in the little-endian
// CRC-32 of the rest. The message says what is wrong without quoting the secret.
Result<Secret> parse_secret(std::string_view text);
// The representation of `key` (32, 48 or 64 bytes) with its CRC: "DHHC-1:0x:...:".
std::string format_secret(HashId transform, std::span<const uint8_t> key);
// The key one side uses as its HMAC key: the secret's key when its transform is kNone, else
// HMAC_transform(key, nqn || "NVMe-over-Fabrics") (hash_len(transform) bytes). The host key is
// transformed with the host NQN, the controller key with the subsystem NQN.
Result<std::vector<uint8_t>> transformed_key(const Secret& secret, const std::string& nqn);
// What `nvme gen-dhchap-key` (nvme-cli 2.x, libnvme nvme_gen_dhchap_key) prints: with a transform
// (-m 1..3) the secret is first replaced by HMAC(secret, nqn || "NVMe-over-Fabrics"), then
// formatted with the transform's id.
Result<std::string> generate_secret_text(HashId transform, std::span<const uint8_t> secret, const std::string& nqn);

// CRC-32 (IEEE 802.3, reflected 0xEDB88320, as zlib's crc32 and the kernel's ~crc32(~0, ...)).
uint32_t crc32_ieee(std::span<const uint8_t> data);

// A secret given on a command line or in a configuration: the DHHC-1 text itself, or the path of
// a file holding it (so that it need not appear in a process listing). `what` names the option in
// messages.
Result<Secret> load_secret(const std::string& value, const std::string& what);

}  // namespace nvmeoe::auth
