// nvmeoe host library: connects to an nvmeoe target over raw Ethernet (Fabrics Connect on the admin
// queue, controller enable, Identify, I/O queues), keeps the association alive, and offers
// asynchronous and synchronous I/O. One event-loop thread per controller runs the protocol;
// completion callbacks run on that thread and must not block. docs/PROTOCOL.md has the wire format.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "nvmeoe/result.h"
#include "nvmeoe/status.h"

namespace nvmeoe {

class Link;

struct ConnectOptions {
  std::string host_iface;  // local interface (ignored when a link is given)
  std::string target_mac;  // "aa:bb:cc:dd:ee:ff"
  std::string subnqn;
  std::string hostnqn;  // empty: /etc/nvme/hostnqn, else a generated uuid NQN
  std::string hostid;   // empty: /etc/nvme/hostid, else derived from the host NQN
  uint16_t ethertype = 0x88B5;
  // How frames reach the network: "packet" (AF_PACKET) or "af_xdp" (an XDP program and AF_XDP
  // sockets; needs CAP_BPF and an interface with no other XDP program).
  std::string link = "packet";
  uint16_t nr_io_queues = 1;
  uint16_t queue_size = 128;  // I/O queue entries
  uint32_t kato_ms = 5000;    // keep-alive timeout given to the target; 0 disables
  // While commands are in flight, the loop checks the link this long without sleeping before it
  // waits in poll(): lower latency for more CPU. 0: always sleep. The default catches the next
  // frame of a multi-frame answer and a fast target's reply without a sleep and wake-up.
  uint32_t poll_us = 50;
  // CRC32C of the data of every frame (NVMe/TCP's DDGST), asked for at each queue's handshake; the
  // header CRC is always on. On by default: one flipped bit must not place data wrongly. Turning it
  // off saves the CRC of every data byte on both ends (docs/PERFORMANCE.md).
  bool data_digest = true;
  std::chrono::milliseconds connect_timeout{5000};  // overall, per queue handshake
  std::chrono::milliseconds io_timeout{30000};      // NVMe command timeout (all retries)
  // Floor of the retransmission timeout. A retransmission is a small probe (the command without
  // its data), so a low floor costs little when the target is merely slow.
  std::chrono::milliseconds retransmit_timeout{20};
  // After the association is lost (target restart, link down, keep-alive failure), reconnect every
  // reconnect_delay until ctrl_loss_tmo has passed; commands are held, not failed, meanwhile.
  // ctrl_loss_tmo 0: fail at once, never reconnect.
  std::chrono::milliseconds ctrl_loss_tmo{600000};
  std::chrono::milliseconds reconnect_delay{10000};
  // DH-HMAC-CHAP (NVMe in-band authentication; docs/SECURITY.md), as nvme-cli's --dhchap-secret
  // and --dhchap-ctrl-secret: secrets in the "DHHC-1:xx:...:" representation (nvme gen-dhchap-key).
  // dhchap_secret answers a target that requires authentication, on every queue and on every
  // reconnect. dhchap_ctrl_secret makes it bidirectional: the target must prove it holds that key,
  // and a target that does not authenticate at all is refused. Empty: none.
  std::string dhchap_secret;
  std::string dhchap_ctrl_secret;
};

struct NamespaceInfo {
  uint32_t nsid = 0;
  uint64_t blocks = 0;        // NSZE
  uint32_t block_size = 512;  // from LBADS
  uint64_t used_blocks = 0;   // NUSE
  bool read_only = false;
  std::array<uint8_t, 16> nguid{};
};

struct ControllerInfo {
  uint16_t cntlid = 0;
  std::string serial, model, firmware, subnqn;
  uint32_t max_transfer = 0;  // bytes per command
  uint32_t version = 0;
};

// Outcome of one NVMe command: the NVMe status in Linux layout (0 = success; see nvme/spec.h) and
// completion dwords 0 and 1 (dword 1 carries the upper half of an 8-byte Property Get).
struct Completion {
  uint16_t status = 0;
  uint32_t dw0 = 0;
  uint32_t dw1 = 0;
  bool ok() const { return (status & 0x7ff) == 0; }
};
using IoCallback = std::function<void(const Completion&)>;

struct QueueStats {
  uint16_t qid = 0;
  uint16_t size = 0;
  uint64_t commands = 0, retransmits = 0, timeouts = 0, errors = 0, in_flight = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t duplicates = 0;                    // responses/data for commands already complete, ignored
  uint64_t digest_errors = 0;                 // frames dropped for a digest mismatch (admin queue: all queues)
  double window = 0;                          // commands allowed in flight (AIMD congestion window)
  uint64_t reads = 0, writes = 0, other = 0;  // commands by kind (admin queue: all "other")
  // Latency of the commands the target completed, dispatch to completion (retransmissions
  // included), in microseconds, from a log-linear histogram (≤ 3% error).
  uint64_t latency_count = 0;
  double latency_mean_us = 0, latency_max_us = 0;
  double latency_p50_us = 0, latency_p99_us = 0, latency_p999_us = 0;
  // The histogram itself: (bucket, count) of its non-empty buckets, in the layout of
  // src/common/histogram.h, so that two samples give the latency of the interval between them.
  std::vector<std::pair<uint16_t, uint64_t>> latency_buckets;
};

// Frames of the controller's link since connect, all queues together: what it sent, what it
// received, how many it dropped because a header CRC or data digest did not match, and how many
// of an authenticated queue it dropped for their frame tag (wrong, replayed or missing).
struct FrameCounters {
  uint64_t sent = 0, received = 0, digest_errors = 0, auth_errors = 0;
};

struct DsmRange {
  uint64_t slba = 0;
  uint32_t nlb = 0;  // blocks (not 0-based)
};

class HostController {
 public:
  // Opens a packet link on options.host_iface and connects. Errors name the cause: interface,
  // permissions, no answer from the target (after connect_timeout), refused host, wrong NQN.
  static Result<std::unique_ptr<HostController>> connect(const ConnectOptions& options);
  // Connects over an existing link (tests use a memory link).
  static Result<std::unique_ptr<HostController>> connect(std::unique_ptr<Link> link, const ConnectOptions& options);
  virtual ~HostController() = default;

  virtual const ControllerInfo& controller() const = 0;
  virtual const std::vector<NamespaceInfo>& namespaces() const = 0;
  virtual std::string hostnqn() const = 0;
  virtual std::string target_mac() const = 0;
  virtual std::string local_iface() const = 0;
  // The link under the association: "packet", "af_xdp native" or "af_xdp generic" (empty for a
  // link given to connect() that does not say).
  virtual std::string link_kind() const { return ""; }
  virtual uint16_t io_queue_count() const = 0;
  virtual std::vector<QueueStats> stats() const = 0;
  // Safe from any thread, cheap (no round trip to the loop thread).
  virtual FrameCounters frame_counters() const { return {}; }
  // False once the controller is gone for good: disconnected, or ctrl_loss_tmo ran out.
  virtual bool alive() const = 0;
  // True while an association is up (false while reconnecting).
  virtual bool connected() const = 0;
  virtual uint64_t reconnects() const = 0;

  // Asynchronous I/O; `queue` picks an I/O queue (1..io_queue_count()), 0 lets the library choose.
  // Buffers must stay valid until the callback runs. nlb counts blocks (not 0-based).
  virtual void read(uint32_t nsid, uint64_t slba, uint32_t nlb, void* buf, IoCallback cb, uint16_t queue = 0) = 0;
  virtual void write(uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf, IoCallback cb, uint16_t queue = 0,
                     bool fua = false) = 0;
  virtual void flush(uint32_t nsid, IoCallback cb, uint16_t queue = 0) = 0;
  virtual void write_zeroes(uint32_t nsid, uint64_t slba, uint32_t nlb, IoCallback cb, uint16_t queue = 0) = 0;
  virtual void deallocate(uint32_t nsid, std::vector<DsmRange> ranges, IoCallback cb, uint16_t queue = 0) = 0;
  // Any admin command (64-byte SQE as bytes), with a data buffer in the direction the opcode says.
  virtual void admin(std::span<const uint8_t> sqe, std::span<uint8_t> data, IoCallback cb) = 0;

  // Synchronous forms: block until the command completes (never call from a callback).
  Completion read_sync(uint32_t nsid, uint64_t slba, uint32_t nlb, void* buf);
  Completion write_sync(uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf);
  Completion flush_sync(uint32_t nsid);
  Completion write_zeroes_sync(uint32_t nsid, uint64_t slba, uint32_t nlb);
  Completion deallocate_sync(uint32_t nsid, std::vector<DsmRange> ranges);
  Completion admin_sync(std::span<const uint8_t> sqe, std::span<uint8_t> data);

  // Orderly shutdown: CC.SHN, wait for shutdown complete (bounded), terminate queues. Idempotent.
  virtual void disconnect() = 0;
};

// The host NQN nvme-cli would use: /etc/nvme/hostnqn when present, else a stable generated one.
std::string default_hostnqn();

}  // namespace nvmeoe
