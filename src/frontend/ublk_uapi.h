// The kernel's ublk UAPI (include/uapi/linux/ublk_cmd.h, Documentation/block/ublk.rst) as far as
// nvmeoe uses it. Debian 12's headers (6.1) have the structures and the legacy opcodes but not the
// ioctl-encoded UBLK_U_* opcodes (kernel 6.2+, the only ones a kernel built without
// CONFIG_BLKDEV_UBLK_LEGACY_OPCODES accepts) or the newer flags: those are defined here from the
// kernel's values when the system header lacks them.
#pragma once

#include <linux/ublk_cmd.h>
#include <sys/ioctl.h>

#include <cstdint>

static_assert(sizeof(ublksrv_ctrl_cmd) == 32, "ublksrv_ctrl_cmd is 32 bytes");
static_assert(sizeof(ublksrv_ctrl_dev_info) == 64, "ublksrv_ctrl_dev_info is 64 bytes");
static_assert(sizeof(ublksrv_io_desc) == 24, "ublksrv_io_desc is 24 bytes");
static_assert(sizeof(ublksrv_io_cmd) == 16, "ublksrv_io_cmd is 16 bytes");
static_assert(sizeof(ublk_param_basic) == 32, "ublk_param_basic is 32 bytes");
static_assert(sizeof(ublk_param_discard) == 20, "ublk_param_discard is 20 bytes");

#ifndef UBLK_U_CMD_ADD_DEV
#define UBLK_U_CMD_GET_DEV_INFO _IOR('u', UBLK_CMD_GET_DEV_INFO, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_ADD_DEV _IOWR('u', UBLK_CMD_ADD_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_DEL_DEV _IOWR('u', UBLK_CMD_DEL_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_START_DEV _IOWR('u', UBLK_CMD_START_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_STOP_DEV _IOWR('u', UBLK_CMD_STOP_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_SET_PARAMS _IOWR('u', UBLK_CMD_SET_PARAMS, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_GET_PARAMS _IOR('u', UBLK_CMD_GET_PARAMS, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_IO_FETCH_REQ
#define UBLK_U_IO_FETCH_REQ _IOWR('u', UBLK_IO_FETCH_REQ, struct ublksrv_io_cmd)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ _IOWR('u', UBLK_IO_COMMIT_AND_FETCH_REQ, struct ublksrv_io_cmd)
#endif
#ifndef UBLK_F_CMD_IOCTL_ENCODE
// The server issues ioctl-encoded I/O commands (informational for the driver; 6.2+).
#define UBLK_F_CMD_IOCTL_ENCODE (1ULL << 6)
#endif

namespace nvmeoe::ublk {

// Where /dev/ublkcN maps the descriptor array of queue `q`: one slot of UBLK_MAX_QUEUE_DEPTH
// descriptors per queue, each slot rounded up to the page size.
inline uint64_t iod_mmap_offset(uint16_t q, uint64_t page_size) {
  uint64_t slot = (uint64_t(UBLK_MAX_QUEUE_DEPTH) * sizeof(ublksrv_io_desc) + page_size - 1) / page_size * page_size;
  return UBLKSRV_CMD_BUF_OFFSET + q * slot;
}
inline uint64_t iod_mmap_length(uint16_t depth, uint64_t page_size) {
  return (uint64_t(depth) * sizeof(ublksrv_io_desc) + page_size - 1) / page_size * page_size;
}

// Legacy (6.0/6.1) opcode for an ioctl-encoded one: the command number alone.
constexpr uint32_t legacy_opcode(uint32_t ioctl_op) {
  return ioctl_op & 0xff;
}

}  // namespace nvmeoe::ublk
