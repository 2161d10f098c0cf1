// DH-HMAC-CHAP response computations.
#include "auth/dhchap.h"

#include <atomic>
#include <mutex>

#include "common/bytes.h"

namespace nvmeoe::auth {

namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::span<const uint8_t> bytes_of(const char* s, size_t n) {
  return {reinterpret_cast<const uint8_t*>(s), n};
}

Status response(const ResponseInput& in, const char* role, size_t role_len, const std::string& first_nqn,
                const std::string& second_nqn, uint8_t* out) {
  uint8_t ca[kMaxHashLen];
  std::span<const uint8_t> challenge;
  NVMEOE_RETURN_IF_ERROR(challenge_in_use(in, ca, &challenge));
  uint8_t seq[4], tid[2];
  put_le32(seq, in.seqnum);
  put_le16(tid, in.tid);
  const uint8_t sc_c = in.sc_c, zero = 0;
  Status s = hmac(in.hash, in.key,
                  {challenge,
                   {seq, 4},
                   {tid, 2},
                   {&sc_c, 1},
                   bytes_of(role, role_len),
                   bytes_of(first_nqn),
                   {&zero, 1},
                   bytes_of(second_nqn)},
                  out);
  wipe({ca, sizeof ca});
  return s;
}

}  // namespace

Status augmented_challenge(HashId hash, std::span<const uint8_t> session_key, std::span<const uint8_t> challenge,
                           uint8_t* out) {
  const size_t hl = hash_len(hash);
  uint8_t hashed[kMaxHashLen];
  NVMEOE_RETURN_IF_ERROR(auth::hash(hash, session_key, hashed));
  Status s = hmac(hash, {hashed, hl}, {challenge}, out);
  wipe({hashed, sizeof hashed});
  return s;
}

Status challenge_in_use(const ResponseInput& in, uint8_t* buf, std::span<const uint8_t>* out) {
  const size_t hl = hash_len(in.hash);
  if (hl == 0) return Status::error("invalid hash function");
  if (in.challenge.size() != hl) return Status::error("challenge length does not match the hash");
  *out = in.challenge;
  if (in.session_key.empty()) return Status::ok();
  NVMEOE_RETURN_IF_ERROR(augmented_challenge(in.hash, in.session_key, in.challenge, buf));
  *out = {buf, hl};
  return Status::ok();
}

Status host_response(const ResponseInput& in, const std::string& hostnqn, const std::string& subnqn, uint8_t* out) {
  return response(in, "HostHost", 8, hostnqn, subnqn, out);
}

Status controller_response(const ResponseInput& in, const std::string& hostnqn, const std::string& subnqn,
                           uint8_t* out) {
  return response(in, "Controller", 10, subnqn, hostnqn, out);
}

uint32_t next_seqnum() {
  static std::mutex mu;
  static uint32_t seq = 0;
  std::lock_guard<std::mutex> lock(mu);
  if (seq == 0) {
    uint8_t b[4];
    if (random_bytes(b).is_ok()) seq = get_le32(b);
    if (seq == 0) seq = 1;
  } else if (++seq == 0) {
    seq = 1;
  }
  return seq;
}

}  // namespace nvmeoe::auth
