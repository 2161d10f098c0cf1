// The target transport's receive side: a frame is checked once, its association looked up once,
// and its segments run in order through the handlers (docs/PROTOCOL.md §3.3, §7, §9.3).
#include "target/target_impl.h"

namespace nvmeoe {

void TargetTransport::Impl::on_frame(std::span<const uint8_t> bytes) {
  ++st.frames_in;
  Frame f;
  DecodeError err = decode_frame(bytes, ethertype, &f);
  if (err != DecodeError::kNone) {
    if (err == DecodeError::kWrongVersion) return on_other_version(bytes);
    if (is_digest_error(err)) ++st.digest_errors;
    ++st.bad_frames;
    LOG_DEBUG("dropped frame (%zu bytes): %s", bytes.size(), decode_error_name(err));
    return;
  }
  if (f.src.is_multicast() || f.src == mac) {
    ++st.bad_frames;
    return;
  }
  const Segment& first = f.segs[0];
  if (first.h.kind == FrameKind::kDiscoverQuery) {
    if (f.dst == mac || f.dst.is_broadcast()) on_discover(f, first);
    return;
  }
  if (f.dst != mac) return;  // not for us (a hub or promiscuous interface)
  switch (first.h.kind) {
    case FrameKind::kConnectRequest:
      return on_connect(f, first);
    case FrameKind::kTerminate:
      return on_terminate(f);
    case FrameKind::kConnectResponse:
    case FrameKind::kDiscoverReply:
      ++st.bad_frames;
      return;  // frames only a host should receive
    default:
      break;
  }
  // Commands, Data, Retransmit Requests and Responses, packed: one association for all of them.
  bool unknown = false;
  Queue* q = find_queue(f, &unknown);
  if (!q) return unknown ? unknown_association(f) : void();
  for (const Segment& g : f.segments()) {
    switch (g.h.kind) {
      case FrameKind::kCommand:
        on_command(*q, g);
        break;
      case FrameKind::kData:
        on_data(*q, g);
        break;
      case FrameKind::kRetransmitRequest:
        on_retransmit(*q, g);
        break;
      default:
        ++st.bad_frames;
        break;  // a Response: only a host receives those
    }
    if (q->dead) break;  // the association went (e.g. it was evicted to make room)
  }
}

void TargetTransport::Impl::on_other_version(std::span<const uint8_t> bytes) {
  ++st.bad_frames;
  std::optional<v1::Header> h = v1::peek(bytes, ethertype);
  if (!h || h->kind != v1::kConnectRequest || bytes.size() < 12) return;
  MacAddress dst = MacAddress::from_bytes(bytes.data()), src = MacAddress::from_bytes(bytes.data() + 6);
  if (dst != mac || src.is_multicast() || src == mac) return;
  if (!terminate_limit.allow(mac_key(src.b.data()), Clock::now())) {
    ++st.terminate_suppressed;
    return;
  }
  LOG_LIMITED(LogLevel::kInfo, "version 1", src.str(),
              "refused a protocol version 1 Connect Request from %s: this target speaks version %u", src.str().c_str(),
              kProtocolVersion);
  tx_quiesce();
  v1_reply = v1::connect_response(src, mac, ethertype, *h, v1::kResultUnsupportedVersion);
  TxFrameList one;
  one.add(v1_reply);
  Status s = link->send(one.frames());
  if (s.is_ok()) ++st.frames_out;
}

Queue* TargetTransport::Impl::find_queue(const Frame& f, bool* unknown) {
  *unknown = false;
  auto it = queues.find(QueueKey{f.src.b, f.a.qid, f.a.nonce});
  if (it == queues.end()) {
    *unknown = true;
    return nullptr;
  }
  Queue* q = it->second.get();
  // After Fabrics Connect every frame names the controller; on the admin queue a host that has
  // not yet seen the Connect response may still send 0xFFFF (a retransmitted Connect).
  if (q->ctrl && f.a.cntlid != q->ctrl->cntlid() && !(q->qid == 0 && f.a.cntlid == kNoController)) {
    ++st.bad_frames;
    return nullptr;
  }
  if (!frame_authentic(*q, f)) return nullptr;
  // A negotiated data digest is mandatory: a frame without it (or a tag) is dropped like a lost one.
  if ((q->digests & digest_bits::kData) && !f.has_data_digest() && !f.has_tag()) {
    ++st.digest_errors;
    ++q->counters.digest_errors;
    return nullptr;
  }
  return q;
}

bool TargetTransport::Impl::frame_authentic(Queue& q, const Frame& f) {
  auto refuse = [&](const char* why) {
    ++st.auth_errors;
    ++q.counters.auth_errors;
    LOG_LIMITED(LogLevel::kWarn, "frame auth", q.host.str(), "queue %u of %s: dropped a frame: %s", q.qid,
                q.host.str().c_str(), why);
    return false;
  };
  if (!q.rx_key) return f.has_tag() ? refuse("a frame tag on a queue without frame keys") : true;
  if (f.has_tag()) {
    auth::FrameCheck c = q.rx_key->open(f.tagged, f.trailer);
    if (c != auth::FrameCheck::kOk) return refuse(auth::frame_check_name(c));
    q.host_tags = true;
    return true;
  }
  // Untagged: only the host's retransmissions of the command that ended the transaction, until
  // the host shows it has the keys too (it tags from that command's answer on).
  if (!q.host_tags) {
    bool retransmission = true;
    for (const Segment& g : f.segments())
      retransmission = retransmission &&
                       (g.h.kind == FrameKind::kCommand || g.h.kind == FrameKind::kRetransmitRequest) &&
                       g.h.cid == q.keys_cid && g.h.gen == q.keys_gen;
    if (retransmission) return true;
  }
  return refuse("no frame tag on an authenticated queue");
}

void TargetTransport::Impl::install_frame_keys(Queue& q, const Slot& s, const auth::FrameKeys& keys) {
  if (q.rx_key) return;  // a later transaction on the queue keeps the association's keys
  auto tx = auth::FrameKey::create(keys.ctrl_to_host);
  auto rx = auth::FrameKey::create(keys.host_to_ctrl);
  if (!tx || !rx) {
    LOG_ERROR("queue %u of %s: no frame keys: %s", q.qid, q.host.str().c_str(),
              (!tx ? tx.status() : rx.status()).message().c_str());
    return;  // the host refuses a queue whose answers carry no tag
  }
  q.tx_key = std::move(tx).value();
  q.rx_key = std::move(rx).value();
  q.keys_cid = s.req.sqe.cid;
  q.keys_gen = s.gen;
}

void TargetTransport::Impl::unknown_association(const Frame& f) {
  ++st.unknown_association;
  if (terminate_limit.allow(mac_key(f.src.b.data()), Clock::now()))
    send_terminate(f.src, f.a.qid, f.a.cntlid, f.a.nonce, TerminateReason::kUnknownAssociation);
  else
    ++st.terminate_suppressed;
}

void TargetTransport::Impl::on_connect(const Frame& f, const Segment& g) {
  ConnectRequest req;
  auto key = QueueKey{f.src.b, f.a.qid, f.a.nonce};
  auto it = queues.find(key);
  ConnectResponse resp;
  if (it != queues.end()) {
    resp = it->second->accept;  // a retransmitted request: same answer
  } else if (!decode_connect_request(g.meta, &req) || f.a.nonce == 0 || req.queue_size < 2) {
    resp.result = ConnectResult::kInvalidParameters;
  } else if (stopping || !admit_handshake(f.src)) {
    resp.result = ConnectResult::kNoResources;
  } else {
    const TargetLimits& lim = core->limits();
    uint16_t max_size = f.a.qid == 0 ? lim.max_admin_queue_size : lim.max_queue_size;
    resp.queue_size = std::min(req.queue_size, max_size);
    resp.max_frame = std::min(req.max_frame, link_max_frame);
    resp.digests = uint8_t(req.digests & (options.allow_data_digest ? digest_bits::kData : 0));
    resp.max_transfer = lim.max_transfer;
    if (resp.max_frame < kMinMtu) {
      resp = ConnectResponse{};
      resp.result = ConnectResult::kInvalidParameters;
    } else {
      auto q = std::make_unique<Queue>();
      q->host = f.src;
      q->qid = f.a.qid;
      q->nonce = f.a.nonce;
      q->size = resp.queue_size;
      q->max_frame = resp.max_frame;
      q->digests = resp.digests;
      q->accept = resp;
      q->created = Clock::now();
      q->impl = this;
      q->admission.owner = q.get();
      admission.added(&q->admission, mac_key(f.src.b.data()), q->created);
      LOG_LIMITED(LogLevel::kInfo, "association", f.src.str(),
                  "association from %s queue %u (size %u, %u-byte frames%s)", f.src.str().c_str(), q->qid, q->size,
                  q->max_frame, (q->digests & digest_bits::kData) ? ", data digest" : "");
      queues.emplace(key, std::move(q));
      st.associations = queues.size();
    }
  }
  std::span<uint8_t> m = add_alone(f.src, f.a, seg_for(FrameKind::kConnectResponse, 0, 0), kConnectMetaSize);
  if (!m.empty()) encode_connect_response(resp, m.data());
}

void TargetTransport::Impl::reject(Queue& q, const Segment& g, uint16_t cid, NvmeStatus status) {
  maybe_flush();
  Cqe cqe;
  cqe.cid = cid;
  cqe.sq_id = q.qid;
  cqe.status = status;
  std::span<uint8_t> m = tx->add(q.tx, q.assoc(), seg_for(FrameKind::kResponse, cid, g.h.gen), kCqeSize);
  if (!m.empty()) encode_cqe(cqe, m.data());
}

void TargetTransport::Impl::on_command(Queue& qr, const Segment& g) {
  Queue* q = &qr;
  Sqe sqe = decode_sqe(g.meta.data());
  if (sqe.cid != g.h.cid) {
    ++st.bad_frames;
    return;
  }
  if (sqe.cid >= q->size) return reject(*q, g, sqe.cid, sc::kInvalidField | sc::kDnr);
  const bool fabrics_connect = sqe.opcode == admin_opcode::kFabrics && sqe.fctype() == fabrics_type::kConnect;
  if (!q->ctrl && !fabrics_connect) {
    // Before Fabrics Connect a queue knows nothing else: answered at once, nothing kept.
    ++st.unbound_commands;
    return reject(*q, g, sqe.cid, sc::kCommandSequenceError | sc::kDnr);
  }
  // A discovery controller is set up once it is used (an I/O controller: once it has an I/O queue).
  if (q->ctrl && q->qid == 0 && !fabrics_connect && admission.setting_up(&q->admission) &&
      core->is_discovery(q->ctrl->subsystem()))
    admission.established(q->ctrl->cntlid());
  // The service-time histogram (7 KiB) comes with the first command after Fabrics Connect.
  if (q->ctrl && !q->service && !fabrics_connect) {
    q->service = std::make_unique<LatencyHistogram>();
    if (q->connect_service_ns) q->service->record(q->connect_service_ns);
  }
  Slot* sp = slot_of(*q, sqe.cid, true);
  if (!sp) {  // the Fabrics Connect of this queue is still running
    ++st.stale;
    ++q->counters.stale;
    return;
  }
  Slot& s = *sp;
  if (s.gen_valid && g.h.gen == s.gen) {
    // A retransmitted command: answer with where it stands, never run it twice.
    ++st.duplicates;
    ++q->counters.duplicates;
    if (s.state == Slot::State::kDone) {
      send_result(*q, s, false);
    } else if (s.state == Slot::State::kReceiving) {
      accept_data(*q, s, 0, g.data);
      if (s.state == Slot::State::kReceiving) send_holes(*q, s);
    } else if (s.state == Slot::State::kExecuting) {
      send_holes(*q, s);  // no holes: "have it, working on it"
    }
    return;
  }
  if (s.gen_valid && int32_t(g.h.gen - s.gen) < 0) {
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
  const uint32_t prev_gen = s.gen;
  const bool prev_gen_valid = s.gen_valid;
  s.gen = g.h.gen;
  s.gen_valid = true;
  s.received_at = Clock::now();
  uint64_t& kind_count = q->qid != 0 && sqe.opcode == io_opcode::kRead    ? q->counters.reads
                         : q->qid != 0 && sqe.opcode == io_opcode::kWrite ? q->counters.writes
                                                                          : q->counters.other;
  ++st.commands;
  ++q->counters.commands;
  ++kind_count;
  if (!sgl_valid(sqe)) return finish_early(*q, s, sqe, sc::kSglInvalidDescriptorType | sc::kDnr);
  uint32_t total = sgl_length(sqe);
  DataDirection dir = data_direction(sqe);
  uint32_t limit = std::max<uint32_t>(core->limits().max_transfer, kIdentifySize);
  if (total > limit) return finish_early(*q, s, sqe, sc::kInvalidField | sc::kDnr);
  if (sqe.opcode == admin_opcode::kFabrics && sqe.fctype() == fabrics_type::kConnect) {
    // Its data is the 1024-byte connect data, bounded before a buffer is taken; the core judges
    // the rest (QID, SQSIZE against Request::queue_size, one Connect per queue).
    if (total > kConnectDataSize) return finish_early(*q, s, sqe, sc::kDataSglLengthInvalid | sc::kDnr);
  }
  if (dir == DataDirection::kBidirectional) {
    // No command nvmeoe serves moves data both ways; without data the core judges the opcode.
    if (total) return finish_early(*q, s, sqe, sc::kInvalidField | sc::kDnr);
    dir = DataDirection::kNone;
  }
  if (total > s.buf.capacity()) {
    if (may_be_sent_from(s)) tx_quiesce();  // frames queued or being sent may point into the old buffer
    shared->lru.remove(&s);
    s.buf.reset();
    s.buf = take_buffer(*q, total);
    if (!s.buf) {
      // No room within the buffer limits: dropped like a lost frame (nothing kept), so the host
      // retransmits it later and slows down.
      s.gen = prev_gen;
      s.gen_valid = prev_gen_valid;
      s.state = Slot::State::kIdle;
      --st.commands;
      --q->counters.commands;
      --kind_count;
      ++st.buffer_drops;
      return;
    }
  }
  s.data_dropped = false;
  s.req = Request{};
  s.req.sqe = sqe;
  s.total = total;
  s.dir = dir;
  s.received.clear();
  s.state = Slot::State::kReceiving;
  if (dir == DataDirection::kHostToController) {
    accept_data(*q, s, 0, g.data);
    // While it waits for its data, its buffer may be taken back (the oldest first).
    if (s.state == Slot::State::kReceiving && s.buf) shared->lru.push_back(&s);
    // A retransmitted command travels without its data: ask for what is missing.
    if ((g.h.flags & seg_flag::kRetry) && s.state == Slot::State::kReceiving) send_holes(*q, s);
  } else {
    execute(*q, s);
  }
}

void TargetTransport::Impl::record_service_time(Queue& q, const Slot& s) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - s.received_at).count();
  if (q.service)
    q.service->record(uint64_t(ns));
  else if (q.ctrl)
    q.connect_service_ns = uint64_t(ns);  // the Fabrics Connect's, until the histogram comes
}

void TargetTransport::Impl::finish_early(Queue& q, Slot& s, const Sqe& sqe, NvmeStatus status, uint16_t ipo) {
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

void TargetTransport::Impl::accept_data(Queue& q, Slot& s, uint32_t offset, std::span<const uint8_t> bytes) {
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

void TargetTransport::Impl::on_data(Queue& qr, const Segment& g) {
  Queue* q = &qr;
  Slot* sp = g.h.cid < q->size ? slot_of(*q, g.h.cid, false) : nullptr;
  if (!sp || !sp->gen_valid || sp->gen != g.h.gen || sp->state != Slot::State::kReceiving) {
    ++st.stale;
    ++q->counters.stale;
    return;
  }
  Slot& s = *sp;
  accept_data(*q, s, g.h.offset, g.data);
  // The sender's last frame arrived with holes before it: ask for them at once rather than
  // wait for the host's retransmission timer.
  if ((g.h.flags & seg_flag::kLast) && s.state == Slot::State::kReceiving) send_holes(*q, s);
}

void TargetTransport::Impl::send_holes(Queue& q, Slot& s) {
  std::vector<ByteRange>& ranges = holes_scratch;
  ranges.clear();
  if (s.state == Slot::State::kReceiving)
    for (auto& [off, len] : s.received.missing(s.total, max_retransmit_ranges(q.send_max_frame())))
      ranges.push_back({uint32_t(off), uint32_t(len)});
  maybe_flush();
  std::span<uint8_t> m = tx->add(q.tx, q.assoc(), seg_for(FrameKind::kRetransmitRequest, s.req.sqe.cid, s.gen),
                                 retransmit_meta_size(ranges.size()));
  if (m.empty()) return;
  encode_retransmit_request(std::span<const ByteRange>(ranges), m.data());
  ++q.counters.retransmit_requests;
}

void TargetTransport::Impl::on_retransmit(Queue& qr, const Segment& g) {
  Queue* q = &qr;
  Slot* sp = g.h.cid < q->size ? slot_of(*q, g.h.cid, false) : nullptr;
  if (!sp) return;
  Slot& s = *sp;
  std::vector<ByteRange>& ranges = ranges_scratch;
  if (!s.gen_valid || s.gen != g.h.gen || !decode_retransmit_request(g.meta, &ranges)) return;
  if (s.state == Slot::State::kExecuting) return send_holes(*q, s);  // still running: say so
  if (s.state != Slot::State::kDone) return;
  if (status_ok(s.req.cqe.status) && s.req.data_len && s.data_dropped) {
    // The data went back to the pool. A Read is read again (it changes nothing); for anything
    // else the host gets the response and, in the end, its timeout.
    if (q->qid != 0 && s.req.sqe.opcode == io_opcode::kRead) {
      if (!(s.buf = take_buffer(*q, s.total))) return;  // no room now; the host asks again
      s.data_dropped = false;
      const Sqe sqe = s.req.sqe;
      s.req = Request{};
      s.req.sqe = sqe;
      return execute(*q, s);
    }
    return send_response(*q, s);
  }
  if (status_ok(s.req.cqe.status)) {
    // At most the command's data once per request, however many ranges it lists.
    uint64_t budget = s.req.data_len;
    for (const auto& r : ranges) {
      if (budget == 0) break;
      uint32_t len = uint32_t(std::min<uint64_t>(r.length, budget));
      budget -= len;
      send_data(*q, s, r.offset, len, seg_flag::kLast);
    }
  }
  send_response(*q, s);
}

void TargetTransport::Impl::on_terminate(const Frame& f) {
  auto it = queues.find(QueueKey{f.src.b, f.a.qid, f.a.nonce});
  if (it == queues.end()) return;
  // On an authenticated queue only a tagged Terminate ends anything: a station that copied the
  // association's addresses cannot.
  if (!frame_authentic(*it->second, f)) return;
  std::shared_ptr<Controller> ctrl = it->second->ctrl;
  LOG_LIMITED(LogLevel::kInfo, "terminated", f.src.str(), "host %s terminated queue %u", f.src.str().c_str(), f.a.qid);
  if (f.a.qid == 0 && ctrl) {
    // The admin queue carries the controller: everything of it goes.
    remove_controller_queues(ctrl->cntlid(), TerminateReason::kHostDisconnect, false);
    core->remove_controller(ctrl->cntlid());
  } else {
    if (ctrl) core->queue_released(*ctrl, f.a.qid);
    remove_queue(it);
  }
}

void TargetTransport::Impl::on_discover(const Frame& f, const Segment& g) {
  DiscoverQuery query;
  if (!decode_discover_query(g.meta, &query)) {
    ++st.bad_frames;
    return;
  }
  // Any station may ask, from any MAC: the answers are bounded per MAC and in all.
  if (!discover_limit.allow(mac_key(f.src.b.data()), Clock::now())) {
    ++st.discover_suppressed;
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
  const size_t max_meta = segment_budget(link_max_frame) - kSegmentHeaderSize;
  FrameAddress to{0, kNoController, f.a.nonce};
  size_t first = 0;
  do {
    std::vector<uint8_t> p;
    size_t n = encode_discover_reply(entries, first, max_meta, &p);
    SegmentHeader h = seg_for(FrameKind::kDiscoverReply, 0, 0);
    h.offset = uint32_t(first);
    h.total = uint32_t(entries.size());
    std::span<uint8_t> m = add_alone(f.src, to, h, p.size());
    if (!m.empty()) std::memcpy(m.data(), p.data(), p.size());
    if (n == 0) break;
    first += n;
  } while (first < entries.size());
}

}  // namespace nvmeoe
