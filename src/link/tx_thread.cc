#include "link/tx_thread.h"

#include <sched.h>

#include "common/log.h"

namespace nvmeoe {

namespace {
// Spins of wait() before it sleeps: a batch of a few dozen frames takes tens of microseconds.
constexpr int kWaitSpins = 64;
}  // namespace

TxThread::TxThread(Link* link) : link_(link) {
  thread_ = std::thread([this] { run(); });
}

TxThread::~TxThread() {
  wait();
  stop_.store(true, std::memory_order_release);
  posted_.fetch_add(1, std::memory_order_release);  // wakes run(), which sees stop_
  posted_.notify_one();
  thread_.join();
}

void TxThread::post(std::span<const TxFrame> frames) {
  wait();
  batch_ = frames;
  posted_.fetch_add(1, std::memory_order_release);
  posted_.notify_one();
}

void TxThread::wait() {
  uint32_t want = posted_.load(std::memory_order_relaxed);
  for (int i = 0; i < kWaitSpins; ++i) {
    if (done_.load(std::memory_order_acquire) == want) return;
    sched_yield();
  }
  for (;;) {
    uint32_t d = done_.load(std::memory_order_acquire);
    if (d == want) return;
    done_.wait(d, std::memory_order_acquire);
  }
}

void TxThread::run() {
  uint32_t seen = 0;
  bool warned = false;
  for (;;) {
    posted_.wait(seen, std::memory_order_acquire);
    uint32_t p = posted_.load(std::memory_order_acquire);
    if (p == seen) continue;  // spurious wake-up
    if (stop_.load(std::memory_order_acquire)) return;
    seen = p;
    Status s = link_->send(batch_);
    if (!s.is_ok() && !warned) {
      LOG_WARN("send failed: %s", s.message().c_str());
      warned = true;
    }
    done_.store(seen, std::memory_order_release);
    done_.notify_one();
  }
}

}  // namespace nvmeoe
