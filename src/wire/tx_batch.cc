// Packing segments into frames (tx_batch.h).
#include "wire/tx_batch.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "wire/crc32c.h"

namespace nvmeoe {
namespace {

// A Data segment is split at the end of an open frame only when a fair part of it fits there:
// below this, a segment header of 20 bytes buys too little.
constexpr uint32_t kMinSplit = 128;

bool same_association(const TxAssoc& x, const TxAssoc& y) {
  return x.dst == y.dst && x.a.qid == y.a.qid && x.a.nonce == y.a.nonce && x.a.cntlid == y.a.cntlid &&
         x.max_frame == y.max_frame && x.data_digest == y.data_digest && x.sealer == y.sealer;
}

}  // namespace

TxBatch::TxBatch(MacAddress src, uint16_t ethertype, uint32_t link_max_frame)
    : src_(src), ethertype_(ethertype), link_max_frame_(link_max_frame) {}

void TxBatch::reserve(Buf& b, size_t more) {
  const size_t need = b.len + more + kHcrcSize + std::max(kDigestSize, kFrameTrailerSize);
  if (need <= b.cap) return;
  size_t cap = std::max({need, b.cap * 2, size_t(256)});
  auto grown = std::make_unique<uint8_t[]>(cap);
  if (b.len) std::memcpy(grown.get(), b.head.get(), b.len);
  b.head = std::move(grown);
  b.cap = cap;
}

TxBatch::Buf* TxBatch::open_frame(TxCursor& cur, const TxAssoc& a) {
  if (cur.epoch != epoch_ || cur.frame >= used_) return nullptr;
  Buf* b = pool_[cur.frame].get();
  if (b->alone || b->nseg >= kMaxSegments || !same_association(b->a, a)) return nullptr;
  return b;
}

TxBatch::Buf* TxBatch::new_frame(TxCursor& cur, const TxAssoc& a) {
  if (used_ == pool_.size()) pool_.push_back(std::make_unique<Buf>());
  Buf* b = pool_[used_].get();
  b->len = 0;
  reserve(*b, kEthHeaderSize + kFrameHeaderSize);
  b->len = kEthHeaderSize + kFrameHeaderSize;
  b->room = segment_budget(frame_limit(a));
  b->data_bytes = 0;
  b->nseg = 0;
  b->alone = false;
  b->a = a;
  b->npieces = 1;
  cur.epoch = epoch_;
  cur.frame = uint32_t(used_);
  ++used_;
  return b;
}

uint8_t* TxBatch::append_segment(Buf& b, const SegmentHeader& h, size_t meta_len, std::span<const uint8_t> data) {
  reserve(b, kSegmentHeaderSize + meta_len);
  uint8_t* s = b.head.get() + b.len;
  s[seg::kKind] = uint8_t(h.kind);
  s[seg::kFlags] = h.flags;
  put_le16(s + seg::kCid, h.cid);
  put_le16(s + seg::kMetaLen, uint16_t(meta_len));
  put_le16(s + seg::kDataLen, uint16_t(data.size()));
  put_le32(s + seg::kOffset, h.offset);
  put_le32(s + seg::kTotal, h.total);
  put_le32(s + seg::kGen, h.gen);
  b.len += kSegmentHeaderSize + meta_len;
  b.room -= uint32_t(kSegmentHeaderSize + meta_len + data.size());
  ++b.nseg;
  if (!data.empty()) {
    b.pieces[b.npieces++] = data;
    b.data_bytes += uint32_t(data.size());
  }
  return s + kSegmentHeaderSize;
}

std::span<uint8_t> TxBatch::add(TxCursor& cur, const TxAssoc& a, const SegmentHeader& h, size_t meta_len,
                                std::span<const uint8_t> data) {
  const size_t need = kSegmentHeaderSize + meta_len + data.size();
  if (need > segment_budget(frame_limit(a)) || data.size() > UINT16_MAX || meta_len > UINT16_MAX) return {};
  Buf* b = nullptr;
  if (kind_stands_alone(h.kind)) {
    TxCursor own;
    b = new_frame(own, a);
    b->alone = true;
  } else {
    b = open_frame(cur, a);
    if (!b || b->room < need) b = new_frame(cur, a);
  }
  return {append_segment(*b, h, meta_len, data), meta_len};
}

void TxBatch::add_data(TxCursor& cur, const TxAssoc& a, const SegmentHeader& h, const uint8_t* base, uint32_t offset,
                       uint32_t len, uint8_t final_flags) {
  const uint32_t fresh = max_data_per_frame(frame_limit(a));
  if (fresh == 0) return;
  SegmentHeader d = h;
  d.kind = FrameKind::kData;
  while (len > 0) {
    Buf* b = open_frame(cur, a);
    uint32_t avail = b && b->room > kSegmentHeaderSize ? b->room - uint32_t(kSegmentHeaderSize) : 0;
    if (avail < len && avail < kMinSplit) {
      b = new_frame(cur, a);
      avail = fresh;
    }
    uint32_t n = std::min(len, avail);
    d.offset = offset;
    d.flags = n == len ? final_flags : 0;
    append_segment(*b, d, 0, std::span<const uint8_t>(base + offset, n));
    offset += n;
    len -= n;
  }
}

uint32_t TxBatch::capsule_room(const TxCursor& cur, const TxAssoc& a, uint32_t wanted) const {
  const uint32_t meta = uint32_t(kSegmentHeaderSize + kSqeBytes);
  const uint32_t budget = segment_budget(frame_limit(a));
  const uint32_t fresh = budget > meta ? budget - meta : 0;
  if (cur.epoch == epoch_ && cur.frame < used_) {
    const Buf& b = *pool_[cur.frame];
    if (!b.alone && b.nseg < kMaxSegments && same_association(b.a, a) && b.room >= meta) {
      uint32_t open = b.room - meta;
      if (open >= std::min(wanted, kMinSplit)) return std::min(wanted, open);
    }
  }
  return std::min(wanted, fresh);
}

std::span<const TxFrame> TxBatch::finish() {
  frames_.clear();
  for (size_t i = 0; i < used_; ++i) {
    Buf& b = *pool_[i];
    uint8_t* p = b.head.get();
    std::memcpy(p, b.a.dst.b.data(), 6);
    std::memcpy(p + 6, src_.b.data(), 6);
    put_be16(p + 12, ethertype_);
    uint8_t* h = p + kEthHeaderSize;
    h[hdr::kVersion] = kProtocolVersion;
    h[hdr::kFlags] = b.a.sealer ? frame_flag::kFrameTag : b.a.data_digest ? frame_flag::kDataDigest : 0;
    h[hdr::kCount] = b.nseg;
    h[hdr::kReserved] = 0;
    put_le16(h + hdr::kQid, b.a.a.qid);
    put_le16(h + hdr::kCntlid, b.a.a.cntlid);
    put_le32(h + hdr::kNonce, b.a.a.nonce);
    put_le32(p + b.len, crc32c(p, b.len));
    b.pieces[0] = std::span<const uint8_t>(p, b.len + kHcrcSize);
    uint32_t n = b.npieces;
    uint32_t bytes = uint32_t(b.len + kHcrcSize + b.data_bytes);
    if (b.a.sealer) {
      uint8_t* t = p + b.len + kHcrcSize;
      b.a.sealer->seal({b.pieces.data(), n}, t);
      b.pieces[n++] = std::span<const uint8_t>(t, kFrameTrailerSize);
      bytes += kFrameTrailerSize;
    } else if (b.a.data_digest) {
      uint32_t crc = 0;
      for (uint32_t k = 1; k < n; ++k) crc = crc32c_extend(crc, b.pieces[k].data(), b.pieces[k].size());
      uint8_t* d = p + b.len + kHcrcSize;
      put_le32(d, crc);
      b.pieces[n++] = std::span<const uint8_t>(d, kDigestSize);
      bytes += kDigestSize;
    }
    frames_.push_back(TxFrame{b.pieces.data(), n, bytes});
  }
  return frames_;
}

void TxBatch::clear() {
  used_ = 0;
  ++epoch_;
  frames_.clear();
}

}  // namespace nvmeoe
