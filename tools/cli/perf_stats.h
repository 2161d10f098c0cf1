// The pure parts of `nvmeoe perf`: a log2-bucketed latency histogram, the data-verification
// pattern and the table of what each I/O unit should hold, the workload's offset generator, and
// the result model with its text and JSON printers. No I/O here, so all of it is unit-tested.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"

namespace nvmeoe::cli {

// Latencies in nanoseconds. Each power of two is split into 16 linear sub-buckets, so a
// percentile is within 1/16 (6.25%) of the true value; values below 16 ns are exact. Fixed size,
// no allocation per sample.
class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 4;
  static constexpr uint64_t kSub = uint64_t(1) << kSubBits;
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub;

  static size_t bucket_of(uint64_t v);
  static uint64_t bucket_lower(size_t i);
  static uint64_t bucket_upper(size_t i);  // inclusive

  void record(uint64_t ns);
  void merge(const LatencyHistogram& other);
  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // The value below which `p` percent (0 < p <= 100) of the samples lie: the middle of the bucket
  // holding the rank ceil(p/100 * count), clamped to [min, max]; the first and last ranks are the
  // exact min and max. 0 without samples.
  uint64_t percentile(double p) const;

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0, sum_ = 0, min_ = UINT64_MAX, max_ = 0;
};

// Verification data: every block written by perf --verify starts with "NVOE", the write's
// sequence number and the block's LBA (little-endian), followed by a pseudo-random stream seeded
// from (lba, seq). A read of a block is checked against the last completed write to it.
inline constexpr uint32_t kNeverWritten = 0;
inline constexpr uint32_t kUnknownContent = UINT32_MAX;
void fill_pattern(uint8_t* block, uint32_t block_size, uint64_t lba, uint32_t seq);
bool check_pattern(const uint8_t* block, uint32_t block_size, uint64_t lba, uint32_t seq);

// What each I/O unit (io_size bytes at an io_size-aligned offset) of the span should hold. Not
// thread-safe: the perf runner calls it under its lock.
class VerifyTable {
 public:
  explicit VerifyTable(uint64_t units) : entries_(units) {}
  uint64_t units() const { return entries_.size(); }

  // A write to `count` units from `unit` is being submitted; returns its sequence number (never 0
  // or UINT32_MAX), the same for every unit it covers.
  uint32_t begin_write(uint64_t unit, uint64_t count = 1);
  // That write completed. Success makes `seq` the expected content, unless writes to the unit
  // overlapped in time (their order on the media is then unknown); failure makes it unknown.
  void end_write(uint64_t unit, uint32_t seq, bool ok);

  struct ReadTicket {
    uint32_t expected_seq = kNeverWritten;
    uint32_t epoch = 0;
    bool checkable = false;  // written before, content known, no write in flight
  };
  ReadTicket begin_read(uint64_t unit) const;
  // At the read's completion: still checkable when no write to the unit was submitted meanwhile.
  bool still_checkable(uint64_t unit, const ReadTicket& t) const;
  uint32_t expected(uint64_t unit) const { return entries_[unit].last_seq; }

 private:
  struct Entry {
    uint32_t last_seq = kNeverWritten;
    uint32_t epoch = 0;  // bumped by every begin_write
    uint16_t writes_in_flight = 0;
    bool overlapped = false;
  };
  std::vector<Entry> entries_;
  uint32_t next_seq_ = 1;
};

// Picks each I/O's unit and direction: sequential workloads walk the span and wrap, random ones
// draw uniformly; mixed ones read with probability rwmixread percent.
class IoGenerator {
 public:
  IoGenerator(Workload w, uint64_t units, unsigned rwmixread, uint64_t seed);
  struct Next {
    uint64_t unit;
    bool write;
  };
  Next next();

 private:
  uint64_t rand64();
  Workload workload_;
  uint64_t units_;
  unsigned rwmixread_;
  uint64_t cursor_ = 0;
  uint64_t state_;
};

// --bs-range: I/O sizes are powers of two from `min` to `max` (both powers of two, min <= max).
struct IoSizeRange {
  uint32_t min = 4096, max = 4096;
  // How many sizes there are (1 for a fixed size).
  unsigned choices() const;
  // The size for the random value `r`: min << (r % choices()), uniform over the choices.
  uint32_t pick(uint64_t r) const;
  // The first unit (of `min` bytes) of an I/O of `size` bytes holding `unit`: aligned to its size.
  uint64_t align(uint64_t unit, uint32_t size) const { return unit & ~(uint64_t(size / min) - 1); }
};
// Parses "MIN-MAX" (byte sizes such as 4096-1M); both powers of two, MIN <= MAX. Empty on error,
// with the reason in *error.
bool parse_io_size_range(const std::string& text, IoSizeRange* out, std::string* error);

struct PerfResult {
  std::string workload;
  uint32_t io_size = 0, io_size_max = 0;  // io_size_max > io_size: --bs-range
  uint64_t reconnects = 0;
  unsigned depth = 0, queues = 0;
  uint32_t nsid = 0;
  double seconds = 0;  // measured run time
  uint64_t reads = 0, writes = 0, errors = 0;
  uint64_t bytes = 0;
  LatencyHistogram latency;
  bool verify = false;
  uint64_t verified_blocks = 0, skipped_blocks = 0, mismatches = 0;
  // Frames of the host's link during the measured run, and frames it dropped for a bad digest.
  uint64_t frames_sent = 0, frames_received = 0, digest_errors = 0;
  std::string first_error;  // the first failure, for the report

  double iops() const { return seconds > 0 ? static_cast<double>(reads + writes) / seconds : 0.0; }
  double mib_per_s() const { return seconds > 0 ? static_cast<double>(bytes) / (1024.0 * 1024.0) / seconds : 0.0; }
  bool failed() const { return errors > 0 || mismatches > 0; }
};

std::string format_perf_text(const PerfResult& r);
nlohmann::ordered_json perf_json(const PerfResult& r);

}  // namespace nvmeoe::cli
