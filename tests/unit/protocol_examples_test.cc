// The worked examples of docs/PROTOCOL.md §15 are what the encoders produce: each example is built
// here with the code that sends it (TxBatch, the metadata codecs, the NVMe structure encoders) and
// compared byte for byte with the hex dump under its `<!-- example: NAME -->` marker in the
// document. NVMEOE_PRINT_EXAMPLES=1 prints the dumps instead (to write the document).
// tests/docs/check_protocol_examples.py checks the same dumps' CRCs with an independent CRC32C.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>

#include "common/bytes.h"
#include "nvme/spec.h"
#include "wire/crc32c.h"
#include "wire/frame.h"
#include "wire/tx_batch.h"
#include "wire/v1_compat.h"

#ifndef NVMEOE_SOURCE_DIR
#error "NVMEOE_SOURCE_DIR must name the source tree (CMakeLists.txt defines it)"
#endif

namespace nvmeoe {
namespace {

const MacAddress kHost{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddress kTarget{{0x02, 0, 0, 0, 0, 0x02}};
constexpr uint32_t kAdminNonce = 0x1A2B3C4D, kIoNonce = 0x55667788;

std::vector<uint8_t> join(std::span<const TxFrame> frames) {
  EXPECT_EQ(frames.size(), 1u);
  std::vector<uint8_t> out;
  for (const auto& p : frames[0].parts()) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TxAssoc to(const MacAddress& dst, uint16_t qid, uint16_t cntlid, uint32_t nonce, bool dd) {
  TxAssoc a;
  a.dst = dst;
  a.a = FrameAddress{qid, cntlid, nonce};
  a.max_frame = 1500;
  a.data_digest = dd;
  return a;
}

SegmentHeader seg(FrameKind kind, uint16_t cid = 0, uint32_t gen = 0) {
  SegmentHeader h;
  h.kind = kind;
  h.cid = cid;
  h.gen = gen;
  return h;
}

std::vector<uint8_t> connect_request() {
  TxBatch b(kHost, kDefaultEtherType, 1500);
  ConnectRequest r{32, 1500, digest_bits::kData};
  encode_connect_request(r, b.add_alone(to(kTarget, 0, kNoController, kAdminNonce, false),
                                        seg(FrameKind::kConnectRequest), kConnectMetaSize)
                                .data());
  return join(b.finish());
}

std::vector<uint8_t> connect_response() {
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  ConnectResponse r;
  r.queue_size = 32;
  r.max_frame = 1500;
  r.digests = digest_bits::kData;
  r.max_transfer = 1u << 20;
  encode_connect_response(r, b.add_alone(to(kHost, 0, kNoController, kAdminNonce, false),
                                         seg(FrameKind::kConnectResponse), kConnectMetaSize)
                                 .data());
  return join(b.finish());
}

std::vector<uint8_t> fabrics_connect() {
  ConnectCommand cc;
  cc.qid = 0;
  cc.sqsize = 31;
  cc.kato_ms = 5000;
  Sqe sqe;
  encode_connect_command(cc, sqe);
  sqe.cid = 0;
  set_sgl_length(sqe, kConnectDataSize);
  ConnectData d;
  for (int i = 0; i < 16; ++i) d.hostid[i] = uint8_t(0x10 + i);
  d.cntlid = 0xffff;
  d.subnqn = "nqn.2024-01.io.example:disk1";
  d.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001";
  static std::vector<uint8_t> data(kConnectDataSize);
  encode_connect_data(d, data.data());
  TxBatch b(kHost, kDefaultEtherType, 1500);
  TxCursor cur;
  SegmentHeader h = seg(FrameKind::kCommand, 0, 1);
  h.total = kConnectDataSize;
  encode_sqe(sqe, b.add(cur, to(kTarget, 0, kNoController, kAdminNonce, true), h, kSqeSize, data).data());
  return join(b.finish());
}

std::vector<uint8_t> packed_responses() {
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  TxCursor cur;
  TxAssoc a = to(kHost, 1, 1, kIoNonce, true);
  Cqe ok;
  ok.sq_id = 1;
  ok.cid = 5;
  Cqe bad;
  bad.sq_id = 1;
  bad.cid = 6;
  bad.status = sc::kLbaOutOfRange | sc::kDnr;
  encode_cqe(ok, b.add(cur, a, seg(FrameKind::kResponse, 5, 40), kCqeSize).data());
  encode_cqe(bad, b.add(cur, a, seg(FrameKind::kResponse, 6, 41), kCqeSize).data());
  return join(b.finish());
}

std::vector<uint8_t> log_page_success() {
  static std::vector<uint8_t> entry(64, 0);  // one Error Information entry, all zero
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  TxCursor cur;
  SegmentHeader h = seg(FrameKind::kData, 3, 9);
  h.total = 64;
  b.add_data(cur, to(kHost, 0, 1, kAdminNonce, true), h, entry.data(), 0, 64, seg_flag::kLast | seg_flag::kSuccess);
  return join(b.finish());
}

std::vector<uint8_t> packed_reads() {
  TxBatch b(kHost, kDefaultEtherType, 1500);
  TxCursor cur;
  TxAssoc a = to(kTarget, 1, 1, kIoNonce, true);
  for (uint16_t i = 0; i < 2; ++i) {
    Sqe s;
    s.opcode = io_opcode::kRead;
    s.flags = kPsdtSgl;
    s.cid = uint16_t(1 + i);
    s.nsid = 1;
    s.cdw10 = uint32_t(8 * i);  // SLBA 0 and 8
    s.cdw12 = 7;                // 8 blocks
    set_sgl_length(s, 4096);
    SegmentHeader h = seg(FrameKind::kCommand, s.cid, 100u + i);
    h.total = 4096;
    encode_sqe(s, b.add(cur, a, h, kSqeSize).data());
  }
  return join(b.finish());
}

std::vector<uint8_t> retransmit_request() {
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  TxCursor cur;
  std::vector<ByteRange> ranges{{2856, 1460}};
  encode_retransmit_request(
      std::span<const ByteRange>(ranges),
      b.add(cur, to(kHost, 1, 1, kIoNonce, true), seg(FrameKind::kRetransmitRequest, 6, 41), retransmit_meta_size(1))
          .data());
  return join(b.finish());
}

std::vector<uint8_t> terminate() {
  TxBatch b(kHost, kDefaultEtherType, 1500);
  std::span<uint8_t> m = b.add_alone(to(kTarget, 0, 1, kAdminNonce, false), seg(FrameKind::kTerminate), 4);
  put_le16(m.data(), uint16_t(TerminateReason::kHostDisconnect));
  put_le16(m.data() + 2, 0);
  return join(b.finish());
}

std::vector<uint8_t> discover_reply() {
  std::vector<DiscoverEntry> entries{{"nqn.2024-01.io.example:disk1", 1, false, 1ull << 30}};
  std::vector<uint8_t> meta;
  encode_discover_reply(entries, 0, 1400, &meta);
  TxBatch b(kTarget, kDefaultEtherType, 1500);
  SegmentHeader h = seg(FrameKind::kDiscoverReply);
  h.total = 1;
  std::span<uint8_t> m = b.add_alone(to(kHost, 0, kNoController, 0xCAFEF00D, false), h, meta.size());
  std::memcpy(m.data(), meta.data(), meta.size());
  return join(b.finish());
}

std::vector<uint8_t> v1_request() {
  return v1::connect_request(kTarget, kHost, kDefaultEtherType, 0, kAdminNonce, 32, 1500);
}

std::vector<uint8_t> v1_refusal() {
  auto h = v1::peek(v1_request(), kDefaultEtherType);
  return v1::connect_response(kHost, kTarget, kDefaultEtherType, *h, v1::kResultUnsupportedVersion);
}

// Example name -> (bytes, how many of them the document shows: all when 0).
struct Example {
  std::function<std::vector<uint8_t>()> build;
  size_t shown = 0;
};
const std::map<std::string, Example>& examples() {
  static const std::map<std::string, Example> all = {
      {"connect-request", {connect_request}},
      {"connect-response", {connect_response}},
      {"fabrics-connect", {fabrics_connect, 14 + 12 + 20 + 64 + 4}},
      {"packed-responses", {packed_responses}},
      {"log-page-success", {log_page_success}},
      {"packed-reads", {packed_reads}},
      {"retransmit-request", {retransmit_request}},
      {"terminate", {terminate}},
      {"discover-reply", {discover_reply}},
      {"v1-connect-request", {v1_request}},
      {"v1-refusal", {v1_refusal}},
  };
  return all;
}

std::string hexdump(const std::vector<uint8_t>& b) {
  std::string out;
  char line[24];
  for (size_t i = 0; i < b.size(); i += 16) {
    std::snprintf(line, sizeof line, "%04zx", i);
    out += line;
    for (size_t k = i; k < std::min(b.size(), i + 16); ++k) {
      std::snprintf(line, sizeof line, " %02x", b[k]);
      out += line;
    }
    out += "\n";
  }
  return out;
}

// The bytes of the first code block after `<!-- example: NAME -->` in the document.
std::vector<uint8_t> from_document(const std::string& doc, const std::string& name) {
  size_t at = doc.find("<!-- example: " + name + " -->");
  if (at == std::string::npos) return {};
  size_t open = doc.find("```", at);
  size_t close = doc.find("```", open + 3);
  if (open == std::string::npos || close == std::string::npos) return {};
  std::istringstream in(doc.substr(open + 3, close - open - 3));
  std::vector<uint8_t> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string offset, byte;
    if (!(words >> offset)) continue;
    while (words >> byte && byte.size() == 2 && std::isxdigit(byte[0]) && std::isxdigit(byte[1]))
      out.push_back(uint8_t(std::stoul(byte, nullptr, 16)));
  }
  return out;
}

TEST(ProtocolExamples, DocumentShowsWhatTheEncodersProduce) {
  if (std::getenv("NVMEOE_PRINT_EXAMPLES")) {
    for (const auto& [name, ex] : examples()) {
      std::vector<uint8_t> b = ex.build();
      std::printf("<!-- example: %s --> (%zu bytes)\n```\n%s```\n", name.c_str(), b.size(),
                  hexdump(ex.shown ? std::vector<uint8_t>(b.begin(), b.begin() + long(ex.shown)) : b).c_str());
    }
    GTEST_SKIP() << "printed the examples";
  }
  std::ifstream f(std::string(NVMEOE_SOURCE_DIR) + "/docs/PROTOCOL.md");
  ASSERT_TRUE(f) << "cannot read docs/PROTOCOL.md";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  for (const auto& [name, ex] : examples()) {
    std::vector<uint8_t> built = ex.build();
    if (ex.shown) built.resize(ex.shown);
    std::vector<uint8_t> shown = from_document(doc, name);
    EXPECT_EQ(hexdump(shown), hexdump(built)) << "example " << name << " in docs/PROTOCOL.md";
  }
}

TEST(ProtocolExamples, EveryVersion2ExampleDecodes) {
  for (const auto& [name, ex] : examples()) {
    if (name.rfind("v1-", 0) == 0) continue;
    std::vector<uint8_t> b = ex.build();
    if (b.size() < kMinEthFrame) b.resize(kMinEthFrame, 0);  // as it arrives, padded
    Frame f;
    EXPECT_EQ(decode_frame(b, kDefaultEtherType, &f), DecodeError::kNone) << name;
  }
  // The full Fabrics Connect's data digest, which the document states.
  std::vector<uint8_t> fc = fabrics_connect();
  EXPECT_EQ(get_le32(fc.data() + fc.size() - 4),
            crc32c(fc.data() + fc.size() - 4 - kConnectDataSize, kConnectDataSize));
  EXPECT_EQ(get_le32(fc.data() + fc.size() - 4), 0xD2D6BB43u);  // as §15.2 states
  EXPECT_EQ(fc.size(), 1142u);
}

}  // namespace
}  // namespace nvmeoe
