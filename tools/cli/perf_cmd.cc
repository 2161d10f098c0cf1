// `nvmeoe perf`: a load generator in the manner of spdk_nvme_perf. It opens its own association,
// keeps DEPTH I/Os in flight on each I/O queue with the asynchronous API (each completion callback
// submits the slot's next I/O), and reports IOPS, throughput, latency percentiles and errors.
//
// Threading: completion callbacks run on the library's event-loop thread; the main thread only
// starts the slots, sleeps, and stops. Shared state (generator, verify table, histogram, counters)
// is guarded by one mutex, never held while calling into the library, so a library that completes
// a command inline cannot deadlock us. Nothing is allocated per I/O.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/connect_args.h"
#include "cli/perf_stats.h"
#include "cli/privileges.h"
#include "common/log.h"
#include "nvme/spec.h"
#include "nvmeoe/host.h"

namespace nvmeoe::cli {

namespace {

using Clock = std::chrono::steady_clock;

volatile sig_atomic_t g_interrupted = 0;
void on_interrupt(int) {
  g_interrupted = 1;
}

struct PerfArgs {
  std::string dhchap_secret, dhchap_ctrl_secret;  // DHHC-1 text
  std::string traddr, nqn, host_iface, hostnqn, workload = "randread", ethertype = "0x88b5", span, bs_range, bytes,
                                                link;
  unsigned depth = 32, io_size = 4096, rwmixread = 50, seconds = 5, nr_io_queues = 1, connect_timeout_s = 5;
  unsigned poll_us = 50;  // ConnectOptions::poll_us
  unsigned ctrl_loss_tmo_s = 0,
           reconnect_delay_s = 10;  // a benchmark reports a lost association instead of stalling on it
  uint32_t nsid = 1;
  bool verify = false, json = false, hdr_digest = false, data_digest = false, no_data_digest = false;
  IoSizeRange sizes;        // from -o, or --bs-range
  uint64_t byte_limit = 0;  // --bytes: stop after this many bytes (0: only -t)
  LogOptions log;
};

struct AlignedDelete {
  void operator()(uint8_t* p) const { std::free(p); }
};

class PerfRunner;

// One I/O in flight: its buffer and what it is doing. Owned by one queue's slot array; only the
// thread running its current command touches the non-shared fields.
struct Slot {
  PerfRunner* runner = nullptr;
  uint8_t* buf = nullptr;
  uint16_t queue = 0;
  uint64_t unit = 0;   // first unit (of sizes.min bytes)
  uint32_t bytes = 0;  // this I/O's size
  bool write = false;
  uint32_t seq = 0;
  std::vector<VerifyTable::ReadTicket> tickets;  // one per unit of a read; sized once
  Clock::time_point start;
};

class PerfRunner {
 public:
  PerfRunner(HostController* hc, const PerfArgs& a, Workload w, uint32_t block_size, uint64_t units, uint16_t queues)
      : hc_(hc),
        nsid_(a.nsid),
        sizes_(a.sizes),
        block_size_(block_size),
        blocks_per_unit_(a.sizes.min / block_size),
        byte_limit_(a.byte_limit),
        verify_(a.verify),
        gen_(w, units, a.rwmixread, static_cast<uint64_t>(Clock::now().time_since_epoch().count())),
        size_rng_(static_cast<uint64_t>(Clock::now().time_since_epoch().count()) ^ 0x5bd1e995u),
        table_(a.verify ? units : 0),
        slots_(size_t(a.depth) * queues) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      void* p = nullptr;
      if (::posix_memalign(&p, 4096, sizes_.max) != 0) throw std::bad_alloc();
      buffers_.emplace_back(static_cast<uint8_t*>(p));
      std::memset(p, 0, sizes_.max);
      slots_[i].tickets.resize(verify_ ? sizes_.max / sizes_.min : 0);
      slots_[i].runner = this;
      slots_[i].buf = static_cast<uint8_t*>(p);
      slots_[i].queue = static_cast<uint16_t>(i / a.depth + 1);
    }
  }

  void start() {
    start_time_ = Clock::now();
    for (auto& s : slots_) {
      bool go;
      {
        std::lock_guard<std::mutex> lock(mu_);
        go = prepare(s);
        if (go) ++in_flight_;
      }
      if (go) issue(s);
    }
  }

  // Stops resubmitting and snapshots the measured interval's counters.
  void stop() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    result_.seconds = std::chrono::duration<double>(Clock::now() - start_time_).count();
    measured_ = counted_;
  }

  // Waits for every in-flight I/O to complete; false on timeout.
  bool drain(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [this] { return in_flight_ == 0; });
  }

  bool aborted() {
    std::lock_guard<std::mutex> lock(mu_);
    return aborted_;
  }

  // True once stopped, by stop(), an abort, or the last I/O of --bytes.
  bool finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  PerfResult result() {
    std::lock_guard<std::mutex> lock(mu_);
    PerfResult r = result_;
    r.reads = measured_.reads;
    r.writes = measured_.writes;
    r.bytes = measured_.bytes;
    r.latency = measured_.latency;
    r.errors = errors_;
    r.verified_blocks = verified_blocks_;
    r.skipped_blocks = skipped_blocks_;
    r.mismatches = mismatches_;
    r.first_error = first_error_;
    return r;
  }

 private:
  struct Counted {
    uint64_t reads = 0, writes = 0, bytes = 0;
    LatencyHistogram latency;
  };

  // Picks the slot's next I/O. Called with mu_ held; false once stopping.
  bool prepare(Slot& s) {
    if (stopping_ || limit_reached_) return false;
    if (byte_limit_ && issued_bytes_ >= byte_limit_) {
      limit_reached_ = true;
      return false;
    }
    auto next = gen_.next();
    s.bytes = sizes_.choices() > 1 ? sizes_.pick(splitmix(size_rng_)) : sizes_.min;
    s.unit = sizes_.align(next.unit, s.bytes);
    s.write = next.write;
    issued_bytes_ += s.bytes;
    if (verify_) {
      uint32_t n = s.bytes / sizes_.min;
      if (s.write)
        s.seq = table_.begin_write(s.unit, n);
      else
        for (uint32_t i = 0; i < n; ++i) s.tickets[i] = table_.begin_read(s.unit + i);
    }
    return true;
  }

  // Submits the prepared I/O. Called without mu_.
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  void issue(Slot& s) {
    uint64_t slba = s.unit * blocks_per_unit_;
    uint32_t blocks = s.bytes / block_size_;
    if (s.write && verify_)
      for (uint32_t b = 0; b < blocks; ++b) fill_pattern(s.buf + size_t(b) * block_size_, block_size_, slba + b, s.seq);
    s.start = Clock::now();
    // The callback captures one pointer: it fits std::function's inline storage (no allocation).
    Slot* slot = &s;
    if (s.write)
      hc_->write(
          nsid_, slba, blocks, s.buf, [slot](const Completion& c) { slot->runner->complete(*slot, c); }, s.queue);
    else
      hc_->read(
          nsid_, slba, blocks, s.buf, [slot](const Completion& c) { slot->runner->complete(*slot, c); }, s.queue);
  }

  void complete(Slot& s, const Completion& c) {
    uint64_t ns =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - s.start).count());
    bool check = false;
    const uint32_t n = s.bytes / sizes_.min;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (verify_ && s.write)
        for (uint32_t i = 0; i < n; ++i) table_.end_write(s.unit + i, s.seq, c.ok());
      if (!c.ok()) {
        ++errors_;
        if (first_error_.empty())
          first_error_ = std::string(s.write ? "write" : "read") + " of LBA " +
                         std::to_string(s.unit * blocks_per_unit_) + ": " + status_name(c.status);
        if (!hc_->alive() && !stopping_) {
          // A lost association fails everything at once; resubmitting would only spin.
          aborted_ = true;
          stopping_ = true;
          result_.seconds = std::chrono::duration<double>(Clock::now() - start_time_).count();
          measured_ = counted_;
        }
      } else {
        if (!stopping_) {  // completions while draining are checked but not measured
          (s.write ? counted_.writes : counted_.reads) += 1;
          counted_.bytes += s.bytes;
          counted_.latency.record(ns);
        }
        if (verify_ && !s.write) {
          // Per unit: whether its ticket still holds (no write to it since the read was issued).
          for (uint32_t i = 0; i < n; ++i) {
            s.tickets[i].checkable = table_.still_checkable(s.unit + i, s.tickets[i]);
            if (s.tickets[i].checkable)
              check = true;
            else
              skipped_blocks_ += blocks_per_unit_;
          }
        }
      }
    }
    if (check) {
      uint64_t bad = 0, checked = 0, slba = s.unit * blocks_per_unit_;
      uint32_t first_bad_seq = 0;
      for (uint32_t i = 0; i < n; ++i) {
        if (!s.tickets[i].checkable) continue;
        for (uint32_t b = i * blocks_per_unit_; b < (i + 1) * blocks_per_unit_; ++b) {
          ++checked;
          if (!check_pattern(s.buf + size_t(b) * block_size_, block_size_, slba + b, s.tickets[i].expected_seq)) {
            if (!bad) first_bad_seq = s.tickets[i].expected_seq;
            ++bad;
          }
        }
      }
      std::lock_guard<std::mutex> lock(mu_);
      verified_blocks_ += checked;
      mismatches_ += bad;
      if (bad && first_error_.empty())
        first_error_ = "data mismatch in " + std::to_string(bad) + " block(s) read at LBA " + std::to_string(slba) +
                       " (expected write #" + std::to_string(first_bad_seq) + ")";
    }
    bool again;
    {
      std::lock_guard<std::mutex> lock(mu_);
      again = prepare(s);
      if (!again && --in_flight_ == 0) {
        if (!stopping_) {  // the last I/O of --bytes: the run ends here
          stopping_ = true;
          result_.seconds = std::chrono::duration<double>(Clock::now() - start_time_).count();
          measured_ = counted_;
        }
        cv_.notify_all();
      }
      // Past this point a stopped runner may be destroyed by the main thread: touch nothing.
    }
    if (again) issue(s);
  }

  HostController* hc_;
  const uint32_t nsid_;
  const IoSizeRange sizes_;
  const uint32_t block_size_, blocks_per_unit_;
  const uint64_t byte_limit_;
  const bool verify_;
  std::mutex mu_;
  std::condition_variable cv_;
  IoGenerator gen_;
  uint64_t size_rng_;
  uint64_t issued_bytes_ = 0;
  bool limit_reached_ = false;
  VerifyTable table_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<uint8_t, AlignedDelete>> buffers_;
  Clock::time_point start_time_;
  bool stopping_ = false, aborted_ = false;
  uint64_t in_flight_ = 0;
  Counted counted_, measured_;
  uint64_t errors_ = 0, verified_blocks_ = 0, skipped_blocks_ = 0, mismatches_ = 0;
  std::string first_error_;
  PerfResult result_;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "perf: %s\n", message.c_str());
  return 1;
}

int run_perf(const PerfArgs& args) {
  PerfArgs a = args;
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  if (std::string why = raw_socket_privilege_problem("nvmeoe perf"); !why.empty()) return fail(why);
  if (!check_link_name(a.link)) return 1;
  Workload w = *parse_workload(a.workload);
  if (a.io_size % 512 != 0) return fail("-o/--io-size must be a multiple of 512 bytes");
  a.sizes.min = a.sizes.max = a.io_size;
  if (!a.bs_range.empty()) {
    std::string why;
    if (!parse_io_size_range(a.bs_range, &a.sizes, &why)) return fail("--bs-range " + a.bs_range + ": " + why);
  }
  if (!a.bytes.empty()) {
    auto b = parse_byte_size(a.bytes);
    if (!b || *b == 0) return fail("--bytes " + a.bytes + ": expected a byte size such as 1G");
    a.byte_limit = *b;
  }

  ConnectOptions o;
  o.host_iface = a.host_iface;
  o.target_mac = a.traddr;
  o.subnqn = a.nqn;
  o.hostnqn = a.hostnqn.empty() ? default_hostnqn() : a.hostnqn;
  o.dhchap_secret = a.dhchap_secret;
  o.dhchap_ctrl_secret = a.dhchap_ctrl_secret;
  o.ethertype = *parse_ethertype(a.ethertype);
  o.link = a.link;
  o.nr_io_queues = static_cast<uint16_t>(a.nr_io_queues);
  o.poll_us = a.poll_us;
  // An NVMe queue of N entries holds N-1 commands.
  o.queue_size = static_cast<uint16_t>(std::clamp(a.depth + 1, 128u, 1024u));
  o.connect_timeout = std::chrono::seconds(a.connect_timeout_s);
  o.ctrl_loss_tmo = std::chrono::seconds(a.ctrl_loss_tmo_s);
  o.reconnect_delay = std::chrono::seconds(a.reconnect_delay_s);
  o.data_digest = !a.no_data_digest;
  auto connected = HostController::connect(o);
  if (!connected) return fail(connected.status().message());
  std::unique_ptr<HostController> hc = std::move(connected).value();

  const NamespaceInfo* ns = nullptr;
  for (const auto& n : hc->namespaces())
    if (n.nsid == a.nsid) ns = &n;
  auto bail = [&](const std::string& m) {
    hc->disconnect();
    return fail(m);
  };
  if (!ns) return bail("namespace " + std::to_string(a.nsid) + " does not exist on " + a.nqn);
  if (a.sizes.min % ns->block_size != 0)
    return bail("the I/O size " + std::to_string(a.sizes.min) + " is not a multiple of the block size " +
                std::to_string(ns->block_size));
  if (uint32_t mt = hc->controller().max_transfer; mt && a.sizes.max > mt)
    return bail("the I/O size " + std::to_string(a.sizes.max) +
                " is larger than the controller's maximum transfer of " + std::to_string(mt) + " bytes");
  bool writes = w != Workload::kRead && w != Workload::kRandRead;
  if (writes && ns->read_only) return bail("namespace " + std::to_string(a.nsid) + " is read-only");
  if (a.verify && !workload_mixed(w)) return bail("--verify needs a workload that both writes and reads: rw or randrw");
  uint64_t capacity = ns->blocks * ns->block_size, span = capacity;
  if (!a.span.empty()) {
    span = *parse_byte_size(a.span);
    if (span > capacity)
      return bail("--size " + a.span + " is larger than the namespace (" + std::to_string(capacity) + " bytes)");
  }
  // Units of the smallest size; the span is rounded down to whole largest I/Os so an aligned I/O
  // never runs past it.
  uint64_t units = span / a.sizes.max * (a.sizes.max / a.sizes.min);
  if (units == 0) return bail("the span is smaller than one I/O");
  constexpr uint64_t kMaxVerifyUnits = uint64_t(1) << 24;
  if (a.verify && units > kMaxVerifyUnits)
    return bail("--verify tracks at most " + std::to_string(kMaxVerifyUnits) +
                " I/O units; limit the span with --size");
  uint16_t queues = std::min<uint16_t>(static_cast<uint16_t>(a.nr_io_queues), hc->io_queue_count());
  if (queues == 0) return bail("the controller granted no I/O queues");

  PerfResult result;
  bool drained = false;
  {
    auto runner = std::make_unique<PerfRunner>(hc.get(), a, w, ns->block_size, units, queues);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    const FrameCounters frames_before = hc->frame_counters();
    runner->start();
    auto deadline = Clock::now() + std::chrono::seconds(a.seconds);
    while (Clock::now() < deadline && !g_interrupted && !runner->aborted() && !runner->finished())
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    runner->stop();
    drained = runner->drain(o.io_timeout + std::chrono::seconds(5));
    if (!drained) {
      // Disconnecting fails what is left, which runs the remaining callbacks.
      hc->disconnect();
      drained = runner->drain(std::chrono::seconds(10));
    }
    result = runner->result();
    const FrameCounters frames_after = hc->frame_counters();
    result.frames_sent = frames_after.sent - frames_before.sent;
    result.frames_received = frames_after.received - frames_before.received;
    result.digest_errors = frames_after.digest_errors - frames_before.digest_errors;
    if (!drained) {
      (void)runner.release();  // callbacks may still reference it; leaking beats a use-after-free
      result.first_error = "I/O did not complete after stopping; " + result.first_error;
      ++result.errors;
    }
  }
  result.reconnects = hc->reconnects();
  hc->disconnect();
  result.workload = workload_name(w);
  result.io_size = a.sizes.min;
  result.io_size_max = a.sizes.max;
  result.depth = a.depth;
  result.queues = queues;
  result.nsid = a.nsid;
  result.verify = a.verify;
  if (a.json)
    std::printf("%s\n", perf_json(result).dump(2).c_str());
  else
    std::fputs(format_perf_text(result).c_str(), stdout);
  return result.failed() ? 1 : 0;
}

}  // namespace

Subcommand add_perf_command(CLI::App& parent) {
  auto a = std::make_shared<PerfArgs>();
  CLI::App* app =
      parent.add_subcommand("perf", "Measure I/O performance over its own association (like spdk_nvme_perf)");
  app->add_option("-a,--traddr", a->traddr, "Target MAC address")->required()->check(mac_validator());
  app->add_option("-n,--nqn", a->nqn, "Subsystem NQN")->required()->check(nqn_validator());
  app->add_option("--host-iface", a->host_iface, "Local network interface")->required();
  app->add_option("--hostnqn", a->hostnqn, "Host NQN (default: /etc/nvme/hostnqn, else generated)")
      ->check(nqn_validator());
  add_dhchap_options(*app, &a->dhchap_secret, &a->dhchap_ctrl_secret);
  app->add_option("-q,--queue-depth", a->depth, "I/Os in flight per queue")
      ->check(int_range_validator(1, 1023, "the queue depth"))
      ->capture_default_str();
  app->add_option("-o,--io-size", a->io_size, "Bytes per I/O (a multiple of the block size)")
      ->check(int_range_validator(512, 64 << 20, "the I/O size"))
      ->capture_default_str();
  app->add_option("--bs-range", a->bs_range,
                  "MIN-MAX: each I/O takes a random power-of-two size from MIN to MAX (e.g. 4096-1M; "
                  "instead of -o)");
  app->add_option("--bytes", a->bytes, "Stop after this many bytes moved (e.g. 1G), or at -t, whichever is first")
      ->check(byte_size_validator());
  app->add_option("-w,--workload", a->workload, "read, write, randread, randwrite, rw or randrw")
      ->check(workload_validator())
      ->capture_default_str();
  app->add_option("-M,--rwmixread", a->rwmixread, "Percent of reads in rw/randrw")
      ->check(int_range_validator(0, 100, "the read percentage"))
      ->capture_default_str();
  app->add_option("-t,--time", a->seconds, "Seconds to run")
      ->check(int_range_validator(1, 86400, "the run time"))
      ->capture_default_str();
  app->add_option("-i,--nr-io-queues", a->nr_io_queues, "I/O queues to use")
      ->check(int_range_validator(1, 64, "the number of I/O queues"))
      ->capture_default_str();
  app->add_option("--poll-us", a->poll_us,
                  "Busy-poll the link this many microseconds for answers before sleeping (lower latency, more CPU)")
      ->check(int_range_validator(0, 10000, "the busy-poll time"))
      ->capture_default_str();
  app->add_option("--nsid", a->nsid, "Namespace ID")
      ->check(int_range_validator(1, 0xfffffffe, "the namespace ID"))
      ->capture_default_str();
  app->add_option("--size", a->span, "Bytes of the namespace to use, from LBA 0 (default: all)")
      ->check(byte_size_validator());
  app->add_flag("--verify", a->verify,
                "Write a pattern and check every read against the last completed write (rw, randrw)");
  app->add_flag("--json", a->json, "Print the results as JSON");
  add_digest_flags(*app, &a->hdr_digest, &a->data_digest, &a->no_data_digest);
  app->add_option("--ethertype", a->ethertype, "EtherType of nvmeoe frames")
      ->check(ethertype_validator())
      ->capture_default_str();
  add_link_option(*app, &a->link);
  app->add_option("--connect-timeout", a->connect_timeout_s, "Seconds to wait for each queue's handshake")
      ->check(int_range_validator(1, 600, "the connect timeout"))
      ->capture_default_str();
  app->add_option("-l,--ctrl-loss-tmo", a->ctrl_loss_tmo_s,
                  "Seconds to hold I/O and reconnect after the association is lost (0: fail at once)")
      ->check(int_range_validator(0, 3600, "the controller loss timeout"))
      ->capture_default_str();
  app->add_option("-c,--reconnect-delay", a->reconnect_delay_s, "Seconds between reconnect attempts (with -l)")
      ->check(int_range_validator(1, 3600, "the reconnect delay"))
      ->capture_default_str();
  add_log_options(*app, &a->log);
  app->footer(
      "Exits non-zero on any I/O error or verification mismatch.\n\n"
      "Examples:\n"
      "  nvmeoe perf -a 02:00:00:00:00:01 -n nqn.2024-01.io.nvmeoe:disk1 --host-iface eth1 -q 32 -o 4096 -w randread "
      "-t 10\n"
      "  nvmeoe perf -a 02:00:00:00:00:01 -n nqn.2024-01.io.nvmeoe:disk1 --host-iface eth1 -w randrw -M 70 -i 4 "
      "--json\n"
      "  nvmeoe perf -a 02:00:00:00:00:01 -n nqn.2024-01.io.nvmeoe:disk1 --host-iface eth1 -w randwrite --verify "
      "--size 1G");
  return {app, [a] { return run_perf(*a); }};
}

}  // namespace nvmeoe::cli
