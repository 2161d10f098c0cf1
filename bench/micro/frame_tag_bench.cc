// Microbenchmarks of per-frame authentication (src/auth/frame_key.h): sealing and opening a frame
// with an AES-256-GMAC tag at the frame sizes of MTU 1500 and 9000, beside the data digest
// (crc32c_bench.cc) it replaces on an authenticated association.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <vector>

#include "auth/frame_key.h"

namespace {

using namespace nvmeoe;

std::unique_ptr<auth::FrameKey> key() {
  std::array<uint8_t, auth::kFrameKeyLen> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(i * 5 + 1);
  return std::move(auth::FrameKey::create(k)).value();
}

void BM_FrameTagSeal(benchmark::State& state) {
  std::vector<uint8_t> frame(size_t(state.range(0)), 0x5a);
  auto k = key();
  const std::span<const uint8_t> parts[1] = {frame};
  uint8_t trailer[kFrameTrailerSize];
  for (auto _ : state) {
    k->seal(parts, trailer);
    benchmark::DoNotOptimize(trailer);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FrameTagSeal)->ArgName("bytes")->Arg(64)->Arg(1500)->Arg(9000);

void BM_FrameTagOpen(benchmark::State& state) {
  std::vector<uint8_t> frame(size_t(state.range(0)), 0x5a);
  auto tx = key(), rx = key();
  const std::span<const uint8_t> parts[1] = {frame};
  // Fresh sequence numbers each round, as a receiver sees them.
  std::vector<std::array<uint8_t, kFrameTrailerSize>> trailers(4096);
  size_t i = trailers.size();
  for (auto _ : state) {
    if (i == trailers.size()) {
      state.PauseTiming();
      for (auto& t : trailers) tx->seal(parts, t.data());
      i = 0;
      state.ResumeTiming();
    }
    auth::FrameCheck c = rx->open(frame, trailers[i++].data());
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FrameTagOpen)->ArgName("bytes")->Arg(64)->Arg(1500)->Arg(9000);

}  // namespace
