// Fabrics commands: Connect (admin and I/O queues, host access control, controller creation) and
// Property Get/Set on the controller registers CAP, VS, CC and CSTS (NVMe over Fabrics 1.1).
#include <cstring>

#include "common/log.h"
#include "common/log_limit.h"
#include "target/core.h"

namespace nvmeoe {

namespace {

// Connect Invalid Parameters says where the bad value is, in DW0 (NVMe over Fabrics 1.1, Connect
// response): IPO (bits 15:0) is the byte offset, IATTR (bit 16) is 0 for the command and 1 for the
// connect data.
constexpr uint16_t kIpoCntlid = 16, kIpoSubnqn = 256, kIpoHostnqn = 512;  // connect data
constexpr uint16_t kIpoQid = 42, kIpoSqsize = 44;                         // SQE
uint32_t invalid_parameter(bool in_data, uint16_t offset) {
  return uint32_t(offset) | (in_data ? 1u << 16 : 0u);
}

constexpr uint16_t kDynamicCntlid = 0xffff;
constexpr uint16_t kMaxCntlid = 0xffef;  // FFF0h and above are reserved
constexpr uint32_t kCcShnMask = 3u << prop::kCcShnShift;
constexpr uint32_t kCstsShstMask = 3u << 2;
constexpr uint32_t kCstsShstProcessing = 1u << 2;

// A NUL must end the NQN field: the offset of the first bad field, or 0 when both are sound.
uint16_t bad_nqn_field(const uint8_t* data) {
  if (!std::memchr(data + kIpoSubnqn, 0, kNqnSize)) return kIpoSubnqn;
  if (!std::memchr(data + kIpoHostnqn, 0, kNqnSize)) return kIpoHostnqn;
  return 0;
}

}  // namespace

void TargetCore::execute_fabrics(Request* req) {
  // Property Get/Set exist on the admin queue only; an I/O queue knows Connect and nothing else.
  uint8_t fctype = req->sqe.fctype();
  if (req->qid == 0 && fctype == fabrics_type::kPropertyGet) return property_get(req);
  if (req->qid == 0 && fctype == fabrics_type::kPropertySet) return property_set(req);
  complete(req, sc::kInvalidOpcode | sc::kDnr);
}

void TargetCore::connect(Request* req) {
  auto invalid = [this, req](bool in_data, uint16_t offset) {
    req->cqe.dw0 = invalid_parameter(in_data, offset);
    complete(req, sc::kConnectInvalidParameters | sc::kDnr);
  };
  ConnectCommand cmd = decode_connect_command(req->sqe);
  if (cmd.recfmt != 0) return complete(req, sc::kConnectIncompatibleFormat | sc::kDnr);
  if (req->data.size() < kConnectDataSize) return invalid(true, 0);
  if (uint16_t field = bad_nqn_field(req->data.data())) return invalid(true, field);
  ConnectData data;
  if (!decode_connect_data(req->data.data(), &data)) return invalid(true, kIpoSubnqn);
  if (!valid_nqn(data.hostnqn)) return invalid(true, kIpoHostnqn);
  Subsystem* subsys = data.subnqn == kDiscoveryNqn ? discovery_subsys_.get() : find_subsystem(data.subnqn);
  // A subsystem is reachable only through the ports that offer it: elsewhere it does not exist.
  if (!subsys || !port_offers(req->port, data.subnqn)) return invalid(true, kIpoSubnqn);
  if (!host_allowed(*subsys, data.hostnqn)) {
    LOG_LIMITED(LogLevel::kWarn, "not allowed", data.hostnqn, "%s: host %s not allowed", subsys->nqn.c_str(),
                data.hostnqn.c_str());
    return complete(req, sc::kConnectInvalidHost | sc::kDnr);
  }
  // The QID in the command must name the queue the command came in on.
  if (cmd.qid != req->qid) {
    req->cqe.dw0 = invalid_parameter(false, kIpoQid);
    return complete(req, sc::kConnectInvalidParameters | sc::kDnr);
  }
  // The queue must hold SQSIZE + 1 commands: the transport set its size at the handshake.
  if (req->queue_size && uint32_t(cmd.sqsize) + 1 > req->queue_size) {
    req->cqe.dw0 = invalid_parameter(false, kIpoSqsize);
    return complete(req, sc::kConnectInvalidParameters | sc::kDnr);
  }
  if (cmd.qid == 0) return connect_admin(req, subsys, cmd, data);
  connect_io(req, subsys, cmd, data);
}

void TargetCore::connect_admin(Request* req, Subsystem* subsys, const ConnectCommand& cmd, const ConnectData& data) {
  // Only the dynamic controller model: the admin queue asks for "any" and we pick.
  if (data.cntlid != kDynamicCntlid) {
    req->cqe.dw0 = invalid_parameter(true, kIpoCntlid);
    return complete(req, sc::kConnectInvalidParameters | sc::kDnr);
  }
  if (cmd.sqsize == 0 || uint32_t(cmd.sqsize) + 1 > limits_.max_admin_queue_size) {
    req->cqe.dw0 = invalid_parameter(false, kIpoSqsize);
    return complete(req, sc::kConnectInvalidParameters | sc::kDnr);
  }
  uint16_t cntlid = 0;
  for (uint32_t tries = 0; tries < kMaxCntlid && cntlid == 0; ++tries) {
    uint16_t candidate = next_cntlid_;
    next_cntlid_ = candidate >= kMaxCntlid ? 1 : uint16_t(candidate + 1);
    if (candidate != 0 && !controllers_.count(candidate)) cntlid = candidate;
  }
  if (cntlid == 0) return complete(req, sc::kConnectControllerBusy);
  auto ctrl = std::make_shared<Controller>(cntlid, subsys, data.hostnqn, data.hostid, cmd.kato_ms);
  controllers_[cntlid] = ctrl;
  if (cmd.kato_ms) keep_alive_.insert(cntlid);
  // A host with keys authenticates, on every controller but the discovery controller's (as nvmet).
  if (!is_discovery(subsys)) ctrl->auth = host_auth(data.hostnqn);
  LOG_LIMITED(LogLevel::kInfo, "controller", data.hostnqn, "%s: controller %u for host %s (kato %u ms%s)",
              subsys->nqn.c_str(), cntlid, data.hostnqn.c_str(), cmd.kato_ms,
              ctrl->auth ? ", DH-HMAC-CHAP required" : "");
  req->connected = ctrl;
  req->cqe.dw0 = cntlid;
  start_queue_auth(*ctrl, 0, req);
  complete(req, sc::kSuccess);
}

void TargetCore::connect_io(Request* req, Subsystem* subsys, const ConnectCommand& cmd, const ConnectData& data) {
  // A discovery controller has an admin queue only.
  if (is_discovery(subsys)) {
    req->cqe.dw0 = invalid_parameter(false, kIpoQid);
    return complete(req, sc::kConnectInvalidParameters | sc::kDnr);
  }
  std::shared_ptr<Controller> ctrl = find_controller(data.cntlid);
  if (!ctrl || ctrl->subsystem() != subsys || ctrl->hostnqn() != data.hostnqn) {
    req->cqe.dw0 = invalid_parameter(true, kIpoCntlid);
    return complete(req, sc::kConnectInvalidParameters | sc::kDnr);
  }
  if (!(ctrl->csts & prop::kCstsReady)) return complete(req, sc::kCommandSequenceError);
  uint16_t limit = ctrl->io_queues_set ? ctrl->io_queues_granted : limits_.max_io_queues;
  if (cmd.qid > limit || ctrl->connected_io_queues.count(cmd.qid)) {
    req->cqe.dw0 = invalid_parameter(false, kIpoQid);
    return complete(req, sc::kConnectInvalidParameters | sc::kDnr);
  }
  if (cmd.sqsize == 0 || uint32_t(cmd.sqsize) + 1 > limits_.max_queue_size) {
    req->cqe.dw0 = invalid_parameter(false, kIpoSqsize);
    return complete(req, sc::kConnectInvalidParameters | sc::kDnr);
  }
  ctrl->connected_io_queues.insert(cmd.qid);
  req->connected = ctrl;
  req->cqe.dw0 = ctrl->cntlid();
  start_queue_auth(*ctrl, cmd.qid, req);
  complete(req, sc::kSuccess);
}

uint64_t TargetCore::cap() const {
  uint16_t mqes = limits_.max_queue_size > 1 ? uint16_t(limits_.max_queue_size - 1) : 1;
  uint64_t v = mqes;
  v |= 1ull << 16;   // CQR: queues must be physically contiguous (there is nothing to map)
  v |= 15ull << 24;  // TO: 7.5 s for CSTS.RDY to follow CC.EN
  v |= 1ull << 37;   // CSS: NVM command set; MPSMIN = MPSMAX = 0 (4 KiB pages)
  return v;
}

void TargetCore::property_get(Request* req) {
  uint32_t attrib = req->sqe.cdw10 & 0x7;
  if (attrib > 1) return complete(req, sc::kInvalidField | sc::kDnr);
  bool eight_bytes = attrib == 1;
  const Controller& ctrl = *req->ctrl;
  uint64_t value = 0;
  // CAP is the only 8-byte register we have; the others are 4 bytes and must be read as such.
  switch (req->sqe.cdw11) {
    case prop::kCap:
      value = cap();
      break;
    case prop::kVs:
      value = prop::kVersion20;
      break;
    case prop::kCc:
      value = ctrl.cc;
      break;
    case prop::kCsts:
      value = ctrl.csts;
      break;
    default:
      return complete(req, sc::kInvalidField | sc::kDnr);
  }
  if (eight_bytes != (req->sqe.cdw11 == prop::kCap)) return complete(req, sc::kInvalidField | sc::kDnr);
  req->cqe.dw0 = uint32_t(value);
  req->cqe.dw1 = uint32_t(value >> 32);
  complete(req, sc::kSuccess);
}

void TargetCore::property_set(Request* req) {
  uint32_t attrib = req->sqe.cdw10 & 0x7;
  // CC is the only writable register (NSSR is not supported), 4 bytes wide.
  if (attrib != 0 || req->sqe.cdw11 != prop::kCc) return complete(req, sc::kInvalidField | sc::kDnr);
  update_cc(req->ctrl, req->sqe.cdw12);
  complete(req, sc::kSuccess);
}

void TargetCore::update_cc(const std::shared_ptr<Controller>& ctrl, uint32_t cc) {
  uint32_t old = ctrl->cc;
  ctrl->cc = cc;
  bool was_enabled = old & prop::kCcEnable, enabled = cc & prop::kCcEnable;
  if (enabled && !was_enabled) ctrl->csts |= prop::kCstsReady;
  if (!enabled && was_enabled) {
    // Controller reset: the host reconnects its I/O queues and negotiates their number again.
    ctrl->csts &= ~(prop::kCstsReady | kCstsShstMask);
    ctrl->connected_io_queues.clear();
    for (auto it = ctrl->queue_auth.begin(); it != ctrl->queue_auth.end();)
      it = it->first == 0 ? std::next(it) : ctrl->queue_auth.erase(it);
    ctrl->io_queues_set = false;
    ctrl->io_queues_granted = 0;
    LOG_LIMITED(LogLevel::kInfo, "reset", ctrl->hostnqn(), "controller %u: reset", ctrl->cntlid());
  }
  bool was_shutdown = old & kCcShnMask, shutdown = cc & kCcShnMask;
  if (shutdown && !was_shutdown) {
    // SHST reads "processing" until every namespace of the subsystem has flushed its cache.
    ctrl->csts = (ctrl->csts & ~kCstsShstMask) | kCstsShstProcessing;
    std::vector<Namespace*> namespaces;
    for (const auto& ns : ctrl->subsystem()->namespaces) namespaces.push_back(ns.get());
    start_flush_all(namespaces, nullptr, nullptr, ctrl);
  } else if (!shutdown && was_shutdown) {
    ctrl->csts &= ~kCstsShstMask;
  }
}

}  // namespace nvmeoe
