// Frame codec, CRC32C, reassembly ranges and NVMe structure encodings.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "common/bytes.h"
#include "nvme/identify.h"
#include "nvme/spec.h"
#include "wire/crc32c.h"
#include "wire/frame.h"
#include "wire/range_set.h"

namespace nvmeoe {
namespace {

const MacAddress kA{{0x02, 0, 0, 0, 0, 0xaa}};
const MacAddress kB{{0x02, 0, 0, 0, 0, 0xbb}};

std::vector<uint8_t> sample_frame(uint8_t flags, size_t payload_len = 100) {
  FrameHeader h;
  h.kind = FrameKind::kData;
  h.flags = flags;
  h.qid = 3;
  h.cntlid = 7;
  h.nonce = 0xdeadbeef;
  h.cid = 42;
  h.offset = 1464;
  h.total = 4096;
  h.gen = 99;
  std::vector<uint8_t> payload(payload_len);
  for (size_t i = 0; i < payload_len; ++i) payload[i] = uint8_t(i * 7);
  return build_frame(kB, kA, kDefaultEtherType, h, payload);
}

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

TEST(Frame, RoundTripAllFields) {
  for (uint8_t flags : {uint8_t(0), frame_flag::kHeaderDigest, frame_flag::kDataDigest,
                        uint8_t(frame_flag::kHeaderDigest | frame_flag::kDataDigest | frame_flag::kLast)}) {
    auto bytes = sample_frame(flags);
    Frame f;
    ASSERT_EQ(decode_frame(bytes, kDefaultEtherType, &f), DecodeError::kNone) << int(flags);
    EXPECT_EQ(f.dst, kB);
    EXPECT_EQ(f.src, kA);
    EXPECT_EQ(f.h.kind, FrameKind::kData);
    EXPECT_EQ(f.h.flags, flags);
    EXPECT_EQ(f.h.qid, 3);
    EXPECT_EQ(f.h.cntlid, 7);
    EXPECT_EQ(f.h.nonce, 0xdeadbeefu);
    EXPECT_EQ(f.h.cid, 42);
    EXPECT_EQ(f.h.offset, 1464u);
    EXPECT_EQ(f.h.total, 4096u);
    EXPECT_EQ(f.h.gen, 99u);
    ASSERT_EQ(f.payload.size(), 100u);
    EXPECT_EQ(f.payload[10], 70);
  }
}

TEST(Frame, HeaderLayoutMatchesProtocolDocument) {
  auto bytes = sample_frame(0);
  const uint8_t* h = bytes.data() + kEthHeaderSize;
  EXPECT_EQ(get_be16(bytes.data() + 12), 0x88B5);
  EXPECT_EQ(h[0], 1);             // version
  EXPECT_EQ(h[1], 5);             // kind: data
  EXPECT_EQ(get_le16(h + 4), 3);  // qid
  EXPECT_EQ(get_le16(h + 6), 7);  // cntlid
  EXPECT_EQ(get_le32(h + 8), 0xdeadbeefu);
  EXPECT_EQ(get_le16(h + 12), 42);
  EXPECT_EQ(get_le16(h + 14), 100);
  EXPECT_EQ(get_le32(h + 16), 1464u);
  EXPECT_EQ(get_le32(h + 20), 4096u);
  EXPECT_EQ(get_le32(h + 24), 99u);
  EXPECT_EQ(get_le32(h + 28), 0u);
  EXPECT_EQ(bytes.size(), kFrameHeadroom + 100);
}

TEST(Frame, RejectsTruncatedAtEveryLength) {
  auto bytes = sample_frame(frame_flag::kDataDigest);
  Frame f;
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);  // exact-size copy: ASan sees overreads
    DecodeError e = decode_frame(cut, kDefaultEtherType, &f);
    EXPECT_NE(e, DecodeError::kNone) << n;
  }
}

TEST(Frame, RejectsWrongEtherTypeVersionKindAndReservedBits) {
  Frame f;
  auto b = sample_frame(0);
  EXPECT_EQ(decode_frame(b, 0x88B6, &f), DecodeError::kWrongEtherType);
  b[kEthHeaderSize + hdr::kVersion] = 2;
  EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kWrongVersion);
  b = sample_frame(0);
  b[kEthHeaderSize + hdr::kKind] = 0;
  EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kUnknownKind);
  b[kEthHeaderSize + hdr::kKind] = 10;
  EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kUnknownKind);
  b = sample_frame(0);
  b[kEthHeaderSize + hdr::kFlags] = 0x80;
  EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kReservedBits);
  b = sample_frame(0);
  b[kEthHeaderSize + hdr::kReserved] = 1;
  EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kReservedBits);
  b = sample_frame(0);
  b[kEthHeaderSize + hdr::kHdgst] = 1;  // digest field must be zero when not negotiated
  EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kReservedBits);
}

TEST(Frame, RejectsInconsistentAndHugeLengths) {
  Frame f;
  auto b = sample_frame(0);
  put_le16(b.data() + kEthHeaderSize + hdr::kLength, 65535);  // says more than is there
  EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kTruncated);
  b = sample_frame(0);
  put_le16(b.data() + kEthHeaderSize + hdr::kLength, 50);  // says less: trailing garbage
  EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kBadLength);
  // An oversized frame (jumbo junk after a valid short payload) is inconsistent too.
  b = sample_frame(0, 10);
  b.resize(9100, 0xab);
  EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kBadLength);
}

TEST(Frame, AcceptsMinimumFramePadding) {
  auto b = sample_frame(0, 4);  // 50 bytes: a NIC pads it to 60
  ASSERT_LT(b.size(), kMinEthFrame);
  b.resize(kMinEthFrame, 0);
  Frame f;
  ASSERT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kNone);
  EXPECT_EQ(f.payload.size(), 4u);
}

TEST(Frame, DigestsCatchEveryFlippedBit) {
  auto good = sample_frame(frame_flag::kHeaderDigest | frame_flag::kDataDigest, 64);
  Frame f;
  for (size_t byte = kEthHeaderSize; byte < good.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto b = good;
      b[byte] ^= uint8_t(1 << bit);
      EXPECT_NE(decode_frame(b, kDefaultEtherType, &f), DecodeError::kNone) << byte << ":" << bit;
    }
  }
}

TEST(Frame, RandomGarbageNeverCrashes) {
  std::mt19937 rng(5);
  Frame f;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> b(rng() % 1600);
    for (auto& x : b) x = uint8_t(rng());
    if (b.size() > 14 && (i & 1)) {
      put_be16(b.data() + 12, kDefaultEtherType);
      b[14] = 1;
    }
    DecodeError e = decode_frame(b, kDefaultEtherType, &f);
    if (e == DecodeError::kNone) {
      EXPECT_LE(f.payload.size() + kFrameHeadroom, b.size());
    }
  }
}

TEST(Payloads, ConnectRetransmitTerminateDiscoveryRoundTrip) {
  ConnectRequest rq{128, 1464, digest_bits::kHeader}, rq2;
  uint8_t buf[kConnectPayloadSize];
  encode_connect_request(rq, buf);
  ASSERT_TRUE(decode_connect_request(std::span<const uint8_t>(buf, sizeof buf), &rq2));
  EXPECT_EQ(rq2.queue_size, 128);
  EXPECT_EQ(rq2.max_payload, 1464u);
  EXPECT_EQ(rq2.digests, digest_bits::kHeader);
  EXPECT_FALSE(decode_connect_request(std::span<const uint8_t>(buf, 15), &rq2));

  ConnectResponse rs, rs2;
  rs.result = ConnectResult::kNoResources;
  rs.queue_size = 64;
  rs.max_payload = 8964;
  rs.digests = 3;
  rs.max_transfer = 1 << 20;
  encode_connect_response(rs, buf);
  ASSERT_TRUE(decode_connect_response(std::span<const uint8_t>(buf, sizeof buf), &rs2));
  EXPECT_EQ(rs2.result, ConnectResult::kNoResources);
  EXPECT_EQ(rs2.max_transfer, 1u << 20);

  std::vector<ByteRange> ranges{{0, 1464}, {2928, 100}}, back;
  auto enc = encode_retransmit_request(ranges);
  ASSERT_TRUE(decode_retransmit_request(enc, &back));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].offset, 2928u);
  enc.resize(enc.size() - 1);
  EXPECT_FALSE(decode_retransmit_request(enc, &back));

  DiscoverQuery q{"nqn.host", "nqn.sub"}, q2;
  std::vector<uint8_t> qb(kDiscoverQuerySize);
  encode_discover_query(q, qb.data());
  ASSERT_TRUE(decode_discover_query(qb, &q2));
  EXPECT_EQ(q2.hostnqn, "nqn.host");
  EXPECT_EQ(q2.subnqn, "nqn.sub");

  std::vector<DiscoverEntry> entries;
  for (int i = 0; i < 40; ++i) entries.push_back({"nqn.2026-11.io.nvmeoe:sub" + std::to_string(i), 2, i % 2 == 0, 1ull << 34});
  std::vector<DiscoverEntry> all;
  size_t first = 0;
  while (first < entries.size()) {
    std::vector<uint8_t> p;
    size_t n = encode_discover_reply(entries, first, 500, &p);
    ASSERT_GT(n, 0u);
    ASSERT_LE(p.size(), 500u);
    std::vector<DiscoverEntry> part;
    ASSERT_TRUE(decode_discover_reply(p, &part));
    all.insert(all.end(), part.begin(), part.end());
    first += n;
  }
  ASSERT_EQ(all.size(), entries.size());
  EXPECT_EQ(all[39].subnqn, entries[39].subnqn);
  EXPECT_EQ(all[2].read_only, true);
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
  EXPECT_EQ(r.add(0, 300), 0u);     // duplicate
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
