// A frame to send, as pieces that are sent back to back without being joined into one buffer
// first (headers in one piece, each command's data where it lies, the data digest last). Shared
// by the links (which send them) and the wire codec (which builds them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nvmeoe {

constexpr size_t kEthHeaderSize = 14;
// Most pieces one frame may have: the headers, one data piece per segment, the data digest.
constexpr size_t kMaxTxPieces = 66;

struct TxFrame {
  const std::span<const uint8_t>* pieces = nullptr;  // `count` pieces, valid until the frame is sent
  uint32_t count = 0;
  uint32_t bytes = 0;  // sum of the pieces' sizes

  size_t size() const { return bytes; }
  std::span<const std::span<const uint8_t>> parts() const { return {pieces, count}; }
};

// Frames made of one contiguous buffer each (control frames, tests, tools): keeps the piece
// descriptors the TxFrames point to. The buffers themselves must outlive the send.
class TxFrameList {
 public:
  void add(std::span<const uint8_t> frame) { pieces_.push_back(frame); }
  void clear() {
    pieces_.clear();
    frames_.clear();
  }
  size_t size() const { return pieces_.size(); }
  // The frames, valid until the next add() or clear().
  std::span<const TxFrame> frames() {
    frames_.resize(pieces_.size());
    for (size_t i = 0; i < pieces_.size(); ++i) frames_[i] = TxFrame{&pieces_[i], 1, uint32_t(pieces_[i].size())};
    return frames_;
  }

 private:
  std::vector<std::span<const uint8_t>> pieces_;
  std::vector<TxFrame> frames_;
};

}  // namespace nvmeoe
