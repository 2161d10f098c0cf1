// Target transport: frames in, Requests to the core, completions back out as frames.
#include "target/target.h"

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <vector>

#include "common/bytes.h"
#include "common/log.h"
#include "link/tx_thread.h"
#include "wire/frame.h"
#include "wire/range_set.h"

namespace nvmeoe {
namespace {

constexpr size_t kRxBatch = 256;
constexpr size_t kTxHeaders = 2048;            // header buffers per loop turn before a forced flush
constexpr size_t kMaxQueues = 4096;            // associations per target, all hosts together
constexpr auto kUnboundQueueIdle = std::chrono::seconds(30);
constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(100);
constexpr int kTerminateRepliesPerSecond = 50;

struct Queue;

struct Slot {
  enum class State { kIdle, kReceiving, kExecuting, kDone };
  State state = State::kIdle;
  bool gen_valid = false;
  uint32_t gen = 0;
  uint32_t total = 0;  // SGL length of the current command
  DataDirection dir = DataDirection::kNone;
  RangeSet received;
  AlignedBuffer buf;
  size_t buf_cap = 0;
  Request req;
  Queue* queue = nullptr;
  Clock::time_point received_at;  // the command's first frame, for the service time
};

struct Queue {
  MacAddress host;
  uint16_t qid = 0;
  uint32_t nonce = 0;
  uint16_t size = 0;
  uint32_t max_payload = 0;
  uint8_t digests = 0;
  ConnectResponse accept;
  std::shared_ptr<Controller> ctrl;
  std::vector<Slot> slots;
  Clock::time_point created;
  bool dead = false;
  size_t executing = 0;
  TargetTransport::Impl* impl = nullptr;
  TargetQueueCounters counters;
  LatencyHistogram service;  // command received to response sent

  uint8_t frame_flags() const {
    return uint8_t(((digests & digest_bits::kHeader) ? frame_flag::kHeaderDigest : 0) |
                   ((digests & digest_bits::kData) ? frame_flag::kDataDigest : 0));
  }
};

using QueueKey = std::tuple<std::array<uint8_t, 6>, uint16_t, uint32_t>;

}  // namespace

// Payload buffers of control frames, reused from batch to batch: once warm, building a response
// allocates nothing. A taken buffer stays valid until reset() (the batch has been sent).
class OwnedPayloads {
 public:
  std::span<uint8_t> take(size_t n) {
    if (used_ == bufs_.size()) bufs_.emplace_back();
    std::vector<uint8_t>& b = bufs_[used_++];
    b.resize(n);
    return {b.data(), n};
  }
  void reset() { used_ = 0; }

 private:
  std::vector<std::vector<uint8_t>> bufs_;
  size_t used_ = 0;
};

struct TargetTransport::Impl {
  TargetCore* core;
  Link* link;
  TargetOptions options;
  int stop_fd = -1;
  std::atomic<bool> stop_requested{false};
  bool stopping = false;
  MacAddress mac;
  uint16_t ethertype;
  uint32_t link_max_payload;
  std::map<QueueKey, std::unique_ptr<Queue>> queues;
  std::vector<std::unique_ptr<Queue>> graveyard;  // dead queues with commands still executing
  TargetStats st;
  // Transmit batch for this loop turn.
  std::vector<std::array<uint8_t, kFrameHeadroom + kDigestSize>> tx_heads;
  std::vector<TxFrame> tx;
  OwnedPayloads tx_owned;  // payloads of the control frames built here (responses, ...)
  // With a TxThread: the batch it is sending (the same three parts, swapped with the ones above).
  // Its frames also point into slot buffers: tx_quiesce() before freeing or reallocating one.
  std::unique_ptr<TxThread> tx_thread;
  std::vector<std::array<uint8_t, kFrameHeadroom + kDigestSize>> tx_heads_sending;
  std::vector<TxFrame> tx_sending;
  OwnedPayloads tx_owned_sending;
  // The subsystems this port (interface) offers; all of them unless the configuration says.
  bool all_subsystems = true;
  std::set<std::string> port_subsystems;
  Clock::time_point terminate_window;
  int terminate_budget = kTerminateRepliesPerSecond;
  // Snapshots for other threads (snapshot()): a request flag and a wake-up through stop_fd; the
  // loop answers between turns under snap_mu.
  mutable std::mutex snap_mu;
  mutable std::condition_variable snap_cv;
  mutable std::atomic<bool> snap_requested{false};
  bool running = false;                     // guarded by snap_mu
  uint64_t snap_wanted = 0, snap_done = 0;  // guarded by snap_mu
  TargetSnapshot snap;                      // guarded by snap_mu

  Impl(TargetCore* c, Link* l, TargetOptions o) : core(c), link(l), options(o) {
    mac = link->local_mac();
    ethertype = link->ethertype();
    link_max_payload = max_payload_for_mtu(link->mtu());
    tx_heads.resize(kTxHeaders);
    tx.reserve(kTxHeaders + 64);
    if (options.tx_thread) {
      tx_heads_sending.resize(kTxHeaders);
      tx_sending.reserve(kTxHeaders + 64);
      tx_thread = std::make_unique<TxThread>(link);
    }
    stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Impl() {
    tx_thread.reset();  // before the slot buffers its batch points into
    if (stop_fd >= 0) close(stop_fd);
  }

  // ---- transmit ----
  void flush_tx() {
    if (tx.empty()) return;
    st.frames_out += tx.size();
    if (tx_thread && tx.size() >= options.tx_thread_min_frames) {
      // Hand this batch over and keep going; the previous one must be out before its buffers
      // (now the ones to fill) are used again. Order on the wire is kept: one batch at a time.
      tx_thread->wait();
      std::swap(tx, tx_sending);
      std::swap(tx_heads, tx_heads_sending);
      std::swap(tx_owned, tx_owned_sending);
      tx_thread->post(tx_sending);
    } else {
      if (tx_thread) tx_thread->wait();  // a small batch goes out inline, after the one in progress
      Status s = link->send(tx);
      if (!s.is_ok()) LOG_WARN("send failed: %s", s.message().c_str());
    }
    tx.clear();
    tx_owned.reset();
  }

  // Every frame queued so far is on the wire: slot buffers may be freed or replaced.
  void tx_quiesce() {
    flush_tx();
    if (tx_thread) tx_thread->wait();
  }

  void queue_frame(const MacAddress& dst, const FrameHeader& h, std::span<const uint8_t> body) {
    if (tx.size() >= kTxHeaders) flush_tx();
    tx.push_back(encode_tx_frame(tx_heads[tx.size()].data(), dst, mac, ethertype, h, body));
  }

  // Room for the payload of a control frame built here, valid until the frame is sent; then
  // queue_owned(). Flushes first when the batch is full, so queue_owned() will not.
  std::span<uint8_t> owned_payload(size_t n) {
    if (tx.size() >= kTxHeaders) flush_tx();
    return tx_owned.take(n);
  }
  void queue_owned(const MacAddress& dst, FrameHeader h, std::span<const uint8_t> payload) {
    h.length = uint16_t(payload.size());
    queue_frame(dst, h, payload);
  }
  // Rare control frames whose payload comes ready-made.
  void queue_owned(const MacAddress& dst, FrameHeader h, const std::vector<uint8_t>& payload) {
    std::span<uint8_t> p = owned_payload(payload.size());
    std::copy(payload.begin(), payload.end(), p.begin());
    queue_owned(dst, h, p);
  }

  FrameHeader header_for(const Queue& q, FrameKind kind) const {
    FrameHeader h;
    h.kind = kind;
    h.flags = q.frame_flags();
    h.qid = q.qid;
    h.cntlid = q.ctrl ? q.ctrl->cntlid() : kNoController;
    h.nonce = q.nonce;
    return h;
  }

  void send_terminate(const MacAddress& dst, uint16_t qid, uint16_t cntlid, uint32_t nonce, TerminateReason why) {
    FrameHeader h;
    h.kind = FrameKind::kTerminate;
    h.qid = qid;
    h.cntlid = cntlid;
    h.nonce = nonce;
    std::vector<uint8_t> p(4, 0);
    put_le16(p.data(), uint16_t(why));
    queue_owned(dst, h, p);
  }

  // Sends [offset, offset+len) of a slot's controller-to-host data as Data frames.
  void send_data(Queue& q, Slot& s, uint32_t offset, uint32_t len) {
    uint32_t end = std::min(offset + len, s.req.data_len);
    for (uint32_t off = offset; off < end;) {
      uint32_t n = std::min(q.max_payload, end - off);
      FrameHeader h = header_for(q, FrameKind::kData);
      h.cid = s.req.sqe.cid;
      h.gen = s.gen;
      h.length = uint16_t(n);
      h.offset = off;
      h.total = s.req.data_len;
      if (off + n == end) h.flags |= frame_flag::kLast;
      queue_frame(q.host, h, std::span<const uint8_t>(s.buf.get() + off, n));
      off += n;
    }
  }

  void send_response(Queue& q, Slot& s) {
    FrameHeader h = header_for(q, FrameKind::kResponse);
    h.cid = s.req.sqe.cid;
    h.gen = s.gen;
    h.total = status_ok(s.req.cqe.status) ? s.req.data_len : 0;
    std::span<uint8_t> p = owned_payload(kCqeSize);
    encode_cqe(s.req.cqe, p.data());
    queue_owned(q.host, h, p);
  }

  void send_result(Queue& q, Slot& s) {
    if (status_ok(s.req.cqe.status) && s.req.data_len) send_data(q, s, 0, s.req.data_len);
    send_response(q, s);
  }

  // ---- queue bookkeeping ----
  void remove_queue(std::map<QueueKey, std::unique_ptr<Queue>>::iterator it) {
    tx_quiesce();  // frames of this queue may still point into its slot buffers
    std::unique_ptr<Queue> q = std::move(it->second);
    queues.erase(it);
    q->dead = true;
    st.associations = queues.size();
    if (q->executing) graveyard.push_back(std::move(q));
  }

  void remove_controller_queues(uint16_t cntlid, TerminateReason why, bool notify) {
    for (auto it = queues.begin(); it != queues.end();) {
      auto next = std::next(it);
      Queue& q = *it->second;
      if (q.ctrl && q.ctrl->cntlid() == cntlid) {
        if (notify) send_terminate(q.host, q.qid, cntlid, q.nonce, why);
        remove_queue(it);
      }
      it = next;
    }
  }

  void reap_graveyard() {
    for (size_t i = 0; i < graveyard.size();) {
      if (graveyard[i]->executing == 0) {
        tx_quiesce();
        graveyard[i] = std::move(graveyard.back());
        graveyard.pop_back();
      } else {
        ++i;
      }
    }
  }

  // ---- receive ----
  void on_frame(std::span<const uint8_t> bytes) {
    ++st.frames_in;
    Frame f;
    DecodeError err = decode_frame(bytes, ethertype, &f);
    if (err != DecodeError::kNone) {
      if (err == DecodeError::kHeaderDigest || err == DecodeError::kDataDigest) ++st.digest_errors;
      ++st.bad_frames;
      LOG_DEBUG("dropped frame (%zu bytes): %s", bytes.size(), decode_error_name(err));
      return;
    }
    if (f.src.is_multicast() || f.src == mac) {
      ++st.bad_frames;
      return;
    }
    if (f.h.kind == FrameKind::kDiscoverQuery) {
      if (f.dst == mac || f.dst.is_broadcast()) on_discover(f);
      return;
    }
    if (f.dst != mac) return;  // not for us (a hub or promiscuous interface)
    switch (f.h.kind) {
      case FrameKind::kConnectRequest: on_connect(f); break;
      case FrameKind::kCommand: on_command(f); break;
      case FrameKind::kData: on_data(f); break;
      case FrameKind::kRetransmitRequest: on_retransmit(f); break;
      case FrameKind::kTerminate: on_terminate(f); break;
      default: ++st.bad_frames; break;  // frames only a host should receive
    }
  }

  // Looks up the association of a frame. Returns null (and counts why) when the frame must be
  // dropped; `*unknown` tells whether the association itself is unknown (worth a Terminate reply)
  // rather than a known one that this frame fails to match.
  Queue* find_queue(const Frame& f, bool* unknown) {
    *unknown = false;
    auto it = queues.find(QueueKey{f.src.b, f.h.qid, f.h.nonce});
    if (it == queues.end()) {
      *unknown = true;
      return nullptr;
    }
    Queue* q = it->second.get();
    // After Fabrics Connect every frame names the controller; on the admin queue a host that has
    // not yet seen the Connect response may still send 0xFFFF (a retransmitted Connect).
    if (q->ctrl && f.h.cntlid != q->ctrl->cntlid() && !(q->qid == 0 && f.h.cntlid == kNoController)) {
      ++st.bad_frames;
      return nullptr;
    }
    // Negotiated digests are mandatory: a frame without them is dropped like a lost one.
    if (((q->digests & digest_bits::kHeader) && !(f.h.flags & frame_flag::kHeaderDigest)) ||
        ((q->digests & digest_bits::kData) && !(f.h.flags & frame_flag::kDataDigest))) {
      ++st.digest_errors;
      ++q->counters.digest_errors;
      return nullptr;
    }
    return q;
  }

  void unknown_association(const Frame& f) {
    ++st.unknown_association;
    auto now = Clock::now();
    if (now - terminate_window > std::chrono::seconds(1)) {
      terminate_window = now;
      terminate_budget = kTerminateRepliesPerSecond;
    }
    if (terminate_budget > 0) {
      --terminate_budget;
      send_terminate(f.src, f.h.qid, f.h.cntlid, f.h.nonce, TerminateReason::kUnknownAssociation);
    }
  }

  void on_connect(const Frame& f) {
    ConnectRequest req;
    auto key = QueueKey{f.src.b, f.h.qid, f.h.nonce};
    auto it = queues.find(key);
    ConnectResponse resp;
    FrameHeader h;
    h.kind = FrameKind::kConnectResponse;
    h.qid = f.h.qid;
    h.cntlid = f.h.cntlid;
    h.nonce = f.h.nonce;
    if (it != queues.end()) {
      resp = it->second->accept;  // a retransmitted request: same answer
    } else if (!decode_connect_request(f.payload, &req) || f.h.nonce == 0 || req.queue_size < 2) {
      resp.result = ConnectResult::kInvalidParameters;
    } else if (stopping || queues.size() >= kMaxQueues) {
      resp.result = ConnectResult::kNoResources;
    } else {
      const TargetLimits& lim = core->limits();
      uint16_t max_size = f.h.qid == 0 ? lim.max_admin_queue_size : lim.max_queue_size;
      resp.queue_size = std::min(req.queue_size, max_size);
      resp.max_payload = std::min(req.max_payload, link_max_payload);
      resp.digests = uint8_t(req.digests & ((options.allow_header_digest ? digest_bits::kHeader : 0) |
                                            (options.allow_data_digest ? digest_bits::kData : 0)));
      resp.max_transfer = lim.max_transfer;
      if (resp.max_payload < kSqeSize + kConnectDataSize) {
        resp = ConnectResponse{};
        resp.result = ConnectResult::kInvalidParameters;
      } else {
        auto q = std::make_unique<Queue>();
        q->host = f.src;
        q->qid = f.h.qid;
        q->nonce = f.h.nonce;
        q->size = resp.queue_size;
        q->max_payload = resp.max_payload;
        q->digests = resp.digests;
        q->accept = resp;
        q->created = Clock::now();
        q->impl = this;
        q->slots.resize(q->size);
        for (auto& s : q->slots) s.queue = q.get();
        LOG_INFO("association from %s queue %u (size %u, %u bytes per frame%s%s)", f.src.str().c_str(), q->qid,
                 q->size, q->max_payload, (q->digests & digest_bits::kHeader) ? ", header digest" : "",
                 (q->digests & digest_bits::kData) ? ", data digest" : "");
        queues.emplace(key, std::move(q));
        st.associations = queues.size();
      }
    }
    std::vector<uint8_t> p(kConnectPayloadSize);
    encode_connect_response(resp, p.data());
    queue_owned(f.src, h, p);
  }

  // Answers a command that cannot start without running it through the core.
  void reject(Queue& q, const Frame& f, uint16_t cid, NvmeStatus status) {
    FrameHeader h = header_for(q, FrameKind::kResponse);
    h.cid = cid;
    h.gen = f.h.gen;
    Cqe cqe;
    cqe.cid = cid;
    cqe.sq_id = q.qid;
    cqe.status = status;
    std::span<uint8_t> p = owned_payload(kCqeSize);
    encode_cqe(cqe, p.data());
    queue_owned(q.host, h, p);
  }

  void on_command(const Frame& f) {
    bool unknown = false;
    Queue* q = find_queue(f, &unknown);
    if (!q) return unknown ? unknown_association(f) : void();
    if (f.payload.size() < kSqeSize) {
      ++st.bad_frames;
      return;
    }
    Sqe sqe = decode_sqe(f.payload.data());
    if (sqe.cid != f.h.cid) {
      ++st.bad_frames;
      return;
    }
    if (sqe.cid >= q->size) return reject(*q, f, sqe.cid, sc::kInvalidField | sc::kDnr);
    Slot& s = q->slots[sqe.cid];
    if (s.gen_valid && f.h.gen == s.gen) {
      // A retransmitted command: answer with where it stands, never run it twice.
      ++st.duplicates;
      ++q->counters.duplicates;
      if (s.state == Slot::State::kDone) {
        send_result(*q, s);
      } else if (s.state == Slot::State::kReceiving) {
        accept_data(*q, s, 0, f.payload.subspan(kSqeSize));
        if (s.state == Slot::State::kReceiving) send_holes(*q, s);
      } else if (s.state == Slot::State::kExecuting) {
        send_holes(*q, s);  // no holes: "have it, working on it"
      }
      return;
    }
    if (s.gen_valid && int32_t(f.h.gen - s.gen) < 0) {
      ++st.stale;
      ++q->counters.stale;
      return;
    }
    if (s.state == Slot::State::kExecuting) {
      // The host gave up on the previous command in this slot while it still runs; the new one
      // waits for its retransmission so the two never overlap.
      ++st.stale;
      ++q->counters.stale;
      return;
    }
    s.gen = f.h.gen;
    s.gen_valid = true;
    s.received_at = Clock::now();
    ++st.commands;
    ++q->counters.commands;
    if (q->qid != 0 && sqe.opcode == io_opcode::kRead)
      ++q->counters.reads;
    else if (q->qid != 0 && sqe.opcode == io_opcode::kWrite)
      ++q->counters.writes;
    else
      ++q->counters.other;
    if (!sgl_valid(sqe)) return finish_early(*q, s, sqe, sc::kSglInvalidDescriptorType | sc::kDnr);
    uint32_t total = sgl_length(sqe);
    DataDirection dir = data_direction(sqe);
    uint32_t limit = std::max<uint32_t>(core->limits().max_transfer, kIdentifySize);
    if (total > limit) return finish_early(*q, s, sqe, sc::kInvalidField | sc::kDnr);
    if (sqe.opcode == admin_opcode::kFabrics && sqe.fctype() == fabrics_type::kConnect) {
      // The Connect must name the queue it travels on, fit the size the handshake granted, and
      // come once per association.
      ConnectCommand cc = decode_connect_command(sqe);
      if (q->ctrl) return finish_early(*q, s, sqe, sc::kCommandSequenceError | sc::kDnr);
      if (cc.qid != q->qid) return finish_early(*q, s, sqe, sc::kConnectInvalidParameters | sc::kDnr, 42);
      if (uint32_t(cc.sqsize) + 1 > q->size) return finish_early(*q, s, sqe, sc::kConnectInvalidParameters | sc::kDnr, 44);
    }
    if (dir == DataDirection::kBidirectional) {
      // No command nvmeoe serves moves data both ways; without data the core judges the opcode.
      if (total) return finish_early(*q, s, sqe, sc::kInvalidField | sc::kDnr);
      dir = DataDirection::kNone;
    }
    if (total > s.buf_cap) {
      tx_quiesce();  // frames queued or being sent may still point into the old buffer
      size_t cap = (size_t(total) + 4095) & ~size_t(4095);
      s.buf = alloc_aligned(cap);
      s.buf_cap = cap;
    }
    s.req = Request{};
    s.req.sqe = sqe;
    s.total = total;
    s.dir = dir;
    s.received.clear();
    s.state = Slot::State::kReceiving;
    if (dir == DataDirection::kHostToController) {
      accept_data(*q, s, 0, f.payload.subspan(kSqeSize));
      // A retransmitted command travels without its data: ask for what is missing.
      if ((f.h.flags & frame_flag::kRetry) && s.state == Slot::State::kReceiving) send_holes(*q, s);
    } else {
      execute(*q, s);
    }
  }

  // Service time: from the command's first frame to its response, for commands that complete.
  static void record_service_time(Queue& q, const Slot& s) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - s.received_at).count();
    q.service.record(uint64_t(ns));
  }

  // Completes a command the transport refuses before the core sees it.
  // `ipo`: for Connect Invalid Parameters, the offset of the bad field in the SQE (IATTR 0).
  void finish_early(Queue& q, Slot& s, const Sqe& sqe, NvmeStatus status, uint16_t ipo = 0) {
    s.req = Request{};
    s.req.sqe = sqe;
    s.req.cqe.dw0 = ipo;
    s.req.cqe.cid = sqe.cid;
    s.req.cqe.sq_id = q.qid;
    s.req.cqe.status = status;
    s.state = Slot::State::kDone;
    record_service_time(q, s);
    send_response(q, s);
  }

  void accept_data(Queue& q, Slot& s, uint32_t offset, std::span<const uint8_t> bytes) {
    if (s.state != Slot::State::kReceiving || s.dir != DataDirection::kHostToController) return;
    if (offset > s.total || bytes.size() > s.total - offset) {
      // More data than the SGL announced: a malformed command, answered rather than left waiting.
      ++st.bad_frames;
      finish_early(q, s, s.req.sqe, sc::kDataSglLengthInvalid | sc::kDnr);
      return;
    }
    if (!bytes.empty()) {
      std::memcpy(s.buf.get() + offset, bytes.data(), bytes.size());
      s.received.add(offset, bytes.size());
    }
    if (s.received.complete(s.total)) execute(q, s);
  }

  void on_data(const Frame& f) {
    bool unknown = false;
    Queue* q = find_queue(f, &unknown);
    if (!q) return unknown ? unknown_association(f) : void();
    if (f.h.cid >= q->size) return;
    Slot& s = q->slots[f.h.cid];
    if (!s.gen_valid || s.gen != f.h.gen || s.state != Slot::State::kReceiving) {
      ++st.stale;
      ++q->counters.stale;
      return;
    }
    accept_data(*q, s, f.h.offset, f.payload);
    // The sender's last frame arrived with holes before it: ask for them at once rather than
    // wait for the host's retransmission timer.
    if ((f.h.flags & frame_flag::kLast) && s.state == Slot::State::kReceiving) send_holes(*q, s);
  }

  // Retransmit Request to the host: the byte ranges of a write still missing (none: the target
  // holds the whole command and is executing it).
  void send_holes(Queue& q, Slot& s) {
    std::vector<ByteRange> ranges;
    if (s.state == Slot::State::kReceiving)
      for (auto& [off, len] : s.received.missing(s.total, (q.max_payload - 4) / 8))
        ranges.push_back({uint32_t(off), uint32_t(len)});
    FrameHeader h = header_for(q, FrameKind::kRetransmitRequest);
    h.cid = s.req.sqe.cid;
    h.gen = s.gen;
    ++q.counters.retransmit_requests;
    queue_owned(q.host, h, encode_retransmit_request(ranges));
  }

  void on_retransmit(const Frame& f) {
    bool unknown = false;
    Queue* q = find_queue(f, &unknown);
    if (!q) return unknown ? unknown_association(f) : void();
    if (f.h.cid >= q->size) return;
    Slot& s = q->slots[f.h.cid];
    std::vector<ByteRange> ranges;
    if (!s.gen_valid || s.gen != f.h.gen || !decode_retransmit_request(f.payload, &ranges)) return;
    if (s.state == Slot::State::kExecuting) return send_holes(*q, s);  // still running: say so
    if (s.state != Slot::State::kDone) return;
    if (status_ok(s.req.cqe.status))
      for (const auto& r : ranges) send_data(*q, s, r.offset, r.length);
    send_response(*q, s);
  }

  void on_terminate(const Frame& f) {
    auto it = queues.find(QueueKey{f.src.b, f.h.qid, f.h.nonce});
    if (it == queues.end()) return;
    std::shared_ptr<Controller> ctrl = it->second->ctrl;
    LOG_INFO("host %s terminated queue %u", f.src.str().c_str(), f.h.qid);
    if (f.h.qid == 0 && ctrl) {
      // The admin queue carries the controller: everything of it goes.
      remove_controller_queues(ctrl->cntlid(), TerminateReason::kHostDisconnect, false);
      core->remove_controller(ctrl->cntlid());
    } else {
      if (ctrl) ctrl->connected_io_queues.erase(f.h.qid);
      remove_queue(it);
    }
  }

  void on_discover(const Frame& f) {
    DiscoverQuery query;
    if (!decode_discover_query(f.payload, &query)) {
      ++st.bad_frames;
      return;
    }
    std::vector<DiscoverEntry> entries;
    for (const auto& sub : core->subsystems()) {
      if (!query.subnqn.empty() && query.subnqn != sub->nqn) continue;
      if (!offers(sub->nqn)) continue;
      if (!sub->allow_any_host && !sub->allowed_hosts.count(query.hostnqn)) continue;
      DiscoverEntry e;
      e.subnqn = sub->nqn;
      e.namespaces = uint16_t(sub->namespaces.size());
      e.read_only = true;
      for (const auto& ns : sub->namespaces) {
        e.capacity_bytes += ns->backend->caps().size_bytes;
        e.read_only = e.read_only && ns->read_only;
      }
      entries.push_back(std::move(e));
    }
    size_t first = 0;
    do {
      std::vector<uint8_t> p;
      size_t n = encode_discover_reply(entries, first, link_max_payload, &p);
      FrameHeader h;
      h.kind = FrameKind::kDiscoverReply;
      h.nonce = f.h.nonce;
      h.offset = uint32_t(first);
      h.total = uint32_t(entries.size());
      queue_owned(f.src, h, p);
      if (n == 0) break;
      first += n;
    } while (first < entries.size());
  }

  bool offers(const std::string& subnqn) const {
    return all_subsystems || subnqn == kDiscoveryNqn || port_subsystems.count(subnqn);
  }

  // ---- execution ----
  void execute(Queue& q, Slot& s) {
    if (!all_subsystems && s.req.sqe.opcode == admin_opcode::kFabrics && s.req.sqe.fctype() == fabrics_type::kConnect &&
        s.total >= kConnectDataSize) {
      // A subsystem is reachable only on the ports that list it: elsewhere it does not exist.
      ConnectData data;
      if (decode_connect_data(s.buf.get(), &data) && !offers(data.subnqn)) {
        const Sqe sqe = s.req.sqe;
        s.req = Request{};
        s.req.sqe = sqe;
        s.req.cqe.dw0 = 0x10100;  // IATTR 1 (connect data), IPO 256 (SUBNQN): as an unknown NQN
        s.req.cqe.cid = sqe.cid;
        s.req.cqe.sq_id = q.qid;
        s.req.cqe.status = sc::kConnectInvalidParameters | sc::kDnr;
        s.state = Slot::State::kDone;
        send_response(q, s);
        return;
      }
    }
    s.state = Slot::State::kExecuting;
    ++q.executing;
    s.req.qid = q.qid;
    s.req.ctrl = q.ctrl;
    s.req.data = std::span<uint8_t>(s.buf.get(), s.total);
    s.req.on_complete = &Impl::on_complete;
    s.req.transport_ctx = &s;
    core->execute(&s.req);
  }

  static void on_complete(Request* req) {
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
    record_service_time(q, s);
    if (req->connected) {
      q.ctrl = req->connected;
      if (q.qid) q.ctrl->connected_io_queues.insert(q.qid);
      LOG_INFO("host %s (%s) connected queue %u to controller %u", q.host.str().c_str(),
               q.ctrl->hostnqn().c_str(), q.qid, q.ctrl->cntlid());
    }
    self.send_result(q, s);
  }

  void housekeeping(Clock::time_point now, const std::vector<uint16_t>& expired) {
    for (uint16_t cntlid : expired) {
      LOG_WARN("controller %u: keep-alive timeout, association torn down", cntlid);
      remove_controller_queues(cntlid, TerminateReason::kKeepAliveTimeout, true);
    }
    // A subsystem this port no longer offers (configuration reload): its controllers here end.
    std::set<uint16_t> withdrawn;
    for (const auto& [key, qp] : queues)
      if (qp->ctrl && !qp->ctrl->dead && qp->ctrl->subsystem() && !offers(qp->ctrl->subsystem()->nqn))
        withdrawn.insert(qp->ctrl->cntlid());
    for (uint16_t cntlid : withdrawn) {
      LOG_INFO("controller %u torn down: its subsystem is no longer offered on this port", cntlid);
      remove_controller_queues(cntlid, TerminateReason::kConfigurationChange, true);
      core->remove_controller(cntlid);
    }
    for (auto it = queues.begin(); it != queues.end();) {
      auto next = std::next(it);
      Queue& q = *it->second;
      bool unbound_idle = !q.ctrl && q.executing == 0 && now - q.created > kUnboundQueueIdle;
      bool orphan = q.ctrl && q.ctrl->dead;
      // A controller the core removed (its subsystem or host left the configuration): tell the host.
      if (orphan) send_terminate(q.host, q.qid, q.ctrl->cntlid(), q.nonce, TerminateReason::kConfigurationChange);
      if (unbound_idle || orphan) remove_queue(it);
      it = next;
    }
    reap_graveyard();
  }

  void terminate_all(TerminateReason why) {
    for (auto it = queues.begin(); it != queues.end();) {
      auto next = std::next(it);
      Queue& q = *it->second;
      send_terminate(q.host, q.qid, q.ctrl ? q.ctrl->cntlid() : kNoController, q.nonce, why);
      if (q.qid == 0 && q.ctrl) core->remove_controller(q.ctrl->cntlid());
      remove_queue(it);
      it = next;
    }
    flush_tx();
  }

  // ---- statistics for other threads ----
  TargetSnapshot build_snapshot() const {
    TargetSnapshot out;
    out.mac = mac.str();
    out.totals = st;
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
        if (s.state == Slot::State::kReceiving || s.state == Slot::State::kExecuting) ++r.in_flight;
      r.counters = q.counters;
      r.service_time = summarize(q.service);
      r.service_buckets = to_buckets(q.service);
      out.queues.push_back(std::move(r));
    }
    return out;
  }

  void answer_snapshot() {
    if (!snap_requested.load(std::memory_order_relaxed) || !snap_requested.exchange(false)) return;
    TargetSnapshot s = build_snapshot();
    std::lock_guard<std::mutex> lock(snap_mu);
    snap = std::move(s);
    snap_done = snap_wanted;
    snap_cv.notify_all();
  }

  void set_running(bool on) {
    std::lock_guard<std::mutex> lock(snap_mu);
    running = on;
    snap_cv.notify_all();
  }
};

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
      if (!p->tx.empty()) return true;
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

TargetTransport::TargetTransport(TargetCore* core, std::unique_ptr<Link> link, TargetOptions options) : core_(core) {
  TargetPort port;
  port.link = std::move(link);
  add_port(std::move(port), options);
}

TargetTransport::TargetTransport(TargetCore* core, std::vector<TargetPort> ports, TargetOptions options) : core_(core) {
  for (auto& p : ports) add_port(std::move(p), options);
}

void TargetTransport::add_port(TargetPort port, const TargetOptions& options) {
  auto m = std::make_unique<Impl>(core_, port.link.get(), options);
  m->all_subsystems = port.all_subsystems;
  m->port_subsystems = std::move(port.subsystems);
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

void TargetTransport::set_port_subsystems(size_t port, bool all, std::set<std::string> subsystems) {
  ports_.at(port)->all_subsystems = all;
  ports_.at(port)->port_subsystems = std::move(subsystems);
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
    sum.associations += st.associations;
  }
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
      poll_fds_.clear();                 // namespaces (backend descriptors) may have changed
      next_housekeeping = Clock::now();  // tear down what the change removed without delay
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
