// Packing segments into frames (TxBatch): what shares a frame, where data is split, the flags of
// the last segment, per-association order, and frames per I/O at MTU 1500 and 9000.
#include "wire/tx_batch.h"

#include <gtest/gtest.h>

#include <map>

#include "common/bytes.h"
#include "nvme/spec.h"
#include "wire/crc32c.h"
#include "wire/frame.h"

namespace nvmeoe {
namespace {

const MacAddress kTarget{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddress kHost1{{0x02, 0, 0, 0, 0, 0x11}};
const MacAddress kHost2{{0x02, 0, 0, 0, 0, 0x12}};

TxAssoc assoc(const MacAddress& dst, uint16_t qid, uint32_t mtu, bool dd = true) {
  TxAssoc a;
  a.dst = dst;
  a.a = FrameAddress{qid, 1, 0x1000u + qid};
  a.max_frame = mtu;
  a.data_digest = dd;
  return a;
}

SegmentHeader seg(FrameKind kind, uint16_t cid, uint32_t gen = 1) {
  SegmentHeader h;
  h.kind = kind;
  h.cid = cid;
  h.gen = gen;
  return h;
}

// The frames of a finished batch, joined and decoded.
std::vector<std::vector<uint8_t>> bytes_of(std::span<const TxFrame> frames) {
  std::vector<std::vector<uint8_t>> out;
  for (const TxFrame& f : frames) {
    std::vector<uint8_t> b;
    for (const auto& p : f.parts()) b.insert(b.end(), p.begin(), p.end());
    EXPECT_EQ(b.size(), f.size());
    out.push_back(std::move(b));
  }
  return out;
}
// Decoded frames; their spans point into `keep`, which must outlive them.
std::vector<Frame> decoded(std::span<const TxFrame> frames, uint32_t mtu,
                           std::vector<std::vector<uint8_t>>* keep = nullptr) {
  static std::vector<std::vector<uint8_t>> last;
  std::vector<std::vector<uint8_t>>& bytes = keep ? *keep : last;
  bytes = bytes_of(frames);
  std::vector<Frame> out;
  for (const auto& b : bytes) {
    EXPECT_LE(b.size(), kEthHeaderSize + mtu);
    Frame f;
    EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kNone);
    out.push_back(f);
  }
  return out;
}

TEST(TxBatch, ResponsesOfOneQueueShareAFrame) {
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  TxCursor cur;
  TxAssoc a = assoc(kHost1, 1, 1500);
  for (uint16_t cid = 0; cid < 10; ++cid) {
    std::span<uint8_t> m = b.add(cur, a, seg(FrameKind::kResponse, cid), kCqeSize);
    ASSERT_EQ(m.size(), kCqeSize);
    std::memset(m.data(), cid, m.size());
  }
  EXPECT_EQ(b.frame_count(), 1u);
  std::vector<Frame> f = decoded(b.finish(), 1500);
  ASSERT_EQ(f.size(), 1u);
  ASSERT_EQ(f[0].count, 10);
  for (uint16_t cid = 0; cid < 10; ++cid) {
    EXPECT_EQ(f[0].segs[cid].h.cid, cid);
    EXPECT_EQ(f[0].segs[cid].meta[5], cid);
  }
  EXPECT_EQ(f[0].a.qid, 1);
  EXPECT_EQ(f[0].a.nonce, 0x1001u);
  EXPECT_EQ(f[0].dst, kHost1);
  EXPECT_EQ(f[0].src, kTarget);
}

TEST(TxBatch, DataIsSplitToFillFramesAndTheLastSegmentGetsTheFlags) {
  std::vector<uint8_t> data(4096);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i);
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  TxCursor cur;
  TxAssoc a = assoc(kHost1, 1, 1500);
  SegmentHeader h = seg(FrameKind::kData, 5, 40);
  h.total = 4096;
  b.add_data(cur, a, h, data.data(), 0, 4096, seg_flag::kLast | seg_flag::kSuccess);
  std::vector<Frame> f = decoded(b.finish(), 1500);
  // 4096 bytes at 1460 data bytes per frame (1500 - 12 - 4 - 4 - 20): three frames.
  ASSERT_EQ(f.size(), 3u);
  std::vector<uint8_t> joined(4096);
  uint32_t expect_off = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    ASSERT_EQ(f[i].count, 1);
    const Segment& g = f[i].segs[0];
    EXPECT_EQ(g.h.offset, expect_off);
    EXPECT_EQ(g.h.total, 4096u);
    EXPECT_EQ(g.h.flags, i + 1 == f.size() ? (seg_flag::kLast | seg_flag::kSuccess) : 0);
    std::memcpy(joined.data() + g.h.offset, g.data.data(), g.data.size());
    expect_off += uint32_t(g.data.size());
    EXPECT_TRUE(f[i].has_data_digest());
  }
  EXPECT_EQ(expect_off, 4096u);
  EXPECT_EQ(joined, data);
  EXPECT_EQ(f[0].segs[0].data.size(), max_data_per_frame(1500));
}

TEST(TxBatch, ReadsOfOneTurnShareFrames) {
  // 32 completed 4 KiB reads in one turn: at MTU 1500 they need under 3 frames each, at MTU 9000
  // two fit in a frame.
  std::vector<uint8_t> data(32 * 4096, 0x5a);
  for (uint32_t mtu : {1500u, 9000u}) {
    TxBatch b(kTarget, kDefaultEtherType, mtu);
    TxCursor cur;
    TxAssoc a = assoc(kHost1, 1, mtu);
    for (uint16_t cid = 0; cid < 32; ++cid) {
      SegmentHeader h = seg(FrameKind::kData, cid, cid + 1u);
      h.total = 4096;
      b.add_data(cur, a, h, data.data() + cid * 4096, 0, 4096, seg_flag::kLast | seg_flag::kSuccess);
    }
    std::vector<Frame> f = decoded(b.finish(), mtu);
    std::map<uint16_t, uint32_t> bytes;
    size_t success = 0;
    for (const Frame& fr : f)
      for (const Segment& g : fr.segments()) {
        bytes[g.h.cid] += uint32_t(g.data.size());
        success += (g.h.flags & seg_flag::kSuccess) != 0;
      }
    EXPECT_EQ(bytes.size(), 32u);
    for (auto& [cid, n] : bytes) EXPECT_EQ(n, 4096u) << cid;
    EXPECT_EQ(success, 32u);
    if (mtu == 1500) {
      EXPECT_LE(f.size(), 91u) << "frames for 32 reads";  // 32 x 4116 / 1480 = 89
    } else {
      EXPECT_LE(f.size(), 16u);
    }
  }
}

TEST(TxBatch, EachAssociationKeepsItsOwnOpenFrameAndOrder) {
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  TxCursor c1, c2, c3;
  TxAssoc a1 = assoc(kHost1, 1, 1500), a2 = assoc(kHost2, 1, 1500), a3 = assoc(kHost1, 2, 1500, false);
  for (uint16_t cid = 0; cid < 6; ++cid) {
    ASSERT_FALSE(b.add(c1, a1, seg(FrameKind::kResponse, cid), kCqeSize).empty());
    ASSERT_FALSE(b.add(c2, a2, seg(FrameKind::kResponse, uint16_t(100 + cid)), kCqeSize).empty());
    ASSERT_FALSE(b.add(c3, a3, seg(FrameKind::kResponse, uint16_t(200 + cid)), kCqeSize).empty());
  }
  std::vector<Frame> f = decoded(b.finish(), 1500);
  ASSERT_EQ(f.size(), 3u);
  for (const Frame& fr : f) {
    ASSERT_EQ(fr.count, 6);
    uint16_t base = fr.dst == kHost2 ? 100 : (fr.a.qid == 2 ? 200 : 0);
    for (uint16_t i = 0; i < 6; ++i) EXPECT_EQ(fr.segs[i].h.cid, base + i);
    EXPECT_EQ(fr.has_data_digest(), fr.a.qid != 2);
  }
}

TEST(TxBatch, LoneKindsGetTheirOwnFrame) {
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  TxCursor cur;
  TxAssoc a = assoc(kHost1, 0, 1500, false);
  b.add(cur, a, seg(FrameKind::kResponse, 1), kCqeSize);
  std::span<uint8_t> t = b.add_alone(a, seg(FrameKind::kTerminate, 0), kTerminateMetaSize);
  put_le16(t.data(), 5);
  put_le16(t.data() + 2, 0);
  b.add(cur, a, seg(FrameKind::kResponse, 2), kCqeSize);
  std::vector<Frame> f = decoded(b.finish(), 1500);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].count, 2);  // both Responses: the Terminate did not close the queue's open frame
  EXPECT_EQ(f[1].count, 1);
  EXPECT_EQ(f[1].segs[0].h.kind, FrameKind::kTerminate);
}

TEST(TxBatch, CommandWithInCapsuleDataThenTheRest) {
  std::vector<uint8_t> data(8192);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 3);
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  TxCursor cur;
  TxAssoc a = assoc(kHost1, 1, 1500);
  // A small command first, then a write: the write's capsule fills the rest of the open frame.
  b.add(cur, a, seg(FrameKind::kCommand, 1), kSqeSize);
  uint32_t n = b.capsule_room(cur, a, 8192);
  EXPECT_EQ(n, segment_budget(1500) - 2 * (kSegmentHeaderSize + kSqeSize));
  SegmentHeader c = seg(FrameKind::kCommand, 2);
  c.total = 8192;
  ASSERT_FALSE(b.add(cur, a, c, kSqeSize, std::span<const uint8_t>(data.data(), n)).empty());
  SegmentHeader d = seg(FrameKind::kData, 2);
  d.total = 8192;
  b.add_data(cur, a, d, data.data(), n, 8192 - n, seg_flag::kLast);
  std::vector<Frame> f = decoded(b.finish(), 1500);
  std::vector<uint8_t> got(8192);
  uint32_t covered = 0;
  for (const Frame& fr : f)
    for (const Segment& g : fr.segments()) {
      if (g.h.cid != 2) continue;
      uint32_t off = g.h.kind == FrameKind::kCommand ? 0 : g.h.offset;
      std::memcpy(got.data() + off, g.data.data(), g.data.size());
      covered += uint32_t(g.data.size());
    }
  EXPECT_EQ(covered, 8192u);
  EXPECT_EQ(got, data);
  // 2 SQEs + 8192 bytes + 6 segment headers in 1480-byte budgets: 6 frames.
  EXPECT_EQ(f.size(), 6u);
  // A capsule that does not fit the open frame well goes to a fresh one, with as much as fits.
  TxBatch b2(kTarget, kDefaultEtherType, 1500);
  TxCursor cur2;
  std::vector<uint8_t> big(1400);
  b2.add(cur2, a, seg(FrameKind::kData, 9), 0, big);
  EXPECT_EQ(b2.capsule_room(cur2, a, 4096), max_data_per_frame(1500) - kSqeSize);
  EXPECT_EQ(b2.capsule_room(cur2, a, 10), 10u);
}

TEST(TxBatch, TooLargeSegmentIsRefusedAndClearStartsOver) {
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  TxCursor cur;
  TxAssoc a = assoc(kHost1, 1, 1500);
  EXPECT_TRUE(b.add(cur, a, seg(FrameKind::kRetransmitRequest, 1), 2000).empty());
  EXPECT_TRUE(b.empty());
  b.add(cur, a, seg(FrameKind::kResponse, 1), kCqeSize);
  uint64_t epoch = b.epoch();
  b.finish();
  b.clear();
  EXPECT_NE(b.epoch(), epoch);
  EXPECT_TRUE(b.empty());
  // The stale cursor opens a new frame instead of writing into the old one.
  b.add(cur, a, seg(FrameKind::kResponse, 2), kCqeSize);
  std::vector<Frame> f = decoded(b.finish(), 1500);
  ASSERT_EQ(f.size(), 1u);
  ASSERT_EQ(f[0].count, 1);
  EXPECT_EQ(f[0].segs[0].h.cid, 2);
}

TEST(TxBatch, AtMostMaxSegmentsPerFrameAndSmallerNegotiatedFrames) {
  TxBatch b(kTarget, kDefaultEtherType, 9000);
  TxCursor cur;
  TxAssoc a = assoc(kHost1, 1, 9000);
  for (uint16_t cid = 0; cid < 100; ++cid) b.add(cur, a, seg(FrameKind::kData, cid), 0);
  std::vector<Frame> f = decoded(b.finish(), 9000);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].count, kMaxSegments);
  EXPECT_EQ(f[1].count, 100 - kMaxSegments);
  // An association negotiated at 1500 on a 9000-byte link gets 1500-byte frames.
  TxBatch b2(kTarget, kDefaultEtherType, 9000);
  std::vector<uint8_t> data(9000);
  TxCursor c2;
  SegmentHeader h = seg(FrameKind::kData, 1);
  h.total = 9000;
  b2.add_data(c2, assoc(kHost1, 1, 1500), h, data.data(), 0, 9000, seg_flag::kLast);
  for (const auto& bytes : bytes_of(b2.finish())) EXPECT_LE(bytes.size(), kEthHeaderSize + 1500);
}

}  // namespace
}  // namespace nvmeoe
