// The target transport's internals, shared by its parts: target.cc (the loop, execution,
// statistics), target_recv.cc (frames and segments in), target_send.cc (segments out, through
// the TxBatch), target_assoc.cc (the association table: queues, slots and their buffers,
// admission, housekeeping). Not a public header: only those files include it.
#pragma once

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "auth/frame_key.h"
#include "common/bytes.h"
#include "common/log.h"
#include "common/log_limit.h"
#include "common/rate_limit.h"
#include "link/tx_thread.h"
#include "target/admission.h"
#include "target/buffer_pool.h"
#include "target/target.h"
#include "wire/frame.h"
#include "wire/range_set.h"
#include "wire/tx_batch.h"
#include "wire/v1_compat.h"

namespace nvmeoe {

static_assert(kSqeBytes == kSqeSize && kCqeBytes == kCqeSize && kNqnBytes == kNqnSize &&
                  kConnectDataBytes == kConnectDataSize,
              "the wire codec's NVMe sizes");

namespace target_detail {

constexpr size_t kRxBatch = 256;
constexpr size_t kTxFrames = 1024;  // frames per loop turn before a forced flush
constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(100);

struct Queue;

struct Slot {
  enum class State { kIdle, kReceiving, kExecuting, kDone };
  State state = State::kIdle;
  bool gen_valid = false;
  uint32_t gen = 0;
  uint32_t total = 0;  // SGL length of the current command
  DataDirection dir = DataDirection::kNone;
  RangeSet received;
  PoolBuffer buf;  // from the transport's DataBufferPool, charged to the queue
  Request req;
  Queue* queue = nullptr;
  uint16_t cid = 0;
  bool data_dropped = false;      // a completed command's data went back to the pool
  ListHook<Slot> lru;             // holds a buffer that may be taken back (not executing)
  Clock::time_point received_at;  // the command's first frame, for the service time
};

struct Queue {
  MacAddress host;
  uint16_t qid = 0;
  uint32_t nonce = 0;
  uint16_t size = 0;
  uint32_t max_frame = 0;  // negotiated frame size (Ethernet payload bytes), both ways
  uint8_t digests = 0;     // digest_bits in force
  TxCursor tx;             // this association's open frame in the send batch
  ConnectResponse accept;
  std::shared_ptr<Controller> ctrl;
  // Declared before the slots, whose buffers are charged to it until they are destroyed.
  uint64_t buffer_bytes = 0;
  // Per-queue state is taken only after Fabrics Connect: a handshake alone costs this struct.
  // Then one slot per CID, made on first use; before it, the Fabrics Connect's slot alone.
  std::vector<std::unique_ptr<Slot>> slots;
  std::unique_ptr<Slot> setup;
  Clock::time_point created;
  bool dead = false;
  size_t executing = 0;
  TargetTransport::Impl* impl = nullptr;
  TargetQueueCounters counters;
  std::unique_ptr<LatencyHistogram> service;  // command received to response sent (once used)
  uint64_t connect_service_ns = 0;
  AdmissionEntry admission;
  // Frame authentication (docs/PROTOCOL.md §10.1), from the completion of the queue's first
  // successful DH-HMAC-CHAP transaction on: every frame sent is tagged with tx_key, and every
  // frame received must carry a tag rx_key accepts, except, until the first tagged frame from
  // the host, retransmissions of the command that ended the transaction (keys_cid, keys_gen).
  std::unique_ptr<auth::FrameKey> tx_key, rx_key;
  bool host_tags = false;
  uint16_t keys_cid = 0;
  uint32_t keys_gen = 0;

  // The frame size the segments of this queue's frames may fill: less with a tag.
  uint32_t send_max_frame() const { return tagged_max_frame(max_frame, tx_key != nullptr); }
  TxAssoc assoc() const {
    TxAssoc a;
    a.dst = host;
    a.a.qid = qid;
    a.a.cntlid = ctrl ? ctrl->cntlid() : kNoController;
    a.a.nonce = nonce;
    a.max_frame = max_frame;
    a.data_digest = !tx_key && (digests & digest_bits::kData);
    a.sealer = tx_key.get();
    return a;
  }
};

using QueueKey = std::tuple<std::array<uint8_t, 6>, uint16_t, uint32_t>;

inline QueueKey key_of(const Queue& q) {
  return QueueKey{q.host.b, q.qid, q.nonce};
}

}  // namespace target_detail

using target_detail::key_of;
using target_detail::kHousekeepingPeriod;
using target_detail::kRxBatch;
using target_detail::kTxFrames;
using target_detail::Queue;
using target_detail::QueueKey;
using target_detail::Slot;

// What all ports of a transport share: the limits, the data buffer pool, and the buffers that may
// be taken back when it runs dry (oldest use first).
struct TargetTransport::Shared {
  ResourceLimits limits;
  DataBufferPool pool;
  IntrusiveList<Slot, &Slot::lru> lru;
  explicit Shared(const ResourceLimits& l) : limits(l), pool(l.buffer_bytes) {}
};

struct TargetTransport::Impl {
  TargetCore* core;
  Link* link;
  TargetOptions options;
  TargetTransport::Shared* shared;
  const ResourceLimits& limits;
  Admission admission;
  int stop_fd = -1;
  std::atomic<bool> stop_requested{false};
  bool stopping = false;
  MacAddress mac;
  uint16_t ethertype;
  uint32_t link_max_frame;  // the link's MTU
  std::map<QueueKey, std::unique_ptr<Queue>> queues;
  std::vector<std::unique_ptr<Queue>> graveyard;  // dead queues with commands still executing
  TargetStats st;
  // Transmit batch for this loop turn. Its frames point into slot buffers: tx_quiesce() before
  // freeing or reallocating one.
  std::unique_ptr<TxBatch> tx;
  // With a TxThread: the batch it is sending (swapped with the one above).
  std::unique_ptr<TxThread> tx_thread;
  std::unique_ptr<TxBatch> tx_sending;
  std::vector<uint8_t> v1_reply;          // a version 1 Connect Response being sent (on_other_version)
  std::vector<ByteRange> ranges_scratch;  // Retransmit Request ranges received, reused
  std::vector<ByteRange> holes_scratch;   // and sent
  size_t port_index = 0;                  // this port's index among the transport's, and the core's Port
  bool rescan = true;                     // a reload happened: housekeeping looks at every association
  int turns_since_rescan = 0;
  KeyedRateLimiter terminate_limit;  // Terminate replies to frames of unknown associations
  KeyedRateLimiter discover_limit;   // Discover Replies, per MAC and in all
  // Snapshots for other threads (snapshot()): a request flag and a wake-up through stop_fd; the
  // loop answers between turns under snap_mu.
  mutable std::mutex snap_mu;
  mutable std::condition_variable snap_cv;
  mutable std::atomic<bool> snap_requested{false};
  bool running = false;                     // guarded by snap_mu
  uint64_t snap_wanted = 0, snap_done = 0;  // guarded by snap_mu
  TargetSnapshot snap;                      // guarded by snap_mu

  Impl(TargetCore* c, Link* l, TargetOptions o, TargetTransport::Shared* sh)
      : core(c),
        link(l),
        options(o),
        shared(sh),
        limits(sh->limits),
        admission(sh->limits),
        terminate_limit(sh->limits.terminate_replies, sh->limits.terminate_replies, std::chrono::seconds(1)),
        discover_limit(sh->limits.discover_replies_per_mac, sh->limits.discover_replies, std::chrono::seconds(1)) {
    mac = link->local_mac();
    ethertype = link->ethertype();
    link_max_frame = link->mtu();
    tx = std::make_unique<TxBatch>(mac, ethertype, link_max_frame);
    if (options.tx_thread) {
      tx_sending = std::make_unique<TxBatch>(mac, ethertype, link_max_frame);
      tx_thread = std::make_unique<TxThread>(link);
    }
    stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Impl() {
    tx_thread.reset();  // before the slot buffers its batch points into
    // The shared list of reclaimable buffers must not keep pointers to this port's slots.
    for (auto& [key, q] : queues) unlink_slots(*q);
    for (auto& q : graveyard) unlink_slots(*q);
    if (stop_fd >= 0) close(stop_fd);
  }

  // ---- transmit ----
  void flush_tx();

  // Every frame queued so far is on the wire: slot buffers may be freed or replaced.
  void tx_quiesce();

  // A loop turn flushes when it ends; a turn that produces very many frames flushes on the way.
  void maybe_flush();

  static SegmentHeader seg_for(FrameKind kind, uint16_t cid, uint32_t gen);

  // A frame that stands alone, to an address that may have no association (Terminate, Connect
  // Response, Discover Reply): no data digest.
  std::span<uint8_t> add_alone(const MacAddress& dst, const FrameAddress& a, const SegmentHeader& h, size_t meta);

  void send_terminate(const MacAddress& dst, uint16_t qid, uint16_t cntlid, uint32_t nonce, TerminateReason why);

  // Sends [offset, offset+len) of a slot's controller-to-host data as Data segments, packed after
  // whatever this association already has in the batch; the last one gets `final_flags`.
  void send_data(Queue& q, Slot& s, uint32_t offset, uint32_t len, uint8_t final_flags);

  void send_response(Queue& q, Slot& s);

  // The result of a command: its data, then its Response. On the first transmission of a
  // successful result with data and a CQE that says nothing more (status 0, DW0 and DW1 0), the
  // last Data segment carries SUCCESS instead and no Response follows (PROTOCOL.md §8.2).
  void send_result(Queue& q, Slot& s, bool first);

  // ---- queue bookkeeping ----
  // Only Data frames of controller-to-host commands point into slot buffers.
  static bool may_be_sent_from(const Slot& sl) { return sl.buf && sl.dir == DataDirection::kControllerToHost; }
  bool may_be_sent_from(Queue& q);

  void remove_queue(std::map<QueueKey, std::unique_ptr<Queue>>::iterator it);

  void remove_controller_queues(uint16_t cntlid, TerminateReason why, bool notify);

  void reap_graveyard();

  // ---- admission (admission.h) ----
  // Removes what `e` stands for to make room, or because its set-up time is over: a handshake,
  // or a controller (its admin queue) with all its queues.
  void evict(AdmissionEntry* e, uint64_t* counter, const char* why);

  // ---- slots and buffers (buffer_pool.h) ----
  using SlotLru = IntrusiveList<Slot, &Slot::lru>;

  template <typename Fn>
  static void for_each_slot(Queue& q, Fn fn) {
    if (q.setup) fn(*q.setup);
    for (auto& sp : q.slots)
      if (sp) fn(*sp);
  }
  void unlink_slots(Queue& q);

  // The slot of `cid`: on a bound queue one per CID, made on first use; before Fabrics Connect
  // only the Connect's own (`create` replaces one that is not executing).
  Slot* slot_of(Queue& q, uint16_t cid, bool create);

  // A buffer of `bytes` for a command of `q`, or an empty one. When the queue's own budget is
  // short, the buffers its completed commands keep give way (not those still receiving data: the
  // queue is asking for more than its budget, and that new command waits); when the pool is
  // short, any buffer that may be taken back, oldest use first, so that writes that never send
  // their data cannot hold the pool.
  PoolBuffer take_buffer(Queue& q, uint32_t bytes);

  // Takes a slot's buffer back. A command still receiving its data starts over when the host
  // sends it again; a completed one keeps its status (a Read is read again if the host asks for
  // its data).
  void reclaim(Slot& sl);

  // ---- receive ----
  void on_frame(std::span<const uint8_t> bytes);

  // A frame of another protocol version. A version 1 Connect Request gets a version 1 Connect
  // Response "Unsupported Version", so that an old host fails at once with a reason instead of
  // timing out (PROTOCOL.md §16); everything else is dropped.
  void on_other_version(std::span<const uint8_t> bytes);

  // Looks up the association of a frame. Returns null (and counts why) when the frame must be
  // dropped; `*unknown` tells whether the association itself is unknown (worth a Terminate reply)
  // rather than a known one that this frame fails to match.
  Queue* find_queue(const Frame& f, bool* unknown);
  // Frame authentication of a frame of `q` (§10.1): false when it must be dropped (counted).
  bool frame_authentic(Queue& q, const Frame& f);
  // The keys of a queue's DH-HMAC-CHAP transaction, installed as its command `s` completes.
  void install_frame_keys(Queue& q, const Slot& s, const auth::FrameKeys& keys);

  void unknown_association(const Frame& f);

  // Room for a new handshake from `src`: the oldest handshakes give way; false: refused.
  bool admit_handshake(const MacAddress& src);

  void on_connect(const Frame& f, const Segment& g);

  // Answers a command that cannot start without running it through the core.
  void reject(Queue& q, const Segment& g, uint16_t cid, NvmeStatus status);

  void on_command(Queue& qr, const Segment& g);

  // Service time: from the command's first frame to its response, for commands that complete.
  static void record_service_time(Queue& q, const Slot& s);

  // Completes a command the transport refuses before the core sees it.
  // `ipo`: for Connect Invalid Parameters, the offset of the bad field in the SQE (IATTR 0).
  void finish_early(Queue& q, Slot& s, const Sqe& sqe, NvmeStatus status, uint16_t ipo = 0);

  void accept_data(Queue& q, Slot& s, uint32_t offset, std::span<const uint8_t> bytes);

  void on_data(Queue& qr, const Segment& g);

  // Retransmit Request to the host: the byte ranges of a write still missing (none: the target
  // holds the whole command and is executing it).
  void send_holes(Queue& q, Slot& s);

  void on_retransmit(Queue& qr, const Segment& g);

  void on_terminate(const Frame& f);

  void on_discover(const Frame& f, const Segment& g);

  bool offers(const std::string& subnqn) const { return core->port_offers(port_index, subnqn); }

  // ---- execution ----
  void execute(Queue& q, Slot& s);

  // Answers a Fabrics Connect without the core.
  void finish_connect(Queue& q, Slot& s, NvmeStatus status, uint32_t dw0);

  // Room for the queue a Fabrics Connect would bind (admission.h): a controller of a host no
  // allow-list names that is still being set up gives way; false: the table is full for hosts
  // that are not listed.
  bool admit_bind(Queue& q, const ConnectData& data);

  // The queue's Fabrics Connect succeeded: it gets its per-queue state now.
  void bind(Queue& q, Slot& s, const std::shared_ptr<Controller>& ctrl);

  static void on_complete(Request* req);

  void housekeeping(Clock::time_point now, const std::vector<uint16_t>& expired);

  void terminate_all(TerminateReason why);

  // ---- statistics for other threads ----
  TargetSnapshot build_snapshot() const;

  void answer_snapshot();

  void set_running(bool on);
};

}  // namespace nvmeoe
