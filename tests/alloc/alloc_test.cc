// Heap allocations of the data path in its steady state: host and target in one process over the
// in-memory link (which reuses its buffers), a RAM namespace, 4 KiB reads and writes kept in
// flight by completion callbacks that submit the next I/O on the host's loop thread. Every
// operator new of the process is counted while the I/Os run; the main thread only waits. The
// count must be zero per I/O: what is left is the first kDepth submissions, which come from the
// test's thread (posted to the loop), and periodic work (keep-alive, statistics, the target's
// housekeeping), bounded by time, not by I/O.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>

#include "backend/backend.h"
#include "link/link.h"
#include "nvmeoe/host.h"
#include "target/core.h"
#include "target/target.h"
#include "wire/frame.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  return operator new(n);
}
void* operator new(size_t n, std::align_val_t a) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  size_t al = static_cast<size_t>(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n, std::align_val_t a) {
  return operator new(n, a);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace nvmeoe {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 9, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 9, 0x02}};
constexpr const char* kNqn = "nqn.2026-12.io.nvmeoe:alloc";
constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-999999999999";
constexpr uint32_t kBlocks = 8;  // 4 KiB of 512-byte blocks
constexpr size_t kDepth = 8;

// Keeps kDepth I/Os in flight, each completion submitting the next from the loop thread, until
// `budget` I/Os have completed.
class Driver {
 public:
  Driver(HostController* host, bool write)
      : host_(host), write_(write), buffers_(kDepth, std::vector<uint8_t>(4096, 0x5a)) {}

  // Runs `n` I/Os; returns the heap allocations of the process while they ran.
  uint64_t run(uint64_t n, bool count) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = errors_ = 0;
      budget_ = n;
      submitted_ = kDepth;
      outstanding_ = kDepth;
    }
    g_allocations.store(0);
    g_counting.store(count);
    for (size_t i = 0; i < kDepth; ++i) submit(i);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return outstanding_ == 0; });
    g_counting.store(false);
    return g_allocations.load();
  }
  uint64_t done() const { return done_; }
  uint64_t errors() const { return errors_; }

 private:
  // On the test thread for the first kDepth, then on the host's loop thread.
  void submit(size_t slot) {
    uint64_t lba;
    {
      std::lock_guard<std::mutex> lock(mu_);
      lba = next_lba_ = (next_lba_ + 7 * kBlocks) % (32768 - kBlocks);
    }
    // The callback captures two words: std::function keeps it inline.
    auto cb = [this, slot](const Completion& c) { on_done(slot, c); };
    if (write_)
      host_->write(1, lba, kBlocks, buffers_[slot].data(), cb, 1);
    else
      host_->read(1, lba, kBlocks, buffers_[slot].data(), cb, 1);
  }
  // On the host's loop thread.
  void on_done(size_t slot, const Completion& c) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!c.ok()) ++errors_;
      ++done_;
      if (submitted_ >= budget_) {
        // Notified under the lock: the waiter may destroy this Driver as soon as it wakes.
        if (--outstanding_ == 0) cv_.notify_all();
        return;
      }
      ++submitted_;
    }
    submit(slot);
  }

  HostController* host_;
  bool write_;
  std::vector<std::vector<uint8_t>> buffers_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t done_ = 0, budget_ = 0, errors_ = 0, submitted_ = 0, next_lba_ = 0;
  size_t outstanding_ = 0;
};

class AllocTest : public ::testing::TestWithParam<bool> {};

TEST_P(AllocTest, NoHeapAllocationPerIoInTheSteadyState) {
  const bool write = GetParam();
  auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
  auto core = std::make_unique<TargetCore>();
  auto sub = std::make_unique<Subsystem>();
  sub->nqn = kNqn;
  auto ns = std::make_unique<Namespace>();
  ns->nsid = 1;
  auto be = open_backend("mem:16M", false);
  ASSERT_TRUE(be.is_ok());
  ns->backend = std::move(be.value());
  sub->namespaces.push_back(std::move(ns));
  sub->allow_any_host = true;
  ASSERT_TRUE(core->add_subsystem(std::move(sub)).is_ok());
  auto target = std::make_unique<TargetTransport>(core.get(), std::move(pair.b), TargetOptions{});
  std::thread target_thread([&] { EXPECT_TRUE(target->run().is_ok()); });

  ConnectOptions o;
  o.target_mac = kTargetMac.str();
  o.subnqn = kNqn;
  o.hostnqn = kHostNqn;
  o.nr_io_queues = 1;
  o.queue_size = 32;
  auto host = HostController::connect(std::move(pair.a), o);
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  {
    Driver d(host->get(), write);
    d.run(20000, false);  // warm: pools, rings and slots reach their working size
    ASSERT_EQ(d.errors(), 0u);
    constexpr uint64_t kIos = 50000;
    auto start = std::chrono::steady_clock::now();
    uint64_t allocations = d.run(kIos, true);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(d.errors(), 0u);
    ASSERT_EQ(d.done(), kIos);
    // Periodic work allocates by time: a few per 100 ms at most. Per I/O: none.
    double per_io = double(allocations) / double(kIos);
    RecordProperty("allocations", std::to_string(allocations));
    std::printf("%s: %llu I/Os in %.2f s, %llu heap allocations (%.5f per I/O)\n",
                write ? "4 KiB writes" : "4 KiB reads", (unsigned long long)kIos, seconds,
                (unsigned long long)allocations, per_io);
    EXPECT_LE(double(allocations), 20.0 * (seconds / 0.1 + 1)) << "allocations grow with the I/Os, not with time";
    // An allocation on the I/O path would give 1 or more per I/O; the periodic work of a fast run
    // (0.5 s) has given up to ~60 in 50,000.
    EXPECT_LT(per_io, 0.01);
  }
  host->get()->disconnect();
  target->request_stop();
  target_thread.join();
}

INSTANTIATE_TEST_SUITE_P(ReadsAndWrites, AllocTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Write" : "Read"; });

}  // namespace
}  // namespace nvmeoe
