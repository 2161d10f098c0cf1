// The unit of work between the target transport and the target core: one NVMe command with its
// data buffer. The transport fills it (SQE, and host-to-controller data), hands it to
// TargetCore::execute(), and gets it back through `on_complete` exactly once.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

#include "nvme/spec.h"

namespace nvmeoe {

namespace auth {
struct FrameKeys;
}  // namespace auth
class Controller;
struct Namespace;
struct Request;

// The core's record of a request waiting on backend I/O: kept inside the Request, so that no
// I/O allocates one (src/target/io_cmd.cc). Only the core touches it.
struct BackendWait {
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  bool active = false;       // between start_pending() and the completion
  Request* req = nullptr;    // the request this is part of
  Namespace* ns = nullptr;   // null for a Flush of all namespaces
  uint32_t outstanding = 0;  // backend ops still running for this request
  NvmeStatus status = sc::kSuccess;
  uint64_t bytes = 0;                            // data moved by a Read or Write (SMART, data_len)
  bool flush_after = false;                      // Write with FUA: flush once the write has succeeded
  std::unique_ptr<uint8_t, FreeDeleter> zeroes;  // Write Zeroes emulated with a plain write
};

struct Request {
  Sqe sqe;
  Cqe cqe;  // filled by the core; the transport sets sq_id/cid before sending
  uint16_t qid = 0;
  // Set by the transport: which of the core's ports the command came through (TargetCore::ports),
  // and how many commands its queue holds (a Fabrics Connect's SQSIZE must fit; 0: no limit).
  size_t port = 0;
  uint16_t queue_size = 0;
  // The controller this queue belongs to; null on a queue that has not completed Fabrics Connect.
  std::shared_ptr<Controller> ctrl;
  // The command's data buffer, exactly the SGL length. For host-to-controller commands it holds the
  // received data; for controller-to-host commands the core fills the first `data_len` bytes.
  std::span<uint8_t> data;
  uint32_t data_len = 0;  // bytes of `data` to return to the host (controller-to-host)
  // Set by the core when a Fabrics Connect succeeds: the transport binds its queue to it.
  std::shared_ptr<Controller> connected;
  // Set by the core on the command that completes a queue's first successful DH-HMAC-CHAP
  // transaction: the transport tags the queue's frames with them from this command's answer on.
  std::shared_ptr<auth::FrameKeys> frame_keys;
  // Called exactly once by the core, with cqe.status set (and dw0/dw1 where the command has a result).
  void (*on_complete)(Request* req) = nullptr;
  void* transport_ctx = nullptr;  // owned by the transport
  uint64_t transport_tag = 0;     // owned by the transport
  BackendWait wait;               // owned by the core

  NvmeStatus status() const { return cqe.status; }
};

}  // namespace nvmeoe
