// The DH-HMAC-CHAP computations shared by host and controller (NVMe Base 2.0 8.13.5.5, as
// drivers/nvme/host/auth.c and drivers/nvme/target/auth.c compute them):
//   session key  Ks = (g^y)^x mod p, left-padded to the group size (no DH: none)
//   augmented challenge  Ca = HMAC(H(Ks), C)   (no DH: Ca = C)
//   host response        R1 = HMAC(Kh', Ca1 || LE32(S1) || LE16(T) || SC_C || "HostHost" ||
//                              NQNh || 00h || NQNc)
//   controller response  R2 = HMAC(Kc', Ca2 || LE32(S2) || LE16(T) || SC_C || "Controller" ||
//                              NQNc || 00h || NQNh)
// where Kh' / Kc' are the transformed host / controller keys (auth/secret.h) and H / HMAC use the
// hash negotiated in the Challenge.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "auth/crypto.h"
#include "common/status.h"

namespace nvmeoe::auth {

struct ResponseInput {
  HashId hash = HashId::kSha256;
  std::span<const uint8_t> key;          // transformed key of the side that answers
  std::span<const uint8_t> challenge;    // C1 (host response) or C2 (controller response), hl bytes
  std::span<const uint8_t> session_key;  // empty without DH
  uint32_t seqnum = 0;                   // S1 or S2
  uint16_t tid = 0;                      // the transaction id of the Negotiate
  uint8_t sc_c = 0;                      // secure channel concatenation (always 0 here)
};

// `out` receives hash_len(in.hash) bytes.
Status augmented_challenge(HashId hash, std::span<const uint8_t> session_key, std::span<const uint8_t> challenge,
                           uint8_t* out);
// The challenge as a response (and the frame keys, auth/frame_key.h) use it: in.challenge, or with
// a DH value the augmented one, written to `buf` (kMaxHashLen bytes). Checks that the hash is one
// and the challenge has its length.
Status challenge_in_use(const ResponseInput& in, uint8_t* buf, std::span<const uint8_t>* out);
Status host_response(const ResponseInput& in, const std::string& hostnqn, const std::string& subnqn, uint8_t* out);
Status controller_response(const ResponseInput& in, const std::string& hostnqn, const std::string& subnqn,
                           uint8_t* out);

// The sequence numbers S1 / S2: a process-wide counter that starts at a random value and skips 0
// (0 means "no bidirectional authentication"), as nvme_auth_get_seqnum().
uint32_t next_seqnum();

}  // namespace nvmeoe::auth
