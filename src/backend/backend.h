// Storage backends behind a namespace: a file or block device through io_uring, or RAM. Backends
// say what they can do; the target core does not know which kind it serves. Operations are
// asynchronous: submit(), then reap() completions, driven by the owner's event loop.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/function_ref.h"
#include "common/status.h"

namespace nvmeoe {

struct BackendCaps {
  uint64_t size_bytes = 0;
  uint32_t block_size = 512;  // logical block size exposed to hosts
  bool read_only = false;
  bool volatile_write_cache = true;  // Flush is meaningful
  bool deallocate = false;           // deallocated ranges read back as zeroes
  bool write_zeroes = true;
  std::string kind;  // "file", "block", "mem" (for logs and listings)
  std::string path;  // as given by the user
};

enum class BackendOpKind { kRead, kWrite, kFlush, kWriteZeroes, kDeallocate };

struct BackendOp {
  BackendOpKind kind = BackendOpKind::kRead;
  uint64_t offset = 0;     // bytes
  uint64_t length = 0;     // bytes
  uint8_t* buf = nullptr;  // kRead/kWrite: buffer of `length` bytes, 4096-byte aligned
  uint64_t tag = 0;        // returned unchanged in the completion
};

struct BackendCompletion {
  uint64_t tag = 0;
  int result = 0;  // 0 on success, else a positive errno
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const BackendCaps& caps() const = 0;
  // Queues an operation. The range is already validated by the caller against caps().size_bytes.
  // Returns an error only when the operation cannot be queued at all (the caller then completes
  // the command with an internal error); otherwise exactly one completion follows.
  virtual Status submit(const BackendOp& op) = 0;
  // Pushes queued operations to the kernel (batched submission). Cheap when nothing is queued.
  virtual void flush_submissions() = 0;
  // Delivers finished operations to `done`, without blocking. Returns how many.
  virtual size_t reap(FunctionRef<void(const BackendCompletion&)> done) = 0;
  // Readable when reap() may deliver something; -1 when completions are always immediate (RAM:
  // the caller must call reap() after every submit()).
  virtual int wait_fd() const = 0;
  // Operations submitted and not yet reaped.
  virtual size_t in_flight() const = 0;
};

// Opens "mem:SIZE" (SIZE with K/M/G/T suffixes, binary), a block device or a regular file.
// Block devices and files are used with O_DIRECT when the file system allows it.
Result<std::unique_ptr<Backend>> open_backend(const std::string& spec, bool read_only);

// Parses sizes like "512", "64M", "20G", "1T" (binary multiples). Fails on garbage or zero.
Result<uint64_t> parse_size(const std::string& text);

// Allocates a 4096-byte aligned buffer suitable for O_DIRECT I/O.
struct AlignedFree {
  void operator()(uint8_t* p) const;
};
using AlignedBuffer = std::unique_ptr<uint8_t[], AlignedFree>;
AlignedBuffer alloc_aligned(size_t bytes);

}  // namespace nvmeoe
