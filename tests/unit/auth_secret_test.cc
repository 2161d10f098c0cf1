// DHHC-1 secrets (src/auth/secret.*): nvme-cli's output parsed and reproduced, the CRC and format
// checks of the kernel's nvme_auth_extract_key, the key transformation, key files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "auth/secret.h"
#include "test_util.h"

namespace nvmeoe::auth {
namespace {

constexpr char kNqn[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";

std::vector<uint8_t> counting(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i);
  return v;
}

using test::hex;

// Printed by Debian 12's nvme-cli (2.4+really2.3, libnvme 1.3) for the secrets 00 01 02 ... with
// `nvme gen-dhchap-key -s HEX [-m M | -l L] -n kNqn`.
struct CliVector {
  unsigned hmac, len;
  const char* text;
};
const CliVector kCliVectors[] = {
    {0, 32, "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"},
    {1, 32, "DHHC-1:01:bOHk6jHoMxpP5YJr/eF6XNOGuPAzh0iRniebpsVb9ydqVuR5:"},
    {2, 48, "DHHC-1:02:JzgkyQ7IBRNgZgoVJQTRqDZ62Hnj5/kZ+vrrqjiE4TzoZZv5ycVS5cOLCiZ1bQfVVxJqow==:"},
    {3, 64, "DHHC-1:03:D+Ucidhr9Oh00yaKCrMLB2s2c/hsojlyxwni12p59UZ78f4YQ6UMpEcQG4yaPnLJFkljK+euytryvvQe2rYShiu0Vv0=:"},
    {0, 48, "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:"},
    {0, 64, "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P4zODhA=:"},
};

TEST(AuthSecret, Crc32IsIeee) {
  const std::string s = "123456789";
  EXPECT_EQ(crc32_ieee({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 0xCBF43926u);
  EXPECT_EQ(crc32_ieee({}), 0u);
}

TEST(AuthSecret, GeneratesWhatNvmeCliPrints) {
  for (const auto& v : kCliVectors) {
    auto text = generate_secret_text(HashId(v.hmac), counting(v.len), kNqn);
    ASSERT_TRUE(text.is_ok()) << text.status().message();
    EXPECT_EQ(*text, v.text) << "hmac " << v.hmac << " length " << v.len;
  }
}

TEST(AuthSecret, ParsesNvmeCliOutput) {
  for (const auto& v : kCliVectors) {
    auto s = parse_secret(v.text);
    ASSERT_TRUE(s.is_ok()) << v.text << ": " << s.status().message();
    EXPECT_EQ(int(s->transform()), int(v.hmac));
    EXPECT_EQ(s->key().size(), v.len);
    // Formatting the parsed key gives the same text back.
    EXPECT_EQ(format_secret(s->transform(), s->key()), v.text);
  }
  // Without a transform, the printed key is the secret itself.
  auto raw = parse_secret(kCliVectors[0].text);
  ASSERT_TRUE(raw.is_ok());
  EXPECT_EQ(std::vector<uint8_t>(raw->key().begin(), raw->key().end()), counting(32));
}

TEST(AuthSecret, RoundTripsEveryLengthAndTransform) {
  for (unsigned t = 0; t <= 3; ++t)
    for (size_t len : {32u, 48u, 64u}) {
      std::vector<uint8_t> key(len);
      ASSERT_TRUE(random_bytes(key).is_ok());
      std::string text = format_secret(HashId(t), key);
      auto back = parse_secret(text);
      ASSERT_TRUE(back.is_ok()) << text;
      EXPECT_EQ(int(back->transform()), int(t));
      EXPECT_EQ(std::vector<uint8_t>(back->key().begin(), back->key().end()), key);
    }
}

TEST(AuthSecret, AcceptsWhatTheKernelAccepts) {
  std::string text = kCliVectors[1].text;
  // No trailing ':' (strrchr finds none), and a newline from a file.
  EXPECT_TRUE(parse_secret(text.substr(0, text.size() - 1)).is_ok());
  EXPECT_TRUE(parse_secret(text + "\n").is_ok());
}

TEST(AuthSecret, RefusesDamagedSecrets) {
  const std::string good = kCliVectors[1].text;
  auto message = [](const std::string& t) {
    auto r = parse_secret(t);
    return r.is_ok() ? std::string("accepted") : r.status().message();
  };
  // One changed key character: the CRC no longer matches.
  std::string flipped = good;
  flipped[12] = flipped[12] == 'A' ? 'B' : 'A';
  EXPECT_NE(message(flipped).find("CRC mismatch"), std::string::npos) << message(flipped);
  // The CRC bytes themselves damaged.
  std::string crc_bad = good;
  crc_bad[crc_bad.size() - 3] = crc_bad[crc_bad.size() - 3] == 'x' ? 'y' : 'x';
  EXPECT_NE(message(crc_bad).find("CRC"), std::string::npos) << message(crc_bad);
  EXPECT_NE(message("DHHC-2:00:" + good.substr(10)).find("DHHC-1"), std::string::npos);
  EXPECT_NE(message("DHHC-1:04:" + good.substr(10)).find("unknown key transformation"), std::string::npos);
  EXPECT_NE(message("DHHC-1:1:" + good.substr(10)).find("two digits"), std::string::npos);
  EXPECT_NE(message("DHHC-1:00:").find("base64"), std::string::npos);
  EXPECT_NE(message(good.substr(0, 30) + ":").find("bytes decoded"), std::string::npos);  // truncated
  EXPECT_NE(message("DHHC-1:00:AAEC*wQF:").find("base64"), std::string::npos);            // bad character
  EXPECT_NE(message("DHHC-1:00:AA=CAwQF:").find("base64"), std::string::npos);            // padding inside
  // A valid base64 of 20 bytes (a 16-byte key): the wrong length.
  std::vector<uint8_t> short_key = counting(16);
  std::string short_text = format_secret(HashId::kNone, short_key);
  EXPECT_NE(message(short_text).find("32, 48 or 64"), std::string::npos) << message(short_text);
  // Messages never quote the secret.
  EXPECT_EQ(message(flipped).find(flipped.substr(10, 20)), std::string::npos);
}

TEST(AuthSecret, TransformsWithTheNqn) {
  // HMAC-SHA-256(key, NQN || "NVMe-over-Fabrics"), computed independently (Python hmac) from the
  // kernel's nvme_auth_transform_key.
  auto s = parse_secret(kCliVectors[1].text);
  ASSERT_TRUE(s.is_ok());
  auto k = transformed_key(*s, kNqn);
  ASSERT_TRUE(k.is_ok());
  EXPECT_EQ(hex(*k), "ed356462731f16b4c6a83d3f8ba8dd7f7ca2b1dd00f5e19b4d4a71434cc39ece");
  auto other = transformed_key(*s, "nqn.2014-08.org.nvmexpress:uuid:other");
  ASSERT_TRUE(other.is_ok());
  EXPECT_NE(*other, *k);
  // Transform 00: the key as it is.
  auto raw = parse_secret(kCliVectors[0].text);
  ASSERT_TRUE(raw.is_ok());
  auto same = transformed_key(*raw, kNqn);
  ASSERT_TRUE(same.is_ok());
  EXPECT_EQ(*same, counting(32));
  // SHA-512 transform: 64 bytes out.
  auto s3 = parse_secret(kCliVectors[3].text);
  ASSERT_TRUE(s3.is_ok());
  auto k3 = transformed_key(*s3, kNqn);
  ASSERT_TRUE(k3.is_ok());
  EXPECT_EQ(k3->size(), 64u);
}

TEST(AuthSecret, GenerateChecksLengths) {
  EXPECT_FALSE(generate_secret_text(HashId::kSha256, counting(48), kNqn).is_ok());
  EXPECT_FALSE(generate_secret_text(HashId::kNone, counting(40), kNqn).is_ok());
}

TEST(AuthSecret, LoadsFromTextOrFile) {
  auto direct = load_secret(kCliVectors[2].text, "--dhchap-secret");
  ASSERT_TRUE(direct.is_ok());
  char path[] = "/tmp/nvmeoe-key-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "# host key of lab host 1\n\n  " << kCliVectors[2].text << "\n";
  }
  auto from_file = load_secret(path, "--dhchap-secret");
  ASSERT_TRUE(from_file.is_ok()) << from_file.status().message();
  EXPECT_EQ(*from_file, *direct);
  {
    std::ofstream out(path);
    out << "# nothing\n";
  }
  auto empty = load_secret(path, "--dhchap-secret");
  ASSERT_FALSE(empty.is_ok());
  EXPECT_NE(empty.status().message().find("holds no DHHC-1 secret"), std::string::npos);
  unlink(path);
  auto missing = load_secret("/nonexistent/key", "--dhchap-key");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("--dhchap-key: neither a DHHC-1 secret nor a readable file"),
            std::string::npos)
      << missing.status().message();
}

}  // namespace
}  // namespace nvmeoe::auth
