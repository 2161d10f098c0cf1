// OpenSSL 3 behind the DH-HMAC-CHAP primitives: EVP digests, EVP_MAC HMAC, RAND_bytes, and EVP_PKEY
// "DH" keys in the named RFC 7919 groups.
#include "auth/crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

namespace nvmeoe::auth {

namespace {

const EVP_MD* md_of(HashId id) {
  switch (id) {
    case HashId::kSha256:
      return EVP_sha256();
    case HashId::kSha384:
      return EVP_sha384();
    case HashId::kSha512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

const char* digest_name(HashId id) {
  switch (id) {
    case HashId::kSha256:
      return "SHA256";
    case HashId::kSha384:
      return "SHA384";
    case HashId::kSha512:
      return "SHA512";
    default:
      return nullptr;
  }
}

const char* group_param(DhGroup g) {
  switch (g) {
    case DhGroup::kFfdhe2048:
      return "ffdhe2048";
    case DhGroup::kFfdhe3072:
      return "ffdhe3072";
    case DhGroup::kFfdhe4096:
      return "ffdhe4096";
    case DhGroup::kFfdhe6144:
      return "ffdhe6144";
    case DhGroup::kFfdhe8192:
      return "ffdhe8192";
    default:
      return nullptr;
  }
}

// The first queued OpenSSL error, for messages; the queue is cleared.
std::string openssl_error(const char* what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  std::string s = std::string("OpenSSL: ") + what;
  if (e) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    s += ": ";
    s += buf;
  }
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct CtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, CtxDeleter>;
struct BldDeleter {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};

// A key of `group` from explicit values (public only, or both).
PkeyPtr pkey_from(DhGroup group, const BIGNUM* pub, const BIGNUM* priv) {
  std::unique_ptr<OSSL_PARAM_BLD, BldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group_param(group), 0) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub) ||
      (priv && !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv)))
    return nullptr;
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld.get()));
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
  EVP_PKEY* out = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &out, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return nullptr;
  return PkeyPtr(out);
}

Bn bn_param(const EVP_PKEY* key, const char* name) {
  BIGNUM* b = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &b) <= 0) return nullptr;
  return Bn(b);
}

}  // namespace

size_t hash_len(HashId id) {
  switch (id) {
    case HashId::kSha256:
      return 32;
    case HashId::kSha384:
      return 48;
    case HashId::kSha512:
      return 64;
    default:
      return 0;
  }
}

bool valid_hash(uint8_t id) {
  return id >= 1 && id <= 3;
}
bool valid_dhgroup(uint8_t id) {
  return id <= 5;
}

std::string hash_name(HashId id) {
  switch (id) {
    case HashId::kSha256:
      return "hmac(sha256)";
    case HashId::kSha384:
      return "hmac(sha384)";
    case HashId::kSha512:
      return "hmac(sha512)";
    default:
      return "none";
  }
}

std::string dhgroup_name(DhGroup g) {
  const char* n = group_param(g);
  return n ? n : "null";
}

bool parse_hash_name(const std::string& name, HashId* out) {
  std::string n = lower(name);
  if (n.rfind("hmac(", 0) == 0 && n.size() > 6 && n.back() == ')') n = n.substr(5, n.size() - 6);
  n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
  if (n == "sha256")
    *out = HashId::kSha256;
  else if (n == "sha384")
    *out = HashId::kSha384;
  else if (n == "sha512")
    *out = HashId::kSha512;
  else
    return false;
  return true;
}

bool parse_dhgroup_name(const std::string& name, DhGroup* out) {
  std::string n = lower(name);
  if (n.rfind("ffdhe", 0) == 0) n = n.substr(5);
  if (n == "null" || n == "none")
    *out = DhGroup::kNull;
  else if (n == "2048")
    *out = DhGroup::kFfdhe2048;
  else if (n == "3072")
    *out = DhGroup::kFfdhe3072;
  else if (n == "4096")
    *out = DhGroup::kFfdhe4096;
  else if (n == "6144")
    *out = DhGroup::kFfdhe6144;
  else if (n == "8192")
    *out = DhGroup::kFfdhe8192;
  else
    return false;
  return true;
}

size_t dh_value_len(DhGroup g) {
  switch (g) {
    case DhGroup::kFfdhe2048:
      return 256;
    case DhGroup::kFfdhe3072:
      return 384;
    case DhGroup::kFfdhe4096:
      return 512;
    case DhGroup::kFfdhe6144:
      return 768;
    case DhGroup::kFfdhe8192:
      return 1024;
    default:
      return 0;
  }
}

Status hash(HashId id, std::span<const uint8_t> data, uint8_t* out) {
  const EVP_MD* md = md_of(id);
  if (!md) return Status::error("invalid hash function " + std::to_string(int(id)));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) return Status::error(openssl_error("digest"));
  return Status::ok();
}

Status hmac(HashId id, std::span<const uint8_t> key, std::initializer_list<std::span<const uint8_t>> parts,
            uint8_t* out) {
  const char* digest = digest_name(id);
  if (!digest) return Status::error("invalid hash function " + std::to_string(int(id)));
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) return Status::error(openssl_error("HMAC unavailable"));
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);
  if (!ctx) return Status::error(openssl_error("HMAC context"));
  OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
                          OSSL_PARAM_construct_end()};
  bool ok = EVP_MAC_init(ctx, key.data(), key.size(), params) == 1;
  for (const auto& p : parts)
    if (ok && !p.empty()) ok = EVP_MAC_update(ctx, p.data(), p.size()) == 1;
  size_t len = 0;
  if (ok) ok = EVP_MAC_final(ctx, out, &len, hash_len(id)) == 1 && len == hash_len(id);
  EVP_MAC_CTX_free(ctx);
  if (!ok) return Status::error(openssl_error("HMAC"));
  return Status::ok();
}

Status random_bytes(std::span<uint8_t> out) {
  if (out.empty()) return Status::ok();
  if (RAND_bytes(out.data(), int(out.size())) != 1) return Status::error(openssl_error("random bytes"), EIO);
  return Status::ok();
}

bool equal_const_time(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void wipe(std::span<uint8_t> b) {
  if (!b.empty()) OPENSSL_cleanse(b.data(), b.size());
}

// ---- DhKey ----

struct DhKey::Pkey {
  PkeyPtr key;
};

DhKey::~DhKey() {
  delete key_;
}

Result<std::unique_ptr<DhKey>> DhKey::generate(DhGroup group) {
  const char* name = group_param(group);
  if (!name) return Status::error("no Diffie-Hellman group " + std::to_string(int(group)));
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0) return Status::error(openssl_error("DH key generation"));
  OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(name), 0),
                          OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_CTX_set_params(ctx.get(), params) <= 0 || EVP_PKEY_generate(ctx.get(), &key) <= 0)
    return Status::error(openssl_error(name));
  return std::unique_ptr<DhKey>(new DhKey(group, new Pkey{PkeyPtr(key)}));
}

Result<std::unique_ptr<DhKey>> DhKey::from_private(DhGroup group, std::span<const uint8_t> priv) {
  // The public value follows from the exponent: g^x mod p with the group's own p and g.
  auto any = generate(group);
  if (!any) return any.status();
  Bn p = bn_param((*any)->key_->key.get(), OSSL_PKEY_PARAM_FFC_P);
  Bn g = bn_param((*any)->key_->key.get(), OSSL_PKEY_PARAM_FFC_G);
  Bn x(BN_bin2bn(priv.data(), int(priv.size()), nullptr));
  Bn y(BN_new());
  BN_CTX* bn_ctx = BN_CTX_new();
  bool ok = p && g && x && y && bn_ctx && BN_mod_exp(y.get(), g.get(), x.get(), p.get(), bn_ctx) == 1;
  BN_CTX_free(bn_ctx);
  if (!ok) return Status::error(openssl_error("DH public value"));
  PkeyPtr key = pkey_from(group, y.get(), x.get());
  if (!key) return Status::error(openssl_error("DH key from a private value"));
  return std::unique_ptr<DhKey>(new DhKey(group, new Pkey{std::move(key)}));
}

Result<std::vector<uint8_t>> DhKey::public_value() const {
  Bn y = bn_param(key_->key.get(), OSSL_PKEY_PARAM_PUB_KEY);
  std::vector<uint8_t> out(dh_value_len(group_));
  if (!y || BN_bn2binpad(y.get(), out.data(), int(out.size())) != int(out.size()))
    return Status::error(openssl_error("DH public value"));
  return out;
}

Result<std::vector<uint8_t>> DhKey::shared_secret(std::span<const uint8_t> peer) const {
  const size_t len = dh_value_len(group_);
  if (peer.size() != len)
    return Status::error("DH value of " + std::to_string(peer.size()) + " bytes, " + dhgroup_name(group_) + " needs " +
                         std::to_string(len));
  Bn y(BN_bin2bn(peer.data(), int(peer.size()), nullptr));
  Bn p = bn_param(key_->key.get(), OSSL_PKEY_PARAM_FFC_P);
  if (!y || !p) return Status::error(openssl_error("DH value"));
  // 1, p-1 and anything outside the group give away the secret or nothing: refused (SP 800-56A
  // partial public key validation, as OpenSSL and the kernel do).
  Bn p_minus_1(BN_dup(p.get()));
  if (!p_minus_1 || !BN_sub_word(p_minus_1.get(), 1)) return Status::error(openssl_error("DH value"));
  if (BN_cmp(y.get(), BN_value_one()) <= 0 || BN_cmp(y.get(), p_minus_1.get()) >= 0)
    return Status::error("DH value outside [2, p-2]");
  PkeyPtr peer_key = pkey_from(group_, y.get(), nullptr);
  if (!peer_key) return Status::error(openssl_error("DH peer value"));
  CtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_->key.get(), nullptr));
  std::vector<uint8_t> out(len);
  size_t out_len = out.size();
  // No full validation of the peer (y^q mod p, thousands of multiplications in the big groups):
  // the range check above is what the kernel's nvmet does outside FIPS mode too.
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) <= 0 ||
      EVP_PKEY_derive_set_peer_ex(ctx.get(), peer_key.get(), 0) <= 0 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &out_len) <= 0 || out_len != len) {
    wipe(out);
    return Status::error(openssl_error("DH shared secret"));
  }
  return out;
}

}  // namespace nvmeoe::auth
