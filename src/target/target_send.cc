// The target transport's send side: results, data, responses, Retransmit Requests and control
// frames as segments of the turn's TxBatch (docs/PROTOCOL.md §8.2-§8.4).
#include "target/target_impl.h"

namespace nvmeoe {

void TargetTransport::Impl::flush_tx() {
  if (tx->empty()) return;
  std::span<const TxFrame> frames = tx->finish();
  st.frames_out += frames.size();
  if (tx_thread && frames.size() >= options.tx_thread_min_frames) {
    // Hand this batch over and keep going; the previous one must be out before its buffers
    // (now the ones to fill) are used again. Order on the wire is kept: one batch at a time.
    tx_thread->wait();
    tx_sending->clear();
    std::swap(tx, tx_sending);
    tx_thread->post(frames);
    return;
  }
  if (tx_thread) tx_thread->wait();  // a small batch goes out inline, after the one in progress
  Status s = link->send(frames);
  if (!s.is_ok()) LOG_WARN("send failed: %s", s.message().c_str());
  tx->clear();
}

void TargetTransport::Impl::tx_quiesce() {
  flush_tx();
  if (tx_thread) tx_thread->wait();
}

void TargetTransport::Impl::maybe_flush() {
  if (tx->frame_count() >= kTxFrames) flush_tx();
}

SegmentHeader TargetTransport::Impl::seg_for(FrameKind kind, uint16_t cid, uint32_t gen) {
  SegmentHeader h;
  h.kind = kind;
  h.cid = cid;
  h.gen = gen;
  return h;
}

std::span<uint8_t> TargetTransport::Impl::add_alone(const MacAddress& dst, const FrameAddress& a,
                                                    const SegmentHeader& h, size_t meta) {
  maybe_flush();
  TxAssoc to;
  to.dst = dst;
  to.a = a;
  to.max_frame = link_max_frame;
  // A Terminate on an authenticated queue is tagged, or the host would not believe it.
  if (auto it = queues.find(QueueKey{dst.b, a.qid, a.nonce}); it != queues.end()) to.sealer = it->second->tx_key.get();
  return tx->add_alone(to, h, meta);
}

void TargetTransport::Impl::send_terminate(const MacAddress& dst, uint16_t qid, uint16_t cntlid, uint32_t nonce,
                                           TerminateReason why) {
  std::span<uint8_t> m =
      add_alone(dst, FrameAddress{qid, cntlid, nonce}, seg_for(FrameKind::kTerminate, 0, 0), kTerminateMetaSize);
  if (m.empty()) return;
  put_le16(m.data(), uint16_t(why));
  put_le16(m.data() + 2, 0);
}

void TargetTransport::Impl::send_data(Queue& q, Slot& s, uint32_t offset, uint32_t len, uint8_t final_flags) {
  uint32_t end = std::min(uint64_t(offset) + len, uint64_t(s.req.data_len));
  if (offset >= end) return;
  maybe_flush();
  SegmentHeader h = seg_for(FrameKind::kData, s.req.sqe.cid, s.gen);
  h.total = s.req.data_len;
  tx->add_data(q.tx, q.assoc(), h, s.buf.get(), offset, end - offset, final_flags);
}

void TargetTransport::Impl::send_response(Queue& q, Slot& s) {
  maybe_flush();
  SegmentHeader h = seg_for(FrameKind::kResponse, s.req.sqe.cid, s.gen);
  h.total = status_ok(s.req.cqe.status) ? s.req.data_len : 0;
  std::span<uint8_t> m = tx->add(q.tx, q.assoc(), h, kCqeSize);
  if (!m.empty()) encode_cqe(s.req.cqe, m.data());
}

void TargetTransport::Impl::send_result(Queue& q, Slot& s, bool first) {
  bool with_data = status_ok(s.req.cqe.status) && s.req.data_len;
  bool success_flag = first && with_data && s.req.cqe.status == 0 && s.req.cqe.dw0 == 0 && s.req.cqe.dw1 == 0;
  if (with_data) send_data(q, s, 0, s.req.data_len, uint8_t(seg_flag::kLast | (success_flag ? seg_flag::kSuccess : 0)));
  if (!success_flag) send_response(q, s);
}

}  // namespace nvmeoe
