// Per-frame authentication (docs/PROTOCOL.md §10.1): the keys both ends derive from one
// DH-HMAC-CHAP transaction, AES-256-GMAC tags and the replay window of auth/frame_key.h, and
// tagged frames as TxBatch builds them and decode_frame locates them.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <string>
#include <vector>

#include "auth/crypto.h"
#include "auth/frame_key.h"
#include "common/bytes.h"
#include "test_util.h"
#include "wire/crc32c.h"
#include "wire/frame.h"
#include "wire/tx_batch.h"

namespace nvmeoe {
namespace {

using auth::FrameCheck;
using auth::FrameKey;
using auth::FrameKeys;

const MacAddress kTarget{{0x02, 0, 0, 0, 0x0f, 0x01}};
const MacAddress kHost{{0x02, 0, 0, 0, 0x0f, 0x02}};
const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:0f0f0f0f-1111-2222-3333-444444444444";
const char* kSubNqn = "nqn.2026-12.io.nvmeoe:frame-auth";

const char* kVectorH2c = "d19b55ad7b40db5ba87f3864d8ebb68d24f68298303b9a56397fb2f3db6a53d6";
const char* kVectorC2h = "3d4d909015cd6bf47aef7c13bbe3214f3a889966758fba4f10d7d4ad3aa23ab0";
const char* kVectorTag = "50a1c728fa90e1fe07152da075f39fea";

using test::hex;

FrameKeys keys_for(uint8_t c1_fill, uint8_t key_fill = 0x11, std::span<const uint8_t> session = {}) {
  std::vector<uint8_t> key(32, key_fill), c1(32, c1_fill);
  auth::ResponseInput in;
  in.hash = auth::HashId::kSha256;
  in.key = key;
  in.challenge = c1;
  in.session_key = session;
  in.seqnum = 7;
  in.tid = 3;
  FrameKeys k;
  EXPECT_TRUE(auth::derive_frame_keys(in, kHostNqn, kSubNqn, &k).is_ok());
  return k;
}

std::unique_ptr<FrameKey> key_of(const std::array<uint8_t, 32>& k) {
  auto r = FrameKey::create(k);
  EXPECT_TRUE(r.is_ok());
  return r.is_ok() ? std::move(r).value() : nullptr;
}

// A frame-like buffer sealed by `k`: the covered bytes, then the trailer.
std::vector<uint8_t> sealed(FrameKey& k, std::vector<uint8_t> bytes) {
  const std::span<const uint8_t> parts[1] = {bytes};
  uint8_t trailer[kFrameTrailerSize];
  k.seal(parts, trailer);
  bytes.insert(bytes.end(), trailer, trailer + kFrameTrailerSize);
  return bytes;
}

FrameCheck open(FrameKey& k, const std::vector<uint8_t>& frame) {
  const size_t covered = frame.size() - kFrameTrailerSize;
  return k.open(std::span<const uint8_t>(frame.data(), covered), frame.data() + covered);
}

TEST(FrameAuth, BothEndsDeriveTheSameKeysAndEachTransactionItsOwn) {
  FrameKeys a = keys_for(0x5a), b = keys_for(0x5a);
  EXPECT_EQ(a.host_to_ctrl, b.host_to_ctrl);
  EXPECT_EQ(a.ctrl_to_host, b.ctrl_to_host);
  EXPECT_NE(a.host_to_ctrl, a.ctrl_to_host) << "each direction has its own key";
  // docs/PROTOCOL.md §10.1 gives this vector: Kh' = 32 × 11h, C1 = 32 × 5Ah, S1 = 7, T_ID = 3,
  // SHA-256, no DH, the NQNs above.
  EXPECT_EQ(hex(a.host_to_ctrl), kVectorH2c);
  EXPECT_EQ(hex(a.ctrl_to_host), kVectorC2h);
  EXPECT_NE(keys_for(0x5b).host_to_ctrl, a.host_to_ctrl) << "another challenge, other keys";
  EXPECT_NE(keys_for(0x5a, 0x12).host_to_ctrl, a.host_to_ctrl) << "another host key, other keys";
  std::vector<uint8_t> z(256, 0x33);
  EXPECT_NE(keys_for(0x5a, 0x11, z).host_to_ctrl, a.host_to_ctrl) << "the DH value goes in";
  auth::ResponseInput bad;
  bad.challenge = std::span<const uint8_t>(z.data(), 5);  // not the hash's length
  FrameKeys k;
  EXPECT_FALSE(auth::derive_frame_keys(bad, kHostNqn, kSubNqn, &k).is_ok());
}

TEST(FrameAuth, TagIsAes256GcmOverTheFrameWithTheSequenceNumberAsIv) {
  // The layout a peer must reproduce: key 00 01 .. 1f, frame bytes 00 01 .. 3f, sequence number
  // 1: IV = 01 00 00 00 00 00 00 00 00 00 00 00, the frame as AAD, no plaintext.
  std::array<uint8_t, 32> key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = uint8_t(i);
  std::vector<uint8_t> body(64);
  for (size_t i = 0; i < body.size(); ++i) body[i] = uint8_t(i);
  auto k = key_of(key);
  ASSERT_TRUE(k);
  std::vector<uint8_t> f = sealed(*k, body);
  EXPECT_EQ(get_le64(f.data() + body.size()), 1u);
  // Computed apart, straight through OpenSSL.
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  uint8_t iv[12] = {1};
  int n = 0;
  uint8_t tag[16], none[16];
  ASSERT_EQ(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key.data(), iv), 1);
  ASSERT_EQ(EVP_EncryptUpdate(c, nullptr, &n, body.data(), int(body.size())), 1);
  ASSERT_EQ(EVP_EncryptFinal_ex(c, none, &n), 1);
  ASSERT_EQ(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
  EVP_CIPHER_CTX_free(c);
  EXPECT_EQ(std::vector<uint8_t>(f.end() - 16, f.end()), std::vector<uint8_t>(tag, tag + 16));
  // docs/PROTOCOL.md §10.1 gives this vector.
  EXPECT_EQ(hex(std::vector<uint8_t>(f.end() - 16, f.end())), kVectorTag);
  auto rx = key_of(key);
  EXPECT_EQ(open(*rx, f), FrameCheck::kOk);
}

TEST(FrameAuth, EveryFlippedBitAndEveryWrongKeyIsRefused) {
  FrameKeys keys = keys_for(1);
  auto tx = key_of(keys.host_to_ctrl);
  std::vector<uint8_t> body(200);
  for (size_t i = 0; i < body.size(); ++i) body[i] = uint8_t(i * 13);
  std::vector<uint8_t> f = sealed(*tx, body);
  for (size_t bit = 0; bit < f.size() * 8; bit += 7) {
    auto rx = key_of(keys.host_to_ctrl);
    std::vector<uint8_t> g = f;
    g[bit / 8] ^= uint8_t(1u << (bit % 8));
    // A flipped sequence number may also read as 0 (replayed); anything but kOk is right.
    EXPECT_NE(open(*rx, g), FrameCheck::kOk) << "bit " << bit;
  }
  auto other_direction = key_of(keys.ctrl_to_host);
  EXPECT_EQ(open(*other_direction, f), FrameCheck::kBadTag);
  auto rx = key_of(keys.host_to_ctrl);
  EXPECT_EQ(open(*rx, f), FrameCheck::kOk);
}

TEST(FrameAuth, ReplayWindowTakesReorderingOnceAndRefusesRepeatsAndOldFrames) {
  FrameKeys keys = keys_for(2);
  auto tx = key_of(keys.ctrl_to_host);
  auto rx = key_of(keys.ctrl_to_host);
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 600; ++i) frames.push_back(sealed(*tx, std::vector<uint8_t>(40, uint8_t(i))));
  // Out of order inside the window: each once.
  EXPECT_EQ(open(*rx, frames[3]), FrameCheck::kOk);
  EXPECT_EQ(open(*rx, frames[1]), FrameCheck::kOk);
  EXPECT_EQ(open(*rx, frames[2]), FrameCheck::kOk);
  EXPECT_EQ(open(*rx, frames[0]), FrameCheck::kOk);
  EXPECT_EQ(open(*rx, frames[2]), FrameCheck::kReplayed);
  EXPECT_EQ(open(*rx, frames[3]), FrameCheck::kReplayed);
  // A jump across word boundaries keeps what was seen.
  EXPECT_EQ(open(*rx, frames[100]), FrameCheck::kOk);
  EXPECT_EQ(open(*rx, frames[3]), FrameCheck::kReplayed);
  EXPECT_EQ(open(*rx, frames[50]), FrameCheck::kOk);
  EXPECT_EQ(open(*rx, frames[50]), FrameCheck::kReplayed);
  EXPECT_EQ(open(*rx, frames[100]), FrameCheck::kReplayed);
  // Further than the window behind the highest: refused even if never seen.
  EXPECT_EQ(open(*rx, frames[400]), FrameCheck::kOk);
  EXPECT_EQ(open(*rx, frames[400 - FrameKey::kReplayWindow]), FrameCheck::kReplayed);
  EXPECT_EQ(open(*rx, frames[400 - FrameKey::kReplayWindow + 1]), FrameCheck::kOk);
  EXPECT_EQ(open(*rx, frames[50]), FrameCheck::kReplayed);
  // A forged frame with a fresh sequence number does not move the window.
  std::vector<uint8_t> forged = frames[599];
  forged[10] ^= 1;
  EXPECT_EQ(open(*rx, forged), FrameCheck::kBadTag);
  EXPECT_EQ(open(*rx, frames[399]), FrameCheck::kOk);
  EXPECT_EQ(open(*rx, frames[599]), FrameCheck::kOk);
  // Sequence number 0 is never valid.
  std::vector<uint8_t> zero_seq = frames[598];
  put_le64(zero_seq.data() + zero_seq.size() - kFrameTrailerSize, 0);
  EXPECT_EQ(open(*rx, zero_seq), FrameCheck::kReplayed);
}

TEST(FrameAuth, TxBatchTagsFramesThatDecodeAndOpen) {
  FrameKeys keys = keys_for(3);
  auto tx = key_of(keys.ctrl_to_host);
  auto rx = key_of(keys.ctrl_to_host);
  TxBatch batch(kTarget, kDefaultEtherType, 1500);
  TxAssoc a;
  a.dst = kHost;
  a.a = FrameAddress{1, 1, 0xabcd};
  a.max_frame = 1500;
  a.data_digest = true;  // a sealer replaces the data digest
  a.sealer = tx.get();
  std::vector<uint8_t> data(8192);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7);
  TxCursor cur;
  SegmentHeader h;
  h.kind = FrameKind::kData;
  h.cid = 4;
  h.gen = 9;
  h.total = uint32_t(data.size());
  batch.add_data(cur, a, h, data.data(), 0, uint32_t(data.size()), seg_flag::kLast | seg_flag::kSuccess);
  std::span<const TxFrame> frames = batch.finish();
  // 1500-byte frames lose 20 bytes of data room to the trailer: 1440 bytes of data each.
  ASSERT_EQ(frames.size(), (data.size() + 1439) / 1440);
  uint32_t got = 0;
  uint64_t seq = 1;
  for (const TxFrame& t : frames) {
    std::vector<uint8_t> bytes;
    for (auto p : t.parts()) bytes.insert(bytes.end(), p.begin(), p.end());
    EXPECT_LE(bytes.size(), kEthHeaderSize + 1500);
    Frame f;
    ASSERT_EQ(decode_frame(bytes, kDefaultEtherType, &f), DecodeError::kNone);
    ASSERT_TRUE(f.has_tag());
    EXPECT_FALSE(f.has_data_digest());
    EXPECT_EQ(get_le64(f.trailer), seq++);
    EXPECT_EQ(rx->open(f.tagged, f.trailer), FrameCheck::kOk);
    got += uint32_t(f.segs[0].data.size());
    // The tag covers the addresses and headers too: another destination fails.
    std::vector<uint8_t> moved = bytes;
    moved[0] ^= 0x02;
    Frame g;
    EXPECT_EQ(decode_frame(moved, kDefaultEtherType, &g), DecodeError::kHeaderDigest);
  }
  EXPECT_EQ(got, data.size());
}

TEST(FrameAuth, DecodeLocatesTheTrailerAndRefusesTagWithDigest) {
  SegmentHeader h;
  h.kind = FrameKind::kTerminate;
  uint8_t meta[kTerminateMetaSize] = {1, 0, 0, 0};
  const std::vector<uint8_t> plain = build_frame(kTarget, kHost, kDefaultEtherType, FrameAddress{0, 1, 5}, h, meta);
  auto with_flags = [&](uint8_t flags, size_t trailer) {
    std::vector<uint8_t> g = plain;
    g[kEthHeaderSize + hdr::kFlags] = flags;
    const size_t hcrc_at = g.size() - kHcrcSize;
    put_le32(g.data() + hcrc_at, crc32c(g.data(), hcrc_at));
    for (size_t i = 0; i < trailer; ++i) g.push_back(uint8_t(0xa0 + i));
    // Past the 60-byte minimum, so that nothing passes as padding.
    return g;
  };
  std::vector<uint8_t> tagged = with_flags(frame_flag::kFrameTag, kFrameTrailerSize);
  ASSERT_GT(tagged.size(), kMinEthFrame);
  Frame f;
  ASSERT_EQ(decode_frame(tagged, kDefaultEtherType, &f), DecodeError::kNone);
  EXPECT_TRUE(f.has_tag());
  EXPECT_EQ(f.tagged.size(), tagged.size() - kFrameTrailerSize);
  EXPECT_EQ(f.trailer, tagged.data() + tagged.size() - kFrameTrailerSize);
  EXPECT_EQ(decode_frame(with_flags(frame_flag::kFrameTag | frame_flag::kDataDigest, kFrameTrailerSize + 4),
                         kDefaultEtherType, &f),
            DecodeError::kReservedBits);
  std::vector<uint8_t> short_trailer = with_flags(frame_flag::kFrameTag, kFrameTrailerSize);
  short_trailer.resize(short_trailer.size() - 1);
  EXPECT_EQ(decode_frame(short_trailer, kDefaultEtherType, &f), DecodeError::kTruncated);
  std::vector<uint8_t> long_trailer = with_flags(frame_flag::kFrameTag, kFrameTrailerSize + 1);
  EXPECT_EQ(decode_frame(long_trailer, kDefaultEtherType, &f), DecodeError::kBadLength);
}

}  // namespace
}  // namespace nvmeoe
