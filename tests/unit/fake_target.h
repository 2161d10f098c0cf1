// A scripted target for host tests: it speaks enough of the protocol (queue handshakes, Fabrics
// Connect, Property Get/Set, Identify, Set Features, Keep Alive, Read, Write, Flush) to bring a
// HostController up over a memory link, and lets a test change what it answers: the handshake
// grant, Identify data, the namespace list, the queue grant, the length of read data, and the
// order of frames. It checks nothing it is sent beyond what it needs to answer: the host under
// test is what is being checked. Runs its own thread.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "link/link.h"
#include "nvme/identify.h"
#include "nvme/spec.h"
#include "wire/frame.h"

namespace nvmeoe {

struct FakeScript {
  std::string subnqn = "nqn.2026-11.io.nvmeoe:fake";
  // Changes the grant of each Connect Request (queue `qid`) before it is sent.
  std::function<void(uint16_t qid, ConnectResponse*)> grant;
  // Changes the 4096 bytes of Identify Controller / Identify Namespace before they are sent.
  std::function<void(uint8_t*)> identify_controller;
  std::function<void(uint32_t nsid, uint8_t*)> identify_namespace;
  std::vector<uint32_t> nsids = {1};
  uint64_t blocks = 2048;
  // Set Features (Number of Queues) completion dword 0; unset: what was asked.
  std::optional<uint32_t> queues_dw0;
  // Answers the admin Fabrics Connect with a Retransmit Request for its whole data followed, in
  // the same batch, by the response.
  bool retransmit_connect_data = false;
  // Reads return this many data bytes (and say so in the response) instead of all; 0: all.
  uint32_t short_read_bytes = 0;
};

class FakeTarget {
 public:
  FakeTarget(std::unique_ptr<Link> link, FakeScript script) : link_(std::move(link)), script_(std::move(script)) {
    thread_ = std::thread([this] { run(); });
  }
  ~FakeTarget() {
    stop_ = true;
    thread_.join();
  }

  // Payloads of the Data frames the host sent for the admin Fabrics Connect (after a Retransmit
  // Request), in arrival order.
  std::vector<std::vector<uint8_t>> connect_data_resent() {
    std::lock_guard<std::mutex> lock(mu_);
    return connect_resent_;
  }

 private:
  struct QueueState {
    uint32_t nonce = 0;
    uint32_t max_frame = 0;
    bool data_digest = false;
    // The command waiting for its data, by CID.
    struct Pending {
      Sqe sqe;
      uint32_t gen = 0;
      std::vector<uint8_t> data;
      uint32_t received = 0;
    };
    std::map<uint16_t, Pending> pending;
  };

  void run() {
    while (!stop_) {
      pollfd p{link_->wait_fd(), POLLIN, 0};
      ::poll(&p, 1, 5);
      link_->receive([this](std::span<const uint8_t> fr) { on_frame(fr); }, 256);
      if (!out_.empty()) {
        TxFrameList tx;
        for (const auto& f : out_) tx.add(f);
        (void)link_->send(tx.frames());
        out_.clear();
      }
    }
  }

  // One frame of one segment, with a data digest when the queue negotiated one.
  void send(MacAddress dst, uint16_t qid, uint16_t cntlid, const SegmentHeader& h, std::span<const uint8_t> meta,
            std::span<const uint8_t> data = {}) {
    QueueState& q = queues_[qid];
    out_.push_back(build_frame(dst, link_->local_mac(), link_->ethertype(), FrameAddress{qid, cntlid, q.nonce}, h, meta,
                               data, q.data_digest && !kind_stands_alone(h.kind)));
  }

  static SegmentHeader seg(FrameKind kind, uint16_t cid = 0, uint32_t gen = 0) {
    SegmentHeader h;
    h.kind = kind;
    h.cid = cid;
    h.gen = gen;
    return h;
  }

  void on_frame(std::span<const uint8_t> bytes) {
    Frame f;
    if (decode_frame(bytes, link_->ethertype(), &f) != DecodeError::kNone) return;
    host_ = f.src;
    for (const Segment& g : f.segments()) on_segment(f, g);
  }

  void on_segment(const Frame& f, const Segment& g) {
    const uint16_t qid = f.a.qid;
    switch (g.h.kind) {
      case FrameKind::kConnectRequest: {
        ConnectRequest req;
        if (!decode_connect_request(g.meta, &req)) return;
        ConnectResponse r;
        r.queue_size = req.queue_size;
        r.max_frame = req.max_frame;
        r.digests = req.digests;
        r.max_transfer = 1u << 20;
        if (script_.grant) script_.grant(qid, &r);
        QueueState& q = queues_[qid];
        q = QueueState{};
        q.nonce = f.a.nonce;
        q.max_frame = r.max_frame;
        std::vector<uint8_t> p(kConnectMetaSize);
        encode_connect_response(r, p.data());
        send(f.src, qid, f.a.cntlid, seg(FrameKind::kConnectResponse), p);
        q.data_digest = r.digests & digest_bits::kData;
        return;
      }
      case FrameKind::kCommand: {
        QueueState& q = queues_[qid];
        QueueState::Pending c;
        c.sqe = decode_sqe(g.meta.data());
        c.gen = g.h.gen;
        if (data_direction(c.sqe) == DataDirection::kHostToController) {
          c.data.assign(sgl_length(c.sqe), 0);
          size_t n = std::min(c.data.size(), g.data.size());
          if (n) std::memcpy(c.data.data(), g.data.data(), n);
          c.received = uint32_t(n);
        }
        if (c.received < c.data.size()) {
          q.pending[c.sqe.cid] = std::move(c);
          return;
        }
        execute(qid, c);
        return;
      }
      case FrameKind::kData: {
        QueueState& q = queues_[qid];
        if (qid == 0 && connect_answered_) {
          std::lock_guard<std::mutex> lock(mu_);
          connect_resent_.emplace_back(g.data.begin(), g.data.end());
          return;
        }
        auto it = q.pending.find(g.h.cid);
        if (it == q.pending.end() || g.h.offset + g.data.size() > it->second.data.size()) return;
        if (!g.data.empty()) std::memcpy(it->second.data.data() + g.h.offset, g.data.data(), g.data.size());
        it->second.received += uint32_t(g.data.size());
        if (it->second.received >= it->second.data.size()) {
          QueueState::Pending c = std::move(it->second);
          q.pending.erase(it);
          execute(qid, c);
        }
        return;
      }
      default:
        return;
    }
  }

  void respond(uint16_t qid, const QueueState::Pending& c, uint16_t status, uint32_t dw0 = 0, uint32_t dw1 = 0,
               const std::vector<uint8_t>& data = {}, uint32_t announced = UINT32_MAX) {
    QueueState& q = queues_[qid];
    uint32_t per_frame = q.max_frame ? max_data_per_frame(std::min<uint32_t>(q.max_frame, link_->mtu())) : 1024;
    if (per_frame == 0) per_frame = 1024;
    for (uint32_t off = 0; off < data.size(); off += per_frame) {
      SegmentHeader h = seg(FrameKind::kData, c.sqe.cid, c.gen);
      h.offset = off;
      h.total = uint32_t(data.size());
      uint32_t n = std::min<uint32_t>(per_frame, uint32_t(data.size()) - off);
      send(host_, qid, kCntlid, h, {}, std::span<const uint8_t>(data.data() + off, n));
    }
    SegmentHeader h = seg(FrameKind::kResponse, c.sqe.cid, c.gen);
    h.total = announced == UINT32_MAX ? uint32_t(data.size()) : announced;
    Cqe cqe;
    cqe.cid = c.sqe.cid;
    cqe.sq_id = qid;
    cqe.status = status;
    cqe.dw0 = dw0;
    cqe.dw1 = dw1;
    std::vector<uint8_t> p(kCqeSize);
    encode_cqe(cqe, p.data());
    send(host_, qid, kCntlid, h, p);
  }

  void execute(uint16_t qid, const QueueState::Pending& c) {
    const Sqe& s = c.sqe;
    if (qid == 0 || s.opcode == admin_opcode::kFabrics) {
      switch (s.opcode) {
        case admin_opcode::kFabrics:
          if (s.fctype() == fabrics_type::kConnect) {
            if (qid == 0 && script_.retransmit_connect_data && !connect_answered_) {
              connect_answered_ = true;
              send(host_, qid, kCntlid, seg(FrameKind::kRetransmitRequest, s.cid, c.gen),
                   encode_retransmit_request({{0, uint32_t(kConnectDataSize)}}));
            }
            return respond(qid, c, 0, kCntlid);
          }
          if (s.fctype() == fabrics_type::kPropertySet) {
            if (s.cdw11 == prop::kCc) cc_ = s.cdw12;
            return respond(qid, c, 0);
          }
          if (s.fctype() == fabrics_type::kPropertyGet) {
            uint64_t v = 0;
            if (s.cdw11 == prop::kCap) v = 1023 | (1ull << 16) | (1ull << 24) | (1ull << 37);
            if (s.cdw11 == prop::kVs) v = prop::kVersion20;
            if (s.cdw11 == prop::kCsts) {
              v = (cc_ & prop::kCcEnable) ? prop::kCstsReady : 0;
              if (cc_ & (3u << prop::kCcShnShift)) v |= prop::kCstsShstComplete;  // nothing to flush
            }
            if (s.cdw11 == prop::kCc) v = cc_;
            return respond(qid, c, 0, uint32_t(v), uint32_t(v >> 32));
          }
          return respond(qid, c, sc::kInvalidOpcode | sc::kDnr);
        case admin_opcode::kIdentify: {
          std::vector<uint8_t> id(kIdentifySize);
          uint8_t cns_value = uint8_t(s.cdw10 & 0xff);
          if (cns_value == cns::kController) {
            IdentifyController ic;
            ic.serial = "fake0001";
            ic.model = "fake target";
            ic.firmware = "1.0";
            ic.mdts = 8;
            ic.cntlid = kCntlid;
            ic.subnqn = script_.subnqn;
            ic.nn = script_.nsids.empty() ? 0 : script_.nsids.back();
            encode_identify_controller(ic, id.data());
            if (script_.identify_controller) script_.identify_controller(id.data());
          } else if (cns_value == cns::kActiveNamespaceList) {
            encode_active_ns_list(script_.nsids, s.nsid, id.data());
          } else if (cns_value == cns::kNamespace) {
            IdentifyNamespace in;
            in.nsze = in.ncap = in.nuse = script_.blocks;
            encode_identify_namespace(in, id.data());
            if (script_.identify_namespace) script_.identify_namespace(s.nsid, id.data());
          } else {
            return respond(qid, c, sc::kInvalidField | sc::kDnr);
          }
          return respond(qid, c, 0, 0, 0, id);
        }
        case admin_opcode::kSetFeatures: {
          uint32_t dw0 = script_.queues_dw0 ? *script_.queues_dw0 : s.cdw11;
          return respond(qid, c, 0, dw0);
        }
        case admin_opcode::kKeepAlive:
          return respond(qid, c, 0);
        default:
          return respond(qid, c, sc::kInvalidOpcode | sc::kDnr);
      }
    }
    if (s.opcode == io_opcode::kRead) {
      uint32_t bytes = ((s.cdw12 & 0xffff) + 1) * kLbaSize;
      if (script_.short_read_bytes) bytes = std::min(bytes, script_.short_read_bytes);
      std::vector<uint8_t> data(bytes, 0xa5);
      return respond(qid, c, 0, 0, 0, data);
    }
    respond(qid, c, 0);  // Write, Flush, ...: done
  }

  static constexpr uint16_t kCntlid = 1;
  std::unique_ptr<Link> link_;
  FakeScript script_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  // Thread of the fake target only:
  MacAddress host_;
  std::map<uint16_t, QueueState> queues_;
  std::vector<std::vector<uint8_t>> out_;
  uint32_t cc_ = 0;
  bool connect_answered_ = false;
  std::mutex mu_;
  std::vector<std::vector<uint8_t>> connect_resent_;  // guarded by mu_
};

// A host-side link that delivers a Retransmit Request only together with the frame after it, so
// both land in one receive batch of the host (as they can on a real network).
class BatchingLink final : public Link {
 public:
  explicit BatchingLink(std::unique_ptr<Link> inner) : inner_(std::move(inner)) {}
  MacAddress local_mac() const override { return inner_->local_mac(); }
  uint32_t mtu() const override { return inner_->mtu(); }
  uint16_t ethertype() const override { return inner_->ethertype(); }
  std::string name() const override { return inner_->name(); }
  int wait_fd() const override { return inner_->wait_fd(); }
  Counters counters() const override { return inner_->counters(); }
  Status send(std::span<const TxFrame> frames) override { return inner_->send(frames); }
  size_t receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) override {
    inner_->receive([this](std::span<const uint8_t> fr) { held_.emplace_back(fr.begin(), fr.end()); }, 256);
    if (held_.empty()) return 0;
    bool is_retransmit_request = first_kind(held_.back()) == FrameKind::kRetransmitRequest;
    if (is_retransmit_request && ++waits_ < 200) return 0;  // wait (bounded) for its companion
    waits_ = 0;
    size_t n = 0;
    bool had_request = false;
    while (!held_.empty() && n < max) {
      std::vector<uint8_t> f = std::move(held_.front());
      held_.erase(held_.begin());
      had_request = had_request || first_kind(f) == FrameKind::kRetransmitRequest;
      sink(std::span<const uint8_t>(f.data(), f.size()));
      ++n;
    }
    // The batch's completions have run: give their callers time to drop their buffers before
    // the host sends what it queued (the window a real network leaves open at random).
    if (had_request) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    return n;
  }

 private:
  static FrameKind first_kind(const std::vector<uint8_t>& f) {
    constexpr size_t at = kEthHeaderSize + kFrameHeaderSize + seg::kKind;
    return f.size() > at ? FrameKind(f[at]) : FrameKind(0);
  }
  std::unique_ptr<Link> inner_;
  std::vector<std::vector<uint8_t>> held_;
  int waits_ = 0;
};

}  // namespace nvmeoe
