// The DH-HMAC-CHAP primitives and computations (src/auth/crypto.*, dhchap.*) against known answers:
// RFC 4231 for HMAC, the kernel's KUnit vectors (drivers/nvme/common/tests/auth_kunit.c, HMAC over
// two challenges), an FFDHE2048 exchange and the DH-HMAC-CHAP responses computed independently
// (Python's hashlib/hmac and pow(), following drivers/nvme/{host,target}/auth.c).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "auth/crypto.h"
#include "auth/dhchap.h"
#include "auth/secret.h"

namespace nvmeoe::auth {
namespace {

constexpr char kHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
constexpr char kSubNqn[] = "nqn.2024-01.io.nvmeoe:test";

std::string hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

std::vector<uint8_t> unhex(const std::string& h) {
  std::vector<uint8_t> v;
  for (size_t i = 0; i + 1 < h.size(); i += 2) v.push_back(uint8_t(std::stoul(h.substr(i, 2), nullptr, 16)));
  return v;
}

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const HashId kHashes[] = {HashId::kSha256, HashId::kSha384, HashId::kSha512};

TEST(AuthCrypto, HmacRfc4231Case2) {
  const char* expected[] = {
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b"
      "636e070a38bce737"};
  for (int i = 0; i < 3; ++i) {
    uint8_t out[kMaxHashLen];
    // In pieces: the same as one update.
    ASSERT_TRUE(hmac(kHashes[i], bytes("Jefe"), {bytes("what do ya "), bytes("want for nothing?")}, out).is_ok());
    EXPECT_EQ(hex({out, hash_len(kHashes[i])}), expected[i]);
  }
}

TEST(AuthCrypto, HmacKernelKunitVectors) {
  // nvme_auth_generate_psk: HMAC(skey, C1 || C2), skey[i] = 'A' + i, C1[i] = i, C2[i] = 0xff - i.
  const char* expected[] = {
      "1733c59fa7f48fcf37f5f26fc4ff0268ad4f78e030f4f3b0bfd1d47e7bb1447a",
      "f14b2dd3234c459694d3bc63f8968bd6b37c2c6de849e22e118749001ce4bbe8640b9e3a748cb11ce4b1d71d359cce39",
      "9c9f089a618b47d2d75f4b6c28070424487b445dd96e70c4c09b55e8b6000152a3363c3454043f38f0b85036ded40655350aa87b8b6a282b"
      "5c1acae16233dd5b"};
  for (int i = 0; i < 3; ++i) {
    size_t n = hash_len(kHashes[i]);
    std::vector<uint8_t> skey(n), c1(n), c2(n);
    for (size_t k = 0; k < n; ++k) {
      skey[k] = uint8_t('A' + k);
      c1[k] = uint8_t(k);
      c2[k] = uint8_t(0xff - k);
    }
    uint8_t out[kMaxHashLen];
    ASSERT_TRUE(hmac(kHashes[i], skey, {c1, c2}, out).is_ok());
    EXPECT_EQ(hex({out, n}), expected[i]);
  }
}

TEST(AuthCrypto, Names) {
  HashId h;
  for (const char* n : {"hmac(sha256)", "sha256", "SHA-256"}) {
    ASSERT_TRUE(parse_hash_name(n, &h)) << n;
    EXPECT_EQ(h, HashId::kSha256);
  }
  ASSERT_TRUE(parse_hash_name("hmac(sha512)", &h));
  EXPECT_EQ(h, HashId::kSha512);
  EXPECT_FALSE(parse_hash_name("md5", &h));
  EXPECT_FALSE(parse_hash_name("hmac(sha1)", &h));
  DhGroup g;
  ASSERT_TRUE(parse_dhgroup_name("ffdhe4096", &g));
  EXPECT_EQ(g, DhGroup::kFfdhe4096);
  ASSERT_TRUE(parse_dhgroup_name("null", &g));
  EXPECT_EQ(g, DhGroup::kNull);
  EXPECT_FALSE(parse_dhgroup_name("ffdhe1024", &g));
  EXPECT_EQ(hash_name(HashId::kSha384), "hmac(sha384)");
  EXPECT_EQ(dhgroup_name(DhGroup::kFfdhe8192), "ffdhe8192");
  EXPECT_EQ(dh_value_len(DhGroup::kFfdhe6144), 768u);
}

// FFDHE2048 (RFC 7919) with known exponents; the shared secret starts with a zero byte, which
// must be kept (the kernel pads DH values to the group size).
constexpr char kX1[] = "feedface0075";
constexpr char kY1[] =
    "ed2b4217d811db55375d99d282ee6df07a587db5d2e9b27d7248255e92b4553edf5759a098493f417dc98b207d9074e2b6e9a48b4595aea802"
    "0c7f02d8a7140453e6aafecf56af87b7af7c59698a810d690d933160d86060949649dff91cf37c5bf06222d7f34616d5bd3a3ec46774bc5f16"
    "87af16b7bbff9b8fcd4c03ebe7e26064e7abcbbb5c8577292551e518251e2f6db08d788dc26b6209e75c5c6f501187613b8d0b6dff07c0f44e"
    "e8adf377ccf9cbaadc6c6ff32ca1a5aa39cded6c1a175a07cfb712d02830e3605cad3bf82115177d1d9d5b290fbd76ec75c439d543f2c27537"
    "540d5e941bf899c76720cdbebf19dd605fa34b6ec235997a02a92fad";
constexpr char kY2[] =
    "50c8f3181c9e5f6f3e2c57a62384f6a17ac5dbf0cd0e91b99833f8bd7d912be60a5fb9951672598579b9368706106ac949903c45964ed7c328"
    "677e3c824d3ab7fc30002bd98b7047e4ab2f035817faabdcad61ac8473e9bbd2af6517492852b7ca103cea653835faa91d8b9a6de5c22f997c"
    "697d66de057723025a0aa4a490f3dd2896a9fa82cfa302d900a11a050b68d1692833aedc123534560a984dc72c677f3af9a92bf1c6555f33ab"
    "b5581af6bbd1cd80575b4662a4cb0cd3dc9f1a96004db7b12fd1788880cd7f2174d9639ffafa83d41c37ce428d8939fdaab5c40ab3e6450b7f"
    "bd359e95bb0a90f2db7e17f5b4a7de32721e2213660150dc271a3214";
constexpr char kShared[] =
    "00765ee94cb0d937c1281b7aff33c96aa44d3c1a771f505f15916c1680e426e69c45721ee709cffdb6348b6df9958701a5f2f5da96e1f70b43"
    "6b15af16c01a704efe1c36c3ba42be3b7dac996cee21e58764bb522593da9092a22ece3f8520c06fc0aa0286ba8014789835b7c8e29a8762d2"
    "83ae1e386f9beb73c3cb602858f10ab91f961a7c94971a3b922a5ae5e09dade389ac074147365d1a0bca8e9770af519cd0a449b323a2ce0b5d"
    "bc4fc49c558583906c38d92c062e0dd9262014cfac3483eea4f0c5901dcaeec4008ce1c383dff08fb84ad56b71d64872f60184e9660b40fef3"
    "d1d4327a7da668253d9baee4e9650ce5ac2a530bf11a4e6f9557637a";

TEST(AuthCrypto, Ffdhe2048KnownAnswer) {
  auto key = DhKey::from_private(DhGroup::kFfdhe2048, unhex(kX1));
  ASSERT_TRUE(key.is_ok()) << key.status().message();
  auto pub = (*key)->public_value();
  ASSERT_TRUE(pub.is_ok());
  EXPECT_EQ(hex(*pub), kY1);
  auto shared = (*key)->shared_secret(unhex(kY2));
  ASSERT_TRUE(shared.is_ok()) << shared.status().message();
  ASSERT_EQ(shared->size(), 256u);
  EXPECT_EQ(hex(*shared), kShared);
}

TEST(AuthCrypto, DhPeersAgreeAndBadValuesAreRefused) {
  for (DhGroup g : {DhGroup::kFfdhe2048, DhGroup::kFfdhe3072}) {
    auto a = DhKey::generate(g), b = DhKey::generate(g);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    auto pa = (*a)->public_value(), pb = (*b)->public_value();
    ASSERT_TRUE(pa.is_ok() && pb.is_ok());
    EXPECT_EQ(pa->size(), dh_value_len(g));
    EXPECT_NE(*pa, *pb);
    auto sa = (*a)->shared_secret(*pb), sb = (*b)->shared_secret(*pa);
    ASSERT_TRUE(sa.is_ok() && sb.is_ok());
    EXPECT_EQ(*sa, *sb);
    EXPECT_EQ(sa->size(), dh_value_len(g));
    // 0, 1, a value above p and a value of the wrong length give nothing (p - 1: below).
    std::vector<uint8_t> one(dh_value_len(g), 0);
    one.back() = 1;
    EXPECT_FALSE((*a)->shared_secret(one).is_ok());
    std::vector<uint8_t> zero(dh_value_len(g), 0);
    EXPECT_FALSE((*a)->shared_secret(zero).is_ok());
    std::vector<uint8_t> big(dh_value_len(g), 0xff);  // > p
    EXPECT_FALSE((*a)->shared_secret(big).is_ok());
    EXPECT_FALSE((*a)->shared_secret(std::vector<uint8_t>(pb->begin(), pb->end() - 1)).is_ok());
  }
}

TEST(AuthCrypto, PMinusOneIsRefused) {
  // p - 1 for FFDHE2048: p ends in ...FFFFFFFF, so p - 1 ends in ...FFFFFFFE.
  auto key = DhKey::generate(DhGroup::kFfdhe2048);
  ASSERT_TRUE(key.is_ok());
  std::vector<uint8_t> p_minus_1 = unhex(
      "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8"
      "F681B202AEC4617AD3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935984F0C70E0E68B77E2A689DAF3EFE872"
      "1DF158A136ADE73530ACCA4F483A797ABC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4AE56EDE76372BB19"
      "0B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F619172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
      "C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFE");
  ASSERT_EQ(p_minus_1.size(), 256u);
  auto r = (*key)->shared_secret(p_minus_1);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("[2, p-2]"), std::string::npos);
}

// The host's transformed key of "DHHC-1:01:bOHk...:" (nvme-cli's SHA-256 secret for 00..1f) and a
// controller key without transform (00..1f), C1[i] = 0x80 + i, C2[i] = 0x40 + i, S1 = 0x01020304,
// S2 = 0x0a0b0c0d, T = 0x0506, a session key of 256 bytes 0x11.
struct ResponseVector {
  HashId hash;
  const char *r1, *r1_dh, *r2_dh;
};
const ResponseVector kResponses[] = {
    {HashId::kSha256, "3a8c79b943b3ac8b574cebdbf19853242e9439ee262e304d0b50478688c9d587",
     "27dcb31f6ca0b48a3e0c40cc50a7e45de8bb045bba5d752c65decd2f3c7a861d",
     "a7fca27f7bcde0b1f218868a435f07d51f06e553b494444bf89ac40a11c09138"},
    {HashId::kSha384,
     "b869e7863ccce0ca3c16b10edf2693c5752dc36bdf2285cde60f6a588e122c31ebbf9e3b8ea61e418df90f259d12293b",
     "c0009c53f4385348884f328a899a43fd636bf0f9b7d99f1bb70b619663fab51bfb9da82c94c0a014e1d4eedd7869d250",
     "594bfff25be75470f05b64573b0677f1440bafe95b00a984fdaaa2aa8de9e5eb55b4e12e5c96060a53a3b9012ce9955f"},
    {HashId::kSha512,
     "3b18f719568ff8c0fe20e5d50359a050c806078ef8424cd9be9bf8e358dfb7df37f18c60c32c2c4f34b12626f2a419fbc750d730d806082fb"
     "2"
     "c184ac88b168ef",
     "bad34b6790626322ffff2f33e7c2e725d50a70b2809e8b438b403431155123aae892abd2414c792f6b9dcaa7df9fb5cc8ac458780e03850ce"
     "7"
     "a34f20e12d2dba",
     "9dd6b1d99795191b7fa67e175ed600cfb4b7aedaccb614c805c0f768c4fb2a331545ca436f46096c739669fef46c88c1c59e4a3efd3cab751"
     "7"
     "7047306e1903f4"},
};

TEST(AuthCrypto, ResponsesKnownAnswers) {
  auto hs = parse_secret("DHHC-1:01:bOHk6jHoMxpP5YJr/eF6XNOGuPAzh0iRniebpsVb9ydqVuR5:");
  auto cs = parse_secret("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:");
  ASSERT_TRUE(hs.is_ok() && cs.is_ok());
  auto kh = transformed_key(*hs, kHostNqn);
  auto kc = transformed_key(*cs, kSubNqn);
  ASSERT_TRUE(kh.is_ok() && kc.is_ok());
  std::vector<uint8_t> session(256, 0x11);
  for (const auto& v : kResponses) {
    size_t n = hash_len(v.hash);
    std::vector<uint8_t> c1(n), c2(n);
    for (size_t i = 0; i < n; ++i) {
      c1[i] = uint8_t(0x80 + i);
      c2[i] = uint8_t(0x40 + i);
    }
    ResponseInput in;
    in.hash = v.hash;
    in.key = *kh;
    in.challenge = c1;
    in.seqnum = 0x01020304;
    in.tid = 0x0506;
    uint8_t out[kMaxHashLen];
    ASSERT_TRUE(host_response(in, kHostNqn, kSubNqn, out).is_ok());
    EXPECT_EQ(hex({out, n}), v.r1) << hash_name(v.hash);
    in.session_key = session;
    ASSERT_TRUE(host_response(in, kHostNqn, kSubNqn, out).is_ok());
    EXPECT_EQ(hex({out, n}), v.r1_dh) << hash_name(v.hash);
    ResponseInput cin = in;
    cin.key = *kc;
    cin.challenge = c2;
    cin.seqnum = 0x0a0b0c0d;
    ASSERT_TRUE(controller_response(cin, kHostNqn, kSubNqn, out).is_ok());
    EXPECT_EQ(hex({out, n}), v.r2_dh) << hash_name(v.hash);
    // Every input takes part: another transaction id gives another response.
    in.tid = 0x0507;
    ASSERT_TRUE(host_response(in, kHostNqn, kSubNqn, out).is_ok());
    EXPECT_NE(hex({out, n}), v.r1_dh);
  }
}

TEST(AuthCrypto, SeqnumsAreNeverZero) {
  uint32_t a = next_seqnum(), b = next_seqnum();
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, 0u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace nvmeoe::auth
