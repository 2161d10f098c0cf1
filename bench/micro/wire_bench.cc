// Microbenchmarks of the wire formats: nvmeoe frame headers (src/wire/frame.h) and NVMe SQE/CQE
// (src/nvme/spec.h), encode and decode, with and without a header digest.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "nvme/spec.h"
#include "wire/frame.h"

namespace {

using namespace nvmeoe;

const MacAddress kDst{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const MacAddress kSrc{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

FrameHeader data_header(uint8_t flags, uint16_t length) {
  FrameHeader h;
  h.kind = FrameKind::kData;
  h.flags = flags;
  h.qid = 1;
  h.cntlid = 7;
  h.nonce = 0x12345678;
  h.cid = 42;
  h.length = length;
  h.offset = 8192;
  h.total = 131072;
  h.gen = 3;
  return h;
}

// Ethernet + nvmeoe headers (46 bytes) written for one frame; arg 1 asks for the header digest.
void BM_FrameHeaderEncode(benchmark::State& state) {
  const uint8_t flags = state.range(0) ? frame_flag::kHeaderDigest : 0;
  std::array<uint8_t, kFrameHeadroom> out{};
  FrameHeader h = data_header(flags, 1464);
  for (auto _ : state) {
    benchmark::DoNotOptimize(h);
    encode_headers(out.data(), kDst, kSrc, kDefaultEtherType, h);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    ++h.offset;  // a different header each time
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(kFrameHeadroom));
}
BENCHMARK(BM_FrameHeaderEncode)->ArgName("hdgst")->Arg(0)->Arg(1);

// A whole frame decoded and checked: a Data frame with a payload of arg 1 bytes; arg 0 selects the
// digests (0: none, 1: header, 2: header and data). Bytes/s counts the whole frame.
void BM_FrameDecode(benchmark::State& state) {
  uint8_t flags = 0;
  if (state.range(0) >= 1) flags |= frame_flag::kHeaderDigest;
  if (state.range(0) >= 2) flags |= frame_flag::kDataDigest;
  const auto payload_len = static_cast<uint16_t>(state.range(1));
  std::vector<uint8_t> payload(payload_len);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = uint8_t(i * 31 + 7);
  const std::vector<uint8_t> frame =
      build_frame(kDst, kSrc, kDefaultEtherType, data_header(flags, payload_len), payload);
  Frame f;
  for (auto _ : state) {
    DecodeError e = decode_frame(frame, kDefaultEtherType, &f);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(f);
    if (e != DecodeError::kNone) {
      state.SkipWithError(decode_error_name(e));
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(frame.size()));
}
BENCHMARK(BM_FrameDecode)
    ->ArgNames({"digests", "payload"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1464})
    ->Args({2, 1464})
    ->Args({0, 8964})
    ->Args({2, 8964});

Sqe read_sqe() {
  Sqe s;
  s.opcode = 0x02;  // Read
  s.cid = 17;
  s.nsid = 1;
  s.dptr[15] = 0x5a;  // SGL descriptor type/subtype byte
  s.cdw10 = 0x1000;
  s.cdw11 = 0;
  s.cdw12 = 7;  // 8 blocks
  return s;
}

void BM_SqeEncode(benchmark::State& state) {
  Sqe s = read_sqe();
  std::array<uint8_t, kSqeSize> out{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(s);
    encode_sqe(s, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    ++s.cdw10;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(kSqeSize));
}
BENCHMARK(BM_SqeEncode);

void BM_SqeDecode(benchmark::State& state) {
  std::array<uint8_t, kSqeSize> in{};
  encode_sqe(read_sqe(), in.data());
  for (auto _ : state) {
    benchmark::DoNotOptimize(in.data());
    Sqe s = decode_sqe(in.data());
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(kSqeSize));
}
BENCHMARK(BM_SqeDecode);

void BM_CqeEncode(benchmark::State& state) {
  Cqe c;
  c.sq_head = 5;
  c.sq_id = 1;
  c.cid = 17;
  std::array<uint8_t, kCqeSize> out{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(c);
    encode_cqe(c, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    ++c.cid;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(kCqeSize));
}
BENCHMARK(BM_CqeEncode);

void BM_CqeDecode(benchmark::State& state) {
  Cqe c;
  c.sq_head = 5;
  c.sq_id = 1;
  c.cid = 17;
  std::array<uint8_t, kCqeSize> in{};
  encode_cqe(c, in.data());
  for (auto _ : state) {
    benchmark::DoNotOptimize(in.data());
    Cqe d = decode_cqe(in.data());
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(kCqeSize));
}
BENCHMARK(BM_CqeDecode);

}  // namespace
