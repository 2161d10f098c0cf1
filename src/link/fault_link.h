// FaultLink: a Link wrapper that injects the faults of a bad network (loss, duplication,
// reordering, delay, bit errors, a dead link) into the frames another Link sends and/or receives,
// so the protocol's recovery can be tested over a memory link (unit tests) or between two real
// interfaces (tools/fault_relay_main.cc). This kernel has no netem; this is our netem.
//
// Faults are chosen per frame by a seeded PRNG: for the same seed, configuration and sequence of
// frames in a direction, the same frames get the same faults. Only the timing of releases (delay,
// the reorder timeout) depends on the clock.
//
// Threads: send() and receive() may run on different threads (each direction has its own lock);
// the setters and fault_counters() may be called from any thread at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "link/link.h"

namespace nvmeoe {

enum class FaultDirection : uint8_t { kTx = 1, kRx = 2, kBoth = 3 };

struct FaultConfig {
  // Probabilities in [0, 1], decided independently per matching frame, in this order: drop (the
  // frame vanishes), corrupt (1-3 distinct bits flipped at or after `corrupt_from`), duplicate
  // (delivered twice, back to back), reorder (held back and released after the next 1-3 frames of
  // the direction have arrived, or after `reorder_timeout` if none arrive).
  double drop = 0, duplicate = 0, reorder = 0, corrupt = 0;
  // Every matching frame is held this long (FIFO: frames keep their order among themselves).
  std::chrono::microseconds delay{0};
  // Everything in the enabled directions is dropped, whether or not it matches `match`.
  bool blackhole = false;
  uint64_t seed = 1;
  FaultDirection direction = FaultDirection::kBoth;
  // First frame byte corruption may touch: by default everything after the Ethernet header
  // (nvmeoe headers, metadata, data and digests); 0 lets it hit the Ethernet header too. A frame
  // with no byte at or after this offset is never corrupted.
  size_t corrupt_from = kEthHeaderSize;
  std::chrono::microseconds reorder_timeout{1000};
  // When set, only frames for which it returns true get faults (other than blackhole). It sees the
  // whole frame from the destination MAC on, and runs under the direction's lock: it must not call
  // back into the link.
  std::function<bool(std::span<const uint8_t>)> match;
};

// What the faults of one direction did. `frames` counts every frame that entered the direction
// (sent by the user for tx, received from the inner link for rx); a frame both duplicated and
// delayed counts in both.
struct FaultCounts {
  uint64_t frames = 0, dropped = 0, duplicated = 0, reordered = 0, delayed = 0, corrupted = 0;
};
struct FaultCounters {
  FaultCounts tx, rx;
};

namespace fault_internal {
class FaultStage;
}

class FaultLink final : public Link {
 public:
  // Creates the wrapper (a timerfd and an epoll fd); fails only when the kernel refuses those.
  static Result<std::unique_ptr<FaultLink>> create(std::unique_ptr<Link> inner, FaultConfig config = {});
  ~FaultLink() override;
  FaultLink(const FaultLink&) = delete;
  FaultLink& operator=(const FaultLink&) = delete;

  MacAddress local_mac() const override { return inner_->local_mac(); }
  uint32_t mtu() const override { return inner_->mtu(); }
  uint16_t ethertype() const override { return inner_->ethertype(); }
  std::string name() const override { return inner_->name(); }
  // Also releases frames held on the send side whose time has come.
  size_t receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) override;
  Status send(std::span<const TxFrame> frames) override;
  // An epoll fd over the inner link's fd and a timer armed for the next held frame that falls due:
  // readable when receive() has work (new frames, or held frames of either direction to release).
  int wait_fd() const override { return epoll_fd_; }
  // The inner link's counters: what really crossed the link below the faults.
  Counters counters() const override { return inner_->counters(); }

  // Run-time changes; they take effect at the next send()/receive() of each direction. A new seed
  // restarts the random sequences.
  void set_config(FaultConfig config);
  FaultConfig config() const;
  void set_blackhole(bool on);
  void set_drop(double p);
  void set_duplicate(double p);
  void set_reorder(double p);
  void set_corrupt(double p);
  void set_delay(std::chrono::microseconds d);
  void set_match(std::function<bool(std::span<const uint8_t>)> match);

  FaultCounters fault_counters() const;
  Link& inner() { return *inner_; }

 private:
  FaultLink(std::unique_ptr<Link> inner, FaultConfig config, int timer_fd, int epoll_fd);
  template <typename F>
  void update(F&& change);
  void refresh(fault_internal::FaultStage& stage, FaultDirection which);
  // Sends the send-side frames that are due; called with tx_mutex_ held.
  Status flush_tx_due(int64_t now_ns);
  // Disarms the timer if it has fired, which also makes it unreadable again.
  void clear_fired_timer(int64_t now_ns);
  // Arms the timer for the earliest due time of both directions (or disarms it).
  void rearm_timer(int64_t now_ns);

  std::unique_ptr<Link> inner_;
  int timer_fd_ = -1;
  int epoll_fd_ = -1;

  mutable std::mutex config_mutex_;
  FaultConfig config_;                   // guarded by config_mutex_
  std::atomic<uint64_t> config_gen_{1};  // bumped on every change

  std::mutex tx_mutex_;  // guards tx_stage_ and tx_out_
  std::unique_ptr<fault_internal::FaultStage> tx_stage_;
  std::vector<TxFrame> tx_out_;

  std::mutex rx_mutex_;  // guards rx_stage_ and rx_ready_
  std::unique_ptr<fault_internal::FaultStage> rx_stage_;
  // Frames released beyond receive()'s `max`, delivered first by the next call.
  std::deque<std::vector<uint8_t>> rx_ready_;

  // When each direction next has a frame due (steady-clock ns; INT64_MAX: none), and when the
  // timer is armed for; the timer is touched only when the earliest of these changes.
  std::atomic<int64_t> tx_due_ns_{INT64_MAX}, rx_due_ns_{INT64_MAX};
  std::mutex timer_mutex_;
  std::atomic<int64_t> armed_ns_{INT64_MAX};  // written under timer_mutex_
};

// Parses a direction name: "tx", "rx", "both".
bool parse_fault_direction(std::string_view text, FaultDirection* out);

}  // namespace nvmeoe
