// nvmeoe-rawsend: sends malformed or unexpected frames at a target, for robustness tests. Every mode
// builds frames that a correct peer must drop or answer without harm (and without disturbing the
// associations it serves); `discover`, `bad-digest` and `retransmit-request` also give captures
// frame kinds a plain run lacks. Only for use inside test network namespaces.
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/mac.h"
#include "link/link.h"
#include "nvme/spec.h"
#include "wire/frame.h"

namespace nvmeoe {
namespace {

enum class Mode {
  kRandom,
  kTruncated,
  kHugeLength,
  kUnknownAssociation,
  kBadVersion,
  kWrongEtherType,
  kDiscover,
  kBadDigest,
  kRetransmitRequest
};

const std::map<std::string, Mode> kModes = {
    {"random", Mode::kRandom},
    {"truncated", Mode::kTruncated},
    {"huge-length", Mode::kHugeLength},
    {"unknown-association", Mode::kUnknownAssociation},
    {"bad-version", Mode::kBadVersion},
    {"wrong-ethertype", Mode::kWrongEtherType},
    {"discover", Mode::kDiscover},
    {"bad-digest", Mode::kBadDigest},
    {"retransmit-request", Mode::kRetransmitRequest},
};

// Frames are sent in batches of this many; pacing (--pps) is applied per batch.
constexpr size_t kBatch = 64;

class FrameMaker {
 public:
  FrameMaker(MacAddress dst, MacAddress src, uint16_t ethertype, uint32_t mtu, uint64_t seed)
      : dst_(dst), src_(src), ethertype_(ethertype), mtu_(mtu), rng_(seed) {}

  std::vector<uint8_t> make(Mode mode) {
    switch (mode) {
      case Mode::kRandom:
        return random_frame();
      case Mode::kTruncated:
        return truncated_frame();
      case Mode::kHugeLength:
        return huge_length_frame();
      case Mode::kUnknownAssociation:
        return unknown_association_frame();
      case Mode::kBadVersion:
        return bad_version_frame();
      case Mode::kWrongEtherType:
        return wrong_ethertype_frame();
      case Mode::kDiscover:
        return discover_query_frame();
      case Mode::kBadDigest:
        return bad_digest_frame();
      case Mode::kRetransmitRequest:
        return retransmit_request_frame();
    }
    return {};
  }

 private:
  uint64_t uniform(uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_); }
  uint8_t byte() { return uint8_t(uniform(0, 255)); }
  bool coin() { return uniform(0, 1) == 1; }
  void fill_random(uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = byte();
  }
  FrameKind any_kind() {
    return FrameKind(uniform(uint8_t(FrameKind::kConnectRequest), uint8_t(FrameKind::kDiscoverReply)));
  }
  // Payload bytes a frame may carry on this link beyond the nvmeoe header.
  size_t max_payload() const { return mtu_ > kHeaderSize ? mtu_ - kHeaderSize : 0; }
  // A random unicast MAC that is not ours.
  MacAddress random_unicast() {
    MacAddress m;
    fill_random(m.b.data(), m.b.size());
    m.b[0] = uint8_t((m.b[0] & 0xfe) | 0x02);  // unicast, locally administered
    return m;
  }

  FrameHeader random_header() {
    FrameHeader h;
    h.kind = any_kind();
    h.qid = uint16_t(uniform(0, 0xffff));
    h.cntlid = uint16_t(uniform(0, 0xffff));
    h.nonce = uint32_t(uniform(0, 0xffffffffu));
    h.cid = uint16_t(uniform(0, 0xffff));
    h.offset = uint32_t(uniform(0, 0xffffffffu));
    h.total = uint32_t(uniform(0, 0xffffffffu));
    h.gen = uint32_t(uniform(0, 0xffffffffu));
    return h;
  }

  // Ethernet + nvmeoe headers followed by `payload_len` random bytes, with `h.length` as given.
  std::vector<uint8_t> framed(const MacAddress& src, uint16_t ethertype, const FrameHeader& h, size_t payload_len) {
    std::vector<uint8_t> f(kFrameHeadroom + payload_len);
    encode_headers(f.data(), dst_, src, ethertype, h);
    fill_random(f.data() + kFrameHeadroom, payload_len);
    return f;
  }

  // Random bytes after a correct Ethernet header (so the target's socket receives them). A third
  // are pure noise, a third start like an nvmeoe header (right version, a known kind), and a third
  // have a header that decodes (any kind, random fields, a payload of the stated length), so the
  // handlers behind the decoder get random input too. A random Connect request comes from a MAC
  // the target has never seen: from ours it could legitimately replace the real host's queue.
  std::vector<uint8_t> random_frame() {
    size_t len = uniform(1, std::min<size_t>(mtu_, 1500));
    switch (uniform(0, 2)) {
      case 0: {
        std::vector<uint8_t> f(kEthHeaderSize + len);
        encode_eth(f.data(), src_, ethertype_);
        fill_random(f.data() + kEthHeaderSize, len);
        return f;
      }
      case 1: {
        std::vector<uint8_t> f(kEthHeaderSize + len);
        encode_eth(f.data(), src_, ethertype_);
        fill_random(f.data() + kEthHeaderSize, len);
        f[kEthHeaderSize + hdr::kVersion] = kProtocolVersion;
        if (len > 1) f[kEthHeaderSize + hdr::kKind] = uint8_t(any_kind());
        return f;
      }
      default: {
        FrameHeader h = random_header();
        h.flags = coin() ? frame_flag::kLast : 0;
        if (coin()) h.flags |= frame_flag::kHeaderDigest;
        size_t payload_len = uniform(0, std::min<size_t>(max_payload(), 1024));
        h.length = uint16_t(payload_len);
        MacAddress src = h.kind == FrameKind::kConnectRequest || coin() ? random_unicast() : src_;
        return framed(src, ethertype_, h, payload_len);
      }
    }
  }

  // A valid Ethernet header and the first 1..31 bytes of a plausible nvmeoe header.
  std::vector<uint8_t> truncated_frame() {
    FrameHeader h = random_header();
    h.length = uint16_t(uniform(0, 64));
    h.flags = coin() ? frame_flag::kHeaderDigest : 0;
    std::vector<uint8_t> f = framed(src_, ethertype_, h, 0);
    f.resize(kEthHeaderSize + uniform(1, kHeaderSize - 1));
    return f;
  }

  // A header whose length field claims far more payload than the frame holds.
  std::vector<uint8_t> huge_length_frame() {
    FrameHeader h = random_header();
    h.length = coin() ? 0xffff : uint16_t(uniform(std::min<size_t>(max_payload() + 1, 0xffff), 0xffff));
    h.flags = coin() ? frame_flag::kHeaderDigest : 0;
    if (coin()) h.flags |= frame_flag::kDataDigest;
    return framed(src_, ethertype_, h, uniform(0, 64));
  }

  // Well-formed frames (mostly Command capsules) for associations that do not exist: random queue
  // id, controller id and nonce, from our MAC or from a MAC the target has never seen.
  std::vector<uint8_t> unknown_association_frame() {
    FrameHeader h = random_header();
    MacAddress src = coin() ? src_ : random_unicast();
    static constexpr FrameKind kOthers[] = {FrameKind::kData, FrameKind::kRetransmitRequest, FrameKind::kResponse,
                                            FrameKind::kTerminate};
    size_t payload_len;
    h.kind = uniform(0, 3) != 0 ? FrameKind::kCommand : kOthers[uniform(0, 3)];
    h.qid = uint16_t(uniform(0, 8));  // real queue ids are small; make the guess plausible
    if (h.kind == FrameKind::kCommand) {
      uint32_t data = coin() ? uint32_t(uniform(0, 4096)) : 0;  // optional in-capsule data
      payload_len = std::min<size_t>(kSqeSize + data, max_payload());
      h.total = uint32_t(payload_len - kSqeSize);
      h.offset = 0;
    } else {
      payload_len = uniform(0, std::min<size_t>(max_payload(), 1024));
    }
    h.length = uint16_t(payload_len);
    h.flags = coin() ? frame_flag::kHeaderDigest : 0;
    std::vector<uint8_t> f = framed(src, ethertype_, h, payload_len);
    if (h.kind == FrameKind::kCommand) encode_sqe(plausible_sqe(h.cid, h.total), f.data() + kFrameHeadroom);
    return f;
  }

  // A command that would be valid on a real queue: a common opcode, a small NSID, an SGL for the
  // data that travels with it, random command dwords.
  Sqe plausible_sqe(uint16_t cid, uint32_t data_len) {
    static constexpr uint8_t kOpcodes[] = {io_opcode::kFlush,
                                           io_opcode::kWrite,
                                           io_opcode::kRead,
                                           io_opcode::kWriteZeroes,
                                           io_opcode::kDatasetManagement,
                                           admin_opcode::kIdentify,
                                           admin_opcode::kKeepAlive,
                                           admin_opcode::kGetLogPage,
                                           admin_opcode::kFabrics};
    Sqe sqe;
    sqe.opcode = kOpcodes[uniform(0, std::size(kOpcodes) - 1)];
    sqe.cid = cid;
    sqe.nsid = uint32_t(uniform(0, 3));
    if (sqe.opcode == admin_opcode::kFabrics)
      sqe.nsid = uniform(0, 1) ? fabrics_type::kConnect : fabrics_type::kPropertyGet;
    sqe.cdw10 = uint32_t(uniform(0, 0xffffffffu));
    sqe.cdw11 = uint32_t(uniform(0, 0xffffffffu));
    sqe.cdw12 = uint32_t(uniform(0, 0xffff));
    sqe.flags = kPsdtSgl;
    set_sgl_length(sqe, data_len ? data_len : uint32_t(uniform(0, 1) ? 0 : uniform(1, 1u << 20)));
    return sqe;
  }

  // A header that is right in every way except its version byte.
  std::vector<uint8_t> bad_version_frame() {
    FrameHeader h = random_header();
    size_t payload_len = uniform(0, std::min<size_t>(max_payload(), 256));
    h.length = uint16_t(payload_len);
    std::vector<uint8_t> f = framed(src_, ethertype_, h, payload_len);
    uint8_t version;
    do version = byte();
    while (version == kProtocolVersion);
    f[kEthHeaderSize + hdr::kVersion] = version;
    return f;
  }

  // A well-formed nvmeoe frame under another EtherType (never IPv4/ARP/VLAN/IPv6, so nothing else
  // on the host tries to parse it).
  std::vector<uint8_t> wrong_ethertype_frame() {
    FrameHeader h = random_header();
    h.kind = FrameKind::kCommand;
    h.total = 0;
    h.offset = 0;
    h.length = uint16_t(std::min<size_t>(kSqeSize, max_payload()));
    uint16_t et;
    do et = uint16_t(uniform(0x88b0, 0x88ff));
    while (et == ethertype_);
    return framed(src_, et, h, h.length);
  }

  // A valid Discover Query for every subsystem (a target answers it with Discover Replies).
  std::vector<uint8_t> discover_query_frame() {
    FrameHeader h;
    h.kind = FrameKind::kDiscoverQuery;
    h.cntlid = kNoController;
    h.nonce = uint32_t(uniform(1, 0xffffffffu));
    h.length = uint16_t(kDiscoverQuerySize);
    std::vector<uint8_t> f(kFrameHeadroom + kDiscoverQuerySize);
    encode_headers(f.data(), dst_, src_, ethertype_, h);
    encode_discover_query(DiscoverQuery{"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000aa", ""},
                          f.data() + kFrameHeadroom);
    return f;
  }

  // A Command (Flush) of an unknown association whose header digest is wrong: dropped as a
  // corrupted frame (header digest check, PROTOCOL.md §3.2), never answered.
  std::vector<uint8_t> bad_digest_frame() {
    FrameHeader h;
    h.kind = FrameKind::kCommand;
    h.flags = frame_flag::kHeaderDigest;
    h.qid = 1;
    h.cntlid = 1;
    h.nonce = uint32_t(uniform(1, 0xffffffffu));
    h.cid = 0;
    h.gen = 1;
    h.length = uint16_t(kSqeSize);
    std::vector<uint8_t> f(kFrameHeadroom + kSqeSize);
    encode_headers(f.data(), dst_, src_, ethertype_, h);
    Sqe sqe;
    sqe.opcode = io_opcode::kFlush;
    sqe.nsid = 1;
    sqe.flags = kPsdtSgl;
    encode_sqe(sqe, f.data() + kFrameHeadroom);
    f[kEthHeaderSize + hdr::kHdgst] ^= 0x5a;  // flip bits of the correct digest
    return f;
  }

  // A Retransmit Request with two ranges for an unknown association (answered with Terminate,
  // Unknown Association).
  std::vector<uint8_t> retransmit_request_frame() {
    std::vector<uint8_t> p = encode_retransmit_request({{0, 1464}, {2928, 512}});
    FrameHeader h;
    h.kind = FrameKind::kRetransmitRequest;
    h.qid = 1;
    h.cntlid = 1;
    h.nonce = uint32_t(uniform(1, 0xffffffffu));
    h.cid = 3;
    h.gen = 7;
    h.length = uint16_t(p.size());
    std::vector<uint8_t> f(kFrameHeadroom + p.size());
    encode_headers(f.data(), dst_, src_, ethertype_, h);
    std::copy(p.begin(), p.end(), f.begin() + kFrameHeadroom);
    return f;
  }

  void encode_eth(uint8_t* p, const MacAddress& src, uint16_t ethertype) {
    for (int i = 0; i < 6; ++i) p[i] = dst_.b[i];
    for (int i = 0; i < 6; ++i) p[6 + i] = src.b[i];
    p[12] = uint8_t(ethertype >> 8);
    p[13] = uint8_t(ethertype);
  }

  MacAddress dst_, src_;
  uint16_t ethertype_;
  uint32_t mtu_;
  std::mt19937_64 rng_;
};

void sleep_ns(uint64_t ns) {
  timespec ts{time_t(ns / 1000000000u), long(ns % 1000000000u)};
  while (::nanosleep(&ts, &ts) != 0) {
  }
}

int run(int argc, char** argv) {
  CLI::App app{"nvmeoe-rawsend: send malformed nvmeoe frames (robustness tests, test namespaces only)"};
  std::string iface, dst_text, ethertype_text = "0x88b5", mode_text;
  uint64_t count = 1000, pps = 0;
  uint64_t seed = std::random_device{}();
  app.add_option("--iface", iface, "interface to send on")->required();
  app.add_option("--dst", dst_text, "destination MAC (the target's)")->required();
  app.add_option("--ethertype", ethertype_text, "EtherType the target listens on")->capture_default_str();
  app.add_option("--mode", mode_text,
                 "random|truncated|huge-length|unknown-association|bad-version|wrong-ethertype|discover|bad-digest|"
                 "retransmit-request")
      ->required()
      ->check(CLI::IsMember(kModes));
  app.add_option("--count", count, "number of frames")->capture_default_str();
  app.add_option("--seed", seed, "random seed (printed, for reproducing a run)");
  app.add_option("--pps", pps, "frames per second, 0 for as fast as possible")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  Result<MacAddress> dst = MacAddress::parse(dst_text);
  if (!dst) {
    std::fprintf(stderr, "nvmeoe-rawsend: %s\n", dst.status().message().c_str());
    return 2;
  }
  unsigned long et = 0;
  try {
    size_t used = 0;
    et = std::stoul(ethertype_text, &used, 0);
    if (used != ethertype_text.size() || et < 0x600 || et > 0xffff) throw std::invalid_argument("range");
  } catch (const std::exception&) {
    std::fprintf(stderr, "nvmeoe-rawsend: invalid EtherType '%s' (expected e.g. 0x88b5)\n", ethertype_text.c_str());
    return 2;
  }
  Mode mode = kModes.at(mode_text);

  // The link is opened with the EtherType the target uses; the bytes of each frame (its own
  // EtherType included) are sent exactly as built.
  Result<std::unique_ptr<Link>> link = open_packet_link(iface, uint16_t(et), kHeaderSize + kSqeSize);
  if (!link) {
    std::fprintf(stderr, "nvmeoe-rawsend: %s\n", link.status().message().c_str());
    return 1;
  }
  Link& l = **link;
  FrameMaker maker(*dst, l.local_mac(), uint16_t(et), l.mtu(), seed);

  uint64_t batch_ns = pps ? kBatch * 1000000000ull / pps : 0;
  std::vector<std::vector<uint8_t>> frames;
  std::vector<TxFrame> tx;
  for (uint64_t done = 0; done < count;) {
    size_t n = size_t(std::min<uint64_t>(kBatch, count - done));
    frames.clear();
    tx.clear();
    for (size_t i = 0; i < n; ++i) frames.push_back(maker.make(mode));
    for (const auto& f : frames) tx.push_back(TxFrame{f, {}, {}});
    Status s = l.send(tx);
    if (!s) {
      std::fprintf(stderr, "nvmeoe-rawsend: %s\n", s.message().c_str());
      return 1;
    }
    done += n;
    if (batch_ns) sleep_ns(batch_ns);
  }
  Link::Counters c = l.counters();
  std::printf("nvmeoe-rawsend: mode %s, seed %llu: sent %llu frames to %s on %s (%llu dropped locally)\n",
              mode_text.c_str(), static_cast<unsigned long long>(seed), static_cast<unsigned long long>(c.tx_frames),
              dst->str().c_str(), iface.c_str(), static_cast<unsigned long long>(c.tx_dropped));
  return 0;
}

}  // namespace
}  // namespace nvmeoe

int main(int argc, char** argv) {
  return nvmeoe::run(argc, argv);
}
