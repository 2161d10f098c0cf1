// nvmeoe-fault-relay: a bad network in a box. Runs in a "middle" network namespace holding one end
// of two veth pairs (host <-> relay <-> target) and forwards every frame of one EtherType from each
// interface to the other, unchanged (original MACs kept), through a FaultLink per direction that
// drops, duplicates, reorders, delays or corrupts frames, or swallows everything (blackhole).
// This kernel has no netem; tests/fault/lib.sh sets the three namespaces up around this process.
//
// Run-time control: SIGUSR1 turns the blackhole on, SIGUSR2 off; with --control FIFO, lines such as
// "blackhole on", "drop 0.3", "left-to-right delay-us 500", "clear", "stats" are read from FIFO.
// Every applied change prints an "applied:" line; SIGTERM/SIGINT print a summary and exit 0.
// Only for use between test namespaces.
#include <fcntl.h>
#include <linux/if_packet.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "link/fault_link.h"
#include "link/link.h"
#include "link/netif.h"

namespace nvmeoe {
namespace {

constexpr const char* kProg = "nvmeoe-fault-relay";
// Frames moved per receive/send batch and direction.
constexpr size_t kBatch = 256;
// Batches per direction before events (signals, control lines) are looked at again.
constexpr int kRoundsPerWake = 64;
constexpr size_t kFrameSlack = 4;  // a VLAN tag the kernel may leave in place

enum Dir { kLeftToRight = 0, kRightToLeft = 1 };
const char* const kDirNames[2] = {"left-to-right", "right-to-left"};

// What the faults of a direction are set to; the relay's copy of what its FaultLink holds.
struct Faults {
  double drop = 0, duplicate = 0, reorder = 0, corrupt = 0;
  uint64_t delay_us = 0;
  bool blackhole = false;
};

struct Side {
  std::string iface;
  Link* inner = nullptr;            // the PacketLink, owned by `link`
  std::unique_ptr<FaultLink> link;  // faults on receive: this side's frames toward the other
  Faults faults;
  uint64_t forwarded = 0;  // frames handed to the other side's send()
  int last_error = 0;
};

Status parse_ethertype(const std::string& text, uint16_t* out) {
  try {
    size_t used = 0;
    unsigned long et = std::stoul(text, &used, 0);
    if (used != text.size() || et < 0x600 || et > 0xffff) throw std::invalid_argument("range");
    *out = uint16_t(et);
    return Status::ok();
  } catch (const std::exception&) {
    return Status::error("invalid EtherType '" + text + "' (expected e.g. 0x88b5)");
  }
}

void apply(Side& s) {
  FaultConfig c = s.link->config();
  c.drop = s.faults.drop;
  c.duplicate = s.faults.duplicate;
  c.reorder = s.faults.reorder;
  c.corrupt = s.faults.corrupt;
  c.delay = std::chrono::microseconds(s.faults.delay_us);
  c.blackhole = s.faults.blackhole;
  s.link->set_config(std::move(c));
}

class Relay {
 public:
  Relay(Side left, Side right) {
    sides_[kLeftToRight] = std::move(left);
    sides_[kRightToLeft] = std::move(right);
    size_t slot = kEthHeaderSize + kFrameSlack + std::max(sides_[0].inner->mtu(), sides_[1].inner->mtu());
    slot_size_ = slot;
    arena_.resize(slot * kBatch);
  }

  // Moves up to kBatch frames from side `from` to the other side; returns how many arrived.
  size_t forward(Dir from) {
    Side& src = sides_[from];
    Side& dst = sides_[1 - from];
    tx_.clear();
    size_t n = src.link->receive(
        [&](std::span<const uint8_t> frame) {
          if (frame.size() > slot_size_) return;  // cannot happen: the ring holds no larger frame
          uint8_t* slot = arena_.data() + tx_.size() * slot_size_;
          std::memcpy(slot, frame.data(), frame.size());
          tx_.add(std::span<const uint8_t>(slot, frame.size()));
        },
        kBatch);
    if (tx_.size()) {
      Status s = dst.link->send(tx_.frames());
      src.forwarded += tx_.size();
      if (!s) {
        fatal_ = s.message();
        return 0;
      }
    }
    return n;
  }

  // Frames that arrived nowhere: clears a pending socket error (an interface that went down and
  // up leaves one, and it would keep the fd readable), and notices a vanished interface.
  void check_links() {
    for (Side& s : sides_) {
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(s.inner->wait_fd(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err && err != s.last_error) {
        LOG_WARN("%s: %s", s.iface.c_str(), std::strerror(err));
      }
      s.last_error = err;
      if (err) {
        Result<InterfaceInfo> info = lookup_interface(s.iface);
        if (!info) fatal_ = "interface " + s.iface + " is gone: " + info.status().message();
      }
    }
  }

  const std::string& fatal() const { return fatal_; }
  Side& side(Dir d) { return sides_[d]; }

  std::string counters_text(Dir d) const {
    const Side& src = sides_[d];
    const Side& dst = sides_[1 - d];
    FaultCounts f = src.link->fault_counters().rx;
    // Lost below the faults: the source's receive ring overflowed, or the destination's kernel
    // queue refused frames.
    uint64_t lost = src.inner->counters().rx_dropped + dst.inner->counters().tx_dropped;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s received=%llu forwarded=%llu dropped=%llu duplicated=%llu reordered=%llu delayed=%llu "
                  "corrupted=%llu lost=%llu",
                  kDirNames[d], static_cast<unsigned long long>(f.frames),
                  static_cast<unsigned long long>(src.forwarded), static_cast<unsigned long long>(f.dropped),
                  static_cast<unsigned long long>(f.duplicated), static_cast<unsigned long long>(f.reordered),
                  static_cast<unsigned long long>(f.delayed), static_cast<unsigned long long>(f.corrupted),
                  static_cast<unsigned long long>(lost));
    return buf;
  }

  void print_stats() const {
    std::printf("%s: stats %s | %s\n", kProg, counters_text(kLeftToRight).c_str(), counters_text(kRightToLeft).c_str());
  }
  void print_summary() const {
    for (Dir d : {kLeftToRight, kRightToLeft}) std::printf("%s: summary %s\n", kProg, counters_text(d).c_str());
  }

 private:
  Side sides_[2];
  size_t slot_size_ = 0;
  std::vector<uint8_t> arena_;
  TxFrameList tx_;
  std::string fatal_;
};

std::string describe(const Faults& f) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "drop=%g duplicate=%g reorder=%g corrupt=%g delay-us=%llu blackhole=%s", f.drop,
                f.duplicate, f.reorder, f.corrupt, static_cast<unsigned long long>(f.delay_us),
                f.blackhole ? "on" : "off");
  return buf;
}

bool parse_probability(const std::string& text, double* out) {
  try {
    size_t used = 0;
    double p = std::stod(text, &used);
    if (used != text.size() || !(p >= 0 && p <= 1)) return false;
    *out = p;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool parse_u64(const std::string& text, uint64_t* out) {
  try {
    size_t used = 0;
    unsigned long long v = std::stoull(text, &used, 0);
    if (used != text.size() || text[0] == '-') return false;
    *out = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Applies one control line ("[left-to-right|right-to-left|both] COMMAND [VALUE]") to the sides it
// names, or by default to those --direction enabled. Returns an error message, empty on success.
std::string control(Relay& relay, const std::string& line, const bool default_dirs[2]) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return "";
  bool dirs[2] = {default_dirs[0], default_dirs[1]};
  size_t at = 0;
  if (words[0] == "left-to-right" || words[0] == "right-to-left" || words[0] == "both") {
    dirs[kLeftToRight] = words[0] != "right-to-left";
    dirs[kRightToLeft] = words[0] != "left-to-right";
    ++at;
  }
  if (at >= words.size()) return "missing command";
  const std::string& cmd = words[at];
  std::string value = at + 1 < words.size() ? words[at + 1] : "";
  if (at + 2 < words.size()) return "too many words";
  if (cmd == "stats") {
    relay.print_stats();
    return "";
  }
  auto set = [&](auto&& edit) {
    for (Dir d : {kLeftToRight, kRightToLeft}) {
      if (!dirs[d]) continue;
      edit(relay.side(d).faults);
      apply(relay.side(d));
    }
  };
  double p = 0;
  uint64_t n = 0;
  if (cmd == "blackhole") {
    if (value != "on" && value != "off") return "blackhole takes on or off";
    set([&](Faults& f) { f.blackhole = value == "on"; });
  } else if (cmd == "clear") {
    if (!value.empty()) return "clear takes no value";
    set([&](Faults& f) { f = Faults{}; });
  } else if (cmd == "delay-us") {
    if (!parse_u64(value, &n)) return "delay-us takes a number of microseconds";
    set([&](Faults& f) { f.delay_us = n; });
  } else if (cmd == "drop" || cmd == "duplicate" || cmd == "reorder" || cmd == "corrupt") {
    if (!parse_probability(value, &p)) return cmd + " takes a probability between 0 and 1";
    set([&](Faults& f) {
      if (cmd == "drop") f.drop = p;
      if (cmd == "duplicate") f.duplicate = p;
      if (cmd == "reorder") f.reorder = p;
      if (cmd == "corrupt") f.corrupt = p;
    });
  } else {
    return "unknown command '" + cmd + "'";
  }
  // One line per command, so a script waiting for the acknowledgement sees all of it at once.
  std::string text;
  for (Dir d : {kLeftToRight, kRightToLeft}) {
    if (!dirs[d]) continue;
    text += text.empty() ? "" : "; ";
    text += std::string(kDirNames[d]) + " " + describe(relay.side(d).faults);
  }
  std::printf("%s: applied: %s -> %s\n", kProg, line.c_str(), text.empty() ? "no direction" : text.c_str());
  return "";
}

// Turns on promiscuous mode on `iface` for as long as `fd` stays open: the frames to forward are
// addressed to the far end's MAC, not to ours.
Status add_promiscuous(int fd, const std::string& iface) {
  Result<InterfaceInfo> info = lookup_interface(iface);
  if (!info) return info.status();
  packet_mreq mreq{};
  mreq.mr_ifindex = info->index;
  mreq.mr_type = PACKET_MR_PROMISC;
  if (::setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0)
    return Status::from_errno(errno, "setting " + iface + " promiscuous");
  return Status::ok();
}

// Reads whole lines from the control FIFO. The FIFO is opened read-write so that writers coming
// and going never make it report end-of-file.
class ControlFifo {
 public:
  ~ControlFifo() {
    if (fd_ >= 0) ::close(fd_);
    if (created_) ::unlink(path_.c_str());
  }
  Status open(const std::string& path) {
    path_ = path;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      if (!S_ISFIFO(st.st_mode)) return Status::error(path + " exists and is not a FIFO");
    } else {
      if (::mkfifo(path.c_str(), 0600) < 0) return Status::from_errno(errno, "creating FIFO " + path);
      created_ = true;
    }
    fd_ = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) return Status::from_errno(errno, "opening FIFO " + path);
    return Status::ok();
  }
  int fd() const { return fd_; }
  // Appends complete lines read so far to `lines`.
  void read_lines(std::vector<std::string>* lines) {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      pending_.append(buf, size_t(n));
    }
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      lines->push_back(pending_.substr(0, nl));
      pending_.erase(0, nl + 1);
    }
    if (pending_.size() > 4096) pending_.clear();  // not a line protocol speaker
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool created_ = false;
  std::string pending_;
};

int run(int argc, char** argv) {
  CLI::App app{
      "nvmeoe-fault-relay: forward nvmeoe frames between two interfaces, injecting faults "
      "(test namespaces only)"};
  std::string left, right, ethertype_text = "0x88b5", direction = "both", control_path, log_level = "warn";
  Faults faults;
  bool corrupt_headers = false;
  uint64_t seed = 1, reorder_timeout_us = 1000;
  double stats_interval = 0;
  app.add_option("--left", left, "interface on the host side")->required();
  app.add_option("--right", right, "interface on the target side")->required();
  app.add_option("--ethertype", ethertype_text, "EtherType to forward")->capture_default_str();
  app.add_option("--drop", faults.drop, "probability a frame is dropped")->check(CLI::Range(0.0, 1.0));
  app.add_option("--duplicate", faults.duplicate, "probability a frame is sent twice")->check(CLI::Range(0.0, 1.0));
  app.add_option("--reorder", faults.reorder, "probability a frame is held back behind the next 1-3")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--corrupt", faults.corrupt, "probability 1-3 bits of the payload are flipped")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--corrupt-headers", corrupt_headers,
               "let corruption hit the Ethernet header too (by default it hits any byte from 14 on: nvmeoe headers, "
               "metadata, data and digests)");
  app.add_option("--delay-us", faults.delay_us, "delay added to every frame, microseconds");
  app.add_option("--reorder-timeout-us", reorder_timeout_us, "a held-back frame leaves after this if no frame follows")
      ->capture_default_str();
  app.add_flag("--blackhole", faults.blackhole, "start with the blackhole on");
  app.add_option("--seed", seed, "random seed (same seed, same faults for the same frames)")->capture_default_str();
  app.add_option("--direction", direction, "which frames get faults")
      ->check(CLI::IsMember({"both", "left-to-right", "right-to-left"}))
      ->capture_default_str();
  app.add_option("--stats-interval", stats_interval, "print a stats line every SECONDS (0: only the summary)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--control", control_path, "FIFO to read control lines from (created if missing)");
  app.add_option("--log-level", log_level, "error|warn|info|debug")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  set_log_prefix(kProg);
  LogLevel level;
  if (!parse_log_level(log_level.c_str(), &level)) {
    std::fprintf(stderr, "%s: invalid log level '%s'\n", kProg, log_level.c_str());
    return 2;
  }
  set_log_level(level);
  uint16_t ethertype = 0;
  if (Status s = parse_ethertype(ethertype_text, &ethertype); !s) {
    std::fprintf(stderr, "%s: %s\n", kProg, s.message().c_str());
    return 2;
  }
  if (left == right) {
    std::fprintf(stderr, "%s: --left and --right must be different interfaces\n", kProg);
    return 2;
  }
  // stdout usually goes to a log file that a test script greps while we run.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  // Signals arrive through a signalfd, in the event loop, never in a handler.
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2}) sigaddset(&mask, sig);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  int sig_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sig_fd < 0) {
    std::fprintf(stderr, "%s: signalfd: %s\n", kProg, std::strerror(errno));
    return 1;
  }

  bool enabled[2] = {direction != "right-to-left", direction != "left-to-right"};
  Side sides[2];
  const std::string names[2] = {left, right};
  for (Dir d : {kLeftToRight, kRightToLeft}) {
    // A relay forwards whatever the interfaces carry; the peers check the MTU they need.
    Result<std::unique_ptr<Link>> link = open_packet_link(names[d], ethertype, 1);
    if (!link) {
      std::fprintf(stderr, "%s: %s\n", kProg, link.status().message().c_str());
      return 1;
    }
    Side& s = sides[d];
    s.iface = names[d];
    s.inner = link->get();
    if (enabled[d]) s.faults = faults;
    FaultConfig config;
    config.direction = FaultDirection::kRx;
    // Independent sequences per direction, both fixed by --seed.
    config.seed = d == kLeftToRight ? seed : seed ^ 0x9e3779b97f4a7c15ull;
    config.corrupt_from = corrupt_headers ? 0 : kEthHeaderSize;
    config.reorder_timeout = std::chrono::microseconds(reorder_timeout_us);
    Result<std::unique_ptr<FaultLink>> fl = FaultLink::create(std::move(link.value()), config);
    if (!fl) {
      std::fprintf(stderr, "%s: %s\n", kProg, fl.status().message().c_str());
      return 1;
    }
    s.link = std::move(fl.value());
    apply(s);
  }
  if (sides[0].inner->mtu() != sides[1].inner->mtu())
    LOG_WARN("MTU differs: %s %u, %s %u; larger frames are lost", left.c_str(), sides[0].inner->mtu(), right.c_str(),
             sides[1].inner->mtu());

  int promisc_fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: receives nothing
  if (promisc_fd < 0) {
    std::fprintf(stderr, "%s: packet socket: %s\n", kProg, std::strerror(errno));
    return 1;
  }
  for (const std::string& iface : names) {
    if (Status s = add_promiscuous(promisc_fd, iface); !s) {
      std::fprintf(stderr, "%s: %s\n", kProg, s.message().c_str());
      return 1;
    }
  }

  Relay relay(std::move(sides[0]), std::move(sides[1]));
  ControlFifo fifo;
  if (!control_path.empty()) {
    if (Status s = fifo.open(control_path); !s) {
      std::fprintf(stderr, "%s: %s\n", kProg, s.message().c_str());
      return 1;
    }
  }
  int stats_fd = -1;
  if (stats_interval > 0) {
    stats_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec its{};
    double whole = std::floor(stats_interval);
    its.it_interval.tv_sec = time_t(whole);
    its.it_interval.tv_nsec = long((stats_interval - whole) * 1e9);
    its.it_value = its.it_interval;
    if (stats_fd < 0 || ::timerfd_settime(stats_fd, 0, &its, nullptr) < 0) {
      std::fprintf(stderr, "%s: stats timer: %s\n", kProg, std::strerror(errno));
      return 1;
    }
  }

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  auto watch = [&](int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return fd < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  if (ep < 0 || !watch(relay.side(kLeftToRight).link->wait_fd()) || !watch(relay.side(kRightToLeft).link->wait_fd()) ||
      !watch(sig_fd) || !watch(fifo.fd()) || !watch(stats_fd)) {
    std::fprintf(stderr, "%s: epoll: %s\n", kProg, std::strerror(errno));
    return 1;
  }

  std::printf("%s: forwarding %s <-> %s, EtherType 0x%04x, seed %llu, faults %s: %s\n", kProg, left.c_str(),
              right.c_str(), ethertype, static_cast<unsigned long long>(seed), direction.c_str(),
              describe(faults).c_str());

  int exit_code = 0;
  bool stop = false;
  std::vector<std::string> lines;
  std::array<epoll_event, 8> events;
  while (!stop) {
    int n = ::epoll_wait(ep, events.data(), int(events.size()), -1);
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "%s: epoll_wait: %s\n", kProg, std::strerror(errno));
      exit_code = 1;
      break;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[size_t(i)].data.fd;
      if (fd == sig_fd) {
        signalfd_siginfo si;
        while (::read(sig_fd, &si, sizeof si) == ssize_t(sizeof si)) {
          if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            stop = true;
          } else {
            const char* line = si.ssi_signo == SIGUSR1 ? "blackhole on" : "blackhole off";
            control(relay, line, enabled);
          }
        }
      } else if (fd == fifo.fd() && fd >= 0) {
        lines.clear();
        fifo.read_lines(&lines);
        for (const std::string& line : lines) {
          std::string err = control(relay, line, enabled);
          if (!err.empty()) std::printf("%s: control: '%s': %s\n", kProg, line.c_str(), err.c_str());
        }
      } else if (fd == stats_fd && fd >= 0) {
        uint64_t ticks;
        (void)!::read(stats_fd, &ticks, sizeof ticks);
        relay.print_stats();
      }
    }
    if (stop) break;
    size_t moved = 0;
    for (int round = 0; round < kRoundsPerWake; ++round) {
      size_t a = relay.forward(kLeftToRight);
      size_t b = relay.forward(kRightToLeft);
      moved += a + b;
      if (!relay.fatal().empty() || (a < kBatch && b < kBatch)) break;
    }
    if (moved == 0 && n > 0) relay.check_links();
    if (!relay.fatal().empty()) {
      std::fprintf(stderr, "%s: %s\n", kProg, relay.fatal().c_str());
      exit_code = 1;
      break;
    }
  }
  relay.print_summary();
  std::fflush(stdout);
  ::close(ep);
  if (stats_fd >= 0) ::close(stats_fd);
  ::close(promisc_fd);
  ::close(sig_fd);
  return exit_code;
}

}  // namespace
}  // namespace nvmeoe

int main(int argc, char** argv) {
  return nvmeoe::run(argc, argv);
}
