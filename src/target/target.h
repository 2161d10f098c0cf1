// The target transport: owns the link, turns frames into Requests for the TargetCore and
// completions back into frames. Keeps per-queue association state (host MAC, queue id, nonce,
// controller), reassembles host-to-controller data, answers duplicated commands from a completion
// cache, and serves discovery queries. One thread runs it (run()); request_stop() may be called
// from any thread or a signal handler.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "link/link.h"
#include "target/core.h"
#include "target/target_stats.h"

namespace nvmeoe {

struct TargetOptions {
  bool allow_header_digest = true;
  bool allow_data_digest = true;
  uint32_t poll_us = 0;             // busy-poll this long before sleeping in poll()
  uint32_t shutdown_timeout_ms = 10000;  // waiting for in-flight I/O at stop
};

class TargetTransport {
 public:
  TargetTransport(TargetCore* core, std::unique_ptr<Link> link, TargetOptions options = {});
  ~TargetTransport();
  TargetTransport(const TargetTransport&) = delete;
  TargetTransport& operator=(const TargetTransport&) = delete;

  // Runs until request_stop(): then stops accepting connections, lets in-flight commands finish
  // (bounded by shutdown_timeout_ms), flushes every namespace, terminates every association.
  Status run();
  // Async-signal-safe.
  void request_stop();
  TargetStats stats() const;
  // Per-association statistics, taken by the transport thread between two loop turns: safe from
  // any other thread while run() runs (it waits at most `timeout` for the next turn). Fails when
  // the transport is not running.
  Result<TargetSnapshot> snapshot(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) const;
  const Link& link() const { return *link_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Link> link_;
};

}  // namespace nvmeoe
