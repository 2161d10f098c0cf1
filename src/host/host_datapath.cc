// The host controller's event loop: dispatch with flow control (queue slots and an AIMD window),
// frames out and in, data reassembly, retransmission on loss, keep-alive, and the switch to
// "reconnecting" when the association is lost. Runs on the loop thread only.
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>

#include "common/bytes.h"
#include "common/log.h"
#include "host/host_impl.h"
#include "wire/crc32c.h"

namespace nvmeoe {
namespace {

constexpr auto kConnectRetry = std::chrono::milliseconds(250);
constexpr auto kTick = std::chrono::milliseconds(5);
// Retransmissions without any answer before the association is declared lost (the target may
// have restarted or the link gone down); the held commands then go to the next association.
constexpr int kMaxSilentRetransmits = 6;
constexpr auto kMaxBackoff = std::chrono::seconds(2);

}  // namespace

void HostControllerImpl::run_loop() {
  loop_id_ = std::this_thread::get_id();
  next_keep_alive_ = HostClock::now() + std::chrono::milliseconds(opts_.kato_ms / 2);
  auto next_tick = HostClock::now();
  auto next_stats = HostClock::now();
  std::vector<std::function<void()>> work;
  auto receive = [this] {
    return link_->receive([this](std::span<const uint8_t> fr) { on_frame(fr); }, kHostRxBatch);
  };
  while (!stop_loop_) {
    // Bounded busy poll while an answer is due: the frame is taken from the ring as it lands,
    // without a sleep and a wake-up (about a third of a QD1 round trip here).
    bool received = false;
    if (opts_.poll_us != 0 && commands_in_flight()) {
      auto until = HostClock::now() + std::chrono::microseconds(opts_.poll_us);
      do {
        if (posted_pending_.load(std::memory_order_acquire)) break;
        received = receive() != 0;
        // Let a runnable thread on this core (on 2 cores often the target or its softirq work)
        // go first: spinning must not delay the very answer it waits for.
        if (!received) sched_yield();
      } while (!received && HostClock::now() < until);
    }
    if (!received && !posted_pending_.load(std::memory_order_acquire)) {
      pollfd fds[2] = {{link_->wait_fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      poll(fds, 2, int(kTick.count()));
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
    if (now >= next_tick) {
      check_timers(now);
      next_tick = now + kTick;
    }
    if (now >= next_stats) {
      publish_stats();
      next_stats = now + std::chrono::milliseconds(200);
    }
    flush_tx();
  }
  publish_stats();
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

FrameHeader HostControllerImpl::header_for(const HostQueue& q, FrameKind kind) const {
  FrameHeader h;
  h.kind = kind;
  h.flags = q.frame_flags();
  h.qid = q.qid;
  // Before its Fabrics Connect completes, the admin queue has no controller yet.
  bool bound = q.qid != 0 || q.bound;
  h.cntlid = bound ? info_.cntlid : kNoController;
  h.nonce = q.nonce;
  return h;
}

void HostControllerImpl::send_command(HostQueue& q, HostSlot& s, bool retry) {
  const uint32_t len = s.cmd.len;
  bool h2c = s.dir == DataDirection::kHostToController && len;
  uint32_t in_capsule = h2c ? std::min<uint32_t>(len, q.max_payload - kSqeSize) : 0;
  FrameHeader h = header_for(q, FrameKind::kCommand);
  if (retry) h.flags |= frame_flag::kRetry;
  h.cid = s.cmd.sqe.cid;
  h.gen = s.gen;
  h.total = len;
  h.length = uint16_t(kSqeSize + in_capsule);
  if (tx_.size() >= kHostTxHeaders) flush_tx();
  auto& head = tx_heads_[tx_.size()];
  encode_sqe(s.cmd.sqe, head.data() + kFrameHeadroom);
  encode_headers(head.data(), target_, local_, ethertype_, h);
  TxFrame f;
  f.head = std::span<const uint8_t>(head.data(), kHeadWithSqe);
  f.body = std::span<const uint8_t>(s.cmd.data, in_capsule);
  if (h.flags & frame_flag::kDataDigest) {
    uint32_t crc = crc32c_extend(crc32c(head.data() + kFrameHeadroom, kSqeSize), s.cmd.data, in_capsule);
    put_le32(head.data() + kHeadWithSqe, crc);
    f.tail = std::span<const uint8_t>(head.data() + kHeadWithSqe, kDigestSize);
  }
  tx_.push_back(f);
  // A retransmitted command travels alone: the target answers with what it lacks.
  if (h2c && !retry) send_data(q, s, in_capsule, len - in_capsule, true);
}

// `last`: this call sends the end of a burst (LAST set on its final frame); one LAST per burst
// keeps the target from asking again for ranges that are still on their way.
void HostControllerImpl::send_data(HostQueue& q, HostSlot& s, uint32_t offset, uint32_t len, bool last) {
  uint32_t end = offset + std::min(len, s.cmd.len - std::min(offset, s.cmd.len));
  for (uint32_t off = offset; off < end;) {
    uint32_t n = std::min(q.max_payload, end - off);
    FrameHeader h = header_for(q, FrameKind::kData);
    h.cid = s.cmd.sqe.cid;
    h.gen = s.gen;
    h.length = uint16_t(n);
    h.offset = off;
    h.total = s.cmd.len;
    if (last && off + n == end) h.flags |= frame_flag::kLast;
    queue_frame(h, std::span<const uint8_t>(s.cmd.data + off, n));
    off += n;
  }
}

void HostControllerImpl::queue_frame(const FrameHeader& h, std::span<const uint8_t> body) {
  if (tx_.size() >= kHostTxHeaders) flush_tx();
  tx_.push_back(encode_tx_frame(tx_heads_[tx_.size()].data(), target_, local_, ethertype_, h, body));
}

void HostControllerImpl::queue_owned(FrameHeader h, std::vector<uint8_t> payload) {
  if (tx_.size() >= kHostTxHeaders) flush_tx();
  h.length = uint16_t(payload.size());
  owned_.push_back(std::move(payload));
  queue_frame(h, owned_.back());
}

void HostControllerImpl::flush_tx() {
  if (tx_.empty()) return;
  Status s = link_->send(tx_);
  if (!s.is_ok()) LOG_WARN("send failed: %s", s.message().c_str());
  tx_.clear();
  owned_.clear();
}

void HostControllerImpl::send_connect_request(HostQueue& q) {
  ConnectRequest req;
  req.queue_size = q.size;
  req.max_payload = max_payload_for_mtu(link_->mtu());
  req.digests = uint8_t((opts_.header_digest ? digest_bits::kHeader : 0) | (opts_.data_digest ? digest_bits::kData : 0));
  FrameHeader h;
  h.kind = FrameKind::kConnectRequest;
  h.qid = q.qid;
  h.cntlid = q.qid ? info_.cntlid : kNoController;
  h.nonce = q.nonce;
  std::vector<uint8_t> p(kConnectPayloadSize);
  encode_connect_request(req, p.data());
  q.connect_sent = HostClock::now();
  queue_owned(h, std::move(p));
}

void HostControllerImpl::send_terminate(HostQueue& q, TerminateReason why) {
  FrameHeader h = header_for(q, FrameKind::kTerminate);
  h.flags = 0;
  std::vector<uint8_t> p(4, 0);
  put_le16(p.data(), uint16_t(why));
  queue_owned(h, std::move(p));
  q.state = HostQueue::State::kIdle;
}

void HostControllerImpl::on_frame(std::span<const uint8_t> bytes) {
  Frame f;
  DecodeError err = decode_frame(bytes, ethertype_, &f);
  if (err != DecodeError::kNone) {
    if (err == DecodeError::kHeaderDigest || err == DecodeError::kDataDigest) ++digest_errors_;
    LOG_DEBUG("dropped frame: %s", decode_error_name(err));
    return;
  }
  if (f.dst != local_ || f.src != target_) return;
  if (f.h.qid >= queues_.size() || !queues_[f.h.qid]) return;
  HostQueue& q = *queues_[f.h.qid];
  if (f.h.nonce != q.nonce) return;  // an older association of this queue
  // A target that lost the association (it restarted) cannot know the digests it had: its
  // Terminate comes unprotected, and is accepted so the host reconnects at once.
  if (q.state == HostQueue::State::kReady && f.h.kind != FrameKind::kTerminate &&
      (((q.digests & digest_bits::kHeader) && !(f.h.flags & frame_flag::kHeaderDigest)) ||
       ((q.digests & digest_bits::kData) && !(f.h.flags & frame_flag::kDataDigest)) ||
       (q.bound && f.h.cntlid != info_.cntlid))) {
    ++digest_errors_;
    return;  // negotiated protection missing, or not our controller: dropped like a lost frame
  }
  switch (f.h.kind) {
    case FrameKind::kConnectResponse: on_connect_response(q, f); break;
    case FrameKind::kResponse: on_response(q, f); break;
    case FrameKind::kData: on_data(q, f); break;
    case FrameKind::kRetransmitRequest: on_retransmit_request(q, f); break;
    case FrameKind::kTerminate: on_terminate(q, f); break;
    default: break;
  }
}

void HostControllerImpl::on_connect_response(HostQueue& q, const Frame& f) {
  if (q.state != HostQueue::State::kConnecting) return;
  ConnectResponse r;
  if (!decode_connect_response(f.payload, &r)) return;
  auto done = std::move(q.on_connected);
  if (r.result != ConnectResult::kAccepted) {
    q.state = HostQueue::State::kFailed;
    if (done) done(false, "target refused queue " + std::to_string(q.qid) + " (reason " + std::to_string(int(r.result)) + ")");
    return;
  }
  q.accept = r;
  q.max_payload = r.max_payload;
  q.digests = r.digests;
  q.reset_slots(std::min(q.size, r.queue_size));
  q.stats.qid = q.qid;
  q.stats.size = q.size;
  q.state = HostQueue::State::kReady;
  if (done) done(true, "");
}

HostSlot* HostControllerImpl::slot_for(HostQueue& q, const Frame& f) {
  if (f.h.cid >= q.slots.size()) return nullptr;
  HostSlot& s = q.slots[f.h.cid];
  if (!s.busy || s.gen != f.h.gen) {
    ++q.stats.duplicates;  // late or repeated: that command is already complete
    return nullptr;
  }
  return &s;
}

void HostControllerImpl::on_response(HostQueue& q, const Frame& f) {
  HostSlot* s = slot_for(q, f);
  if (!s || f.payload.size() < kCqeSize) return;
  s->cqe = decode_cqe(f.payload.data());
  s->have_response = true;
  s->expect = std::min(f.h.total, s->cmd.len);
  if (s->cmd.sqe.opcode == admin_opcode::kFabrics && s->cmd.sqe.fctype() == fabrics_type::kConnect &&
      status_ok(s->cqe.status))
    q.bound = true;
  try_complete(q, *s);
}

void HostControllerImpl::on_data(HostQueue& q, const Frame& f) {
  HostSlot* s = slot_for(q, f);
  if (!s || s->dir != DataDirection::kControllerToHost) return;
  if (f.h.offset > s->cmd.len || f.payload.size() > s->cmd.len - f.h.offset) return;
  std::memcpy(s->cmd.data + f.h.offset, f.payload.data(), f.payload.size());
  s->received.add(f.h.offset, f.payload.size());
  if (s->have_response) try_complete(q, *s);
}

// The target lacks parts of a write (ranges listed) or, with no ranges, says it has the whole
// command and is still executing it: a slow disk, not a lost frame.
void HostControllerImpl::on_retransmit_request(HostQueue& q, const Frame& f) {
  HostSlot* s = slot_for(q, f);
  std::vector<ByteRange> ranges;
  if (!s || !decode_retransmit_request(f.payload, &ranges)) return;
  s->retries = 0;
  s->acked = true;
  if (s->dir == DataDirection::kHostToController)
    for (size_t i = 0; i < ranges.size(); ++i)
      send_data(q, *s, ranges[i].offset, ranges[i].length, i + 1 == ranges.size());
  s->rto_at = HostClock::now() + rto(q) * 2;
}

void HostControllerImpl::try_complete(HostQueue& q, HostSlot& s) {
  bool ok = status_ok(s.cqe.status);
  if (ok && s.dir == DataDirection::kControllerToHost && !s.received.complete(s.expect)) {
    // Wait a little for reordered data before asking for it again.
    if (!s.retransmitted) s.rto_at = std::min(s.rto_at, HostClock::now() + std::chrono::milliseconds(2));
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
  finish(q, s, r);
}

// Asks for the holes of a read (an empty list asks for the response again).
void HostControllerImpl::request_missing(HostQueue& q, HostSlot& s) {
  auto holes = s.received.missing(s.have_response ? s.expect : s.cmd.len, (q.max_payload - 4) / 8);
  std::vector<ByteRange> ranges;
  for (auto& [off, len] : holes) ranges.push_back({uint32_t(off), uint32_t(len)});
  FrameHeader h = header_for(q, FrameKind::kRetransmitRequest);
  h.cid = s.cmd.sqe.cid;
  h.gen = s.gen;
  queue_owned(h, encode_retransmit_request(ranges));
}

void HostControllerImpl::finish(HostQueue& q, HostSlot& s, const Completion& r) {
  IoCallback cb = std::move(s.cmd.cb);
  s.busy = false;
  --q.in_flight;
  --q.stats.in_flight;
  q.free_cids.push_back(s.cmd.sqe.cid);
  if (cb) cb(r);
  start_waiting(q);
}

void HostControllerImpl::on_terminate(HostQueue& q, const Frame& f) {
  uint16_t reason = f.payload.size() >= 2 ? get_le16(f.payload.data()) : 0;
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
      if (c.internal) fail_now_cb(c, sc::kHostAbortedCommand);
      else held_.emplace_back(q.qid, std::move(c));
    }
    q.in_flight = 0;
  }
}

void HostControllerImpl::fail_held(NvmeStatus status) {
  auto held = std::move(held_);
  held_.clear();
  for (auto& [qid, c] : held) fail_now_cb(c, status);
}

void HostControllerImpl::fail_all(NvmeStatus status) {
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
      if (c2h_progress) request_missing(q, s);
      else send_command(q, s, true);
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
      if (!r.ok() && r.status != sc::kHostAbortedCommand) LOG_WARN("keep alive failed: %s", status_name(r.status).c_str());
    };
    dispatch(0, std::move(c));
  }
}

void HostControllerImpl::publish_stats() {
  std::vector<QueueStats> snap;
  for (auto& qp : queues_) {
    if (!qp) continue;
    QueueStats qs = qp->stats;
    qs.window = qp->window;
    LatencySummary lat = summarize(qp->latency);
    qs.latency_count = lat.count;
    qs.latency_mean_us = lat.mean_us;
    qs.latency_max_us = lat.max_us;
    qs.latency_p50_us = lat.p50_us;
    qs.latency_p99_us = lat.p99_us;
    qs.latency_p999_us = lat.p999_us;
    qs.latency_buckets = to_buckets(qp->latency);
    if (qp->qid == 0) qs.digest_errors = digest_errors_;
    snap.push_back(qs);
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_snapshot_ = std::move(snap);
}

}  // namespace nvmeoe
