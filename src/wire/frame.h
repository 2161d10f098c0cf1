// The nvmeoe frame, protocol version 2: after the Ethernet header a 12-byte frame header naming the
// association, one or more segments (a 20-byte segment header and its metadata each: an SQE, a
// CQE, retransmit ranges, connect parameters), a header CRC32C over all of that, then the
// segments' data and an optional data digest. docs/PROTOCOL.md is the normative description; the
// offsets here must match it. Building frames is tx_batch.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/frame_sealer.h"
#include "common/mac.h"
#include "common/tx_frame.h"

namespace nvmeoe {

constexpr uint16_t kDefaultEtherType = 0x88B5;
constexpr uint8_t kProtocolVersion = 2;
constexpr size_t kFrameHeaderSize = 12;    // after the Ethernet header
constexpr size_t kSegmentHeaderSize = 20;  // before each segment's metadata
constexpr size_t kHcrcSize = 4;            // header CRC32C, after the last segment's metadata
constexpr size_t kDigestSize = 4;          // data digest, after the data
constexpr size_t kMinEthFrame = 60;        // shorter frames are padded by NICs
constexpr size_t kMaxSegments = 64;        // per frame
constexpr uint16_t kNoController = 0xffff;
static_assert(kMaxTxPieces >= kMaxSegments + 2, "a frame's pieces: headers, data per segment, digest");

// The NVMe sizes the codec needs (nvme/spec.h defines the structures themselves; the wire layer
// depends on common/ only, and host and target check that these agree with it).
constexpr size_t kSqeBytes = 64, kCqeBytes = 16, kNqnBytes = 256, kConnectDataBytes = 1024;

// Bytes of a frame (Ethernet payload) that are not segments: frame header, header CRC, and the
// data digest, which is budgeted whether or not it is sent.
constexpr size_t kFrameOverhead = kFrameHeaderSize + kHcrcSize + kDigestSize;
// The smallest MTU the protocol works with: a Fabrics Connect (SQE + 1024 bytes of connect data,
// in-capsule) must fit in one frame.
constexpr uint32_t kMinMtu = uint32_t(kFrameOverhead + kSegmentHeaderSize + kSqeBytes + kConnectDataBytes);

// Segment kinds.
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
// Kinds that travel alone in their frame (count 1); the others (3..6) may be packed together.
inline bool kind_stands_alone(FrameKind k) {
  return k != FrameKind::kCommand && k != FrameKind::kResponse && k != FrameKind::kData &&
         k != FrameKind::kRetransmitRequest;
}

namespace frame_flag {
constexpr uint8_t kDataDigest = 1u << 0;  // 4 bytes of CRC32C of the data region end the frame
// A sequence number and a tag over the whole frame end it (an authenticated association, §10.1);
// never together with kDataDigest.
constexpr uint8_t kFrameTag = 1u << 1;
constexpr uint8_t kKnown = kDataDigest | kFrameTag;
}  // namespace frame_flag

namespace seg_flag {
constexpr uint8_t kLast = 1u << 0;     // Data: the last segment of a burst (sender's hint)
constexpr uint8_t kRetry = 1u << 1;    // Command: a retransmission; the target reports progress
constexpr uint8_t kSuccess = 1u << 2;  // Data: the transfer's end; the command succeeded, no Response follows
constexpr uint8_t kKnown = kLast | kRetry | kSuccess;
}  // namespace seg_flag

// Field offsets of the frame header (from the end of the Ethernet header) and of a segment header
// (from its first byte).
namespace hdr {
constexpr size_t kVersion = 0, kFlags = 1, kCount = 2, kReserved = 3, kQid = 4, kCntlid = 6, kNonce = 8;
}  // namespace hdr
namespace seg {
constexpr size_t kKind = 0, kFlags = 1, kCid = 2, kMetaLen = 4, kDataLen = 6, kOffset = 8, kTotal = 12, kGen = 16;
}  // namespace seg

// What names a frame's association; every segment of a frame belongs to it.
struct FrameAddress {
  uint16_t qid = 0;
  uint16_t cntlid = kNoController;
  uint32_t nonce = 0;
};

struct SegmentHeader {
  FrameKind kind = FrameKind::kCommand;
  uint8_t flags = 0;
  uint16_t cid = 0;
  uint32_t offset = 0;  // Data: byte offset of the data in the command's data
  uint32_t total = 0;   // the command's whole data length (Command, Data); C2H bytes sent (Response)
  uint32_t gen = 0;     // generation of the command (host-assigned, per queue)
};

struct Segment {
  SegmentHeader h;
  std::span<const uint8_t> meta;  // covered by the header CRC
  std::span<const uint8_t> data;  // covered by the data digest when the frame has one
};

struct Frame {
  MacAddress dst, src;
  uint8_t flags = 0;
  FrameAddress a;
  uint8_t count = 0;
  std::array<Segment, kMaxSegments> segs;

  // With kFrameTag: the bytes the tag covers (from the first byte to the end of the data) and
  // the kFrameTrailerSize bytes after them.
  std::span<const uint8_t> tagged;
  const uint8_t* trailer = nullptr;

  std::span<const Segment> segments() const { return {segs.data(), count}; }
  bool has_data_digest() const { return flags & frame_flag::kDataDigest; }
  bool has_tag() const { return flags & frame_flag::kFrameTag; }
};

enum class DecodeError {
  kNone = 0,
  kTruncated,  // shorter than its headers, metadata or data say
  kWrongEtherType,
  kWrongVersion,
  kBadCount,      // no segment, or more than kMaxSegments
  kHeaderDigest,  // header CRC mismatch: nothing of the frame can be trusted
  kReservedBits,  // reserved flag bits or bytes set
  kUnknownKind,
  kBadSegment,  // a lone kind packed with others, or lengths that do not fit the kind
  kBadLength,   // bytes after the data (beyond minimum-frame padding)
  kDataDigest,
};
const char* decode_error_name(DecodeError e);
inline bool is_digest_error(DecodeError e) {
  return e == DecodeError::kHeaderDigest || e == DecodeError::kDataDigest;
}

// Parses and checks a whole frame (docs/PROTOCOL.md §3.3): the header CRC before any field is
// used, then every segment's kind and lengths, then the data digest when the frame has one. A
// frame tag is located, not checked: that needs the association's key. Never reads outside
// `bytes`. On success the segments' spans point into `bytes`.
DecodeError decode_frame(std::span<const uint8_t> bytes, uint16_t ethertype, Frame* out);

// Builds one frame holding the given segments into a vector (control frames, tests, tools; the
// data path uses TxBatch). `data_digest` appends the data digest. Segments whose sizes do not fit
// the kinds' rules are built as given (tests use that to make malformed frames).
struct SegmentSpec {
  SegmentHeader h;
  std::span<const uint8_t> meta;
  std::span<const uint8_t> data;
};
std::vector<uint8_t> build_frame(const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                                 const FrameAddress& a, std::span<const SegmentSpec> segs, bool data_digest);
// One segment.
std::vector<uint8_t> build_frame(const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                                 const FrameAddress& a, const SegmentHeader& h, std::span<const uint8_t> meta,
                                 std::span<const uint8_t> data = {}, bool data_digest = false);

// A frame tag's trailer is longer than the data digest that kFrameOverhead budgets: an
// authenticated association's frames hold this many bytes less of segments.
constexpr uint32_t kFrameTagExtra = uint32_t(kFrameTrailerSize - kDigestSize);
inline uint32_t tagged_max_frame(uint32_t max_frame, bool tagged) {
  return tagged ? (max_frame > kFrameTagExtra ? max_frame - kFrameTagExtra : 0) : max_frame;
}

// The largest frame (Ethernet payload bytes) usable on a link of `mtu`, and the bytes of segments
// (headers, metadata, data) that fit in one such frame.
inline uint32_t segment_budget(uint32_t max_frame) {
  return max_frame > kFrameOverhead ? uint32_t(max_frame - kFrameOverhead) : 0;
}
// Data bytes one Data segment alone in a frame can carry.
inline uint32_t max_data_per_frame(uint32_t max_frame) {
  uint32_t b = segment_budget(max_frame);
  return b > kSegmentHeaderSize ? b - uint32_t(kSegmentHeaderSize) : 0;
}

// ---- metadata of the segment kinds ----

// Connect Request/Response (16 bytes each).
constexpr size_t kConnectMetaSize = 16;
namespace digest_bits {
constexpr uint8_t kData = 1u << 0;
}  // namespace digest_bits
struct ConnectRequest {
  uint16_t queue_size = 0;  // entries requested
  uint32_t max_frame = 0;   // largest frame (Ethernet payload bytes) the sender accepts: its MTU
  uint8_t digests = 0;      // digest_bits requested
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
  uint16_t queue_size = 0;    // entries granted
  uint32_t max_frame = 0;     // frame size limit both ways: min of both ends' MTUs
  uint8_t digests = 0;        // digests in force
  uint32_t max_transfer = 0;  // largest data transfer of one command, bytes
};
void encode_connect_request(const ConnectRequest& r, uint8_t* out);
bool decode_connect_request(std::span<const uint8_t> meta, ConnectRequest* out);
void encode_connect_response(const ConnectResponse& r, uint8_t* out);
bool decode_connect_response(std::span<const uint8_t> meta, ConnectResponse* out);

// Retransmit Request: a count and (offset, length) pairs of missing data.
struct ByteRange {
  uint32_t offset = 0, length = 0;
};
inline size_t retransmit_meta_size(size_t ranges) {
  return 4 + 8 * ranges;
}
// Ranges one Retransmit Request may list in a frame of `max_frame`.
inline size_t max_retransmit_ranges(uint32_t max_frame) {
  uint32_t b = segment_budget(max_frame);
  return b > kSegmentHeaderSize + 4 ? (b - kSegmentHeaderSize - 4) / 8 : 0;
}
void encode_retransmit_request(std::span<const ByteRange> ranges, uint8_t* out);
std::vector<uint8_t> encode_retransmit_request(const std::vector<ByteRange>& ranges);
// Rejects a count that the metadata does not hold exactly.
bool decode_retransmit_request(std::span<const uint8_t> meta, std::vector<ByteRange>* out);

enum class TerminateReason : uint16_t {
  kHostDisconnect = 1,
  kUnknownAssociation = 2,
  kKeepAliveTimeout = 3,
  kProtocolError = 4,
  kTargetShutdown = 5,
  kConfigurationChange = 6,  // the subsystem or the host's access was removed from the target
};
constexpr size_t kTerminateMetaSize = 4;
const char* terminate_reason_name(TerminateReason r);

// Discover Query: host NQN and an optional subsystem NQN filter, 256 bytes each.
constexpr size_t kDiscoverQuerySize = 512;
struct DiscoverQuery {
  std::string hostnqn;
  std::string subnqn;  // empty: all subsystems
};
void encode_discover_query(const DiscoverQuery& q, uint8_t* out);
bool decode_discover_query(std::span<const uint8_t> meta, DiscoverQuery* out);

struct DiscoverEntry {
  std::string subnqn;
  uint16_t namespaces = 0;
  bool read_only = false;
  uint64_t capacity_bytes = 0;
};
// Packs as many entries as fit in `max_meta` bytes, starting at `first`; returns how many were packed.
size_t encode_discover_reply(const std::vector<DiscoverEntry>& entries, size_t first, size_t max_meta,
                             std::vector<uint8_t>* out);
bool decode_discover_reply(std::span<const uint8_t> meta, std::vector<DiscoverEntry>* out);

}  // namespace nvmeoe
