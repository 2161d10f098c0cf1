// The host initiator: queue handshakes, Fabrics Connect, controller bring-up, command dispatch with
// flow control, data reassembly, retransmission on loss, keep-alive, and orderly disconnect.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "common/bytes.h"
#include "common/log.h"
#include "host/host_queue.h"
#include "host/identity.h"
#include "link/link.h"
#include "nvme/identify.h"
#include "nvmeoe/host.h"
#include "wire/crc32c.h"

namespace nvmeoe {
namespace {

constexpr uint16_t kAdminQueueSize = 32;
constexpr size_t kRxBatch = 256;
constexpr size_t kTxHeaders = 2048;
constexpr auto kConnectRetry = std::chrono::milliseconds(250);
constexpr auto kTick = std::chrono::milliseconds(10);
constexpr int kMaxRetransmits = 8;
constexpr size_t kHeadWithSqe = kFrameHeadroom + kSqeSize;

class HostControllerImpl final : public HostController {
 public:
  HostControllerImpl(std::unique_ptr<Link> link, ConnectOptions opts, MacAddress target)
      : link_(std::move(link)), opts_(std::move(opts)), target_(target) {
    local_ = link_->local_mac();
    ethertype_ = link_->ethertype();
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    tx_heads_.resize(kTxHeaders);
    std::random_device rd;
    rng_.seed((uint64_t(rd()) << 32) ^ rd() ^ uint64_t(HostClock::now().time_since_epoch().count()));
  }

  ~HostControllerImpl() override {
    disconnect();
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  Status start() {
    if (wake_fd_ < 0) return Status::from_errno(errno, "eventfd");
    loop_ = std::thread([this] { run_loop(); });
    return bring_up();
  }

  const ControllerInfo& controller() const override { return info_; }
  const std::vector<NamespaceInfo>& namespaces() const override { return namespaces_; }
  std::string hostnqn() const override { return opts_.hostnqn; }
  std::string target_mac() const override { return target_.str(); }
  std::string local_iface() const override { return link_->name(); }
  uint16_t io_queue_count() const override { return uint16_t(queues_.size() - 1); }
  bool alive() const override { return alive_.load(); }

  std::vector<QueueStats> stats() const override {
    // A fresh snapshot from the loop thread when it runs; the last published one otherwise.
    if (loop_.joinable() && !stop_.load() && std::this_thread::get_id() != loop_id_) {
      auto done = std::make_shared<std::promise<void>>();
      auto fut = done->get_future();
      const_cast<HostControllerImpl*>(this)->post([this, done] {
        const_cast<HostControllerImpl*>(this)->publish_stats();
        done->set_value();
      });
      fut.wait_for(std::chrono::seconds(1));
    }
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_snapshot_;
  }

  void read(uint32_t nsid, uint64_t slba, uint32_t nlb, void* buf, IoCallback cb, uint16_t queue) override {
    rw(io_opcode::kRead, nsid, slba, nlb, static_cast<uint8_t*>(buf), std::move(cb), queue, false);
  }
  void write(uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf, IoCallback cb, uint16_t queue,
             bool fua) override {
    rw(io_opcode::kWrite, nsid, slba, nlb, const_cast<uint8_t*>(static_cast<const uint8_t*>(buf)), std::move(cb),
       queue, fua);
  }
  void flush(uint32_t nsid, IoCallback cb, uint16_t queue) override {
    HostCommand c;
    c.sqe.opcode = io_opcode::kFlush;
    c.sqe.nsid = nsid;
    c.cb = std::move(cb);
    submit(pick_queue(queue), std::move(c));
  }
  void write_zeroes(uint32_t nsid, uint64_t slba, uint32_t nlb, IoCallback cb, uint16_t queue) override {
    HostCommand c;
    if (nlb == 0 || nlb > 65536) return fail_now(std::move(cb), sc::kInvalidField | sc::kDnr);
    c.sqe.opcode = io_opcode::kWriteZeroes;
    c.sqe.nsid = nsid;
    c.sqe.cdw10 = uint32_t(slba);
    c.sqe.cdw11 = uint32_t(slba >> 32);
    c.sqe.cdw12 = nlb - 1;
    c.cb = std::move(cb);
    submit(pick_queue(queue), std::move(c));
  }
  void deallocate(uint32_t nsid, std::vector<DsmRange> ranges, IoCallback cb, uint16_t queue) override {
    if (ranges.empty() || ranges.size() > 256) return fail_now(std::move(cb), sc::kInvalidField | sc::kDnr);
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
  void admin(std::span<const uint8_t> sqe_bytes, std::span<uint8_t> data, IoCallback cb) override {
    if (sqe_bytes.size() != kSqeSize) return fail_now(std::move(cb), sc::kInvalidField | sc::kDnr);
    HostCommand c;
    c.sqe = decode_sqe(sqe_bytes.data());
    c.data = data.data();
    c.len = uint32_t(data.size());
    c.cb = std::move(cb);
    submit(0, std::move(c));
  }

  void disconnect() override {
    if (disconnected_.exchange(true)) return;
    if (loop_.joinable()) {
      if (alive_.load() && info_.cntlid) shutdown_controller();
      post([this] {
        for (size_t i = queues_.size(); i-- > 0;) {
          HostQueue& q = *queues_[i];
          if (q.state == HostQueue::State::kReady) send_terminate(q, TerminateReason::kHostDisconnect);
        }
        flush_tx();
        fail_all(sc::kHostAbortedCommand);
        stop_ = true;
      });
      loop_.join();
    }
    alive_ = false;
  }

 private:
  // ---- bring-up (caller's thread; the loop runs the protocol) ----
  Status bring_up() {
    NVMEOE_RETURN_IF_ERROR(connect_queue(0, kAdminQueueSize));
    Completion r = fabrics_connect(0, kAdminQueueSize);
    if (!r.ok()) return connect_refused(r);
    info_.cntlid = uint16_t(r.dw0);
    alive_ = true;

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
    uint64_t vs = 0;
    NVMEOE_RETURN_IF_ERROR(property_get(prop::kVs, 4, &vs));

    std::vector<uint8_t> id(kIdentifySize);
    NVMEOE_RETURN_IF_ERROR(identify(cns::kController, 0, id.data()));
    IdentifyController ctrl = decode_identify_controller(id.data());
    info_.serial = ctrl.serial;
    info_.model = ctrl.model;
    info_.firmware = ctrl.firmware;
    info_.subnqn = ctrl.subnqn;
    info_.version = uint32_t(vs);
    uint64_t mdts_bytes = ctrl.mdts ? (uint64_t(4096) << ctrl.mdts) : (uint64_t(1) << 31);
    info_.max_transfer = uint32_t(std::min<uint64_t>(mdts_bytes, queues_[0]->accept.max_transfer));

    // Number of queues.
    uint16_t want = std::max<uint16_t>(1, opts_.nr_io_queues);
    Sqe sf;
    sf.opcode = admin_opcode::kSetFeatures;
    sf.cdw10 = feature_id::kNumberOfQueues;
    sf.cdw11 = uint32_t(want - 1) | uint32_t(want - 1) << 16;
    r = admin_wait(sf, nullptr, 0);
    if (!r.ok()) return Status::error("Set Features (Number of Queues) failed: " + status_name(r.status), EIO);
    uint16_t granted = uint16_t(std::min<uint32_t>(r.dw0 & 0xffff, r.dw0 >> 16) + 1);
    uint16_t nq = std::min(want, granted);

    // Namespaces.
    NVMEOE_RETURN_IF_ERROR(identify(cns::kActiveNamespaceList, 0, id.data()));
    for (uint32_t nsid : decode_active_ns_list(id.data())) {
      std::vector<uint8_t> nsbuf(kIdentifySize);
      NVMEOE_RETURN_IF_ERROR(identify(cns::kNamespace, nsid, nsbuf.data()));
      IdentifyNamespace ns = decode_identify_namespace(nsbuf.data());
      NamespaceInfo n;
      n.nsid = nsid;
      n.blocks = ns.nsze;
      n.used_blocks = ns.nuse;
      n.block_size = 1u << ns.lbads;
      n.read_only = ns.write_protected;
      n.nguid = ns.nguid;
      namespaces_.push_back(n);
    }

    // I/O queues.
    for (uint16_t qid = 1; qid <= nq; ++qid) {
      NVMEOE_RETURN_IF_ERROR(connect_queue(qid, opts_.queue_size));
      r = fabrics_connect(qid, queues_[qid]->size);
      if (!r.ok()) return Status::error("I/O queue " + std::to_string(qid) + " refused: " + status_name(r.status), EIO);
    }
    LOG_INFO("connected to %s at %s: controller %u, %zu namespace(s), %u I/O queue(s)", info_.subnqn.c_str(),
             target_.str().c_str(), info_.cntlid, namespaces_.size(), nq);
    return Status::ok();
  }

  Status connect_refused(const Completion& r) {
    std::string what = status_name(r.status);
    if ((r.status & 0x7ff) == sc::kConnectInvalidHost)
      return Status::error("target refused host NQN '" + opts_.hostnqn + "': " + what, EACCES);
    // Connect Invalid Parameters: IPO in bits 15:0, IATTR (1 = connect data) in bit 16.
    if ((r.status & 0x7ff) == sc::kConnectInvalidParameters && (r.dw0 & 0xffff) == 256 && (r.dw0 >> 16 & 1))
      return Status::error("target has no subsystem '" + opts_.subnqn + "': " + what, ENOENT);
    return Status::error("Fabrics Connect failed: " + what, EIO);
  }

  // Transport handshake for one queue; blocks until accepted, refused or timed out.
  Status connect_queue(uint16_t qid, uint16_t size) {
    auto promise = std::make_shared<std::promise<std::string>>();
    auto fut = promise->get_future();
    post([this, qid, size, promise] {
      if (queues_.size() <= qid) queues_.resize(qid + 1);
      queues_[qid] = std::make_unique<HostQueue>();
      HostQueue& q = *queues_[qid];
      q.qid = qid;
      do q.nonce = uint32_t(rng_()); while (q.nonce == 0);
      q.state = HostQueue::State::kConnecting;
      q.size = size;
      q.connect_deadline = HostClock::now() + opts_.connect_timeout;
      q.on_connected = [promise](bool ok, const std::string& why) { promise->set_value(ok ? "" : why); };
      send_connect_request(q);
    });
    std::string err = fut.get();
    if (!err.empty()) return Status::error(err, err.find("no answer") != std::string::npos ? ETIMEDOUT : ECONNREFUSED);
    return Status::ok();
  }

  Completion fabrics_connect(uint16_t qid, uint16_t size) {
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
    return wait_for(qid, s, buf->data(), uint32_t(buf->size()), buf);
  }

  Status property_get(uint32_t offset, int bytes, uint64_t* out) {
    Sqe s;
    s.opcode = admin_opcode::kFabrics;
    s.nsid = fabrics_type::kPropertyGet;
    s.cdw10 = bytes == 8 ? 1 : 0;
    s.cdw11 = offset;
    Completion r = admin_wait(s, nullptr, 0);
    if (!r.ok()) return Status::error("Property Get failed: " + status_name(r.status), EIO);
    *out = r.dw0 | (uint64_t(last_dw1_) << 32);
    return Status::ok();
  }

  Status property_set(uint32_t offset, uint32_t value) {
    Sqe s;
    s.opcode = admin_opcode::kFabrics;
    s.nsid = fabrics_type::kPropertySet;
    s.cdw10 = 0;
    s.cdw11 = offset;
    s.cdw12 = value;
    Completion r = admin_wait(s, nullptr, 0);
    if (!r.ok()) return Status::error("Property Set failed: " + status_name(r.status), EIO);
    return Status::ok();
  }

  Status identify(uint8_t cns_value, uint32_t nsid, uint8_t* out) {
    Sqe s;
    s.opcode = admin_opcode::kIdentify;
    s.nsid = nsid;
    s.cdw10 = cns_value;
    Completion r = admin_wait(s, out, kIdentifySize);
    if (!r.ok()) return Status::error("Identify (CNS " + std::to_string(cns_value) + ") failed: " + status_name(r.status), EIO);
    return Status::ok();
  }

  Completion admin_wait(const Sqe& s, uint8_t* data, uint32_t len) { return wait_for(0, s, data, len, nullptr); }

  Completion wait_for(uint16_t qid, const Sqe& s, uint8_t* data, uint32_t len, std::shared_ptr<void> keep) {
    auto promise = std::make_shared<std::promise<Completion>>();
    auto fut = promise->get_future();
    HostCommand c;
    c.sqe = s;
    c.data = data;
    c.len = len;
    c.cb = [promise, keep](const Completion& r) { promise->set_value(r); };
    submit(qid, std::move(c));
    return fut.get();
  }

  void shutdown_controller() {
    // CC.SHN = normal shutdown, then wait (bounded) for CSTS.SHST = complete.
    uint32_t cc = prop::kCcEnable | (6u << 16) | (4u << 20) | (1u << prop::kCcShnShift);
    if (!property_set(prop::kCc, cc).is_ok()) return;
    auto until = HostClock::now() + std::chrono::seconds(5);
    while (HostClock::now() < until && alive_.load()) {
      uint64_t csts = 0;
      if (!property_get(prop::kCsts, 4, &csts).is_ok()) return;
      if ((csts & 0xc) == prop::kCstsShstComplete) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // ---- submission (any thread) ----
  uint16_t pick_queue(uint16_t queue) {
    uint16_t n = uint16_t(queues_.size() - 1);
    if (n == 0) return 0;
    if (queue >= 1 && queue <= n) return queue;
    return uint16_t(1 + (rr_.fetch_add(1, std::memory_order_relaxed) % n));
  }

  void rw(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb, uint8_t* buf, IoCallback cb, uint16_t queue,
          bool fua) {
    uint64_t bytes = uint64_t(nlb) * kLbaSize;
    if (nlb == 0 || nlb > 65536 || bytes > info_.max_transfer) return fail_now(std::move(cb), sc::kInvalidField | sc::kDnr);
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

  void fail_now(IoCallback cb, NvmeStatus status) {
    Completion r;
    r.status = status;
    cb(r);
  }

  void submit(uint16_t qid, HostCommand c) {
    if (std::this_thread::get_id() == loop_id_) {
      dispatch(qid, std::move(c));
      return;
    }
    auto holder = std::make_shared<HostCommand>(std::move(c));
    post([this, qid, holder] { dispatch(qid, std::move(*holder)); });
  }

  void post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(post_mu_);
      posted_.push_back(std::move(fn));
    }
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  // ---- loop thread ----
  void dispatch(uint16_t qid, HostCommand c) {
    if (stop_ || qid >= queues_.size() || !queues_[qid] || queues_[qid]->state != HostQueue::State::kReady ||
        (!alive_.load() && info_.cntlid)) {
      Completion r;
      r.status = sc::kHostAbortedCommand;
      c.cb(r);
      return;
    }
    HostQueue& q = *queues_[qid];
    if (q.free_cids.empty()) {
      q.waiting.push_back(std::move(c));
      return;
    }
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
    ++q.stats.commands;
    ++q.stats.in_flight;
    send_command(q, s);
  }

  HostClock::duration rto(const HostQueue& q) const {
    auto floor = std::chrono::duration_cast<HostClock::duration>(opts_.retransmit_timeout);
    if (!q.have_rtt) return floor;
    auto est = std::chrono::microseconds(int64_t(q.srtt_us + 4 * q.rttvar_us));
    return std::max<HostClock::duration>(floor, est);
  }

  FrameHeader header_for(const HostQueue& q, FrameKind kind) const {
    FrameHeader h;
    h.kind = kind;
    h.flags = q.frame_flags();
    h.qid = q.qid;
    h.cntlid = (info_.cntlid && (q.qid != 0 || alive_.load())) ? info_.cntlid : kNoController;
    h.nonce = q.nonce;
    return h;
  }

  void send_command(HostQueue& q, HostSlot& s) {
    const uint32_t len = s.cmd.len;
    bool h2c = s.dir == DataDirection::kHostToController && len;
    uint32_t in_capsule = h2c ? std::min<uint32_t>(len, q.max_payload - kSqeSize) : 0;
    FrameHeader h = header_for(q, FrameKind::kCommand);
    h.cid = s.cmd.sqe.cid;
    h.gen = s.gen;
    h.total = len;
    h.length = uint16_t(kSqeSize + in_capsule);
    if (tx_.size() >= kTxHeaders) flush_tx();
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
    if (h2c) send_data(q, s, in_capsule, len - in_capsule);
  }

  void send_data(HostQueue& q, HostSlot& s, uint32_t offset, uint32_t len) {
    uint32_t end = std::min(offset + len, s.cmd.len);
    for (uint32_t off = offset; off < end;) {
      uint32_t n = std::min(q.max_payload, end - off);
      FrameHeader h = header_for(q, FrameKind::kData);
      h.cid = s.cmd.sqe.cid;
      h.gen = s.gen;
      h.length = uint16_t(n);
      h.offset = off;
      h.total = s.cmd.len;
      if (off + n == end) h.flags |= frame_flag::kLast;
      queue_frame(h, std::span<const uint8_t>(s.cmd.data + off, n));
      off += n;
    }
  }

  void queue_frame(const FrameHeader& h, std::span<const uint8_t> body) {
    if (tx_.size() >= kTxHeaders) flush_tx();
    auto& head = tx_heads_[tx_.size()];
    encode_headers(head.data(), target_, local_, ethertype_, h);
    TxFrame f;
    f.head = std::span<const uint8_t>(head.data(), kFrameHeadroom);
    f.body = body;
    if (h.flags & frame_flag::kDataDigest) {
      encode_data_digest(body, head.data() + kFrameHeadroom);
      f.tail = std::span<const uint8_t>(head.data() + kFrameHeadroom, kDigestSize);
    }
    tx_.push_back(f);
  }

  void queue_owned(FrameHeader h, std::vector<uint8_t> payload) {
    if (tx_.size() >= kTxHeaders) flush_tx();
    h.length = uint16_t(payload.size());
    owned_.push_back(std::move(payload));
    queue_frame(h, owned_.back());
  }

  void flush_tx() {
    if (tx_.empty()) return;
    Status s = link_->send(tx_);
    if (!s.is_ok()) LOG_WARN("send failed: %s", s.message().c_str());
    tx_.clear();
    owned_.clear();
  }

  void send_connect_request(HostQueue& q) {
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

  void send_terminate(HostQueue& q, TerminateReason why) {
    FrameHeader h = header_for(q, FrameKind::kTerminate);
    h.flags = 0;
    std::vector<uint8_t> p(4, 0);
    put_le16(p.data(), uint16_t(why));
    queue_owned(h, std::move(p));
    q.state = HostQueue::State::kIdle;
  }

  void on_frame(std::span<const uint8_t> bytes) {
    Frame f;
    DecodeError err = decode_frame(bytes, ethertype_, &f);
    if (err != DecodeError::kNone) {
      LOG_DEBUG("dropped frame: %s", decode_error_name(err));
      return;
    }
    if (f.dst != local_ || f.src != target_) return;
    if (f.h.qid >= queues_.size() || !queues_[f.h.qid]) return;
    HostQueue& q = *queues_[f.h.qid];
    if (f.h.nonce != q.nonce) return;  // an older association of this queue
    switch (f.h.kind) {
      case FrameKind::kConnectResponse: on_connect_response(q, f); break;
      case FrameKind::kResponse: on_response(q, f); break;
      case FrameKind::kData: on_data(q, f); break;
      case FrameKind::kTerminate: on_terminate(q, f); break;
      default: break;
    }
  }

  void on_connect_response(HostQueue& q, const Frame& f) {
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

  bool valid_slot(HostQueue& q, const Frame& f) {
    return f.h.cid < q.slots.size() && q.slots[f.h.cid].busy && q.slots[f.h.cid].gen == f.h.gen;
  }

  void on_response(HostQueue& q, const Frame& f) {
    if (!valid_slot(q, f) || f.payload.size() < kCqeSize) return;
    HostSlot& s = q.slots[f.h.cid];
    s.cqe = decode_cqe(f.payload.data());
    s.have_response = true;
    s.expect = std::min(f.h.total, s.cmd.len);
    try_complete(q, s);
  }

  void on_data(HostQueue& q, const Frame& f) {
    if (!valid_slot(q, f)) return;
    HostSlot& s = q.slots[f.h.cid];
    if (s.dir != DataDirection::kControllerToHost) return;
    if (f.h.offset > s.cmd.len || f.payload.size() > s.cmd.len - f.h.offset) return;
    std::memcpy(s.cmd.data + f.h.offset, f.payload.data(), f.payload.size());
    s.received.add(f.h.offset, f.payload.size());
    if (s.have_response) try_complete(q, s);
  }

  void try_complete(HostQueue& q, HostSlot& s) {
    bool ok = status_ok(s.cqe.status);
    if (ok && s.dir == DataDirection::kControllerToHost && !s.received.complete(s.expect)) {
      request_missing(q, s);
      return;
    }
    if (!s.retransmitted) {
      auto us = std::chrono::duration<double, std::micro>(HostClock::now() - s.sent_at).count();
      q.add_rtt_sample(us);
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

  // The response came but some data did not: ask for just the holes.
  void request_missing(HostQueue& q, HostSlot& s) {
    auto holes = s.received.missing(s.expect, (q.max_payload - 4) / 8);
    std::vector<ByteRange> ranges;
    for (auto& [off, len] : holes) ranges.push_back({uint32_t(off), uint32_t(len)});
    FrameHeader h = header_for(q, FrameKind::kRetransmitRequest);
    h.cid = s.cmd.sqe.cid;
    h.gen = s.gen;
    queue_owned(h, encode_retransmit_request(ranges));
    s.rto_at = HostClock::now() + rto(q);
  }

  void finish(HostQueue& q, HostSlot& s, const Completion& r) {
    IoCallback cb = std::move(s.cmd.cb);
    s.busy = false;
    --q.stats.in_flight;
    q.free_cids.push_back(s.cmd.sqe.cid);
    if (cb) cb(r);
    if (!q.waiting.empty() && !q.free_cids.empty() && q.state == HostQueue::State::kReady) {
      HostCommand next = std::move(q.waiting.front());
      q.waiting.pop_front();
      dispatch(q.qid, std::move(next));
    }
  }

  void on_terminate(HostQueue& q, const Frame& f) {
    uint16_t reason = f.payload.size() >= 2 ? get_le16(f.payload.data()) : 0;
    LOG_WARN("target terminated queue %u: %s", q.qid, terminate_reason_name(TerminateReason(reason)));
    lose_association();
  }

  void lose_association() {
    if (!alive_.exchange(false) && info_.cntlid) return;
    for (auto& qp : queues_)
      if (qp) qp->state = HostQueue::State::kFailed;
    fail_all(sc::kHostAbortedCommand);
  }

  void fail_all(NvmeStatus status) {
    for (auto& qp : queues_) {
      if (!qp) continue;
      HostQueue& q = *qp;
      for (auto& s : q.slots)
        if (s.busy) {
          Completion r;
          r.status = status;
          IoCallback cb = std::move(s.cmd.cb);
          s.busy = false;
          --q.stats.in_flight;
          q.free_cids.push_back(s.cmd.sqe.cid);
          if (cb) cb(r);
        }
      while (!q.waiting.empty()) {
        HostCommand c = std::move(q.waiting.front());
        q.waiting.pop_front();
        Completion r;
        r.status = status;
        if (c.cb) c.cb(r);
      }
      if (q.on_connected) {
        auto done = std::move(q.on_connected);
        done(false, "disconnected");
      }
    }
  }

  void check_timers(HostClock::time_point now) {
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
        if (now >= s.deadline || s.retries >= kMaxRetransmits) {
          ++q.stats.timeouts;
          LOG_WARN("queue %u: %s (cid %u) timed out after %d retransmissions", q.qid,
                   opcode_name(s.cmd.sqe.opcode, q.qid == 0, s.cmd.sqe.fctype()).c_str(), s.cmd.sqe.cid, s.retries);
          Completion r;
          r.status = sc::kHostAbortedCommand;
          finish(q, s, r);
          if (q.qid == 0 && s.cmd.sqe.opcode == admin_opcode::kKeepAlive) lose_association();
          continue;
        }
        ++s.retries;
        ++q.stats.retransmits;
        s.retransmitted = true;
        if (s.have_response) request_missing(q, s);
        else send_command(q, s);
        auto backoff = rto(q) * (1 << std::min(s.retries, 5));
        s.rto_at = now + std::min<HostClock::duration>(backoff, std::chrono::seconds(5));
      }
    }
    // Keep-alive at KATO/2, as nvme-cli hosts do.
    if (opts_.kato_ms && alive_.load() && !keep_alive_pending_ && now >= next_keep_alive_) {
      keep_alive_pending_ = true;
      next_keep_alive_ = now + std::chrono::milliseconds(opts_.kato_ms / 2);
      HostCommand c;
      c.sqe.opcode = admin_opcode::kKeepAlive;
      c.cb = [this](const Completion& r) {
        keep_alive_pending_ = false;
        if (!r.ok() && r.status != sc::kHostAbortedCommand) LOG_WARN("keep alive failed: %s", status_name(r.status).c_str());
      };
      dispatch(0, std::move(c));
    }
  }

  void publish_stats() {
    std::vector<QueueStats> snap;
    for (auto& qp : queues_)
      if (qp) snap.push_back(qp->stats);
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_snapshot_ = std::move(snap);
  }

  void run_loop() {
    loop_id_ = std::this_thread::get_id();
    next_keep_alive_ = HostClock::now() + std::chrono::milliseconds(opts_.kato_ms / 2);
    auto next_tick = HostClock::now();
    auto next_stats = HostClock::now();
    std::vector<std::function<void()>> work;
    while (!stop_) {
      pollfd fds[2] = {{link_->wait_fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      poll(fds, 2, int(kTick.count()));
      if (fds[1].revents & POLLIN) {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof v);
      }
      {
        std::lock_guard<std::mutex> lock(post_mu_);
        work.swap(posted_);
      }
      for (auto& fn : work) fn();
      work.clear();
      for (int i = 0; i < 16; ++i)
        if (!link_->receive([this](std::span<const uint8_t> fr) { on_frame(fr); }, kRxBatch)) break;
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

  std::unique_ptr<Link> link_;
  ConnectOptions opts_;
  MacAddress target_, local_;
  uint16_t ethertype_ = kDefaultEtherType;
  std::array<uint8_t, 16> hostid_{};
  ControllerInfo info_;
  std::vector<NamespaceInfo> namespaces_;
  std::vector<std::unique_ptr<HostQueue>> queues_;
  std::thread loop_;
  std::thread::id loop_id_;
  int wake_fd_ = -1;
  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> stop_{false}, alive_{false}, disconnected_{false};
  std::atomic<uint32_t> rr_{0};
  uint32_t last_dw1_ = 0;
  bool keep_alive_pending_ = false;
  HostClock::time_point next_keep_alive_;
  std::vector<std::array<uint8_t, kHeadWithSqe + kDigestSize>> tx_heads_;
  std::vector<TxFrame> tx_;
  std::vector<std::vector<uint8_t>> owned_;
  std::mt19937_64 rng_;
  mutable std::mutex stats_mu_;
  std::vector<QueueStats> stats_snapshot_;

 public:
  void set_hostid(const std::array<uint8_t, 16>& id) { hostid_ = id; }
};

}  // namespace

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
  if (link->mtu() < kMinMtu)
    return Status::error("link MTU " + std::to_string(link->mtu()) + " is too small; nvmeoe needs at least " +
                         std::to_string(kMinMtu));
  auto impl = std::make_unique<HostControllerImpl>(std::move(link), opts, *target);
  impl->set_hostid(host_id_for(opts.hostnqn, opts.hostid));
  Status s = impl->start();
  if (!s.is_ok()) return s;
  return std::unique_ptr<HostController>(std::move(impl));
}

Result<std::unique_ptr<HostController>> HostController::connect(const ConnectOptions& options) {
  auto link = open_packet_link(options.host_iface, options.ethertype, kMinMtu);
  if (!link) return link.status();
  return connect(std::move(link.value()), options);
}

}  // namespace nvmeoe
