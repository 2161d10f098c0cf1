// ublk frontend parts that need no kernel driver: opcode encoding, descriptor mapping offsets,
// device parameters from the namespace and controller, and request translation.
#include "frontend/ublk_params.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "frontend/ublk_uapi.h"

namespace nvmeoe::ublk {
namespace {

// _IOWR('u', nr, 32-byte struct) = dir 3 << 30 | size << 16 | 'u' << 8 | nr (include/uapi/asm-generic/ioctl.h).
TEST(UblkUapi, OpcodesAreTheKernelsIoctlEncoding) {
  EXPECT_EQ(uint32_t(UBLK_U_CMD_ADD_DEV), 0xc0207504u);
  EXPECT_EQ(uint32_t(UBLK_U_CMD_DEL_DEV), 0xc0207505u);
  EXPECT_EQ(uint32_t(UBLK_U_CMD_START_DEV), 0xc0207506u);
  EXPECT_EQ(uint32_t(UBLK_U_CMD_STOP_DEV), 0xc0207507u);
  EXPECT_EQ(uint32_t(UBLK_U_CMD_SET_PARAMS), 0xc0207508u);
  EXPECT_EQ(uint32_t(UBLK_U_CMD_GET_PARAMS), 0x80207509u);
  EXPECT_EQ(uint32_t(UBLK_U_IO_FETCH_REQ), 0xc0107520u);
  EXPECT_EQ(uint32_t(UBLK_U_IO_COMMIT_AND_FETCH_REQ), 0xc0107521u);
  EXPECT_EQ(legacy_opcode(UBLK_U_CMD_ADD_DEV), uint32_t(UBLK_CMD_ADD_DEV));
  EXPECT_EQ(legacy_opcode(UBLK_U_IO_COMMIT_AND_FETCH_REQ), uint32_t(UBLK_IO_COMMIT_AND_FETCH_REQ));
}

TEST(UblkUapi, DescriptorAreaOffsets) {
  // 4096 descriptors of 24 bytes = 96 KiB per queue slot, already page aligned.
  EXPECT_EQ(iod_mmap_offset(0, 4096), 0u);
  EXPECT_EQ(iod_mmap_offset(1, 4096), 98304u);
  EXPECT_EQ(iod_mmap_offset(3, 4096), 3u * 98304u);
  EXPECT_EQ(iod_mmap_length(128, 4096), 4096u);  // 3072 bytes -> one page
  EXPECT_EQ(iod_mmap_length(200, 4096), 8192u);  // 4800 bytes -> two pages
}

NamespaceInfo ns512(uint64_t blocks) {
  NamespaceInfo ns;
  ns.nsid = 1;
  ns.blocks = blocks;
  ns.block_size = 512;
  return ns;
}

TEST(UblkParams, FromNamespaceAndController) {
  ControllerInfo ctrl;
  ctrl.max_transfer = 256 * 1024;
  auto c = make_device_config(ns512(2097152), ctrl, 2, 64);
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->info.nr_hw_queues, 2);
  EXPECT_EQ(c->info.queue_depth, 64);
  EXPECT_EQ(c->info.max_io_buf_bytes, 256u * 1024);
  EXPECT_EQ(c->info.dev_id, UINT32_MAX);
  EXPECT_EQ(c->max_io_bytes, 256u * 1024);
  const ublk_param_basic& b = c->params.basic;
  EXPECT_EQ(c->params.types, uint32_t(UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD));
  EXPECT_EQ(c->params.len, sizeof(ublk_params));
  EXPECT_EQ(b.logical_bs_shift, 9);
  EXPECT_EQ(b.physical_bs_shift, 9);
  EXPECT_EQ(b.dev_sectors, 2097152u);
  EXPECT_EQ(b.max_sectors, 512u);
  EXPECT_TRUE(b.attrs & UBLK_ATTR_VOLATILE_CACHE);  // so that the kernel sends flushes
  EXPECT_TRUE(b.attrs & UBLK_ATTR_FUA);
  EXPECT_FALSE(b.attrs & UBLK_ATTR_READ_ONLY);
  const ublk_param_discard& d = c->params.discard;
  EXPECT_EQ(d.discard_granularity, 512u);
  EXPECT_EQ(d.max_write_zeroes_sectors, 65536u);
  EXPECT_EQ(d.max_discard_segments, 1);
  EXPECT_GT(d.max_discard_sectors, 0u);
}

TEST(UblkParams, FourKBlocksAndCappedTransfer) {
  NamespaceInfo ns = ns512(1000);
  ns.block_size = 4096;
  ControllerInfo ctrl;
  ctrl.max_transfer = 1u << 31;  // far above the cap
  auto c = make_device_config(ns, ctrl, 1, 128);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params.basic.logical_bs_shift, 12);
  EXPECT_EQ(c->params.basic.dev_sectors, 8000u);
  EXPECT_EQ(c->max_io_bytes, kDefaultMaxIo);
  EXPECT_EQ(c->params.basic.max_sectors, kDefaultMaxIo / 512);
  EXPECT_EQ(c->params.discard.max_write_zeroes_sectors, 65536u * 8);
  EXPECT_EQ(c->params.discard.max_discard_sectors % 8, 0u);

  ctrl.max_transfer = 0;  // no limit given
  c = make_device_config(ns, ctrl, 1, 128);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->max_io_bytes, kDefaultMaxIo);
  ctrl.max_transfer = 10000;  // rounded down to whole pages
  c = make_device_config(ns, ctrl, 1, 128);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->max_io_bytes, 8192u);
}

TEST(UblkParams, ReadOnlyHasNoDiscard) {
  NamespaceInfo ns = ns512(100);
  ns.read_only = true;
  auto c = make_device_config(ns, ControllerInfo{}, 1, 1);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->params.basic.attrs & UBLK_ATTR_READ_ONLY);
  EXPECT_EQ(c->params.types, uint32_t(UBLK_PARAM_TYPE_BASIC));
}

TEST(UblkParams, RejectsWhatUblkCannotExpress) {
  ControllerInfo ctrl;
  NamespaceInfo ns = ns512(100);
  ns.block_size = 520;
  EXPECT_FALSE(make_device_config(ns, ctrl, 1, 1));
  ns.block_size = 8192;
  EXPECT_FALSE(make_device_config(ns, ctrl, 1, 1));
  ns.block_size = 256;
  EXPECT_FALSE(make_device_config(ns, ctrl, 1, 1));
  EXPECT_FALSE(make_device_config(ns512(0), ctrl, 1, 1));
  EXPECT_FALSE(make_device_config(ns512(100), ctrl, 0, 1));
  EXPECT_FALSE(make_device_config(ns512(100), ctrl, 1, 0));
  EXPECT_FALSE(make_device_config(ns512(100), ctrl, 1, UBLK_MAX_QUEUE_DEPTH + 1));
  ctrl.max_transfer = 2048;
  auto c = make_device_config(ns512(100), ctrl, 1, 1);
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("max transfer"), std::string::npos);
}

ublksrv_io_desc iod(uint8_t op, uint64_t start, uint32_t sectors, uint32_t flags = 0) {
  ublksrv_io_desc d{};
  d.op_flags = op | flags;
  d.start_sector = start;
  d.nr_sectors = sectors;
  return d;
}

TEST(UblkPlan, ReadWriteFlushDiscardWriteZeroes) {
  IoPlan p;
  ASSERT_EQ(plan_io(iod(UBLK_IO_OP_READ, 8, 16), 512, 1000, 65536, &p), 0);
  EXPECT_EQ(p.kind, IoKind::kRead);
  EXPECT_EQ(p.slba, 8u);
  EXPECT_EQ(p.nlb, 16u);
  EXPECT_EQ(p.bytes, 8192u);
  EXPECT_FALSE(p.fua);

  ASSERT_EQ(plan_io(iod(UBLK_IO_OP_WRITE, 0, 8, UBLK_IO_F_FUA), 512, 1000, 65536, &p), 0);
  EXPECT_EQ(p.kind, IoKind::kWrite);
  EXPECT_TRUE(p.fua);
  EXPECT_EQ(p.bytes, 4096u);

  ASSERT_EQ(plan_io(iod(UBLK_IO_OP_FLUSH, 0, 0), 512, 1000, 65536, &p), 0);
  EXPECT_EQ(p.kind, IoKind::kFlush);
  EXPECT_EQ(p.bytes, 0u);

  ASSERT_EQ(plan_io(iod(UBLK_IO_OP_DISCARD, 100, 900), 512, 1000, 65536, &p), 0);
  EXPECT_EQ(p.kind, IoKind::kDiscard);
  EXPECT_EQ(p.slba, 100u);
  EXPECT_EQ(p.nlb, 900u);
  EXPECT_EQ(p.bytes, 0u);  // discard reports 0 bytes on success

  ASSERT_EQ(plan_io(iod(UBLK_IO_OP_WRITE_ZEROES, 16, 64), 4096, 1000, 65536, &p), 0);
  EXPECT_EQ(p.kind, IoKind::kWriteZeroes);
  EXPECT_EQ(p.slba, 2u);
  EXPECT_EQ(p.nlb, 8u);
}

TEST(UblkPlan, BadRequestsAreEinval) {
  IoPlan p;
  EXPECT_EQ(plan_io(iod(UBLK_IO_OP_WRITE_SAME, 0, 8), 512, 1000, 65536, &p), -EINVAL);
  EXPECT_EQ(plan_io(iod(0x7f, 0, 8), 512, 1000, 65536, &p), -EINVAL);
  EXPECT_EQ(plan_io(iod(UBLK_IO_OP_READ, 0, 0), 512, 1000, 65536, &p), -EINVAL);
  EXPECT_EQ(plan_io(iod(UBLK_IO_OP_READ, 990, 16), 512, 1000, 65536, &p), -EINVAL);  // past the end
  EXPECT_EQ(plan_io(iod(UBLK_IO_OP_READ, 1000, 1), 512, 1000, 65536, &p), -EINVAL);
  EXPECT_EQ(plan_io(iod(UBLK_IO_OP_READ, 0, 256), 512, 1000, 65536, &p), -EINVAL);  // 128 KiB > 64 KiB
  EXPECT_EQ(plan_io(iod(UBLK_IO_OP_READ, 4, 8), 4096, 1000, 65536, &p), -EINVAL);   // misaligned
  EXPECT_EQ(plan_io(iod(UBLK_IO_OP_READ, 8, 4), 4096, 1000, 65536, &p), -EINVAL);
  EXPECT_EQ(plan_io(iod(UBLK_IO_OP_WRITE_ZEROES, 0, 65537), 512, 100000, 65536, &p), -EINVAL);
}

}  // namespace
}  // namespace nvmeoe::ublk
