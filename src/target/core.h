// The target core: subsystems, namespaces, controllers and the NVMe command handlers (admin,
// Fabrics, I/O). It never sees frames or sockets: the transport hands it Requests and gets them back
// completed. Single-threaded: all calls come from the thread that owns the target's event loop.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "common/clock.h"
#include "common/status.h"
#include "nvme/discovery_log.h"
#include "nvme/identify.h"
#include "target/auth_state.h"
#include "target/request.h"

namespace nvmeoe {

using Clock = SteadyClock;  // common/clock.h: tests may move it

struct Namespace {
  uint32_t nsid = 0;
  std::unique_ptr<Backend> backend;
  bool read_only = false;           // namespace exported read-only (or the backend is)
  std::array<uint8_t, 16> nguid{};  // stable, derived from the subsystem NQN and the NSID
  // SMART counters, per namespace; summed into the controller's log.
  uint64_t bytes_read = 0, bytes_written = 0, reads = 0, writes = 0;
};

struct Subsystem {
  std::string nqn;
  std::string serial;  // default: serial_from_nqn(nqn)
  std::string model = "nvmeoe";
  std::vector<std::unique_ptr<Namespace>> namespaces;  // ascending NSID
  std::set<std::string> allowed_hosts;                 // host NQNs; empty and allow_any_host: anyone
  bool allow_any_host = true;
  Namespace* find_namespace(uint32_t nsid) const;
};

struct TargetLimits {
  uint16_t max_io_queues = 64;          // per controller
  uint16_t max_queue_size = 1024;       // entries, I/O queues
  uint16_t max_admin_queue_size = 128;  // entries
  uint32_t max_transfer = 1u << 20;     // bytes per command (MDTS = log2(max_transfer / 4096))
  uint32_t default_kato_ms = 120000;    // used when the host asks for 0? no: 0 disables keep-alive
};

class Controller {
 public:
  Controller(uint16_t cntlid, Subsystem* subsys, std::string hostnqn, std::array<uint8_t, 16> hostid, uint32_t kato_ms);
  uint16_t cntlid() const { return cntlid_; }
  Subsystem* subsystem() const { return subsys_; }
  const std::string& hostnqn() const { return hostnqn_; }
  const std::array<uint8_t, 16>& hostid() const { return hostid_; }

  uint32_t cc = 0;
  uint32_t csts = 0;
  uint32_t kato_ms = 0;            // 0: keep-alive disabled
  uint16_t io_queues_granted = 0;  // after Set Features Number of Queues (count, not 0-based)
  bool io_queues_set = false;
  Clock::time_point last_keep_alive;
  std::set<uint16_t> connected_io_queues;
  std::deque<ErrorLogEntry> error_log;  // newest first, bounded
  uint64_t error_count = 0;
  bool dead = false;  // torn down; late completions are dropped by the transport
  // Namespace Attribute Changed notices: NSIDs added or removed since the host last read log page
  // 04h, and whether a notice is out (no second one until the page is read).
  std::set<uint32_t> changed_nsids;
  bool ns_notice_outstanding = false;
  // DH-HMAC-CHAP: the host's keys when it must authenticate (null: it need not), and each queue's
  // transaction (admin queue and connected I/O queues only, so at most 65 of them).
  std::shared_ptr<const HostAuth> auth;
  std::map<uint16_t, std::unique_ptr<QueueAuth>> queue_auth;
  // True when `qid` may run commands other than Authentication Send / Receive.
  bool authenticated(uint16_t qid) const;

 private:
  uint16_t cntlid_;
  Subsystem* subsys_;
  std::string hostnqn_;
  std::array<uint8_t, 16> hostid_;
};

// Where the target can be reached: one per interface ("port"), in the order of the transport's
// ports. A port offers the subsystems a host may discover and connect to through it (the others do
// not exist there), and gives the Discovery Log Page its entries.
struct Port {
  uint16_t portid = 0;
  std::string traddr;  // the interface's MAC, "aa:bb:cc:dd:ee:ff"
  uint16_t ethertype = 0x88B5;
  bool all_subsystems = true;  // false: only those in `subsystems`
  std::set<std::string> subsystems;
};

class TargetCore {
 public:
  explicit TargetCore(TargetLimits limits = {});

  // Adds a subsystem. Fails on a duplicate or invalid NQN, duplicate NSID, or an NSID of 0.
  Status add_subsystem(std::unique_ptr<Subsystem> subsys);
  Subsystem* find_subsystem(const std::string& nqn) const;
  const std::vector<std::unique_ptr<Subsystem>>& subsystems() const { return subsystems_; }
  const TargetLimits& limits() const { return limits_; }

  // The ports, in the transport's order (Request::port indexes them). The discovery controller
  // (Connect to kDiscoveryNqn): its log page lists, per port, the subsystems a host may use.
  // GENCTR changes whenever ports, subsystems or allow-lists change.
  void set_ports(std::vector<Port> ports);
  const std::vector<Port>& ports() const { return ports_; }
  // True when subsystem `subnqn` is reachable through port `port`. The discovery subsystem is on
  // every port; a core without a port of that index (one made without set_ports, as in tests)
  // offers every subsystem.
  bool port_offers(size_t port, const std::string& subnqn) const;
  std::vector<DiscoveryLogEntry> discovery_entries(const std::string& hostnqn) const;
  uint64_t discovery_genctr() const { return genctr_; }
  void configuration_changed() { ++genctr_; }
  bool is_discovery(const Subsystem* s) const { return s == discovery_subsys_.get(); }
  // True when `hostnqn` may connect to `s` (its allow-list).
  static bool host_allowed(const Subsystem& s, const std::string& hostnqn);
  // True when an allow-list (allowed_hosts of a subsystem) names `hostnqn`: such hosts have room
  // kept for them in the association table (resource_limits.h).
  bool host_listed(const std::string& hostnqn) const;
  // DH-HMAC-CHAP keys by host NQN (docs/SECURITY.md): a host with keys must authenticate every
  // queue of its controllers (but the discovery controller's) before other commands run. New
  // keys apply to controllers created afterwards.
  void set_host_auth(std::map<std::string, std::shared_ptr<const HostAuth>> keys) { host_auth_ = std::move(keys); }
  std::shared_ptr<const HostAuth> host_auth(const std::string& hostnqn) const;

  // Reconfiguration (configuration reload), on the transport thread. Removed namespaces and
  // subsystems stay alive, out of sight, until their backends have no I/O in flight; commands
  // naming a removed namespace get Invalid Namespace, controllers of a removed subsystem or of a
  // host no longer allowed are removed (the transport terminates their queues).
  Status add_namespace(Subsystem* subsys, std::unique_ptr<Namespace> ns);
  void remove_namespace(Subsystem* subsys, uint32_t nsid);
  void remove_subsystem(const std::string& nqn);
  void set_allowed_hosts(Subsystem* subsys, bool allow_any_host, std::set<std::string> hosts);
  // Frees retired namespaces and subsystems whose backends are idle; returns how many remain.
  size_t collect_retired();
  size_t retired_count() const { return retired_namespaces_.size() + retired_subsystems_.size(); }

  // Executes one command. Ends, now or later (after backend I/O), in exactly one
  // req->on_complete(req). req->ctrl is null only for a Fabrics Connect on a fresh queue; any other
  // command on such a queue completes with Command Sequence Error.
  void execute(Request* req);

  // Routes a backend completion (tag = the Request*) back to its request.
  void backend_done(const BackendCompletion& c);
  // Pushes batched backend submissions out; call once per event-loop turn.
  void flush_backends();
  // Reaps all backends; call when a backend's wait_fd is readable, or every turn for RAM.
  void reap_backends();
  std::vector<int> backend_fds() const;
  size_t backend_in_flight() const;

  // Controllers whose keep-alive timer ran out at `now` (KATO with no Keep Alive or other admin
  // command). They are marked dead and removed; the transport terminates their queues.
  std::vector<uint16_t> expire_keep_alive(Clock::time_point now);
  // Tears down a controller (admin queue gone). Pending requests still complete normally.
  void remove_controller(uint16_t cntlid);
  // The transport's I/O queue `qid` of `ctrl` went away (the host terminated it, or it was
  // evicted): its QID may connect again, and must authenticate again.
  void queue_released(Controller& ctrl, uint16_t qid);
  std::shared_ptr<Controller> find_controller(uint16_t cntlid) const;
  size_t controller_count() const { return controllers_.size(); }

  // Flushes every namespace (shutdown). `done` runs once all flushes finish.
  void flush_all(void (*done)(void*), void* arg);

 private:
  // Backend op tags carry a kind in the low bits: a Request* (kTagRequest) or a FlushAll*
  // (kTagFlushAll). Both point to objects aligned to at least 8 bytes.
  static constexpr uint64_t kTagKindMask = 7;
  static constexpr uint64_t kTagRequest = 0;
  static constexpr uint64_t kTagFlushAll = 1;

  // A request waiting on backend I/O, with the namespace it touches (for SMART counters and DSM
  // fan-out of several ranges): Request::wait.
  using Pending = BackendWait;
  // A fan-out of flushes not tied to a request: flush_all(), or a controller's shutdown
  // notification (then `shutdown` names the controller whose CSTS.SHST completes).
  struct FlushAll {
    uint32_t outstanding = 0;
    void (*done)(void*) = nullptr;
    void* arg = nullptr;
    std::weak_ptr<Controller> shutdown;
  };

  void execute_admin(Request* req);
  void execute_fabrics(Request* req);
  // Authentication Send / Receive (auth_cmd.cc).
  void execute_auth(Request* req);
  void auth_send(Request* req, Controller& ctrl, QueueAuth& qa, std::span<const uint8_t> msg);
  void auth_receive(Request* req, Controller& ctrl, QueueAuth& qa, uint32_t al);
  uint8_t auth_negotiate(Controller& ctrl, QueueAuth& qa, std::span<const uint8_t> msg);
  uint8_t auth_reply(Controller& ctrl, QueueAuth& qa, uint16_t qid, std::span<const uint8_t> msg);
  Result<std::vector<uint8_t>> auth_challenge(QueueAuth& qa);
  Result<std::vector<uint8_t>> auth_success1(Controller& ctrl, QueueAuth& qa);
  void auth_failed(Controller& ctrl, QueueAuth& qa, uint16_t qid, uint8_t why);
  void start_queue_auth(Controller& ctrl, uint16_t qid, Request* req);
  void execute_io(Request* req);
  void connect(Request* req);
  void connect_admin(Request* req, Subsystem* subsys, const ConnectCommand& cmd, const ConnectData& data);
  void connect_io(Request* req, Subsystem* subsys, const ConnectCommand& cmd, const ConnectData& data);
  void property_get(Request* req);
  void property_set(Request* req);
  void update_cc(const std::shared_ptr<Controller>& ctrl, uint32_t cc);
  void identify(Request* req);
  void identify_controller(Request* req);
  void identify_namespace(Request* req);
  void get_log_page(Request* req);
  void build_smart_log(Request* req, std::vector<uint8_t>* page, NvmeStatus* status) const;
  void set_features(Request* req);
  void get_features(Request* req);
  void async_event_request(Request* req);
  void namespace_changed(const Subsystem* subsys, uint32_t nsid);
  void post_namespace_notice(Controller& ctrl);
  void io_rw(Request* req, Namespace* ns, bool write);
  void io_flush(Request* req, Namespace* ns);
  void io_write_zeroes(Request* req, Namespace* ns);
  void io_dsm(Request* req, Namespace* ns);
  void complete(Request* req, NvmeStatus status);
  void record_error(Request* req);
  uint64_t cap() const;

  // Backend plumbing (io_cmd.cc): a Pending record per request, submissions that count
  // themselves, and the completion side.
  Pending* start_pending(Request* req, Namespace* ns);
  void submit_for(Pending* p, Backend* backend, BackendOpKind kind, uint64_t offset, uint64_t length, uint8_t* buf);
  void finish_if_idle(Request* req);
  void request_op_done(Request* req, int result);
  void flush_all_op_done(FlushAll* fa, int result);
  void start_flush_all(const std::vector<Namespace*>& namespaces, void (*done)(void*), void* arg,
                       std::weak_ptr<Controller> shutdown);
  void finish_flush_all(FlushAll* fa);

  template <typename Fn>
  void for_each_backend(Fn fn) const;
  void finish_namespace(const Subsystem& subsys, Namespace* ns);

  TargetLimits limits_;
  std::vector<std::unique_ptr<Subsystem>> retired_subsystems_;
  std::vector<std::unique_ptr<Namespace>> retired_namespaces_;
  std::unique_ptr<Subsystem> discovery_subsys_;
  std::vector<Port> ports_;
  uint64_t genctr_ = 1;
  Clock::time_point started_ = Clock::now();  // for SMART power-on hours
  std::vector<std::unique_ptr<Subsystem>> subsystems_;
  std::map<uint16_t, std::shared_ptr<Controller>> controllers_;
  // Controllers that have (or had) a keep-alive timer: expire_keep_alive() looks at these only,
  // not at every controller of a table a flood may have filled.
  std::set<uint16_t> keep_alive_;
  uint16_t next_cntlid_ = 1;
  std::vector<std::unique_ptr<FlushAll>> flush_alls_;
  std::map<uint16_t, Request*> pending_aers_;          // by cntlid; one outstanding AER each
  std::map<const Namespace*, uint64_t> media_errors_;  // SMART media and data integrity errors
  std::map<std::string, std::shared_ptr<const HostAuth>> host_auth_;
};

}  // namespace nvmeoe
