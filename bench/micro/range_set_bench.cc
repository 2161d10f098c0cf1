// Microbenchmark of reassembly bookkeeping (src/wire/range_set.h): the byte ranges of a 128 KiB
// command arriving in 1460-byte segments (the data of a frame at MTU 1500), in order and shuffled.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "wire/range_set.h"

namespace {

using namespace nvmeoe;

constexpr uint64_t kCommandBytes = 128 * 1024;
constexpr uint64_t kFrameBytes = 1460;

std::vector<std::pair<uint64_t, uint64_t>> frames(bool shuffled) {
  std::vector<std::pair<uint64_t, uint64_t>> v;
  for (uint64_t off = 0; off < kCommandBytes; off += kFrameBytes)
    v.emplace_back(off, std::min(kFrameBytes, kCommandBytes - off));
  if (shuffled) {
    std::mt19937_64 rng(12345);  // the same order every run
    std::shuffle(v.begin(), v.end(), rng);
  }
  return v;
}

// arg 0: 0 in order, 1 shuffled. One iteration reassembles one whole command; the set is reused
// (clear() keeps its storage, as a receive slot would).
void BM_RangeSetReassemble128K(benchmark::State& state) {
  const auto order = frames(state.range(0) != 0);
  RangeSet rs;
  for (auto _ : state) {
    rs.clear();
    for (const auto& [off, len] : order) {
      uint64_t added = rs.add(off, len);
      benchmark::DoNotOptimize(added);
    }
    bool done = rs.complete(kCommandBytes);
    benchmark::DoNotOptimize(done);
    if (!done) {
      state.SkipWithError("reassembly did not complete");
      break;
    }
  }
  state.counters["frames"] = double(order.size());
  state.SetItemsProcessed(state.iterations() * int64_t(order.size()));
  state.SetBytesProcessed(state.iterations() * int64_t(kCommandBytes));
}
BENCHMARK(BM_RangeSetReassemble128K)->ArgName("shuffled")->Arg(0)->Arg(1);

}  // namespace
