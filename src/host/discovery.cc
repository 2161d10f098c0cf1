// Discovery client: one query, replies gathered per target MAC by entry index.
#include "host/discovery.h"

#include <poll.h>

#include <algorithm>
#include <map>
#include <random>

#include "common/bytes.h"
#include "common/log.h"
#include "nvme/identify.h"
#include "nvme/spec.h"

namespace nvmeoe {

namespace {

struct Partial {
  std::map<uint32_t, DiscoverEntry> by_index;
  uint32_t total = 0;
  bool seen = false;
  bool complete() const { return seen && by_index.size() >= total; }
};

Status send_query(Link& link, const DiscoveryRequest& req, uint32_t nonce) {
  DiscoverQuery q{req.hostnqn, req.subnqn};
  std::vector<uint8_t> payload(kDiscoverQuerySize);
  encode_discover_query(q, payload.data());
  SegmentHeader h;
  h.kind = FrameKind::kDiscoverQuery;
  std::vector<uint8_t> frame =
      build_frame(req.target, link.local_mac(), link.ethertype(), FrameAddress{0, kNoController, nonce}, h, payload);
  TxFrameList one;
  one.add(frame);
  return link.send(one.frames());
}

Status get_log_part(HostController& ctrl, uint64_t offset, uint8_t* out, uint32_t bytes) {
  Sqe s;
  s.opcode = admin_opcode::kGetLogPage;
  uint32_t numd = bytes / 4 - 1;
  s.cdw10 = log_id::kDiscovery | (numd & 0xffff) << 16;
  s.cdw11 = numd >> 16;
  s.cdw12 = uint32_t(offset);
  s.cdw13 = uint32_t(offset >> 32);
  uint8_t sqe[kSqeSize];
  encode_sqe(s, sqe);
  Completion c = ctrl.admin_sync(std::span<const uint8_t>(sqe, kSqeSize), std::span<uint8_t>(out, bytes));
  if (!c.ok())
    return Status::error(
        "Get Log Page (Discovery, offset " + std::to_string(offset) + ") failed: " + status_name(c.status), EIO);
  return Status::ok();
}

}  // namespace

Result<DiscoveryLog> read_discovery_log(HostController& ctrl) {
  uint32_t chunk = std::max<uint32_t>(kDiscoveryLogEntrySize, ctrl.controller().max_transfer);
  chunk -= chunk % kDiscoveryLogEntrySize;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<uint8_t> page(kDiscoveryLogHeaderSize);
    NVMEOE_RETURN_IF_ERROR(get_log_part(ctrl, 0, page.data(), kDiscoveryLogHeaderSize));
    uint64_t genctr = get_le64(page.data() + disclog::kGenctr);
    uint64_t numrec = get_le64(page.data() + disclog::kNumrec);
    if (numrec > 65536) return Status::error("discovery log claims " + std::to_string(numrec) + " records", EIO);
    size_t total = kDiscoveryLogHeaderSize + kDiscoveryLogEntrySize * size_t(numrec);
    page.resize(total);
    for (size_t at = kDiscoveryLogHeaderSize; at < total;) {
      uint32_t n = uint32_t(std::min<size_t>(chunk, total - at));
      NVMEOE_RETURN_IF_ERROR(get_log_part(ctrl, at, page.data() + at, n));
      at += n;
    }
    uint8_t again[kDiscoveryLogHeaderSize];
    NVMEOE_RETURN_IF_ERROR(get_log_part(ctrl, 0, again, kDiscoveryLogHeaderSize));
    if (get_le64(again + disclog::kGenctr) != genctr) continue;  // changed while reading
    DiscoveryLog log;
    decode_discovery_log(page.data(), page.size(), &log);
    return log;
  }
  return Status::error("the discovery log kept changing while it was read", EAGAIN);
}

Result<std::vector<DiscoveredTarget>> discover_targets(Link& link, const DiscoveryRequest& req) {
  std::random_device rd;
  uint32_t nonce = rd() | 1;  // never 0: easy to tell from an unset field in a capture
  const MacAddress self = link.local_mac();
  std::map<std::array<uint8_t, 6>, Partial> answers;
  const bool unicast = !req.target.is_broadcast();

  using SteadyClock = std::chrono::steady_clock;
  auto start = SteadyClock::now();
  auto deadline = start + req.timeout;
  auto resend_at = start + req.timeout / 2;
  bool resent = false;
  NVMEOE_RETURN_IF_ERROR(send_query(link, req, nonce));
  LOG_DEBUG("discover: query %#x to %s on %s", nonce, req.target.str().c_str(), link.name().c_str());

  auto all_complete = [&] {
    for (const auto& [mac, p] : answers)
      if (!p.complete()) return false;
    return true;
  };
  auto on_frame = [&](std::span<const uint8_t> bytes) {
    Frame f;
    if (decode_frame(bytes, link.ethertype(), &f) != DecodeError::kNone) return;
    const Segment& g = f.segs[0];
    if (g.h.kind != FrameKind::kDiscoverReply || f.a.nonce != nonce || f.dst != self) return;
    if (unicast && f.src != req.target) return;
    std::vector<DiscoverEntry> entries;
    if (!decode_discover_reply(g.meta, &entries)) {
      LOG_DEBUG("discover: malformed reply from %s", f.src.str().c_str());
      return;
    }
    Partial& p = answers[f.src.b];
    p.seen = true;
    p.total = g.h.total;
    for (size_t i = 0; i < entries.size(); ++i) p.by_index[uint32_t(g.h.offset + i)] = std::move(entries[i]);
  };

  while (true) {
    auto now = SteadyClock::now();
    if (now >= deadline) break;
    if (unicast && !answers.empty() && all_complete()) break;
    if (!resent && now >= resend_at && (answers.empty() ? unicast : !all_complete())) {
      resent = true;
      NVMEOE_RETURN_IF_ERROR(send_query(link, req, nonce));
    }
    auto until = resent ? deadline : std::min(deadline, resend_at);
    int wait_ms = int(std::chrono::ceil<std::chrono::milliseconds>(until - now).count());
    pollfd pfd{link.wait_fd(), POLLIN, 0};
    ::poll(&pfd, 1, std::max(wait_ms, 1));
    // The socket sees every nvmeoe frame on the interface (this host's controllers' too): drain
    // what is there, but never past the deadline.
    while (SteadyClock::now() < deadline && link.receive(on_frame, 64)) {
    }
  }

  std::vector<DiscoveredTarget> out;
  for (auto& [mac, p] : answers) {
    DiscoveredTarget t;
    t.mac.b = mac;
    t.complete = p.complete();
    for (auto& [index, e] : p.by_index)
      if (index < p.total) t.subsystems.push_back(std::move(e));
    if (!t.complete)
      LOG_WARN("discover: incomplete answer from %s (%zu of %u entries)", t.mac.str().c_str(), t.subsystems.size(),
               p.total);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace nvmeoe
