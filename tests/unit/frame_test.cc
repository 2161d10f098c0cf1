// The version 2 frame codec: layout, packed segments, every receive check of PROTOCOL.md §3.3 (in
// its order), digests, the metadata codecs and the version 1 frames of the version check.
#include "wire/frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "common/bytes.h"
#include "nvme/spec.h"
#include "wire/crc32c.h"
#include "wire/v1_compat.h"

namespace nvmeoe {
namespace {

const MacAddress kA{{0x02, 0, 0, 0, 0, 0xaa}};
const MacAddress kB{{0x02, 0, 0, 0, 0, 0xbb}};
constexpr size_t kFirstSeg = kEthHeaderSize + kFrameHeaderSize;

std::vector<uint8_t> pattern(size_t n, uint8_t salt) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i * 7 + salt);
  return v;
}

SegmentHeader data_seg(uint16_t cid, uint32_t offset, uint32_t total, uint32_t gen, uint8_t flags = 0) {
  SegmentHeader h;
  h.kind = FrameKind::kData;
  h.flags = flags;
  h.cid = cid;
  h.offset = offset;
  h.total = total;
  h.gen = gen;
  return h;
}

// One Data segment of `n` bytes, with a data digest when `dd`.
std::vector<uint8_t> data_frame(size_t n = 100, bool dd = true) {
  std::vector<uint8_t> d = pattern(n, 1);
  return build_frame(kB, kA, kDefaultEtherType, FrameAddress{3, 7, 0xdeadbeef}, data_seg(42, 1460, 4096, 99), {}, d,
                     dd);
}

// A packed frame: a Response, two Data segments of different commands, a Retransmit Request.
struct Packed {
  std::vector<uint8_t> cqe = std::vector<uint8_t>(kCqeSize, 0x11);
  std::vector<uint8_t> d1 = pattern(300, 2), d2 = pattern(500, 3);
  std::vector<uint8_t> rr = encode_retransmit_request({{0, 512}, {1024, 100}});
  std::vector<uint8_t> bytes;
  Packed() {
    SegmentHeader resp;
    resp.kind = FrameKind::kResponse;
    resp.cid = 1;
    resp.gen = 10;
    SegmentHeader retx;
    retx.kind = FrameKind::kRetransmitRequest;
    retx.cid = 4;
    retx.gen = 13;
    SegmentSpec segs[] = {{resp, cqe, {}},
                          {data_seg(2, 0, 300, 11, seg_flag::kLast | seg_flag::kSuccess), {}, d1},
                          {data_seg(3, 4096, 8192, 12), {}, d2},
                          {retx, rr, {}}};
    bytes = build_frame(kB, kA, kDefaultEtherType, FrameAddress{1, 5, 0x01020304}, segs, true);
  }
};

// Rewrites the header CRC after a test changed a header byte, so that the check after it is
// what the frame meets. `segments`: how many segment headers to walk. False (nothing written) when
// the lengths lead past the end.
bool try_reseal(std::vector<uint8_t>& f, size_t segments) {
  size_t at = kFirstSeg;
  for (size_t i = 0; i < segments; ++i) {
    if (at + kSegmentHeaderSize > f.size()) return false;
    at += kSegmentHeaderSize + get_le16(f.data() + at + seg::kMetaLen);
  }
  if (at + kHcrcSize > f.size()) return false;
  put_le32(f.data() + at, crc32c(f.data(), at));
  return true;
}
void reseal(std::vector<uint8_t>& f, size_t segments) {
  ASSERT_TRUE(try_reseal(f, segments));
}

DecodeError decode(const std::vector<uint8_t>& f, Frame* out = nullptr) {
  Frame scratch;
  return decode_frame(f, kDefaultEtherType, out ? out : &scratch);
}

TEST(Frame, RoundTripAllFields) {
  std::vector<uint8_t> bytes = data_frame(100);
  Frame f;
  ASSERT_EQ(decode(bytes, &f), DecodeError::kNone);
  EXPECT_EQ(f.dst, kB);
  EXPECT_EQ(f.src, kA);
  EXPECT_EQ(f.a.qid, 3);
  EXPECT_EQ(f.a.cntlid, 7);
  EXPECT_EQ(f.a.nonce, 0xdeadbeefu);
  EXPECT_TRUE(f.has_data_digest());
  ASSERT_EQ(f.count, 1);
  const Segment& g = f.segs[0];
  EXPECT_EQ(g.h.kind, FrameKind::kData);
  EXPECT_EQ(g.h.cid, 42);
  EXPECT_EQ(g.h.offset, 1460u);
  EXPECT_EQ(g.h.total, 4096u);
  EXPECT_EQ(g.h.gen, 99u);
  EXPECT_TRUE(g.meta.empty());
  EXPECT_EQ(std::vector<uint8_t>(g.data.begin(), g.data.end()), pattern(100, 1));
}

TEST(Frame, LayoutMatchesProtocolDocument) {
  std::vector<uint8_t> f = data_frame(100, true);
  // PROTOCOL.md §3: 14 Ethernet + 12 frame header + 20 segment header + 0 metadata + 4 header CRC,
  // then 100 data bytes and the 4-byte data digest.
  ASSERT_EQ(f.size(), 14u + 12 + 20 + 4 + 100 + 4);
  EXPECT_EQ(get_be16(&f[12]), 0x88B5);
  EXPECT_EQ(f[14], kProtocolVersion);
  EXPECT_EQ(f[15], frame_flag::kDataDigest);
  EXPECT_EQ(f[16], 1);  // count
  EXPECT_EQ(f[17], 0);  // reserved
  EXPECT_EQ(get_le16(&f[18]), 3);
  EXPECT_EQ(get_le16(&f[20]), 7);
  EXPECT_EQ(get_le32(&f[22]), 0xdeadbeefu);
  EXPECT_EQ(f[26], uint8_t(FrameKind::kData));
  EXPECT_EQ(f[27], 0);
  EXPECT_EQ(get_le16(&f[28]), 42);
  EXPECT_EQ(get_le16(&f[30]), 0);    // metadata length
  EXPECT_EQ(get_le16(&f[32]), 100);  // data length
  EXPECT_EQ(get_le32(&f[34]), 1460u);
  EXPECT_EQ(get_le32(&f[38]), 4096u);
  EXPECT_EQ(get_le32(&f[42]), 99u);
  // The header CRC covers bytes 0..45, Ethernet header included.
  EXPECT_EQ(get_le32(&f[46]), crc32c(f.data(), 46));
  EXPECT_EQ(get_le32(&f[150]), crc32c(f.data() + 50, 100));
}

TEST(Frame, PackedSegmentsDecodeInOrder) {
  Packed p;
  Frame f;
  ASSERT_EQ(decode(p.bytes, &f), DecodeError::kNone);
  ASSERT_EQ(f.count, 4);
  EXPECT_EQ(f.segs[0].h.kind, FrameKind::kResponse);
  EXPECT_EQ(std::vector<uint8_t>(f.segs[0].meta.begin(), f.segs[0].meta.end()), p.cqe);
  EXPECT_TRUE(f.segs[0].data.empty());
  EXPECT_EQ(f.segs[1].h.kind, FrameKind::kData);
  EXPECT_EQ(f.segs[1].h.flags, seg_flag::kLast | seg_flag::kSuccess);
  EXPECT_EQ(std::vector<uint8_t>(f.segs[1].data.begin(), f.segs[1].data.end()), p.d1);
  EXPECT_EQ(f.segs[2].h.offset, 4096u);
  EXPECT_EQ(std::vector<uint8_t>(f.segs[2].data.begin(), f.segs[2].data.end()), p.d2);
  std::vector<ByteRange> ranges;
  ASSERT_TRUE(decode_retransmit_request(f.segs[3].meta, &ranges));
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[1].offset, 1024u);
  EXPECT_EQ(f.segs[3].h.cid, 4);
}

TEST(Frame, EveryTruncationIsRejected) {
  Packed p;
  for (size_t len = 0; len < p.bytes.size(); ++len) {
    std::vector<uint8_t> cut(p.bytes.begin(), p.bytes.begin() + long(len));
    DecodeError e = decode(cut);
    EXPECT_NE(e, DecodeError::kNone) << "length " << len;
  }
}

TEST(Frame, ChecksBeforeTheHeaderCrc) {
  std::vector<uint8_t> f = data_frame();
  auto with = [&](size_t at, uint8_t v) {
    std::vector<uint8_t> g = f;
    g[at] = v;
    return decode(g);
  };
  EXPECT_EQ(with(12, 0x08), DecodeError::kWrongEtherType);
  EXPECT_EQ(with(14, 1), DecodeError::kWrongVersion);
  EXPECT_EQ(with(14, 3), DecodeError::kWrongVersion);
  EXPECT_EQ(with(16, 0), DecodeError::kBadCount);
  EXPECT_EQ(with(16, kMaxSegments + 1), DecodeError::kBadCount);
  // A count or metadata length that runs past the end is found before the CRC is looked for.
  EXPECT_EQ(with(16, 2), DecodeError::kTruncated);
  std::vector<uint8_t> g = f;
  put_le16(&g[30], 0xffff);
  EXPECT_EQ(decode(g), DecodeError::kTruncated);
}

TEST(Frame, HeaderCrcCatchesEveryFlippedBitOfTheHeaderRegion) {
  Packed p;
  size_t hcrc_end = kFirstSeg;
  for (int i = 0; i < 4; ++i) hcrc_end += kSegmentHeaderSize + get_le16(p.bytes.data() + hcrc_end + seg::kMetaLen);
  hcrc_end += kHcrcSize;
  for (size_t byte = 0; byte < hcrc_end; ++byte) {
    if (byte == 12 || byte == 13 || byte == 14 || byte == 16) continue;  // EtherType, version, count: checked first
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> g = p.bytes;
      g[byte] ^= uint8_t(1u << bit);
      DecodeError e = decode(g);
      // A flipped metadata length may first make the frame look truncated; nothing is accepted.
      EXPECT_TRUE(e == DecodeError::kHeaderDigest || e == DecodeError::kTruncated)
          << "byte " << byte << " bit " << bit << ": " << decode_error_name(e);
    }
  }
}

TEST(Frame, DataDigestCatchesEveryFlippedDataBit) {
  std::vector<uint8_t> f = data_frame(64, true);
  const size_t data = kFirstSeg + kSegmentHeaderSize + kHcrcSize;
  for (size_t byte = data; byte < f.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> g = f;
      g[byte] ^= uint8_t(1u << bit);
      EXPECT_EQ(decode(g), DecodeError::kDataDigest) << "byte " << byte << " bit " << bit;
    }
  // Without a data digest only the header region is protected: that is what turning it off means.
  std::vector<uint8_t> plain = data_frame(64, false);
  plain[data + 5] ^= 1;
  EXPECT_EQ(decode(plain), DecodeError::kNone);
}

TEST(Frame, ChecksAfterTheHeaderCrc) {
  std::vector<uint8_t> f = data_frame(100, false);
  auto resealed = [&](size_t at, uint8_t v) {
    std::vector<uint8_t> g = f;
    g[at] = v;
    reseal(g, 1);
    return decode(g);
  };
  EXPECT_EQ(resealed(15, 0x80), DecodeError::kReservedBits);  // frame flags
  EXPECT_EQ(resealed(17, 1), DecodeError::kReservedBits);     // reserved byte
  EXPECT_EQ(resealed(27, 0x08), DecodeError::kReservedBits);  // segment flags
  EXPECT_EQ(resealed(26, 0), DecodeError::kUnknownKind);
  EXPECT_EQ(resealed(26, 10), DecodeError::kUnknownKind);
  EXPECT_EQ(resealed(26, uint8_t(FrameKind::kResponse)), DecodeError::kBadSegment);  // no CQE, has data
  // Data length beyond the frame, then bytes beyond the data.
  std::vector<uint8_t> g = f;
  put_le16(&g[32], 101);
  reseal(g, 1);
  EXPECT_EQ(decode(g), DecodeError::kTruncated);
  g = f;
  g.push_back(0);
  EXPECT_EQ(decode(g), DecodeError::kBadLength);
}

TEST(Frame, KindSizesAreEnforced) {
  struct Case {
    FrameKind kind;
    size_t meta, data;
    bool ok;
  } cases[] = {
      {FrameKind::kCommand, kSqeSize, 0, true},
      {FrameKind::kCommand, kSqeSize, 100, true},
      {FrameKind::kCommand, kSqeSize - 1, 0, false},
      {FrameKind::kResponse, kCqeSize, 0, true},
      {FrameKind::kResponse, kCqeSize, 1, false},
      {FrameKind::kResponse, kCqeSize + 4, 0, false},
      {FrameKind::kData, 0, 0, true},
      {FrameKind::kData, 4, 10, false},
      {FrameKind::kRetransmitRequest, 4, 0, true},
      {FrameKind::kRetransmitRequest, 12, 0, true},
      {FrameKind::kRetransmitRequest, 8, 0, false},
      {FrameKind::kRetransmitRequest, 3, 0, false},
      {FrameKind::kConnectRequest, 16, 0, true},
      {FrameKind::kConnectRequest, 17, 0, false},
      {FrameKind::kTerminate, 4, 0, true},
      {FrameKind::kTerminate, 4, 4, false},
      {FrameKind::kDiscoverQuery, 512, 0, true},
      {FrameKind::kDiscoverQuery, 511, 0, false},
      {FrameKind::kDiscoverReply, 4, 0, true},
      {FrameKind::kDiscoverReply, 3, 0, false},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> meta(c.meta), data(c.data);
    SegmentHeader h;
    h.kind = c.kind;
    std::vector<uint8_t> f = build_frame(kB, kA, kDefaultEtherType, FrameAddress{}, h, meta, data, false);
    EXPECT_EQ(decode(f) == DecodeError::kNone, c.ok) << frame_kind_name(c.kind) << " " << c.meta << "/" << c.data;
  }
}

TEST(Frame, LoneKindsMustBeAlone) {
  std::vector<uint8_t> term(kTerminateMetaSize), sqe(kSqeSize);
  SegmentHeader t, c;
  t.kind = FrameKind::kTerminate;
  c.kind = FrameKind::kCommand;
  SegmentSpec two[] = {{c, sqe, {}}, {t, term, {}}};
  EXPECT_EQ(decode(build_frame(kB, kA, kDefaultEtherType, FrameAddress{}, two, false)), DecodeError::kBadSegment);
  SegmentSpec commands[] = {{c, sqe, {}}, {c, sqe, {}}};
  EXPECT_EQ(decode(build_frame(kB, kA, kDefaultEtherType, FrameAddress{}, commands, false)), DecodeError::kNone);
}

TEST(Frame, MostSegmentsPerFrame) {
  std::vector<SegmentSpec> segs(kMaxSegments, SegmentSpec{data_seg(1, 0, 0, 1), {}, {}});
  EXPECT_EQ(decode(build_frame(kB, kA, kDefaultEtherType, FrameAddress{}, segs, true)), DecodeError::kNone);
  segs.push_back(segs[0]);
  std::vector<uint8_t> over = build_frame(kB, kA, kDefaultEtherType, FrameAddress{}, segs, true);
  EXPECT_EQ(decode(over), DecodeError::kBadCount);
}

TEST(Frame, MinimumFramePaddingIsAccepted) {
  std::vector<uint8_t> meta(kTerminateMetaSize, 0);
  meta[0] = 1;
  SegmentHeader h;
  h.kind = FrameKind::kTerminate;
  std::vector<uint8_t> f = build_frame(kB, kA, kDefaultEtherType, FrameAddress{0, 1, 9}, h, meta);
  ASSERT_EQ(f.size(), 54u);
  f.resize(kMinEthFrame, 0);
  EXPECT_EQ(decode(f), DecodeError::kNone);
  f.push_back(0);
  EXPECT_EQ(decode(f), DecodeError::kBadLength);
}

TEST(Frame, RandomGarbageAndMutationsNeverCrash) {
  std::mt19937_64 rng(7);
  Packed p;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> g;
    if (i % 2) {
      g.resize(rng() % 200);
      for (auto& b : g) b = uint8_t(rng());
      if (g.size() > 16) {
        put_be16(&g[12], kDefaultEtherType);
        g[14] = kProtocolVersion;
        g[16] = uint8_t(rng() % 5);
      }
    } else {
      g = p.bytes;
      for (int k = 0; k < 1 + int(rng() % 4); ++k) g[rng() % g.size()] ^= uint8_t(1u << (rng() % 8));
      if (rng() % 2) try_reseal(g, 4);
    }
    Frame f;
    DecodeError e = decode_frame(g, kDefaultEtherType, &f);
    if (e == DecodeError::kNone) {
      // Whatever decodes is self-consistent: every span lies inside the frame.
      for (const Segment& s : f.segments()) {
        EXPECT_GE(s.meta.data(), g.data());
        EXPECT_LE(s.meta.data() + s.meta.size(), g.data() + g.size());
        if (!s.data.empty()) {
          EXPECT_LE(s.data.data() + s.data.size(), g.data() + g.size());
        }
      }
    }
  }
}

TEST(Payloads, ConnectRetransmitTerminateDiscoveryRoundTrip) {
  ConnectRequest rq{128, 1500, digest_bits::kData}, rq2;
  uint8_t buf[kConnectMetaSize];
  encode_connect_request(rq, buf);
  ASSERT_TRUE(decode_connect_request(std::span<const uint8_t>(buf, sizeof buf), &rq2));
  EXPECT_EQ(rq2.queue_size, 128);
  EXPECT_EQ(rq2.max_frame, 1500u);
  EXPECT_EQ(rq2.digests, digest_bits::kData);
  EXPECT_FALSE(decode_connect_request(std::span<const uint8_t>(buf, 15), &rq2));

  ConnectResponse rs, rs2;
  rs.result = ConnectResult::kNoResources;
  rs.queue_size = 64;
  rs.max_frame = 9000;
  rs.digests = 1;
  rs.max_transfer = 1 << 20;
  encode_connect_response(rs, buf);
  ASSERT_TRUE(decode_connect_response(std::span<const uint8_t>(buf, sizeof buf), &rs2));
  EXPECT_EQ(rs2.result, ConnectResult::kNoResources);
  EXPECT_EQ(rs2.max_frame, 9000u);
  EXPECT_EQ(rs2.max_transfer, 1u << 20);

  std::vector<ByteRange> ranges{{0, 1464}, {2928, 100}}, back;
  auto enc = encode_retransmit_request(ranges);
  ASSERT_EQ(enc.size(), retransmit_meta_size(2));
  ASSERT_TRUE(decode_retransmit_request(enc, &back));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].offset, 2928u);
  enc.resize(enc.size() - 1);
  EXPECT_FALSE(decode_retransmit_request(enc, &back));
  // A count that says more ranges than the metadata holds, or fewer.
  enc = encode_retransmit_request(ranges);
  put_le16(enc.data(), 3);
  EXPECT_FALSE(decode_retransmit_request(enc, &back));
  put_le16(enc.data(), 1);
  EXPECT_FALSE(decode_retransmit_request(enc, &back));
  EXPECT_EQ(max_retransmit_ranges(1500), (1500 - kFrameOverhead - kSegmentHeaderSize - 4) / 8);

  DiscoverQuery q{"nqn.host", "nqn.sub"}, q2;
  std::vector<uint8_t> qb(kDiscoverQuerySize);
  encode_discover_query(q, qb.data());
  ASSERT_TRUE(decode_discover_query(qb, &q2));
  EXPECT_EQ(q2.hostnqn, "nqn.host");
  EXPECT_EQ(q2.subnqn, "nqn.sub");

  std::vector<DiscoverEntry> entries;
  for (int i = 0; i < 40; ++i)
    entries.push_back({"nqn.2026-11.io.nvmeoe:sub" + std::to_string(i), 2, i % 2 == 0, 1ull << 34});
  std::vector<DiscoverEntry> all;
  size_t first = 0;
  while (first < entries.size()) {
    std::vector<uint8_t> p;
    size_t n = encode_discover_reply(entries, first, 500, &p);
    ASSERT_GT(n, 0u);
    ASSERT_LE(p.size(), 500u);
    std::vector<DiscoverEntry> part;
    ASSERT_TRUE(decode_discover_reply(p, &part));
    all.insert(all.end(), part.begin(), part.end());
    first += n;
  }
  ASSERT_EQ(all.size(), entries.size());
  EXPECT_EQ(all[39].subnqn, entries[39].subnqn);
  EXPECT_EQ(all[2].read_only, true);
  // Trailing bytes after the entries the count names: inconsistent, refused.
  std::vector<uint8_t> p;
  encode_discover_reply(entries, 0, 200, &p);
  p.push_back(0);
  std::vector<DiscoverEntry> part;
  EXPECT_FALSE(decode_discover_reply(p, &part));
}

TEST(Version1, ConnectRequestResponseAndTerminate) {
  std::vector<uint8_t> rq = v1::connect_request(kB, kA, kDefaultEtherType, 0, 0x1234, 32, 1500);
  ASSERT_EQ(rq.size(), 14u + 32 + 16);
  EXPECT_EQ(rq[14], 1);
  EXPECT_EQ(decode(rq), DecodeError::kWrongVersion);  // a v2 decoder refuses it as such
  auto h = v1::peek(rq, kDefaultEtherType);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->kind, v1::kConnectRequest);
  EXPECT_EQ(h->nonce, 0x1234u);
  EXPECT_EQ(h->cntlid, 0xffff);
  EXPECT_EQ(get_le32(&rq[14 + 32 + 4]), 1464u);  // v1 max payload: MTU - 36

  std::vector<uint8_t> rs = v1::connect_response(kA, kB, kDefaultEtherType, *h, v1::kResultUnsupportedVersion);
  auto rh = v1::peek(rs, kDefaultEtherType);
  ASSERT_TRUE(rh.has_value());
  EXPECT_EQ(rh->kind, v1::kConnectResponse);
  EXPECT_EQ(rh->nonce, 0x1234u);
  EXPECT_EQ(v1::connect_result(rs), v1::kResultUnsupportedVersion);

  std::vector<uint8_t> t = v1::terminate(kB, kA, kDefaultEtherType, 0, 1, 0x1234);
  EXPECT_EQ(t.size(), 14u + 32 + 4);
  EXPECT_EQ(v1::peek(t, kDefaultEtherType)->kind, v1::kTerminate);
  // v2 frames, short frames and other EtherTypes are not version 1.
  EXPECT_FALSE(v1::peek(data_frame(), kDefaultEtherType).has_value());
  EXPECT_FALSE(v1::peek(std::vector<uint8_t>(rq.begin(), rq.begin() + 50), kDefaultEtherType).has_value());
  EXPECT_FALSE(v1::peek(rq, 0x88B6).has_value());
}

}  // namespace
}  // namespace nvmeoe
