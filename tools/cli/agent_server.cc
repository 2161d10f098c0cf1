// Executes control-protocol requests on a HostController (see control.h for the protocol).
#include "cli/agent_server.h"

#include <algorithm>

#include "cli/admin_control.h"

namespace nvmeoe::cli {

namespace {

std::string trim_right(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace

ControllerModel controller_model(const HostController& hc, const std::string& name, int pid, uint16_t ethertype,
                                 const FrontendSummary& frontend) {
  ControllerModel m;
  const ControllerInfo& c = hc.controller();
  m.name = name;
  m.pid = pid;
  m.target_mac = hc.target_mac();
  m.iface = hc.local_iface();
  m.link = hc.link_kind();
  m.hostnqn = hc.hostnqn();
  m.subnqn = c.subnqn;
  m.serial = trim_right(c.serial);
  m.model = trim_right(c.model);
  m.firmware = trim_right(c.firmware);
  m.cntlid = c.cntlid;
  m.max_transfer = c.max_transfer;
  m.io_queues = hc.io_queue_count();
  m.ethertype = ethertype;
  m.state = hc.connected() ? "live" : "connecting";
  m.reconnects = hc.reconnects();
  m.frontend = frontend.kind;
  for (const auto& ns : hc.namespaces()) {
    NamespaceModel n;
    n.nsid = ns.nsid;
    n.blocks = ns.blocks;
    n.used_blocks = ns.used_blocks;
    n.block_size = ns.block_size;
    n.read_only = ns.read_only;
    for (const auto& [nsid, path] : frontend.nodes)
      if (nsid == ns.nsid) n.node = path;
    m.namespaces.push_back(n);
  }
  for (const auto& q : hc.stats()) {
    QueueModel qm;
    qm.qid = q.qid;
    qm.size = q.size;
    qm.commands = q.commands;
    qm.retransmits = q.retransmits;
    qm.timeouts = q.timeouts;
    qm.errors = q.errors;
    qm.in_flight = q.in_flight;
    qm.bytes_read = q.bytes_read;
    qm.bytes_written = q.bytes_written;
    qm.duplicates = q.duplicates;
    qm.digest_errors = q.digest_errors;
    qm.reads = q.reads;
    qm.writes = q.writes;
    qm.other = q.other;
    qm.latency_count = q.latency_count;
    qm.latency_mean_us = q.latency_mean_us;
    qm.latency_max_us = q.latency_max_us;
    qm.latency_p50_us = q.latency_p50_us;
    qm.latency_p99_us = q.latency_p99_us;
    qm.latency_p999_us = q.latency_p999_us;
    qm.latency_buckets = q.latency_buckets;
    m.queues.push_back(qm);
  }
  return m;
}

const NamespaceInfo* AgentServer::find_namespace(uint32_t nsid) const {
  for (const auto& ns : hc_->namespaces())
    if (ns.nsid == nsid) return &ns;
  return nullptr;
}

bool AgentServer::serve_connection(ControlStream& stream) {
  while (true) {
    std::string line;
    bool eof = false;
    if (!stream.read_line(&line, &eof, kMaxLineBytes)) return false;  // closed, timed out or garbage: drop the client
    auto req = decode_request(line);
    if (!req) {
      (void)stream.write_all(encode_reply(ControlReply::failure("bad request: " + req.status().message())));
      return false;  // the stream may be out of step (unknown trailing data): close it
    }
    if (req->op == ControlOp::kWrite || (req->op == ControlOp::kAdmin && req->bytes > 0)) {
      if (req->bytes > kMaxDataBytes) {
        (void)stream.write_all(encode_reply(
            ControlReply::failure("request of " + std::to_string(req->bytes) + " bytes is over the limit of " +
                                  std::to_string(kMaxDataBytes) + " bytes per request")));
        return false;  // its data was not read, so the stream is out of step
      }
      buf_.resize(req->bytes);
      if (!stream.read_exact(buf_.data(), buf_.size())) return false;
    }
    if (req->op == ControlOp::kDisconnect) {
      (void)stream.write_all(encode_reply(ControlReply::ok()));
      return true;
    }
    uint64_t out_bytes = 0;
    ControlReply reply = execute(*req, &out_bytes);
    if (!stream.write_all(encode_reply(reply))) return false;
    if (reply.kind == ControlReply::Kind::kOk && out_bytes > 0 && !stream.write_all(buf_.data(), out_bytes))
      return false;
  }
}

ControlReply AgentServer::execute(const ControlRequest& req, uint64_t* out_bytes) {
  *out_bytes = 0;
  if (req.op == ControlOp::kInfo) {
    ControlReply r = ControlReply::ok();
    r.has_info = true;
    r.info = controller_model(*hc_, name_, pid_, ethertype_, frontend_);
    return r;
  }
  if (req.op == ControlOp::kStats) {
    ControlReply r = ControlReply::ok();
    r.has_stats = true;
    r.stats = controller_model(*hc_, name_, pid_, ethertype_, frontend_);
    r.stats.namespaces.clear();
    return r;
  }
  if (!hc_->alive()) return ControlReply::failure("the association with the target is lost");
  if (req.op == ControlOp::kAdmin) {
    if (!hc_->connected()) return ControlReply::failure("the controller is reconnecting; try again");
    return execute_admin(*hc_, req, &buf_, out_bytes);
  }
  const NamespaceInfo* ns = find_namespace(req.nsid);
  if (!ns) return ControlReply::failure("namespace " + std::to_string(req.nsid) + " does not exist on " + name_);
  switch (req.op) {
    case ControlOp::kRead:
      return read_or_write(req, *ns, false, out_bytes);
    case ControlOp::kWrite:
      return read_or_write(req, *ns, true, out_bytes);
    case ControlOp::kFlush: {
      Completion c = hc_->flush_sync(req.nsid);
      return c.ok() ? ControlReply::ok() : ControlReply::nvme_status(c.status);
    }
    case ControlOp::kWriteZeroes: {
      for (uint64_t done = 0; done < req.nlb;) {
        uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(req.nlb - done, kMaxBlocksPerCommand));
        Completion c = hc_->write_zeroes_sync(req.nsid, req.slba + done, n);
        if (!c.ok()) return ControlReply::nvme_status(c.status);
        done += n;
      }
      return ControlReply::ok();
    }
    case ControlOp::kDeallocate: {
      std::vector<DsmRange> ranges;
      for (const auto& r : req.ranges) ranges.push_back(DsmRange{r.slba, r.nlb});
      Completion c = hc_->deallocate_sync(req.nsid, std::move(ranges));
      return c.ok() ? ControlReply::ok() : ControlReply::nvme_status(c.status);
    }
    default:
      return ControlReply::failure(std::string("unexpected op ") + control_op_name(req.op));
  }
}

ControlReply AgentServer::read_or_write(const ControlRequest& req, const NamespaceInfo& ns, bool write,
                                        uint64_t* out_bytes) {
  uint64_t bytes = uint64_t(req.nlb) * ns.block_size;
  if (bytes > kMaxDataBytes)
    return ControlReply::failure(std::to_string(req.nlb) + " blocks are over the limit of " +
                                 std::to_string(kMaxDataBytes) + " bytes per request");
  if (write && req.bytes != bytes)
    return ControlReply::failure("write of " + std::to_string(req.nlb) + " blocks needs " + std::to_string(bytes) +
                                 " bytes of data, got " + std::to_string(req.bytes));
  if (!write) buf_.resize(bytes);
  // Commands never exceed the controller's maximum transfer size nor NVMe's 16-bit NLB.
  uint64_t max_blocks = kMaxBlocksPerCommand;
  if (uint32_t mt = hc_->controller().max_transfer; mt >= ns.block_size)
    max_blocks = std::min<uint64_t>(max_blocks, mt / ns.block_size);
  for (uint64_t done = 0; done < req.nlb;) {
    uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(req.nlb - done, max_blocks));
    uint8_t* p = buf_.data() + done * ns.block_size;
    Completion c =
        write ? hc_->write_sync(req.nsid, req.slba + done, n, p) : hc_->read_sync(req.nsid, req.slba + done, n, p);
    if (!c.ok()) return ControlReply::nvme_status(c.status);
    done += n;
  }
  if (!write) *out_bytes = bytes;
  return ControlReply::ok(write ? 0 : bytes);
}

}  // namespace nvmeoe::cli
