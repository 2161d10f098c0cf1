// Target core: subsystem registry, controller lifetime and keep-alive, command dispatch and
// completion, and the routing of backend completions. The command handlers live in
// fabrics_cmd.cc (Connect, properties), admin_cmd.cc and io_cmd.cc.
#include "target/core.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "common/bytes.h"
#include "common/log.h"
#include "common/log_limit.h"

namespace nvmeoe {

namespace {

constexpr size_t kErrorLogEntries = 64;  // Identify ELPE = 63
// Slack on top of KATO before a controller is declared dead: a host sends its Keep Alive at
// about half the timeout, but frames queue and timers are coarse on both sides.
constexpr auto kKeepAliveGrace = std::chrono::milliseconds(500);
constexpr uint32_t kBroadcastNsid = 0xffffffff;

// FNV-1a over the NQN then the NSID, seeded twice for 128 bits: stable across restarts and
// different for every (subsystem, namespace) pair in practice.
std::array<uint8_t, 16> derive_nguid(const std::string& nqn, uint32_t nsid) {
  std::array<uint8_t, 16> out{};
  const uint64_t seeds[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
  for (int half = 0; half < 2; ++half) {
    uint64_t h = seeds[half];
    auto mix = [&h](uint8_t byte) {
      h ^= byte;
      h *= 0x100000001b3ull;
    };
    for (unsigned char c : nqn) mix(c);
    for (int i = 0; i < 4; ++i) mix(uint8_t(nsid >> (8 * i)));
    put_le64(out.data() + 8 * half, h);
  }
  return out;
}

}  // namespace

Namespace* Subsystem::find_namespace(uint32_t nsid) const {
  for (const auto& ns : namespaces)
    if (ns->nsid == nsid) return ns.get();
  return nullptr;
}

Controller::Controller(uint16_t cntlid, Subsystem* subsys, std::string hostnqn, std::array<uint8_t, 16> hostid,
                       uint32_t kato)
    : kato_ms(kato), cntlid_(cntlid), subsys_(subsys), hostnqn_(std::move(hostnqn)), hostid_(hostid) {
  last_keep_alive = Clock::now();
}

TargetCore::TargetCore(TargetLimits limits) : limits_(limits) {
  discovery_subsys_ = std::make_unique<Subsystem>();
  discovery_subsys_->nqn = kDiscoveryNqn;
  discovery_subsys_->serial = serial_from_nqn(kDiscoveryNqn);
  discovery_subsys_->model = "nvmeoe discovery";
}

bool TargetCore::host_listed(const std::string& hostnqn) const {
  for (const auto& sub : subsystems_)
    if (sub->allowed_hosts.count(hostnqn)) return true;
  return false;
}

bool Controller::authenticated(uint16_t qid) const {
  if (!auth) return true;
  auto it = queue_auth.find(qid);
  return it != queue_auth.end() && it->second->authenticated;
}

std::shared_ptr<const HostAuth> TargetCore::host_auth(const std::string& hostnqn) const {
  auto it = host_auth_.find(hostnqn);
  return it == host_auth_.end() ? nullptr : it->second;
}

bool TargetCore::host_allowed(const Subsystem& s, const std::string& hostnqn) {
  return s.allow_any_host || s.allowed_hosts.count(hostnqn);
}

void TargetCore::set_ports(std::vector<Port> ports) {
  ports_ = std::move(ports);
  ++genctr_;
}

bool TargetCore::port_offers(size_t port, const std::string& subnqn) const {
  if (subnqn == kDiscoveryNqn || port >= ports_.size()) return true;
  const Port& p = ports_[port];
  return p.all_subsystems || p.subsystems.count(subnqn);
}

void TargetCore::queue_released(Controller& ctrl, uint16_t qid) {
  if (qid == 0) return;  // the admin queue is the controller: remove_controller()
  ctrl.connected_io_queues.erase(qid);
  ctrl.queue_auth.erase(qid);
}

std::vector<DiscoveryLogEntry> TargetCore::discovery_entries(const std::string& hostnqn) const {
  std::vector<DiscoveryLogEntry> out;
  for (const Port& port : ports_) {
    char trsvcid[8];
    std::snprintf(trsvcid, sizeof trsvcid, "0x%04x", port.ethertype);
    for (const auto& sub : subsystems_) {
      if (!port.all_subsystems && !port.subsystems.count(sub->nqn)) continue;
      if (!host_allowed(*sub, hostnqn)) continue;
      DiscoveryLogEntry e;
      e.portid = port.portid;
      e.asqsz = limits_.max_admin_queue_size;
      e.trsvcid = trsvcid;
      e.subnqn = sub->nqn;
      e.traddr = port.traddr;
      out.push_back(std::move(e));
    }
  }
  return out;
}

Status TargetCore::add_subsystem(std::unique_ptr<Subsystem> subsys) {
  if (!subsys) return Status::error("no subsystem");
  if (!valid_nqn(subsys->nqn)) return Status::error("invalid subsystem NQN '" + subsys->nqn + "'");
  if (subsys->nqn == kDiscoveryNqn)
    return Status::error("'" + subsys->nqn + "' is the discovery subsystem's NQN, reserved", EINVAL);
  if (find_subsystem(subsys->nqn)) return Status::error("duplicate subsystem NQN '" + subsys->nqn + "'", EEXIST);
  std::set<uint32_t> seen;
  for (const auto& ns : subsys->namespaces) {
    if (!ns || !ns->backend) return Status::error(subsys->nqn + ": namespace without a backend");
    // 0 is no namespace and FFFFFFFFh means "all namespaces" in commands.
    if (ns->nsid == 0 || ns->nsid == kBroadcastNsid)
      return Status::error(subsys->nqn + ": invalid NSID " + std::to_string(ns->nsid));
    if (!seen.insert(ns->nsid).second)
      return Status::error(subsys->nqn + ": duplicate NSID " + std::to_string(ns->nsid), EEXIST);
  }
  std::sort(subsys->namespaces.begin(), subsys->namespaces.end(),
            [](const auto& a, const auto& b) { return a->nsid < b->nsid; });
  for (auto& ns : subsys->namespaces) finish_namespace(*subsys, ns.get());
  if (subsys->serial.empty()) subsys->serial = serial_from_nqn(subsys->nqn);
  LOG_INFO("subsystem %s: %zu namespace(s)", subsys->nqn.c_str(), subsys->namespaces.size());
  subsystems_.push_back(std::move(subsys));
  ++genctr_;
  return Status::ok();
}

void TargetCore::finish_namespace(const Subsystem& subsys, Namespace* ns) {
  if (ns->backend->caps().read_only) ns->read_only = true;
  // An NGUID from the configuration is kept; otherwise one is derived, stable across restarts.
  if (ns->nguid == std::array<uint8_t, 16>{}) ns->nguid = derive_nguid(subsys.nqn, ns->nsid);
}

Status TargetCore::add_namespace(Subsystem* subsys, std::unique_ptr<Namespace> ns) {
  if (!ns || !ns->backend) return Status::error(subsys->nqn + ": namespace without a backend");
  if (ns->nsid == 0 || ns->nsid == kBroadcastNsid)
    return Status::error(subsys->nqn + ": invalid NSID " + std::to_string(ns->nsid));
  if (subsys->find_namespace(ns->nsid))
    return Status::error(subsys->nqn + ": duplicate NSID " + std::to_string(ns->nsid), EEXIST);
  finish_namespace(*subsys, ns.get());
  LOG_INFO("%s: namespace %u added", subsys->nqn.c_str(), ns->nsid);
  namespace_changed(subsys, ns->nsid);
  auto at = std::find_if(subsys->namespaces.begin(), subsys->namespaces.end(),
                         [&](const auto& n) { return n->nsid > ns->nsid; });
  subsys->namespaces.insert(at, std::move(ns));
  return Status::ok();
}

void TargetCore::remove_namespace(Subsystem* subsys, uint32_t nsid) {
  for (auto it = subsys->namespaces.begin(); it != subsys->namespaces.end(); ++it) {
    if ((*it)->nsid != nsid) continue;
    LOG_INFO("%s: namespace %u removed", subsys->nqn.c_str(), nsid);
    namespace_changed(subsys, nsid);
    retired_namespaces_.push_back(std::move(*it));
    subsys->namespaces.erase(it);
    return;
  }
}

void TargetCore::remove_subsystem(const std::string& nqn) {
  for (auto it = subsystems_.begin(); it != subsystems_.end(); ++it) {
    if ((*it)->nqn != nqn) continue;
    std::vector<uint16_t> gone;
    for (const auto& [cntlid, ctrl] : controllers_)
      if (ctrl->subsystem() == it->get()) gone.push_back(cntlid);
    for (uint16_t cntlid : gone) remove_controller(cntlid);
    LOG_INFO("subsystem %s removed (%zu controller(s) torn down)", nqn.c_str(), gone.size());
    retired_subsystems_.push_back(std::move(*it));
    subsystems_.erase(it);
    ++genctr_;
    return;
  }
}

void TargetCore::set_allowed_hosts(Subsystem* subsys, bool allow_any_host, std::set<std::string> hosts) {
  subsys->allow_any_host = allow_any_host;
  subsys->allowed_hosts = std::move(hosts);
  std::vector<uint16_t> gone;
  for (const auto& [cntlid, ctrl] : controllers_)
    if (ctrl->subsystem() == subsys && !host_allowed(*subsys, ctrl->hostnqn())) gone.push_back(cntlid);
  for (uint16_t cntlid : gone) {
    LOG_INFO("%s: controller %u torn down: host no longer allowed", subsys->nqn.c_str(), cntlid);
    remove_controller(cntlid);
  }
  ++genctr_;
}

void TargetCore::namespace_changed(const Subsystem* subsys, uint32_t nsid) {
  for (const auto& [cntlid, ctrl] : controllers_) {
    if (ctrl->subsystem() != subsys) continue;
    if (ctrl->changed_nsids.size() <= 1024) ctrl->changed_nsids.insert(nsid);  // past 1024: "too many"
    post_namespace_notice(*ctrl);
  }
}

void TargetCore::post_namespace_notice(Controller& ctrl) {
  if (ctrl.changed_nsids.empty() || ctrl.ns_notice_outstanding) return;
  auto aer = pending_aers_.find(ctrl.cntlid());
  if (aer == pending_aers_.end()) return;  // reported when the host next sends an AER
  Request* req = aer->second;
  pending_aers_.erase(aer);
  ctrl.ns_notice_outstanding = true;
  // Asynchronous event: type 2h (notice), information 00h (Namespace Attribute Changed), log 04h.
  req->cqe.dw0 = 0x2u | (0x00u << 8) | (uint32_t(log_id::kChangedNamespaceList) << 16);
  complete(req, sc::kSuccess);
}

size_t TargetCore::collect_retired() {
  auto idle = [](const Namespace& ns) { return ns.backend->in_flight() == 0; };
  std::erase_if(retired_namespaces_, [&](const auto& ns) { return idle(*ns); });
  std::erase_if(retired_subsystems_, [&](const auto& s) {
    for (const auto& ns : s->namespaces)
      if (!idle(*ns)) return false;
    return true;
  });
  return retired_namespaces_.size() + retired_subsystems_.size();
}

template <typename Fn>
void TargetCore::for_each_backend(Fn fn) const {
  // Indexes, not iterators: a completion callback may re-enter the core.
  for (size_t i = 0; i < subsystems_.size(); ++i)
    for (size_t j = 0; j < subsystems_[i]->namespaces.size(); ++j) fn(*subsystems_[i]->namespaces[j]->backend);
  for (size_t i = 0; i < retired_subsystems_.size(); ++i)
    for (size_t j = 0; j < retired_subsystems_[i]->namespaces.size(); ++j)
      fn(*retired_subsystems_[i]->namespaces[j]->backend);
  for (size_t i = 0; i < retired_namespaces_.size(); ++i) fn(*retired_namespaces_[i]->backend);
}

Subsystem* TargetCore::find_subsystem(const std::string& nqn) const {
  for (const auto& s : subsystems_)
    if (s->nqn == nqn) return s.get();
  return nullptr;
}

void TargetCore::execute(Request* req) {
  req->cqe = Cqe{};
  req->data_len = 0;
  req->connected.reset();
  const Sqe& sqe = req->sqe;
  bool fabrics = sqe.opcode == admin_opcode::kFabrics;
  if (fabrics && sqe.fctype() == fabrics_type::kConnect) {
    // A queue connects once; a second Connect on a bound queue is out of sequence.
    if (req->ctrl) return complete(req, sc::kCommandSequenceError);
    return connect(req);
  }
  if (!req->ctrl || req->ctrl->dead) return complete(req, sc::kCommandSequenceError);
  if (req->qid == 0) req->ctrl->last_keep_alive = Clock::now();  // traffic-based keep-alive
  if (fabrics && (sqe.fctype() == fabrics_type::kAuthSend || sqe.fctype() == fabrics_type::kAuthReceive))
    return execute_auth(req);
  // A queue that must authenticate runs nothing else until it has (nvmet_check_auth_status).
  if (!req->ctrl->authenticated(req->qid)) return complete(req, sc::kAuthRequired | sc::kDnr);
  if (fabrics) return execute_fabrics(req);
  if (req->qid == 0) return execute_admin(req);
  execute_io(req);
}

void TargetCore::complete(Request* req, NvmeStatus status) {
  req->cqe.status = status;
  req->cqe.cid = req->sqe.cid;
  req->cqe.sq_id = req->qid;
  if (!status_ok(status)) record_error(req);
  if (req->on_complete) req->on_complete(req);
}

void TargetCore::record_error(Request* req) {
  Controller* ctrl = req->ctrl ? req->ctrl.get() : req->connected.get();
  if (!ctrl) return;
  ErrorLogEntry e;
  e.error_count = ++ctrl->error_count;
  e.sqid = req->qid;
  e.cid = req->sqe.cid;
  e.status = req->cqe.status;
  e.nsid = req->sqe.nsid;
  uint8_t op = req->sqe.opcode;
  if (req->qid != 0 && (op == io_opcode::kRead || op == io_opcode::kWrite || op == io_opcode::kWriteZeroes))
    e.lba = uint64_t(req->sqe.cdw10) | uint64_t(req->sqe.cdw11) << 32;
  ctrl->error_log.push_front(e);
  while (ctrl->error_log.size() > kErrorLogEntries) ctrl->error_log.pop_back();
}

std::vector<uint16_t> TargetCore::expire_keep_alive(Clock::time_point now) {
  std::vector<uint16_t> expired;
  for (uint16_t cntlid : keep_alive_) {
    auto it = controllers_.find(cntlid);
    if (it == controllers_.end()) continue;
    const std::shared_ptr<Controller>& ctrl = it->second;
    if (ctrl->kato_ms == 0) continue;
    if (now - ctrl->last_keep_alive > std::chrono::milliseconds(ctrl->kato_ms) + kKeepAliveGrace)
      expired.push_back(cntlid);
  }
  for (uint16_t cntlid : expired) {
    LOG_LIMITED(LogLevel::kWarn, "keep-alive timeout", std::to_string(cntlid), "controller %u: keep-alive timeout",
                cntlid);
    remove_controller(cntlid);
  }
  return expired;
}

void TargetCore::remove_controller(uint16_t cntlid) {
  auto it = controllers_.find(cntlid);
  if (it == controllers_.end()) return;
  std::shared_ptr<Controller> ctrl = it->second;
  ctrl->dead = true;
  controllers_.erase(it);
  keep_alive_.erase(cntlid);
  auto aer = pending_aers_.find(cntlid);
  if (aer != pending_aers_.end()) {
    Request* req = aer->second;
    pending_aers_.erase(aer);
    complete(req, sc::kAbortRequested);
  }
}

std::shared_ptr<Controller> TargetCore::find_controller(uint16_t cntlid) const {
  auto it = controllers_.find(cntlid);
  return it == controllers_.end() ? nullptr : it->second;
}

void TargetCore::backend_done(const BackendCompletion& c) {
  uint64_t kind = c.tag & kTagKindMask;
  if (kind == kTagRequest) return request_op_done(reinterpret_cast<Request*>(c.tag), c.result);
  if (kind == kTagFlushAll) return flush_all_op_done(reinterpret_cast<FlushAll*>(c.tag & ~kTagKindMask), c.result);
  LOG_ERROR("backend completion with unknown tag %#llx", static_cast<unsigned long long>(c.tag));
}

void TargetCore::flush_backends() {
  for_each_backend([](Backend& b) { b.flush_submissions(); });
}

void TargetCore::reap_backends() {
  for_each_backend([this](Backend& b) { b.reap([this](const BackendCompletion& c) { backend_done(c); }); });
}

std::vector<int> TargetCore::backend_fds() const {
  std::vector<int> fds;
  for_each_backend([&fds](Backend& b) {
    int fd = b.wait_fd();
    if (fd >= 0) fds.push_back(fd);
  });
  return fds;
}

size_t TargetCore::backend_in_flight() const {
  size_t n = 0;
  for_each_backend([&n](Backend& b) { n += b.in_flight(); });
  return n;
}

void TargetCore::flush_all(void (*done)(void*), void* arg) {
  std::vector<Namespace*> all;
  for (const auto& s : subsystems_)
    for (const auto& ns : s->namespaces) all.push_back(ns.get());
  start_flush_all(all, done, arg, {});
}

}  // namespace nvmeoe
