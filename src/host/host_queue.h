// Host-side state of one queue association (admin or I/O): command slots indexed by CID, the
// generation counter, reassembly of controller-to-host data, and the retransmission clock.
// Owned and touched only by the controller's event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "auth/frame_key.h"
#include "common/clock.h"
#include "common/histogram.h"
#include "nvme/spec.h"
#include "nvmeoe/host.h"
#include "wire/frame.h"
#include "wire/range_set.h"
#include "wire/tx_batch.h"

namespace nvmeoe {

using HostClock = SteadyClock;  // common/clock.h: tests may move it

// A command as the caller hands it in: SQE (CID is assigned at dispatch), data and callback.
struct HostCommand {
  Sqe sqe;
  uint8_t* data = nullptr;  // controller-to-host: filled; host-to-controller: sent
  uint32_t len = 0;
  IoCallback cb;
  bool internal = false;  // bring-up and keep-alive: runs while user commands are held
};

struct HostSlot {
  bool busy = false;
  uint32_t gen = 0;
  HostCommand cmd;
  DataDirection dir = DataDirection::kNone;
  RangeSet received;
  bool have_response = false;
  Cqe cqe;
  uint32_t expect = 0;  // controller-to-host bytes the target said it sends
  bool retransmitted = false;
  int retries = 0;        // retransmissions without any sign of life from the target
  bool acked = false;     // the target said it has the command and is working on it
  uint64_t tx_epoch = 0;  // the send batch that last took this command's data (TxBatch::epoch)
  HostClock::time_point sent_at, rto_at, deadline;
};

struct HostQueue {
  enum class State { kIdle, kConnecting, kReady, kFailed };
  uint16_t qid = 0;
  uint32_t nonce = 0;
  State state = State::kIdle;
  bool bound = false;    // Fabrics Connect done: frames carry the controller ID
  ConnectRequest asked;  // what the last Connect Request asked for (the grant is checked against it)
  ConnectResponse accept;
  uint16_t size = 0;       // entries (CIDs 0..size-1)
  uint32_t max_frame = 0;  // negotiated frame size (Ethernet payload bytes), both ways
  uint8_t digests = 0;     // digest_bits in force
  TxCursor tx;             // this queue's open frame in the send batch
  std::vector<HostSlot> slots;
  std::vector<uint16_t> free_cids;
  std::deque<HostCommand> waiting;  // flow control: more commands than slots
  uint32_t next_gen = 0;
  uint32_t in_flight = 0;
  double window = 1;               // AIMD: halves on a loss, grows by 1/window per clean completion
  HostClock::time_point last_cut;  // when the window was last halved
  QueueStats stats;
  LatencyHistogram latency;  // dispatch to completion of commands the target answered
  // Round-trip estimate (RFC 6298 style), microseconds.
  double srtt_us = 0, rttvar_us = 0;
  bool have_rtt = false;
  HostClock::time_point connect_sent, connect_started, connect_deadline;
  uint32_t v1_probe_nonce = 0;  // a version 1 Connect Request sent to find out why nothing answers
  // Frame authentication (docs/PROTOCOL.md §10.1): the keys of the queue's DH-HMAC-CHAP
  // transaction, given before its last step; `keyed` once a tagged frame of the target passed
  // rx_key: from then on every frame sent is tagged and every frame received must be.
  std::unique_ptr<auth::FrameKey> tx_key, rx_key;
  bool keyed = false;
  std::function<void(bool ok, const std::string& why)> on_connected;

  void reset_slots(uint16_t n) {
    size = n;
    window = n;
    in_flight = 0;
    slots.assign(n, HostSlot{});
    free_cids.clear();
    for (int i = n - 1; i >= 0; --i) free_cids.push_back(uint16_t(i));
  }
  void add_rtt_sample(double us) {
    if (!have_rtt) {
      srtt_us = us;
      rttvar_us = us / 2;
      have_rtt = true;
    } else {
      double err = us - srtt_us;
      srtt_us += err / 8;
      rttvar_us += ((err < 0 ? -err : err) - rttvar_us) / 4;
    }
  }
};

}  // namespace nvmeoe
