// Frame decode and the segment metadata codecs. Every read is bounds-checked against the received
// length first, and no field but the lengths that locate the header CRC is used before that CRC
// has matched.
#include "wire/frame.h"

#include <cstring>

#include "common/bytes.h"
#include "wire/crc32c.h"

namespace nvmeoe {

const char* frame_kind_name(FrameKind k) {
  switch (k) {
    case FrameKind::kConnectRequest:
      return "connect-request";
    case FrameKind::kConnectResponse:
      return "connect-response";
    case FrameKind::kCommand:
      return "command";
    case FrameKind::kResponse:
      return "response";
    case FrameKind::kData:
      return "data";
    case FrameKind::kRetransmitRequest:
      return "retransmit-request";
    case FrameKind::kTerminate:
      return "terminate";
    case FrameKind::kDiscoverQuery:
      return "discover-query";
    case FrameKind::kDiscoverReply:
      return "discover-reply";
  }
  return "unknown";
}

const char* decode_error_name(DecodeError e) {
  switch (e) {
    case DecodeError::kNone:
      return "ok";
    case DecodeError::kTruncated:
      return "truncated frame";
    case DecodeError::kWrongEtherType:
      return "wrong EtherType";
    case DecodeError::kWrongVersion:
      return "unsupported protocol version";
    case DecodeError::kBadCount:
      return "bad segment count";
    case DecodeError::kHeaderDigest:
      return "header digest mismatch";
    case DecodeError::kReservedBits:
      return "reserved bits set";
    case DecodeError::kUnknownKind:
      return "unknown segment kind";
    case DecodeError::kBadSegment:
      return "segment lengths inconsistent with its kind";
    case DecodeError::kBadLength:
      return "frame length inconsistent with its segments";
    case DecodeError::kDataDigest:
      return "data digest mismatch";
  }
  return "unknown error";
}

const char* terminate_reason_name(TerminateReason r) {
  switch (r) {
    case TerminateReason::kHostDisconnect:
      return "host disconnect";
    case TerminateReason::kUnknownAssociation:
      return "unknown association";
    case TerminateReason::kKeepAliveTimeout:
      return "keep-alive timeout";
    case TerminateReason::kProtocolError:
      return "protocol error";
    case TerminateReason::kTargetShutdown:
      return "target shutdown";
    case TerminateReason::kConfigurationChange:
      return "configuration change";
  }
  return "unknown reason";
}

namespace {

// The metadata and data sizes a segment kind allows (PROTOCOL.md §4).
bool segment_sizes_valid(FrameKind kind, size_t meta, size_t data) {
  switch (kind) {
    case FrameKind::kConnectRequest:
    case FrameKind::kConnectResponse:
      return meta == kConnectMetaSize && data == 0;
    case FrameKind::kCommand:
      return meta == kSqeBytes;
    case FrameKind::kResponse:
      return meta == kCqeBytes && data == 0;
    case FrameKind::kData:
      return meta == 0;
    case FrameKind::kRetransmitRequest:
      return meta >= 4 && (meta - 4) % 8 == 0 && data == 0;
    case FrameKind::kTerminate:
      return meta == kTerminateMetaSize && data == 0;
    case FrameKind::kDiscoverQuery:
      return meta == kDiscoverQuerySize && data == 0;
    case FrameKind::kDiscoverReply:
      return meta >= 4 && data == 0;
  }
  return false;
}

}  // namespace

DecodeError decode_frame(std::span<const uint8_t> bytes, uint16_t ethertype, Frame* out) {
  const size_t size = bytes.size();
  const uint8_t* p = bytes.data();
  if (size < kEthHeaderSize + kFrameHeaderSize) return DecodeError::kTruncated;
  if (get_be16(p + 12) != ethertype) return DecodeError::kWrongEtherType;
  const uint8_t* h = p + kEthHeaderSize;
  if (h[hdr::kVersion] != kProtocolVersion) return DecodeError::kWrongVersion;
  const size_t count = h[hdr::kCount];
  if (count == 0 || count > kMaxSegments) return DecodeError::kBadCount;
  // 1. Locate the header CRC: walk the segment headers with their (not yet trusted) lengths.
  size_t at = kEthHeaderSize + kFrameHeaderSize;
  for (size_t i = 0; i < count; ++i) {
    if (size - at < kSegmentHeaderSize) return DecodeError::kTruncated;
    size_t meta = get_le16(p + at + seg::kMetaLen);
    at += kSegmentHeaderSize;
    if (size - at < meta) return DecodeError::kTruncated;
    at += meta;
  }
  if (size - at < kHcrcSize) return DecodeError::kTruncated;
  // 2. The header CRC covers the Ethernet header, the frame header and every segment header and
  // its metadata. Nothing else is trusted before it matches.
  if (crc32c(p, at) != get_le32(p + at)) return DecodeError::kHeaderDigest;
  const size_t header_end = at + kHcrcSize;
  // 3. Fields.
  const uint8_t flags = h[hdr::kFlags];
  if ((flags & ~frame_flag::kKnown) || h[hdr::kReserved] ||
      (flags & frame_flag::kDataDigest && flags & frame_flag::kFrameTag))
    return DecodeError::kReservedBits;
  size_t data_total = 0;
  at = kEthHeaderSize + kFrameHeaderSize;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* s = p + at;
    const uint8_t kind = s[seg::kKind];
    if (kind < uint8_t(FrameKind::kConnectRequest) || kind > uint8_t(FrameKind::kDiscoverReply))
      return DecodeError::kUnknownKind;
    if (s[seg::kFlags] & ~seg_flag::kKnown) return DecodeError::kReservedBits;
    const size_t meta = get_le16(s + seg::kMetaLen), data = get_le16(s + seg::kDataLen);
    if (!segment_sizes_valid(FrameKind(kind), meta, data)) return DecodeError::kBadSegment;
    if (count > 1 && kind_stands_alone(FrameKind(kind))) return DecodeError::kBadSegment;
    Segment& g = out->segs[i];
    g.h.kind = FrameKind(kind);
    g.h.flags = s[seg::kFlags];
    g.h.cid = get_le16(s + seg::kCid);
    g.h.offset = get_le32(s + seg::kOffset);
    g.h.total = get_le32(s + seg::kTotal);
    g.h.gen = get_le32(s + seg::kGen);
    g.meta = std::span<const uint8_t>(s + kSegmentHeaderSize, meta);
    g.data = std::span<const uint8_t>();  // placed below, once the data region is known to fit
    data_total += data;
    at += kSegmentHeaderSize + meta;
  }
  // 4. The data region follows the header CRC: each segment's data in segment order.
  const bool dd = flags & frame_flag::kDataDigest;
  const bool tagged = flags & frame_flag::kFrameTag;
  const size_t need = header_end + data_total + (dd ? kDigestSize : 0) + (tagged ? kFrameTrailerSize : 0);
  if (size < need) return DecodeError::kTruncated;
  // Trailing bytes are only allowed as padding up to the Ethernet minimum frame size.
  if (size > need && size > kMinEthFrame) return DecodeError::kBadLength;
  const uint8_t* data = p + header_end;
  if (dd && crc32c(data, data_total) != get_le32(data + data_total)) return DecodeError::kDataDigest;
  at = kEthHeaderSize + kFrameHeaderSize;
  for (size_t i = 0; i < count; ++i) {
    size_t n = get_le16(p + at + seg::kDataLen);
    out->segs[i].data = std::span<const uint8_t>(data, n);
    data += n;
    at += kSegmentHeaderSize + out->segs[i].meta.size();
  }
  std::memcpy(out->dst.b.data(), p, 6);
  std::memcpy(out->src.b.data(), p + 6, 6);
  out->flags = flags;
  out->tagged = tagged ? bytes.first(header_end + data_total) : std::span<const uint8_t>();
  out->trailer = tagged ? p + header_end + data_total : nullptr;
  out->a.qid = get_le16(h + hdr::kQid);
  out->a.cntlid = get_le16(h + hdr::kCntlid);
  out->a.nonce = get_le32(h + hdr::kNonce);
  out->count = uint8_t(count);
  return DecodeError::kNone;
}

std::vector<uint8_t> build_frame(const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                                 const FrameAddress& a, std::span<const SegmentSpec> segs, bool data_digest) {
  std::vector<uint8_t> f(kEthHeaderSize + kFrameHeaderSize);
  std::memcpy(f.data(), dst.b.data(), 6);
  std::memcpy(f.data() + 6, src.b.data(), 6);
  put_be16(f.data() + 12, ethertype);
  uint8_t* h = f.data() + kEthHeaderSize;
  h[hdr::kVersion] = kProtocolVersion;
  h[hdr::kFlags] = data_digest ? frame_flag::kDataDigest : 0;
  h[hdr::kCount] = uint8_t(segs.size());
  h[hdr::kReserved] = 0;
  put_le16(h + hdr::kQid, a.qid);
  put_le16(h + hdr::kCntlid, a.cntlid);
  put_le32(h + hdr::kNonce, a.nonce);
  for (const SegmentSpec& s : segs) {
    uint8_t sh[kSegmentHeaderSize];
    sh[seg::kKind] = uint8_t(s.h.kind);
    sh[seg::kFlags] = s.h.flags;
    put_le16(sh + seg::kCid, s.h.cid);
    put_le16(sh + seg::kMetaLen, uint16_t(s.meta.size()));
    put_le16(sh + seg::kDataLen, uint16_t(s.data.size()));
    put_le32(sh + seg::kOffset, s.h.offset);
    put_le32(sh + seg::kTotal, s.h.total);
    put_le32(sh + seg::kGen, s.h.gen);
    f.insert(f.end(), sh, sh + kSegmentHeaderSize);
    f.insert(f.end(), s.meta.begin(), s.meta.end());
  }
  uint8_t crc[4];
  put_le32(crc, crc32c(f.data(), f.size()));
  f.insert(f.end(), crc, crc + 4);
  uint32_t dcrc = 0;
  for (const SegmentSpec& s : segs) {
    f.insert(f.end(), s.data.begin(), s.data.end());
    dcrc = crc32c_extend(dcrc, s.data.data(), s.data.size());
  }
  if (data_digest) {
    put_le32(crc, dcrc);
    f.insert(f.end(), crc, crc + 4);
  }
  return f;
}

std::vector<uint8_t> build_frame(const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                                 const FrameAddress& a, const SegmentHeader& h, std::span<const uint8_t> meta,
                                 std::span<const uint8_t> data, bool data_digest) {
  SegmentSpec s{h, meta, data};
  return build_frame(dst, src, ethertype, a, std::span<const SegmentSpec>(&s, 1), data_digest);
}

void encode_connect_request(const ConnectRequest& r, uint8_t* out) {
  std::memset(out, 0, kConnectMetaSize);
  put_le16(out, r.queue_size);
  put_le32(out + 4, r.max_frame);
  out[8] = r.digests;
}

bool decode_connect_request(std::span<const uint8_t> meta, ConnectRequest* out) {
  if (meta.size() < kConnectMetaSize) return false;
  out->queue_size = get_le16(meta.data());
  out->max_frame = get_le32(meta.data() + 4);
  out->digests = meta[8];
  return true;
}

void encode_connect_response(const ConnectResponse& r, uint8_t* out) {
  std::memset(out, 0, kConnectMetaSize);
  put_le16(out, uint16_t(r.result));
  put_le16(out + 2, r.queue_size);
  put_le32(out + 4, r.max_frame);
  out[8] = r.digests;
  put_le32(out + 12, r.max_transfer);
}

bool decode_connect_response(std::span<const uint8_t> meta, ConnectResponse* out) {
  if (meta.size() < kConnectMetaSize) return false;
  out->result = ConnectResult(get_le16(meta.data()));
  out->queue_size = get_le16(meta.data() + 2);
  out->max_frame = get_le32(meta.data() + 4);
  out->digests = meta[8];
  out->max_transfer = get_le32(meta.data() + 12);
  return true;
}

void encode_retransmit_request(std::span<const ByteRange> ranges, uint8_t* out) {
  put_le16(out, uint16_t(ranges.size()));
  put_le16(out + 2, 0);
  for (size_t i = 0; i < ranges.size(); ++i) {
    put_le32(out + 4 + 8 * i, ranges[i].offset);
    put_le32(out + 8 + 8 * i, ranges[i].length);
  }
}

std::vector<uint8_t> encode_retransmit_request(const std::vector<ByteRange>& ranges) {
  std::vector<uint8_t> out(retransmit_meta_size(ranges.size()));
  encode_retransmit_request(std::span<const ByteRange>(ranges), out.data());
  return out;
}

bool decode_retransmit_request(std::span<const uint8_t> meta, std::vector<ByteRange>* out) {
  if (meta.size() < 4) return false;
  size_t n = get_le16(meta.data());
  if (meta.size() != retransmit_meta_size(n)) return false;
  out->clear();
  for (size_t i = 0; i < n; ++i) out->push_back({get_le32(meta.data() + 4 + 8 * i), get_le32(meta.data() + 8 + 8 * i)});
  return true;
}

static bool read_nqn(const uint8_t* p, std::string* out) {
  const void* nul = std::memchr(p, 0, kNqnBytes);
  if (!nul) return false;
  out->assign(reinterpret_cast<const char*>(p), static_cast<const uint8_t*>(nul) - p);
  return true;
}

void encode_discover_query(const DiscoverQuery& q, uint8_t* out) {
  put_cstr_padded(out, kNqnBytes, q.hostnqn.substr(0, kNqnBytes - 1).c_str());
  put_cstr_padded(out + kNqnBytes, kNqnBytes, q.subnqn.substr(0, kNqnBytes - 1).c_str());
}

bool decode_discover_query(std::span<const uint8_t> meta, DiscoverQuery* out) {
  if (meta.size() < kDiscoverQuerySize) return false;
  return read_nqn(meta.data(), &out->hostnqn) && read_nqn(meta.data() + kNqnBytes, &out->subnqn);
}

// Reply: u16 count, u16 reserved, then per entry: u8 nqn length, u8 flags (bit 0 read-only),
// u16 namespaces, u64 capacity bytes, nqn bytes (no NUL).
size_t encode_discover_reply(const std::vector<DiscoverEntry>& entries, size_t first, size_t max_meta,
                             std::vector<uint8_t>* out) {
  out->assign(4, 0);
  size_t n = 0;
  for (size_t i = first; i < entries.size(); ++i) {
    const auto& e = entries[i];
    size_t len = std::min<size_t>(e.subnqn.size(), 255);
    if (out->size() + 12 + len > max_meta) break;
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

bool decode_discover_reply(std::span<const uint8_t> meta, std::vector<DiscoverEntry>* out) {
  if (meta.size() < 4) return false;
  size_t n = get_le16(meta.data()), at = 4;
  out->clear();
  for (size_t i = 0; i < n; ++i) {
    if (at + 12 > meta.size()) return false;
    const uint8_t* q = meta.data() + at;
    size_t len = q[0];
    if (at + 12 + len > meta.size()) return false;
    DiscoverEntry e;
    e.read_only = q[1] & 1;
    e.namespaces = get_le16(q + 2);
    e.capacity_bytes = get_le64(q + 4);
    e.subnqn.assign(reinterpret_cast<const char*>(q + 12), len);
    out->push_back(std::move(e));
    at += 12 + len;
  }
  return at == meta.size();
}

}  // namespace nvmeoe
