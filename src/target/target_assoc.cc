// The target transport's association table: queues and their slots, the data buffers they
// hold (buffer_pool.h), admission and eviction under floods (admission.h), housekeeping.
#include "target/target_impl.h"

namespace nvmeoe {

bool TargetTransport::Impl::may_be_sent_from(Queue& q) {
  bool any = false;
  for_each_slot(q, [&any](Slot& sl) { any = any || may_be_sent_from(sl); });
  return any;
}

void TargetTransport::Impl::remove_queue(std::map<QueueKey, std::unique_ptr<Queue>>::iterator it) {
  if (may_be_sent_from(*it->second))
    tx_quiesce();  // frames may still point into its slot buffers
  else if (it->second->tx_key)
    flush_tx();  // frames of the batch are sealed with its key when the batch is finished
  std::unique_ptr<Queue> q = std::move(it->second);
  queues.erase(it);
  q->dead = true;
  admission.removed(&q->admission);
  unlink_slots(*q);
  st.associations = queues.size();
  if (q->executing) graveyard.push_back(std::move(q));
}

void TargetTransport::Impl::remove_controller_queues(uint16_t cntlid, TerminateReason why, bool notify) {
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

void TargetTransport::Impl::reap_graveyard() {
  for (size_t i = 0; i < graveyard.size();) {
    if (graveyard[i]->executing == 0) {
      if (may_be_sent_from(*graveyard[i])) tx_quiesce();
      graveyard[i] = std::move(graveyard.back());
      graveyard.pop_back();
    } else {
      ++i;
    }
  }
}

void TargetTransport::Impl::evict(AdmissionEntry* e, uint64_t* counter, const char* why) {
  Queue* q = static_cast<Queue*>(e->owner);
  ++*counter;
  LOG_LIMITED(LogLevel::kInfo, why, q->host.str(), "%s: association from %s queue %u removed", why,
              q->host.str().c_str(), q->qid);
  bool notify = terminate_limit.allow(mac_key(q->host.b.data()), Clock::now());
  if (q->ctrl && q->qid == 0) {
    uint16_t cntlid = q->ctrl->cntlid();
    if (q->ctrl->connected_io_queues.empty()) {
      // Still being set up: the admin queue is all it has (no scan of the table).
      if (notify) send_terminate(q->host, 0, cntlid, q->nonce, TerminateReason::kProtocolError);
      auto it = queues.find(key_of(*q));
      if (it != queues.end()) remove_queue(it);
    } else {
      remove_controller_queues(cntlid, TerminateReason::kProtocolError, notify);
    }
    core->remove_controller(cntlid);
    return;
  }
  if (notify)
    send_terminate(q->host, q->qid, q->ctrl ? q->ctrl->cntlid() : kNoController, q->nonce,
                   TerminateReason::kProtocolError);
  if (q->ctrl) core->queue_released(*q->ctrl, q->qid);
  auto it = queues.find(key_of(*q));
  if (it != queues.end()) remove_queue(it);
}

void TargetTransport::Impl::unlink_slots(Queue& q) {
  for_each_slot(q, [this](Slot& sl) { shared->lru.remove(&sl); });
}

Slot* TargetTransport::Impl::slot_of(Queue& q, uint16_t cid, bool create) {
  if (q.ctrl) {
    if (cid >= q.slots.size()) return nullptr;
    if (!q.slots[cid] && create) {
      q.slots[cid] = std::make_unique<Slot>();
      q.slots[cid]->queue = &q;
      q.slots[cid]->cid = cid;
    }
    return q.slots[cid].get();
  }
  if (q.setup && q.setup->cid == cid) return q.setup.get();
  if (!create || (q.setup && q.setup->state == Slot::State::kExecuting)) return nullptr;
  if (q.setup) {
    if (may_be_sent_from(*q.setup)) tx_quiesce();
    shared->lru.remove(q.setup.get());
  }
  q.setup = std::make_unique<Slot>();
  q.setup->queue = &q;
  q.setup->cid = cid;
  return q.setup.get();
}

PoolBuffer TargetTransport::Impl::take_buffer(Queue& q, uint32_t bytes) {
  DataBufferPool& pool = shared->pool;
  PoolBuffer b = pool.acquire(bytes, &q.buffer_bytes, limits.queue_buffer_bytes);
  if (b) return b;
  size_t cap = DataBufferPool::class_size(bytes);
  if (q.buffer_bytes + cap > limits.queue_buffer_bytes) {
    for_each_slot(q, [&](Slot& sl) {
      if (q.buffer_bytes + cap > limits.queue_buffer_bytes && SlotLru::linked(&sl) &&
          sl.state != Slot::State::kReceiving)
        reclaim(sl);
    });
  } else {
    while (pool.in_use() + cap > pool.budget() && !shared->lru.empty()) reclaim(*shared->lru.front());
  }
  return pool.acquire(bytes, &q.buffer_bytes, limits.queue_buffer_bytes);
}

void TargetTransport::Impl::reclaim(Slot& sl) {
  Impl& owner = *sl.queue->impl;
  if (may_be_sent_from(sl)) owner.tx_quiesce();  // queued frames may point into the buffer
  shared->lru.remove(&sl);
  if (sl.state == Slot::State::kReceiving) {
    sl.state = Slot::State::kIdle;
    sl.gen_valid = false;
    sl.received.clear();
  } else if (sl.state == Slot::State::kDone) {
    sl.data_dropped = true;
  }
  sl.buf.reset();
  ++owner.st.buffer_reclaims;
}

bool TargetTransport::Impl::admit_handshake(const MacAddress& src) {
  for (;;) {
    AdmissionEntry* victim = nullptr;
    if (admission.admit_handshake(mac_key(src.b.data()), queues.size(), &victim)) return true;
    if (!victim) break;
    evict(victim, &st.evicted, "handshake given way");
  }
  ++st.refused_connects;
  LOG_LIMITED(LogLevel::kWarn, "refused", src.str(), "association from %s refused: no room (limits)",
              src.str().c_str());
  return false;
}

bool TargetTransport::Impl::admit_bind(Queue& q, const ConnectData& data) {
  bool listed = core->host_listed(data.hostnqn);
  for (;;) {
    AdmissionEntry* victim = nullptr;
    if (admission.admit_bind(listed, q.qid != 0, data.cntlid, &victim)) return true;
    if (!victim || victim == &q.admission) break;
    evict(victim, &st.evicted, "controller given way");
  }
  ++st.refused_busy;
  LOG_LIMITED(LogLevel::kWarn, "busy", data.hostnqn,
              "Fabrics Connect from %s (%s) refused: the room left is kept for allow-listed hosts",
              q.host.str().c_str(), data.hostnqn.c_str());
  return false;
}

void TargetTransport::Impl::bind(Queue& q, Slot& s, const std::shared_ptr<Controller>& ctrl) {
  q.ctrl = ctrl;
  q.slots.resize(q.size);
  if (q.setup.get() == &s) q.slots[s.cid] = std::move(q.setup);  // the same slot, now by CID
  admission.bound(&q.admission, ctrl->cntlid(), core->host_listed(ctrl->hostnqn()), q.qid == 0, Clock::now());
  LOG_LIMITED(LogLevel::kInfo, "connected", q.host.str(), "host %s (%s) connected queue %u to controller %u",
              q.host.str().c_str(), q.ctrl->hostnqn().c_str(), q.qid, q.ctrl->cntlid());
}

void TargetTransport::Impl::housekeeping(Clock::time_point now, const std::vector<uint16_t>& expired) {
  for (uint16_t cntlid : expired) {
    LOG_LIMITED(LogLevel::kWarn, "keep-alive", std::to_string(cntlid),
                "controller %u: keep-alive timeout, association torn down", cntlid);
    remove_controller_queues(cntlid, TerminateReason::kKeepAliveTimeout, true);
  }
  // Handshakes without Fabrics Connect, and controllers without an I/O queue (a discovery
  // controller: unused), after setup_timeout_ms; KATO plays no part.
  while (AdmissionEntry* e = admission.expired_handshake(now)) {
    if (static_cast<Queue*>(e->owner)->executing) break;  // its Connect is running: soon bound
    evict(e, &st.expired, "setup timeout");
  }
  while (AdmissionEntry* e = admission.expired_setup(now)) evict(e, &st.expired, "setup timeout");
  log_limiter().flush();
  // The scans of the whole table below look for what a configuration reload took away; with
  // thousands of associations they cost, so they run after a reload and else once a second.
  if (!rescan && ++turns_since_rescan < 10) return reap_graveyard();
  rescan = false;
  turns_since_rescan = 0;
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
    bool orphan = q.ctrl && q.ctrl->dead;
    // A controller the core removed (its subsystem or host left the configuration): tell the host.
    if (orphan) send_terminate(q.host, q.qid, q.ctrl->cntlid(), q.nonce, TerminateReason::kConfigurationChange);
    if (orphan) remove_queue(it);
    it = next;
  }
  reap_graveyard();
}

void TargetTransport::Impl::terminate_all(TerminateReason why) {
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

}  // namespace nvmeoe
