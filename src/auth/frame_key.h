// Per-frame authentication after DH-HMAC-CHAP (docs/PROTOCOL.md §10.1): the keys both ends derive
// from a successful transaction, and the per-direction AES-256-GMAC state that tags frames on
// one end and checks them (tag, then replay window) on the other. OpenSSL 3 does the crypto.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "auth/dhchap.h"
#include "common/frame_sealer.h"
#include "common/status.h"

namespace nvmeoe::auth {

constexpr size_t kFrameKeyLen = 32;

// The two directions' keys of one queue association.
struct FrameKeys {
  std::array<uint8_t, kFrameKeyLen> host_to_ctrl{}, ctrl_to_host{};
  ~FrameKeys();
};

// From the host response's inputs (the transformed host key, C1, S1, T_ID, the DH value when
// there is one) and both NQNs:
//   PRK = HMAC-SHA-256(Kh', "NVMeoE frame keys" || Ca1 || LE32(S1) || LE16(T) || NQNh || 00h || NQNc)
//   host-to-controller key = HMAC-SHA-256(PRK, "host to controller")
//   controller-to-host key = HMAC-SHA-256(PRK, "controller to host")
// with Ca1 the challenge as R1 uses it (augmented with the DH value, or C1 itself without DH).
Status derive_frame_keys(const ResponseInput& in, const std::string& hostnqn, const std::string& subnqn,
                         FrameKeys* out);

enum class FrameCheck { kOk, kBadTag, kReplayed };
const char* frame_check_name(FrameCheck c);

// The frames one direction of one association carries under one key. The sending end calls
// seal(), the receiving end open(); one object serves one of them.
class FrameKey final : public FrameSealer {
 public:
  // Sequence numbers a receiver accepts out of order behind the highest one seen.
  static constexpr uint64_t kReplayWindow = 256;

  static Result<std::unique_ptr<FrameKey>> create(std::span<const uint8_t, kFrameKeyLen> key);
  ~FrameKey() override;
  FrameKey(const FrameKey&) = delete;
  FrameKey& operator=(const FrameKey&) = delete;

  // Sequence numbers start at 1 and grow by one per frame.
  void seal(std::span<const std::span<const uint8_t>> covered, uint8_t* trailer) override;
  // Checks the trailer's tag over `covered`, then that its sequence number was not seen before
  // and is not older than the window; only a frame that passes both moves the window.
  FrameCheck open(std::span<const uint8_t> covered, const uint8_t* trailer);

 private:
  struct Ctx;
  explicit FrameKey(Ctx* ctx) : ctx_(ctx) {}
  bool tag(uint64_t seq, std::span<const std::span<const uint8_t>> covered, uint8_t* out);

  Ctx* ctx_;
  uint64_t next_seq_ = 1;                            // sending
  uint64_t top_ = 0;                                 // receiving: the highest sequence number accepted
  std::array<uint64_t, kReplayWindow / 64> seen_{};  // bit i: top_ - i was accepted
};

}  // namespace nvmeoe::auth
