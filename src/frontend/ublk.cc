// ublk frontend: one block device /dev/ublkbN per namespace, served by the kernel's ublk driver
// through io_uring URING_CMD (no ublksrv). Structure (docs/ARCHITECTURE.md, "Frontends"):
//   - a control ring on /dev/ublk-control, used by the thread that starts and stops the frontend:
//     ADD_DEV, SET_PARAMS, START_DEV, STOP_DEV, DEL_DEV;
//   - per device and hardware queue one thread with its own io_uring (SQE128) on /dev/ublkcN: it
//     keeps a FETCH_REQ pending for every tag, reads the request descriptor from the mmapped
//     descriptor array, issues the NVMe command through the asynchronous HostController API into a
//     preallocated per-tag buffer, and answers with COMMIT_AND_FETCH_REQ;
//   - completions arrive on the host library's thread: the callback pushes the tag onto a lock-free
//     list and wakes the queue thread through an eventfd (read by the queue's own ring). Nothing
//     on this path allocates (the callback captures one pointer and fits std::function's inline
//     storage) or takes a lock. Discard is the exception: the library's deallocate() takes a vector.
#include <fcntl.h>
#include <liburing.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "frontend/frontend.h"
#include "frontend/ublk_params.h"
#include "frontend/ublk_uapi.h"

namespace nvmeoe {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kControlPath = "/dev/ublk-control";
constexpr uint64_t kEventData = ~uint64_t(0);  // user_data of the eventfd read on a queue ring

// Bounds of the control commands. START_DEV includes the kernel's partition scan (READs through
// our own queues), which is slow on an emulated CPU.
constexpr auto kControlTimeout = 10s;
constexpr auto kStartTimeout = 60s;
// stop(): how long pending host I/O may finish normally before the frontend answers it with EIO;
// the destructor: how long it waits for the host library to give the buffers back afterwards.
constexpr auto kDrainGrace = 1s;
constexpr auto kReleaseWait = 5s;

std::string errno_text(int err) {
  return std::strerror(err < 0 ? -err : err);
}

bool wait_for_path(const std::string& path, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (access(path.c_str(), F_OK) != 0) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

void prep_uring_cmd(io_uring_sqe* sqe, int fd, uint32_t op, const void* cmd, size_t len, uint64_t user_data) {
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, nullptr, 0, 0);
  sqe->cmd_op = op;
  // The command area: 16 bytes in the base SQE plus the 64 of the SQE128 extension.
  std::memset(sqe->cmd, 0, 80);
  std::memcpy(sqe->cmd, cmd, len);
  sqe->user_data = user_data;
}

// ---- control ring ----

class ControlRing {
 public:
  ~ControlRing() {
    if (ring_ok_) io_uring_queue_exit(&ring_);
    if (fd_ >= 0) close(fd_);
  }

  Status open() {
    fd_ = ::open(kControlPath, O_RDWR | O_CLOEXEC);
    if (fd_ < 0) return Status::from_errno(errno, std::string("open ") + kControlPath);
    int r = io_uring_queue_init(4, &ring_, IORING_SETUP_SQE128);
    if (r < 0) return Status::from_errno(-r, "io_uring with 128-byte SQEs for ublk control");
    ring_ok_ = true;
    return Status::ok();
  }

  bool legacy() const { return legacy_; }

  // Runs one control command; returns its result (>= 0) or -errno (-ETIMEDOUT past `limit`).
  // The first command also finds out whether the kernel takes ioctl-encoded opcodes (6.2+) or
  // only the legacy ones (6.0/6.1).
  int command(uint32_t op, ublksrv_ctrl_cmd cmd, std::chrono::milliseconds limit) {
    int r = issue(legacy_ ? ublk::legacy_opcode(op) : op, cmd, limit);
    if (!probed_ && !legacy_ && (r == -EOPNOTSUPP || r == -524 /* kernel ENOTSUPP */)) {
      int r2 = issue(ublk::legacy_opcode(op), cmd, limit);
      if (r2 != -EOPNOTSUPP && r2 != -524) {
        legacy_ = true;
        r = r2;
      }
    }
    if (r != -ETIMEDOUT) probed_ = true;
    return r;
  }

 private:
  int issue(uint32_t op, const ublksrv_ctrl_cmd& cmd, std::chrono::milliseconds limit) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) return -EBUSY;
    uint64_t id = ++seq_;
    prep_uring_cmd(sqe, fd_, op, &cmd, sizeof(cmd), id);
    int r = io_uring_submit(&ring_);
    if (r < 0) return r;
    auto deadline = Clock::now() + limit;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
      if (left.count() <= 0) return -ETIMEDOUT;
      __kernel_timespec ts{left.count() / 1000000, (left.count() % 1000000) * 1000};
      io_uring_cqe* cqe = nullptr;
      r = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
      if (r == -ETIME || r == -EINTR) continue;
      if (r < 0) return r;
      uint64_t got = cqe->user_data;
      int res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      if (got == id) return res;  // older ids: commands that timed out earlier
    }
  }

  int fd_ = -1;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool legacy_ = false;
  bool probed_ = false;
  uint64_t seq_ = 0;
};

ublksrv_ctrl_cmd ctrl_cmd(uint32_t dev_id) {
  ublksrv_ctrl_cmd c{};
  c.dev_id = dev_id;
  c.queue_id = UINT16_MAX;
  return c;
}

// ---- one hardware queue ----

class UblkQueue;

struct Tag {
  enum class State : uint8_t { kKernel, kHost, kOrphan, kDead };
  UblkQueue* queue = nullptr;
  uint8_t* buf = nullptr;
  Tag* next = nullptr;  // completion list link
  int32_t ok_result = 0;
  int32_t result = 0;  // written by the completion callback, read by the queue thread
  uint16_t tag = 0;
  State state = State::kKernel;  // queue thread only
};

class UblkQueue {
 public:
  UblkQueue(HostController* hc, uint32_t nsid, uint64_t blocks, uint32_t block_size, uint16_t qid, uint16_t host_queue,
            uint16_t depth, uint32_t max_io, bool legacy)
      : hc_(hc),
        nsid_(nsid),
        blocks_(blocks),
        block_size_(block_size),
        qid_(qid),
        host_queue_(host_queue),
        depth_(depth),
        max_io_(max_io),
        legacy_(legacy),
        tags_(depth) {}

  ~UblkQueue() {
    if (iods_) munmap(const_cast<ublksrv_io_desc*>(iods_), iods_len_);
    if (bufs_) munmap(bufs_, bufs_len_);
    if (efd_ >= 0) close(efd_);
  }

  // Maps the descriptors and buffers; the ring is made by the queue thread itself.
  Status setup(int cdev_fd) {
    cdev_fd_ = cdev_fd;
    long page = sysconf(_SC_PAGESIZE);
    iods_len_ = ublk::iod_mmap_length(depth_, uint64_t(page));
    void* p = mmap(nullptr, iods_len_, PROT_READ, MAP_SHARED | MAP_POPULATE, cdev_fd,
                   off_t(ublk::iod_mmap_offset(qid_, uint64_t(page))));
    if (p == MAP_FAILED)
      return Status::from_errno(errno, "mmap of the ublk descriptors of queue " + std::to_string(qid_));
    iods_ = static_cast<const ublksrv_io_desc*>(p);
    // One buffer per tag plus one scratch buffer for tags answered while the host still owns
    // their own buffer (see abort_host_io()). Pages are touched only when used.
    bufs_len_ = (size_t(depth_) + 1) * max_io_;
    p = mmap(nullptr, bufs_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return Status::from_errno(errno, "I/O buffers of ublk queue " + std::to_string(qid_));
    bufs_ = static_cast<uint8_t*>(p);
    scratch_ = bufs_ + size_t(depth_) * max_io_;
    for (uint16_t i = 0; i < depth_; ++i) {
      tags_[i].queue = this;
      tags_[i].tag = i;
      tags_[i].buf = bufs_ + size_t(i) * max_io_;
    }
    efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd_ < 0) return Status::from_errno(errno, "eventfd");
    return Status::ok();
  }

  // Starts the thread; returns once its FETCH_REQs are submitted (or it failed).
  Status start() {
    thread_ = std::thread([this] { run(); });
    while (ready_.load(std::memory_order_acquire) == 0) std::this_thread::sleep_for(1ms);
    if (ready_.load() < 0) {
      thread_.join();
      return Status::error(setup_error_);
    }
    return Status::ok();
  }

  // stop() steps, called by the control thread.
  void set_stopping() {
    stopping_.store(true, std::memory_order_release);
    wake();
  }
  void abort_host_io() {
    abort_.store(true, std::memory_order_release);
    wake();
  }
  void finish() {
    exit_.store(true, std::memory_order_release);
    wake();
    if (thread_.joinable()) thread_.join();
  }
  void unmap_descriptors() {
    if (iods_) munmap(const_cast<ublksrv_io_desc*>(iods_), iods_len_);
    iods_ = nullptr;
  }
  int host_inflight() const { return inflight_.load(std::memory_order_acquire); }

 private:
  void wake() {
    uint64_t one = 1;
    ssize_t n = write(efd_, &one, sizeof(one));
    (void)n;  // EAGAIN: the counter is already non-zero, so the thread wakes anyway
  }

  // The host library's callback: any thread, must not block.
  static void on_host_done(Tag* t, const Completion& c) {
    UblkQueue* q = t->queue;
    t->result = c.ok() ? t->ok_result : -EIO;
    Tag* old = q->done_.load(std::memory_order_relaxed);
    do {
      t->next = old;
    } while (!q->done_.compare_exchange_weak(old, t, std::memory_order_release, std::memory_order_relaxed));
    if (old == nullptr) q->wake();                         // the list was empty: the thread may be asleep
    q->inflight_.fetch_sub(1, std::memory_order_release);  // last access to *q
  }

  void fail_setup(std::string why) {
    setup_error_ = std::move(why);
    ready_.store(-1, std::memory_order_release);
  }

  void run() {
    int r = io_uring_queue_init(unsigned(depth_) * 2 + 2, &ring_, IORING_SETUP_SQE128);
    if (r < 0) return fail_setup("io_uring for ublk queue " + std::to_string(qid_) + ": " + errno_text(r));
    for (uint16_t i = 0; i < depth_; ++i) queue_io_cmd(i, UBLK_U_IO_FETCH_REQ, 0, tags_[i].buf);
    arm_eventfd();
    r = io_uring_submit(&ring_);
    if (r < 0) {
      io_uring_queue_exit(&ring_);
      return fail_setup("FETCH_REQ on ublk queue " + std::to_string(qid_) + ": " + errno_text(r));
    }
    ready_.store(1, std::memory_order_release);
    loop();
    // Pending FETCH_REQs are cancelled when the ring goes away.
    io_uring_queue_exit(&ring_);
  }

  void loop() {
    bool aborted = false;
    while (!exit_.load(std::memory_order_acquire)) {
      drain_done();
      if (!aborted && abort_.load(std::memory_order_acquire)) {
        aborted = true;
        for (Tag& t : tags_) {
          if (t.state != Tag::State::kHost) continue;
          t.state = Tag::State::kOrphan;
          queue_io_cmd(t.tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, -EIO, scratch_);
        }
      }
      int r = io_uring_submit_and_wait(&ring_, 1);
      if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
        LOG_ERROR("ublk queue %u: io_uring: %s", qid_, errno_text(r).c_str());
        std::this_thread::sleep_for(10ms);
      }
      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        if (cqe->user_data == kEventData) {
          arm_eventfd();
          continue;
        }
        Tag& t = tags_[uint16_t(cqe->user_data)];
        if (cqe->res == UBLK_IO_RES_OK) {
          handle_request(t);
        } else {
          if (cqe->res != UBLK_IO_RES_ABORT && !exit_.load())
            LOG_WARN("ublk queue %u tag %u: %s", qid_, t.tag, errno_text(cqe->res).c_str());
          if (t.state == Tag::State::kKernel) t.state = Tag::State::kDead;
        }
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }

  void drain_done() {
    Tag* t = done_.exchange(nullptr, std::memory_order_acquire);
    while (t) {
      Tag* next = t->next;
      if (t->state == Tag::State::kHost) {
        t->state = Tag::State::kKernel;
        queue_io_cmd(t->tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, t->result, t->buf);
      } else if (t->state == Tag::State::kOrphan) {
        t->state = Tag::State::kKernel;  // already answered with EIO; the buffer is ours again
      }
      t = next;
    }
  }

  void handle_request(Tag& t) {
    if (stopping_.load(std::memory_order_acquire))
      return queue_io_cmd(t.tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, -EIO, t.buf);
    const ublksrv_io_desc& iod = iods_[t.tag];
    ublk::IoPlan plan;
    int err = ublk::plan_io(iod, block_size_, blocks_, max_io_, &plan);
    if (err) return queue_io_cmd(t.tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, err, t.buf);
    t.state = Tag::State::kHost;
    t.ok_result = int32_t(plan.bytes);
    inflight_.fetch_add(1, std::memory_order_relaxed);
    Tag* tp = &t;
    IoCallback cb = [tp](const Completion& c) { on_host_done(tp, c); };
    switch (plan.kind) {
      case ublk::IoKind::kRead:
        hc_->read(nsid_, plan.slba, plan.nlb, t.buf, std::move(cb), host_queue_);
        break;
      case ublk::IoKind::kWrite:
        hc_->write(nsid_, plan.slba, plan.nlb, t.buf, std::move(cb), host_queue_, plan.fua);
        break;
      case ublk::IoKind::kFlush:
        hc_->flush(nsid_, std::move(cb), host_queue_);
        break;
      case ublk::IoKind::kWriteZeroes:
        hc_->write_zeroes(nsid_, plan.slba, plan.nlb, std::move(cb), host_queue_);
        break;
      case ublk::IoKind::kDiscard:
        hc_->deallocate(nsid_, {DsmRange{plan.slba, plan.nlb}}, std::move(cb), host_queue_);
        break;
    }
  }

  void queue_io_cmd(uint16_t tag, uint32_t op, int32_t result, uint8_t* buf) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
      if (!sqe) {  // cannot happen: the ring has room for every tag twice
        LOG_ERROR("ublk queue %u: submission ring full, tag %u lost", qid_, tag);
        return;
      }
    }
    ublksrv_io_cmd cmd{};
    cmd.q_id = qid_;
    cmd.tag = tag;
    cmd.result = result;
    cmd.addr = reinterpret_cast<uintptr_t>(buf);
    prep_uring_cmd(sqe, cdev_fd_, legacy_ ? ublk::legacy_opcode(op) : op, &cmd, sizeof(cmd), tag);
  }

  void arm_eventfd() {
    if (exit_.load(std::memory_order_acquire)) return;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
      if (!sqe) return;
    }
    io_uring_prep_read(sqe, efd_, &efd_value_, sizeof(efd_value_), 0);
    sqe->user_data = kEventData;
  }

  HostController* hc_;
  uint32_t nsid_;
  uint64_t blocks_;
  uint32_t block_size_;
  uint16_t qid_, host_queue_, depth_;
  uint32_t max_io_;
  bool legacy_;
  int cdev_fd_ = -1;
  int efd_ = -1;
  uint64_t efd_value_ = 0;
  const ublksrv_io_desc* iods_ = nullptr;
  size_t iods_len_ = 0;
  uint8_t* bufs_ = nullptr;
  uint8_t* scratch_ = nullptr;
  size_t bufs_len_ = 0;
  std::vector<Tag> tags_;
  io_uring ring_{};
  std::thread thread_;
  std::atomic<Tag*> done_{nullptr};
  std::atomic<int> inflight_{0};
  std::atomic<int> ready_{0};
  std::atomic<bool> stopping_{false}, abort_{false}, exit_{false};
  std::string setup_error_;
};

// ---- one device (namespace) ----

struct UblkDevice {
  uint32_t nsid = 0;
  uint32_t dev_id = UINT32_MAX;  // set once ADD_DEV succeeded
  bool started = false;
  int cdev_fd = -1;
  std::vector<std::unique_ptr<UblkQueue>> queues;
};

class UblkFrontend : public Frontend {
 public:
  explicit UblkFrontend(HostController* hc) : hc_(hc) {}
  ~UblkFrontend() override {
    stop();
    auto deadline = Clock::now() + kReleaseWait;
    for (auto& q : retired_) {
      while (q->host_inflight() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(2ms);
      if (q->host_inflight() > 0) {
        // Freeing the buffers now would let the library write into freed memory.
        LOG_WARN("ublk: %d command(s) still at the host; their buffers stay allocated", q->host_inflight());
        (void)q.release();
      }
    }
  }

  FrontendKind kind() const override { return FrontendKind::kUblk; }
  const std::vector<FrontendDevice>& devices() const override { return exported_; }

  Status start(const FrontendOptions& options) {
    NVMEOE_RETURN_IF_ERROR(ctrl_.open());
    for (const NamespaceInfo& ns : hc_->namespaces()) {
      Status s = add_device(ns, options);
      if (!s) {
        stop();
        return s;
      }
    }
    return Status::ok();
  }

  void stop() override {
    for (auto it = devs_.rbegin(); it != devs_.rend(); ++it) remove_device(*it);
    devs_.clear();
    exported_.clear();
  }

 private:
  Status add_device(const NamespaceInfo& ns, const FrontendOptions& options) {
    auto cfg = ublk::make_device_config(ns, hc_->controller(), options.queues, options.queue_depth);
    if (!cfg) return cfg.status();
    devs_.emplace_back();
    UblkDevice& d = devs_.back();
    d.nsid = ns.nsid;
    std::string what = "namespace " + std::to_string(ns.nsid);

    ublksrv_ctrl_dev_info info = cfg->info;
    info.ublksrv_pid = getpid();
    ublksrv_ctrl_cmd c = ctrl_cmd(UINT32_MAX);
    c.addr = reinterpret_cast<uintptr_t>(&info);
    c.len = sizeof(info);
    // The flag is only a statement about the opcodes; the first command settles which kind works.
    info.flags = UBLK_F_CMD_IOCTL_ENCODE;
    int r = ctrl_.command(UBLK_U_CMD_ADD_DEV, c, kControlTimeout);
    if (r < 0) return Status::from_errno(-r, "ublk ADD_DEV for " + what);
    d.dev_id = info.dev_id;
    std::string cdev = "/dev/ublkc" + std::to_string(d.dev_id);
    // The driver writes back what it accepted: at most one hardware queue per CPU, and possibly a
    // smaller queue depth or I/O buffer.
    const uint16_t nr_queues = info.nr_hw_queues;
    const uint16_t depth = info.queue_depth;
    const uint32_t max_io = std::min(info.max_io_buf_bytes, cfg->max_io_bytes) / 4096 * 4096;
    if (nr_queues == 0 || nr_queues > options.queues || depth == 0 || depth > options.queue_depth || max_io == 0)
      return Status::error("ublk ADD_DEV for " + what + " returned unusable limits (" + std::to_string(nr_queues) +
                           " queues, depth " + std::to_string(depth) + ", " + std::to_string(info.max_io_buf_bytes) +
                           " bytes per I/O)");

    ublk_params params = cfg->params;
    params.basic.max_sectors = std::min(params.basic.max_sectors, max_io / 512);
    c = ctrl_cmd(d.dev_id);
    c.addr = reinterpret_cast<uintptr_t>(&params);
    c.len = sizeof(params);
    r = ctrl_.command(UBLK_U_CMD_SET_PARAMS, c, kControlTimeout);
    if (r < 0) return Status::from_errno(-r, "ublk SET_PARAMS for " + what + " (" + cdev + ")");

    if (!wait_for_path(cdev, 2000ms)) return Status::error(cdev + " did not appear after ADD_DEV", ENOENT);
    d.cdev_fd = ::open(cdev.c_str(), O_RDWR | O_CLOEXEC);
    if (d.cdev_fd < 0) return Status::from_errno(errno, "open " + cdev);

    uint16_t host_queues = std::max<uint16_t>(1, hc_->io_queue_count());
    for (uint16_t q = 0; q < nr_queues; ++q) {
      auto queue = std::make_unique<UblkQueue>(hc_, ns.nsid, ns.blocks, ns.block_size, q, uint16_t(1 + q % host_queues),
                                               depth, max_io, ctrl_.legacy());
      NVMEOE_RETURN_IF_ERROR(queue->setup(d.cdev_fd));
      NVMEOE_RETURN_IF_ERROR(queue->start());
      d.queues.push_back(std::move(queue));
    }

    // Returns after the driver has seen every FETCH_REQ and read the partition table through the
    // queue threads, which are serving already.
    c = ctrl_cmd(d.dev_id);
    c.data[0] = uint64_t(getpid());
    r = ctrl_.command(UBLK_U_CMD_START_DEV, c, kStartTimeout);
    if (r < 0) return Status::from_errno(-r, "ublk START_DEV for " + what + " (" + cdev + ")");
    d.started = true;
    std::string bdev = "/dev/ublkb" + std::to_string(d.dev_id);
    if (!wait_for_path(bdev, 2000ms)) return Status::error(bdev + " did not appear after START_DEV", ENOENT);
    exported_.push_back(FrontendDevice{ns.nsid, bdev});
    LOG_INFO("ublk: namespace %u is %s (%u queue(s) of depth %u)", ns.nsid, bdev.c_str(), unsigned(nr_queues),
             unsigned(depth));
    return Status::ok();
  }

  void remove_device(UblkDevice& d) {
    std::string name = "ublk" + std::to_string(d.dev_id);
    // New requests fail at once; requests at the host get a grace period, then EIO.
    for (auto& q : d.queues) q->set_stopping();
    auto drained = [&d] {
      for (auto& q : d.queues)
        if (q->host_inflight() > 0) return false;
      return true;
    };
    auto deadline = Clock::now() + kDrainGrace;
    while (!drained() && Clock::now() < deadline) std::this_thread::sleep_for(2ms);
    for (auto& q : d.queues) q->abort_host_io();

    if (d.started) {
      int r = ctrl_.command(UBLK_U_CMD_STOP_DEV, ctrl_cmd(d.dev_id), kControlTimeout);
      if (r < 0) LOG_WARN("ublk STOP_DEV of %s: %s", name.c_str(), errno_text(r).c_str());
    }
    for (auto& q : d.queues) {
      q->finish();
      // The character device must be released for DEL_DEV. Queues whose commands answered with
      // EIO are still at the host keep their buffers until the library completes them (the agent
      // destroys the frontend after disconnecting the controller, which completes everything).
      q->unmap_descriptors();
      if (q->host_inflight() > 0) retired_.push_back(std::move(q));
    }
    d.queues.clear();
    if (d.cdev_fd >= 0) close(d.cdev_fd);
    d.cdev_fd = -1;
    if (d.dev_id != UINT32_MAX) {
      int r = ctrl_.command(UBLK_U_CMD_DEL_DEV, ctrl_cmd(d.dev_id), kControlTimeout);
      if (r < 0) LOG_WARN("ublk DEL_DEV of %s: %s", name.c_str(), errno_text(r).c_str());
      d.dev_id = UINT32_MAX;
    }
  }

  HostController* hc_;
  ControlRing ctrl_;
  std::vector<UblkDevice> devs_;
  std::vector<FrontendDevice> exported_;
  std::vector<std::unique_ptr<UblkQueue>> retired_;  // stopped, buffers still lent to the host
};

// Runs `modprobe ublk_drv` (bounded); returns a description of the outcome when it failed.
std::string try_modprobe() {
  pid_t pid = fork();
  if (pid < 0) return std::string("fork for modprobe: ") + std::strerror(errno);
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    execlp("modprobe", "modprobe", "ublk_drv", static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = Clock::now() + 10s;
  int st = 0;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return std::string("waitpid for modprobe: ") + std::strerror(errno);
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return "`modprobe ublk_drv` did not finish within 10 s";
    }
    std::this_thread::sleep_for(10ms);
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return "";
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return "modprobe is not installed";
  return "`modprobe ublk_drv` failed (status " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)) +
         ")";
}

}  // namespace

bool ublk_available(std::string* why) {
  if (access(kControlPath, F_OK) == 0) return true;
  static std::atomic<bool> tried{false};
  std::string outcome = "modprobe was tried before";
  if (!tried.exchange(true)) {
    outcome = try_modprobe();
    // udev/devtmpfs creates the node shortly after the module loads.
    if (outcome.empty() && wait_for_path(kControlPath, 2000ms)) return true;
  }
  if (why) {
    *why = std::string(kControlPath) + " is missing: this kernel has no ublk driver loaded (ublk_drv, Linux 6.0+, " +
           "CONFIG_BLK_DEV_UBLK)" + (outcome.empty() ? std::string() : "; " + outcome);
  }
  return false;
}

Result<std::unique_ptr<Frontend>> start_ublk_frontend(HostController* hc, const FrontendOptions& options) {
  if (!hc) return Status::error("ublk frontend: no controller");
  std::string why;
  if (!ublk_available(&why)) return Status::error("ublk frontend: " + why, ENODEV);
  if (hc->namespaces().empty()) return Status::error("ublk frontend: the controller has no namespaces", ENODEV);
  auto fe = std::make_unique<UblkFrontend>(hc);
  Status s = fe->start(options);
  if (!s) return Status::error("ublk frontend: " + s.message(), s.err());
  return std::unique_ptr<Frontend>(std::move(fe));
}

}  // namespace nvmeoe
