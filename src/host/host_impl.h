// The host controller's implementation class, shared by host_controller.cc (API, bring-up,
// reconnect) and host_datapath.cc (the event loop: dispatch, frames, timers). Everything under
// "loop thread" is touched only by the loop thread; the rest says how it is shared.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "auth/frame_key.h"
#include "auth/secret.h"
#include "common/status.h"
#include "host/host_queue.h"
#include "link/link.h"
#include "nvmeoe/host.h"
#include "wire/frame.h"

namespace nvmeoe {

constexpr uint16_t kAdminQueueSize = 32;
constexpr size_t kHostRxBatch = 256;
constexpr size_t kHostTxFrames = 1024;  // frames per loop turn before a forced flush

class HostControllerImpl final : public HostController {
 public:
  HostControllerImpl(std::unique_ptr<Link> link, ConnectOptions opts, MacAddress target,
                     std::array<uint8_t, 16> hostid);
  ~HostControllerImpl() override;

  // Starts the loop thread and brings the controller up; fails with the reason.
  Status start();

  const ControllerInfo& controller() const override { return info_; }
  const std::vector<NamespaceInfo>& namespaces() const override { return namespaces_; }
  std::string hostnqn() const override { return opts_.hostnqn; }
  std::string target_mac() const override { return target_.str(); }
  std::string local_iface() const override { return link_->name(); }
  std::string link_kind() const override { return link_->kind(); }
  uint16_t io_queue_count() const override { return io_queues_.load(); }
  bool alive() const override { return state_.load() != State::kDead; }
  bool connected() const override { return state_.load() == State::kLive; }
  uint64_t reconnects() const override { return reconnects_.load(); }
  std::vector<QueueStats> stats() const override;
  FrameCounters frame_counters() const override;

  void read(uint32_t nsid, uint64_t slba, uint32_t nlb, void* buf, IoCallback cb, uint16_t queue) override;
  void write(uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf, IoCallback cb, uint16_t queue,
             bool fua) override;
  void flush(uint32_t nsid, IoCallback cb, uint16_t queue) override;
  void write_zeroes(uint32_t nsid, uint64_t slba, uint32_t nlb, IoCallback cb, uint16_t queue) override;
  void deallocate(uint32_t nsid, std::vector<DsmRange> ranges, IoCallback cb, uint16_t queue) override;
  void admin(std::span<const uint8_t> sqe, std::span<uint8_t> data, IoCallback cb) override;
  void disconnect() override;

 private:
  // kConnecting: first bring-up; kLive: serving; kReconnecting: association lost, commands held
  // until a new association is up or ctrl_loss_tmo runs out; kDead: nothing more will complete.
  enum class State { kConnecting, kLive, kReconnecting, kDead };

  // ---- bring-up and reconnect (a caller or the reconnect thread; the loop runs the protocol) ----
  Status bring_up(bool first);
  Status connect_refused(const Completion& r);
  Status connect_queue(uint16_t qid, uint16_t size);
  Completion fabrics_connect(uint16_t qid, uint16_t size);
  // DH-HMAC-CHAP on `qid` after its Fabrics Connect answered `connect_dw0` (host_auth.cc).
  Status authenticate(uint16_t qid, uint32_t connect_dw0);
  Completion auth_send(uint16_t qid, const std::vector<uint8_t>& msg);
  Completion auth_receive(uint16_t qid, std::vector<uint8_t>* buf);
  // Frame authentication (docs/PROTOCOL.md §10.1): hands a queue the keys of its transaction, and
  // asks whether the target's frames on it are tagged now.
  Status install_frame_keys(uint16_t qid, const auth::FrameKeys& keys);
  bool frames_authenticated(uint16_t qid);
  // The frame tag of a frame of `q`: false when it must be dropped (counted).
  bool frame_authentic(HostQueue& q, const Frame& f);
  Status property_get(uint32_t offset, int bytes, uint64_t* out);
  Status property_set(uint32_t offset, uint32_t value);
  Status identify(uint8_t cns, uint32_t nsid, uint8_t* out);
  Completion internal_wait(uint16_t qid, const Sqe& s, uint8_t* data, uint32_t len, std::shared_ptr<void> keep);
  void shutdown_controller();
  void reconnect_thread();

  // ---- submission (any thread) ----
  uint16_t pick_queue(uint16_t queue);
  void rw(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb, uint8_t* buf, IoCallback cb, uint16_t queue,
          bool fua);
  void submit(uint16_t qid, HostCommand c);
  void post(std::function<void()> fn);

  // ---- loop thread (host_datapath.cc) ----
  void run_loop();
  void dispatch(uint16_t qid, HostCommand c);
  bool start_command(HostQueue& q, HostCommand& c);
  HostClock::duration rto(const HostQueue& q) const;
  HostClock::duration burst_hold() const;
  TxAssoc assoc_for(const HostQueue& q) const;
  void send_command(HostQueue& q, HostSlot& s, bool retry);
  void send_data(HostQueue& q, HostSlot& s, uint32_t offset, uint32_t len, bool last);
  uint16_t granted_size(uint16_t qid);
  void maybe_flush();
  void flush_tx();
  void release_data(HostSlot& s);
  void send_connect_request(HostQueue& q);
  void send_v1_probe(HostQueue& q);
  void send_terminate(HostQueue& q, TerminateReason why);
  void on_frame(std::span<const uint8_t> bytes);
  void on_other_version(std::span<const uint8_t> bytes);
  void on_connect_response(HostQueue& q, const Segment& g);
  HostSlot* slot_for(HostQueue& q, const Segment& g);
  void check_transfer(HostQueue& q, HostSlot& s, uint32_t total);
  void on_response(HostQueue& q, const Segment& g);
  void on_data(HostQueue& q, const Segment& g);
  void on_retransmit_request(HostQueue& q, const Segment& g);
  void try_complete(HostQueue& q, HostSlot& s);
  void request_missing(HostQueue& q, HostSlot& s);
  void finish(HostQueue& q, HostSlot& s, const Completion& r);
  void start_waiting(HostQueue& q);
  void on_terminate(HostQueue& q, const Frame& f);
  void lose_association(const char* why);
  void hold_outstanding();
  bool commands_in_flight() const;
  void fail_held(NvmeStatus status);
  void fail_now_cb(HostCommand& c, NvmeStatus status);
  void fail_all(NvmeStatus status);
  void check_timers(HostClock::time_point now);
  void publish_stats();

  // Fixed after construction.
  std::unique_ptr<Link> link_;
  ConnectOptions opts_;
  MacAddress target_, local_;
  uint16_t ethertype_;
  std::array<uint8_t, 16> hostid_;
  auth::Secret host_secret_, ctrl_secret_;  // parsed from opts_ (empty: none)
  std::atomic<uint16_t> auth_tid_{0};       // transaction ids, one per queue authentication

  // Written by bring-up before the first successful start() returns; afterwards only cntlid
  // changes, by the reconnect thread, between loop handoffs.
  ControllerInfo info_;
  std::vector<NamespaceInfo> namespaces_;
  std::atomic<uint16_t> io_queues_{0};
  std::atomic<State> state_{State::kConnecting};
  std::atomic<uint64_t> reconnects_{0};

  // Cross-thread handoff to the loop.
  std::thread loop_;
  std::thread::id loop_id_;
  int wake_fd_ = -1;
  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> posted_pending_{false};  // posted_ is not empty (read by the busy poll)
  std::atomic<bool> stop_{false}, stop_loop_{false}, disconnected_{false};
  std::atomic<uint32_t> rr_{0};

  // Reconnect thread: woken by lose_association.
  std::thread reconnector_;
  std::mutex rc_mu_;
  std::condition_variable rc_cv_;
  bool rc_wanted_ = false;
  HostClock::time_point lost_at_;

  // ---- loop thread ----
  std::vector<std::unique_ptr<HostQueue>> queues_;     // [0] admin
  std::vector<QueueStats> carried_stats_;              // counters of queues replaced by a reconnect
  std::deque<std::pair<uint16_t, HostCommand>> held_;  // commands waiting for a reconnect
  uint32_t last_dw1_ = 0;
  bool keep_alive_pending_ = false;
  HostClock::time_point next_tick_;  // when check_timers() runs next
  // The last data segment received left its read incomplete: the rest of a burst of the target
  // is still arriving, and commands made ready meanwhile may wait for it (run_loop, kBurstHold).
  bool mid_read_ = false;
  bool holding_tx_ = false;
  HostClock::time_point hold_since_{};
  HostClock::time_point next_keep_alive_;
  TxBatch tx_;
  std::vector<ByteRange> ranges_;  // Retransmit Request ranges, reused
  std::vector<uint8_t> v1_frame_;  // a version 1 frame being sent (send_v1_probe)
  std::mt19937_64 rng_;
  std::atomic<uint64_t> digest_errors_{0};  // written by the loop thread only
  std::atomic<uint64_t> auth_errors_{0};    // written by the loop thread only

  mutable std::mutex stats_mu_;
  std::vector<QueueStats> stats_snapshot_;  // guarded by stats_mu_
  std::vector<QueueStats> stats_scratch_;   // loop thread: the next snapshot, built in place
};

}  // namespace nvmeoe
