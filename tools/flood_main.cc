// nvmeoe-flood: a bounded flood from made-up source MACs at one target, for the resource-limit
// tests (tests/e2e/e2e_flood.sh). Only for use inside test network namespaces.
//   connect        each MAC: Connect Request + Fabrics Connect (KATO 0) to --subnqn, then nothing
//   io-connect     each MAC: Connect Request for I/O queue 1 of 1024 entries, then nothing
//   claim-unbound  each MAC: Connect Request + a Write claiming --claim-bytes, data never sent
//   claim          --count MACs each set up a whole controller (admin queue, CC.EN, an I/O queue
//                  of 1024 entries; answers read back for the controller ID), then claim
//                  --claims Writes of --claim-bytes each whose data never follows, over and over
//   discover       Discover Queries from --count MACs
// --pps paces the frames (all modes), --duration repeats the flood for that long (new nonces and
// generations each round); without it each MAC goes once.
#include <poll.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/rate_limit.h"
#include "link/link.h"
#include "spoof_frames.h"

namespace nvmeoe {
namespace {

constexpr size_t kBatch = 64;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string iface, dst, mode, subnqn = kDiscoveryNqn;
  std::string hostnqn = "nqn.2014-08.org.nvmexpress:uuid:f100d000-0000-0000-0000-000000000000";
  uint32_t count = 1000, claims = 32, claim_bytes = 1u << 20, tag = 0x42;
  uint64_t pps = 10000;
  double duration = 0;
};

class Sender {
 public:
  Sender(Link& link, uint64_t pps) : link_(link), batch_ns_(pps ? kBatch * 1000000000ull / pps : 0) {}
  void add(std::vector<uint8_t> f) {
    frames_.push_back(std::move(f));
    if (frames_.size() >= kBatch) flush();
  }
  void flush() {
    if (frames_.empty()) return;
    TxFrameList tx;
    for (const auto& f : frames_) tx.add(f);
    (void)link_.send(tx.frames());
    sent_ += frames_.size();
    frames_.clear();
    if (batch_ns_) {
      timespec ts{time_t(batch_ns_ / 1000000000u), long(batch_ns_ % 1000000000u)};
      while (::nanosleep(&ts, &ts) != 0) {
      }
    }
  }
  uint64_t sent() const { return sent_; }

 private:
  Link& link_;
  uint64_t batch_ns_;
  std::vector<std::vector<uint8_t>> frames_;
  uint64_t sent_ = 0;
};

// Controller IDs from the Fabrics Connect responses to our made-up MACs, for `wait`.
std::map<uint64_t, uint16_t> read_cntlids(Link& link, std::chrono::milliseconds wait) {
  std::map<uint64_t, uint16_t> out;
  auto until = Clock::now() + wait;
  while (Clock::now() < until) {
    pollfd p{link.wait_fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
    link.receive(
        [&](std::span<const uint8_t> bytes) {
          Frame f;
          if (decode_frame(bytes, link.ethertype(), &f) != DecodeError::kNone) return;
          if (f.a.qid != 0) return;
          for (const Segment& g : f.segments()) {
            if (g.h.kind != FrameKind::kResponse) continue;
            Cqe cqe = decode_cqe(g.meta.data());
            if ((cqe.status & 0x7ff) == 0) out[mac_key(f.dst.b.data())] = uint16_t(cqe.dw0);
          }
        },
        1024);
  }
  return out;
}

int run(int argc, char** argv) {
  Args a;
  CLI::App app{"nvmeoe-flood: a bounded flood from made-up MACs (resource-limit tests, test namespaces only)"};
  app.add_option("--iface", a.iface, "interface to send on")->required();
  app.add_option("--dst", a.dst, "the target's MAC")->required();
  app.add_option("--mode", a.mode, "connect|io-connect|claim-unbound|claim|discover")
      ->required()
      ->check(CLI::IsMember({"connect", "io-connect", "claim-unbound", "claim", "discover"}));
  app.add_option("--count", a.count, "made-up MACs")->capture_default_str();
  app.add_option("--pps", a.pps, "frames per second (0: as fast as possible)")->capture_default_str();
  app.add_option("--duration", a.duration, "repeat for this many seconds (0: once)")->capture_default_str();
  app.add_option("--subnqn", a.subnqn, "subsystem of the Fabrics Connects")->capture_default_str();
  app.add_option("--hostnqn", a.hostnqn, "host NQN the flood claims")->capture_default_str();
  app.add_option("--claims", a.claims, "claim: Writes per controller")->capture_default_str();
  app.add_option("--claim-bytes", a.claim_bytes, "bytes each Write claims")->capture_default_str();
  app.add_option("--tag", a.tag, "second byte of the made-up MACs (06:TAG:...)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto dst = MacAddress::parse(a.dst);
  if (!dst) {
    std::fprintf(stderr, "nvmeoe-flood: %s\n", dst.status().message().c_str());
    return 2;
  }
  auto link = open_packet_link(a.iface, kDefaultEtherType, kMinMtu);
  if (!link) {
    std::fprintf(stderr, "nvmeoe-flood: %s\n", link.status().message().c_str());
    return 1;
  }
  Link& l = **link;
  Spoofer spoof(*dst, kDefaultEtherType);
  Sender out(l, a.pps);
  auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.duration));
  auto mac = [&](uint32_t i) { return spoofed_mac(i, uint8_t(a.tag)); };
  uint32_t established = 0;
  uint64_t round = 0;

  if (a.mode == "claim") {
    // Set up: admin queues first (answers give the controller IDs), then enable and I/O queue.
    for (uint32_t i = 0; i < a.count; ++i) {
      out.add(spoof.connect_request(mac(i), 0, i + 1, 32));
      out.add(spoof.fabrics_connect(mac(i), 0, i + 1, 32, a.subnqn, a.hostnqn));
    }
    out.flush();
    std::map<uint64_t, uint16_t> cntlids = read_cntlids(l, std::chrono::milliseconds(500));
    std::vector<std::pair<uint32_t, uint16_t>> ctrls;
    for (uint32_t i = 0; i < a.count; ++i)
      if (auto it = cntlids.find(mac_key(mac(i).b.data())); it != cntlids.end()) ctrls.emplace_back(i, it->second);
    for (auto [i, cntlid] : ctrls) {
      out.add(spoof.enable(mac(i), i + 1, cntlid, 1));
      out.add(spoof.connect_request(mac(i), 1, 100000 + i, 1024, cntlid));
      out.add(spoof.fabrics_connect(mac(i), 1, 100000 + i, 1024, a.subnqn, a.hostnqn, cntlid));
    }
    out.flush();
    established = uint32_t(ctrls.size());
    do {
      ++round;
      for (auto [i, cntlid] : ctrls)
        for (uint32_t c = 0; c < a.claims; ++c)
          out.add(spoof.write_claim(mac(i), 1, 100000 + i, cntlid, uint16_t(c), uint32_t(round), a.claim_bytes));
      out.flush();
    } while (Clock::now() < end);
  } else {
    do {
      ++round;
      for (uint32_t i = 0; i < a.count; ++i) {
        uint32_t nonce = uint32_t(round << 20) ^ (i + 1);
        if (a.mode == "connect") {
          out.add(spoof.connect_request(mac(i), 0, nonce, 32));
          out.add(spoof.fabrics_connect(mac(i), 0, nonce, 32, a.subnqn, a.hostnqn));
        } else if (a.mode == "io-connect") {
          out.add(spoof.connect_request(mac(i), 1, nonce, 1024, 1));
        } else if (a.mode == "claim-unbound") {
          out.add(spoof.connect_request(mac(i), 1, nonce, 64, 1));
          out.add(spoof.write_claim(mac(i), 1, nonce, 1, 0, 1, a.claim_bytes));
        } else {
          out.add(spoof.discover_query(mac(i), nonce, a.hostnqn));
        }
        if (Clock::now() >= end && a.duration > 0) break;
      }
      out.flush();
      l.receive([](std::span<const uint8_t>) {}, 1u << 16);  // the target's answers, unread
    } while (Clock::now() < end);
  }
  std::printf("nvmeoe-flood: mode %s, %u MACs, %llu rounds: sent %llu frames%s\n", a.mode.c_str(), a.count,
              static_cast<unsigned long long>(round), static_cast<unsigned long long>(out.sent()),
              a.mode == "claim" ? (", " + std::to_string(established) + " controllers set up").c_str() : "");
  return 0;
}

}  // namespace
}  // namespace nvmeoe

int main(int argc, char** argv) {
  return nvmeoe::run(argc, argv);
}
