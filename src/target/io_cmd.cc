// I/O commands (Read, Write, Flush, Write Zeroes, Dataset Management) and the backend side of the
// core: a request that reaches a backend gets a Pending record counting its outstanding ops, and
// completes when the last one comes back. Flushes not tied to a request (flush_all(), shutdown
// notification) are FlushAll records with their own tag kind.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/bytes.h"
#include "common/log.h"
#include "target/core.h"

namespace nvmeoe {

namespace {

constexpr uint32_t kBroadcastNsid = 0xffffffff;
constexpr uint32_t kRwFua = 1u << 30;            // CDW12, Read/Write
constexpr uint32_t kWriteZeroesDeac = 1u << 25;  // CDW12, Write Zeroes
constexpr uint32_t kDsmDeallocate = 1u << 2;     // CDW11 AD, Dataset Management
constexpr size_t kDsmRangeSize = 16;
constexpr size_t kBufferAlignment = 4096;  // O_DIRECT backends need aligned buffers
constexpr uint32_t kCstsShstMask = 3u << 2;
constexpr uint32_t kCstsShstProcessing = 1u << 2;

static_assert(alignof(Request) >= 8, "Request* tags keep their kind in the low 3 bits");

uint64_t slba_of(const Sqe& s) {
  return uint64_t(s.cdw10) | uint64_t(s.cdw11) << 32;
}
uint32_t nlb_of(const Sqe& s) {
  return (s.cdw12 & 0xffff) + 1;
}

bool in_range(const Namespace& ns, uint64_t slba, uint64_t nlb) {
  uint64_t nsze = ns.backend->caps().size_bytes / kLbaSize;
  return slba <= nsze && nlb <= nsze - slba;  // no overflow for SLBA near 2^64
}

// A backend errno as the NVMe status a host understands; media errors keep DNR clear because a
// retry may succeed, space and protection errors will not change.
NvmeStatus backend_error_status(uint8_t opcode, int err) {
  if (err == ENOSPC) return sc::kCapacityExceeded | sc::kDnr;
  if (err == EROFS) return sc::kNsWriteProtected | sc::kDnr;
  return opcode == io_opcode::kRead ? sc::kUnrecoveredReadError : sc::kWriteFault;
}

}  // namespace

void TargetCore::execute_io(Request* req) {
  const Controller& ctrl = *req->ctrl;
  // I/O needs an enabled controller and a queue connected since the last reset.
  if (!(ctrl.csts & prop::kCstsReady) || !ctrl.connected_io_queues.count(req->qid))
    return complete(req, sc::kCommandSequenceError);
  uint8_t op = req->sqe.opcode;
  switch (op) {
    case io_opcode::kRead:
    case io_opcode::kWrite:
    case io_opcode::kFlush:
    case io_opcode::kWriteZeroes:
    case io_opcode::kDatasetManagement:
      break;
    default:
      return complete(req, sc::kInvalidOpcode | sc::kDnr);
  }
  if (op == io_opcode::kFlush && req->sqe.nsid == kBroadcastNsid) return io_flush(req, nullptr);
  Namespace* ns = ctrl.subsystem()->find_namespace(req->sqe.nsid);
  if (!ns) return complete(req, sc::kInvalidNamespace | sc::kDnr);
  switch (op) {
    case io_opcode::kRead:
      return io_rw(req, ns, false);
    case io_opcode::kWrite:
      return io_rw(req, ns, true);
    case io_opcode::kFlush:
      return io_flush(req, ns);
    case io_opcode::kWriteZeroes:
      return io_write_zeroes(req, ns);
    default:
      return io_dsm(req, ns);
  }
}

void TargetCore::io_rw(Request* req, Namespace* ns, bool write) {
  const Sqe& s = req->sqe;
  uint64_t slba = slba_of(s);
  uint32_t nlb = nlb_of(s);
  uint64_t bytes = uint64_t(nlb) * kLbaSize;
  if (write && ns->read_only) return complete(req, sc::kNsWriteProtected | sc::kDnr);
  if (bytes != req->data.size()) return complete(req, sc::kDataSglLengthInvalid | sc::kDnr);
  if (bytes > limits_.max_transfer) return complete(req, sc::kInvalidField | sc::kDnr);
  if (!in_range(*ns, slba, nlb)) return complete(req, sc::kLbaOutOfRange | sc::kDnr);
  Pending* p = start_pending(req, ns);
  if (!p) return;
  p->bytes = bytes;
  p->flush_after = write && (s.cdw12 & kRwFua) && ns->backend->caps().volatile_write_cache;
  submit_for(p, ns->backend.get(), write ? BackendOpKind::kWrite : BackendOpKind::kRead, slba * kLbaSize, bytes,
             req->data.data());
  finish_if_idle(req);
}

void TargetCore::io_flush(Request* req, Namespace* ns) {
  std::vector<Namespace*> targets;
  if (ns) {
    targets.push_back(ns);
  } else {
    for (const auto& n : req->ctrl->subsystem()->namespaces) targets.push_back(n.get());
  }
  Pending* p = start_pending(req, ns);
  if (!p) return;
  for (Namespace* n : targets) {
    // Without a volatile write cache every completed write is already durable.
    if (n->backend->caps().volatile_write_cache) submit_for(p, n->backend.get(), BackendOpKind::kFlush, 0, 0, nullptr);
  }
  finish_if_idle(req);
}

void TargetCore::io_write_zeroes(Request* req, Namespace* ns) {
  const Sqe& s = req->sqe;
  uint64_t slba = slba_of(s);
  uint32_t nlb = nlb_of(s);
  if (ns->read_only) return complete(req, sc::kNsWriteProtected | sc::kDnr);
  if (!in_range(*ns, slba, nlb)) return complete(req, sc::kLbaOutOfRange | sc::kDnr);
  const BackendCaps& caps = ns->backend->caps();
  uint64_t bytes = uint64_t(nlb) * kLbaSize;
  Pending* p = start_pending(req, ns);
  if (!p) return;
  // Deallocation reads back as zeroes when the backend says so (Identify DLFEAT), so it is a
  // valid way to zero, and the cheapest.
  bool deallocate = caps.deallocate && ((s.cdw12 & kWriteZeroesDeac) || !caps.write_zeroes);
  if (deallocate) {
    submit_for(p, ns->backend.get(), BackendOpKind::kDeallocate, slba * kLbaSize, bytes, nullptr);
  } else if (caps.write_zeroes) {
    submit_for(p, ns->backend.get(), BackendOpKind::kWriteZeroes, slba * kLbaSize, bytes, nullptr);
  } else {
    // Neither: write a zeroed buffer (at most 32 MiB for NLB = 65536).
    size_t alloc = size_t((bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment);
    p->zeroes.reset(static_cast<uint8_t*>(std::aligned_alloc(kBufferAlignment, alloc)));
    if (p->zeroes) {
      std::memset(p->zeroes.get(), 0, alloc);
      submit_for(p, ns->backend.get(), BackendOpKind::kWrite, slba * kLbaSize, bytes, p->zeroes.get());
    } else {
      p->status = sc::kInternalError;
    }
  }
  finish_if_idle(req);
}

void TargetCore::io_dsm(Request* req, Namespace* ns) {
  const Sqe& s = req->sqe;
  size_t ranges = (s.cdw10 & 0xff) + 1;
  if (ns->read_only) return complete(req, sc::kNsWriteProtected | sc::kDnr);
  if (req->data.size() != ranges * kDsmRangeSize) return complete(req, sc::kDataSglLengthInvalid | sc::kDnr);
  // Integral Dataset for Read/Write and the other attributes are hints we may ignore.
  if (!(s.cdw11 & kDsmDeallocate)) return complete(req, sc::kSuccess);
  struct Range {
    uint64_t slba;
    uint32_t nlb;
  };
  std::vector<Range> todo;
  for (size_t i = 0; i < ranges; ++i) {
    const uint8_t* r = req->data.data() + i * kDsmRangeSize;
    Range range{get_le64(r + 8), get_le32(r + 4)};
    if (range.nlb == 0) continue;
    // Check every range before touching any: a bad one fails the whole command.
    if (!in_range(*ns, range.slba, range.nlb)) return complete(req, sc::kLbaOutOfRange | sc::kDnr);
    todo.push_back(range);
  }
  // Without backend support deallocation is only advisory: the blocks keep their data.
  if (todo.empty() || !ns->backend->caps().deallocate) return complete(req, sc::kSuccess);
  Pending* p = start_pending(req, ns);
  if (!p) return;
  for (const Range& r : todo)
    submit_for(p, ns->backend.get(), BackendOpKind::kDeallocate, r.slba * kLbaSize, uint64_t(r.nlb) * kLbaSize,
               nullptr);
  finish_if_idle(req);
}

TargetCore::Pending* TargetCore::start_pending(Request* req, Namespace* ns) {
  if (req->wait.active) {
    // The transport reused a Request still in flight. Completing it here would complete the
    // first command twice, so this one is dropped (and logged: it is a transport bug).
    LOG_ERROR("request %p (cid %u) submitted while still in flight; dropped", static_cast<void*>(req), req->sqe.cid);
    return nullptr;
  }
  req->wait = BackendWait{};
  req->wait.active = true;
  req->wait.req = req;
  req->wait.ns = ns;
  return &req->wait;
}

void TargetCore::submit_for(Pending* p, Backend* backend, BackendOpKind kind, uint64_t offset, uint64_t length,
                            uint8_t* buf) {
  BackendOp op;
  op.kind = kind;
  op.offset = offset;
  op.length = length;
  op.buf = buf;
  op.tag = reinterpret_cast<uint64_t>(p->req) | kTagRequest;
  Status st = backend->submit(op);
  if (st.is_ok()) {
    ++p->outstanding;
    return;
  }
  LOG_WARN("backend submit failed: %s", st.message().c_str());
  if (status_ok(p->status)) p->status = sc::kInternalError;
}

void TargetCore::finish_if_idle(Request* req) {
  if (!req->wait.active) return;
  Pending& p = req->wait;
  if (p.outstanding != 0) return;
  if (p.flush_after && status_ok(p.status)) {
    // FUA: the write is done; it counts as durable once the cache holding it is flushed.
    p.flush_after = false;
    submit_for(&p, p.ns->backend.get(), BackendOpKind::kFlush, 0, 0, nullptr);
    if (p.outstanding != 0) return;
  }
  uint8_t op = req->sqe.opcode;
  if (status_ok(p.status) && p.ns) {
    if (op == io_opcode::kRead) {
      ++p.ns->reads;
      p.ns->bytes_read += p.bytes;
      req->data_len = uint32_t(p.bytes);
    } else if (op == io_opcode::kWrite) {
      ++p.ns->writes;
      p.ns->bytes_written += p.bytes;
    }
  }
  NvmeStatus status = p.status;
  // Done before completing: the transport may reuse the Request from inside on_complete.
  p.active = false;
  p.zeroes.reset();
  complete(req, status);
}

void TargetCore::request_op_done(Request* req, int result) {
  if (!req->wait.active) {
    LOG_ERROR("backend completion for unknown request %p", static_cast<void*>(req));
    return;
  }
  Pending& p = req->wait;
  if (p.outstanding > 0) --p.outstanding;
  if (result != 0) {
    NvmeStatus st = backend_error_status(req->sqe.opcode, result);
    LOG_DEBUG("cid %u: backend error %s -> %s", req->sqe.cid, std::strerror(result), status_name(st).c_str());
    if (p.ns && (st == sc::kUnrecoveredReadError || st == sc::kWriteFault)) ++media_errors_[p.ns];
    if (status_ok(p.status)) p.status = st;
  }
  finish_if_idle(req);
}

void TargetCore::start_flush_all(const std::vector<Namespace*>& namespaces, void (*done)(void*), void* arg,
                                 std::weak_ptr<Controller> shutdown) {
  flush_alls_.push_back(std::make_unique<FlushAll>());
  FlushAll* fa = flush_alls_.back().get();
  fa->done = done;
  fa->arg = arg;
  fa->shutdown = std::move(shutdown);
  BackendOp op;
  op.kind = BackendOpKind::kFlush;
  op.tag = reinterpret_cast<uint64_t>(fa) | kTagFlushAll;
  for (Namespace* ns : namespaces) {
    if (!ns->backend->caps().volatile_write_cache) continue;
    Status st = ns->backend->submit(op);
    if (st.is_ok())
      ++fa->outstanding;
    else
      LOG_WARN("namespace %u: flush not submitted: %s", ns->nsid, st.message().c_str());
  }
  if (fa->outstanding == 0) finish_flush_all(fa);
}

void TargetCore::flush_all_op_done(FlushAll* fa, int result) {
  auto it = std::find_if(flush_alls_.begin(), flush_alls_.end(), [fa](const auto& f) { return f.get() == fa; });
  if (it == flush_alls_.end()) {
    LOG_ERROR("backend completion for an unknown flush");
    return;
  }
  if (result != 0) LOG_WARN("flush failed: %s", std::strerror(result));
  if (fa->outstanding > 0) --fa->outstanding;
  if (fa->outstanding == 0) finish_flush_all(fa);
}

void TargetCore::finish_flush_all(FlushAll* fa) {
  auto it = std::find_if(flush_alls_.begin(), flush_alls_.end(), [fa](const auto& f) { return f.get() == fa; });
  if (it == flush_alls_.end()) return;
  std::unique_ptr<FlushAll> owned = std::move(*it);
  flush_alls_.erase(it);
  if (std::shared_ptr<Controller> ctrl = owned->shutdown.lock()) {
    // Only if the host has not withdrawn the shutdown notification meanwhile.
    if ((ctrl->csts & kCstsShstMask) == kCstsShstProcessing)
      ctrl->csts = (ctrl->csts & ~kCstsShstMask) | prop::kCstsShstComplete;
  }
  if (owned->done) owned->done(owned->arg);
}

}  // namespace nvmeoe
