// NVMe in-band authentication on the wire (NVMe Base 2.0 8.13 / TP 8006, as Linux implements it in
// include/linux/nvme.h): the Authentication Send / Receive commands (Fabrics FCTYPE 05h / 06h) and
// the DH-HMAC-CHAP messages they carry. Encoders write the layouts byte for byte; decoders check
// every length against the bytes received before any field is used. docs/PROTOCOL.md §12.1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nvme/spec.h"

namespace nvmeoe::authmsg {

constexpr uint8_t kSecpDhchap = 0xe9;  // SECP: the DH-HMAC-CHAP protocol
constexpr uint8_t kSpsp = 0x01;        // SPSP0 and SPSP1 are 01h for DH-HMAC-CHAP

// AUTH_Type.
constexpr uint8_t kCommonMessages = 0x00;
constexpr uint8_t kDhchapMessages = 0x01;
// AUTH_Id.
constexpr uint8_t kNegotiate = 0x00;  // common message
constexpr uint8_t kChallenge = 0x01;
constexpr uint8_t kReply = 0x02;
constexpr uint8_t kSuccess1 = 0x03;
constexpr uint8_t kSuccess2 = 0x04;
constexpr uint8_t kFailure2 = 0xf0;  // common message, host to controller
constexpr uint8_t kFailure1 = 0xf1;  // common message, controller to host

constexpr uint8_t kAuthIdDhchap = 0x01;  // the protocol descriptor's AUTHID
constexpr uint8_t kScNone = 0x00;        // SC_C: no secure channel concatenation

// Failure reason code and explanations (Failure1 / Failure2).
constexpr uint8_t kReasonFailed = 0x01;
namespace reason {
constexpr uint8_t kFailed = 0x01;
constexpr uint8_t kNotUsable = 0x02;
constexpr uint8_t kConcatMismatch = 0x03;
constexpr uint8_t kHashUnusable = 0x04;
constexpr uint8_t kDhgroupUnusable = 0x05;
constexpr uint8_t kIncorrectPayload = 0x06;
constexpr uint8_t kIncorrectMessage = 0x07;
}  // namespace reason
// "authentication failed", "hash function unusable", ...
const char* reason_name(uint8_t explanation);

// Connect response DW0 bit 17: the controller requires an authentication transaction (ATR) on the
// queue before any other command. Bit 18 (ASCR, secure channel) is never set by nvmeoe.
constexpr uint32_t kConnectAuthreqAtr = 1u << 17;
constexpr uint32_t kConnectAuthreqAscr = 1u << 18;

// Sizes of the fixed parts (the structs of include/linux/nvme.h).
constexpr size_t kNegotiateHeaderSize = 8;
constexpr size_t kProtocolDescriptorSize = 64;
constexpr size_t kChallengeHeaderSize = 16;
constexpr size_t kReplyHeaderSize = 16;
constexpr size_t kSuccess1HeaderSize = 16;
constexpr size_t kSuccess2Size = 16;
constexpr size_t kFailureSize = 8;
constexpr size_t kMaxIds = 30;  // hash ids in idlist[0..29], DH group ids in idlist[30..59]
// The largest message either side sends or accepts (a Reply with SHA-512 and ffdhe8192 is 1168).
constexpr size_t kMaxMessageSize = 4096;

// The Authentication Send / Receive SQE fields: CDW10 bytes 1..3 = SPSP0, SPSP1, SECP; CDW11 =
// TL (send) or AL (receive).
struct AuthCommand {
  uint8_t secp = kSecpDhchap, spsp0 = kSpsp, spsp1 = kSpsp;
  uint32_t length = 0;
};
void encode_auth_command(bool send, const AuthCommand& c, Sqe& sqe);  // also sets opcode, FCTYPE, SGL
AuthCommand decode_auth_command(const Sqe& sqe);

// AUTH_Type and AUTH_Id of a received message and its transaction id; false when too short.
struct MessageHead {
  uint8_t type = 0, id = 0;
  uint16_t tid = 0;
};
bool decode_head(std::span<const uint8_t> m, MessageHead* out);

struct Negotiate {
  uint16_t tid = 0;
  uint8_t sc_c = kScNone;
  std::vector<uint8_t> hashes;    // hash ids offered, in order of preference
  std::vector<uint8_t> dhgroups;  // DH group ids offered
};
std::vector<uint8_t> encode_negotiate(const Negotiate& n);
// Reads the first DH-HMAC-CHAP protocol descriptor. Returns 0, or the failure explanation the
// controller answers with (incorrect payload, or hash unusable when no descriptor is DH-HMAC-CHAP).
uint8_t decode_negotiate(std::span<const uint8_t> m, Negotiate* out);

struct Challenge {
  uint16_t tid = 0;
  uint8_t hashid = 0, dhgid = 0;
  uint32_t seqnum = 0;
  std::vector<uint8_t> c1;  // hl bytes
  std::vector<uint8_t> dh;  // dhvlen bytes, the controller's public value
};
std::vector<uint8_t> encode_challenge(const Challenge& c);
bool decode_challenge(std::span<const uint8_t> m, Challenge* out);

struct Reply {
  uint16_t tid = 0;
  bool cvalid = false;
  uint32_t seqnum = 0;            // S2, 0 when not bidirectional
  std::vector<uint8_t> response;  // hl bytes
  std::vector<uint8_t> c2;        // hl bytes (zeros when !cvalid)
  std::vector<uint8_t> dh;        // dhvlen bytes, the host's public value
};
std::vector<uint8_t> encode_reply(const Reply& r);
bool decode_reply(std::span<const uint8_t> m, Reply* out);

struct Success1 {
  uint16_t tid = 0;
  uint8_t hl = 0;
  bool rvalid = false;
  std::vector<uint8_t> response;  // hl bytes when rvalid
};
std::vector<uint8_t> encode_success1(const Success1& s);
bool decode_success1(std::span<const uint8_t> m, Success1* out);

std::vector<uint8_t> encode_success2(uint16_t tid);

struct Failure {
  bool host = false;  // Failure2 (host to controller) or Failure1
  uint16_t tid = 0;
  uint8_t rescode = kReasonFailed;
  uint8_t explanation = reason::kFailed;
};
std::vector<uint8_t> encode_failure(const Failure& f);
bool decode_failure(std::span<const uint8_t> m, Failure* out);

}  // namespace nvmeoe::authmsg
