// The target transport: owns the links (one per port/interface), turns frames into Requests for the TargetCore and
// completions back into frames. Keeps per-queue association state (host MAC, queue id, nonce,
// controller), reassembles host-to-controller data, answers duplicated commands from a completion
// cache, and serves discovery queries. One thread runs it (run()); request_stop() may be called
// from any thread or a signal handler.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "link/link.h"
#include "target/core.h"
#include "target/resource_limits.h"
#include "target/target_stats.h"

namespace nvmeoe {

struct TargetOptions {
  bool allow_data_digest = true;
  uint32_t poll_us = 0;  // busy-poll this long before sleeping in poll()
  // Send large frame batches from a second thread per port (TxThread), so the kernel's send work
  // overlaps the loop's next turn. Batches of fewer than tx_thread_min_frames go out inline.
  bool tx_thread = false;
  uint32_t tx_thread_min_frames = 8;
  uint32_t shutdown_timeout_ms = 10000;  // waiting for in-flight I/O at stop
  ResourceLimits limits;                 // what peers may make the target keep (resource_limits.h)
};

// One interface the target serves on. Port i is the core's port i (TargetCore::set_ports), which
// says the subsystems offered there.
struct TargetPort {
  std::unique_ptr<Link> link;
};

class TargetTransport {
 public:
  TargetTransport(TargetCore* core, std::unique_ptr<Link> link, TargetOptions options = {});
  // Several ports served by the one thread that runs run(); associations belong to their port.
  TargetTransport(TargetCore* core, std::vector<TargetPort> ports, TargetOptions options = {});
  ~TargetTransport();
  TargetTransport(const TargetTransport&) = delete;
  TargetTransport& operator=(const TargetTransport&) = delete;

  // Runs until request_stop(): then stops accepting connections, lets in-flight commands finish
  // (bounded by shutdown_timeout_ms), flushes every namespace, terminates every association.
  Status run();
  // Async-signal-safe.
  void request_stop();
  // Async-signal-safe: run() calls the reload handler on its own thread at its next turn, where
  // the handler may change the core, its ports' subsystem lists included (configuration reload);
  // associations the change leaves without their subsystem end at once.
  void request_reload();
  void set_reload_handler(std::function<void()> handler);
  TargetStats stats() const;  // summed over the ports
  const Link& link(size_t port = 0) const { return *links_.at(port); }
  size_t port_count() const { return links_.size(); }
  // Per-association statistics of one port, taken by the transport thread between two loop turns:
  // safe from any other thread while run() runs (it waits at most `timeout` for the next turn).
  // Fails when the transport is not running.
  Result<TargetSnapshot> snapshot(size_t port = 0,
                                  std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) const;

  struct Impl;
  struct Shared;

 private:
  void add_port(TargetPort port, const TargetOptions& options);

  TargetCore* core_;
  std::unique_ptr<Shared> shared_;  // before the ports: their buffers come from its pool
  std::vector<std::unique_ptr<Impl>> ports_;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<pollfd> poll_fds_;  // stop eventfd, every link, backend eventfds
  std::atomic<bool> reload_requested_{false};
  std::function<void()> reload_;
};

}  // namespace nvmeoe
