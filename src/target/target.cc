// Target transport: frames in, Requests to the core, completions back out as frames. This file
// holds execution, statistics and the loop; target_impl.h says where the other parts are.
#include "target/target_impl.h"

namespace nvmeoe {

void TargetTransport::Impl::execute(Queue& q, Slot& s) {
  shared->lru.remove(&s);  // the core and the backend use the buffer now
  if (s.req.sqe.opcode == admin_opcode::kFabrics && s.req.sqe.fctype() == fabrics_type::kConnect &&
      s.total >= kConnectDataSize) {
    // The core judges the Connect (fabrics_cmd.cc); the transport only keeps room in its tables.
    ConnectData data;
    if (!q.ctrl && decode_connect_data(s.buf.get(), &data) && !admit_bind(q, data))
      return finish_connect(q, s, sc::kConnectControllerBusy, 0);
  }
  s.state = Slot::State::kExecuting;
  ++q.executing;
  s.req.qid = q.qid;
  s.req.port = port_index;
  s.req.queue_size = q.size;
  s.req.ctrl = q.ctrl;
  s.req.data = std::span<uint8_t>(s.buf.get(), s.total);
  s.req.on_complete = &Impl::on_complete;
  s.req.transport_ctx = &s;
  core->execute(&s.req);
}

void TargetTransport::Impl::finish_connect(Queue& q, Slot& s, NvmeStatus status, uint32_t dw0) {
  const Sqe sqe = s.req.sqe;
  s.req = Request{};
  s.req.sqe = sqe;
  s.req.cqe.dw0 = dw0;
  s.req.cqe.cid = sqe.cid;
  s.req.cqe.sq_id = q.qid;
  s.req.cqe.status = status;
  s.state = Slot::State::kDone;
  send_response(q, s);
}

void TargetTransport::Impl::on_complete(Request* req) {
  Slot& s = *static_cast<Slot*>(req->transport_ctx);
  Queue& q = *s.queue;
  Impl& self = *q.impl;
  s.state = Slot::State::kDone;
  --q.executing;
  req->cqe.cid = req->sqe.cid;
  req->cqe.sq_id = q.qid;
  if (req->data_len > s.total) req->data_len = s.total;
  if (q.dead) return;  // association gone: nobody to answer
  if (s.dir == DataDirection::kHostToController) q.counters.bytes_in += s.total;
  if (status_ok(req->cqe.status) && s.dir == DataDirection::kControllerToHost) q.counters.bytes_out += req->data_len;
  if (req->connected) self.bind(q, s, req->connected);
  if (req->frame_keys) {
    self.install_frame_keys(q, s, *req->frame_keys);
    req->frame_keys.reset();
  }
  record_service_time(q, s);
  self.send_result(q, s, true);
  if (s.buf) self.shared->lru.push_back(&s);  // kept for a retransmission, or reuse; may be taken back
}

TargetSnapshot TargetTransport::Impl::build_snapshot() const {
  TargetSnapshot out;
  out.mac = mac.str();
  out.totals = st;
  out.totals.unbound = admission.unbound();
  out.totals.setting_up = admission.setting_up_count();
  out.totals.controllers = core->controller_count();
  out.totals.buffer_bytes = shared->pool.in_use() + shared->pool.kept();
  out.totals.buffer_peak = shared->pool.peak();
  out.totals.log_suppressed = log_limiter().suppressed_total();
  out.queue_count = queues.size();
  out.queues.reserve(queues.size());
  for (const auto& [key, qp] : queues) {
    const Queue& q = *qp;
    TargetQueueStats r;
    r.host_mac = q.host.str();
    r.qid = q.qid;
    r.nonce = q.nonce;
    r.size = q.size;
    if (q.ctrl) {
      r.cntlid = q.ctrl->cntlid();
      r.hostnqn = q.ctrl->hostnqn();
      if (q.ctrl->subsystem()) r.subnqn = q.ctrl->subsystem()->nqn;
    }
    for (const auto& s : q.slots)
      if (s && (s->state == Slot::State::kReceiving || s->state == Slot::State::kExecuting)) ++r.in_flight;
    r.counters = q.counters;
    if (q.service) {
      r.service_time = summarize(*q.service);
      r.service_buckets = to_buckets(*q.service);
    }
    out.queues.push_back(std::move(r));
  }
  return out;
}

void TargetTransport::Impl::answer_snapshot() {
  if (!snap_requested.load(std::memory_order_relaxed) || !snap_requested.exchange(false)) return;
  TargetSnapshot s = build_snapshot();
  std::lock_guard<std::mutex> lock(snap_mu);
  snap = std::move(s);
  snap_done = snap_wanted;
  snap_cv.notify_all();
}

void TargetTransport::Impl::set_running(bool on) {
  std::lock_guard<std::mutex> lock(snap_mu);
  running = on;
  snap_cv.notify_all();
}

namespace {

// One loop turn over every port: wait (bounded), receive a batch on each link, run completions,
// send. The descriptors are fixed while the target runs, so the poll set is built once (again
// after a configuration change).
void turn(std::vector<std::unique_ptr<TargetTransport::Impl>>& ports, TargetCore* core, std::vector<pollfd>* poll_fds,
          int timeout_ms) {
  using Impl = TargetTransport::Impl;
  Impl& first = *ports[0];
  std::vector<pollfd>& fds = *poll_fds;
  if (fds.empty()) {
    fds.push_back({first.stop_fd, POLLIN, 0});
    for (auto& p : ports) fds.push_back({p->link->wait_fd(), POLLIN, 0});
    for (int fd : core->backend_fds()) fds.push_back({fd, POLLIN, 0});
  }
  for (auto& p : fds) p.revents = 0;
  auto receive = [](Impl& m) {
    return m.link->receive([&m](std::span<const uint8_t> fr) { m.on_frame(fr); }, kRxBatch);
  };
  auto tx_pending = [&] {
    for (auto& p : ports)
      if (!p->tx->empty()) return true;
    return false;
  };
  bool busy = false;
  if (first.options.poll_us) {
    // Bounded busy poll before sleeping: receive without a syscall while traffic flows.
    auto until = Clock::now() + std::chrono::microseconds(first.options.poll_us);
    while (!busy && Clock::now() < until) {
      for (auto& p : ports) busy = receive(*p) || busy;
      if (busy) break;
      core->reap_backends();
      if (tx_pending()) break;
      sched_yield();  // a runnable thread on this core (the host, on 2 cores) goes first
    }
  }
  if (!busy && !tx_pending()) poll(fds.data(), fds.size(), timeout_ms);
  if (fds[0].revents & POLLIN) {
    uint64_t v;
    (void)!read(first.stop_fd, &v, sizeof v);
  }
  for (auto& p : ports) p->answer_snapshot();
  for (auto& p : ports)
    for (int i = 0; i < 16; ++i)
      if (!receive(*p)) break;
  core->flush_backends();
  core->reap_backends();
  for (auto& p : ports) p->flush_tx();
}

}  // namespace

TargetTransport::TargetTransport(TargetCore* core, std::unique_ptr<Link> link, TargetOptions options)
    : core_(core), shared_(std::make_unique<Shared>(options.limits)) {
  log_limiter().configure(options.limits.log_lines_per_source, options.limits.log_lines_per_kind);
  TargetPort port;
  port.link = std::move(link);
  add_port(std::move(port), options);
}

TargetTransport::TargetTransport(TargetCore* core, std::vector<TargetPort> ports, TargetOptions options)
    : core_(core), shared_(std::make_unique<Shared>(options.limits)) {
  log_limiter().configure(options.limits.log_lines_per_source, options.limits.log_lines_per_kind);
  for (auto& p : ports) add_port(std::move(p), options);
}

void TargetTransport::add_port(TargetPort port, const TargetOptions& options) {
  auto m = std::make_unique<Impl>(core_, port.link.get(), options, shared_.get());
  m->port_index = ports_.size();
  ports_.push_back(std::move(m));
  links_.push_back(std::move(port.link));
}

TargetTransport::~TargetTransport() {
  ports_.clear();  // their send threads use the links
}

void TargetTransport::request_stop() {
  for (auto& p : ports_) p->stop_requested.store(true);
  uint64_t one = 1;
  (void)!write(ports_[0]->stop_fd, &one, sizeof one);
}

void TargetTransport::request_reload() {
  reload_requested_.store(true);
  uint64_t one = 1;
  (void)!write(ports_[0]->stop_fd, &one, sizeof one);
}

void TargetTransport::set_reload_handler(std::function<void()> handler) {
  reload_ = std::move(handler);
}

TargetStats TargetTransport::stats() const {
  TargetStats sum;
  for (const auto& p : ports_) {
    const TargetStats& st = p->st;
    sum.frames_in += st.frames_in;
    sum.frames_out += st.frames_out;
    sum.bad_frames += st.bad_frames;
    sum.unknown_association += st.unknown_association;
    sum.commands += st.commands;
    sum.duplicates += st.duplicates;
    sum.stale += st.stale;
    sum.digest_errors += st.digest_errors;
    sum.auth_errors += st.auth_errors;
    sum.associations += st.associations;
    sum.refused_connects += st.refused_connects;
    sum.refused_busy += st.refused_busy;
    sum.evicted += st.evicted;
    sum.expired += st.expired;
    sum.unbound_commands += st.unbound_commands;
    sum.buffer_drops += st.buffer_drops;
    sum.buffer_reclaims += st.buffer_reclaims;
    sum.discover_suppressed += st.discover_suppressed;
    sum.terminate_suppressed += st.terminate_suppressed;
    sum.unbound += p->admission.unbound();
  }
  sum.buffer_bytes = shared_->pool.in_use() + shared_->pool.kept();
  sum.buffer_peak = shared_->pool.peak();
  sum.log_suppressed = log_limiter().suppressed_total();
  return sum;
}

Result<TargetSnapshot> TargetTransport::snapshot(size_t port, std::chrono::milliseconds timeout) const {
  if (port >= ports_.size()) return Status::error("no port " + std::to_string(port), EINVAL);
  Impl& m = *ports_[port];
  std::unique_lock<std::mutex> lock(m.snap_mu);
  if (!m.running) return Status::error("the target transport is not running", ESRCH);
  uint64_t want = ++m.snap_wanted;
  m.snap_requested.store(true);
  uint64_t one = 1;
  (void)!write(ports_[0]->stop_fd, &one, sizeof one);  // the loop polls the first port's eventfd
  if (!m.snap_cv.wait_for(lock, timeout, [&] { return m.snap_done >= want || !m.running; }))
    return Status::error("the target transport did not answer within " + std::to_string(timeout.count()) + " ms",
                         ETIMEDOUT);
  if (m.snap_done < want) return Status::error("the target transport stopped", ESRCH);
  return m.snap;
}

Status TargetTransport::run() {
  if (ports_.empty()) return Status::error("no port to serve");
  for (auto& p : ports_)
    if (p->stop_fd < 0) return Status::from_errno(errno, "eventfd");
  Impl& m = *ports_[0];
  auto next_housekeeping = Clock::now();
  for (auto& p : ports_) p->set_running(true);
  while (!m.stop_requested.load()) {
    turn(ports_, core_, &poll_fds_, int(kHousekeepingPeriod.count()));
    if (reload_requested_.exchange(false) && reload_) {
      reload_();
      for (auto& p : ports_) p->rescan = true;  // controllers the change removed end at once
      poll_fds_.clear();                        // namespaces (backend descriptors) may have changed
      next_housekeeping = Clock::now();         // tear down what the change removed without delay
    }
    auto now = Clock::now();
    if (now >= next_housekeeping) {
      // Removed namespaces are freed once idle; their descriptors leave the poll set with them.
      if (size_t retired = core_->retired_count(); retired && core_->collect_retired() != retired) poll_fds_.clear();
      std::vector<uint16_t> expired = core_->expire_keep_alive(now);
      for (auto& p : ports_) p->housekeeping(now, expired);
      next_housekeeping = now + kHousekeepingPeriod;
    }
  }
  // Orderly stop: refuse new associations, let running commands finish, flush, say goodbye.
  for (auto& p : ports_) p->stopping = true;
  LOG_INFO("stopping: %zu commands in flight", core_->backend_in_flight());
  auto deadline = Clock::now() + std::chrono::milliseconds(m.options.shutdown_timeout_ms);
  while (core_->backend_in_flight() && Clock::now() < deadline) turn(ports_, core_, &poll_fds_, 10);
  if (core_->backend_in_flight()) LOG_WARN("stopping with %zu commands unfinished", core_->backend_in_flight());
  bool flushed = false;
  core_->flush_all([](void* arg) { *static_cast<bool*>(arg) = true; }, &flushed);
  while (!flushed && Clock::now() < deadline + std::chrono::seconds(5)) turn(ports_, core_, &poll_fds_, 10);
  for (auto& p : ports_) p->terminate_all(TerminateReason::kTargetShutdown);
  for (auto& p : ports_) p->set_running(false);
  LOG_INFO("stopped%s", flushed ? "" : " (flush did not finish)");
  return flushed ? Status::ok() : Status::error("flush did not complete before shutdown timeout", EIO);
}

}  // namespace nvmeoe
