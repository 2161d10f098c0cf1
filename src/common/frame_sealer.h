// What the send path needs to authenticate a frame: a sealer writes the frame's trailer (a
// sequence number and a tag over every byte before it). The wire codec (wire/tx_batch.h) calls
// it without knowing the algorithm; auth/frame_key.h implements it with OpenSSL.
// docs/PROTOCOL.md §10.1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvmeoe {

constexpr size_t kFrameSeqSize = 8;                                  // little-endian sequence number
constexpr size_t kFrameTagSize = 16;                                 // AES-256-GMAC tag
constexpr size_t kFrameTrailerSize = kFrameSeqSize + kFrameTagSize;  // after the data, instead of DDGST

class FrameSealer {
 public:
  virtual ~FrameSealer() = default;
  // Writes kFrameTrailerSize bytes to `trailer`: the next sequence number of this direction and
  // the tag over the concatenation of `covered` (the frame from its first byte to the end of
  // its data) under that number.
  virtual void seal(std::span<const std::span<const uint8_t>> covered, uint8_t* trailer) = 0;
};

}  // namespace nvmeoe
