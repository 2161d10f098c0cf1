// Frame keys and AES-256-GMAC frame tags through OpenSSL's EVP AES-256-GCM (AAD only, no
// plaintext): one cipher context per direction, set up once, re-keyed with nothing but a fresh
// IV per frame, so tagging a frame allocates nothing.
#include "auth/frame_key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

#include "common/bytes.h"

namespace nvmeoe::auth {

namespace {

std::span<const uint8_t> bytes_of(const char* s) {
  return {reinterpret_cast<const uint8_t*>(s), std::strlen(s)};
}
std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

constexpr size_t kIvLen = 12;  // the sequence number (LE64) and four zero bytes

}  // namespace

FrameKeys::~FrameKeys() {
  wipe(host_to_ctrl);
  wipe(ctrl_to_host);
}

Status derive_frame_keys(const ResponseInput& in, const std::string& hostnqn, const std::string& subnqn,
                         FrameKeys* out) {
  uint8_t ca[kMaxHashLen];
  std::span<const uint8_t> challenge;
  NVMEOE_RETURN_IF_ERROR(challenge_in_use(in, ca, &challenge));
  uint8_t seq[4], tid[2];
  put_le32(seq, in.seqnum);
  put_le16(tid, in.tid);
  const uint8_t zero = 0;
  uint8_t prk[32];
  Status s = hmac(
      HashId::kSha256, in.key,
      {bytes_of("NVMeoE frame keys"), challenge, {seq, 4}, {tid, 2}, bytes_of(hostnqn), {&zero, 1}, bytes_of(subnqn)},
      prk);
  wipe({ca, sizeof ca});
  if (s) s = hmac(HashId::kSha256, prk, {bytes_of("host to controller")}, out->host_to_ctrl.data());
  if (s) s = hmac(HashId::kSha256, prk, {bytes_of("controller to host")}, out->ctrl_to_host.data());
  wipe({prk, sizeof prk});
  return s;
}

const char* frame_check_name(FrameCheck c) {
  switch (c) {
    case FrameCheck::kOk:
      return "ok";
    case FrameCheck::kBadTag:
      return "frame tag mismatch";
    case FrameCheck::kReplayed:
      return "replayed or too old sequence number";
  }
  return "unknown";
}

struct FrameKey::Ctx {
  EVP_CIPHER_CTX* evp = nullptr;
};

Result<std::unique_ptr<FrameKey>> FrameKey::create(std::span<const uint8_t, kFrameKeyLen> key) {
  auto ctx = std::make_unique<Ctx>();
  ctx->evp = EVP_CIPHER_CTX_new();
  if (!ctx->evp) return Status::error("frame key: out of memory");
  uint8_t iv[kIvLen] = {};
  if (EVP_EncryptInit_ex(ctx->evp, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx->evp, EVP_CTRL_GCM_SET_IVLEN, int(kIvLen), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx->evp, nullptr, nullptr, key.data(), iv) != 1) {
    EVP_CIPHER_CTX_free(ctx->evp);
    return Status::error("frame key: AES-256-GCM is not available");
  }
  return std::unique_ptr<FrameKey>(new FrameKey(ctx.release()));
}

FrameKey::~FrameKey() {
  EVP_CIPHER_CTX_free(ctx_->evp);  // clears the key schedule
  delete ctx_;
}

bool FrameKey::tag(uint64_t seq, std::span<const std::span<const uint8_t>> covered, uint8_t* out) {
  uint8_t iv[kIvLen] = {};
  put_le64(iv, seq);
  EVP_CIPHER_CTX* c = ctx_->evp;
  int n = 0;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, iv) != 1) return false;
  for (std::span<const uint8_t> part : covered) {
    // AAD in pieces: GCM takes any number of AAD updates before the (empty) plaintext.
    for (size_t at = 0; at < part.size();) {
      const int len = int(std::min<size_t>(part.size() - at, size_t(1) << 30));
      if (EVP_EncryptUpdate(c, nullptr, &n, part.data() + at, len) != 1) return false;
      at += size_t(len);
    }
  }
  uint8_t none[16];
  if (EVP_EncryptFinal_ex(c, none, &n) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, int(kFrameTagSize), out) == 1;
}

void FrameKey::seal(std::span<const std::span<const uint8_t>> covered, uint8_t* trailer) {
  const uint64_t seq = next_seq_++;
  put_le64(trailer, seq);
  // A context that fails cannot tag: the frame goes out with a tag no receiver accepts.
  if (!tag(seq, covered, trailer + kFrameSeqSize)) std::memset(trailer + kFrameSeqSize, 0, kFrameTagSize);
}

FrameCheck FrameKey::open(std::span<const uint8_t> covered, const uint8_t* trailer) {
  const uint64_t seq = get_le64(trailer);
  if (seq == 0) return FrameCheck::kReplayed;
  // Old or seen sequence numbers are refused before any tag is computed.
  if (seq <= top_) {
    const uint64_t behind = top_ - seq;
    if (behind >= kReplayWindow || (seen_[behind / 64] >> (behind % 64) & 1)) return FrameCheck::kReplayed;
  }
  uint8_t expect[kFrameTagSize];
  const std::span<const uint8_t> one[1] = {covered};
  if (!tag(seq, one, expect) || CRYPTO_memcmp(expect, trailer + kFrameSeqSize, kFrameTagSize) != 0)
    return FrameCheck::kBadTag;
  if (seq > top_) {
    // Slide the window up by `shift`: bit i moves to i + shift.
    const uint64_t shift = seq - top_;
    if (shift >= kReplayWindow) {
      seen_.fill(0);
    } else {
      const size_t words = size_t(shift / 64), bits = size_t(shift % 64);
      for (size_t i = seen_.size(); i-- > 0;) {
        uint64_t v = i >= words ? seen_[i - words] << bits : 0;
        if (bits && i >= words + 1) v |= seen_[i - words - 1] >> (64 - bits);
        seen_[i] = v;
      }
    }
    top_ = seq;
    seen_[0] |= 1;
  } else {
    const uint64_t behind = top_ - seq;
    seen_[behind / 64] |= uint64_t(1) << (behind % 64);
  }
  return FrameCheck::kOk;
}

}  // namespace nvmeoe::auth
