// The unit of work between the target transport and the target core: one NVMe command with its
// data buffer. The transport fills it (SQE, and host-to-controller data), hands it to
// TargetCore::execute(), and gets it back through `on_complete` exactly once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "nvme/spec.h"

namespace nvmeoe {

class Controller;

struct Request {
  Sqe sqe;
  Cqe cqe;  // filled by the core; the transport sets sq_id/cid before sending
  uint16_t qid = 0;
  // The controller this queue belongs to; null on a queue that has not completed Fabrics Connect.
  std::shared_ptr<Controller> ctrl;
  // The command's data buffer, exactly the SGL length. For host-to-controller commands it holds the
  // received data; for controller-to-host commands the core fills the first `data_len` bytes.
  std::span<uint8_t> data;
  uint32_t data_len = 0;  // bytes of `data` to return to the host (controller-to-host)
  // Set by the core when a Fabrics Connect succeeds: the transport binds its queue to it.
  std::shared_ptr<Controller> connected;
  // Called exactly once by the core, with cqe.status set (and dw0/dw1 where the command has a result).
  void (*on_complete)(Request* req) = nullptr;
  void* transport_ctx = nullptr;  // owned by the transport
  uint64_t transport_tag = 0;     // owned by the transport

  NvmeStatus status() const { return cqe.status; }
};

}  // namespace nvmeoe
