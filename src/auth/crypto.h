// The cryptographic primitives of DH-HMAC-CHAP (NVMe in-band authentication), all through OpenSSL 3:
// SHA-2 hashes and HMACs, random bytes, and finite-field Diffie-Hellman in the RFC 7919 groups
// (ffdhe2048..ffdhe8192). Nothing here knows the protocol; src/auth/dhchap.h builds on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace nvmeoe::auth {

// Hash function identifiers of DH-HMAC-CHAP (NVMe Base 2.0, Linux NVME_AUTH_HASH_*).
enum class HashId : uint8_t { kNone = 0, kSha256 = 1, kSha384 = 2, kSha512 = 3 };
// Diffie-Hellman group identifiers (Linux NVME_AUTH_DHGROUP_*); kNull is "no DH".
enum class DhGroup : uint8_t {
  kNull = 0,
  kFfdhe2048 = 1,
  kFfdhe3072 = 2,
  kFfdhe4096 = 3,
  kFfdhe6144 = 4,
  kFfdhe8192 = 5
};

constexpr size_t kMaxHashLen = 64;

// 32, 48 or 64 for the SHA-2 hashes, 0 for anything else.
size_t hash_len(HashId id);
bool valid_hash(uint8_t id);
bool valid_dhgroup(uint8_t id);
// "hmac(sha256)" ... as nvmet's configfs and nvmetcli write them; "none" for kNone.
std::string hash_name(HashId id);
// "null", "ffdhe2048" ... as nvmet writes them.
std::string dhgroup_name(DhGroup g);
// Accepts "hmac(sha256)", "sha256", "sha-256", "SHA256" (and 384, 512); false for others.
bool parse_hash_name(const std::string& name, HashId* out);
// Accepts "null", "ffdhe2048" ... "ffdhe8192", and the bare sizes "2048" ...; false for others.
bool parse_dhgroup_name(const std::string& name, DhGroup* out);
// The size in bytes of a group's prime, which is also the size of its public values and shared
// secrets on the wire (left-padded with zeros). 0 for kNull.
size_t dh_value_len(DhGroup g);

// H(data).
Status hash(HashId id, std::span<const uint8_t> data, uint8_t* out);
// HMAC(key, parts[0] || parts[1] || ...); `out` receives hash_len(id) bytes.
Status hmac(HashId id, std::span<const uint8_t> key, std::initializer_list<std::span<const uint8_t>> parts,
            uint8_t* out);
// Cryptographically strong random bytes.
Status random_bytes(std::span<uint8_t> out);
// Constant-time comparison of two equally long buffers.
bool equal_const_time(std::span<const uint8_t> a, std::span<const uint8_t> b);
// Overwrites a buffer in a way the compiler keeps.
void wipe(std::span<uint8_t> b);

// One side's ephemeral Diffie-Hellman key in an RFC 7919 group.
class DhKey {
 public:
  ~DhKey();
  DhKey(const DhKey&) = delete;
  DhKey& operator=(const DhKey&) = delete;

  // A fresh key pair.
  static Result<std::unique_ptr<DhKey>> generate(DhGroup group);
  // A key from a known private exponent (big-endian); for known-answer tests.
  static Result<std::unique_ptr<DhKey>> from_private(DhGroup group, std::span<const uint8_t> priv);

  DhGroup group() const { return group_; }
  // g^x mod p, big-endian, exactly dh_value_len(group) bytes.
  Result<std::vector<uint8_t>> public_value() const;
  // (peer)^x mod p, big-endian, exactly dh_value_len(group) bytes. Fails for a peer value of the
  // wrong length or outside [2, p-2].
  Result<std::vector<uint8_t>> shared_secret(std::span<const uint8_t> peer) const;

 private:
  struct Pkey;
  DhKey(DhGroup group, Pkey* key) : group_(group), key_(key) {}
  DhGroup group_;
  Pkey* key_;
};

}  // namespace nvmeoe::auth
