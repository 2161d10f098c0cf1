// TxThread: a second thread that sends a link's frame batches, so that the kernel's per-frame work
// (skb build, copy, device transmit and, on veth, the delivery to the peer) runs on another core
// than the loop that produces the frames. One batch at a time: post() hands a batch over and
// returns; wait() returns once it is on the wire. Used by one owner thread; only send() runs on
// the helper thread, so the link must allow send() and receive() from two threads (every Link
// does: see link.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <thread>

#include "link/link.h"

namespace nvmeoe {

class TxThread {
 public:
  explicit TxThread(Link* link);
  ~TxThread();  // waits for the batch in progress, then joins
  TxThread(const TxThread&) = delete;
  TxThread& operator=(const TxThread&) = delete;

  // Starts sending `frames`. The caller keeps the frames and every byte they point to unchanged
  // until wait() has returned. A batch still in progress is waited for first.
  void post(std::span<const TxFrame> frames);
  // Returns once no batch is in progress. Cheap when none is.
  void wait();
  bool idle() const { return done_.load(std::memory_order_acquire) == posted_.load(std::memory_order_relaxed); }
  // Batches sent, and send() errors (logged once each), since creation.
  uint64_t batches() const { return done_.load(std::memory_order_relaxed); }

 private:
  void run();

  Link* link_;
  std::span<const TxFrame> batch_;
  std::atomic<uint32_t> posted_{0};
  std::atomic<uint32_t> done_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace nvmeoe
