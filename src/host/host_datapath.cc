// The host controller's event loop: dispatch with flow control (queue slots and an AIMD window),
// frames out and in, data reassembly, retransmission on loss, keep-alive, and the switch to
// "reconnecting" when the association is lost. Runs on the loop thread only.
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "common/counter.h"
#include "common/log.h"
#include "host/host_impl.h"
#include "host/target_checks.h"
#include "wire/v1_compat.h"

namespace nvmeoe {
namespace {

constexpr auto kConnectRetry = std::chrono::milliseconds(250);
// A handshake unanswered this long also asks in protocol version 1 (send_v1_probe).
constexpr auto kVersionProbeAfter = std::chrono::milliseconds(1000);
constexpr auto kTick = std::chrono::milliseconds(5);
// A read whose result arrived with data missing waits this long for reordered frames before it
// asks for the holes (the timers then run at that deadline, not at the next tick).
constexpr auto kReorderWait = std::chrono::microseconds(500);
// Retransmissions without any answer before the association is declared lost (the target may
// have restarted or the link gone down); the held commands then go to the next association.
constexpr int kMaxSilentRetransmits = 6;
constexpr auto kMaxBackoff = std::chrono::seconds(2);
// Commands made ready while a read's data is still arriving (the target's send burst is on its
// way) wait at most this long for the rest of that burst, so that the completions it brings are
// answered in the same frame: at QD32 this halves the command frames. Never at QD1 (nothing else
// is arriving), and never longer than the busy poll (--poll-us 0: no waiting at all).
constexpr auto kBurstHold = std::chrono::microseconds(20);

}  // namespace

void HostControllerImpl::run_loop() {
  loop_id_ = std::this_thread::get_id();
  next_keep_alive_ = HostClock::now() + std::chrono::milliseconds(opts_.kato_ms / 2);
  next_tick_ = HostClock::now();
  auto next_stats = HostClock::now();
  std::vector<std::function<void()>> work;
  auto receive = [this] { return link_->receive([this](std::span<const uint8_t> fr) { on_frame(fr); }, kHostRxBatch); };
  while (!stop_loop_) {
    // Bounded busy poll while an answer is due: the frame is taken from the ring as it lands,
    // without a sleep and a wake-up (about a third of a QD1 round trip here).
    bool received = false;
    if (holding_tx_ || (opts_.poll_us != 0 && commands_in_flight())) {
      auto until =
          holding_tx_ ? hold_since_ + burst_hold() : HostClock::now() + std::chrono::microseconds(opts_.poll_us);
      do {
        if (posted_pending_.load(std::memory_order_acquire)) break;
        received = receive() != 0;
        // Let a runnable thread on this core (on 2 cores often the target or its softirq work)
        // go first: spinning must not delay the very answer it waits for.
        if (!received) sched_yield();
      } while (!received && HostClock::now() < until);
    }
    if (!received && !holding_tx_ && !posted_pending_.load(std::memory_order_acquire)) {
      pollfd fds[2] = {{link_->wait_fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      // Sleep until the next timer at most (a deadline moved closer than a tick, for one).
      auto left = std::chrono::ceil<std::chrono::milliseconds>(next_tick_ - HostClock::now()).count();
      poll(fds, 2, int(std::clamp<int64_t>(left, 0, kTick.count())));
      if (fds[1].revents & POLLIN) {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof v);
      }
    }
    if (posted_pending_.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(post_mu_);
      work.swap(posted_);
      posted_pending_.store(false, std::memory_order_relaxed);
    }
    for (auto& fn : work) fn();
    work.clear();
    for (int i = 0; i < 16; ++i)
      if (!receive()) break;
    auto now = HostClock::now();
    if (now >= next_tick_) {
      check_timers(now);
      next_tick_ = now + kTick;
    }
    if (now >= next_stats) {
      publish_stats();
      next_stats = now + std::chrono::milliseconds(200);
    }
    // What is ready goes out now, unless the rest of a burst is arriving (bounded, kBurstHold).
    holding_tx_ = false;
    if (mid_read_ && !tx_.empty() && opts_.poll_us != 0) {
      if (hold_since_ == HostClock::time_point{}) hold_since_ = now;
      holding_tx_ = now - hold_since_ < burst_hold();
      // The rest did not come in time (lost, or the target paused): stop waiting for it.
      if (!holding_tx_) mid_read_ = false;
    }
    if (!holding_tx_) {
      flush_tx();
      hold_since_ = {};
    }
  }
  flush_tx();
  publish_stats();
}

HostClock::duration HostControllerImpl::burst_hold() const {
  return std::min<HostClock::duration>(kBurstHold, std::chrono::microseconds(opts_.poll_us));
}

bool HostControllerImpl::commands_in_flight() const {
  for (const auto& q : queues_)
    if (q && q->in_flight != 0) return true;
  return false;
}

void HostControllerImpl::dispatch(uint16_t qid, HostCommand c) {
  State st = state_.load();
  if (stop_ || st == State::kDead) return fail_now_cb(c, sc::kHostAbortedCommand);
  bool usable = qid < queues_.size() && queues_[qid] && queues_[qid]->state == HostQueue::State::kReady;
  if (!c.internal && st != State::kLive) {
    // The association is being rebuilt: keep the command for the next one.
    held_.emplace_back(qid, std::move(c));
    return;
  }
  if (!usable) return fail_now_cb(c, sc::kHostAbortedCommand);
  HostQueue& q = *queues_[qid];
  if (!q.waiting.empty() || !start_command(q, c)) q.waiting.push_back(std::move(c));
}

void HostControllerImpl::fail_now_cb(HostCommand& c, NvmeStatus status) {
  Completion r;
  r.status = status;
  if (c.cb) c.cb(r);
}

// Starts a command if a slot and the window allow; false leaves `c` untouched for the wait list.
bool HostControllerImpl::start_command(HostQueue& q, HostCommand& c) {
  if (q.free_cids.empty() || q.in_flight >= std::max<uint32_t>(1, uint32_t(q.window))) return false;
  uint16_t cid = q.free_cids.back();
  q.free_cids.pop_back();
  HostSlot& s = q.slots[cid];
  s = HostSlot{};
  s.busy = true;
  s.gen = ++q.next_gen;
  s.cmd = std::move(c);
  s.cmd.sqe.cid = cid;
  set_sgl_length(s.cmd.sqe, s.cmd.len);
  s.dir = data_direction(s.cmd.sqe);
  auto now = HostClock::now();
  s.sent_at = now;
  s.deadline = now + opts_.io_timeout;
  s.rto_at = now + rto(q);
  ++q.in_flight;
  ++q.stats.commands;
  ++q.stats.in_flight;
  if (q.qid != 0 && s.cmd.sqe.opcode == io_opcode::kRead)
    ++q.stats.reads;
  else if (q.qid != 0 && s.cmd.sqe.opcode == io_opcode::kWrite)
    ++q.stats.writes;
  else
    ++q.stats.other;
  send_command(q, s, false);
  return true;
}

void HostControllerImpl::start_waiting(HostQueue& q) {
  while (!q.waiting.empty() && q.state == HostQueue::State::kReady) {
    if (!start_command(q, q.waiting.front())) break;
    q.waiting.pop_front();
  }
}

HostClock::duration HostControllerImpl::rto(const HostQueue& q) const {
  auto floor = std::chrono::duration_cast<HostClock::duration>(opts_.retransmit_timeout);
  if (!q.have_rtt) return floor;
  auto est = std::chrono::microseconds(int64_t(q.srtt_us + 4 * q.rttvar_us));
  return std::max<HostClock::duration>(floor, est);
}

TxAssoc HostControllerImpl::assoc_for(const HostQueue& q) const {
  TxAssoc a;
  a.dst = target_;
  a.a.qid = q.qid;
  // Before its Fabrics Connect completes, the admin queue has no controller yet.
  bool bound = q.qid != 0 || q.bound;
  a.a.cntlid = bound ? info_.cntlid : kNoController;
  a.a.nonce = q.nonce;
  a.max_frame = q.max_frame;
  a.data_digest = !q.keyed && (q.digests & digest_bits::kData);
  if (q.keyed) a.sealer = q.tx_key.get();
  return a;
}

void HostControllerImpl::maybe_flush() {
  if (tx_.frame_count() >= kHostTxFrames) flush_tx();
}

void HostControllerImpl::send_command(HostQueue& q, HostSlot& s, bool retry) {
  maybe_flush();
  const uint32_t len = s.cmd.len;
  const bool h2c = s.dir == DataDirection::kHostToController && len;
  const TxAssoc a = assoc_for(q);
  // In-capsule data: as much as fits with the SQE, in this queue's open frame or a new one.
  uint32_t in_capsule = h2c ? tx_.capsule_room(q.tx, a, len) : 0;
  SegmentHeader h;
  h.kind = FrameKind::kCommand;
  h.flags = retry ? seg_flag::kRetry : 0;
  h.cid = s.cmd.sqe.cid;
  h.gen = s.gen;
  h.total = len;
  std::span<uint8_t> m = tx_.add(q.tx, a, h, kSqeSize, std::span<const uint8_t>(s.cmd.data, in_capsule));
  if (m.empty()) return;  // cannot happen: the MTU was checked at connect
  encode_sqe(s.cmd.sqe, m.data());
  if (in_capsule) s.tx_epoch = tx_.epoch();
  // A retransmitted command travels alone: the target answers with what it lacks.
  if (h2c && !retry) send_data(q, s, in_capsule, len - in_capsule, true);
}

// `last`: this call sends the end of a burst (LAST set on its final segment); one LAST per burst
// keeps the target from asking again for ranges that are still on their way.
void HostControllerImpl::send_data(HostQueue& q, HostSlot& s, uint32_t offset, uint32_t len, bool last) {
  uint32_t end = uint32_t(std::min<uint64_t>(uint64_t(offset) + len, s.cmd.len));
  if (offset >= end) return;
  maybe_flush();
  SegmentHeader h;
  h.kind = FrameKind::kData;
  h.cid = s.cmd.sqe.cid;
  h.gen = s.gen;
  h.total = s.cmd.len;
  tx_.add_data(q.tx, assoc_for(q), h, s.cmd.data, offset, end - offset, last ? seg_flag::kLast : 0);
  s.tx_epoch = tx_.epoch();
}

void HostControllerImpl::flush_tx() {
  if (tx_.empty()) return;
  Status s = link_->send(tx_.finish());
  if (!s.is_ok()) LOG_WARN("send failed: %s", s.message().c_str());
  tx_.clear();
}

// Frames queued but not yet sent may point into the command's data (the caller's buffer): they
// go out before the caller gets its buffer back with the completion.
void HostControllerImpl::release_data(HostSlot& s) {
  if (s.tx_epoch == tx_.epoch() && !tx_.empty()) flush_tx();
}

void HostControllerImpl::send_connect_request(HostQueue& q) {
  ConnectRequest req;
  req.queue_size = q.size;
  req.max_frame = link_->mtu();
  req.digests = opts_.data_digest ? digest_bits::kData : 0;
  q.asked = req;
  TxAssoc a;
  a.dst = target_;
  a.a.qid = q.qid;
  a.a.cntlid = q.qid ? info_.cntlid : kNoController;
  a.a.nonce = q.nonce;
  a.max_frame = link_->mtu();
  SegmentHeader h;
  h.kind = FrameKind::kConnectRequest;
  maybe_flush();
  std::span<uint8_t> m = tx_.add_alone(a, h, kConnectMetaSize);
  if (m.empty()) return;
  encode_connect_request(req, m.data());
  q.connect_sent = HostClock::now();
}

// No answer to a queue's Connect Requests for a while: perhaps the target speaks protocol
// version 1, which drops version 2 frames without a word. A version 1 Connect Request finds out;
// its answer ends the handshake with the reason (on_other_version).
void HostControllerImpl::send_v1_probe(HostQueue& q) {
  if (q.v1_probe_nonce == 0) do
      q.v1_probe_nonce = uint32_t(rng_());
    while (q.v1_probe_nonce == 0 || q.v1_probe_nonce == q.nonce);
  flush_tx();
  v1_frame_ = v1::connect_request(target_, local_, ethertype_, q.qid, q.v1_probe_nonce, 2, link_->mtu());
  TxFrameList one;
  one.add(v1_frame_);
  (void)link_->send(one.frames());
}

void HostControllerImpl::send_terminate(HostQueue& q, TerminateReason why) {
  TxAssoc a = assoc_for(q);
  a.data_digest = false;
  a.max_frame = link_->mtu();
  SegmentHeader h;
  h.kind = FrameKind::kTerminate;
  maybe_flush();
  std::span<uint8_t> m = tx_.add_alone(a, h, kTerminateMetaSize);
  if (!m.empty()) {
    put_le16(m.data(), uint16_t(why));
    put_le16(m.data() + 2, 0);
  }
  // Sealed now: the queue, and the key the batch would seal it with, may go before the next flush.
  if (a.sealer) flush_tx();
  q.state = HostQueue::State::kIdle;
}

void HostControllerImpl::on_frame(std::span<const uint8_t> bytes) {
  Frame f;
  DecodeError err = decode_frame(bytes, ethertype_, &f);
  if (err != DecodeError::kNone) {
    if (err == DecodeError::kWrongVersion) return on_other_version(bytes);
    if (is_digest_error(err)) bump(digest_errors_);
    LOG_DEBUG("dropped frame: %s", decode_error_name(err));
    return;
  }
  if (f.dst != local_ || f.src != target_) return;
  if (f.a.qid >= queues_.size() || !queues_[f.a.qid]) return;
  HostQueue& q = *queues_[f.a.qid];
  if (f.a.nonce != q.nonce) return;  // an older association of this queue
  if (!frame_authentic(q, f)) return;
  const FrameKind first = f.segs[0].h.kind;
  // A target that lost the association (it restarted) cannot know the digests it had: its
  // Terminate comes without a data digest, and is accepted so the host reconnects at once (not
  // on an authenticated queue, where only a tagged frame counts: frame_authentic).
  if (q.state == HostQueue::State::kReady && first != FrameKind::kTerminate &&
      (((q.digests & digest_bits::kData) && !f.has_data_digest() && !f.has_tag()) ||
       (q.bound && f.a.cntlid != info_.cntlid))) {
    bump(digest_errors_);
    return;  // negotiated protection missing, or not our controller: dropped like a lost frame
  }
  switch (first) {
    case FrameKind::kConnectResponse:
      return on_connect_response(q, f.segs[0]);
    case FrameKind::kTerminate:
      return on_terminate(q, f);
    default:
      break;
  }
  for (const Segment& g : f.segments()) {
    if (q.state != HostQueue::State::kReady) break;  // a completion callback ended the association
    switch (g.h.kind) {
      case FrameKind::kResponse:
        on_response(q, g);
        break;
      case FrameKind::kData:
        on_data(q, g);
        break;
      case FrameKind::kRetransmitRequest:
        on_retransmit_request(q, g);
        break;
      default:
        break;  // Commands: only a target receives those
    }
  }
}

bool HostControllerImpl::frame_authentic(HostQueue& q, const Frame& f) {
  if (f.has_tag()) {
    auth::FrameCheck c = q.rx_key ? q.rx_key->open(f.tagged, f.trailer) : auth::FrameCheck::kBadTag;
    if (c != auth::FrameCheck::kOk) {
      bump(auth_errors_);
      LOG_DEBUG("queue %u: dropped a frame: %s", q.qid, q.rx_key ? auth::frame_check_name(c) : "a tag without keys");
      return false;
    }
    q.keyed = true;  // the target tags: so does the host from now on
    return true;
  }
  if (!q.keyed) return true;
  // Untagged on an authenticated queue, a forged Terminate included: dropped like a lost frame.
  bump(auth_errors_);
  LOG_DEBUG("queue %u: dropped a frame without a tag", q.qid);
  return false;
}

// A frame of another protocol version: a version 1 target's answer to send_v1_probe() ends that
// queue's handshake with the reason; everything else is dropped.
void HostControllerImpl::on_other_version(std::span<const uint8_t> bytes) {
  std::optional<v1::Header> h = v1::peek(bytes, ethertype_);
  if (!h || h->kind != v1::kConnectResponse || bytes.size() < 12) return;
  if (MacAddress::from_bytes(bytes.data()) != local_ || MacAddress::from_bytes(bytes.data() + 6) != target_) return;
  if (h->qid >= queues_.size() || !queues_[h->qid]) return;
  HostQueue& q = *queues_[h->qid];
  if (q.state != HostQueue::State::kConnecting || q.v1_probe_nonce == 0 || h->nonce != q.v1_probe_nonce) return;
  if (v1::connect_result(bytes) == 0) {
    // The v1 target made an association for the probe: end it.
    flush_tx();
    v1_frame_ = v1::terminate(target_, local_, ethertype_, h->qid, h->cntlid, h->nonce);
    TxFrameList one;
    one.add(v1_frame_);
    (void)link_->send(one.frames());
  }
  q.state = HostQueue::State::kFailed;
  auto done = std::move(q.on_connected);
  if (done)
    done(false, "the target at " + target_.str() + " speaks nvmeoe protocol version 1; this host speaks version " +
                    std::to_string(kProtocolVersion) + ": run the same nvmeoe version on both ends");
}

void HostControllerImpl::on_connect_response(HostQueue& q, const Segment& g) {
  if (q.state != HostQueue::State::kConnecting) return;
  ConnectResponse r;
  if (!decode_connect_response(g.meta, &r)) return;
  auto done = std::move(q.on_connected);
  if (r.result != ConnectResult::kAccepted) {
    q.state = HostQueue::State::kFailed;
    if (done)
      done(false, "target refused queue " + std::to_string(q.qid) + " (reason " + std::to_string(int(r.result)) + ")");
    return;
  }
  if (std::string why = check_connect_grant(q.asked, r); !why.empty()) {
    q.state = HostQueue::State::kFailed;
    if (done) done(false, "queue " + std::to_string(q.qid) + ": " + why);
    return;
  }
  q.accept = r;
  q.max_frame = std::min(r.max_frame, link_->mtu());
  q.digests = r.digests;
  q.reset_slots(std::min(q.size, r.queue_size));
  q.stats.qid = q.qid;
  q.stats.size = q.size;
  q.state = HostQueue::State::kReady;
  if (done) done(true, "");
}

HostSlot* HostControllerImpl::slot_for(HostQueue& q, const Segment& g) {
  if (g.h.cid >= q.slots.size()) return nullptr;
  HostSlot& s = q.slots[g.h.cid];
  if (!s.busy || s.gen != g.h.gen) {
    ++q.stats.duplicates;  // late or repeated: that command is already complete
    return nullptr;
  }
  return &s;
}

// A read (and every bring-up command) must return exactly the data asked for: less is not a
// success, whatever the status says.
void HostControllerImpl::check_transfer(HostQueue& q, HostSlot& s, uint32_t total) {
  bool exact = s.cmd.internal || (q.qid != 0 && s.cmd.sqe.opcode == io_opcode::kRead);
  if (exact && s.dir == DataDirection::kControllerToHost && status_ok(s.cqe.status) && total != s.cmd.len) {
    LOG_DEBUG("queue %u cid %u: the target announces %u data bytes for a %u-byte transfer", q.qid, s.cmd.sqe.cid, total,
              s.cmd.len);
    s.cqe.status = sc::kDataTransferError | sc::kDnr;
  }
}

void HostControllerImpl::on_response(HostQueue& q, const Segment& g) {
  HostSlot* s = slot_for(q, g);
  if (!s) return;
  s->cqe = decode_cqe(g.meta.data());
  s->have_response = true;
  s->expect = std::min(g.h.total, s->cmd.len);
  check_transfer(q, *s, g.h.total);
  if (s->cmd.sqe.opcode == admin_opcode::kFabrics && s->cmd.sqe.fctype() == fabrics_type::kConnect &&
      status_ok(s->cqe.status))
    q.bound = true;
  try_complete(q, *s);
}

void HostControllerImpl::on_data(HostQueue& q, const Segment& g) {
  HostSlot* s = slot_for(q, g);
  if (!s || s->dir != DataDirection::kControllerToHost) return;
  if (g.h.offset > s->cmd.len || g.data.size() > s->cmd.len - g.h.offset) return;
  if (!g.data.empty()) {
    std::memcpy(s->cmd.data + g.h.offset, g.data.data(), g.data.size());
    s->received.add(g.h.offset, g.data.size());
  }
  if ((g.h.flags & seg_flag::kSuccess) && !s->have_response) {
    // The transfer's end with SUCCESS stands for a Response with status 0 and DW0/DW1 0.
    s->cqe = Cqe{};
    s->cqe.cid = s->cmd.sqe.cid;
    s->cqe.sq_id = q.qid;
    s->have_response = true;
    s->expect = std::min(g.h.total, s->cmd.len);
    check_transfer(q, *s, g.h.total);
  }
  const uint32_t gen = s->gen;
  if (s->have_response) try_complete(q, *s);
  // More of this read is on its way unless it just completed (its slot is then free, or already
  // reused by a command its callback submitted).
  mid_read_ = s->busy && s->gen == gen;
}

// The target lacks parts of a write (ranges listed) or, with no ranges, says it has the whole
// command and is still executing it: a slow disk, not a lost frame.
void HostControllerImpl::on_retransmit_request(HostQueue& q, const Segment& g) {
  HostSlot* s = slot_for(q, g);
  if (!s || !decode_retransmit_request(g.meta, &ranges_)) return;
  s->retries = 0;
  s->acked = true;
  if (s->dir == DataDirection::kHostToController) {
    // At most the command's data once per request, however many (overlapping) ranges it lists.
    uint64_t budget = s->cmd.len;
    for (size_t i = 0; i < ranges_.size() && budget > 0; ++i) {
      uint32_t len = uint32_t(std::min<uint64_t>(ranges_[i].length, budget));
      budget -= len;
      send_data(q, *s, ranges_[i].offset, len, i + 1 == ranges_.size() || budget == 0);
    }
  }
  s->rto_at = HostClock::now() + rto(q) * 2;
}

void HostControllerImpl::try_complete(HostQueue& q, HostSlot& s) {
  bool ok = status_ok(s.cqe.status);
  if (ok && s.dir == DataDirection::kControllerToHost && !s.received.complete(s.expect)) {
    // Wait a little for reordered data before asking for it again.
    if (!s.retransmitted) {
      s.rto_at = std::min(s.rto_at, HostClock::now() + kReorderWait);
      next_tick_ = std::min(next_tick_, s.rto_at);
    }
    return;
  }
  auto elapsed = HostClock::now() - s.sent_at;
  q.latency.record(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()));
  if (!s.retransmitted) {
    auto us = std::chrono::duration<double, std::micro>(elapsed).count();
    q.add_rtt_sample(us);
    q.window = std::min<double>(q.size, q.window + 1.0 / std::max(1.0, q.window));
  }
  if (ok) {
    if (s.dir == DataDirection::kControllerToHost) q.stats.bytes_read += s.expect;
    if (s.dir == DataDirection::kHostToController) q.stats.bytes_written += s.cmd.len;
  } else {
    ++q.stats.errors;
  }
  if (q.qid == 0) last_dw1_ = s.cqe.dw1;
  Completion r;
  r.status = s.cqe.status;
  r.dw0 = s.cqe.dw0;
  r.dw1 = s.cqe.dw1;
  finish(q, s, r);
}

// Asks for the holes of a read (an empty list asks for the response again).
void HostControllerImpl::request_missing(HostQueue& q, HostSlot& s) {
  auto holes = s.received.missing(s.have_response ? s.expect : s.cmd.len,
                                  max_retransmit_ranges(tagged_max_frame(q.max_frame, q.keyed)));
  ranges_.clear();
  for (auto& [off, len] : holes) ranges_.push_back({uint32_t(off), uint32_t(len)});
  maybe_flush();
  SegmentHeader h;
  h.kind = FrameKind::kRetransmitRequest;
  h.cid = s.cmd.sqe.cid;
  h.gen = s.gen;
  std::span<uint8_t> m = tx_.add(q.tx, assoc_for(q), h, retransmit_meta_size(ranges_.size()));
  if (!m.empty()) encode_retransmit_request(std::span<const ByteRange>(ranges_), m.data());
}

void HostControllerImpl::finish(HostQueue& q, HostSlot& s, const Completion& r) {
  release_data(s);
  IoCallback cb = std::move(s.cmd.cb);
  s.busy = false;
  --q.in_flight;
  --q.stats.in_flight;
  q.free_cids.push_back(s.cmd.sqe.cid);
  if (cb) cb(r);
  start_waiting(q);
}

void HostControllerImpl::on_terminate(HostQueue& q, const Frame& f) {
  uint16_t reason = get_le16(f.segs[0].meta.data());
  LOG_WARN("target terminated queue %u: %s", q.qid, terminate_reason_name(TerminateReason(reason)));
  lose_association("terminated by the target");
}

// The association is gone. While ctrl_loss_tmo allows, outstanding commands are held for the next
// association and the reconnect thread starts; a failed first bring-up just fails what it waits on.
void HostControllerImpl::lose_association(const char* why) {
  State st = state_.load();
  if (st == State::kConnecting) {
    for (auto& qp : queues_)
      if (qp) qp->state = HostQueue::State::kFailed;
    fail_all(sc::kHostAbortedCommand);
    return;
  }
  if (st != State::kLive) {
    if (st == State::kReconnecting) {
      // A reconnect attempt's own commands: fail them so the attempt ends and the next one starts.
      for (auto& qp : queues_)
        if (qp) qp->state = HostQueue::State::kFailed;
      fail_all(sc::kHostAbortedCommand);
    }
    return;
  }
  LOG_WARN("association with %s lost (%s)", target_.str().c_str(), why);
  if (opts_.ctrl_loss_tmo.count() == 0) {
    state_ = State::kDead;
    for (auto& qp : queues_)
      if (qp) qp->state = HostQueue::State::kFailed;
    fail_all(sc::kHostAbortedCommand);
    return;
  }
  state_ = State::kReconnecting;
  hold_outstanding();
  for (auto& qp : queues_) {
    if (!qp) continue;
    // Best effort: tell the target to drop what it still has of the old association.
    if (qp->state == HostQueue::State::kReady) send_terminate(*qp, TerminateReason::kHostDisconnect);
    qp->state = HostQueue::State::kFailed;
  }
  flush_tx();
  {
    std::lock_guard<std::mutex> lock(rc_mu_);
    rc_wanted_ = true;
    lost_at_ = HostClock::now();
  }
  rc_cv_.notify_all();
}

// Moves every user command (in flight or waiting) to the held list; internal ones (keep-alive)
// are dropped with an abort status.
void HostControllerImpl::hold_outstanding() {
  for (auto& qp : queues_) {
    if (!qp) continue;
    HostQueue& q = *qp;
    for (auto& s : q.slots) {
      if (!s.busy) continue;
      s.busy = false;
      --q.stats.in_flight;
      HostCommand c = std::move(s.cmd);
      if (c.internal) {
        fail_now_cb(c, sc::kHostAbortedCommand);
        continue;
      }
      held_.emplace_back(q.qid, std::move(c));
    }
    while (!q.waiting.empty()) {
      HostCommand c = std::move(q.waiting.front());
      q.waiting.pop_front();
      if (c.internal)
        fail_now_cb(c, sc::kHostAbortedCommand);
      else
        held_.emplace_back(q.qid, std::move(c));
    }
    q.in_flight = 0;
  }
}

void HostControllerImpl::fail_held(NvmeStatus status) {
  flush_tx();  // nothing queued may point into the buffers the callbacks release
  auto held = std::move(held_);
  held_.clear();
  for (auto& [qid, c] : held) fail_now_cb(c, status);
}

void HostControllerImpl::fail_all(NvmeStatus status) {
  flush_tx();  // queued frames may point into the buffers the callbacks hand back
  for (auto& qp : queues_) {
    if (!qp) continue;
    HostQueue& q = *qp;
    for (auto& s : q.slots)
      if (s.busy) {
        s.busy = false;
        --q.stats.in_flight;
        HostCommand c = std::move(s.cmd);
        fail_now_cb(c, status);
      }
    q.in_flight = 0;
    while (!q.waiting.empty()) {
      HostCommand c = std::move(q.waiting.front());
      q.waiting.pop_front();
      fail_now_cb(c, status);
    }
    if (q.on_connected) {
      auto done = std::move(q.on_connected);
      done(false, "disconnected");
    }
  }
}

void HostControllerImpl::check_timers(HostClock::time_point now) {
  for (auto& qp : queues_) {
    if (!qp) continue;
    HostQueue& q = *qp;
    if (q.state == HostQueue::State::kConnecting) {
      if (now > q.connect_deadline) {
        q.state = HostQueue::State::kFailed;
        auto done = std::move(q.on_connected);
        if (done)
          done(false, "no answer from " + target_.str() + " on " + link_->name() + " within " +
                          std::to_string(opts_.connect_timeout.count()) +
                          " ms (is nvmeoe-target running there, with the same EtherType?)");
      } else if (now - q.connect_sent >= kConnectRetry) {
        send_connect_request(q);
        if (now - q.connect_started >= kVersionProbeAfter) send_v1_probe(q);
      }
      continue;
    }
    if (q.state != HostQueue::State::kReady) continue;
    for (auto& s : q.slots) {
      if (!s.busy || now < s.rto_at) continue;
      if (s.retries >= kMaxSilentRetransmits || now >= s.deadline) {
        ++q.stats.timeouts;
        LOG_WARN("queue %u: %s (cid %u) got no answer after %d retransmissions", q.qid,
                 opcode_name(s.cmd.sqe.opcode, q.qid == 0, s.cmd.sqe.fctype()).c_str(), s.cmd.sqe.cid, s.retries);
        lose_association("command timeout");
        return;  // queues were reset
      }
      ++s.retries;
      ++q.stats.retransmits;
      s.retransmitted = true;
      bool c2h_progress = s.dir == DataDirection::kControllerToHost && (s.have_response || s.received.covered());
      // Multiplicative decrease, at most once per retransmission timeout: a command with no sign
      // of life means the path or the receiver is overloaded. A slow command the target
      // acknowledged, or a read missing a few frames, is not a reason to slow down.
      if (!s.acked && !c2h_progress && now - q.last_cut > rto(q)) {
        q.window = std::max(1.0, q.window / 2);
        q.last_cut = now;
      }
      if (c2h_progress)
        request_missing(q, s);
      else
        send_command(q, s, true);
      auto backoff = rto(q) * (1 << std::min(s.retries, 4));
      s.rto_at = now + std::min<HostClock::duration>(backoff, kMaxBackoff);
    }
  }
  // Keep-alive at KATO/2, as nvme-cli hosts do.
  if (opts_.kato_ms && state_.load() == State::kLive && !keep_alive_pending_ && now >= next_keep_alive_) {
    keep_alive_pending_ = true;
    next_keep_alive_ = now + std::chrono::milliseconds(opts_.kato_ms / 2);
    HostCommand c;
    c.sqe.opcode = admin_opcode::kKeepAlive;
    c.internal = true;
    c.cb = [this](const Completion& r) {
      keep_alive_pending_ = false;
      if (!r.ok() && r.status != sc::kHostAbortedCommand)
        LOG_WARN("keep alive failed: %s", status_name(r.status).c_str());
    };
    dispatch(0, std::move(c));
  }
}

// Builds the snapshot in storage kept from the previous one (swapped with the published one), so
// that once warm, publishing allocates nothing.
void HostControllerImpl::publish_stats() {
  std::vector<QueueStats>& snap = stats_scratch_;
  size_t n = 0;
  for (auto& qp : queues_) {
    if (!qp) continue;
    if (snap.size() <= n) snap.emplace_back();
    QueueStats& qs = snap[n++];
    LatencyBuckets buckets = std::move(qs.latency_buckets);
    qs = qp->stats;
    qs.latency_buckets = std::move(buckets);
    qs.window = qp->window;
    LatencySummary lat = summarize(qp->latency);
    qs.latency_count = lat.count;
    qs.latency_mean_us = lat.mean_us;
    qs.latency_max_us = lat.max_us;
    qs.latency_p50_us = lat.p50_us;
    qs.latency_p99_us = lat.p99_us;
    qs.latency_p999_us = lat.p999_us;
    to_buckets(qp->latency, &qs.latency_buckets);
    if (qp->qid == 0) qs.digest_errors = digest_errors_.load(std::memory_order_relaxed);
  }
  snap.resize(n);
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_snapshot_.swap(snap);
}

}  // namespace nvmeoe
