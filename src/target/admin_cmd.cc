// Admin commands: Identify, Get Log Page (error information, SMART / health, firmware slot),
// Set/Get Features (number of queues, keep-alive timer), Asynchronous Event Request, Abort and
// Keep Alive. Every handler ends in exactly one complete().
#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "target/core.h"

#ifndef NVMEOE_VERSION
#define NVMEOE_VERSION "0.0.0"  // the build defines it from the project version
#endif

namespace nvmeoe {

namespace {

constexpr uint32_t kBroadcastNsid = 0xffffffff;
constexpr size_t kErrorLogEntries = 64;
constexpr uint64_t kSmartDataUnitBytes = 512 * 1000;

uint64_t data_units(uint64_t bytes) {
  return bytes / kSmartDataUnitBytes + (bytes % kSmartDataUnitBytes != 0);
}

bool is_read_only(const Namespace& ns) {
  return ns.read_only || ns.backend->caps().read_only;
}

}  // namespace

void TargetCore::execute_admin(Request* req) {
  switch (req->sqe.opcode) {
    case admin_opcode::kGetLogPage:
      return get_log_page(req);
    case admin_opcode::kIdentify:
      return identify(req);
    case admin_opcode::kAbort:
      // Commands run to completion here, so there is never anything to abort: DW0 bit 0 = 1 says
      // "not aborted", and the command itself succeeds.
      req->cqe.dw0 = 1;
      return complete(req, sc::kSuccess);
    case admin_opcode::kSetFeatures:
      return set_features(req);
    case admin_opcode::kGetFeatures:
      return get_features(req);
    case admin_opcode::kAsyncEventRequest:
      return async_event_request(req);
    case admin_opcode::kKeepAlive:
      return complete(req, sc::kSuccess);  // execute() refreshed the timer
    default:
      return complete(req, sc::kInvalidOpcode | sc::kDnr);
  }
}

void TargetCore::identify(Request* req) {
  uint8_t cns = uint8_t(req->sqe.cdw10);
  if (cns > cns::kNamespaceDescriptors && cns != cns::kNsControllerList && cns != cns::kControllerList)
    return complete(req, sc::kInvalidField | sc::kDnr);
  if (req->data.size() < kIdentifySize) return complete(req, sc::kInvalidField | sc::kDnr);
  Subsystem* subsys = req->ctrl->subsystem();
  uint32_t nsid = req->sqe.nsid;
  switch (cns) {
    case cns::kController:
      return identify_controller(req);
    case cns::kNamespace:
      return identify_namespace(req);
    case cns::kActiveNamespaceList: {
      if (nsid >= 0xfffffffe) return complete(req, sc::kInvalidNamespace | sc::kDnr);
      std::vector<uint32_t> nsids;
      for (const auto& ns : subsys->namespaces) nsids.push_back(ns->nsid);
      encode_active_ns_list(nsids, nsid, req->data.data());
      break;
    }
    case cns::kNamespaceDescriptors: {
      Namespace* ns = subsys->find_namespace(nsid);
      if (!ns) return complete(req, sc::kInvalidNamespace | sc::kDnr);
      encode_ns_descriptors(ns->nguid, req->data.data());
      break;
    }
    case cns::kNsControllerList:
    case cns::kControllerList: {
      // Every controller of the subsystem has every namespace attached, so both lists are the
      // subsystem's controllers; 12h only checks that the namespace exists.
      if (cns == cns::kNsControllerList && !subsys->find_namespace(nsid))
        return complete(req, sc::kInvalidNamespace | sc::kDnr);
      std::vector<uint16_t> ids;
      for (const auto& [id, ctrl] : controllers_)
        if (ctrl->subsystem() == subsys) ids.push_back(id);
      encode_controller_list(ids, uint16_t(req->sqe.cdw10 >> 16), req->data.data());
      break;
    }
  }
  req->data_len = kIdentifySize;
  complete(req, sc::kSuccess);
}

void TargetCore::identify_controller(Request* req) {
  const Subsystem& subsys = *req->ctrl->subsystem();
  IdentifyController id;
  id.serial = subsys.serial;
  id.model = subsys.model;
  id.firmware = NVMEOE_VERSION;
  // MDTS is a power of two of the minimum page size (4 KiB); round down so we never promise more.
  uint8_t mdts = 0;
  while (mdts < 31 && (uint64_t(4096) << (mdts + 1)) <= limits_.max_transfer) ++mdts;
  id.mdts = mdts;
  id.cntlid = req->ctrl->cntlid();
  id.nn = subsys.namespaces.empty() ? 0 : subsys.namespaces.back()->nsid;
  id.oncs = idctl::kOncsDsm | idctl::kOncsWriteZeroes;
  id.vwc = 1;
  id.sgls = 1;
  id.maxcmd = limits_.max_queue_size;
  id.subnqn = subsys.nqn;
  id.ioccsz = 4;  // the transport, not the core, knows its in-capsule data capacity
  id.iorcsz = 1;
  id.kas = 10;
  id.cntrltype = 1;
  if (is_discovery(&subsys)) {
    // A discovery controller: no namespaces, no I/O commands, the admin queue only.
    id.cntrltype = 2;
    id.nn = 0;
    id.oncs = 0;
    id.vwc = 0;
    id.maxcmd = limits_.max_admin_queue_size;
  }
  if (!is_discovery(&subsys)) id.oaes = idctl::kOaesNamespaceAttribute;
  id.elpe = kErrorLogEntries - 1;
  id.aerl = 0;    // one outstanding Asynchronous Event Request
  id.lpa = 0x05;  // SMART per namespace, extended Get Log Page data (NUMDU, LPO)
  encode_identify_controller(id, req->data.data());
  req->data_len = kIdentifySize;
  complete(req, sc::kSuccess);
}

void TargetCore::identify_namespace(Request* req) {
  const Namespace* ns = req->ctrl->subsystem()->find_namespace(req->sqe.nsid);
  if (!ns) return complete(req, sc::kInvalidNamespace | sc::kDnr);
  const BackendCaps& caps = ns->backend->caps();
  IdentifyNamespace id;
  id.nsze = id.ncap = id.nuse = caps.size_bytes / kLbaSize;
  if (caps.deallocate) {
    id.nsfeat = 0x01;  // thin provisioning: deallocated blocks give their space back
    id.dlfeat = 0x09;  // deallocated blocks read as zeroes; Write Zeroes may deallocate
  }
  id.nguid = ns->nguid;
  id.write_protected = is_read_only(*ns);
  encode_identify_namespace(id, req->data.data());
  req->data_len = kIdentifySize;
  complete(req, sc::kSuccess);
}

void TargetCore::build_smart_log(Request* req, std::vector<uint8_t>* page, NvmeStatus* status) const {
  const Subsystem& subsys = *req->ctrl->subsystem();
  std::vector<const Namespace*> namespaces;
  uint32_t nsid = req->sqe.nsid;
  if (nsid == 0 || nsid == kBroadcastNsid) {
    for (const auto& ns : subsys.namespaces) namespaces.push_back(ns.get());
  } else if (const Namespace* ns = subsys.find_namespace(nsid)) {
    namespaces.push_back(ns);
  } else {
    *status = sc::kInvalidNamespace | sc::kDnr;
    return;
  }
  SmartLog log;
  uint64_t bytes_read = 0, bytes_written = 0;
  for (const Namespace* ns : namespaces) {
    bytes_read += ns->bytes_read;
    bytes_written += ns->bytes_written;
    log.host_reads += ns->reads;
    log.host_writes += ns->writes;
    auto it = media_errors_.find(ns);
    if (it != media_errors_.end()) log.media_errors += it->second;
  }
  log.data_units_read = data_units(bytes_read);
  log.data_units_written = data_units(bytes_written);
  log.error_log_entries = req->ctrl->error_count;
  log.power_on_hours = uint64_t(std::chrono::duration_cast<std::chrono::hours>(Clock::now() - started_).count());
  page->assign(kSmartLogSize, 0);
  encode_smart_log(log, page->data());
}

void TargetCore::get_log_page(Request* req) {
  const Sqe& s = req->sqe;
  uint8_t lid = uint8_t(s.cdw10);
  uint64_t dwords = ((uint64_t(s.cdw11 & 0xffff) << 16) | (s.cdw10 >> 16)) + 1;
  uint64_t bytes = dwords * 4;
  uint64_t offset = uint64_t(s.cdw12) | uint64_t(s.cdw13) << 32;
  std::vector<uint8_t> page;
  NvmeStatus status = sc::kSuccess;
  switch (lid) {
    case log_id::kErrorInformation: {
      page.assign(kErrorLogEntries * kErrorLogEntrySize, 0);
      size_t i = 0;
      for (const ErrorLogEntry& e : req->ctrl->error_log) {
        if (i == kErrorLogEntries) break;
        encode_error_log_entry(e, page.data() + kErrorLogEntrySize * i++);
      }
      break;
    }
    case log_id::kSmartHealth:
      build_smart_log(req, &page, &status);
      break;
    case log_id::kChangedNamespaceList: {
      // Up to 1024 NSIDs; more than that is reported as FFFFFFFFh in the first entry.
      page.assign(4096, 0);
      const auto& changed = req->ctrl->changed_nsids;
      if (changed.size() > 1024) {
        put_le32(page.data(), 0xffffffff);
      } else {
        size_t i = 0;
        for (uint32_t nsid : changed) put_le32(page.data() + 4 * i++, nsid);
      }
      if (!(s.cdw10 & (1u << 15))) {  // RAE clear: reading the page re-arms the notice
        req->ctrl->changed_nsids.clear();
        req->ctrl->ns_notice_outstanding = false;
      }
      break;
    }
    case log_id::kDiscovery:
      // Only a discovery controller has this page; it lists what this host may connect to.
      if (!is_discovery(req->ctrl->subsystem())) return complete(req, sc::kInvalidLogPage | sc::kDnr);
      page = encode_discovery_log(genctr_, discovery_entries(req->ctrl->hostnqn()));
      break;
    case log_id::kFirmwareSlot:
      page.assign(kFirmwareLogSize, 0);
      encode_firmware_log(NVMEOE_VERSION, page.data());
      break;
    default:
      return complete(req, sc::kInvalidLogPage | sc::kDnr);
  }
  if (!status_ok(status)) return complete(req, status);
  if (bytes > req->data.size() || offset % 4 != 0 || offset > page.size())
    return complete(req, sc::kInvalidField | sc::kDnr);
  // The part of the request past the end of the page reads as zeroes.
  size_t copied = size_t(std::min<uint64_t>(bytes, page.size() - offset));
  std::memcpy(req->data.data(), page.data() + offset, copied);
  std::memset(req->data.data() + copied, 0, size_t(bytes) - copied);
  req->data_len = uint32_t(bytes);
  complete(req, sc::kSuccess);
}

void TargetCore::set_features(Request* req) {
  const Sqe& s = req->sqe;
  if (s.cdw10 & (1u << 31)) return complete(req, sc::kFeatureNotSaveable | sc::kDnr);
  Controller& ctrl = *req->ctrl;
  switch (uint8_t(s.cdw10)) {
    case feature_id::kNumberOfQueues: {
      uint16_t nsqr = uint16_t(s.cdw11), ncqr = uint16_t(s.cdw11 >> 16);
      if (nsqr == 0xffff || ncqr == 0xffff) return complete(req, sc::kInvalidField | sc::kDnr);
      // The count is fixed once I/O queues exist (until a controller reset).
      if (!ctrl.connected_io_queues.empty()) return complete(req, sc::kCommandSequenceError);
      uint32_t wanted = uint32_t(std::max(nsqr, ncqr)) + 1;
      uint16_t granted = uint16_t(std::max<uint32_t>(1, std::min<uint32_t>(wanted, limits_.max_io_queues)));
      ctrl.io_queues_granted = granted;
      ctrl.io_queues_set = true;
      req->cqe.dw0 = uint32_t(granted - 1) | uint32_t(granted - 1) << 16;
      return complete(req, sc::kSuccess);
    }
    case feature_id::kKeepAliveTimer:
      ctrl.kato_ms = s.cdw11;
      if (ctrl.kato_ms) keep_alive_.insert(ctrl.cntlid());
      return complete(req, sc::kSuccess);
    default:
      return complete(req, sc::kInvalidField | sc::kDnr);
  }
}

void TargetCore::get_features(Request* req) {
  const Sqe& s = req->sqe;
  // SEL 0 current, 1 default, 2 saved, 3 supported capabilities. Nothing is saveable, so saved
  // reads as current; 4..7 are reserved.
  uint32_t select = (s.cdw10 >> 8) & 0x7;
  if (select > 3) return complete(req, sc::kInvalidField | sc::kDnr);
  bool defaults = select == 1;
  const Controller& ctrl = *req->ctrl;
  if (select == 3) {
    // Both features are changeable (bit 2), neither saveable (bit 0) nor per namespace (bit 1).
    uint8_t fid = uint8_t(s.cdw10);
    if (fid != feature_id::kNumberOfQueues && fid != feature_id::kKeepAliveTimer)
      return complete(req, sc::kInvalidField | sc::kDnr);
    req->cqe.dw0 = 0x4;
    return complete(req, sc::kSuccess);
  }
  switch (uint8_t(s.cdw10)) {
    case feature_id::kNumberOfQueues: {
      uint16_t n =
          ctrl.io_queues_set && !defaults ? ctrl.io_queues_granted : std::max<uint16_t>(1, limits_.max_io_queues);
      req->cqe.dw0 = uint32_t(n - 1) | uint32_t(n - 1) << 16;
      return complete(req, sc::kSuccess);
    }
    case feature_id::kKeepAliveTimer:
      req->cqe.dw0 = defaults ? 0 : ctrl.kato_ms;  // the default is "no keep-alive"; Connect sets it
      return complete(req, sc::kSuccess);
    default:
      return complete(req, sc::kInvalidField | sc::kDnr);
  }
}

void TargetCore::async_event_request(Request* req) {
  // Held until an event (Namespace Attribute Changed after a configuration reload) or until the
  // controller goes away (Identify AERL = 0: one outstanding).
  uint16_t cntlid = req->ctrl->cntlid();
  if (pending_aers_.count(cntlid)) return complete(req, sc::kAsyncEventLimitExceeded | sc::kDnr);
  pending_aers_[cntlid] = req;
  post_namespace_notice(*req->ctrl);  // a change that happened while no request was waiting
}

}  // namespace nvmeoe
