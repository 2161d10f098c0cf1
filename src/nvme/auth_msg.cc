// DH-HMAC-CHAP message layouts (include/linux/nvme.h: nvmf_auth_dhchap_*_data, nvmf_auth_send_command).
#include "nvme/auth_msg.h"

#include <algorithm>

#include "common/bytes.h"

namespace nvmeoe::authmsg {

namespace {

constexpr size_t kMaxHl = 64;
constexpr size_t kMaxDhv = 1024;  // ffdhe8192

std::vector<uint8_t> head(size_t size, uint8_t type, uint8_t id, uint16_t tid) {
  std::vector<uint8_t> m(size, 0);
  m[0] = type;
  m[1] = id;
  put_le16(m.data() + 4, tid);
  return m;
}

void append(std::vector<uint8_t>& m, size_t at, const std::vector<uint8_t>& v) {
  std::copy(v.begin(), v.end(), m.begin() + ptrdiff_t(at));
}

}  // namespace

const char* reason_name(uint8_t explanation) {
  switch (explanation) {
    case reason::kFailed:
      return "authentication failed";
    case reason::kNotUsable:
      return "authentication protocol not usable";
    case reason::kConcatMismatch:
      return "secure channel concatenation mismatch";
    case reason::kHashUnusable:
      return "hash function not usable";
    case reason::kDhgroupUnusable:
      return "DH group not usable";
    case reason::kIncorrectPayload:
      return "incorrect payload";
    case reason::kIncorrectMessage:
      return "incorrect protocol message";
    default:
      return "unknown reason";
  }
}

void encode_auth_command(bool send, const AuthCommand& c, Sqe& sqe) {
  sqe = Sqe{};
  sqe.opcode = admin_opcode::kFabrics;
  sqe.nsid = send ? fabrics_type::kAuthSend : fabrics_type::kAuthReceive;
  // CDW10 byte 0 reserved, then SPSP0, SPSP1, SECP.
  sqe.cdw10 = uint32_t(c.spsp0) << 8 | uint32_t(c.spsp1) << 16 | uint32_t(c.secp) << 24;
  sqe.cdw11 = c.length;
  set_sgl_length(sqe, c.length);
}

AuthCommand decode_auth_command(const Sqe& sqe) {
  AuthCommand c;
  c.spsp0 = uint8_t(sqe.cdw10 >> 8);
  c.spsp1 = uint8_t(sqe.cdw10 >> 16);
  c.secp = uint8_t(sqe.cdw10 >> 24);
  c.length = sqe.cdw11;
  return c;
}

bool decode_head(std::span<const uint8_t> m, MessageHead* out) {
  if (m.size() < 6) return false;
  out->type = m[0];
  out->id = m[1];
  out->tid = get_le16(m.data() + 4);
  return true;
}

std::vector<uint8_t> encode_negotiate(const Negotiate& n) {
  std::vector<uint8_t> m = head(kNegotiateHeaderSize + kProtocolDescriptorSize, kCommonMessages, kNegotiate, n.tid);
  m[6] = n.sc_c;
  m[7] = 1;  // NAPD: one protocol descriptor
  uint8_t* d = m.data() + kNegotiateHeaderSize;
  size_t halen = std::min(n.hashes.size(), kMaxIds), dhlen = std::min(n.dhgroups.size(), kMaxIds);
  d[0] = kAuthIdDhchap;
  d[2] = uint8_t(halen);
  d[3] = uint8_t(dhlen);
  for (size_t i = 0; i < halen; ++i) d[4 + i] = n.hashes[i];
  for (size_t i = 0; i < dhlen; ++i) d[4 + kMaxIds + i] = n.dhgroups[i];
  return m;
}

uint8_t decode_negotiate(std::span<const uint8_t> m, Negotiate* out) {
  if (m.size() < kNegotiateHeaderSize + kProtocolDescriptorSize) return reason::kIncorrectPayload;
  out->tid = get_le16(m.data() + 4);
  out->sc_c = m[6];
  size_t napd = m[7];
  if (napd == 0) return reason::kIncorrectPayload;
  // Only as many descriptors as the bytes hold are looked at.
  size_t fit = (m.size() - kNegotiateHeaderSize) / kProtocolDescriptorSize;
  for (size_t i = 0; i < std::min(napd, fit); ++i) {
    const uint8_t* d = m.data() + kNegotiateHeaderSize + i * kProtocolDescriptorSize;
    if (d[0] != kAuthIdDhchap) continue;
    size_t halen = d[2], dhlen = d[3];
    if (halen > kMaxIds || dhlen > kMaxIds) return reason::kIncorrectPayload;
    out->hashes.assign(d + 4, d + 4 + halen);
    out->dhgroups.assign(d + 4 + kMaxIds, d + 4 + kMaxIds + dhlen);
    return 0;
  }
  return napd > fit ? reason::kIncorrectPayload : reason::kHashUnusable;
}

std::vector<uint8_t> encode_challenge(const Challenge& c) {
  std::vector<uint8_t> m = head(kChallengeHeaderSize + c.c1.size() + c.dh.size(), kDhchapMessages, kChallenge, c.tid);
  m[6] = uint8_t(c.c1.size());
  m[8] = c.hashid;
  m[9] = c.dhgid;
  put_le16(m.data() + 10, uint16_t(c.dh.size()));
  put_le32(m.data() + 12, c.seqnum);
  append(m, kChallengeHeaderSize, c.c1);
  append(m, kChallengeHeaderSize + c.c1.size(), c.dh);
  return m;
}

bool decode_challenge(std::span<const uint8_t> m, Challenge* out) {
  if (m.size() < kChallengeHeaderSize) return false;
  size_t hl = m[6], dhvlen = get_le16(m.data() + 10);
  if (hl == 0 || hl > kMaxHl || dhvlen > kMaxDhv || m.size() < kChallengeHeaderSize + hl + dhvlen) return false;
  out->tid = get_le16(m.data() + 4);
  out->hashid = m[8];
  out->dhgid = m[9];
  out->seqnum = get_le32(m.data() + 12);
  const uint8_t* p = m.data() + kChallengeHeaderSize;
  out->c1.assign(p, p + hl);
  out->dh.assign(p + hl, p + hl + dhvlen);
  return true;
}

std::vector<uint8_t> encode_reply(const Reply& r) {
  size_t hl = r.response.size();
  std::vector<uint8_t> m = head(kReplyHeaderSize + 2 * hl + r.dh.size(), kDhchapMessages, kReply, r.tid);
  m[6] = uint8_t(hl);
  m[8] = r.cvalid ? 1 : 0;
  put_le16(m.data() + 10, uint16_t(r.dh.size()));
  put_le32(m.data() + 12, r.seqnum);
  append(m, kReplyHeaderSize, r.response);
  if (r.cvalid) append(m, kReplyHeaderSize + hl, r.c2);
  append(m, kReplyHeaderSize + 2 * hl, r.dh);
  return m;
}

bool decode_reply(std::span<const uint8_t> m, Reply* out) {
  if (m.size() < kReplyHeaderSize) return false;
  size_t hl = m[6], dhvlen = get_le16(m.data() + 10);
  if (hl == 0 || hl > kMaxHl || dhvlen > kMaxDhv || m.size() < kReplyHeaderSize + 2 * hl + dhvlen) return false;
  out->tid = get_le16(m.data() + 4);
  out->cvalid = m[8] & 1;
  out->seqnum = get_le32(m.data() + 12);
  const uint8_t* p = m.data() + kReplyHeaderSize;
  out->response.assign(p, p + hl);
  out->c2.assign(p + hl, p + 2 * hl);
  out->dh.assign(p + 2 * hl, p + 2 * hl + dhvlen);
  return true;
}

std::vector<uint8_t> encode_success1(const Success1& s) {
  std::vector<uint8_t> m =
      head(kSuccess1HeaderSize + (s.rvalid ? s.response.size() : 0), kDhchapMessages, kSuccess1, s.tid);
  m[6] = s.hl;
  m[8] = s.rvalid ? 1 : 0;
  if (s.rvalid) append(m, kSuccess1HeaderSize, s.response);
  return m;
}

bool decode_success1(std::span<const uint8_t> m, Success1* out) {
  if (m.size() < kSuccess1HeaderSize) return false;
  out->tid = get_le16(m.data() + 4);
  out->hl = m[6];
  out->rvalid = m[8] & 1;
  if (out->hl > kMaxHl) return false;
  if (out->rvalid) {
    if (m.size() < kSuccess1HeaderSize + out->hl) return false;
    out->response.assign(m.data() + kSuccess1HeaderSize, m.data() + kSuccess1HeaderSize + out->hl);
  }
  return true;
}

std::vector<uint8_t> encode_success2(uint16_t tid) {
  return head(kSuccess2Size, kDhchapMessages, kSuccess2, tid);
}

std::vector<uint8_t> encode_failure(const Failure& f) {
  std::vector<uint8_t> m = head(kFailureSize, kCommonMessages, f.host ? kFailure2 : kFailure1, f.tid);
  m[6] = f.rescode;
  m[7] = f.explanation;
  return m;
}

bool decode_failure(std::span<const uint8_t> m, Failure* out) {
  if (m.size() < kFailureSize || (m[1] != kFailure1 && m[1] != kFailure2)) return false;
  out->host = m[1] == kFailure2;
  out->tid = get_le16(m.data() + 4);
  out->rescode = m[6];
  out->explanation = m[7];
  return true;
}

}  // namespace nvmeoe::authmsg
