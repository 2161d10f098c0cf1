// A synchronous in-memory Backend for target core tests. Operations take effect at submit() and
// their completions wait for reap(), as with the RAM backend; `hold` keeps them back longer to
// exercise asynchronous paths, `fail_errno` fails operations, and every operation is recorded.
// Storage is sparse (a map of 512-byte sectors), so a 20 GiB namespace costs nothing.
#pragma once

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "backend/backend.h"

namespace nvmeoe::test {

class FakeBackend final : public Backend {
 public:
  static constexpr uint64_t kSector = 512;

  explicit FakeBackend(uint64_t size_bytes) {
    caps_.size_bytes = size_bytes;
    caps_.deallocate = true;
    caps_.kind = "fake";
  }

  BackendCaps& mutable_caps() { return caps_; }
  const BackendCaps& caps() const override { return caps_; }

  Status submit(const BackendOp& op) override {
    ops.push_back(op);
    if (refuse_submit) return Status::error("fake backend refuses", EAGAIN);
    if (op.kind != BackendOpKind::kFlush && (op.offset > caps_.size_bytes || op.length > caps_.size_bytes - op.offset ||
                                             op.offset % kSector || op.length % kSector))
      return Status::error("fake backend: op out of range", ERANGE);
    int result = 0;
    if (fail_errno != 0 && (!fail_kind || *fail_kind == op.kind))
      result = fail_errno;
    else
      result = apply(op);
    ready_.push_back(BackendCompletion{op.tag, result});
    return Status::ok();
  }

  void flush_submissions() override { ++flush_submission_calls; }

  size_t reap(FunctionRef<void(const BackendCompletion&)> done) override {
    if (hold) return 0;
    // Swap first: a completion may submit again, and that waits for the next reap().
    std::vector<BackendCompletion> batch;
    batch.swap(ready_);
    delivering_ = batch.size();
    for (const BackendCompletion& c : batch) {
      --delivering_;
      done(c);
    }
    return batch.size();
  }

  int wait_fd() const override { return -1; }
  size_t in_flight() const override { return ready_.size() + delivering_; }

  size_t count(BackendOpKind kind) const {
    size_t n = 0;
    for (const BackendOp& op : ops) n += op.kind == kind;
    return n;
  }
  size_t stored_sectors() const { return sectors_.size(); }

  bool hold = false;                       // keep completions until cleared
  int fail_errno = 0;                      // complete matching ops with this errno
  std::optional<BackendOpKind> fail_kind;  // which ops fail_errno applies to (all when empty)
  bool refuse_submit = false;              // submit() itself fails
  std::vector<BackendOp> ops;              // every submitted op, in order
  int flush_submission_calls = 0;

 private:
  int apply(const BackendOp& op) {
    uint64_t first = op.offset / kSector, count = op.length / kSector;
    switch (op.kind) {
      case BackendOpKind::kRead:
        for (uint64_t i = 0; i < count; ++i) {
          auto it = sectors_.find(first + i);
          if (it == sectors_.end())
            std::memset(op.buf + i * kSector, 0, kSector);
          else
            std::memcpy(op.buf + i * kSector, it->second.data(), kSector);
        }
        return 0;
      case BackendOpKind::kWrite:
        if (caps_.read_only) return EROFS;
        for (uint64_t i = 0; i < count; ++i) std::memcpy(sectors_[first + i].data(), op.buf + i * kSector, kSector);
        return 0;
      case BackendOpKind::kFlush:
        return 0;
      case BackendOpKind::kWriteZeroes:
      case BackendOpKind::kDeallocate:
        if (caps_.read_only) return EROFS;
        sectors_.erase(sectors_.lower_bound(first), sectors_.lower_bound(first + count));
        return 0;
    }
    return EINVAL;
  }

  BackendCaps caps_;
  std::map<uint64_t, std::array<uint8_t, kSector>> sectors_;
  std::vector<BackendCompletion> ready_;
  size_t delivering_ = 0;
};

}  // namespace nvmeoe::test
