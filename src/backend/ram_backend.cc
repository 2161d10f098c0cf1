// The RAM backend ("mem:SIZE"): sparse 1 MiB chunks, allocated on first write, with immediate
// completions. Meant for tests and benchmarks where storage must not be the bottleneck.
// One owner thread, no locks, as for every backend.
#include "backend/ram_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nvmeoe {

namespace {

constexpr uint64_t kChunkBytes = uint64_t(1) << 20;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using Chunk = std::unique_ptr<uint8_t, FreeDeleter>;

class RamBackend final : public Backend {
 public:
  RamBackend(uint64_t size_bytes, bool read_only, std::string path) {
    caps_.size_bytes = size_bytes;
    caps_.block_size = 512;
    caps_.read_only = read_only;
    caps_.volatile_write_cache = true;
    caps_.deallocate = true;
    caps_.write_zeroes = true;
    caps_.kind = "mem";
    caps_.path = std::move(path);
    ready_.reserve(256);
    delivering_.reserve(256);
  }

  const BackendCaps& caps() const override { return caps_; }

  Status submit(const BackendOp& op) override {
    if (op.kind != BackendOpKind::kFlush && (op.offset > caps_.size_bytes || op.length > caps_.size_bytes - op.offset))
      return Status::error("backend op out of range", ERANGE);
    bool has_buf = op.kind == BackendOpKind::kRead || op.kind == BackendOpKind::kWrite;
    if (has_buf && op.length != 0 && op.buf == nullptr) return Status::error("backend op without a buffer");
    ready_.push_back(BackendCompletion{op.tag, execute(op)});
    ++in_flight_;
    return Status::ok();
  }

  void flush_submissions() override {}

  size_t reap(FunctionRef<void(const BackendCompletion&)> done) override {
    // Swap first: a callback may submit again, and those completions wait for the next reap().
    delivering_.swap(ready_);
    size_t n = 0;
    for (const BackendCompletion& c : delivering_) {
      --in_flight_;
      ++n;
      done(c);
    }
    delivering_.clear();
    return n;
  }

  int wait_fd() const override { return -1; }
  size_t in_flight() const override { return in_flight_; }

 private:
  int execute(const BackendOp& op) {
    bool writes = op.kind != BackendOpKind::kRead && op.kind != BackendOpKind::kFlush;
    if (writes && caps_.read_only) return EROFS;
    switch (op.kind) {
      case BackendOpKind::kRead:
        read(op.offset, op.length, op.buf);
        return 0;
      case BackendOpKind::kWrite:
        return write(op.offset, op.length, op.buf);
      case BackendOpKind::kFlush:
        return 0;
      case BackendOpKind::kWriteZeroes:
      case BackendOpKind::kDeallocate:
        zero(op.offset, op.length);
        return 0;
    }
    return EINVAL;
  }

  // Calls fn(chunk index, offset in chunk, bytes, offset in the op) for each chunk the range touches.
  template <typename Fn>
  static void for_each_chunk(uint64_t offset, uint64_t length, Fn&& fn) {
    uint64_t pos = 0;
    while (pos < length) {
      uint64_t abs = offset + pos;
      uint64_t in_chunk = abs % kChunkBytes;
      uint64_t n = std::min(length - pos, kChunkBytes - in_chunk);
      fn(abs / kChunkBytes, in_chunk, n, pos);
      pos += n;
    }
  }

  void read(uint64_t offset, uint64_t length, uint8_t* buf) const {
    for_each_chunk(offset, length, [&](uint64_t index, uint64_t in_chunk, uint64_t n, uint64_t pos) {
      auto it = chunks_.find(index);
      if (it == chunks_.end())
        std::memset(buf + pos, 0, n);
      else
        std::memcpy(buf + pos, it->second.get() + in_chunk, n);
    });
  }

  int write(uint64_t offset, uint64_t length, const uint8_t* buf) {
    int result = 0;
    for_each_chunk(offset, length, [&](uint64_t index, uint64_t in_chunk, uint64_t n, uint64_t pos) {
      if (result != 0) return;
      Chunk& chunk = chunks_[index];
      if (!chunk) {
        // calloc: fresh chunks come straight from mmap, so untouched pages cost no memory.
        chunk.reset(static_cast<uint8_t*>(std::calloc(1, kChunkBytes)));
        if (!chunk) {
          chunks_.erase(index);
          result = ENOMEM;
          return;
        }
      }
      std::memcpy(chunk.get() + in_chunk, buf + pos, n);
    });
    return result;
  }

  // Write Zeroes and Deallocate both leave zeroes behind; whole chunks go back to the allocator.
  void zero(uint64_t offset, uint64_t length) {
    for_each_chunk(offset, length, [&](uint64_t index, uint64_t in_chunk, uint64_t n, uint64_t) {
      auto it = chunks_.find(index);
      if (it == chunks_.end()) return;
      uint64_t chunk_len = std::min(kChunkBytes, caps_.size_bytes - index * kChunkBytes);
      if (in_chunk == 0 && n >= chunk_len)
        chunks_.erase(it);
      else
        std::memset(it->second.get() + in_chunk, 0, n);
    });
  }

  BackendCaps caps_;
  // A hash map rather than a vector: "mem:1P" must not cost a pointer per chunk up front.
  std::unordered_map<uint64_t, Chunk> chunks_;
  std::vector<BackendCompletion> ready_;
  std::vector<BackendCompletion> delivering_;
  size_t in_flight_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_ram_backend(uint64_t size_bytes, bool read_only, std::string path) {
  return std::make_unique<RamBackend>(size_bytes, read_only, std::move(path));
}

}  // namespace nvmeoe
