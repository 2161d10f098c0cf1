// FaultLink: see fault_link.h. Each direction runs the frames through a FaultStage: per-frame
// decisions (blackhole, drop, corrupt, duplicate), then the reorder hold, then the delay queue.
// Frames that get no fault are passed on as the caller's own spans; only a held or corrupted frame
// is copied, into a buffer taken from a per-stage pool, so the fault-free path never allocates.
#include "link/fault_link.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <utility>

#include "common/counter.h"
#include "common/log.h"

namespace nvmeoe {

namespace {

constexpr int64_t kNever = INT64_MAX;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t to_ns(std::chrono::microseconds us) {
  return int64_t(us.count()) * 1000;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// xoshiro256**: small, fast, and the same sequence on every platform and standard library (the
// std:: distributions are not specified bit for bit, so a seed would not reproduce everywhere).
class Rng {
 public:
  void seed(uint64_t seed) {
    for (auto& word : s_) word = splitmix64(seed);
  }
  uint64_t next() {
    uint64_t result = rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // True with probability p; p >= 1 is always true, and draws like any other p.
  bool chance(double p) { return double(next() >> 11) * 0x1.0p-53 < p; }
  // Uniform in [0, n) (n > 0); the modulo bias is irrelevant for fault injection.
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4] = {};
};

}  // namespace

namespace fault_internal {

// One direction's faults. Not thread-safe: FaultLink calls it under the direction's lock.
class FaultStage {
 public:
  using Emit = FunctionRef<void(const TxFrame&)>;

  FaultStage(uint64_t salt, size_t frame_capacity) : salt_(salt), frame_capacity_(frame_capacity) {
    scratch_.reserve(frame_capacity);
  }

  uint64_t generation() const { return generation_; }

  void configure(const FaultConfig& config, bool enabled, uint64_t generation) {
    if (generation_ == 0 || config.seed != config_.seed) rng_.seed(config.seed ^ salt_);
    config_ = config;
    generation_ = generation;
    blackhole_ = enabled && config.blackhole;
    faults_ = enabled && (config.drop > 0 || config.duplicate > 0 || config.reorder > 0 || config.corrupt > 0 ||
                          config.delay.count() > 0);
  }

  // Nothing to do for this direction: frames may go straight through without calling push().
  bool passthrough() const { return !blackhole_ && !faults_ && reorder_.empty() && delayed_.empty(); }
  void count_passthrough(uint64_t n) {
    if (n) bump(frames_, n);
  }

  // Takes one frame; whatever comes out of it (and of held frames it releases) goes to `emit`, in
  // order. Spans given to `emit` stay valid until recycle().
  void push(const TxFrame& frame, int64_t now, Emit emit) {
    bump(frames_);
    if (blackhole_) {
      bump(dropped_);
      after_arrival(now, emit);
      return;
    }
    if (!faults_ || (config_.match && !config_.match(contiguous(frame)))) {
      emit(frame);
      after_arrival(now, emit);
      return;
    }
    if (config_.drop > 0 && rng_.chance(config_.drop)) {
      bump(dropped_);
      after_arrival(now, emit);
      return;
    }
    std::vector<uint8_t> owned;
    bool is_owned = false;
    if (config_.corrupt > 0 && rng_.chance(config_.corrupt) && frame.size() > config_.corrupt_from) {
      owned = copy(frame);
      is_owned = true;
      flip_bits(owned);
      bump(corrupted_);
    }
    uint8_t copies = 1;
    if (config_.duplicate > 0 && rng_.chance(config_.duplicate)) {
      copies = 2;
      bump(duplicated_);
    }
    if (config_.reorder > 0 && rng_.chance(config_.reorder)) {
      int wait = 1 + int(rng_.below(3));
      // Frames already held count this arrival; the new one waits for the next `wait` arrivals.
      after_arrival(now, emit);
      reorder_.push_back(Held{is_owned ? std::move(owned) : copy(frame), copies, wait, now});
      bump(reordered_);
      return;
    }
    if (config_.delay.count() > 0) {
      delayed_.push_back(Held{is_owned ? std::move(owned) : copy(frame), copies, 0, now + to_ns(config_.delay)});
      bump(delayed_count_);
    } else if (is_owned) {
      emit_owned(std::move(owned), copies, emit);
    } else {
      for (uint8_t i = 0; i < copies; ++i) emit(frame);
    }
    after_arrival(now, emit);
  }

  // Releases held frames whose time has come (reorder timeout, delay).
  void release_due(int64_t now, Emit emit) {
    int64_t timeout = to_ns(config_.reorder_timeout);
    for (size_t i = 0; i < reorder_.size();) {
      if (reorder_[i].time + timeout <= now) {
        release_reordered(i, now, emit);
      } else {
        ++i;
      }
    }
    while (!delayed_.empty() && delayed_.front().time <= now) {
      Held h = std::move(delayed_.front());
      delayed_.pop_front();
      if (blackhole_) {
        bump(dropped_);
        give_buffer(std::move(h.bytes));
      } else {
        emit_owned(std::move(h.bytes), h.copies, emit);
      }
    }
  }

  // Steady-clock ns at which release_due() next has work, or kNever.
  int64_t next_due() const {
    int64_t due = delayed_.empty() ? kNever : delayed_.front().time;
    int64_t timeout = to_ns(config_.reorder_timeout);
    for (const Held& h : reorder_) due = std::min(due, h.time + timeout);
    return due;
  }

  // Returns the buffers of emitted frames to the pool; their spans are invalid from here on.
  void recycle() {
    for (auto& b : in_flight_) give_buffer(std::move(b));
    in_flight_.clear();
    in_flight_pieces_.clear();
  }

  std::vector<uint8_t> take_buffer() {
    if (free_.empty()) {
      std::vector<uint8_t> b;
      b.reserve(frame_capacity_);
      return b;
    }
    std::vector<uint8_t> b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void give_buffer(std::vector<uint8_t>&& b) {
    b.clear();
    free_.push_back(std::move(b));
  }

  FaultCounts counts() const {
    FaultCounts c;
    c.frames = frames_.load(std::memory_order_relaxed);
    c.dropped = dropped_.load(std::memory_order_relaxed);
    c.duplicated = duplicated_.load(std::memory_order_relaxed);
    c.reordered = reordered_.load(std::memory_order_relaxed);
    c.delayed = delayed_count_.load(std::memory_order_relaxed);
    c.corrupted = corrupted_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  struct Held {
    std::vector<uint8_t> bytes;
    uint8_t copies;
    int countdown;  // reorder: arrivals still to wait for
    int64_t time;   // reorder: when held; delay: when due
  };

  std::span<const uint8_t> contiguous(const TxFrame& f) {
    if (f.count == 1) return f.pieces[0];
    scratch_.clear();
    append(scratch_, f);
    return scratch_;
  }
  static void append(std::vector<uint8_t>& out, const TxFrame& f) {
    for (const auto& piece : f.parts()) out.insert(out.end(), piece.begin(), piece.end());
  }
  std::vector<uint8_t> copy(const TxFrame& f) {
    std::vector<uint8_t> b = take_buffer();
    append(b, f);
    return b;
  }

  // Flips 1-3 distinct bits at or after corrupt_from (the caller checked there is such a byte).
  void flip_bits(std::vector<uint8_t>& b) {
    uint64_t bits = uint64_t(b.size() - config_.corrupt_from) * 8;
    uint64_t flips = std::min<uint64_t>(1 + rng_.below(3), bits);
    uint64_t chosen[3] = {};
    for (uint64_t i = 0; i < flips; ++i) {
      uint64_t bit;
      bool again;
      do {
        bit = rng_.below(bits);
        again = std::find(chosen, chosen + i, bit) != chosen + i;
      } while (again);
      chosen[i] = bit;
      b[config_.corrupt_from + bit / 8] ^= uint8_t(1u << (bit % 8));
    }
  }

  void emit_owned(std::vector<uint8_t>&& bytes, uint8_t copies, Emit emit) {
    // The piece descriptor must stay put until recycle(), like the bytes: a deque keeps it.
    const std::span<const uint8_t>& piece = in_flight_pieces_.emplace_back(bytes.data(), bytes.size());
    TxFrame f{&piece, 1, uint32_t(bytes.size())};
    for (uint8_t i = 0; i < copies; ++i) emit(f);
    // Moving the vector keeps its heap block, so the spans just emitted stay valid.
    in_flight_.push_back(std::move(bytes));
  }

  // One frame has arrived: reordered frames waiting for it count down and leave at zero.
  void after_arrival(int64_t now, Emit emit) {
    for (size_t i = 0; i < reorder_.size();) {
      if (--reorder_[i].countdown <= 0) {
        release_reordered(i, now, emit);
      } else {
        ++i;
      }
    }
  }

  void release_reordered(size_t i, int64_t now, Emit emit) {
    Held h = std::move(reorder_[i]);
    reorder_.erase(reorder_.begin() + ptrdiff_t(i));
    if (blackhole_) {
      bump(dropped_);
      give_buffer(std::move(h.bytes));
    } else if (faults_ && config_.delay.count() > 0) {
      h.time = now + to_ns(config_.delay);
      delayed_.push_back(std::move(h));
      bump(delayed_count_);
    } else {
      emit_owned(std::move(h.bytes), h.copies, emit);
    }
  }

  const uint64_t salt_;
  const size_t frame_capacity_;
  FaultConfig config_;
  uint64_t generation_ = 0;
  bool blackhole_ = false;
  bool faults_ = false;
  Rng rng_;
  std::vector<Held> reorder_;  // in order of holding; a handful at most
  std::deque<Held> delayed_;   // FIFO; due times are non-decreasing while the delay is constant
  std::vector<std::vector<uint8_t>> free_, in_flight_;
  std::deque<std::span<const uint8_t>> in_flight_pieces_;
  std::vector<uint8_t> scratch_;
  std::atomic<uint64_t> frames_{0}, dropped_{0}, duplicated_{0}, reordered_{0}, delayed_count_{0}, corrupted_{0};
};

}  // namespace fault_internal

using fault_internal::FaultStage;

namespace {
// Different salts give the two directions independent sequences from one seed.
constexpr uint64_t kTxSalt = 0x7478000000000000ull;  // "tx"
constexpr uint64_t kRxSalt = 0x7278000000000000ull;  // "rx"
// Room for a VLAN tag on top of the largest frame, as PacketLink allows.
constexpr size_t kFrameSlack = 4;

bool covers(FaultDirection configured, FaultDirection which) {
  return (uint8_t(configured) & uint8_t(which)) != 0;
}
}  // namespace

Result<std::unique_ptr<FaultLink>> FaultLink::create(std::unique_ptr<Link> inner, FaultConfig config) {
  if (!inner) return Status::error("FaultLink needs an inner link");
  int timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd < 0) return Status::from_errno(errno, "creating the fault link's timerfd");
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    int err = errno;
    ::close(timer_fd);
    return Status::from_errno(err, "creating the fault link's epoll fd");
  }
  int fds[2] = {inner->wait_fd(), timer_fd};
  for (int fd : fds) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      int err = errno;
      ::close(timer_fd);
      ::close(epoll_fd);
      return Status::from_errno(err, "adding a descriptor to the fault link's epoll fd");
    }
  }
  return std::unique_ptr<FaultLink>(new FaultLink(std::move(inner), std::move(config), timer_fd, epoll_fd));
}

FaultLink::FaultLink(std::unique_ptr<Link> inner, FaultConfig config, int timer_fd, int epoll_fd)
    : inner_(std::move(inner)), timer_fd_(timer_fd), epoll_fd_(epoll_fd), config_(std::move(config)) {
  size_t capacity = kEthHeaderSize + inner_->mtu() + kFrameSlack;
  tx_stage_ = std::make_unique<FaultStage>(kTxSalt, capacity);
  rx_stage_ = std::make_unique<FaultStage>(kRxSalt, capacity);
  // A send() batch may grow by duplicates and released frames; it regrows only past this.
  tx_out_.reserve(1024);
}

FaultLink::~FaultLink() {
  ::close(epoll_fd_);
  ::close(timer_fd_);
}

void FaultLink::refresh(FaultStage& stage, FaultDirection which) {
  uint64_t gen = config_gen_.load(std::memory_order_acquire);
  if (gen == stage.generation()) return;
  std::lock_guard<std::mutex> lock(config_mutex_);
  stage.configure(config_, covers(config_.direction, which), config_gen_.load(std::memory_order_relaxed));
}

Status FaultLink::send(std::span<const TxFrame> frames) {
  std::unique_lock<std::mutex> lock(tx_mutex_);
  FaultStage& stage = *tx_stage_;
  refresh(stage, FaultDirection::kTx);
  if (stage.passthrough()) {
    stage.count_passthrough(frames.size());
    return inner_->send(frames);
  }
  int64_t now = now_ns();
  tx_out_.clear();
  auto emit = [this](const TxFrame& f) { tx_out_.push_back(f); };
  stage.release_due(now, emit);
  for (const TxFrame& f : frames) stage.push(f, now, emit);
  Status s = tx_out_.empty() ? Status::ok() : inner_->send(tx_out_);
  stage.recycle();
  tx_due_ns_.store(stage.next_due());
  lock.unlock();
  rearm_timer(now);
  return s;
}

Status FaultLink::flush_tx_due(int64_t now) {
  FaultStage& stage = *tx_stage_;
  refresh(stage, FaultDirection::kTx);
  if (stage.next_due() > now) return Status::ok();
  tx_out_.clear();
  stage.release_due(now, [this](const TxFrame& f) { tx_out_.push_back(f); });
  Status s = tx_out_.empty() ? Status::ok() : inner_->send(tx_out_);
  stage.recycle();
  tx_due_ns_.store(stage.next_due());
  return s;
}

size_t FaultLink::receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) {
  std::unique_lock<std::mutex> lock(rx_mutex_);
  FaultStage& stage = *rx_stage_;
  refresh(stage, FaultDirection::kRx);
  if (stage.passthrough() && rx_ready_.empty() && tx_due_ns_.load() == kNever && armed_ns_.load() == kNever) {
    size_t n = inner_->receive(sink, max);
    stage.count_passthrough(n);
    return n;
  }

  int64_t now = now_ns();
  clear_fired_timer(now);
  size_t delivered = 0;
  while (delivered < max && !rx_ready_.empty()) {
    std::vector<uint8_t> b = std::move(rx_ready_.front());
    rx_ready_.pop_front();
    sink(std::span<const uint8_t>(b.data(), b.size()));
    ++delivered;
    stage.give_buffer(std::move(b));
  }
  // Frames beyond `max` are kept, in order, for the next call (the timer then fires at once).
  auto emit = [&](const TxFrame& f) {
    if (delivered < max && rx_ready_.empty()) {
      sink(f.pieces[0]);  // received frames are always one piece
      ++delivered;
    } else {
      std::vector<uint8_t> b = stage.take_buffer();
      b.assign(f.pieces[0].begin(), f.pieces[0].end());
      rx_ready_.push_back(std::move(b));
    }
  };
  stage.release_due(now, emit);
  stage.recycle();
  // Dropped or held frames deliver nothing: pull a few more batches so one call makes progress.
  for (int round = 0; round < 4 && delivered < max; ++round) {
    size_t got = inner_->receive(
        [&](std::span<const uint8_t> frame) {
          stage.push(TxFrame{&frame, 1, uint32_t(frame.size())}, now, emit);
          stage.recycle();
        },
        max - delivered);
    if (got == 0) break;
  }
  rx_due_ns_.store(rx_ready_.empty() ? stage.next_due() : now);
  lock.unlock();

  if (tx_due_ns_.load() <= now) {
    std::lock_guard<std::mutex> tx_lock(tx_mutex_);
    Status s = flush_tx_due(now);
    if (!s) LOG_WARN("%s: sending delayed frames: %s", inner_->name().c_str(), s.message().c_str());
  }
  rearm_timer(now);
  return delivered;
}

void FaultLink::clear_fired_timer(int64_t now) {
  if (armed_ns_.load() > now) return;
  std::lock_guard<std::mutex> lock(timer_mutex_);
  if (armed_ns_.load() > now) return;
  // Setting the timer resets its expiration count, so the fd is no longer readable.
  itimerspec off{};
  (void)::timerfd_settime(timer_fd_, 0, &off, nullptr);
  armed_ns_.store(kNever);
}

void FaultLink::rearm_timer(int64_t now) {
  int64_t want = std::min(tx_due_ns_.load(), rx_due_ns_.load());
  if (want == armed_ns_.load()) return;
  std::lock_guard<std::mutex> lock(timer_mutex_);
  // Recomputed under the lock: the other direction may have changed its due time meanwhile.
  want = std::min(tx_due_ns_.load(), rx_due_ns_.load());
  if (want == armed_ns_.load()) return;
  itimerspec its{};
  if (want != kNever) {
    // An absolute time already past (1 ns after boot for "now") fires at once.
    int64_t at = want <= now ? 1 : want;
    its.it_value.tv_sec = time_t(at / 1000000000);
    its.it_value.tv_nsec = long(at % 1000000000);
  }
  if (::timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr) < 0) {
    LOG_WARN("%s: arming the fault timer: %s", inner_->name().c_str(), std::strerror(errno));
    return;
  }
  armed_ns_.store(want);
}

template <typename F>
void FaultLink::update(F&& change) {
  std::lock_guard<std::mutex> lock(config_mutex_);
  change(config_);
  config_gen_.fetch_add(1, std::memory_order_release);
}

void FaultLink::set_config(FaultConfig config) {
  update([&](FaultConfig& c) { c = std::move(config); });
}
FaultConfig FaultLink::config() const {
  std::lock_guard<std::mutex> lock(config_mutex_);
  return config_;
}
void FaultLink::set_blackhole(bool on) {
  update([&](FaultConfig& c) { c.blackhole = on; });
}
void FaultLink::set_drop(double p) {
  update([&](FaultConfig& c) { c.drop = p; });
}
void FaultLink::set_duplicate(double p) {
  update([&](FaultConfig& c) { c.duplicate = p; });
}
void FaultLink::set_reorder(double p) {
  update([&](FaultConfig& c) { c.reorder = p; });
}
void FaultLink::set_corrupt(double p) {
  update([&](FaultConfig& c) { c.corrupt = p; });
}
void FaultLink::set_delay(std::chrono::microseconds d) {
  update([&](FaultConfig& c) { c.delay = d; });
}
void FaultLink::set_match(std::function<bool(std::span<const uint8_t>)> match) {
  update([&](FaultConfig& c) { c.match = std::move(match); });
}

FaultCounters FaultLink::fault_counters() const {
  FaultCounters c;
  c.tx = tx_stage_->counts();
  c.rx = rx_stage_->counts();
  return c;
}

bool parse_fault_direction(std::string_view text, FaultDirection* out) {
  if (text == "tx") {
    *out = FaultDirection::kTx;
  } else if (text == "rx") {
    *out = FaultDirection::kRx;
  } else if (text == "both") {
    *out = FaultDirection::kBoth;
  } else {
    return false;
  }
  return true;
}

}  // namespace nvmeoe
