// MemoryLink: an in-process "cable" between two Link endpoints, so host and target can talk in one
// process (possibly on two threads) without a network. Lossless and ordered; each frame is copied
// once into a buffer of its own. The buffers and the queue's slots are reused, so that once warm
// the cable allocates nothing (tests count the allocations of the data path over it).
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/log.h"
#include "link/link.h"

namespace nvmeoe {

namespace {

// One direction of the cable. Shared by both endpoints (the sender pushes, the receiver pops), so
// everything here is guarded by `mutex`. The eventfd is readable exactly while `frames` is not
// empty: both are changed under the same lock.
class Wire {
 public:
  Wire() {
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    // Without an eventfd a test cannot wait on the link at all; there is nothing to fall back to.
    if (event_fd_ < 0) {
      LOG_ERROR("memory link: eventfd failed: %s", std::strerror(errno));
      std::abort();
    }
  }
  ~Wire() { ::close(event_fd_); }
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;

  int event_fd() const { return event_fd_; }

  void push(std::vector<uint8_t> frame) {
    std::lock_guard<std::mutex> lock(mutex_);
    bool was_empty = count_ == 0;
    if (count_ == ring_.size()) grow();
    ring_[(head_ + count_) % ring_.size()] = std::move(frame);
    ++count_;
    if (was_empty) signal();
  }

  // Takes the oldest frame into `out` (whose buffer goes back to the spares); false when none.
  bool pop(std::vector<uint8_t>* out) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (count_ == 0) return false;
    if (out->capacity()) spares_.push_back(std::move(*out));
    *out = std::move(ring_[head_]);
    head_ = (head_ + 1) % ring_.size();
    if (--count_ == 0) clear();
    return true;
  }

  // A buffer for the next frame: a spare one when there is one.
  std::vector<uint8_t> take_buffer() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (spares_.empty()) return {};
    std::vector<uint8_t> b = std::move(spares_.back());
    spares_.pop_back();
    b.clear();
    return b;
  }
  void give_back(std::vector<uint8_t>&& b) {
    std::lock_guard<std::mutex> lock(mutex_);
    spares_.push_back(std::move(b));
  }

 private:
  void signal() {
    uint64_t one = 1;
    // Cannot fail short of a counter overflow, which needs 2^64 signals without a read.
    ssize_t n = ::write(event_fd_, &one, sizeof one);
    (void)n;
  }
  void clear() {
    uint64_t value;
    ssize_t n = ::read(event_fd_, &value, sizeof value);  // EAGAIN when already clear
    (void)n;
  }
  void grow() {
    std::vector<std::vector<uint8_t>> bigger(std::max<size_t>(64, ring_.size() * 2));
    for (size_t i = 0; i < count_; ++i) bigger[i] = std::move(ring_[(head_ + i) % ring_.size()]);
    ring_ = std::move(bigger);
    head_ = 0;
  }

  std::mutex mutex_;
  std::vector<std::vector<uint8_t>> ring_;  // count_ frames from head_, in order
  size_t head_ = 0, count_ = 0;
  std::vector<std::vector<uint8_t>> spares_;  // buffers of delivered frames, for the next ones
  int event_fd_ = -1;
};

class MemoryLink final : public Link {
 public:
  MemoryLink(std::string name, uint32_t mtu, uint16_t ethertype, MacAddress mac, std::shared_ptr<Wire> in,
             std::shared_ptr<Wire> out)
      : name_(std::move(name)), mtu_(mtu), ethertype_(ethertype), mac_(mac), in_(std::move(in)), out_(std::move(out)) {}

  MacAddress local_mac() const override { return mac_; }
  uint32_t mtu() const override { return mtu_; }
  uint16_t ethertype() const override { return ethertype_; }
  std::string name() const override { return name_; }
  int wait_fd() const override { return in_->event_fd(); }

  size_t receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) override {
    size_t delivered = 0;
    std::vector<uint8_t> frame;
    // The sink runs without the wire's lock held, so it may send (even to this same wire).
    while (delivered < max && in_->pop(&frame)) {
      sink(std::span<const uint8_t>(frame.data(), frame.size()));
      ++delivered;
    }
    if (frame.capacity()) in_->give_back(std::move(frame));
    rx_frames_.fetch_add(delivered, std::memory_order_relaxed);
    return delivered;
  }

  Status send(std::span<const TxFrame> frames) override {
    const size_t max_frame = kEthHeaderSize + mtu_;
    for (const TxFrame& f : frames) {
      size_t size = f.size();
      if (size < kEthHeaderSize || size > max_frame) {
        // As on Ethernet, a frame the medium cannot carry is lost rather than reported.
        LOG_DEBUG("%s: dropping a %zu-byte frame (limit %zu)", name_.c_str(), size, max_frame);
        tx_dropped_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      std::vector<uint8_t> frame = out_->take_buffer();
      frame.reserve(max_frame);
      for (const auto& piece : f.parts()) frame.insert(frame.end(), piece.begin(), piece.end());
      out_->push(std::move(frame));
      tx_frames_.fetch_add(1, std::memory_order_relaxed);
    }
    return Status::ok();
  }

  Counters counters() const override {
    Counters c;
    c.rx_frames = rx_frames_.load(std::memory_order_relaxed);
    c.tx_frames = tx_frames_.load(std::memory_order_relaxed);
    c.tx_dropped = tx_dropped_.load(std::memory_order_relaxed);
    c.rx_dropped = 0;  // the cable never loses frames
    return c;
  }

 private:
  std::string name_;
  uint32_t mtu_;
  uint16_t ethertype_;
  MacAddress mac_;
  // Both wires are owned jointly with the peer, so either endpoint may be destroyed first.
  std::shared_ptr<Wire> in_, out_;
  std::atomic<uint64_t> rx_frames_{0}, tx_frames_{0}, tx_dropped_{0};
};

}  // namespace

MemoryLinkPair make_memory_link_pair(uint32_t mtu, uint16_t ethertype, MacAddress mac_a, MacAddress mac_b) {
  auto a_to_b = std::make_shared<Wire>();
  auto b_to_a = std::make_shared<Wire>();
  MemoryLinkPair pair;
  pair.a = std::make_unique<MemoryLink>("mem-a", mtu, ethertype, mac_a, b_to_a, a_to_b);
  pair.b = std::make_unique<MemoryLink>("mem-b", mtu, ethertype, mac_b, a_to_b, b_to_a);
  return pair;
}

}  // namespace nvmeoe
