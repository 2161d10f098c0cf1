// Microbenchmarks of CRC32C (src/wire/crc32c.h) over a 64-byte SQE, a 4 KiB block and an
// 8964-byte payload (the largest at MTU 9000): crc32c() (SSE4.2 when the CPU has it) and the
// portable table version.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "wire/crc32c.h"

namespace {

using namespace nvmeoe;

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  uint32_t x = 0x9e3779b9u;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = uint8_t(x >> 24);
  }
  return v;
}

void BM_Crc32c(benchmark::State& state) {
  const std::vector<uint8_t> data = pattern(size_t(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(data.data());
    uint32_t crc = crc32c(data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32c)->ArgName("bytes")->Arg(64)->Arg(4096)->Arg(8964);

void BM_Crc32cPortable(benchmark::State& state) {
  const std::vector<uint8_t> data = pattern(size_t(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(data.data());
    uint32_t crc = crc32c_extend_portable(0, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32cPortable)->ArgName("bytes")->Arg(64)->Arg(4096)->Arg(8964);

}  // namespace
