// Frames a station with made-up source MACs sends at a target: queue handshakes, Fabrics Connect,
// Property Set, command capsules that claim data never sent, Discover Queries. For the flood
// tests (tools/flood_main.cc, tests/unit/target_limits_test.cc) only, inside test namespaces or
// over a memory link.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/mac.h"
#include "nvme/spec.h"
#include "wire/crc32c.h"
#include "wire/frame.h"

namespace nvmeoe {

// The i-th made-up MAC: locally administered, unicast, never a real one's (06:...).
inline MacAddress spoofed_mac(uint32_t i, uint8_t tag = 0) {
  return MacAddress{{0x06, tag, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)}};
}

// `frame` (a valid unauthenticated frame) made to claim frame authentication (docs/PROTOCOL.md
// §10.1): the TAG flag, the header CRC made again, no digest or padding, and a trailer with
// sequence number `seq` and the tag of the sender's choosing. A receiver must refuse it.
inline std::vector<uint8_t> with_made_up_tag(std::vector<uint8_t> frame, uint16_t ethertype, uint64_t seq,
                                             std::span<const uint8_t, kFrameTagSize> tag) {
  Frame d;
  if (decode_frame(frame, ethertype, &d) != DecodeError::kNone) return frame;
  size_t hcrc_at = kEthHeaderSize + kFrameHeaderSize, data = 0;
  for (const Segment& g : d.segments()) {
    hcrc_at += kSegmentHeaderSize + g.meta.size();
    data += g.data.size();
  }
  frame.resize(hcrc_at + kHcrcSize + data);
  frame[kEthHeaderSize + hdr::kFlags] = frame_flag::kFrameTag;
  put_le32(frame.data() + hcrc_at, crc32c(frame.data(), hcrc_at));
  uint8_t s[kFrameSeqSize];
  put_le64(s, seq);
  frame.insert(frame.end(), s, s + kFrameSeqSize);
  frame.insert(frame.end(), tag.begin(), tag.end());
  return frame;
}

class Spoofer {
 public:
  Spoofer(MacAddress target, uint16_t ethertype) : target_(target), ethertype_(ethertype) {}

  std::vector<uint8_t> connect_request(const MacAddress& src, uint16_t qid, uint32_t nonce, uint16_t size,
                                       uint16_t cntlid = kNoController) const {
    ConnectRequest r;
    r.queue_size = size;
    r.max_frame = 1500;
    std::vector<uint8_t> p(kConnectMetaSize);
    encode_connect_request(r, p.data());
    SegmentHeader h;
    h.kind = FrameKind::kConnectRequest;
    return build_frame(target_, src, ethertype_, FrameAddress{qid, cntlid, nonce}, h, p);
  }

  // A command capsule with `in_capsule` data; the SGL says `total` bytes.
  std::vector<uint8_t> command(const MacAddress& src, uint16_t qid, uint32_t nonce, uint16_t cntlid, Sqe sqe,
                               uint32_t gen, std::span<const uint8_t> in_capsule, uint32_t total) const {
    set_sgl_length(sqe, total);
    std::vector<uint8_t> p(kSqeSize);
    encode_sqe(sqe, p.data());
    SegmentHeader h;
    h.kind = FrameKind::kCommand;
    h.cid = sqe.cid;
    h.gen = gen;
    h.total = total;
    return build_frame(target_, src, ethertype_, FrameAddress{qid, cntlid, nonce}, h, p, in_capsule);
  }

  std::vector<uint8_t> fabrics_connect(const MacAddress& src, uint16_t qid, uint32_t nonce, uint16_t size,
                                       const std::string& subnqn, const std::string& hostnqn,
                                       uint16_t cntlid = 0xffff) const {
    ConnectCommand cc;
    cc.qid = qid;
    cc.sqsize = uint16_t(size - 1);
    Sqe sqe;
    encode_connect_command(cc, sqe);
    sqe.cid = 0;
    ConnectData d;
    for (int i = 0; i < 6; ++i) d.hostid[i] = src.b[i];
    d.cntlid = cntlid;
    d.subnqn = subnqn;
    d.hostnqn = hostnqn;
    std::vector<uint8_t> data(kConnectDataSize);
    encode_connect_data(d, data.data());
    return command(src, qid, nonce, qid ? cntlid : kNoController, sqe, 1, data, uint32_t(kConnectDataSize));
  }

  // Property Set CC.EN = 1 (admin queue of controller `cntlid`).
  std::vector<uint8_t> enable(const MacAddress& src, uint32_t nonce, uint16_t cntlid, uint16_t cid) const {
    Sqe sqe;
    sqe.opcode = admin_opcode::kFabrics;
    sqe.nsid = fabrics_type::kPropertySet;
    sqe.cid = cid;
    sqe.cdw11 = prop::kCc;
    sqe.cdw12 = prop::kCcEnable | (6u << 16) | (4u << 20);
    return command(src, 0, nonce, cntlid, sqe, 1, {}, 0);
  }

  // A Write of `bytes` whose data never follows.
  std::vector<uint8_t> write_claim(const MacAddress& src, uint16_t qid, uint32_t nonce, uint16_t cntlid, uint16_t cid,
                                   uint32_t gen, uint32_t bytes) const {
    Sqe sqe;
    sqe.opcode = io_opcode::kWrite;
    sqe.nsid = 1;
    sqe.cid = cid;
    sqe.cdw12 = bytes / kLbaSize - 1;
    return command(src, qid, nonce, cntlid, sqe, gen, {}, bytes);
  }

  std::vector<uint8_t> discover_query(const MacAddress& src, uint32_t nonce, const std::string& hostnqn) const {
    SegmentHeader h;
    h.kind = FrameKind::kDiscoverQuery;
    std::vector<uint8_t> p(kDiscoverQuerySize);
    encode_discover_query(DiscoverQuery{hostnqn, ""}, p.data());
    return build_frame(target_, src, ethertype_, FrameAddress{0, kNoController, nonce}, h, p);
  }

 private:
  MacAddress target_;
  uint16_t ethertype_;
};

}  // namespace nvmeoe
