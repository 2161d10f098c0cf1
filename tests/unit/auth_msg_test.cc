// DH-HMAC-CHAP message layouts (src/nvme/auth_msg.*): byte offsets as in include/linux/nvme.h,
// round trips, and truncated or inconsistent messages refused before any field is used.
#include "nvme/auth_msg.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/bytes.h"

namespace nvmeoe::authmsg {
namespace {

TEST(AuthMsg, SendAndReceiveCommandFields) {
  AuthCommand c;
  c.length = 72;
  Sqe s;
  encode_auth_command(true, c, s);
  EXPECT_EQ(s.opcode, 0x7f);
  EXPECT_EQ(s.fctype(), 0x05);
  // CDW10 = bytes 40..43 of the SQE: reserved, SPSP0, SPSP1, SECP; CDW11 = TL.
  EXPECT_EQ(s.cdw10, 0xe9010100u);
  EXPECT_EQ(s.cdw11, 72u);
  EXPECT_EQ(sgl_length(s), 72u);
  EXPECT_EQ(data_direction(s), DataDirection::kHostToController);
  encode_auth_command(false, c, s);
  EXPECT_EQ(s.fctype(), 0x06);
  EXPECT_EQ(data_direction(s), DataDirection::kControllerToHost);
  AuthCommand back = decode_auth_command(s);
  EXPECT_EQ(back.secp, 0xe9);
  EXPECT_EQ(back.spsp0, 1);
  EXPECT_EQ(back.spsp1, 1);
  EXPECT_EQ(back.length, 72u);
}

TEST(AuthMsg, NegotiateLayout) {
  Negotiate n;
  n.tid = 0x1234;
  n.hashes = {1, 2, 3};
  n.dhgroups = {0, 1, 2, 3, 4, 5};
  std::vector<uint8_t> m = encode_negotiate(n);
  ASSERT_EQ(m.size(), 72u);
  EXPECT_EQ(m[0], 0x00);  // common messages
  EXPECT_EQ(m[1], 0x00);  // negotiate
  EXPECT_EQ(get_le16(&m[4]), 0x1234);
  EXPECT_EQ(m[6], 0);  // SC_C
  EXPECT_EQ(m[7], 1);  // NAPD
  EXPECT_EQ(m[8], 1);  // AUTHID DH-HMAC-CHAP
  EXPECT_EQ(m[10], 3);
  EXPECT_EQ(m[11], 6);
  EXPECT_EQ(m[12], 1);
  EXPECT_EQ(m[14], 3);
  EXPECT_EQ(m[12 + 30], 0);  // idlist[30]: the first DH group
  EXPECT_EQ(m[12 + 35], 5);
  Negotiate back;
  ASSERT_EQ(decode_negotiate(m, &back), 0);
  EXPECT_EQ(back.tid, 0x1234);
  EXPECT_EQ(back.hashes, n.hashes);
  EXPECT_EQ(back.dhgroups, n.dhgroups);
}

TEST(AuthMsg, NegotiateRefusals) {
  Negotiate n;
  n.hashes = {1};
  n.dhgroups = {0};
  std::vector<uint8_t> m = encode_negotiate(n);
  Negotiate out;
  EXPECT_EQ(decode_negotiate(std::span(m).first(40), &out), reason::kIncorrectPayload);  // truncated
  auto bad = m;
  bad[10] = 31;  // HALEN beyond the 30 slots
  EXPECT_EQ(decode_negotiate(bad, &out), reason::kIncorrectPayload);
  bad = m;
  bad[7] = 0;  // NAPD 0
  EXPECT_EQ(decode_negotiate(bad, &out), reason::kIncorrectPayload);
  bad = m;
  bad[8] = 2;  // not DH-HMAC-CHAP
  EXPECT_EQ(decode_negotiate(bad, &out), reason::kHashUnusable);
  bad = m;
  bad[7] = 5;                                 // claims five descriptors, holds one
  EXPECT_EQ(decode_negotiate(bad, &out), 0);  // the one it holds is DH-HMAC-CHAP
}

TEST(AuthMsg, ChallengeLayoutAndBounds) {
  Challenge c;
  c.tid = 7;
  c.hashid = 1;
  c.dhgid = 1;
  c.seqnum = 0xa1b2c3d4;
  c.c1.assign(32, 0xcc);
  c.dh.assign(256, 0xdd);
  std::vector<uint8_t> m = encode_challenge(c);
  ASSERT_EQ(m.size(), 16u + 32 + 256);
  EXPECT_EQ(m[0], 0x01);
  EXPECT_EQ(m[1], 0x01);
  EXPECT_EQ(m[6], 32);  // HL
  EXPECT_EQ(m[8], 1);   // HASHID
  EXPECT_EQ(m[9], 1);   // DHGID
  EXPECT_EQ(get_le16(&m[10]), 256);
  EXPECT_EQ(get_le32(&m[12]), 0xa1b2c3d4u);
  EXPECT_EQ(m[16], 0xcc);
  EXPECT_EQ(m[48], 0xdd);
  Challenge back;
  ASSERT_TRUE(decode_challenge(m, &back));
  EXPECT_EQ(back.c1, c.c1);
  EXPECT_EQ(back.dh, c.dh);
  EXPECT_EQ(back.seqnum, c.seqnum);
  // A DHVLEN beyond the bytes received, an HL of 0 or above 64: refused.
  EXPECT_FALSE(decode_challenge(std::span(m).first(m.size() - 1), &back));
  auto bad = m;
  bad[6] = 0;
  EXPECT_FALSE(decode_challenge(bad, &back));
  bad[6] = 65;
  EXPECT_FALSE(decode_challenge(bad, &back));
  bad = m;
  put_le16(&bad[10], 0xffff);
  EXPECT_FALSE(decode_challenge(bad, &back));
}

TEST(AuthMsg, ReplyLayout) {
  Reply r;
  r.tid = 9;
  r.cvalid = true;
  r.seqnum = 77;
  r.response.assign(48, 0x11);
  r.c2.assign(48, 0x22);
  r.dh.assign(384, 0x33);
  std::vector<uint8_t> m = encode_reply(r);
  ASSERT_EQ(m.size(), 16u + 96 + 384);
  EXPECT_EQ(m[1], 0x02);
  EXPECT_EQ(m[6], 48);
  EXPECT_EQ(m[8], 1);  // CVALID
  EXPECT_EQ(get_le16(&m[10]), 384);
  EXPECT_EQ(get_le32(&m[12]), 77u);
  EXPECT_EQ(m[16], 0x11);
  EXPECT_EQ(m[16 + 48], 0x22);
  EXPECT_EQ(m[16 + 96], 0x33);
  Reply back;
  ASSERT_TRUE(decode_reply(m, &back));
  EXPECT_TRUE(back.cvalid);
  EXPECT_EQ(back.c2, r.c2);
  EXPECT_EQ(back.dh, r.dh);
  EXPECT_FALSE(decode_reply(std::span(m).first(16 + 96 + 383), &back));
  // Without CVALID the challenge field is zeros.
  r.cvalid = false;
  m = encode_reply(r);
  EXPECT_EQ(m[16 + 48], 0);
}

TEST(AuthMsg, SuccessAndFailureLayouts) {
  Success1 s;
  s.tid = 3;
  s.hl = 32;
  s.rvalid = true;
  s.response.assign(32, 0x5a);
  std::vector<uint8_t> m = encode_success1(s);
  ASSERT_EQ(m.size(), 48u);
  EXPECT_EQ(m[1], 0x03);
  EXPECT_EQ(m[6], 32);
  EXPECT_EQ(m[8], 1);
  Success1 back;
  ASSERT_TRUE(decode_success1(m, &back));
  EXPECT_EQ(back.response, s.response);
  EXPECT_FALSE(decode_success1(std::span(m).first(40), &back));  // RVALID with a short response
  m = encode_success2(3);
  ASSERT_EQ(m.size(), 16u);
  EXPECT_EQ(m[0], 0x01);
  EXPECT_EQ(m[1], 0x04);
  EXPECT_EQ(get_le16(&m[4]), 3);
  Failure f;
  f.tid = 4;
  f.explanation = reason::kDhgroupUnusable;
  m = encode_failure(f);
  ASSERT_EQ(m.size(), 8u);
  EXPECT_EQ(m[0], 0x00);
  EXPECT_EQ(m[1], 0xf1);
  EXPECT_EQ(m[6], 0x01);
  EXPECT_EQ(m[7], 0x05);
  f.host = true;
  m = encode_failure(f);
  EXPECT_EQ(m[1], 0xf0);
  Failure fb;
  ASSERT_TRUE(decode_failure(m, &fb));
  EXPECT_TRUE(fb.host);
  EXPECT_EQ(fb.explanation, reason::kDhgroupUnusable);
  EXPECT_STREQ(reason_name(reason::kFailed), "authentication failed");
  MessageHead h;
  EXPECT_FALSE(decode_head(std::span(m).first(5), &h));
}

}  // namespace
}  // namespace nvmeoe::authmsg
