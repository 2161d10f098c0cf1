// Tests for src/backend: size parsing, the RAM backend, and the io_uring backend on files (/tmp,
// and /dev/shm for tmpfs) and, when running as root, on a loop block device.
#include "backend/backend.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "backend/uring_backend.h"

namespace nvmeoe {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

// A file created with mkstemp() in `dir` and given `size` bytes (sparse); removed on destruction.
class TempFile {
 public:
  TempFile(const std::string& dir, uint64_t size) {
    std::string templ = dir + "/nvmeoe-backend-test-XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    int fd = ::mkstemp(name.data());
    if (fd < 0) return;
    path_ = name.data();
    ok_ = ::ftruncate(fd, off_t(size)) == 0;
    ::close(fd);
  }
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool ok_ = false;
};

// Detaches a loop device however the test ends.
class LoopGuard {
 public:
  explicit LoopGuard(std::string dev) : dev_(std::move(dev)) {}
  ~LoopGuard() {
    std::string cmd = "losetup -d '" + dev_ + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "warning: '%s' failed\n", cmd.c_str());
  }
  LoopGuard(const LoopGuard&) = delete;
  LoopGuard& operator=(const LoopGuard&) = delete;

 private:
  std::string dev_;
};

std::string run_command(const std::string& cmd) {
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return "";
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, f) != nullptr) out += buf;
  if (::pclose(f) != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

BackendOp make_op(BackendOpKind kind, uint64_t offset, uint64_t length, uint8_t* buf, uint64_t tag) {
  BackendOp op;
  op.kind = kind;
  op.offset = offset;
  op.length = length;
  op.buf = buf;
  op.tag = tag;
  return op;
}

// Reaps until `want` completions arrived, sleeping on wait_fd() in between. Fails the test if the
// fd stays quiet while work is outstanding: that would hang a real event loop.
void collect(Backend& b, size_t want, std::vector<BackendCompletion>* out) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    b.reap([&](const BackendCompletion& c) { out->push_back(c); });
    if (out->size() >= want) return;
    if (b.wait_fd() < 0) {
      ADD_FAILURE() << "immediate backend left " << want - out->size() << " completions undelivered";
      return;
    }
    pollfd p{b.wait_fd(), POLLIN, 0};
    if (::poll(&p, 1, 10000) == 0) {
      ADD_FAILURE() << "wait_fd() not readable with " << b.in_flight() << " ops in flight";
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "timed out";
      return;
    }
  }
}

// Submits all ops at once, then waits for them. Returns results indexed by tag (tags are 0..n-1).
std::vector<int> run_ops(Backend& b, const std::vector<BackendOp>& ops) {
  size_t before = b.in_flight();
  for (const BackendOp& op : ops) {
    Status s = b.submit(op);
    EXPECT_TRUE(s.is_ok()) << s.message();
  }
  EXPECT_EQ(b.in_flight(), before + ops.size());
  b.flush_submissions();
  std::vector<BackendCompletion> done;
  collect(b, ops.size(), &done);
  EXPECT_EQ(done.size(), ops.size());
  EXPECT_EQ(b.in_flight(), before);
  std::vector<int> results(ops.size(), -1);
  for (const BackendCompletion& c : done) {
    EXPECT_LT(c.tag, ops.size());
    if (c.tag < ops.size()) results[c.tag] = c.result;
  }
  return results;
}

int run_op(Backend& b, const BackendOp& op) {
  BackendOp tagged = op;
  tagged.tag = 0;
  return run_ops(b, {tagged})[0];
}

void fill_random(std::mt19937_64& rng, uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(p + i, &v, std::min<size_t>(8, n - i));
  }
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

// Exercises a freshly opened, zero-filled backend of at least 8 MiB against an in-memory model:
// single ops of 512 B to 1 MiB, 300 concurrent writes and reads, a full read-back, write zeroes,
// deallocate and flush.
void check_io(Backend& b) {
  const uint64_t size = b.caps().size_bytes;
  ASSERT_GE(size, 8 * kMiB);
  ASSERT_EQ(size % 4096, 0u);
  std::vector<uint8_t> model(size, 0);
  std::mt19937_64 rng(42);
  AlignedBuffer wbuf = alloc_aligned(size);
  AlignedBuffer rbuf = alloc_aligned(size);
  ASSERT_TRUE(wbuf && rbuf);

  struct Range {
    uint64_t offset, length;
  };
  const Range singles[] = {
      {0, 512},          {512, 4096},     {kMiB + 1536, 8704},   {3 * kMiB, 64 * kKiB}, {size - kMiB, kMiB},
      {size - 512, 512}, {7 * 512, kMiB}, {2 * kMiB - 512, 1024}};
  for (const Range& r : singles) {
    fill_random(rng, wbuf.get(), r.length);
    ASSERT_EQ(run_op(b, make_op(BackendOpKind::kWrite, r.offset, r.length, wbuf.get(), 0)), 0);
    std::memcpy(model.data() + r.offset, wbuf.get(), r.length);
    std::memset(rbuf.get(), 0xee, r.length);
    ASSERT_EQ(run_op(b, make_op(BackendOpKind::kRead, r.offset, r.length, rbuf.get(), 0)), 0);
    ASSERT_EQ(std::memcmp(rbuf.get(), model.data() + r.offset, r.length), 0)
        << "offset " << r.offset << " length " << r.length;
  }

  // 300 ops at once: more than the ring's 256 SQEs, so some must wait for room.
  constexpr size_t kOps = 300;
  const uint64_t region = size / kOps / 4096 * 4096;
  std::vector<BackendOp> writes, reads;
  for (size_t i = 0; i < kOps; ++i) {
    uint64_t blocks = region / 512;
    uint64_t len = 512 * (1 + rng() % blocks);
    uint64_t off = i * region + 512 * (rng() % (blocks - len / 512 + 1));
    uint8_t* src = wbuf.get() + i * region;
    fill_random(rng, src, len);
    std::memcpy(model.data() + off, src, len);
    writes.push_back(make_op(BackendOpKind::kWrite, off, len, src, i));
    reads.push_back(make_op(BackendOpKind::kRead, off, len, rbuf.get() + i * region, i));
  }
  for (int r : run_ops(b, writes)) ASSERT_EQ(r, 0);
  for (int r : run_ops(b, reads)) ASSERT_EQ(r, 0);
  for (const BackendOp& op : reads)
    ASSERT_EQ(std::memcmp(op.buf, model.data() + op.offset, op.length), 0) << "offset " << op.offset;

  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kFlush, 0, 0, nullptr, 0)), 0);

  // Write Zeroes and Deallocate over data: partial 512-byte pieces, whole MiBs, and the last block.
  const Range zeroes[] = {{512, 1024}, {2 * kMiB, 2 * kMiB}, {size - 512, 512}};
  const Range deallocs[] = {{kMiB + 4096, 3 * 512}, {5 * kMiB, kMiB}, {size - 3 * kMiB, 2 * kMiB + 512}};
  std::vector<BackendOp> zero_ops;
  for (const Range& r : zeroes)
    zero_ops.push_back(make_op(BackendOpKind::kWriteZeroes, r.offset, r.length, nullptr, zero_ops.size()));
  for (const Range& r : deallocs)
    zero_ops.push_back(make_op(BackendOpKind::kDeallocate, r.offset, r.length, nullptr, zero_ops.size()));
  for (const BackendOp& op : zero_ops) std::memset(model.data() + op.offset, 0, op.length);
  for (int r : run_ops(b, zero_ops)) ASSERT_EQ(r, 0);

  // Read everything back, 1 MiB per op, all in flight together.
  std::memset(rbuf.get(), 0xee, size);
  std::vector<BackendOp> all;
  for (uint64_t off = 0; off < size; off += kMiB)
    all.push_back(make_op(BackendOpKind::kRead, off, std::min(kMiB, size - off), rbuf.get() + off, all.size()));
  for (int r : run_ops(b, all)) ASSERT_EQ(r, 0);
  for (uint64_t off = 0; off < size; off += kMiB)
    ASSERT_EQ(std::memcmp(rbuf.get() + off, model.data() + off, std::min(kMiB, size - off)), 0) << "MiB at " << off;
}

// ---- parse_size ----

TEST(BackendParseSize, Accepts) {
  const struct {
    const char* text;
    uint64_t bytes;
  } cases[] = {{"512", 512},
               {"4096", 4096},
               {"1024B", 1024},
               {"64K", 64 * kKiB},
               {"64k", 64 * kKiB},
               {"64KiB", 64 * kKiB},
               {"64kb", 64 * kKiB},
               {"1M", kMiB},
               {"20G", 20 * kGiB},
               {"20GiB", 20 * kGiB},
               {"20g", 20 * kGiB},
               {"1T", 1024 * kGiB},
               {"3tib", 3 * 1024 * kGiB}};
  for (const auto& c : cases) {
    Result<uint64_t> r = parse_size(c.text);
    ASSERT_TRUE(r) << c.text << ": " << r.status().message();
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
}

TEST(BackendParseSize, Rejects) {
  const char* cases[] = {"",
                         "abc",
                         "G",
                         "12X",
                         "0",
                         "0K",
                         "100",
                         "1.5G",
                         "-1",
                         " 1G",
                         "1G ",
                         "1iB",
                         "1GiBx",
                         "1GB2",
                         "1 G",
                         "0x200",
                         "512iB",
                         "1KK",
                         "18446744073709551616",
                         "99999999999999999999",
                         "16777216T",
                         "18446744073709551615"};
  for (const char* text : cases) {
    Result<uint64_t> r = parse_size(text);
    EXPECT_FALSE(r) << "'" << text << "' parsed as " << (r ? *r : 0);
    if (!r) {
      EXPECT_NE(r.status().message().find("invalid size"), std::string::npos) << r.status().message();
    }
  }
  EXPECT_NE(parse_size("0").status().message().find("greater than zero"), std::string::npos);
  EXPECT_NE(parse_size("100").status().message().find("multiple of 512"), std::string::npos);
  EXPECT_NE(parse_size("16777216T").status().message().find("too large"), std::string::npos);
}

TEST(BackendAlignedBuffer, AlignedAndZeroed) {
  for (size_t n : {size_t(0), size_t(1), size_t(4096), size_t(5000), size_t(kMiB)}) {
    AlignedBuffer b = alloc_aligned(n);
    ASSERT_TRUE(b);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 4096, 0u);
    EXPECT_TRUE(all_zero(b.get(), n));
  }
}

// ---- RAM backend ----

TEST(RamBackend, CapsAndBasicIo) {
  auto r = open_backend("mem:8M", false);
  ASSERT_TRUE(r) << r.status().message();
  Backend& b = **r;
  EXPECT_EQ(b.caps().kind, "mem");
  EXPECT_EQ(b.caps().size_bytes, 8 * kMiB);
  EXPECT_EQ(b.caps().block_size, 512u);
  EXPECT_TRUE(b.caps().deallocate);
  EXPECT_TRUE(b.caps().write_zeroes);
  EXPECT_FALSE(b.caps().read_only);
  EXPECT_EQ(b.caps().path, "mem:8M");
  EXPECT_EQ(b.wait_fd(), -1);
  check_io(b);
}

TEST(RamBackend, SubmitThenReap) {
  auto r = open_backend("mem:1M", false);
  ASSERT_TRUE(r);
  Backend& b = **r;
  AlignedBuffer buf = alloc_aligned(4096);
  ASSERT_TRUE(b.submit(make_op(BackendOpKind::kRead, 0, 4096, buf.get(), 7)).is_ok());
  ASSERT_TRUE(b.submit(make_op(BackendOpKind::kFlush, 0, 0, nullptr, 8)).is_ok());
  EXPECT_EQ(b.in_flight(), 2u);
  std::vector<uint64_t> tags;
  EXPECT_EQ(b.reap([&](const BackendCompletion& c) {
    tags.push_back(c.tag);
    EXPECT_EQ(c.result, 0);
  }),
            2u);
  EXPECT_EQ(tags, (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(b.in_flight(), 0u);
  EXPECT_EQ(b.reap([](const BackendCompletion&) {}), 0u);
  // Out of range: refused at submit, nothing in flight.
  EXPECT_FALSE(b.submit(make_op(BackendOpKind::kRead, kMiB - 512, 4096, buf.get(), 9)).is_ok());
  EXPECT_EQ(b.in_flight(), 0u);
}

TEST(RamBackend, SparseLargeSize) {
  auto rss_bytes = [] {
    std::ifstream f("/proc/self/statm");
    uint64_t pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * uint64_t(::sysconf(_SC_PAGESIZE));
  };
  uint64_t before = rss_bytes();
  auto r = open_backend("mem:30G", false);
  ASSERT_TRUE(r) << r.status().message();
  Backend& b = **r;
  EXPECT_EQ(b.caps().size_bytes, 30 * kGiB);
  AlignedBuffer wbuf = alloc_aligned(8192);
  AlignedBuffer rbuf = alloc_aligned(8192);
  std::mt19937_64 rng(1);
  fill_random(rng, wbuf.get(), 8192);
  // Straddles the last chunk boundary below the end.
  const uint64_t off = 30 * kGiB - kMiB - 4096;
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kWrite, off, 8192, wbuf.get(), 0)), 0);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kRead, off, 8192, rbuf.get(), 0)), 0);
  EXPECT_EQ(std::memcmp(wbuf.get(), rbuf.get(), 8192), 0);
  std::memset(rbuf.get(), 0xee, 8192);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kRead, 10 * kGiB, 8192, rbuf.get(), 0)), 0);
  EXPECT_TRUE(all_zero(rbuf.get(), 8192));
  EXPECT_LT(rss_bytes() - std::min(before, rss_bytes()), 256 * kMiB);
}

TEST(RamBackend, ZeroesAndDeallocateAcrossChunks) {
  auto r = open_backend("mem:5M", false);
  ASSERT_TRUE(r);
  Backend& b = **r;
  const uint64_t size = 5 * kMiB;
  AlignedBuffer data = alloc_aligned(size);
  AlignedBuffer back = alloc_aligned(size);
  std::mt19937_64 rng(2);
  fill_random(rng, data.get(), size);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kWrite, 0, size, data.get(), 0)), 0);
  // A whole chunk, a partial one, and a range spanning a chunk boundary.
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kDeallocate, kMiB, kMiB, nullptr, 0)), 0);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kWriteZeroes, 600 * kKiB, 100 * kKiB, nullptr, 0)), 0);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kDeallocate, 3 * kMiB - 512, 1024, nullptr, 0)), 0);
  std::memset(data.get() + kMiB, 0, kMiB);
  std::memset(data.get() + 600 * kKiB, 0, 100 * kKiB);
  std::memset(data.get() + 3 * kMiB - 512, 0, 1024);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kRead, 0, size, back.get(), 0)), 0);
  EXPECT_EQ(std::memcmp(data.get(), back.get(), size), 0);
  // Writing into a freed chunk brings it back with zeroes around the new data.
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kWrite, kMiB + 4096, 512, data.get(), 0)), 0);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kRead, kMiB, kMiB, back.get(), 0)), 0);
  EXPECT_TRUE(all_zero(back.get(), 4096));
  EXPECT_EQ(std::memcmp(back.get() + 4096, data.get(), 512), 0);
  EXPECT_TRUE(all_zero(back.get() + 4608, kMiB - 4608));
}

TEST(RamBackend, ReadOnlyRefusesWrites) {
  auto r = open_backend("mem:1M", true);
  ASSERT_TRUE(r);
  Backend& b = **r;
  EXPECT_TRUE(b.caps().read_only);
  AlignedBuffer buf = alloc_aligned(4096);
  EXPECT_EQ(run_op(b, make_op(BackendOpKind::kWrite, 0, 4096, buf.get(), 0)), EROFS);
  EXPECT_EQ(run_op(b, make_op(BackendOpKind::kDeallocate, 0, 4096, nullptr, 0)), EROFS);
  EXPECT_EQ(run_op(b, make_op(BackendOpKind::kRead, 0, 4096, buf.get(), 0)), 0);
}

TEST(RamBackend, BadSpecs) {
  for (const char* spec : {"mem:", "mem:0", "mem:12Q", "mem:100"}) {
    auto r = open_backend(spec, false);
    EXPECT_FALSE(r) << spec;
    if (!r) {
      EXPECT_NE(r.status().message().find("invalid size"), std::string::npos) << r.status().message();
    }
  }
}

// ---- io_uring backend ----

class UringFileTest : public ::testing::TestWithParam<const char*> {};

TEST_P(UringFileTest, IoVerify) {
  struct stat st;
  if (::stat(GetParam(), &st) != 0) GTEST_SKIP() << GetParam() << " does not exist";
  TempFile file(GetParam(), 64 * kMiB);
  ASSERT_TRUE(file.ok()) << GetParam();
  auto r = open_backend(file.path(), false);
  ASSERT_TRUE(r) << r.status().message();
  Backend& b = **r;
  EXPECT_EQ(b.caps().kind, "file");
  EXPECT_EQ(b.caps().size_bytes, 64 * kMiB);
  EXPECT_EQ(b.caps().path, file.path());
  EXPECT_TRUE(b.caps().deallocate);
  EXPECT_GE(b.wait_fd(), 0);
  check_io(b);
}

TEST_P(UringFileTest, ManyInFlightAndReopenReadOnly) {
  struct stat st;
  if (::stat(GetParam(), &st) != 0) GTEST_SKIP() << GetParam() << " does not exist";
  constexpr size_t kOps = 1000;  // beyond both the SQ (256) and the CQ (512)
  TempFile file(GetParam(), kOps * 4096);
  ASSERT_TRUE(file.ok());
  AlignedBuffer data = alloc_aligned(kOps * 4096);
  AlignedBuffer back = alloc_aligned(kOps * 4096);
  std::mt19937_64 rng(3);
  fill_random(rng, data.get(), kOps * 4096);
  {
    auto r = open_backend(file.path(), false);
    ASSERT_TRUE(r) << r.status().message();
    std::vector<BackendOp> ops;
    for (size_t i = 0; i < kOps; ++i)
      ops.push_back(make_op(BackendOpKind::kWrite, i * 4096, 4096, data.get() + i * 4096, i));
    for (int res : run_ops(**r, ops)) ASSERT_EQ(res, 0);
    ASSERT_EQ(run_op(**r, make_op(BackendOpKind::kFlush, 0, 0, nullptr, 0)), 0);
  }
  auto r = open_backend(file.path(), true);
  ASSERT_TRUE(r) << r.status().message();
  Backend& b = **r;
  EXPECT_TRUE(b.caps().read_only);
  std::vector<BackendOp> ops;
  for (size_t i = 0; i < kOps; ++i)
    ops.push_back(make_op(BackendOpKind::kRead, i * 4096, 4096, back.get() + i * 4096, i));
  for (int res : run_ops(b, ops)) ASSERT_EQ(res, 0);
  EXPECT_EQ(std::memcmp(data.get(), back.get(), kOps * 4096), 0);
  EXPECT_EQ(run_op(b, make_op(BackendOpKind::kWrite, 0, 4096, data.get(), 0)), EROFS);
  EXPECT_EQ(run_op(b, make_op(BackendOpKind::kWriteZeroes, 0, 4096, nullptr, 0)), EROFS);
  EXPECT_EQ(run_op(b, make_op(BackendOpKind::kFlush, 0, 0, nullptr, 0)), 0);
}

TEST_P(UringFileTest, SubmitFromCompletionAndZeroLength) {
  struct stat st;
  if (::stat(GetParam(), &st) != 0) GTEST_SKIP() << GetParam() << " does not exist";
  TempFile file(GetParam(), kMiB);
  ASSERT_TRUE(file.ok());
  auto r = open_backend(file.path(), false);
  ASSERT_TRUE(r);
  Backend& b = **r;
  AlignedBuffer buf = alloc_aligned(4096);
  // A chain: each completion submits the next write, as a target does from its completion path.
  constexpr uint64_t kChain = 50;
  uint64_t next = 0;
  std::vector<BackendCompletion> done;
  ASSERT_TRUE(b.submit(make_op(BackendOpKind::kWrite, 0, 4096, buf.get(), next++)).is_ok());
  b.flush_submissions();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (done.size() < kChain && std::chrono::steady_clock::now() < deadline) {
    pollfd p{b.wait_fd(), POLLIN, 0};
    ::poll(&p, 1, 1000);
    b.reap([&](const BackendCompletion& c) {
      done.push_back(c);
      if (next < kChain) {
        EXPECT_TRUE(b.submit(make_op(BackendOpKind::kWrite, next * 4096, 4096, buf.get(), next)).is_ok());
      }
      ++next;
    });
    b.flush_submissions();
  }
  ASSERT_EQ(done.size(), kChain);
  for (uint64_t i = 0; i < kChain; ++i) {
    EXPECT_EQ(done[i].tag, i);
    EXPECT_EQ(done[i].result, 0);
  }
  EXPECT_EQ(b.in_flight(), 0u);
  // Zero-length ops complete without the kernel but must still wake wait_fd().
  EXPECT_EQ(run_op(b, make_op(BackendOpKind::kRead, 4096, 0, buf.get(), 0)), 0);
  EXPECT_EQ(run_op(b, make_op(BackendOpKind::kDeallocate, 4096, 0, nullptr, 0)), 0);
  EXPECT_FALSE(b.submit(make_op(BackendOpKind::kRead, kMiB, 512, buf.get(), 0)).is_ok());
  EXPECT_EQ(b.in_flight(), 0u);
}

TEST_P(UringFileTest, ReadPastEndOfShrunkFileIsZero) {
  struct stat st;
  if (::stat(GetParam(), &st) != 0) GTEST_SKIP() << GetParam() << " does not exist";
  TempFile file(GetParam(), kMiB);
  ASSERT_TRUE(file.ok());
  auto r = open_backend(file.path(), false);
  ASSERT_TRUE(r);
  Backend& b = **r;
  AlignedBuffer data = alloc_aligned(kMiB);
  std::memset(data.get(), 0x5a, kMiB);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kWrite, 0, kMiB, data.get(), 0)), 0);
  ASSERT_EQ(::truncate(file.path().c_str(), 512 * kKiB), 0);
  std::memset(data.get(), 0xee, kMiB);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kRead, 0, kMiB, data.get(), 0)), 0);
  for (uint64_t i = 0; i < kMiB; ++i) ASSERT_EQ(data.get()[i], i < 512 * kKiB ? 0x5a : 0) << "byte " << i;
}

// On tmpfs a read or write is a memory copy: submit() does it inline, so the completion is there
// at once, without a flush or a trip through io_uring's worker threads, and the data is right.
TEST(UringInlineTest, MemoryFileSystemCompletesInSubmit) {
  struct stat st;
  if (::stat("/dev/shm", &st) != 0) GTEST_SKIP() << "/dev/shm does not exist";
  TempFile file("/dev/shm", kMiB);
  ASSERT_TRUE(file.ok());
  auto r = open_backend(file.path(), false);
  ASSERT_TRUE(r);
  Backend& b = **r;
  AlignedBuffer out = alloc_aligned(8192), in = alloc_aligned(8192);
  for (size_t i = 0; i < 8192; ++i) out[i] = uint8_t(i * 7 + 3);
  std::vector<BackendCompletion> done;
  auto collect = [&](const BackendCompletion& c) { done.push_back(c); };
  ASSERT_TRUE(b.submit(make_op(BackendOpKind::kWrite, 4096, 8192, out.get(), 1)).is_ok());
  ASSERT_EQ(b.reap(collect), 1u);
  ASSERT_TRUE(b.submit(make_op(BackendOpKind::kRead, 4096, 8192, in.get(), 2)).is_ok());
  pollfd p{b.wait_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1) << "an inline completion must still make wait_fd() readable";
  ASSERT_EQ(b.reap(collect), 1u);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].tag, 1u);
  EXPECT_EQ(done[0].result, 0);
  EXPECT_EQ(done[1].tag, 2u);
  EXPECT_EQ(done[1].result, 0);
  EXPECT_EQ(std::memcmp(in.get(), out.get(), 8192), 0);
  EXPECT_EQ(b.in_flight(), 0u);
  // What the backend wrote is in the file.
  int fd = ::open(file.path().c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> check(8192);
  EXPECT_EQ(::pread(fd, check.data(), 8192, 4096), 8192);
  ::close(fd);
  EXPECT_EQ(std::memcmp(check.data(), out.get(), 8192), 0);
}

// A buffered file elsewhere: reads try the page cache first (preadv2 RWF_NOWAIT) and fall back to
// io_uring. Both ways must return the file's bytes, also for a file that shrank under us (the
// missing tail reads as zeroes).
TEST(UringInlineTest, BufferedReadsFromPageCacheOrRing) {
  TempFile file("/tmp", kMiB);
  ASSERT_TRUE(file.ok());
  std::vector<uint8_t> pattern(kMiB);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t((i >> 9) ^ i);
  int wfd = ::open(file.path().c_str(), O_RDWR);
  ASSERT_GE(wfd, 0);
  ASSERT_EQ(::pwrite(wfd, pattern.data(), kMiB, 0), ssize_t(kMiB));
  ::close(wfd);
  int fd = ::open(file.path().c_str(), O_RDWR | O_CLOEXEC);  // buffered: no O_DIRECT
  ASSERT_GE(fd, 0);
  BackendCaps caps;
  caps.size_bytes = kMiB;
  caps.kind = "file";
  caps.path = file.path();
  auto r = make_uring_backend(fd, caps, false);
  ASSERT_TRUE(r);
  Backend& b = **r;
  AlignedBuffer buf = alloc_aligned(kMiB);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kRead, 0, kMiB, buf.get(), 0)), 0);
  EXPECT_EQ(std::memcmp(buf.get(), pattern.data(), kMiB), 0);
  // Drop the cached pages so the next read cannot be answered inline.
  int dfd = ::open(file.path().c_str(), O_RDONLY);
  ASSERT_GE(dfd, 0);
  ::posix_fadvise(dfd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(dfd);
  ASSERT_EQ(::truncate(file.path().c_str(), kMiB / 2), 0);
  std::memset(buf.get(), 0xee, kMiB);
  ASSERT_EQ(run_op(b, make_op(BackendOpKind::kRead, kMiB / 4, kMiB / 2, buf.get(), 1)), 0);
  EXPECT_EQ(std::memcmp(buf.get(), pattern.data() + kMiB / 4, kMiB / 4), 0);
  for (size_t i = kMiB / 4; i < kMiB / 2; ++i) ASSERT_EQ(buf[i], 0) << "byte " << i << " past the end";
}

INSTANTIATE_TEST_SUITE_P(Dirs, UringFileTest, ::testing::Values("/tmp", "/dev/shm"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param) == "/tmp" ? "tmp" : "shm";
                         });

TEST(UringBackend, OpenErrors) {
  auto missing = open_backend("/tmp/nvmeoe-backend-test-does-not-exist", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().message(), "backing device '/tmp/nvmeoe-backend-test-does-not-exist' not found");

  TempFile empty("/tmp", 0);
  ASSERT_TRUE(empty.ok());
  auto zero = open_backend(empty.path(), false);
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.status().message().find("empty"), std::string::npos) << zero.status().message();

  TempFile odd("/tmp", 1000);
  ASSERT_TRUE(odd.ok());
  auto unaligned = open_backend(odd.path(), false);
  ASSERT_FALSE(unaligned);
  EXPECT_NE(unaligned.status().message().find("multiple of 512"), std::string::npos) << unaligned.status().message();

  auto dir = open_backend("/tmp", false);
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.status().message().find("neither"), std::string::npos) << dir.status().message();
  auto chr = open_backend("/dev/null", true);
  EXPECT_FALSE(chr);
  EXPECT_FALSE(open_backend("", false));
}

// Mounts a ramfs, which refuses O_DIRECT and fallocate, on a fresh directory under /tmp.
class RamfsMount {
 public:
  RamfsMount() {
    char templ[] = "/tmp/nvmeoe-backend-ramfs-XXXXXX";
    if (::mkdtemp(templ) == nullptr) return;
    dir_ = templ;
    mounted_ = std::system(("mount -t ramfs none '" + dir_ + "' 2>/dev/null").c_str()) == 0;
  }
  ~RamfsMount() {
    if (mounted_ && std::system(("umount '" + dir_ + "'").c_str()) != 0)
      std::fprintf(stderr, "warning: cannot unmount %s\n", dir_.c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  RamfsMount(const RamfsMount&) = delete;
  RamfsMount& operator=(const RamfsMount&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

TEST(UringBackend, BufferedFallbackWithoutODirect) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a ramfs";
  RamfsMount mnt;
  if (!mnt.mounted()) GTEST_SKIP() << "cannot mount a ramfs";
  {
    TempFile file(mnt.dir(), 16 * kMiB);
    ASSERT_TRUE(file.ok());
    auto r = open_backend(file.path(), false);
    ASSERT_TRUE(r) << r.status().message();
    EXPECT_EQ((*r)->caps().kind, "file");
    // Deallocate and Write Zeroes here go all the way down to writing zeroes.
    check_io(**r);
  }
}

TEST(UringBackend, LoopBlockDevice) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for losetup";
  TempFile file("/tmp", 64 * kMiB);
  ASSERT_TRUE(file.ok());
  std::string dev = run_command("losetup -f --show '" + file.path() + "' 2>/dev/null");
  if (dev.empty() || dev[0] != '/') GTEST_SKIP() << "losetup unavailable";
  LoopGuard guard(dev);
  {
    auto r = open_backend(dev, false);
    ASSERT_TRUE(r) << r.status().message();
    Backend& b = **r;
    EXPECT_EQ(b.caps().kind, "block");
    EXPECT_EQ(b.caps().size_bytes, 64 * kMiB);
    EXPECT_EQ(b.caps().block_size, 512u);
    // A writer claims the device exclusively.
    auto second = open_backend(dev, false);
    ASSERT_FALSE(second);
    EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status().message();
    check_io(b);
  }
  auto ro = open_backend(dev, true);
  ASSERT_TRUE(ro) << ro.status().message();
  EXPECT_TRUE((*ro)->caps().read_only);
  AlignedBuffer buf = alloc_aligned(4096);
  EXPECT_EQ(run_op(**ro, make_op(BackendOpKind::kRead, 0, 4096, buf.get(), 0)), 0);
}

}  // namespace
}  // namespace nvmeoe
