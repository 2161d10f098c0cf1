// Version 1 frames for the version check at connect (v1_compat.h).
#include "wire/v1_compat.h"

#include <cstring>

#include "common/bytes.h"
#include "common/tx_frame.h"

namespace nvmeoe::v1 {
namespace {

constexpr size_t kHeader = 32;
constexpr size_t kPayload = 16;  // Connect Request / Response
constexpr size_t kOffLength = 14;

std::vector<uint8_t> frame(const MacAddress& dst, const MacAddress& src, uint16_t ethertype, uint8_t kind, uint16_t qid,
                           uint16_t cntlid, uint32_t nonce, size_t payload) {
  std::vector<uint8_t> f(kEthHeaderSize + kHeader + payload, 0);
  std::memcpy(f.data(), dst.b.data(), 6);
  std::memcpy(f.data() + 6, src.b.data(), 6);
  put_be16(f.data() + 12, ethertype);
  uint8_t* h = f.data() + kEthHeaderSize;
  h[0] = kVersion;
  h[1] = kind;
  put_le16(h + 4, qid);
  put_le16(h + 6, cntlid);
  put_le32(h + 8, nonce);
  put_le16(h + kOffLength, uint16_t(payload));
  return f;
}

}  // namespace

std::optional<Header> peek(std::span<const uint8_t> f, uint16_t ethertype) {
  if (f.size() < kEthHeaderSize + kHeader || get_be16(f.data() + 12) != ethertype) return std::nullopt;
  const uint8_t* h = f.data() + kEthHeaderSize;
  if (h[0] != kVersion) return std::nullopt;
  if (f.size() < kEthHeaderSize + kHeader + get_le16(h + kOffLength)) return std::nullopt;
  Header out;
  out.kind = h[1];
  out.qid = get_le16(h + 4);
  out.cntlid = get_le16(h + 6);
  out.nonce = get_le32(h + 8);
  return out;
}

std::vector<uint8_t> connect_request(const MacAddress& dst, const MacAddress& src, uint16_t ethertype, uint16_t qid,
                                     uint32_t nonce, uint16_t queue_size, uint32_t mtu) {
  std::vector<uint8_t> f = frame(dst, src, ethertype, kConnectRequest, qid, qid ? 0 : 0xffff, nonce, kPayload);
  uint8_t* p = f.data() + kEthHeaderSize + kHeader;
  put_le16(p, queue_size);
  put_le32(p + 4, mtu > kHeader + 4 ? mtu - kHeader - 4 : 0);
  return f;
}

std::vector<uint8_t> connect_response(const MacAddress& dst, const MacAddress& src, uint16_t ethertype,
                                      const Header& request, uint16_t result) {
  std::vector<uint8_t> f =
      frame(dst, src, ethertype, kConnectResponse, request.qid, request.cntlid, request.nonce, kPayload);
  put_le16(f.data() + kEthHeaderSize + kHeader, result);
  return f;
}

uint16_t connect_result(std::span<const uint8_t> f) {
  if (f.size() < kEthHeaderSize + kHeader + 2) return 0xffff;
  return get_le16(f.data() + kEthHeaderSize + kHeader);
}

std::vector<uint8_t> terminate(const MacAddress& dst, const MacAddress& src, uint16_t ethertype, uint16_t qid,
                               uint16_t cntlid, uint32_t nonce) {
  std::vector<uint8_t> f = frame(dst, src, ethertype, kTerminate, qid, cntlid, nonce, 4);
  put_le16(f.data() + kEthHeaderSize + kHeader, 1);
  return f;
}

}  // namespace nvmeoe::v1
