// The io_uring backend for regular files and block devices: one ring per backend, preallocated op
// slots, batched submission, and an eventfd the owner's event loop waits on. Running out of SQEs
// or slots never fails an operation; it waits in a queue and goes out with a later submission.
// Like every backend, it belongs to one thread (the queue's owner) and takes no locks.
//
// Reads and writes the kernel cannot do without blocking are handed by io_uring to a worker
// thread: a wake-up of the worker, an eventfd wake-up of the owner, ~25 us of a ~60 us 4 KiB
// round trip on tmpfs. Where the data is in memory anyway the backend does the copy inline:
// - tmpfs/ramfs files (no FMODE_NOWAIT, so io_uring always punts them to a worker, O_DIRECT or
//   not): plain pread/pwrite in submit(), which never wait for a device;
// - other buffered files: reads first try preadv2(RWF_NOWAIT), which succeeds from the page cache
//   and returns EAGAIN otherwise; only then does the read go through io_uring.
// O_DIRECT files and block devices always go through io_uring (no worker hop there).
#include "backend/uring_backend.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/eventfd.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

#include "common/log.h"

namespace nvmeoe {

namespace {

constexpr unsigned kRingEntries = 256;
constexpr size_t kInitialSlots = 512;
constexpr unsigned kReapBatch = 64;
// Zero-fill fallback for Write Zeroes and Deallocate writes from this buffer, this much at a time.
constexpr uint64_t kZeroBufBytes = uint64_t(1) << 20;
// io_uring read/write lengths are 32-bit; longer ops continue like short transfers.
constexpr uint64_t kMaxIoBytes = uint64_t(1) << 30;

// What a slot is currently asking the kernel for. Write Zeroes and Deallocate step down through
// the later stages when the file system or device lacks the cheaper one.
enum class Stage : uint8_t { kIo, kFsync, kPunchHole, kZeroRange, kZeroWrite };

struct Slot {
  BackendOp op;
  uint64_t done = 0;  // bytes finished, for kIo and kZeroWrite
  Stage stage = Stage::kIo;
};

bool is_unsupported(int res) {
  return res == -EOPNOTSUPP || res == -EINVAL || res == -ENOSYS;
}

// What submit() may do itself instead of asking io_uring (see the top of the file).
enum class InlineIo : uint8_t { kNone, kMemoryFs, kNowaitReads };

const char* inline_io_name(InlineIo m) {
  switch (m) {
    case InlineIo::kNone:
      return "io_uring only";
    case InlineIo::kMemoryFs:
      return "inline reads and writes (memory file system)";
    case InlineIo::kNowaitReads:
      return "inline page-cache reads";
  }
  return "?";
}

class UringBackend final : public Backend {
 public:
  UringBackend(int fd, BackendCaps caps, bool direct) : fd_(fd), caps_(std::move(caps)), direct_(direct) {}

  ~UringBackend() override {
    if (ring_ready_) drain_kernel();
    if (ring_ready_) io_uring_queue_exit(&ring_);
    if (event_fd_ >= 0) ::close(event_fd_);
    if (fd_ >= 0) ::close(fd_);
  }

  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;

  Status init() {
    io_uring_params params;
    std::memset(&params, 0, sizeof params);
    // SUBMIT_ALL keeps one bad SQE from holding back the rest of a batch (kernel >= 5.18).
    params.flags = IORING_SETUP_SUBMIT_ALL;
    int ret = io_uring_queue_init_params(kRingEntries, &ring_, &params);
    if (ret == -EINVAL) {
      std::memset(&params, 0, sizeof params);
      ret = io_uring_queue_init_params(kRingEntries, &ring_, &params);
    }
    if (ret < 0) return Status::from_errno(-ret, "io_uring setup for '" + caps_.path + "'");
    ring_ready_ = true;
    struct statfs fs;
    if (::fstatfs(fd_, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC))
      inline_ = InlineIo::kMemoryFs;  // with or without O_DIRECT (tmpfs accepts it since 6.6)
    else if (!direct_)
      inline_ = InlineIo::kNowaitReads;
    // Never hand the kernel more than the CQ can hold, so completions cannot overflow.
    max_kernel_in_flight_ = ring_.cq.ring_entries;

    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0) return Status::from_errno(errno, "eventfd");
    ret = io_uring_register_eventfd(&ring_, event_fd_);
    if (ret < 0) return Status::from_errno(-ret, "io_uring_register_eventfd");

    zero_buf_ = alloc_aligned(kZeroBufBytes);
    if (!zero_buf_) return Status::error("out of memory for the zero buffer", ENOMEM);
    slots_.resize(kInitialSlots);
    free_slots_.reserve(kInitialSlots);
    for (size_t i = kInitialSlots; i > 0; --i) free_slots_.push_back(uint32_t(i - 1));
    ready_.reserve(64);
    delivering_.reserve(64);
    LOG_DEBUG("'%s': io_uring with %u entries, %s I/O, %s", caps_.path.c_str(), ring_.sq.ring_entries,
              direct_ ? "direct" : "buffered", inline_io_name(inline_));
    return Status::ok();
  }

  const BackendCaps& caps() const override { return caps_; }

  Status submit(const BackendOp& op) override {
    bool has_buf = op.kind == BackendOpKind::kRead || op.kind == BackendOpKind::kWrite;
    if (op.kind != BackendOpKind::kFlush && (op.offset > caps_.size_bytes || op.length > caps_.size_bytes - op.offset))
      return Status::error("backend op out of range", ERANGE);
    if (has_buf && op.length != 0 && op.buf == nullptr) return Status::error("backend op without a buffer");

    ++in_flight_;
    bool writes = op.kind != BackendOpKind::kRead && op.kind != BackendOpKind::kFlush;
    if (writes && caps_.read_only) {
      complete_now(op.tag, EROFS);
      return Status::ok();
    }
    // The kernel rejects zero-length fallocate, and zero-length transfers need no trip there.
    if (op.kind != BackendOpKind::kFlush && op.length == 0) {
      complete_now(op.tag, 0);
      return Status::ok();
    }

    uint64_t done = 0;
    if (inline_ != InlineIo::kNone && has_buf) {
      int err = 0;
      if (try_inline(op, &done, &err)) {
        ready_.push_back(BackendCompletion{op.tag, err});
        signal_once();
        return Status::ok();
      }
    }

    uint32_t index = alloc_slot();
    Slot& slot = slots_[index];
    slot.op = op;
    slot.done = done;
    switch (op.kind) {
      case BackendOpKind::kRead:
      case BackendOpKind::kWrite:
        slot.stage = Stage::kIo;
        break;
      case BackendOpKind::kFlush:
        slot.stage = Stage::kFsync;
        break;
      case BackendOpKind::kWriteZeroes:
        slot.stage = zero_range_ok_ ? Stage::kZeroRange : Stage::kZeroWrite;
        break;
      case BackendOpKind::kDeallocate:
        slot.stage = punch_ok_ ? Stage::kPunchHole : zero_range_ok_ ? Stage::kZeroRange : Stage::kZeroWrite;
        break;
    }
    start(index);
    return Status::ok();
  }

  void flush_submissions() override {
    drain_pending();
    submit_sq();
  }

  size_t reap(FunctionRef<void(const BackendCompletion&)> done) override {
    // Clear the eventfd before looking at the CQ: a completion posted after this read signals it
    // again, so the owner cannot sleep through one.
    uint64_t ignored;
    while (::read(event_fd_, &ignored, sizeof ignored) < 0 && errno == EINTR) {
    }
    signalled_ = false;

    size_t n = 0;
    if (!ready_.empty()) {
      // Swap first: a callback may submit again; those completions wait for the next reap().
      delivering_.swap(ready_);
      for (const BackendCompletion& c : delivering_) {
        --in_flight_;
        ++n;
        done(c);
      }
      delivering_.clear();
    }

    struct Finished {
      uint64_t index;
      int res;
    };
    io_uring_cqe* cqes[kReapBatch];
    Finished batch[kReapBatch];
    for (;;) {
      unsigned got = io_uring_peek_batch_cqe(&ring_, cqes, kReapBatch);
      if (got == 0) break;
      for (unsigned i = 0; i < got; ++i) batch[i] = Finished{io_uring_cqe_get_data64(cqes[i]), cqes[i]->res};
      // Hand the CQEs back before running callbacks, which may submit and complete more work.
      io_uring_cq_advance(&ring_, got);
      kernel_in_flight_ -= got;
      for (unsigned i = 0; i < got; ++i) {
        uint32_t index = uint32_t(batch[i].index);
        int err = 0;
        if (!on_cqe(index, batch[i].res, &err)) continue;
        BackendCompletion c{slots_[index].op.tag, err};
        free_slots_.push_back(index);
        --in_flight_;
        ++n;
        done(c);
      }
      if (got < kReapBatch) break;
    }
    // Continuations of short transfers and fallbacks were queued above; send them (and whatever
    // the callbacks submitted) now rather than waiting for the owner's flush_submissions().
    drain_pending();
    submit_sq();
    return n;
  }

  int wait_fd() const override { return event_fd_; }
  size_t in_flight() const override { return in_flight_; }

 private:
  uint32_t alloc_slot() {
    if (free_slots_.empty()) {
      // Past the preallocated slots: grow (deque keeps existing slots in place) and keep them.
      slots_.emplace_back();
      return uint32_t(slots_.size() - 1);
    }
    uint32_t index = free_slots_.back();
    free_slots_.pop_back();
    return index;
  }

  // Completions that never reach the kernel still go through reap(); poke the eventfd so an owner
  // sleeping on wait_fd() comes to collect them.
  void complete_now(uint64_t tag, int err) {
    ready_.push_back(BackendCompletion{tag, err});
    signal_self();
  }

  // For completions queued in submit(): one eventfd write until the next reap() is enough.
  void signal_once() {
    if (signalled_) return;
    signalled_ = true;
    signal_self();
  }

  // Does a read or write in the calling thread where that cannot wait for a device. Returns true
  // when the op is finished (its errno in *err); false when io_uring must do it, with *done bytes
  // already transferred.
  bool try_inline(const BackendOp& op, uint64_t* done, int* err) {
    bool read = op.kind == BackendOpKind::kRead;
    if (!read && inline_ != InlineIo::kMemoryFs) return false;
    while (*done < op.length) {
      size_t n = size_t(std::min(op.length - *done, kMaxIoBytes));
      off_t at = off_t(op.offset + *done);
      ssize_t got;
      if (inline_ == InlineIo::kMemoryFs) {
        got = read ? ::pread(fd_, op.buf + *done, n, at) : ::pwrite(fd_, op.buf + *done, n, at);
      } else {
        iovec iov{op.buf + *done, n};
        got = ::preadv2(fd_, &iov, 1, at, RWF_NOWAIT);
      }
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return false;
        if (inline_ == InlineIo::kNowaitReads && (errno == EOPNOTSUPP || errno == EINVAL)) {
          LOG_INFO("'%s': no RWF_NOWAIT reads here; all reads go through io_uring", caps_.path.c_str());
          inline_ = InlineIo::kNone;
          return false;
        }
        *err = errno;
        return true;
      }
      if (got == 0) {
        if (!read) {
          *err = EIO;  // a write that makes no progress would retry forever
          return true;
        }
        // Past the end of a file that shrank under us, or a hole the page cache cannot answer
        // without waiting: let io_uring decide (it zero-fills at EOF, see on_cqe()).
        if (inline_ == InlineIo::kNowaitReads) return false;
        std::memset(op.buf + *done, 0, op.length - *done);
        break;
      }
      *done += uint64_t(got);
      // A short RWF_NOWAIT read: the rest is not cached; io_uring continues from here.
      if (inline_ == InlineIo::kNowaitReads && *done < op.length) return false;
    }
    *err = 0;
    return true;
  }

  void signal_self() {
    uint64_t one = 1;
    while (::write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

  // Sends the slot's current stage to the kernel, or queues it behind earlier waiting ops.
  void start(uint32_t index) {
    if (!pending_.empty() || !try_prep(index)) pending_.push_back(index);
  }

  void drain_pending() {
    while (!pending_.empty() && try_prep(pending_.front())) pending_.pop_front();
  }

  bool try_prep(uint32_t index) {
    if (kernel_in_flight_ >= max_kernel_in_flight_) return false;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      submit_sq();
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) return false;
    }
    Slot& slot = slots_[index];
    const BackendOp& op = slot.op;
    switch (slot.stage) {
      case Stage::kIo: {
        uint64_t n = std::min(op.length - slot.done, kMaxIoBytes);
        if (op.kind == BackendOpKind::kRead)
          io_uring_prep_read(sqe, fd_, op.buf + slot.done, unsigned(n), op.offset + slot.done);
        else
          io_uring_prep_write(sqe, fd_, op.buf + slot.done, unsigned(n), op.offset + slot.done);
        break;
      }
      case Stage::kFsync:
        io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
        break;
      case Stage::kPunchHole:
        io_uring_prep_fallocate(sqe, fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(op.offset),
                                off_t(op.length));
        break;
      case Stage::kZeroRange:
        io_uring_prep_fallocate(sqe, fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off_t(op.offset),
                                off_t(op.length));
        break;
      case Stage::kZeroWrite: {
        uint64_t n = std::min(op.length - slot.done, kZeroBufBytes);
        io_uring_prep_write(sqe, fd_, zero_buf_.get(), unsigned(n), op.offset + slot.done);
        break;
      }
    }
    io_uring_sqe_set_data64(sqe, index);
    ++kernel_in_flight_;
    return true;
  }

  void submit_sq() {
    if (io_uring_sq_ready(&ring_) == 0) return;
    int ret;
    do {
      ret = io_uring_submit(&ring_);
    } while (ret == -EINTR);
    if (ret >= 0) return;
    // The SQEs stay in the ring and go out with the next submit. Make sure there is one: with
    // nothing in flight, no completion would wake the owner to call reap() again.
    if (ret != -EAGAIN && ret != -EBUSY && !warned_submit_) {
      LOG_WARN("'%s': io_uring_submit: %s (will retry)", caps_.path.c_str(), std::strerror(-ret));
      warned_submit_ = true;
    }
    signal_self();
  }

  // Advances a slot after a CQE. Returns true when the op is finished, with its errno in *err.
  bool on_cqe(uint32_t index, int res, int* err) {
    Slot& slot = slots_[index];
    if (res == -EINTR || res == -EAGAIN) {
      start(index);
      return false;
    }
    switch (slot.stage) {
      case Stage::kIo:
      case Stage::kZeroWrite:
        if (res < 0) {
          *err = -res;
          return true;
        }
        if (res == 0) {
          // A read at end of file (the file shrank under us): the rest reads as zeroes. A write
          // that makes no progress would retry forever.
          if (slot.stage == Stage::kIo && slot.op.kind == BackendOpKind::kRead) {
            std::memset(slot.op.buf + slot.done, 0, slot.op.length - slot.done);
            *err = 0;
          } else {
            *err = EIO;
          }
          return true;
        }
        slot.done += uint64_t(res);
        if (slot.done < slot.op.length) {
          start(index);
          return false;
        }
        *err = 0;
        return true;
      case Stage::kFsync:
        *err = res < 0 ? -res : 0;
        return true;
      case Stage::kPunchHole:
        if (is_unsupported(res)) {
          if (punch_ok_) LOG_INFO("'%s': cannot punch holes; deallocate will zero instead", caps_.path.c_str());
          punch_ok_ = false;
          return step_down(index, zero_range_ok_ ? Stage::kZeroRange : Stage::kZeroWrite);
        }
        *err = res < 0 ? -res : 0;
        return true;
      case Stage::kZeroRange:
        if (is_unsupported(res)) {
          if (zero_range_ok_) LOG_INFO("'%s': no FALLOC_FL_ZERO_RANGE; writing zeroes instead", caps_.path.c_str());
          zero_range_ok_ = false;
          return step_down(index, Stage::kZeroWrite);
        }
        *err = res < 0 ? -res : 0;
        return true;
    }
    *err = EINVAL;
    return true;
  }

  bool step_down(uint32_t index, Stage stage) {
    slots_[index].stage = stage;
    slots_[index].done = 0;
    start(index);
    return false;
  }

  // The kernel may still write into caller buffers after the ring is torn down (ring exit is
  // asynchronous), so wait for everything it holds. Ops that never left pending_ are dropped.
  void drain_kernel() {
    pending_.clear();
    submit_sq();
    while (kernel_in_flight_ > 0) {
      io_uring_cqe* cqe = nullptr;
      int ret = io_uring_wait_cqe(&ring_, &cqe);
      if (ret == -EINTR) continue;
      if (ret < 0) {
        LOG_WARN("'%s': waiting for in-flight I/O at close: %s", caps_.path.c_str(), std::strerror(-ret));
        return;
      }
      io_uring_cqe_seen(&ring_, cqe);
      --kernel_in_flight_;
    }
  }

  int fd_;
  BackendCaps caps_;
  bool direct_;
  io_uring ring_;
  bool ring_ready_ = false;
  int event_fd_ = -1;
  AlignedBuffer zero_buf_;
  // Learned on first failure, so later ops skip fallocate modes the file system lacks.
  bool punch_ok_ = true;
  bool zero_range_ok_ = true;
  bool warned_submit_ = false;
  InlineIo inline_ = InlineIo::kNone;
  bool signalled_ = false;  // an eventfd write is pending since the last reap()

  std::deque<Slot> slots_;  // user_data is the slot index
  std::vector<uint32_t> free_slots_;
  std::deque<uint32_t> pending_;          // slots waiting for an SQE or for room in the CQ
  std::vector<BackendCompletion> ready_;  // finished without the kernel
  std::vector<BackendCompletion> delivering_;
  unsigned kernel_in_flight_ = 0;  // SQEs prepared and not yet completed
  unsigned max_kernel_in_flight_ = 0;
  size_t in_flight_ = 0;  // submit()ted and not yet reaped
};

}  // namespace

Result<std::unique_ptr<Backend>> make_uring_backend(int fd, BackendCaps caps, bool direct) {
  auto backend = std::make_unique<UringBackend>(fd, std::move(caps), direct);
  NVMEOE_RETURN_IF_ERROR(backend->init());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace nvmeoe
