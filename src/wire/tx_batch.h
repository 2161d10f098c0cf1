// The send path of both ends: segments are packed into frames as they are produced during one loop
// turn, and the turn's frames go to the link in one batch. Each association keeps a cursor to its
// open frame, so its segments share frames even when other associations' segments come in
// between; a frame is closed when the next segment does not fit, and every open frame is closed
// when the batch is finished: nothing ever waits for a frame to fill. docs/PROTOCOL.md §8 has the
// rules this follows.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/mac.h"
#include "common/tx_frame.h"
#include "wire/frame.h"

namespace nvmeoe {

// Where an association's frames go and how they are built.
struct TxAssoc {
  MacAddress dst;
  FrameAddress a;
  uint32_t max_frame = 0;  // negotiated frame size (Ethernet payload bytes)
  bool data_digest = false;
  // Set on an authenticated association: its frames end with a tag (no data digest) and hold
  // kFrameTagExtra bytes less.
  FrameSealer* sealer = nullptr;
};

// An association's open frame in the current batch. Zero-initialized: none.
struct TxCursor {
  uint64_t epoch = 0;
  uint32_t frame = 0;
};

class TxBatch {
 public:
  // `link_max_frame`: the link's MTU; no association's frames are larger.
  TxBatch(MacAddress src, uint16_t ethertype, uint32_t link_max_frame);
  TxBatch(const TxBatch&) = delete;
  TxBatch& operator=(const TxBatch&) = delete;

  // Appends a segment with `meta_len` bytes of metadata, which the caller writes into the returned
  // span (valid until the next call on the batch), and `data`, sent from where it lies: in the
  // cursor's open frame when the segment fits there whole, else in a new frame. Kinds that stand
  // alone get a frame of their own. Returns an empty span (and adds nothing) when the segment
  // does not fit in any frame of the association. `data` must stay valid until the batch is sent.
  std::span<uint8_t> add(TxCursor& cur, const TxAssoc& a, const SegmentHeader& h, size_t meta_len,
                         std::span<const uint8_t> data = {});
  // A segment of a kind that stands alone (Connect, Terminate, Discover): always its own frame.
  std::span<uint8_t> add_alone(const TxAssoc& a, const SegmentHeader& h, size_t meta_len) {
    TxCursor unused;
    return add(unused, a, h, meta_len);
  }

  // Bytes [offset, offset + len) of a command's data (`base` is byte 0 of it) as Data segments
  // with the cid, gen and total of `h`: the rest of the cursor's open frame first, then as many
  // new frames as needed. The last segment gets `final_flags` (LAST, SUCCESS).
  void add_data(TxCursor& cur, const TxAssoc& a, const SegmentHeader& h, const uint8_t* base, uint32_t offset,
                uint32_t len, uint8_t final_flags);

  // In-capsule data for a Command (metadata kSqeBytes) of `wanted` data bytes: how many go with it,
  // in the open frame when a good part fits there, else in a new frame.
  uint32_t capsule_room(const TxCursor& cur, const TxAssoc& a, uint32_t wanted) const;

  size_t frame_count() const { return used_; }
  bool empty() const { return used_ == 0; }
  // Bytes of data the batch points to (not copied): the owner flushes before freeing them.
  uint64_t epoch() const { return epoch_; }

  // Closes every frame: writes the frame headers, header CRCs and data digests or frame tags. The frames are
  // valid until clear(); adding after finish() is not allowed.
  std::span<const TxFrame> finish();
  // After the frames were sent: every cursor becomes stale, buffers are kept for reuse.
  void clear();

 private:
  struct Buf {
    std::unique_ptr<uint8_t[]> head;  // Ethernet + frame header + segment headers and metadata
    size_t cap = 0;
    size_t len = 0;
    uint32_t room = 0;  // segment bytes still free
    uint32_t data_bytes = 0;
    uint8_t nseg = 0;
    bool alone = false;
    TxAssoc a;
    std::array<std::span<const uint8_t>, kMaxTxPieces> pieces;  // [0] headers, then data, then digest
    uint32_t npieces = 1;
  };
  uint32_t frame_limit(const TxAssoc& a) const {
    return tagged_max_frame(std::min(a.max_frame, link_max_frame_), a.sealer != nullptr);
  }
  Buf* open_frame(TxCursor& cur, const TxAssoc& a);
  Buf* new_frame(TxCursor& cur, const TxAssoc& a);
  static void reserve(Buf& b, size_t more);
  uint8_t* append_segment(Buf& b, const SegmentHeader& h, size_t meta_len, std::span<const uint8_t> data);

  MacAddress src_;
  uint16_t ethertype_;
  uint32_t link_max_frame_;
  std::vector<std::unique_ptr<Buf>> pool_;
  size_t used_ = 0;
  uint64_t epoch_ = 1;
  std::vector<TxFrame> frames_;
};

}  // namespace nvmeoe
