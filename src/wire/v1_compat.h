// The few version 1 frames a version 2 end still speaks, so that a peer of the other version gets a
// clear answer at connect instead of silence (docs/PROTOCOL.md §16): a v2 target answers a v1
// Connect Request with a v1 Connect Response "Unsupported Version"; a v2 host whose Connect
// Request goes unanswered also sends a v1 Connect Request, recognizes a v1 target's answer, and
// ends that v1 association with a v1 Terminate. The v1 layout: a 32-byte header (version 1, kind,
// flags, reserved, qid, cntlid, nonce, cid, length, offset, total, gen, header digest) and the
// payload.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/mac.h"

namespace nvmeoe::v1 {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kConnectRequest = 1, kConnectResponse = 2, kTerminate = 7;
constexpr uint16_t kResultUnsupportedVersion = 1;

struct Header {
  uint8_t kind = 0;
  uint16_t qid = 0, cntlid = 0;
  uint32_t nonce = 0;
};

// The frame's v1 header when it is one (version byte 1, long enough for the header and the
// payload it announces); nothing otherwise.
std::optional<Header> peek(std::span<const uint8_t> frame, uint16_t ethertype);

// A v1 Connect Request (queue size, max payload 1464 or what `mtu` allows, no digests).
std::vector<uint8_t> connect_request(const MacAddress& dst, const MacAddress& src, uint16_t ethertype, uint16_t qid,
                                     uint32_t nonce, uint16_t queue_size, uint32_t mtu);
// A v1 Connect Response with `result` and every other field 0, echoing the request's association.
std::vector<uint8_t> connect_response(const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                                      const Header& request, uint16_t result);
// The result field of a v1 Connect Response frame (peek() said kind 2).
uint16_t connect_result(std::span<const uint8_t> frame);
// A v1 Terminate (reason 1, host disconnect).
std::vector<uint8_t> terminate(const MacAddress& dst, const MacAddress& src, uint16_t ethertype, uint16_t qid,
                               uint16_t cntlid, uint32_t nonce);

}  // namespace nvmeoe::v1
