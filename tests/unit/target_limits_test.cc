// The target under floods from made-up source MACs (tools/spoof_frames.h), over a memory link:
// association tables that keep room for allowed hosts and forget what is never set up, no
// per-queue memory before Fabrics Connect, data buffers within their budget, bounded Discover
// replies and log lines.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NVMEOE_TEST_SANITIZER_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NVMEOE_TEST_SANITIZER_HEAP 1
#endif
#endif

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "backend/backend.h"
#include "borrowed_link.h"
#include "common/log_limit.h"
#include "link/link.h"
#include "nvmeoe/host.h"
#include "spoof_frames.h"
#include "target/buffer_pool.h"
#include "target/core.h"
#include "target/target.h"

#ifdef NVMEOE_TEST_SANITIZER_HEAP
// Provided by the ASan and TSan runtimes (their header is not always installed with the compiler).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace nvmeoe {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 9, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 9, 0x02}};
constexpr const char* kListedNqn = "nqn.2026-11.io.nvmeoe:listed";  // allow-list: kHostNqn
constexpr const char* kOpenNqn = "nqn.2026-11.io.nvmeoe:open";      // any host
constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555";
constexpr const char* kOtherNqn = "nqn.2014-08.org.nvmexpress:uuid:99999999-0000-0000-0000-000000000000";

// The memory this process holds for what it keeps: its resident set, or in an ASan or TSan build
// the live heap (ASan's quarantine keeps every freed block resident for a while, and both map
// shadow memory as the heap is touched, so there the resident set grows with what was ever
// allocated, not with what is kept).
uint64_t held_bytes() {
#ifdef NVMEOE_TEST_SANITIZER_HEAP
  return __sanitizer_get_current_allocated_bytes();
#else
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * uint64_t(::sysconf(_SC_PAGESIZE));
#endif
}

struct Rig {
  std::unique_ptr<TargetCore> core;
  std::unique_ptr<TargetTransport> target;
  std::thread thread;
  std::unique_ptr<Link> wire;  // the host side of the cable: the flood sends here, the host borrows it
  Spoofer spoof{kTargetMac, kDefaultEtherType};

  explicit Rig(ResourceLimits limits = {}) {
    auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
    wire = std::move(pair.a);
    core = std::make_unique<TargetCore>();
    for (const char* nqn : {kListedNqn, kOpenNqn}) {
      auto sub = std::make_unique<Subsystem>();
      sub->nqn = nqn;
      auto ns = std::make_unique<Namespace>();
      ns->nsid = 1;
      auto be = open_backend("mem:64M", false);
      EXPECT_TRUE(be.is_ok());
      ns->backend = std::move(be.value());
      sub->namespaces.push_back(std::move(ns));
      sub->allow_any_host = nqn == std::string(kOpenNqn);
      if (!sub->allow_any_host) sub->allowed_hosts.insert(kHostNqn);
      EXPECT_TRUE(core->add_subsystem(std::move(sub)).is_ok());
    }
    TargetOptions o;
    o.limits = limits;
    target = std::make_unique<TargetTransport>(core.get(), std::move(pair.b), o);
    thread = std::thread([this] { EXPECT_TRUE(target->run().is_ok()); });
    // Running before the test asks for statistics (a snapshot of a transport not yet running fails).
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!target->snapshot(0, std::chrono::milliseconds(100)) && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Rig() {
    target->request_stop();
    thread.join();
  }

  void send(const std::vector<std::vector<uint8_t>>& frames) {
    TxFrameList tx;
    for (const auto& f : frames) tx.add(f);
    ASSERT_TRUE(wire->send(tx.frames()).is_ok());
  }
  // Frames the target sent to anyone (the flood's answers), until none came for `quiet`.
  std::vector<Frame> drain(std::vector<std::vector<uint8_t>>* keep,
                           std::chrono::milliseconds quiet = std::chrono::milliseconds(200)) {
    std::vector<Frame> out;
    auto last = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - last < quiet) {
      size_t n = wire->receive(
          [&](std::span<const uint8_t> fr) {
            keep->emplace_back(fr.begin(), fr.end());
            Frame f;
            if (decode_frame(keep->back(), kDefaultEtherType, &f) == DecodeError::kNone) out.push_back(f);
          },
          256);
      if (n)
        last = std::chrono::steady_clock::now();
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return out;
  }
  TargetStats totals() {
    auto snap = target->snapshot(0);
    EXPECT_TRUE(snap.is_ok());
    return snap.is_ok() ? snap->totals : TargetStats{};
  }
  ConnectOptions host_options(const char* subnqn) const {
    ConnectOptions o;
    o.target_mac = kTargetMac.str();
    o.subnqn = subnqn;
    o.hostnqn = kHostNqn;
    o.nr_io_queues = 1;
    o.queue_size = 32;
    o.connect_timeout = std::chrono::milliseconds(2000);
    return o;
  }
  Result<std::unique_ptr<HostController>> connect_host(const char* subnqn) {
    return HostController::connect(std::make_unique<test::BorrowedLink>(wire.get()), host_options(subnqn));
  }
};

// `n` made-up MACs each send a Connect Request and a Fabrics Connect (KATO 0) to `subnqn`, then
// nothing.
void connect_flood(Rig& rig, uint32_t n, const std::string& subnqn, const std::string& hostnqn, uint8_t tag = 1) {
  std::vector<std::vector<uint8_t>> batch;
  for (uint32_t i = 0; i < n; ++i) {
    MacAddress src = spoofed_mac(i, tag);
    batch.push_back(rig.spoof.connect_request(src, 0, i + 1, 32));
    batch.push_back(rig.spoof.fabrics_connect(src, 0, i + 1, 32, subnqn, hostnqn));
    if (batch.size() >= 256) {
      rig.send(batch);
      batch.clear();
      std::this_thread::sleep_for(std::chrono::microseconds(300));  // a busy segment, not a burst
    }
  }
  rig.send(batch);
}

// Items 13 and 16: 5000 made-up hosts set up discovery controllers (any host may), 5000 more try
// the allow-listed subsystem: a listed host still connects at once, and the table never holds
// more than max_associations.
TEST(TargetLimits, ConnectFloodLeavesRoomForAnAllowedHost) {
  Rig rig;
  connect_flood(rig, 5000, kDiscoveryNqn, kOtherNqn, 1);
  connect_flood(rig, 5000, kListedNqn, kOtherNqn, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  TargetStats t = rig.totals();
  EXPECT_LE(t.associations, 4096u);
  EXPECT_LE(t.unbound, 256u);
  EXPECT_GT(t.evicted, 0u);
  auto start = std::chrono::steady_clock::now();
  auto host = rig.connect_host(kListedNqn);
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  // "At once": well before anything of the flood expires (the set-up timeout is 10 s); the
  // bound leaves room for a sanitized build on a loaded machine (e2e_flood measures the real time).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  std::vector<uint8_t> buf(4096, 0x5a), back(4096);
  EXPECT_TRUE((*host)->write_sync(1, 0, 8, buf.data()).ok());
  EXPECT_TRUE((*host)->read_sync(1, 0, 8, back.data()).ok());
  EXPECT_EQ(buf, back);
  (*host)->disconnect();
}

// Item 13: with KATO 0, controllers that never get an I/O queue (and handshakes that never reach
// Fabrics Connect) still go, after setup_timeout_ms.
TEST(TargetLimits, ControllersNeverSetUpExpire) {
  ResourceLimits l;
  l.setup_timeout_ms = 300;
  Rig rig(l);
  connect_flood(rig, 40, kOpenNqn, kOtherNqn);
  std::vector<std::vector<uint8_t>> lone;
  for (uint32_t i = 0; i < 5; ++i) lone.push_back(rig.spoof.connect_request(spoofed_mac(i, 9), 1, 77, 64));
  rig.send(lone);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(rig.totals().associations, 45u);
  EXPECT_EQ(rig.totals().controllers, 40u);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  TargetStats t = rig.totals();
  EXPECT_EQ(t.associations, 0u);
  EXPECT_EQ(t.expired, 45u);
  EXPECT_EQ(t.controllers, 0u);
}

// Items 13 and 16: one MAC gets at most max_unbound_per_mac handshakes without Fabrics Connect
// (its oldest gives way); 10000 MACs at most max_unbound; and a handshake costs no per-queue
// memory (I/O queues of 1024 entries).
TEST(TargetLimits, HandshakesAreBoundedAndCheap) {
  Rig rig;
  uint64_t held_before = held_bytes();
  std::vector<std::vector<uint8_t>> batch;
  for (uint32_t i = 0; i < 10000; ++i) {
    batch.push_back(rig.spoof.connect_request(spoofed_mac(i, 3), 1, i + 1, 1024, 1));
    if (batch.size() == 256) {
      rig.send(batch);
      batch.clear();
    }
  }
  for (uint32_t i = 0; i < 20; ++i) batch.push_back(rig.spoof.connect_request(spoofed_mac(0, 4), 1, i + 1, 1024, 1));
  rig.send(batch);
  // Every Connect handled (a sanitized build on a loaded machine is slow): each made an
  // association that is either still there or was evicted.
  TargetStats t = rig.totals();
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       t.evicted + t.expired + t.associations < 10020u && std::chrono::steady_clock::now() < end; t = rig.totals())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_LE(t.associations, 256u);
  EXPECT_EQ(t.unbound, t.associations);
  EXPECT_EQ(t.refused_connects, 0u);  // the oldest gave way instead
  EXPECT_GE(t.evicted, 10020u - 256u);
  EXPECT_LT(held_bytes() - std::min(held_before, held_bytes()), 32ull << 20);
  auto snap = rig.target->snapshot(0);
  ASSERT_TRUE(snap.is_ok());
  size_t from_one_mac = 0;
  for (const auto& q : snap->queues) from_one_mac += q.host_mac == spoofed_mac(0, 4).str();
  EXPECT_LE(from_one_mac, 8u);
}

// Item 15: a command on a queue without Fabrics Connect is answered at once (Command Sequence
// Error) and takes no buffer, whatever data it claims.
TEST(TargetLimits, ClaimsBeforeFabricsConnectTakeNoMemory) {
  Rig rig;
  uint64_t held_before = held_bytes();
  std::vector<std::vector<uint8_t>> batch;
  for (uint32_t i = 0; i < 200; ++i) {
    MacAddress src = spoofed_mac(i, 5);
    batch.push_back(rig.spoof.connect_request(src, 1, i + 1, 64, 1));
    batch.push_back(rig.spoof.write_claim(src, 1, i + 1, 1, 0, 1, 1u << 20));
  }
  rig.send(batch);
  std::vector<std::vector<uint8_t>> keep;
  size_t sequence_errors = 0;
  for (const Frame& f : rig.drain(&keep))
    for (const Segment& g : f.segments())
      if (g.h.kind == FrameKind::kResponse && (decode_cqe(g.meta.data()).status & 0x7ff) == sc::kCommandSequenceError)
        ++sequence_errors;
  EXPECT_EQ(sequence_errors, 200u);
  TargetStats t = rig.totals();
  EXPECT_EQ(t.unbound_commands, 200u);
  EXPECT_EQ(t.buffer_bytes, 0u);
  EXPECT_LT(held_bytes() - std::min(held_before, held_bytes()), 16ull << 20);
}

// Item 15: writes that claim 1 MiB on an established queue and never send it stay within the
// buffer budget, and give their buffers back to a host that sends its data.
TEST(TargetLimits, ClaimedWritesStayWithinTheBufferBudget) {
  ResourceLimits l;
  l.buffer_bytes = 16ull << 20;
  l.queue_buffer_bytes = 16ull << 20;
  Rig rig(l);
  MacAddress src = spoofed_mac(1, 6);
  // A whole controller from a made-up MAC: admin queue, enable, an I/O queue of 1024 entries.
  rig.send({rig.spoof.connect_request(src, 0, 11, 32), rig.spoof.fabrics_connect(src, 0, 11, 32, kOpenNqn, kOtherNqn)});
  std::vector<std::vector<uint8_t>> keep;
  rig.drain(&keep, std::chrono::milliseconds(50));
  rig.send({rig.spoof.enable(src, 11, 1, 1), rig.spoof.connect_request(src, 1, 12, 1024, 1),
            rig.spoof.fabrics_connect(src, 1, 12, 1024, kOpenNqn, kOtherNqn, 1)});
  rig.drain(&keep, std::chrono::milliseconds(50));
  ASSERT_EQ(rig.totals().setting_up, 0u) << "the made-up controller did not get its I/O queue";
  uint64_t held_before = held_bytes();
  std::vector<std::vector<uint8_t>> claims;
  for (uint16_t cid = 0; cid < 512; ++cid) claims.push_back(rig.spoof.write_claim(src, 1, 12, 1, cid, 1, 1u << 20));
  rig.send(claims);
  rig.drain(&keep, std::chrono::milliseconds(100));
  TargetStats t = rig.totals();
  EXPECT_LE(t.buffer_bytes, 16ull << 20);
  EXPECT_GE(t.buffer_drops, 512u - 20u);  // 16 MiB of claims held, the rest dropped
  EXPECT_LT(held_bytes() - std::min(held_before, held_bytes()), 48ull << 20);

  auto host = rig.connect_host(kOpenNqn);
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  std::mt19937 rng(7);
  std::vector<uint8_t> data(1u << 20), back(1u << 20);
  for (auto& b : data) b = uint8_t(rng());
  Completion w = (*host)->write_sync(1, 2048, 2048, data.data());
  ASSERT_TRUE(w.ok()) << status_name(w.status);
  Completion r = (*host)->read_sync(1, 2048, 2048, back.data());
  ASSERT_TRUE(r.ok()) << status_name(r.status);
  EXPECT_EQ(data, back);
  t = rig.totals();
  EXPECT_GT(t.buffer_reclaims, 0u);  // the claims gave way
  EXPECT_LE(t.buffer_peak, 16ull << 20);
  (*host)->disconnect();
}

// Item 18: Discover Replies are bounded per MAC and in all, per second.
TEST(TargetLimits, DiscoverRepliesAreBounded) {
  Rig rig;
  std::vector<std::vector<uint8_t>> batch;
  for (uint32_t i = 0; i < 1000; ++i) batch.push_back(rig.spoof.discover_query(spoofed_mac(0, 7), i + 1, kOtherNqn));
  rig.send(batch);
  std::vector<std::vector<uint8_t>> keep;
  size_t replies = 0;
  for (const Frame& f : rig.drain(&keep)) replies += f.segs[0].h.kind == FrameKind::kDiscoverReply;
  EXPECT_GE(replies, 1u);
  EXPECT_LE(replies, 10u);
  batch.clear();
  for (uint32_t i = 0; i < 2000; ++i) batch.push_back(rig.spoof.discover_query(spoofed_mac(i, 8), i + 1, kOtherNqn));
  rig.send(batch);
  keep.clear();
  replies = 0;
  for (const Frame& f : rig.drain(&keep)) replies += f.segs[0].h.kind == FrameKind::kDiscoverReply;
  EXPECT_LE(replies, 500u);
  EXPECT_GE(rig.totals().discover_suppressed, 1000u + 1500u - 10u);
}

// Item 14: lines of one kind are bounded per source and in all, and what is held back is
// counted and summarized.
TEST(TargetLimits, LogLinesPerKindAreBounded) {
  LogLimiter lim;
  lim.configure(3, 20);
  int allowed = 0;
  for (int i = 0; i < 10000; ++i) allowed += lim.allow("association", LogLevel::kInfo, "06:00:00:00:00:01");
  EXPECT_EQ(allowed, 3);
  for (int i = 0; i < 10000; ++i) allowed += lim.allow("association", LogLevel::kInfo, spoofed_mac(uint32_t(i)).str());
  EXPECT_EQ(allowed, 20);
  EXPECT_EQ(lim.suppressed_total(), 20000u - 20u);
  EXPECT_TRUE(lim.allow("other kind", LogLevel::kInfo, "x"));  // kinds are counted apart
}

TEST(TargetLimits, BufferPoolKeepsItsBudget) {
  DataBufferPool pool(8ull << 20);
  uint64_t queue = 0;
  std::vector<PoolBuffer> held;
  for (int i = 0; i < 16; ++i)
    if (PoolBuffer b = pool.acquire(1u << 20, &queue, 4ull << 20)) held.push_back(std::move(b));
  EXPECT_EQ(held.size(), 4u);  // the queue's budget
  EXPECT_EQ(queue, 4ull << 20);
  uint64_t other = 0;
  for (int i = 0; i < 16; ++i)
    if (PoolBuffer b = pool.acquire(100000, &other, 64ull << 20)) held.push_back(std::move(b));
  EXPECT_LE(pool.in_use(), 8ull << 20);
  EXPECT_EQ(DataBufferPool::class_size(100000), 131072u);
  held.clear();
  EXPECT_EQ(queue, 0u);
  EXPECT_EQ(other, 0u);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_LE(pool.kept(), 2ull << 20);  // at most a quarter of the budget is kept for reuse
}

}  // namespace
}  // namespace nvmeoe
