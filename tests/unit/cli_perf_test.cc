// Tests of `nvmeoe perf`'s pure parts: histogram buckets and percentiles, the verification pattern
// and table, the offset generator, and the result printers.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "cli/perf_stats.h"

namespace nvmeoe::cli {
namespace {

TEST(LatencyHistogramTest, BucketsAreContiguousAndOrdered) {
  for (size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    ASSERT_EQ(LatencyHistogram::bucket_upper(i) + 1, LatencyHistogram::bucket_lower(i + 1)) << i;
    ASSERT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::bucket_lower(i)), i);
    ASSERT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::bucket_upper(i)), i);
  }
  EXPECT_EQ(LatencyHistogram::bucket_of(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucket_of(UINT64_MAX), LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(LatencyHistogram::bucket_upper(LatencyHistogram::kBuckets - 1), UINT64_MAX);
}

TEST(LatencyHistogramTest, BucketWidthIsWithinOneSixteenth) {
  for (uint64_t v : {17ull, 100ull, 1000ull, 123456ull, 987654321ull, 1ull << 50}) {
    size_t b = LatencyHistogram::bucket_of(v);
    double width = static_cast<double>(LatencyHistogram::bucket_upper(b) - LatencyHistogram::bucket_lower(b) + 1);
    EXPECT_LE(width / static_cast<double>(v), 1.0 / 16 + 1e-9) << v;
  }
}

TEST(LatencyHistogramTest, PercentilesOfUniformSamples) {
  LatencyHistogram h;
  for (uint64_t us = 1; us <= 1000; ++us) h.record(us * 1000);  // 1..1000 us
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_DOUBLE_EQ(h.mean(), 500500.0);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 1000000u);
  auto near = [](uint64_t got, double want) { return std::abs(static_cast<double>(got) - want) <= want / 16; };
  EXPECT_TRUE(near(h.percentile(50), 500000)) << h.percentile(50);
  EXPECT_TRUE(near(h.percentile(99), 990000)) << h.percentile(99);
  EXPECT_TRUE(near(h.percentile(90), 900000)) << h.percentile(90);
  EXPECT_EQ(h.percentile(100), 1000000u);
  EXPECT_EQ(h.percentile(0), 1000u);  // clamped to the minimum
}

TEST(LatencyHistogramTest, SmallValuesAreExactAndEmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.min(), 0u);
  for (int i = 0; i < 9; ++i) h.record(5);
  h.record(7);
  EXPECT_EQ(h.percentile(50), 5u);
  EXPECT_EQ(h.percentile(95), 7u);
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a, b;
  a.record(100);
  b.record(1000000);
  b.record(50);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 50u);
  EXPECT_EQ(a.max(), 1000000u);
}

TEST(VerifyPatternTest, RoundTripAndSensitivity) {
  std::vector<uint8_t> block(512);
  fill_pattern(block.data(), 512, 1234, 77);
  EXPECT_EQ(std::string(block.begin(), block.begin() + 4), "NVOE");
  EXPECT_TRUE(check_pattern(block.data(), 512, 1234, 77));
  EXPECT_FALSE(check_pattern(block.data(), 512, 1235, 77)) << "wrong LBA";
  EXPECT_FALSE(check_pattern(block.data(), 512, 1234, 78)) << "stale write";
  block[300] ^= 1;
  EXPECT_FALSE(check_pattern(block.data(), 512, 1234, 77)) << "flipped bit";
  std::vector<uint8_t> zeros(512, 0);
  EXPECT_FALSE(check_pattern(zeros.data(), 512, 0, 1));
}

TEST(VerifyPatternTest, DifferentBlocksDiffer) {
  std::vector<uint8_t> a(4096), b(4096);
  fill_pattern(a.data(), 4096, 10, 1);
  fill_pattern(b.data(), 4096, 11, 1);
  EXPECT_NE(std::vector<uint8_t>(a.begin() + 16, a.end()), std::vector<uint8_t>(b.begin() + 16, b.end()));
  std::vector<uint8_t> odd(520);  // block sizes that are not a multiple of 8 still round-trip
  fill_pattern(odd.data(), 520, 3, 9);
  EXPECT_TRUE(check_pattern(odd.data(), 520, 3, 9));
}

TEST(VerifyTableTest, ReadsCheckOnlyKnownContent) {
  VerifyTable t(4);
  EXPECT_FALSE(t.begin_read(0).checkable) << "never written";

  uint32_t s1 = t.begin_write(0);
  EXPECT_FALSE(t.begin_read(0).checkable) << "write in flight";
  t.end_write(0, s1, true);
  auto ticket = t.begin_read(0);
  EXPECT_TRUE(ticket.checkable);
  EXPECT_EQ(ticket.expected_seq, s1);
  EXPECT_TRUE(t.still_checkable(0, ticket));

  uint32_t s2 = t.begin_write(0);  // a write submitted while the read is in flight
  EXPECT_NE(s2, s1);
  EXPECT_FALSE(t.still_checkable(0, ticket));
  t.end_write(0, s2, false);
  EXPECT_EQ(t.expected(0), kUnknownContent) << "a failed write leaves the content unknown";
  EXPECT_FALSE(t.begin_read(0).checkable);

  uint32_t s3 = t.begin_write(0);
  t.end_write(0, s3, true);
  EXPECT_EQ(t.expected(0), s3);
  EXPECT_FALSE(t.begin_read(1).checkable) << "units are independent";
}

TEST(VerifyTableTest, OverlappingWritesMakeContentUnknown) {
  VerifyTable t(1);
  uint32_t a = t.begin_write(0), b = t.begin_write(0);
  t.end_write(0, b, true);
  EXPECT_FALSE(t.begin_read(0).checkable);
  t.end_write(0, a, true);
  EXPECT_EQ(t.expected(0), kUnknownContent) << "either write may have landed last";
  uint32_t c = t.begin_write(0);
  t.end_write(0, c, true);
  EXPECT_EQ(t.expected(0), c) << "a lone write makes it known again";
}

TEST(IoGeneratorTest, SequentialWrapsAndRandomStaysInRange) {
  IoGenerator seq(Workload::kRead, 3, 50, 1);
  std::vector<uint64_t> units;
  for (int i = 0; i < 7; ++i) {
    auto n = seq.next();
    EXPECT_FALSE(n.write);
    units.push_back(n.unit);
  }
  EXPECT_EQ(units, (std::vector<uint64_t>{0, 1, 2, 0, 1, 2, 0}));

  IoGenerator rnd(Workload::kRandWrite, 1000, 50, 42);
  std::set<uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    auto n = rnd.next();
    EXPECT_TRUE(n.write);
    EXPECT_LT(n.unit, 1000u);
    seen.insert(n.unit);
  }
  EXPECT_GT(seen.size(), 700u);
}

TEST(IoGeneratorTest, MixHonoursReadPercentage) {
  IoGenerator mix(Workload::kRandRw, 100, 70, 7);
  int reads = 0;
  for (int i = 0; i < 10000; ++i) reads += mix.next().write ? 0 : 1;
  EXPECT_NEAR(reads, 7000, 300);
  IoGenerator all_reads(Workload::kRw, 10, 100, 7), all_writes(Workload::kRw, 10, 0, 7);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(all_reads.next().write);
    EXPECT_TRUE(all_writes.next().write);
  }
}

PerfResult sample_result() {
  PerfResult r;
  r.workload = "randrw";
  r.io_size = 4096;
  r.depth = 32;
  r.queues = 2;
  r.nsid = 1;
  r.seconds = 2.0;
  r.reads = 3000;
  r.writes = 1000;
  r.bytes = 4000ull * 4096;
  for (int i = 0; i < 4000; ++i) r.latency.record(100000);  // 100 us
  r.verify = true;
  r.verified_blocks = 2000;
  r.skipped_blocks = 400;
  return r;
}

TEST(IoSizeRangeTest, PicksEveryPowerOfTwoInRangeAndAlignsUnits) {
  IoSizeRange r;
  std::string why;
  ASSERT_TRUE(parse_io_size_range("4096-1M", &r, &why)) << why;
  EXPECT_EQ(r.min, 4096u);
  EXPECT_EQ(r.max, 1u << 20);
  EXPECT_EQ(r.choices(), 9u);
  std::map<uint32_t, int> seen;
  uint64_t x = 12345;
  for (int i = 0; i < 9000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t s = r.pick(x >> 11);
    ASSERT_GE(s, r.min);
    ASSERT_LE(s, r.max);
    ASSERT_EQ(s & (s - 1), 0u) << s;
    ASSERT_EQ(s % 4096, 0u);
    ++seen[s];
  }
  EXPECT_EQ(seen.size(), 9u);
  for (auto& [size, n] : seen) EXPECT_GT(n, 700) << size;  // about 1000 each
  // An I/O of 16 KiB (4 units) starts at a multiple of 4 units.
  EXPECT_EQ(r.align(7, 16384), 4u);
  EXPECT_EQ(r.align(8, 16384), 8u);
  EXPECT_EQ(r.align(7, 4096), 7u);
  EXPECT_EQ(r.align(255, 1u << 20), 0u);

  IoSizeRange fixed;
  ASSERT_TRUE(parse_io_size_range("8K-8K", &fixed, &why)) << why;
  EXPECT_EQ(fixed.choices(), 1u);
  EXPECT_EQ(fixed.pick(987654321), 8192u);

  for (const char* bad : {"4096", "3000-8192", "8192-4096", "256-4096", "4096-128M", "a-b", "4096-"})
    EXPECT_FALSE(parse_io_size_range(bad, &r, &why)) << bad;
}

TEST(VerifyTableTest, MultiUnitWriteSharesOneSequence) {
  VerifyTable t(8);
  uint32_t seq = t.begin_write(4, 4);
  for (uint64_t u = 4; u < 8; ++u) EXPECT_FALSE(t.begin_read(u).checkable);
  auto r0 = t.begin_read(0);
  for (uint64_t u = 4; u < 8; ++u) t.end_write(u, seq, true);
  for (uint64_t u = 4; u < 8; ++u) {
    auto r = t.begin_read(u);
    EXPECT_TRUE(r.checkable);
    EXPECT_EQ(r.expected_seq, seq);
  }
  EXPECT_FALSE(r0.checkable);
  // A read of units 4..7 issued now loses unit 5 to a later single-unit write, not the others.
  auto r4 = t.begin_read(4), r5 = t.begin_read(5);
  uint32_t s2 = t.begin_write(5);
  t.end_write(5, s2, true);
  EXPECT_TRUE(t.still_checkable(4, r4));
  EXPECT_FALSE(t.still_checkable(5, r5));
}

TEST(PerfReportTest, TextReport) {
  PerfResult r = sample_result();
  EXPECT_DOUBLE_EQ(r.iops(), 2000.0);
  EXPECT_NEAR(r.mib_per_s(), 7.8125, 1e-9);
  EXPECT_FALSE(r.failed());
  std::string text = format_perf_text(r);
  EXPECT_EQ(text,
            "nvmeoe perf: randrw, 4096-byte I/Os, depth 32 x 2 queue(s), nsid 1, 2.00 s\n"
            "IOPS: 2000.00  MiB/s: 7.81\n"
            "latency (us): mean 100.00  p50 100.00  p99 100.00  min 100.00  max 100.00\n"
            "reads: 3000  writes: 1000  errors: 0\n"
            "verify: 2000 blocks checked, 400 skipped, 0 mismatches\n");
  // Frames of the run, per I/O; frames dropped for a bad digest when there were any.
  r.frames_sent = 1000;
  r.frames_received = 12000;
  r.digest_errors = 3;
  text = format_perf_text(r);
  EXPECT_NE(text.find("frames per I/O: 0.25 sent, 3.00 received\n"), std::string::npos) << text;
  EXPECT_NE(text.find("frames dropped for a bad digest: 3\n"), std::string::npos) << text;
  r.mismatches = 1;
  r.first_error = "data mismatch";
  EXPECT_TRUE(r.failed());
  EXPECT_NE(format_perf_text(r).find("first error: data mismatch\n"), std::string::npos);
}

TEST(PerfReportTest, JsonReport) {
  PerfResult r = sample_result();
  r.errors = 2;
  auto j = perf_json(r);
  EXPECT_EQ(j["workload"], "randrw");
  EXPECT_DOUBLE_EQ(j["iops"].get<double>(), 2000.0);
  EXPECT_DOUBLE_EQ(j["latency_us"]["p99"].get<double>(), 100.0);
  EXPECT_EQ(j["errors"], 2);
  EXPECT_EQ(j["verify"]["mismatches"], 0);
  EXPECT_EQ(j["frames"]["per_io"], 0.0);
  r.frames_sent = 400;
  r.frames_received = 1200;
  r.digest_errors = 1;
  j = perf_json(r);
  EXPECT_EQ(j["frames"]["sent"], 400);
  EXPECT_DOUBLE_EQ(j["frames"]["sent_per_io"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(j["frames"]["per_io"].get<double>(), 0.4);
  EXPECT_EQ(j["digest_errors"], 1);
  EXPECT_TRUE(r.failed());
  r.verify = false;
  EXPECT_FALSE(perf_json(r).contains("verify"));
}

}  // namespace
}  // namespace nvmeoe::cli
