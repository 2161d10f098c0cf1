// Frame encode/decode. Every read is bounds-checked against the received length first.
#include "wire/frame.h"

#include <cstring>

#include "common/bytes.h"
#include "nvme/spec.h"
#include "wire/crc32c.h"

namespace nvmeoe {

const char* frame_kind_name(FrameKind k) {
  switch (k) {
    case FrameKind::kConnectRequest: return "connect-request";
    case FrameKind::kConnectResponse: return "connect-response";
    case FrameKind::kCommand: return "command";
    case FrameKind::kResponse: return "response";
    case FrameKind::kData: return "data";
    case FrameKind::kRetransmitRequest: return "retransmit-request";
    case FrameKind::kTerminate: return "terminate";
    case FrameKind::kDiscoverQuery: return "discover-query";
    case FrameKind::kDiscoverReply: return "discover-reply";
  }
  return "unknown";
}

const char* decode_error_name(DecodeError e) {
  switch (e) {
    case DecodeError::kNone: return "ok";
    case DecodeError::kTruncated: return "truncated frame";
    case DecodeError::kWrongEtherType: return "wrong EtherType";
    case DecodeError::kWrongVersion: return "unsupported protocol version";
    case DecodeError::kUnknownKind: return "unknown frame kind";
    case DecodeError::kReservedBits: return "reserved bits set";
    case DecodeError::kBadLength: return "length field inconsistent with frame size";
    case DecodeError::kHeaderDigest: return "header digest mismatch";
    case DecodeError::kDataDigest: return "data digest mismatch";
  }
  return "unknown error";
}

const char* terminate_reason_name(TerminateReason r) {
  switch (r) {
    case TerminateReason::kHostDisconnect: return "host disconnect";
    case TerminateReason::kUnknownAssociation: return "unknown association";
    case TerminateReason::kKeepAliveTimeout: return "keep-alive timeout";
    case TerminateReason::kProtocolError: return "protocol error";
    case TerminateReason::kTargetShutdown: return "target shutdown";
    case TerminateReason::kConfigurationChange: return "configuration change";
  }
  return "unknown reason";
}

DecodeError decode_frame(std::span<const uint8_t> bytes, uint16_t ethertype, Frame* out) {
  if (bytes.size() < kFrameHeadroom) return DecodeError::kTruncated;
  const uint8_t* p = bytes.data();
  if (get_be16(p + 12) != ethertype) return DecodeError::kWrongEtherType;
  const uint8_t* h = p + kEthHeaderSize;
  if (h[hdr::kVersion] != kProtocolVersion) return DecodeError::kWrongVersion;
  uint8_t kind = h[hdr::kKind];
  if (kind < uint8_t(FrameKind::kConnectRequest) || kind > uint8_t(FrameKind::kDiscoverReply))
    return DecodeError::kUnknownKind;
  uint8_t flags = h[hdr::kFlags];
  if ((flags & ~frame_flag::kKnown) || h[hdr::kReserved]) return DecodeError::kReservedBits;
  if (flags & frame_flag::kHeaderDigest) {
    if (crc32c(h, hdr::kHdgst) != get_le32(h + hdr::kHdgst)) return DecodeError::kHeaderDigest;
  } else if (get_le32(h + hdr::kHdgst) != 0) {
    return DecodeError::kReservedBits;
  }
  uint16_t length = get_le16(h + hdr::kLength);
  size_t need = kFrameHeadroom + size_t(length) + ((flags & frame_flag::kDataDigest) ? kDigestSize : 0);
  if (bytes.size() < need) return DecodeError::kTruncated;
  // Trailing bytes are only allowed as padding up to the Ethernet minimum frame size.
  if (bytes.size() > need && bytes.size() > kMinEthFrame) return DecodeError::kBadLength;
  const uint8_t* payload = h + kHeaderSize;
  if (flags & frame_flag::kDataDigest) {
    if (crc32c(payload, length) != get_le32(payload + length)) return DecodeError::kDataDigest;
  }
  // One 12-byte copy for both addresses (from_bytes copies byte by byte).
  std::memcpy(out->dst.b.data(), p, 6);
  std::memcpy(out->src.b.data(), p + 6, 6);
  FrameHeader& fh = out->h;
  fh.kind = FrameKind(kind);
  fh.flags = flags;
  fh.qid = get_le16(h + hdr::kQid);
  fh.cntlid = get_le16(h + hdr::kCntlid);
  fh.nonce = get_le32(h + hdr::kNonce);
  fh.cid = get_le16(h + hdr::kCid);
  fh.length = length;
  fh.offset = get_le32(h + hdr::kOffset);
  fh.total = get_le32(h + hdr::kTotal);
  fh.gen = get_le32(h + hdr::kGen);
  out->payload = std::span<const uint8_t>(payload, length);
  return DecodeError::kNone;
}

void encode_headers(uint8_t* out, const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                    const FrameHeader& fh) {
  std::memcpy(out, dst.b.data(), 6);
  std::memcpy(out + 6, src.b.data(), 6);
  put_be16(out + 12, ethertype);
  uint8_t* h = out + kEthHeaderSize;
  h[hdr::kVersion] = kProtocolVersion;
  h[hdr::kKind] = uint8_t(fh.kind);
  h[hdr::kFlags] = fh.flags;
  h[hdr::kReserved] = 0;
  put_le16(h + hdr::kQid, fh.qid);
  put_le16(h + hdr::kCntlid, fh.cntlid);
  put_le32(h + hdr::kNonce, fh.nonce);
  put_le16(h + hdr::kCid, fh.cid);
  put_le16(h + hdr::kLength, fh.length);
  put_le32(h + hdr::kOffset, fh.offset);
  put_le32(h + hdr::kTotal, fh.total);
  put_le32(h + hdr::kGen, fh.gen);
  put_le32(h + hdr::kHdgst, (fh.flags & frame_flag::kHeaderDigest) ? crc32c(h, hdr::kHdgst) : 0);
}

void encode_data_digest(std::span<const uint8_t> payload, uint8_t* out) {
  put_le32(out, crc32c(payload.data(), payload.size()));
}

TxFrame encode_tx_frame(uint8_t* head, const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                        const FrameHeader& h, std::span<const uint8_t> body) {
  encode_headers(head, dst, src, ethertype, h);
  TxFrame f;
  f.head = std::span<const uint8_t>(head, kFrameHeadroom);
  f.body = body;
  if (h.flags & frame_flag::kDataDigest) {
    encode_data_digest(body, head + kFrameHeadroom);
    f.tail = std::span<const uint8_t>(head + kFrameHeadroom, kDigestSize);
  }
  return f;
}

std::vector<uint8_t> build_frame(const MacAddress& dst, const MacAddress& src, uint16_t ethertype, FrameHeader h,
                                 std::span<const uint8_t> payload) {
  // `length` is 16 bits; bounding the payload also lets GCC 12 at -O3 see that the vector is never
  // empty (without it, it reports a false -Warray-bounds on the header writes below).
  if (payload.size() > UINT16_MAX) payload = payload.first(UINT16_MAX);
  h.length = uint16_t(payload.size());
  bool dd = h.flags & frame_flag::kDataDigest;
  std::vector<uint8_t> f(kFrameHeadroom + payload.size() + (dd ? kDigestSize : 0));
  encode_headers(f.data(), dst, src, ethertype, h);
  if (!payload.empty()) std::memcpy(f.data() + kFrameHeadroom, payload.data(), payload.size());
  if (dd) encode_data_digest(payload, f.data() + kFrameHeadroom + payload.size());
  return f;
}

void encode_connect_request(const ConnectRequest& r, uint8_t* out) {
  std::memset(out, 0, kConnectPayloadSize);
  put_le16(out, r.queue_size);
  put_le32(out + 4, r.max_payload);
  out[8] = r.digests;
}

bool decode_connect_request(std::span<const uint8_t> p, ConnectRequest* out) {
  if (p.size() < kConnectPayloadSize) return false;
  out->queue_size = get_le16(p.data());
  out->max_payload = get_le32(p.data() + 4);
  out->digests = p[8];
  return true;
}

void encode_connect_response(const ConnectResponse& r, uint8_t* out) {
  std::memset(out, 0, kConnectPayloadSize);
  put_le16(out, uint16_t(r.result));
  put_le16(out + 2, r.queue_size);
  put_le32(out + 4, r.max_payload);
  out[8] = r.digests;
  put_le32(out + 12, r.max_transfer);
}

bool decode_connect_response(std::span<const uint8_t> p, ConnectResponse* out) {
  if (p.size() < kConnectPayloadSize) return false;
  out->result = ConnectResult(get_le16(p.data()));
  out->queue_size = get_le16(p.data() + 2);
  out->max_payload = get_le32(p.data() + 4);
  out->digests = p[8];
  out->max_transfer = get_le32(p.data() + 12);
  return true;
}

std::vector<uint8_t> encode_retransmit_request(const std::vector<ByteRange>& ranges) {
  std::vector<uint8_t> out(4 + 8 * ranges.size());
  put_le16(out.data(), uint16_t(ranges.size()));
  for (size_t i = 0; i < ranges.size(); ++i) {
    put_le32(out.data() + 4 + 8 * i, ranges[i].offset);
    put_le32(out.data() + 8 + 8 * i, ranges[i].length);
  }
  return out;
}

bool decode_retransmit_request(std::span<const uint8_t> p, std::vector<ByteRange>* out) {
  if (p.size() < 4) return false;
  size_t n = get_le16(p.data());
  if (p.size() < 4 + 8 * n) return false;
  out->clear();
  for (size_t i = 0; i < n; ++i)
    out->push_back({get_le32(p.data() + 4 + 8 * i), get_le32(p.data() + 8 + 8 * i)});
  return true;
}

static bool read_nqn(const uint8_t* p, std::string* out) {
  const void* nul = std::memchr(p, 0, kNqnSize);
  if (!nul) return false;
  out->assign(reinterpret_cast<const char*>(p), static_cast<const uint8_t*>(nul) - p);
  return true;
}

void encode_discover_query(const DiscoverQuery& q, uint8_t* out) {
  put_cstr_padded(out, kNqnSize, q.hostnqn.substr(0, kNqnSize - 1).c_str());
  put_cstr_padded(out + kNqnSize, kNqnSize, q.subnqn.substr(0, kNqnSize - 1).c_str());
}

bool decode_discover_query(std::span<const uint8_t> p, DiscoverQuery* out) {
  if (p.size() < kDiscoverQuerySize) return false;
  return read_nqn(p.data(), &out->hostnqn) && read_nqn(p.data() + kNqnSize, &out->subnqn);
}

// Reply: u16 count, u16 reserved, then per entry: u8 nqn length, u8 flags (bit 0 read-only),
// u16 namespaces, u64 capacity bytes, nqn bytes (no NUL).
size_t encode_discover_reply(const std::vector<DiscoverEntry>& entries, size_t first, uint32_t max_payload,
                             std::vector<uint8_t>* out) {
  out->assign(4, 0);
  size_t n = 0;
  for (size_t i = first; i < entries.size(); ++i) {
    const auto& e = entries[i];
    size_t len = std::min<size_t>(e.subnqn.size(), 255);
    if (out->size() + 12 + len > max_payload) break;
    size_t at = out->size();
    out->resize(at + 12 + len);
    uint8_t* q = out->data() + at;
    q[0] = uint8_t(len);
    q[1] = e.read_only ? 1 : 0;
    put_le16(q + 2, e.namespaces);
    put_le64(q + 4, e.capacity_bytes);
    std::memcpy(q + 12, e.subnqn.data(), len);
    ++n;
  }
  put_le16(out->data(), uint16_t(n));
  return n;
}

bool decode_discover_reply(std::span<const uint8_t> p, std::vector<DiscoverEntry>* out) {
  if (p.size() < 4) return false;
  size_t n = get_le16(p.data()), at = 4;
  out->clear();
  for (size_t i = 0; i < n; ++i) {
    if (at + 12 > p.size()) return false;
    const uint8_t* q = p.data() + at;
    size_t len = q[0];
    if (at + 12 + len > p.size()) return false;
    DiscoverEntry e;
    e.read_only = q[1] & 1;
    e.namespaces = get_le16(q + 2);
    e.capacity_bytes = get_le64(q + 4);
    e.subnqn.assign(reinterpret_cast<const char*>(q + 12), len);
    out->push_back(std::move(e));
    at += 12 + len;
  }
  return true;
}

}  // namespace nvmeoe
