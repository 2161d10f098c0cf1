// The nvmeoe frame: a 32-byte header after the Ethernet header, a payload, and an optional data
// digest. docs/PROTOCOL.md is the normative description; the offsets here must match it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/mac.h"
#include "link/link.h"

namespace nvmeoe {

constexpr uint16_t kDefaultEtherType = 0x88B5;
constexpr uint8_t kProtocolVersion = 1;
constexpr size_t kHeaderSize = 32;                      // nvmeoe header
constexpr size_t kFrameHeadroom = kEthHeaderSize + kHeaderSize;
constexpr size_t kDigestSize = 4;
constexpr size_t kMinEthFrame = 60;                     // shorter frames are padded by NICs
constexpr uint16_t kNoController = 0xffff;
// The smallest MTU the protocol works with: a Connect capsule (SQE + 1024 bytes of connect data)
// must fit in one command frame.
constexpr uint32_t kMinMtu = kHeaderSize + 64 + 1024 + kDigestSize;

enum class FrameKind : uint8_t {
  kConnectRequest = 1,
  kConnectResponse = 2,
  kCommand = 3,
  kResponse = 4,
  kData = 5,
  kRetransmitRequest = 6,
  kTerminate = 7,
  kDiscoverQuery = 8,
  kDiscoverReply = 9,
};
const char* frame_kind_name(FrameKind k);

namespace frame_flag {
constexpr uint8_t kHeaderDigest = 1u << 0;  // bytes 28..31 hold CRC32C of header bytes 0..27
constexpr uint8_t kDataDigest = 1u << 1;    // 4 bytes of CRC32C of the payload follow the payload
constexpr uint8_t kLast = 1u << 2;          // Data: the last frame of a burst (sender's hint)
constexpr uint8_t kRetry = 1u << 3;         // Command: a retransmission; the target reports progress
constexpr uint8_t kKnown = kHeaderDigest | kDataDigest | kLast | kRetry;
}  // namespace frame_flag

// Header field offsets, relative to the start of the nvmeoe header.
namespace hdr {
constexpr size_t kVersion = 0, kKind = 1, kFlags = 2, kReserved = 3, kQid = 4, kCntlid = 6, kNonce = 8;
constexpr size_t kCid = 12, kLength = 14, kOffset = 16, kTotal = 20, kGen = 24, kHdgst = 28;
}  // namespace hdr

struct FrameHeader {
  FrameKind kind = FrameKind::kCommand;
  uint8_t flags = 0;
  uint16_t qid = 0;
  uint16_t cntlid = kNoController;
  uint32_t nonce = 0;
  uint16_t cid = 0;
  uint16_t length = 0;  // payload bytes, digests excluded
  uint32_t offset = 0;  // byte offset of the payload's data in the command's data
  uint32_t total = 0;   // the command's whole data length (Command, Data)
  uint32_t gen = 0;     // generation of the command (host-assigned, per queue)
};

struct Frame {
  MacAddress dst, src;
  FrameHeader h;
  std::span<const uint8_t> payload;
};

enum class DecodeError {
  kNone = 0,
  kTruncated,        // shorter than the Ethernet + nvmeoe headers, or than the stated length
  kWrongEtherType,
  kWrongVersion,
  kUnknownKind,
  kReservedBits,     // reserved flag bits or the reserved byte set
  kBadLength,        // bytes after the payload (beyond minimum-frame padding)
  kHeaderDigest,
  kDataDigest,
};
const char* decode_error_name(DecodeError e);

// Parses and checks a frame (digests included when their flags are set). Never reads outside
// `bytes`. On success `out->payload` points into `bytes`.
DecodeError decode_frame(std::span<const uint8_t> bytes, uint16_t ethertype, Frame* out);

// Writes the Ethernet and nvmeoe headers (kFrameHeadroom bytes) into `out`; computes the header
// digest when h.flags has kHeaderDigest.
void encode_headers(uint8_t* out, const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                    const FrameHeader& h);

// CRC32C over a payload, written little-endian into `out` (kDigestSize bytes).
void encode_data_digest(std::span<const uint8_t> payload, uint8_t* out);

// The data path's frame: headers (and the data digest, when h.flags asks for it) are written into
// `head`, which must hold kFrameHeadroom + kDigestSize bytes and outlive the send; the payload is
// sent from `body` where it lies, without a copy.
TxFrame encode_tx_frame(uint8_t* head, const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                        const FrameHeader& h, std::span<const uint8_t> body);

// Largest payload a frame may carry on a link of `mtu` (Ethernet payload bytes).
inline uint32_t max_payload_for_mtu(uint32_t mtu) {
  return mtu > kHeaderSize + kDigestSize ? uint32_t(mtu - kHeaderSize - kDigestSize) : 0;
}

// Builds a whole frame into a vector (control frames; the data path uses TxFrame pieces).
std::vector<uint8_t> build_frame(const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                                 FrameHeader h, std::span<const uint8_t> payload);

// Connect request/response payloads (16 bytes each).
constexpr size_t kConnectPayloadSize = 16;
namespace digest_bits {
constexpr uint8_t kHeader = 1u << 0;
constexpr uint8_t kData = 1u << 1;
}  // namespace digest_bits
struct ConnectRequest {
  uint16_t queue_size = 0;     // entries requested
  uint32_t max_payload = 0;    // largest payload the sender accepts in one frame
  uint8_t digests = 0;         // digest_bits requested
};
enum class ConnectResult : uint16_t {
  kAccepted = 0,
  kUnsupportedVersion = 1,
  kInvalidQueue = 2,
  kNoResources = 3,
  kInvalidParameters = 4,
};
struct ConnectResponse {
  ConnectResult result = ConnectResult::kAccepted;
  uint16_t queue_size = 0;     // entries granted
  uint32_t max_payload = 0;    // payload bytes per frame both ways
  uint8_t digests = 0;         // digests in force
  uint32_t max_transfer = 0;   // largest data transfer of one command, bytes
};
void encode_connect_request(const ConnectRequest& r, uint8_t* out);
bool decode_connect_request(std::span<const uint8_t> p, ConnectRequest* out);
void encode_connect_response(const ConnectResponse& r, uint8_t* out);
bool decode_connect_response(std::span<const uint8_t> p, ConnectResponse* out);

// Retransmit request payload: a count and (offset, length) pairs of missing data.
struct ByteRange {
  uint32_t offset = 0, length = 0;
};
std::vector<uint8_t> encode_retransmit_request(const std::vector<ByteRange>& ranges);
bool decode_retransmit_request(std::span<const uint8_t> p, std::vector<ByteRange>* out);

enum class TerminateReason : uint16_t {
  kHostDisconnect = 1,
  kUnknownAssociation = 2,
  kKeepAliveTimeout = 3,
  kProtocolError = 4,
  kTargetShutdown = 5,
  kConfigurationChange = 6,  // the subsystem or the host's access was removed from the target
};
const char* terminate_reason_name(TerminateReason r);

// Discovery query payload: host NQN and an optional subsystem NQN filter, 256 bytes each.
constexpr size_t kDiscoverQuerySize = 512;
struct DiscoverQuery {
  std::string hostnqn;
  std::string subnqn;  // empty: all subsystems
};
void encode_discover_query(const DiscoverQuery& q, uint8_t* out);
bool decode_discover_query(std::span<const uint8_t> p, DiscoverQuery* out);

struct DiscoverEntry {
  std::string subnqn;
  uint16_t namespaces = 0;
  bool read_only = false;
  uint64_t capacity_bytes = 0;
};
// Packs as many entries as fit in `max_payload`, starting at `first`; returns how many were packed.
size_t encode_discover_reply(const std::vector<DiscoverEntry>& entries, size_t first, uint32_t max_payload,
                             std::vector<uint8_t>* out);
bool decode_discover_reply(std::span<const uint8_t> p, std::vector<DiscoverEntry>* out);

}  // namespace nvmeoe
