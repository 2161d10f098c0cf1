// CRC32C, byte order helpers, reassembly ranges and NVMe structure encodings (the frame codec is
// frame_test.cc, packing tx_batch_test.cc).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "common/bytes.h"
#include "nvme/identify.h"
#include "nvme/spec.h"
#include "wire/crc32c.h"
#include "wire/range_set.h"

namespace nvmeoe {
namespace {

TEST(Bytes, LittleEndianHelpersAtEveryAlignment) {
  // The wire is little-endian whatever the machine; the helpers read and write unaligned fields.
  uint8_t buf[24];
  for (size_t off = 0; off < 8; ++off) {
    std::memset(buf, 0xee, sizeof buf);
    put_le32(buf + off, 0x04030201u);
    EXPECT_EQ(buf[off], 0x01);
    EXPECT_EQ(buf[off + 3], 0x04);
    EXPECT_EQ(buf[off + 4], 0xee);
    EXPECT_EQ(get_le32(buf + off), 0x04030201u);
    put_le64(buf + off, 0x0807060504030201ull);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(buf[off + size_t(i)], uint8_t(i + 1));
    EXPECT_EQ(buf[off + 8], 0xee);
    EXPECT_EQ(get_le64(buf + off), 0x0807060504030201ull);
    EXPECT_EQ(get_le32(buf + off + 4), 0x08070605u);
  }
  const uint8_t high[8] = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8};
  EXPECT_EQ(get_le32(high), 0xfcfdfeffu);
  EXPECT_EQ(get_le64(high), 0xf8f9fafbfcfdfeffull);
}

TEST(Crc32c, KnownVectorsAndPortableAgree) {
  const char* s = "123456789";
  EXPECT_EQ(crc32c(reinterpret_cast<const uint8_t*>(s), 9), 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);  // RFC 3720 B.4
  std::mt19937 rng(1);
  std::vector<uint8_t> buf(5000);
  for (auto& b : buf) b = uint8_t(rng());
  for (size_t len : {0u, 1u, 7u, 8u, 9u, 63u, 1464u, 5000u})
    EXPECT_EQ(crc32c(buf.data(), len), crc32c_extend_portable(0, buf.data(), len)) << len;
  // Extending in pieces equals one pass.
  uint32_t piecewise = crc32c_extend(crc32c(buf.data(), 100), buf.data() + 100, 900);
  EXPECT_EQ(piecewise, crc32c(buf.data(), 1000));
}

TEST(RangeSet, InOrderOutOfOrderDuplicatesAndHoles) {
  RangeSet r;
  EXPECT_EQ(r.add(0, 100), 100u);
  EXPECT_EQ(r.add(200, 100), 100u);
  EXPECT_FALSE(r.complete(300));
  auto holes = r.missing(300, 10);
  ASSERT_EQ(holes.size(), 1u);
  EXPECT_EQ(holes[0], std::make_pair(uint64_t(100), uint64_t(100)));
  EXPECT_EQ(r.add(50, 200), 100u);  // overlaps both sides: only the hole is new
  EXPECT_TRUE(r.complete(300));
  EXPECT_EQ(r.add(0, 300), 0u);  // duplicate
  EXPECT_EQ(r.covered(), 300u);
  EXPECT_TRUE(r.missing(300, 10).empty());
  auto tail = r.missing(400, 10);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].first, 300u);
}

TEST(RangeSet, RandomOrderMatchesBitmap) {
  std::mt19937 rng(9);
  for (int round = 0; round < 50; ++round) {
    RangeSet r;
    std::vector<bool> bits(5000, false);
    for (int i = 0; i < 200; ++i) {
      uint64_t off = rng() % 5000, len = 1 + rng() % 300;
      if (off + len > 5000) len = 5000 - off;
      uint64_t fresh = 0;
      for (uint64_t k = off; k < off + len; ++k)
        if (!bits[k]) {
          bits[k] = true;
          ++fresh;
        }
      ASSERT_EQ(r.add(off, len), fresh);
    }
    uint64_t covered = 0;
    for (bool b : bits) covered += b;
    EXPECT_EQ(r.covered(), covered);
    uint64_t hole_bytes = 0;
    for (auto& [o, l] : r.missing(5000, 100000)) {
      for (uint64_t k = o; k < o + l; ++k) EXPECT_FALSE(bits[k]);
      hole_bytes += l;
    }
    EXPECT_EQ(hole_bytes, 5000 - covered);
  }
}

TEST(Spec, SqeCqeRoundTripAndSgl) {
  Sqe s;
  s.opcode = io_opcode::kWrite;
  s.cid = 0x1234;
  s.nsid = 1;
  s.cdw10 = 0x89abcdef;
  s.cdw11 = 0x01;
  s.cdw12 = 7 | (1u << 30);
  set_sgl_length(s, 4096);
  uint8_t raw[kSqeSize];
  encode_sqe(s, raw);
  EXPECT_EQ(raw[0], io_opcode::kWrite);
  EXPECT_EQ(raw[1] & 0xc0, kPsdtSgl);
  EXPECT_EQ(get_le16(raw + 2), 0x1234);
  EXPECT_EQ(get_le32(raw + 40), 0x89abcdefu);
  EXPECT_EQ(raw[39], 0x5a);
  Sqe d = decode_sqe(raw);
  EXPECT_EQ(sgl_length(d), 4096u);
  EXPECT_TRUE(sgl_valid(d));
  EXPECT_EQ(data_direction(d), DataDirection::kHostToController);
  d.dptr[15] = 0x01;  // a data block descriptor we do not support
  EXPECT_FALSE(sgl_valid(d));

  Cqe c;
  c.dw0 = 5;
  c.cid = 9;
  c.sq_id = 1;
  c.status = sc::kLbaOutOfRange | sc::kDnr;
  uint8_t cr[kCqeSize];
  encode_cqe(c, cr);
  EXPECT_EQ(get_le16(cr + 14), uint16_t((sc::kLbaOutOfRange | sc::kDnr) << 1));
  Cqe c2 = decode_cqe(cr);
  EXPECT_EQ(c2.status, c.status);
  EXPECT_EQ(status_sct(c2.status), 0);
  EXPECT_EQ(status_code(c2.status), 0x80);
  EXPECT_TRUE(status_dnr(c2.status));
  EXPECT_NE(status_name(c2.status).find("LBA Out of Range"), std::string::npos);
}

TEST(Spec, ConnectDataAndIdentifyRoundTrip) {
  ConnectData d;
  d.cntlid = 0xffff;
  d.subnqn = "nqn.test.eth";
  d.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:1";
  std::vector<uint8_t> raw(kConnectDataSize);
  encode_connect_data(d, raw.data());
  ConnectData d2;
  ASSERT_TRUE(decode_connect_data(raw.data(), &d2));
  EXPECT_EQ(d2.subnqn, d.subnqn);
  EXPECT_EQ(d2.hostnqn, d.hostnqn);
  EXPECT_EQ(d2.cntlid, 0xffff);
  std::memset(raw.data() + 256, 'x', 256);  // no NUL inside the field
  EXPECT_FALSE(decode_connect_data(raw.data(), &d2));

  IdentifyController ic;
  ic.serial = serial_from_nqn("nqn.test.eth");
  ic.model = "nvmeoe";
  ic.firmware = "0.1.0";
  ic.mdts = 8;
  ic.cntlid = 3;
  ic.nn = 2;
  ic.subnqn = "nqn.test.eth";
  std::vector<uint8_t> id(kIdentifySize);
  encode_identify_controller(ic, id.data());
  EXPECT_EQ(id[idctl::kSqes], 0x66);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(id.data()) + idctl::kMn, 8), "nvmeoe  ");
  auto ic2 = decode_identify_controller(id.data());
  EXPECT_EQ(ic2.model, "nvmeoe");
  EXPECT_EQ(ic2.serial, ic.serial);
  EXPECT_EQ(ic2.firmware, "0.1.0");
  EXPECT_EQ(ic2.mdts, 8);
  EXPECT_EQ(ic2.nn, 2u);
  EXPECT_EQ(ic2.subnqn, "nqn.test.eth");
  EXPECT_EQ(serial_from_nqn("nqn.test.eth"), ic.serial);  // stable
  EXPECT_NE(serial_from_nqn("nqn.test.eth2"), ic.serial);

  IdentifyNamespace ns;
  ns.nsze = ns.ncap = ns.nuse = (20ull << 30) / 512;
  ns.dlfeat = 0x09;
  encode_identify_namespace(ns, id.data());
  auto ns2 = decode_identify_namespace(id.data());
  EXPECT_EQ(ns2.nsze, ns.nsze);
  EXPECT_EQ(ns2.lbads, 9);
  EXPECT_EQ(ns2.dlfeat, 0x09);

  encode_active_ns_list({1, 2, 5}, 1, id.data());
  EXPECT_EQ(decode_active_ns_list(id.data()), (std::vector<uint32_t>{2, 5}));
}

TEST(Spec, NqnValidation) {
  EXPECT_TRUE(valid_nqn("nqn.test.eth"));
  EXPECT_TRUE(valid_nqn("nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"));
  EXPECT_FALSE(valid_nqn(""));
  EXPECT_FALSE(valid_nqn("test.eth"));
  EXPECT_FALSE(valid_nqn("nqn.has space"));
  EXPECT_FALSE(valid_nqn("nqn." + std::string(220, 'a')));
}

}  // namespace
}  // namespace nvmeoe
