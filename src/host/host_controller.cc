// The host controller's API side: connect and controller bring-up, submission from any thread,
// reconnect after a lost association, and orderly disconnect. The protocol itself runs on the
// loop thread (host_datapath.cc).
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "common/bytes.h"
#include "common/log.h"
#include "host/host_impl.h"
#include "host/identity.h"
#include "host/target_checks.h"
#include "nvme/identify.h"
#include "nvmeoe/status.h"

namespace nvmeoe {

// The public status values are the ones the library hands out, and the wire codec's NVMe sizes
// are the structures'.
static_assert(nvme_status::kInvalidField == sc::kInvalidField && nvme_status::kInternalError == sc::kInternalError &&
                  nvme_status::kNsWriteProtected == sc::kNsWriteProtected &&
                  nvme_status::kLbaOutOfRange == sc::kLbaOutOfRange &&
                  nvme_status::kCapacityExceeded == sc::kCapacityExceeded &&
                  nvme_status::kHostAborted == sc::kHostAbortedCommand && nvme_status::kDnr == sc::kDnr,
              "include/nvmeoe/status.h and nvme/spec.h");
static_assert(kSqeBytes == kSqeSize && kCqeBytes == kCqeSize && kNqnBytes == kNqnSize &&
                  kConnectDataBytes == kConnectDataSize,
              "the wire codec's NVMe sizes");

HostControllerImpl::HostControllerImpl(std::unique_ptr<Link> link, ConnectOptions opts, MacAddress target,
                                       std::array<uint8_t, 16> hostid)
    : link_(std::move(link)),
      opts_(std::move(opts)),
      target_(target),
      hostid_(hostid),
      tx_(link_->local_mac(), link_->ethertype(), link_->mtu()) {
  local_ = link_->local_mac();
  ethertype_ = link_->ethertype();
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  // Checked by connect() before: here they parse.
  if (auto k = auth::parse_secret(opts_.dhchap_secret); k) host_secret_ = *k;
  if (auto k = auth::parse_secret(opts_.dhchap_ctrl_secret); k) ctrl_secret_ = *k;
  std::random_device rd;
  rng_.seed((uint64_t(rd()) << 32) ^ rd() ^ uint64_t(HostClock::now().time_since_epoch().count()));
}

HostControllerImpl::~HostControllerImpl() {
  disconnect();
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status HostControllerImpl::start() {
  if (wake_fd_ < 0) return Status::from_errno(errno, "eventfd");
  loop_ = std::thread([this] { run_loop(); });
  Status s = bring_up(true);
  if (!s.is_ok()) return s;
  state_ = State::kLive;
  reconnector_ = std::thread([this] { reconnect_thread(); });
  return s;
}

std::vector<QueueStats> HostControllerImpl::stats() const {
  // A fresh snapshot from the loop thread while it runs; the last published one otherwise.
  if (loop_.joinable() && !stop_.load() && std::this_thread::get_id() != loop_id_) {
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    auto* self = const_cast<HostControllerImpl*>(this);
    self->post([self, done] {
      self->publish_stats();
      done->set_value();
    });
    fut.wait_for(std::chrono::seconds(1));
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_snapshot_;
}

FrameCounters HostControllerImpl::frame_counters() const {
  Link::Counters c = link_->counters();
  FrameCounters f;
  f.sent = c.tx_frames;
  f.received = c.rx_frames;
  f.digest_errors = digest_errors_.load(std::memory_order_relaxed);
  f.auth_errors = auth_errors_.load(std::memory_order_relaxed);
  return f;
}

// ---- bring-up ----

Status HostControllerImpl::bring_up(bool first) {
  NVMEOE_RETURN_IF_ERROR(connect_queue(0, kAdminQueueSize));
  Completion r = fabrics_connect(0, granted_size(0));
  if (!r.ok()) return connect_refused(r);
  if ((r.dw0 & 0xffff) == 0 || (r.dw0 & 0xffff) >= 0xfff0)
    return Status::error("Fabrics Connect: the target assigned controller ID " + std::to_string(r.dw0 & 0xffff) +
                             ", which is reserved (CNTLID 0 and FFF0h-FFFFh)",
                         EPROTO);
  info_.cntlid = uint16_t(r.dw0);
  NVMEOE_RETURN_IF_ERROR(authenticate(0, r.dw0));

  uint64_t cap = 0;
  NVMEOE_RETURN_IF_ERROR(property_get(prop::kCap, 8, &cap));
  uint32_t cc = prop::kCcEnable | (6u << 16) | (4u << 20);  // IOSQES 64 B, IOCQES 16 B
  NVMEOE_RETURN_IF_ERROR(property_set(prop::kCc, cc));
  auto ready_by = HostClock::now() + std::chrono::milliseconds(500 * std::max<uint64_t>(1, (cap >> 24) & 0xff));
  for (;;) {
    uint64_t csts = 0;
    NVMEOE_RETURN_IF_ERROR(property_get(prop::kCsts, 4, &csts));
    if (csts & prop::kCstsFatal) return Status::error("controller reports fatal status (CSTS.CFS)", EIO);
    if (csts & prop::kCstsReady) break;
    if (HostClock::now() > ready_by) return Status::error("controller did not become ready (CSTS.RDY)", ETIMEDOUT);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  std::vector<uint8_t> id(kIdentifySize);
  if (first) {
    uint64_t vs = 0;
    NVMEOE_RETURN_IF_ERROR(property_get(prop::kVs, 4, &vs));
    NVMEOE_RETURN_IF_ERROR(identify(cns::kController, 0, id.data()));
    if (std::string why = check_identify_controller(id.data(), opts_.subnqn); !why.empty())
      return Status::error(why, EPROTO);
    IdentifyController ctrl = decode_identify_controller(id.data());
    info_.serial = ctrl.serial;
    info_.model = ctrl.model;
    info_.firmware = ctrl.firmware;
    info_.subnqn = ctrl.subnqn;
    info_.version = uint32_t(vs);
    uint32_t transport_max = 0;
    {  // the handshake result lives on the loop thread
      auto p = std::make_shared<std::promise<uint32_t>>();
      auto f = p->get_future();
      post([this, p] { p->set_value(queues_[0]->accept.max_transfer); });
      transport_max = f.get();
    }
    info_.max_transfer = uint32_t(std::min<uint64_t>(mdts_bytes(ctrl.mdts), transport_max));
  }

  if (opts_.subnqn == kDiscoveryNqn) {
    // A discovery controller has no namespaces and no I/O queues: the admin queue is all.
    io_queues_ = 0;
    LOG_INFO("%s discovery controller %u at %s", first ? "connected to" : "reconnected to", info_.cntlid,
             target_.str().c_str());
    return Status::ok();
  }

  uint16_t want = std::max<uint16_t>(1, opts_.nr_io_queues);
  Sqe sf;
  sf.opcode = admin_opcode::kSetFeatures;
  sf.cdw10 = feature_id::kNumberOfQueues;
  sf.cdw11 = uint32_t(want - 1) | uint32_t(want - 1) << 16;
  r = internal_wait(0, sf, nullptr, 0, nullptr);
  if (!r.ok()) return Status::error("Set Features (Number of Queues) failed: " + status_name(r.status), EIO);
  std::string why;
  uint32_t granted = granted_io_queues(r.dw0, &why);
  if (granted == 0) return Status::error(why, EPROTO);
  uint16_t nq = uint16_t(std::min<uint32_t>(want, granted));
  if (!first && nq != io_queues_.load())
    return Status::error(
        "target now grants " + std::to_string(nq) + " I/O queues instead of " + std::to_string(io_queues_.load()), EIO);

  NVMEOE_RETURN_IF_ERROR(identify(cns::kActiveNamespaceList, 0, id.data()));
  std::vector<NamespaceInfo> found;
  std::vector<uint32_t> nsids = decode_active_ns_list(id.data());
  if (std::string list_why = check_active_ns_list(nsids); !list_why.empty()) return Status::error(list_why, EPROTO);
  for (uint32_t nsid : nsids) {
    std::vector<uint8_t> nsbuf(kIdentifySize);
    NVMEOE_RETURN_IF_ERROR(identify(cns::kNamespace, nsid, nsbuf.data()));
    // A format the host cannot serve is refused here, not half-used: the library moves 512-byte
    // blocks (kLbaSize), and everything above it sizes buffers from block_size.
    if (std::string ns_why = check_namespace_format(nsid, nsbuf.data()); !ns_why.empty())
      return Status::error(ns_why, EPROTO);
    IdentifyNamespace ns = decode_identify_namespace(nsbuf.data());
    NamespaceInfo n;
    n.nsid = nsid;
    n.blocks = ns.nsze;
    n.used_blocks = ns.nuse;
    n.block_size = kLbaSize;  // LBADS 9, checked above
    n.read_only = ns.write_protected;
    n.nguid = ns.nguid;
    found.push_back(n);
  }
  if (first) {
    namespaces_ = std::move(found);
  } else {
    // The same storage must come back: a reconnect to different namespaces would misdirect I/O.
    bool same = found.size() == namespaces_.size();
    for (size_t i = 0; same && i < found.size(); ++i)
      same = found[i].nsid == namespaces_[i].nsid && found[i].blocks == namespaces_[i].blocks &&
             found[i].nguid == namespaces_[i].nguid;
    if (!same) return Status::error("the target's namespaces changed across the reconnect", EIO);
  }

  for (uint16_t qid = 1; qid <= nq; ++qid) {
    NVMEOE_RETURN_IF_ERROR(connect_queue(qid, opts_.queue_size));
    r = fabrics_connect(qid, granted_size(qid));
    if (!r.ok()) return Status::error("I/O queue " + std::to_string(qid) + " refused: " + status_name(r.status), EIO);
    NVMEOE_RETURN_IF_ERROR(authenticate(qid, r.dw0));
  }
  io_queues_ = nq;
  LOG_INFO("%s %s at %s: controller %u, %zu namespace(s), %u I/O queue(s)", first ? "connected to" : "reconnected to",
           info_.subnqn.c_str(), target_.str().c_str(), info_.cntlid, namespaces_.size(), nq);
  return Status::ok();
}

Status HostControllerImpl::connect_refused(const Completion& r) {
  std::string what = status_name(r.status);
  if ((r.status & 0x7ff) == sc::kConnectInvalidHost)
    return Status::error("target refused host NQN '" + opts_.hostnqn + "': " + what, EACCES);
  // Connect Invalid Parameters: IPO in bits 15:0, IATTR (1 = connect data) in bit 16.
  if ((r.status & 0x7ff) == sc::kConnectInvalidParameters && (r.dw0 & 0xffff) == 256 && (r.dw0 >> 16 & 1))
    return Status::error("target has no subsystem '" + opts_.subnqn + "': " + what, ENOENT);
  return Status::error("Fabrics Connect failed: " + what, EIO);
}

Status HostControllerImpl::connect_queue(uint16_t qid, uint16_t size) {
  auto promise = std::make_shared<std::promise<std::string>>();
  auto fut = promise->get_future();
  post([this, qid, size, promise] {
    if (stop_) return promise->set_value("disconnected");
    if (queues_.size() <= qid) queues_.resize(qid + 1);
    auto q = std::make_unique<HostQueue>();
    if (queues_[qid]) {
      // Counters survive a reconnect.
      q->stats = queues_[qid]->stats;
      q->stats.in_flight = 0;
      q->latency = queues_[qid]->latency;
    }
    q->qid = qid;
    do q->nonce = uint32_t(rng_());
    while (q->nonce == 0);
    q->state = HostQueue::State::kConnecting;
    q->size = size;
    q->connect_started = HostClock::now();
    q->connect_deadline = q->connect_started + opts_.connect_timeout;
    q->on_connected = [promise](bool ok, const std::string& why) { promise->set_value(ok ? "" : why); };
    queues_[qid] = std::move(q);
    send_connect_request(*queues_[qid]);
  });
  std::string err = fut.get();
  if (!err.empty()) return Status::error(err, err.find("no answer") != std::string::npos ? ETIMEDOUT : ECONNREFUSED);
  return Status::ok();
}

// The queue size the handshake granted (it lives on the loop thread).
uint16_t HostControllerImpl::granted_size(uint16_t qid) {
  auto p = std::make_shared<std::promise<uint16_t>>();
  auto f = p->get_future();
  post([this, qid, p] { p->set_value(queues_[qid]->size); });
  return f.get();
}

Completion HostControllerImpl::fabrics_connect(uint16_t qid, uint16_t size) {
  ConnectCommand cc;
  cc.qid = qid;
  cc.sqsize = uint16_t(size - 1);
  cc.kato_ms = qid == 0 ? opts_.kato_ms : 0;
  Sqe s;
  encode_connect_command(cc, s);
  ConnectData d;
  d.hostid = hostid_;
  d.cntlid = qid == 0 ? 0xffff : info_.cntlid;
  d.subnqn = opts_.subnqn;
  d.hostnqn = opts_.hostnqn;
  auto buf = std::make_shared<std::vector<uint8_t>>(kConnectDataSize);
  encode_connect_data(d, buf->data());
  return internal_wait(qid, s, buf->data(), uint32_t(buf->size()), buf);
}

Status HostControllerImpl::property_get(uint32_t offset, int bytes, uint64_t* out) {
  Sqe s;
  s.opcode = admin_opcode::kFabrics;
  s.nsid = fabrics_type::kPropertyGet;
  s.cdw10 = bytes == 8 ? 1 : 0;
  s.cdw11 = offset;
  Completion r = internal_wait(0, s, nullptr, 0, nullptr);
  if (!r.ok()) return Status::error("Property Get failed: " + status_name(r.status), EIO);
  uint32_t dw1 = 0;
  auto p = std::make_shared<std::promise<uint32_t>>();
  auto f = p->get_future();
  post([this, p] { p->set_value(last_dw1_); });
  dw1 = f.get();
  *out = r.dw0 | (bytes == 8 ? uint64_t(dw1) << 32 : 0);
  return Status::ok();
}

Status HostControllerImpl::property_set(uint32_t offset, uint32_t value) {
  Sqe s;
  s.opcode = admin_opcode::kFabrics;
  s.nsid = fabrics_type::kPropertySet;
  s.cdw11 = offset;
  s.cdw12 = value;
  Completion r = internal_wait(0, s, nullptr, 0, nullptr);
  if (!r.ok()) return Status::error("Property Set failed: " + status_name(r.status), EIO);
  return Status::ok();
}

Status HostControllerImpl::identify(uint8_t cns_value, uint32_t nsid, uint8_t* out) {
  Sqe s;
  s.opcode = admin_opcode::kIdentify;
  s.nsid = nsid;
  s.cdw10 = cns_value;
  Completion r = internal_wait(0, s, out, kIdentifySize, nullptr);
  if (!r.ok())
    return Status::error("Identify (CNS " + std::to_string(cns_value) + ") failed: " + status_name(r.status), EIO);
  return Status::ok();
}

Completion HostControllerImpl::internal_wait(uint16_t qid, const Sqe& s, uint8_t* data, uint32_t len,
                                             std::shared_ptr<void> keep) {
  auto promise = std::make_shared<std::promise<Completion>>();
  auto fut = promise->get_future();
  HostCommand c;
  c.sqe = s;
  c.data = data;
  c.len = len;
  c.internal = true;
  c.cb = [promise, keep](const Completion& r) { promise->set_value(r); };
  submit(qid, std::move(c));
  return fut.get();
}

void HostControllerImpl::shutdown_controller() {
  // CC.SHN = normal shutdown, then wait (bounded) for CSTS.SHST = complete.
  uint32_t cc = prop::kCcEnable | (6u << 16) | (4u << 20) | (1u << prop::kCcShnShift);
  if (!property_set(prop::kCc, cc).is_ok()) return;
  auto until = HostClock::now() + std::chrono::seconds(5);
  while (HostClock::now() < until && state_.load() == State::kLive) {
    uint64_t csts = 0;
    if (!property_get(prop::kCsts, 4, &csts).is_ok()) return;
    if ((csts & 0xc) == prop::kCstsShstComplete) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// ---- reconnect ----

void HostControllerImpl::reconnect_thread() {
  std::unique_lock<std::mutex> lock(rc_mu_);
  for (;;) {
    rc_cv_.wait(lock, [this] { return rc_wanted_ || stop_.load(); });
    if (stop_.load()) return;
    rc_wanted_ = false;
    auto give_up_at = lost_at_ + opts_.ctrl_loss_tmo;
    bool back = false;
    while (!stop_.load() && HostClock::now() < give_up_at) {
      // nvme-cli semantics: wait reconnect_delay before each attempt (bounded by the deadline).
      auto wake = std::min(HostClock::now() + opts_.reconnect_delay, give_up_at);
      if (rc_cv_.wait_until(lock, wake, [this] { return stop_.load(); })) return;
      if (HostClock::now() >= give_up_at) break;
      lock.unlock();
      ++reconnects_;
      Status s = bring_up(false);
      lock.lock();
      if (s.is_ok()) {
        back = true;
        break;
      }
      LOG_WARN("reconnect to %s failed: %s", target_.str().c_str(), s.message().c_str());
      // Leave nothing half-made on the target.
      post([this] {
        for (auto& qp : queues_)
          if (qp && qp->state == HostQueue::State::kReady) send_terminate(*qp, TerminateReason::kHostDisconnect);
      });
    }
    if (stop_.load()) return;
    if (back) {
      post([this] {
        state_ = State::kLive;
        next_keep_alive_ = HostClock::now() + std::chrono::milliseconds(opts_.kato_ms / 2);
        keep_alive_pending_ = false;
        auto held = std::move(held_);
        held_.clear();
        LOG_INFO("re-issuing %zu held command(s)", held.size());
        for (auto& [qid, cmd] : held) dispatch(qid, std::move(cmd));
      });
    } else {
      LOG_ERROR("controller loss timeout (%lld ms) expired: failing held commands",
                static_cast<long long>(opts_.ctrl_loss_tmo.count()));
      post([this] {
        state_ = State::kDead;
        fail_held(sc::kHostAbortedCommand);
        fail_all(sc::kHostAbortedCommand);
      });
    }
  }
}

// ---- submission ----

uint16_t HostControllerImpl::pick_queue(uint16_t queue) {
  uint16_t n = io_queues_.load();
  if (n == 0) return 0;
  if (queue >= 1 && queue <= n) return queue;
  return uint16_t(1 + (rr_.fetch_add(1, std::memory_order_relaxed) % n));
}

static void fail_now(const IoCallback& cb, NvmeStatus status) {
  Completion r;
  r.status = status;
  cb(r);
}

void HostControllerImpl::rw(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb, uint8_t* buf, IoCallback cb,
                            uint16_t queue, bool fua) {
  uint64_t bytes = uint64_t(nlb) * kLbaSize;
  if (nlb == 0 || nlb > 65536 || bytes > info_.max_transfer) return fail_now(cb, sc::kInvalidField | sc::kDnr);
  HostCommand c;
  c.sqe.opcode = opcode;
  c.sqe.nsid = nsid;
  c.sqe.cdw10 = uint32_t(slba);
  c.sqe.cdw11 = uint32_t(slba >> 32);
  c.sqe.cdw12 = (nlb - 1) | (fua ? 1u << 30 : 0);
  c.data = buf;
  c.len = uint32_t(bytes);
  c.cb = std::move(cb);
  submit(pick_queue(queue), std::move(c));
}

void HostControllerImpl::read(uint32_t nsid, uint64_t slba, uint32_t nlb, void* buf, IoCallback cb, uint16_t queue) {
  rw(io_opcode::kRead, nsid, slba, nlb, static_cast<uint8_t*>(buf), std::move(cb), queue, false);
}

void HostControllerImpl::write(uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf, IoCallback cb,
                               uint16_t queue, bool fua) {
  rw(io_opcode::kWrite, nsid, slba, nlb, const_cast<uint8_t*>(static_cast<const uint8_t*>(buf)), std::move(cb), queue,
     fua);
}

void HostControllerImpl::flush(uint32_t nsid, IoCallback cb, uint16_t queue) {
  HostCommand c;
  c.sqe.opcode = io_opcode::kFlush;
  c.sqe.nsid = nsid;
  c.cb = std::move(cb);
  submit(pick_queue(queue), std::move(c));
}

void HostControllerImpl::write_zeroes(uint32_t nsid, uint64_t slba, uint32_t nlb, IoCallback cb, uint16_t queue) {
  if (nlb == 0 || nlb > 65536) return fail_now(cb, sc::kInvalidField | sc::kDnr);
  HostCommand c;
  c.sqe.opcode = io_opcode::kWriteZeroes;
  c.sqe.nsid = nsid;
  c.sqe.cdw10 = uint32_t(slba);
  c.sqe.cdw11 = uint32_t(slba >> 32);
  c.sqe.cdw12 = nlb - 1;
  c.cb = std::move(cb);
  submit(pick_queue(queue), std::move(c));
}

void HostControllerImpl::deallocate(uint32_t nsid, std::vector<DsmRange> ranges, IoCallback cb, uint16_t queue) {
  if (ranges.empty() || ranges.size() > 256) return fail_now(cb, sc::kInvalidField | sc::kDnr);
  auto buf = std::make_shared<std::vector<uint8_t>>(ranges.size() * 16, 0);
  for (size_t i = 0; i < ranges.size(); ++i) {
    put_le32(buf->data() + 16 * i + 4, ranges[i].nlb);
    put_le64(buf->data() + 16 * i + 8, ranges[i].slba);
  }
  HostCommand c;
  c.sqe.opcode = io_opcode::kDatasetManagement;
  c.sqe.nsid = nsid;
  c.sqe.cdw10 = uint32_t(ranges.size() - 1);
  c.sqe.cdw11 = 1u << 2;  // AD: deallocate
  c.data = buf->data();
  c.len = uint32_t(buf->size());
  c.cb = [buf, cb = std::move(cb)](const Completion& r) { cb(r); };
  submit(pick_queue(queue), std::move(c));
}

void HostControllerImpl::admin(std::span<const uint8_t> sqe_bytes, std::span<uint8_t> data, IoCallback cb) {
  if (sqe_bytes.size() != kSqeSize) return fail_now(cb, sc::kInvalidField | sc::kDnr);
  HostCommand c;
  c.sqe = decode_sqe(sqe_bytes.data());
  c.data = data.data();
  c.len = uint32_t(data.size());
  c.cb = std::move(cb);
  submit(0, std::move(c));
}

void HostControllerImpl::submit(uint16_t qid, HostCommand c) {
  if (std::this_thread::get_id() == loop_id_) {
    dispatch(qid, std::move(c));
    return;
  }
  auto holder = std::make_shared<HostCommand>(std::move(c));
  post([this, qid, holder] { dispatch(qid, std::move(*holder)); });
}

void HostControllerImpl::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    posted_.push_back(std::move(fn));
    posted_pending_.store(true, std::memory_order_release);
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void HostControllerImpl::disconnect() {
  if (disconnected_.exchange(true)) return;
  if (loop_.joinable()) {
    if (state_.load() == State::kLive && info_.cntlid) shutdown_controller();
    {
      std::lock_guard<std::mutex> lock(rc_mu_);
      stop_ = true;
    }
    rc_cv_.notify_all();
    // A reconnect attempt in progress waits on the loop: end its handshakes now.
    post([this] {
      for (auto& qp : queues_)
        if (qp && qp->state == HostQueue::State::kConnecting) qp->state = HostQueue::State::kFailed;
      fail_all(sc::kHostAbortedCommand);
    });
    if (reconnector_.joinable()) reconnector_.join();
    post([this] {
      for (size_t i = queues_.size(); i-- > 0;) {
        HostQueue& q = *queues_[i];
        if (q.state == HostQueue::State::kReady) send_terminate(q, TerminateReason::kHostDisconnect);
      }
      flush_tx();
      fail_held(sc::kHostAbortedCommand);
      fail_all(sc::kHostAbortedCommand);
      stop_loop_ = true;
    });
    loop_.join();
  }
  state_ = State::kDead;
}

Result<std::unique_ptr<HostController>> HostController::connect(std::unique_ptr<Link> link,
                                                                const ConnectOptions& options) {
  auto target = MacAddress::parse(options.target_mac);
  if (!target) return target.status();
  if (target->is_multicast() || target->is_zero())
    return Status::error("target MAC " + options.target_mac + " is not a unicast address");
  if (!valid_nqn(options.subnqn)) return Status::error("invalid subsystem NQN '" + options.subnqn + "'");
  ConnectOptions opts = options;
  if (opts.hostnqn.empty()) opts.hostnqn = default_hostnqn();
  if (!valid_nqn(opts.hostnqn)) return Status::error("invalid host NQN '" + opts.hostnqn + "'");
  if (opts.nr_io_queues == 0) return Status::error("the number of I/O queues must be at least 1");
  if (opts.queue_size < 2) return Status::error("the queue size must be at least 2");
  if (!opts.dhchap_secret.empty())
    if (auto k = auth::parse_secret(opts.dhchap_secret); !k)
      return Status::error("--dhchap-secret: " + k.status().message());
  if (!opts.dhchap_ctrl_secret.empty()) {
    if (opts.dhchap_secret.empty())
      return Status::error("--dhchap-ctrl-secret needs --dhchap-secret: the host authenticates first");
    if (auto k = auth::parse_secret(opts.dhchap_ctrl_secret); !k)
      return Status::error("--dhchap-ctrl-secret: " + k.status().message());
  }
  if (link->mtu() < kMinMtu)
    return Status::error("link MTU " + std::to_string(link->mtu()) + " is too small; nvmeoe needs at least " +
                         std::to_string(kMinMtu));
  auto hostid = host_id_for(opts.hostnqn, opts.hostid);
  auto impl = std::make_unique<HostControllerImpl>(std::move(link), opts, *target, hostid);
  Status s = impl->start();
  if (!s.is_ok()) return s;
  return std::unique_ptr<HostController>(std::move(impl));
}

Result<std::unique_ptr<HostController>> HostController::connect(const ConnectOptions& options) {
  auto kind = parse_link_kind(options.link);
  if (!kind) return kind.status();
  auto link = open_link(*kind, options.host_iface, options.ethertype, kMinMtu);
  if (!link) return link.status();
  return connect(std::move(link.value()), options);
}

}  // namespace nvmeoe
