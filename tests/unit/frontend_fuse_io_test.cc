// Tests of the FUSE frontend's I/O arithmetic and resources (frontend/fuse_io.h): byte ranges to
// blocks with partial edges, splitting to the transfer limit, NVMe status to errno, the buffer pool
// and the write gate.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "frontend/fuse_io.h"
#include "nvme/spec.h"

namespace nvmeoe {
namespace {

constexpr uint64_t kCap = 1 << 20;  // 1 MiB namespace

TEST(FuseIoTest, AlignedRangeIsWholeBlocks) {
  BlockExtent e = block_extent(4096, 8192, kCap, 512);
  EXPECT_EQ(e.offset, 4096u);
  EXPECT_EQ(e.length, 8192u);
  EXPECT_EQ(e.slba, 8u);
  EXPECT_EQ(e.nlb, 16u);
  EXPECT_EQ(e.head, 0u);
  EXPECT_TRUE(e.aligned());
  EXPECT_FALSE(e.single_partial_block());
}

TEST(FuseIoTest, UnalignedRangeWidensToBlocksAtBothEnds) {
  // 3000 bytes at 4584 = 512 * 8 + 488: blocks 8 .. 14 (7584 ends inside block 14).
  BlockExtent e = block_extent(512 * 8 + 488, 3000, kCap, 512);
  EXPECT_EQ(e.slba, 8u);
  EXPECT_EQ(e.nlb, 7u);
  EXPECT_EQ(e.head, 488u);
  EXPECT_TRUE(e.head_partial);
  EXPECT_TRUE(e.tail_partial);
  EXPECT_FALSE(e.aligned());
  EXPECT_FALSE(e.single_partial_block());
  // Head aligned, tail not.
  e = block_extent(1024, 700, kCap, 512);
  EXPECT_EQ(e.slba, 2u);
  EXPECT_EQ(e.nlb, 2u);
  EXPECT_FALSE(e.head_partial);
  EXPECT_TRUE(e.tail_partial);
}

TEST(FuseIoTest, RangeInsideOneBlock) {
  BlockExtent e = block_extent(4096 + 10, 100, kCap, 4096);
  EXPECT_EQ(e.slba, 1u);
  EXPECT_EQ(e.nlb, 1u);
  EXPECT_EQ(e.head, 10u);
  EXPECT_TRUE(e.single_partial_block());
  // Touching the block's start only: partial at the tail, still a single block.
  e = block_extent(4096, 100, kCap, 4096);
  EXPECT_FALSE(e.head_partial);
  EXPECT_TRUE(e.single_partial_block());
}

TEST(FuseIoTest, ClippedAtTheCapacity) {
  BlockExtent e = block_extent(kCap - 512, 4096, kCap, 512);
  EXPECT_EQ(e.length, 512u);  // a short read/write
  EXPECT_EQ(e.nlb, 1u);
  EXPECT_TRUE(e.aligned());
  EXPECT_EQ(block_extent(kCap, 4096, kCap, 512).length, 0u);
  EXPECT_EQ(block_extent(kCap + 1, 1, kCap, 512).length, 0u);
  EXPECT_EQ(block_extent(0, 0, kCap, 512).length, 0u);
  EXPECT_EQ(block_extent(~uint64_t(0) - 10, 4096, kCap, 512).length, 0u);
}

TEST(FuseIoTest, BlocksPerCommandFollowMaxTransferAndNlbField) {
  EXPECT_EQ(blocks_per_command(128 * 1024, 512), 256u);
  EXPECT_EQ(blocks_per_command(128 * 1024, 4096), 32u);
  EXPECT_EQ(blocks_per_command(0, 512), 65536u);             // no MDTS: the 16-bit NLB bounds it
  EXPECT_EQ(blocks_per_command(1u << 31, 512), 65536u);
  EXPECT_EQ(blocks_per_command(100, 512), 1u);               // never 0
  EXPECT_EQ(command_count(2048, 256), 8u);                   // 1 MiB in 128 KiB commands
  EXPECT_EQ(command_count(2049, 256), 9u);
  EXPECT_EQ(command_count(1, 256), 1u);
}

TEST(FuseIoTest, NvmeStatusToErrno) {
  EXPECT_EQ(nvme_status_errno(sc::kSuccess), 0);
  EXPECT_EQ(nvme_status_errno(sc::kNsWriteProtected | sc::kDnr), EROFS);
  EXPECT_EQ(nvme_status_errno(sc::kLbaOutOfRange), ENOSPC);
  EXPECT_EQ(nvme_status_errno(sc::kInvalidField | sc::kDnr), EINVAL);
  EXPECT_EQ(nvme_status_errno(sc::kUnrecoveredReadError), EIO);
  EXPECT_EQ(nvme_status_errno(sc::kInternalPathError), EIO);
  EXPECT_EQ(nvme_status_errno(0x0371), EIO);  // Host Aborted Command: the transport gave up
}

TEST(BufferPoolTest, HandsOutDistinctAlignedBuffersAndWaitsWhenEmpty) {
  BufferPool pool;
  ASSERT_TRUE(pool.init(2, 5000));
  EXPECT_EQ(pool.buffer_size(), 8192u);  // whole pages
  int a = pool.acquire(), b = pool.acquire();
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_NE(a, b);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(pool.data(a)) % 4096, 0u);
  std::memset(pool.data(a), 0xaa, pool.buffer_size());
  std::memset(pool.data(b), 0xbb, pool.buffer_size());
  EXPECT_EQ(pool.data(a)[pool.buffer_size() - 1], 0xaa);
  EXPECT_EQ(pool.in_use(), 2u);

  std::atomic<int> got{-2};
  std::thread waiter([&] { got = pool.acquire(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(got.load(), -2);  // still waiting
  pool.release(b);
  waiter.join();
  EXPECT_EQ(got.load(), b);
  pool.release(a);
  pool.release(got);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(BufferPoolTest, CloseWakesWaitersWithMinusOne) {
  BufferPool pool;
  ASSERT_TRUE(pool.init(1, 4096));
  int a = pool.acquire();
  std::atomic<int> got{-2};
  std::thread waiter([&] { got = pool.acquire(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pool.close();
  waiter.join();
  EXPECT_EQ(got.load(), -1);
  pool.release(a);
  EXPECT_EQ(pool.acquire(), -1);
  EXPECT_FALSE(BufferPool().init(0, 4096));
}

TEST(WriteGateTest, ExclusiveWaitsForSharedAndKeepsNewSharedOut) {
  WriteGate gate;
  ASSERT_TRUE(gate.enter_shared());
  ASSERT_TRUE(gate.enter_shared());
  std::atomic<bool> exclusive{false};
  std::thread rmw([&] {
    EXPECT_TRUE(gate.enter_exclusive());
    exclusive = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(exclusive.load());
  gate.leave_shared();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(exclusive.load());  // one shared writer still in flight
  gate.leave_shared();
  rmw.join();
  EXPECT_TRUE(exclusive.load());

  std::atomic<bool> shared{false};
  std::thread writer([&] {
    EXPECT_TRUE(gate.enter_shared());
    shared = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(shared.load());  // held off while the read-modify-write runs
  gate.leave_exclusive();
  writer.join();
  EXPECT_TRUE(shared.load());
  gate.leave_shared();
}

TEST(WriteGateTest, CloseReleasesWaiters) {
  WriteGate gate;
  ASSERT_TRUE(gate.enter_shared());
  std::atomic<int> result{-1};
  std::thread rmw([&] { result = gate.enter_exclusive() ? 1 : 0; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  gate.close();
  rmw.join();
  EXPECT_EQ(result.load(), 0);
  EXPECT_FALSE(gate.enter_shared());
  EXPECT_FALSE(gate.enter_exclusive());
}

}  // namespace
}  // namespace nvmeoe
