// Microbenchmarks of the wire formats: nvmeoe frames (src/wire/frame.h, tx_batch.h) built and
// decoded, with and without a data digest, and NVMe SQE/CQE (src/nvme/spec.h) encode and decode.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "nvme/spec.h"
#include "wire/frame.h"
#include "wire/tx_batch.h"

namespace {

using namespace nvmeoe;

const MacAddress kDst{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const MacAddress kSrc{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

TxAssoc assoc(uint32_t mtu, bool dd) {
  TxAssoc a;
  a.dst = kDst;
  a.a = FrameAddress{1, 7, 0x12345678};
  a.max_frame = mtu;
  a.data_digest = dd;
  return a;
}

// One turn of the send path: 16 Responses packed and a frame closed (headers, header CRC), as a
// target completing 16 writes does; arg 1 adds the (empty) data digest. Items/s: Responses.
void BM_PackResponses(benchmark::State& state) {
  TxBatch b(kSrc, kDefaultEtherType, 1500);
  const TxAssoc a = assoc(1500, state.range(0) != 0);
  Cqe c;
  c.sq_id = 1;
  for (auto _ : state) {
    TxCursor cur;
    for (uint16_t cid = 0; cid < 16; ++cid) {
      SegmentHeader h;
      h.kind = FrameKind::kResponse;
      h.cid = cid;
      c.cid = cid;
      encode_cqe(c, b.add(cur, a, h, kCqeSize).data());
    }
    benchmark::DoNotOptimize(b.finish().data());
    b.clear();
  }
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_PackResponses)->ArgName("ddgst")->Arg(0)->Arg(1);

// A read's data packed into frames and closed (arg 0: the data digest, arg 1: bytes, arg 2: MTU):
// the per-byte cost of the data digest. Bytes/s counts the data.
void BM_PackReadData(benchmark::State& state) {
  const uint32_t mtu = uint32_t(state.range(2));
  TxBatch b(kSrc, kDefaultEtherType, mtu);
  const TxAssoc a = assoc(mtu, state.range(0) != 0);
  std::vector<uint8_t> data(size_t(state.range(1)), 0x5a);
  SegmentHeader h;
  h.kind = FrameKind::kData;
  h.total = uint32_t(data.size());
  for (auto _ : state) {
    TxCursor cur;
    b.add_data(cur, a, h, data.data(), 0, uint32_t(data.size()), seg_flag::kLast | seg_flag::kSuccess);
    benchmark::DoNotOptimize(b.finish().data());
    b.clear();
  }
  state.SetBytesProcessed(state.iterations() * int64_t(data.size()));
}
BENCHMARK(BM_PackReadData)
    ->ArgNames({"ddgst", "bytes", "mtu"})
    ->Args({0, 4096, 1500})
    ->Args({1, 4096, 1500})
    ->Args({0, 131072, 1500})
    ->Args({1, 131072, 1500})
    ->Args({0, 131072, 9000})
    ->Args({1, 131072, 9000});

// A whole frame decoded and checked: one Data segment of arg 1 bytes, arg 0: with the data
// digest. The header CRC is always checked. Bytes/s counts the whole frame.
void BM_FrameDecode(benchmark::State& state) {
  const auto data_len = static_cast<uint16_t>(state.range(1));
  std::vector<uint8_t> data(data_len);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 31 + 7);
  SegmentHeader h;
  h.kind = FrameKind::kData;
  h.cid = 42;
  h.offset = 8192;
  h.total = 131072;
  h.gen = 3;
  const std::vector<uint8_t> frame =
      build_frame(kDst, kSrc, kDefaultEtherType, FrameAddress{1, 7, 0x12345678}, h, {}, data, state.range(0) != 0);
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
    ->ArgNames({"ddgst", "data"})
    ->Args({0, 0})
    ->Args({0, 1460})
    ->Args({1, 1460})
    ->Args({0, 8960})
    ->Args({1, 8960});

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
