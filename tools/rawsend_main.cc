// nvmeoe-rawsend: sends malformed or unexpected frames at a target, for robustness tests. Every mode
// builds frames that a correct peer must drop or answer without harm (and without disturbing the
// associations it serves); `discover`, `bad-digest`, `retransmit-request` and `v1-connect` also give
// captures frame kinds a plain run lacks. `flood` sends one frame size as fast as the link takes
// it, and `--receive` counts what arrives: together the bare frame rate of a link (bench/run.sh).
// `forged-write` and `forged-terminate` claim a live association (`--as` its host MAC, `--qid`,
// `--cntlid`, `--nonce`), half untagged and half with made-up frame tags: an authenticated
// association must drop them all (tests/e2e/e2e_forged.sh).
// Only for use inside test network namespaces.
#include <poll.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/mac.h"
#include "link/link.h"
#include "nvme/spec.h"
#include "spoof_frames.h"
#include "wire/crc32c.h"
#include "wire/frame.h"
#include "wire/v1_compat.h"

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
  kRetransmitRequest,
  kPackedGarbage,
  kV1Connect,
  kFlood,
  kForgedWrite,
  kForgedTerminate,
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
    {"packed-garbage", Mode::kPackedGarbage},
    {"v1-connect", Mode::kV1Connect},
    {"flood", Mode::kFlood},
    {"forged-write", Mode::kForgedWrite},
    {"forged-terminate", Mode::kForgedTerminate},
};

// What a station that copied a live association claims (forged-write, forged-terminate): its
// host MAC, queue, controller and nonce, and the block a forged Write aims at.
struct Forgery {
  MacAddress as;
  uint16_t qid = 1, cntlid = 1;
  uint32_t nonce = 1;
  uint64_t lba = 0;
};

// Frames are sent in batches of this many; pacing (--pps) is applied per batch.
constexpr size_t kBatch = 64;

class FrameMaker {
 public:
  FrameMaker(MacAddress dst, MacAddress src, uint16_t ethertype, uint32_t mtu, uint64_t seed, size_t flood_size,
             Forgery forgery = {})
      : dst_(dst),
        src_(src),
        ethertype_(ethertype),
        mtu_(mtu),
        flood_size_(flood_size),
        forgery_(forgery),
        rng_(seed) {}

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
      case Mode::kPackedGarbage:
        return packed_garbage_frame();
      case Mode::kV1Connect:
        return v1_connect_frame();
      case Mode::kFlood:
        return flood_frame();
      case Mode::kForgedWrite:
        return forged(forged_write_frame());
      case Mode::kForgedTerminate:
        return forged(forged_terminate_frame());
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
  // Bytes of segments a frame may carry on this link.
  size_t budget() const { return segment_budget(mtu_); }
  // A random unicast MAC that is not ours.
  MacAddress random_unicast() {
    MacAddress m;
    fill_random(m.b.data(), m.b.size());
    m.b[0] = uint8_t((m.b[0] & 0xfe) | 0x02);  // unicast, locally administered
    return m;
  }

  FrameAddress random_address() {
    return FrameAddress{uint16_t(uniform(0, 0xffff)), uint16_t(uniform(0, 0xffff)), uint32_t(uniform(0, 0xffffffffu))};
  }
  SegmentHeader random_segment(FrameKind kind) {
    SegmentHeader h;
    h.kind = kind;
    h.flags = uint8_t(uniform(0, seg_flag::kKnown));
    h.cid = uint16_t(uniform(0, 0xffff));
    h.offset = uint32_t(uniform(0, 0xffffffffu));
    h.total = uint32_t(uniform(0, 0xffffffffu));
    h.gen = uint32_t(uniform(0, 0xffffffffu));
    return h;
  }
  // Metadata sizes the kind requires, so that the frame passes the decoder's checks.
  size_t meta_size(FrameKind k) {
    switch (k) {
      case FrameKind::kConnectRequest:
      case FrameKind::kConnectResponse:
        return kConnectMetaSize;
      case FrameKind::kCommand:
        return kSqeSize;
      case FrameKind::kResponse:
        return kCqeSize;
      case FrameKind::kData:
        return 0;
      case FrameKind::kRetransmitRequest:
        return retransmit_meta_size(uniform(0, 8));
      case FrameKind::kTerminate:
        return kTerminateMetaSize;
      case FrameKind::kDiscoverQuery:
        return kDiscoverQuerySize;
      case FrameKind::kDiscoverReply:
        return 4 + uniform(0, 64);
    }
    return 0;
  }

  // A frame of the given segments with random metadata and data of the sizes given.
  std::vector<uint8_t> frame_of(const MacAddress& src, uint16_t ethertype, const FrameAddress& a,
                                const std::vector<SegmentHeader>& hs, const std::vector<size_t>& meta,
                                const std::vector<size_t>& data, bool dd) {
    std::vector<std::vector<uint8_t>> bufs;
    std::vector<SegmentSpec> specs;
    bufs.reserve(hs.size() * 2);
    for (size_t i = 0; i < hs.size(); ++i) {
      bufs.emplace_back(meta[i]);
      fill_random(bufs.back().data(), meta[i]);
      std::span<const uint8_t> m = bufs.back();
      bufs.emplace_back(data[i]);
      fill_random(bufs.back().data(), data[i]);
      specs.push_back(SegmentSpec{hs[i], m, bufs.back()});
    }
    return build_frame(dst_, src, ethertype, a, specs, dd);
  }

  // Random bytes after a correct Ethernet header (so the target's socket receives them). A third
  // are pure noise, a third start like an nvmeoe header (right version, a plausible count), and a
  // third decode (random kinds that may pack, random fields, correct header CRC), so the handlers
  // behind the decoder get random input too. A random Connect request comes from a MAC the target
  // has never seen: from ours it could legitimately replace the real host's queue.
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
        if (len > hdr::kCount) f[kEthHeaderSize + hdr::kCount] = uint8_t(uniform(0, 4));
        return f;
      }
      default: {
        FrameKind first = any_kind();
        size_t n = kind_stands_alone(first) ? 1 : uniform(1, 6);
        std::vector<SegmentHeader> hs;
        std::vector<size_t> meta, data;
        size_t used = 0;
        for (size_t i = 0; i < n; ++i) {
          FrameKind k =
              i == 0 ? first : FrameKind(uniform(uint8_t(FrameKind::kCommand), uint8_t(FrameKind::kRetransmitRequest)));
          size_t m = meta_size(k);
          size_t d = (k == FrameKind::kCommand || k == FrameKind::kData) ? uniform(0, 1024) : 0;
          if (used + kSegmentHeaderSize + m + d > budget()) break;
          used += kSegmentHeaderSize + m + d;
          hs.push_back(random_segment(k));
          meta.push_back(m);
          data.push_back(d);
        }
        if (hs.empty()) hs.push_back(random_segment(FrameKind::kData)), meta.push_back(0), data.push_back(0);
        MacAddress src = first == FrameKind::kConnectRequest || coin() ? random_unicast() : src_;
        return frame_of(src, ethertype_, random_address(), hs, meta, data, coin());
      }
    }
  }

  // A valid Ethernet header and the first bytes of a plausible frame, cut anywhere before its end.
  std::vector<uint8_t> truncated_frame() {
    std::vector<uint8_t> f = frame_of(src_, ethertype_, random_address(), {random_segment(FrameKind::kCommand)},
                                      {kSqeSize}, {uniform(0, 64)}, coin());
    f.resize(kEthHeaderSize + uniform(1, f.size() - kEthHeaderSize - 1));
    return f;
  }

  // Lengths that claim far more than the frame holds: a metadata or data length, or the segment
  // count, with a header CRC made to match the lie (so only the length checks stop it).
  std::vector<uint8_t> huge_length_frame() {
    std::vector<uint8_t> f =
        frame_of(src_, ethertype_, random_address(), {random_segment(FrameKind::kData)}, {0}, {uniform(0, 64)}, coin());
    uint8_t* s = f.data() + kEthHeaderSize + kFrameHeaderSize;
    switch (uniform(0, 2)) {
      case 0:
        put_le16(s + seg::kMetaLen, coin() ? 0xffff : uint16_t(uniform(budget(), 0xffff)));
        break;
      case 1:
        put_le16(s + seg::kDataLen, coin() ? 0xffff : uint16_t(uniform(budget(), 0xffff)));
        break;
      default:
        f[kEthHeaderSize + hdr::kCount] = uint8_t(uniform(2, 255));
        break;
    }
    reseal(f, 1);
    return f;
  }

  // Packed frames whose segments contradict each other or their frame: a lone kind among others,
  // a count that says more (or fewer) segments than there are, sizes that do not fit the kind,
  // data lengths that overrun the frame. Header CRCs match, so each reaches the structural checks.
  std::vector<uint8_t> packed_garbage_frame() {
    size_t n = uniform(2, 8);
    std::vector<SegmentHeader> hs;
    std::vector<size_t> meta, data;
    for (size_t i = 0; i < n; ++i) {
      FrameKind k = FrameKind(uniform(uint8_t(FrameKind::kCommand), uint8_t(FrameKind::kRetransmitRequest)));
      hs.push_back(random_segment(k));
      meta.push_back(meta_size(k));
      data.push_back(k == FrameKind::kData ? uniform(0, 64) : 0);
    }
    switch (uniform(0, 3)) {
      case 0:
        hs[uniform(0, n - 1)].kind = coin() ? FrameKind::kTerminate : FrameKind::kConnectRequest;
        break;
      case 1:
        meta[uniform(0, n - 1)] += uniform(1, 7);
        break;
      case 2:
        hs[0].kind = FrameKind::kResponse, data[0] = uniform(1, 32);
        break;
      default:
        break;
    }
    std::vector<uint8_t> f = frame_of(src_, ethertype_, random_address(), hs, meta, data, coin());
    if (uniform(0, 1)) {
      f[kEthHeaderSize + hdr::kCount] = uint8_t(n + (coin() ? 1 : -1));
      reseal(f, f[kEthHeaderSize + hdr::kCount]);
    }
    return f;
  }

  // Rewrites the header CRC of a frame built with `segments` segments after a field was changed,
  // where the (possibly lying) lengths put it; frames whose lengths run past the end keep theirs.
  static void reseal(std::vector<uint8_t>& f, size_t segments) {
    size_t at = kEthHeaderSize + kFrameHeaderSize;
    for (size_t i = 0; i < segments; ++i) {
      if (f.size() < at + kSegmentHeaderSize) return;
      at += kSegmentHeaderSize + get_le16(f.data() + at + seg::kMetaLen);
    }
    if (f.size() < at + kHcrcSize) return;
    put_le32(f.data() + at, crc32c(f.data(), at));
  }

  // Well-formed frames (mostly Commands, sometimes several) for associations that do not exist:
  // random queue id, controller id and nonce, from our MAC or from a MAC the target has never seen.
  std::vector<uint8_t> unknown_association_frame() {
    MacAddress src = coin() ? src_ : random_unicast();
    FrameAddress a = random_address();
    a.qid = uint16_t(uniform(0, 8));  // real queue ids are small; make the guess plausible
    static constexpr FrameKind kOthers[] = {FrameKind::kData, FrameKind::kRetransmitRequest, FrameKind::kResponse};
    if (uniform(0, 4) == 0) {
      return frame_of(src, ethertype_, a, {random_segment(FrameKind::kTerminate)}, {kTerminateMetaSize}, {0}, false);
    }
    size_t n = uniform(1, 4);
    std::vector<SegmentHeader> hs;
    std::vector<size_t> meta, data;
    std::vector<uint32_t> in_capsule;
    for (size_t i = 0; i < n; ++i) {
      FrameKind k = uniform(0, 3) != 0 ? FrameKind::kCommand : kOthers[uniform(0, 2)];
      SegmentHeader h = random_segment(k);
      size_t d = 0;
      if (k == FrameKind::kCommand) {
        d = coin() ? uniform(0, 256) : 0;  // optional in-capsule data
        h.total = uint32_t(d);
        h.offset = 0;
        h.flags &= seg_flag::kRetry;
      }
      hs.push_back(h);
      meta.push_back(meta_size(k));
      data.push_back(k == FrameKind::kData ? uniform(0, 256) : d);
    }
    std::vector<uint8_t> f = frame_of(src, ethertype_, a, hs, meta, data, false);
    // Plausible SQEs in the Command segments' metadata; the header CRC follows.
    size_t at = kEthHeaderSize + kFrameHeaderSize;
    for (size_t i = 0; i < n; ++i) {
      if (hs[i].kind == FrameKind::kCommand)
        encode_sqe(plausible_sqe(hs[i].cid, hs[i].total), f.data() + at + kSegmentHeaderSize);
      at += kSegmentHeaderSize + meta[i];
    }
    put_le32(f.data() + at, crc32c(f.data(), at));
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

  // A frame that is right in every way except its version byte (version 1 frames included: a
  // target answers only a version 1 Connect Request, see v1-connect).
  std::vector<uint8_t> bad_version_frame() {
    std::vector<uint8_t> f = frame_of(src_, ethertype_, random_address(), {random_segment(FrameKind::kCommand)},
                                      {kSqeSize}, {uniform(0, 64)}, false);
    uint8_t version;
    do version = byte();
    while (version == kProtocolVersion);
    f[kEthHeaderSize + hdr::kVersion] = version;
    return f;
  }

  // A protocol version 1 Connect Request (answered by a version 2 target with a version 1
  // Connect Response, Unsupported Version).
  std::vector<uint8_t> v1_connect_frame() {
    return v1::connect_request(dst_, src_, ethertype_, 0, uint32_t(uniform(1, 0xffffffffu)), 32, mtu_);
  }

  // A well-formed nvmeoe frame under another EtherType (never IPv4/ARP/VLAN/IPv6, so nothing else
  // on the host tries to parse it).
  std::vector<uint8_t> wrong_ethertype_frame() {
    uint16_t et;
    do et = uint16_t(uniform(0x88b0, 0x88ff));
    while (et == ethertype_);
    return frame_of(src_, et, random_address(), {random_segment(FrameKind::kCommand)}, {kSqeSize}, {0}, false);
  }

  // A valid Discover Query for every subsystem (a target answers it with Discover Replies).
  std::vector<uint8_t> discover_query_frame() {
    std::vector<uint8_t> q(kDiscoverQuerySize);
    encode_discover_query(DiscoverQuery{"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000aa", ""},
                          q.data());
    SegmentHeader h;
    h.kind = FrameKind::kDiscoverQuery;
    return build_frame(dst_, src_, ethertype_, FrameAddress{0, kNoController, uint32_t(uniform(1, 0xffffffffu))}, h, q);
  }

  // A Command (Flush) of an unknown association whose header CRC is wrong, or a Write with data
  // whose data digest is wrong: dropped as corrupted (PROTOCOL.md §3.3), never answered.
  std::vector<uint8_t> bad_digest_frame() {
    Sqe sqe;
    sqe.opcode = coin() ? io_opcode::kFlush : io_opcode::kWrite;
    sqe.nsid = 1;
    sqe.flags = kPsdtSgl;
    std::vector<uint8_t> meta(kSqeSize), data(sqe.opcode == io_opcode::kWrite ? 512 : 0);
    fill_random(data.data(), data.size());
    set_sgl_length(sqe, uint32_t(data.size()));
    encode_sqe(sqe, meta.data());
    SegmentHeader h;
    h.kind = FrameKind::kCommand;
    h.gen = 1;
    h.total = uint32_t(data.size());
    std::vector<uint8_t> f = build_frame(dst_, src_, ethertype_, FrameAddress{1, 1, uint32_t(uniform(1, 0xffffffffu))},
                                         h, meta, data, !data.empty());
    size_t hcrc = kEthHeaderSize + kFrameHeaderSize + kSegmentHeaderSize + kSqeSize;
    f[data.empty() ? hcrc : f.size() - 1] ^= 0x5a;  // flip bits of a correct digest
    return f;
  }

  // A Retransmit Request with two ranges for an unknown association (answered with Terminate,
  // Unknown Association).
  std::vector<uint8_t> retransmit_request_frame() {
    std::vector<uint8_t> p = encode_retransmit_request({{0, 1464}, {2928, 512}});
    SegmentHeader h;
    h.kind = FrameKind::kRetransmitRequest;
    h.cid = 3;
    h.gen = 7;
    return build_frame(dst_, src_, ethertype_, FrameAddress{1, 1, uint32_t(uniform(1, 0xffffffffu))}, h, p);
  }

  // A Data segment of `flood_size_` bytes of frame for an unknown association: the link's frame
  // rate with nothing else to do (bench/run.sh measures it against a bare receiver).
  std::vector<uint8_t> flood_frame() {
    size_t data =
        flood_size_ > kFrameOverhead + kSegmentHeaderSize ? flood_size_ - kFrameOverhead - kSegmentHeaderSize : 0;
    SegmentHeader h;
    h.kind = FrameKind::kData;
    std::vector<uint8_t> bytes(data);
    return build_frame(dst_, src_, ethertype_, FrameAddress{1, 1, 1}, h, {}, bytes, true);
  }

  // A one-block Write of 0xEE bytes to the forged association, in the capsule.
  std::vector<uint8_t> forged_write_frame() {
    Sqe sqe;
    sqe.opcode = io_opcode::kWrite;
    sqe.nsid = 1;
    sqe.cid = uint16_t(uniform(0, 1023));
    sqe.cdw10 = uint32_t(forgery_.lba);
    sqe.cdw11 = uint32_t(forgery_.lba >> 32);
    sqe.cdw12 = 0;
    set_sgl_length(sqe, 512);
    std::vector<uint8_t> m(kSqeSize), data(512, 0xee);
    encode_sqe(sqe, m.data());
    SegmentHeader h;
    h.kind = FrameKind::kCommand;
    h.cid = sqe.cid;
    h.gen = uint32_t(uniform(1, 0xffffffffu));
    h.total = 512;
    const FrameAddress a{forgery_.qid, forgery_.cntlid, forgery_.nonce};
    return build_frame(dst_, forgery_.as, ethertype_, a, h, m, data, coin());
  }
  std::vector<uint8_t> forged_terminate_frame() {
    uint8_t m[kTerminateMetaSize] = {uint8_t(TerminateReason::kHostDisconnect), 0, 0, 0};
    SegmentHeader h;
    h.kind = FrameKind::kTerminate;
    return build_frame(dst_, forgery_.as, ethertype_, FrameAddress{forgery_.qid, forgery_.cntlid, forgery_.nonce}, h,
                       m);
  }
  // Every other forged frame claims to be authenticated: the TAG flag, the header CRC made
  // again, and a trailer with a sequence number ahead and a made-up tag (docs/PROTOCOL.md §10.1).
  std::vector<uint8_t> forged(std::vector<uint8_t> f) {
    if (!coin()) return f;
    uint8_t tag[kFrameTagSize];
    fill_random(tag, sizeof tag);
    return with_made_up_tag(std::move(f), ethertype_, uniform(1, 1u << 20), tag);
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
  size_t flood_size_;
  Forgery forgery_;
  std::mt19937_64 rng_;
};

void sleep_ns(uint64_t ns) {
  timespec ts{time_t(ns / 1000000000u), long(ns % 1000000000u)};
  while (::nanosleep(&ts, &ts) != 0) {
  }
}

// Counts the frames of the EtherType that arrive on `l` for `seconds`, and prints the rate.
int receive(Link& l, double seconds, const std::string& iface) {
  uint64_t frames = 0, bytes = 0;
  auto start = std::chrono::steady_clock::now();
  auto first = start;
  auto end = start + std::chrono::duration<double>(seconds);
  std::vector<pollfd> fds{{l.wait_fd(), POLLIN, 0}};
  while (std::chrono::steady_clock::now() < end) {
    size_t n = l.receive([&](std::span<const uint8_t> f) { bytes += f.size(); }, 256);
    if (n && frames == 0) first = std::chrono::steady_clock::now();
    frames += n;
    if (n == 0) poll(fds.data(), fds.size(), 10);
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count();
  Link::Counters c = l.counters();
  std::printf(
      "nvmeoe-rawsend: received %llu frames (%llu bytes) on %s in %.3f s: %.0f frames/s, %llu dropped by the ring\n",
      static_cast<unsigned long long>(frames), static_cast<unsigned long long>(bytes), iface.c_str(), s,
      s > 0 ? double(frames) / s : 0.0, static_cast<unsigned long long>(c.rx_dropped));
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{"nvmeoe-rawsend: send malformed nvmeoe frames (robustness tests, test namespaces only)"};
  std::string iface, dst_text, ethertype_text = "0x88b5", mode_text;
  uint64_t count = 1000, pps = 0, size = 1500;
  double receive_s = 0;
  uint64_t seed = std::random_device{}();
  app.add_option("--iface", iface, "interface to send on")->required();
  app.add_option("--dst", dst_text, "destination MAC (the target's)");
  app.add_option("--ethertype", ethertype_text, "EtherType the target listens on")->capture_default_str();
  app.add_option("--mode", mode_text,
                 "random|truncated|huge-length|unknown-association|bad-version|wrong-ethertype|discover|bad-digest|"
                 "retransmit-request|packed-garbage|v1-connect|flood|forged-write|forged-terminate")
      ->check(CLI::IsMember(kModes));
  app.add_option("--count", count, "number of frames")->capture_default_str();
  app.add_option("--seed", seed, "random seed (printed, for reproducing a run)");
  app.add_option("--pps", pps, "frames per second, 0 for as fast as possible")->capture_default_str();
  app.add_option("--size", size, "flood: bytes of Ethernet payload per frame (at most the MTU)")->capture_default_str();
  app.add_option("--receive", receive_s, "instead of sending: count the frames that arrive for this many seconds");
  std::string as_text;
  Forgery forgery;
  app.add_option("--as", as_text, "forged-*: the host MAC the frames claim to come from");
  app.add_option("--qid", forgery.qid, "forged-*: queue id")->capture_default_str();
  app.add_option("--cntlid", forgery.cntlid, "forged-*: controller id")->capture_default_str();
  app.add_option("--nonce", forgery.nonce, "forged-*: association nonce")->capture_default_str();
  app.add_option("--lba", forgery.lba, "forged-write: the block written (namespace 1)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
  // The link is opened with the EtherType the target uses; the bytes of each frame (its own
  // EtherType included) are sent exactly as built.
  Result<std::unique_ptr<Link>> link = open_packet_link(iface, uint16_t(et), kFrameOverhead + kSegmentHeaderSize);
  if (!link) {
    std::fprintf(stderr, "nvmeoe-rawsend: %s\n", link.status().message().c_str());
    return 1;
  }
  Link& l = **link;
  if (receive_s > 0) return receive(l, receive_s, iface);
  if (dst_text.empty() || mode_text.empty()) {
    std::fprintf(stderr, "nvmeoe-rawsend: --dst and --mode are required when sending\n");
    return 2;
  }
  Result<MacAddress> dst = MacAddress::parse(dst_text);
  if (!dst) {
    std::fprintf(stderr, "nvmeoe-rawsend: %s\n", dst.status().message().c_str());
    return 2;
  }
  Mode mode = kModes.at(mode_text);
  if (mode == Mode::kFlood && (size > l.mtu() || size < kFrameOverhead + kSegmentHeaderSize)) {
    std::fprintf(stderr, "nvmeoe-rawsend: --size %llu does not fit the link (MTU %u)\n",
                 static_cast<unsigned long long>(size), l.mtu());
    return 2;
  }
  forgery.as = l.local_mac();
  if (!as_text.empty()) {
    Result<MacAddress> as = MacAddress::parse(as_text);
    if (!as) {
      std::fprintf(stderr, "nvmeoe-rawsend: --as: %s\n", as.status().message().c_str());
      return 2;
    }
    forgery.as = *as;
  }
  FrameMaker maker(*dst, l.local_mac(), uint16_t(et), l.mtu(), seed, size_t(size), forgery);

  uint64_t batch_ns = pps ? kBatch * 1000000000ull / pps : 0;
  std::vector<std::vector<uint8_t>> frames;
  TxFrameList tx;
  // A flood repeats one frame: building it once keeps the sender as cheap as the link allows.
  std::vector<uint8_t> flood = mode == Mode::kFlood ? maker.make(mode) : std::vector<uint8_t>();
  auto started = std::chrono::steady_clock::now();
  for (uint64_t done = 0; done < count;) {
    size_t n = size_t(std::min<uint64_t>(kBatch, count - done));
    frames.clear();
    tx.clear();
    if (mode == Mode::kFlood) {
      for (size_t i = 0; i < n; ++i) tx.add(flood);
    } else {
      for (size_t i = 0; i < n; ++i) frames.push_back(maker.make(mode));
      for (const auto& f : frames) tx.add(f);
    }
    Status s = l.send(tx.frames());
    if (!s) {
      std::fprintf(stderr, "nvmeoe-rawsend: %s\n", s.message().c_str());
      return 1;
    }
    done += n;
    if (batch_ns) sleep_ns(batch_ns);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  Link::Counters c = l.counters();
  std::printf("nvmeoe-rawsend: mode %s, seed %llu: sent %llu frames to %s on %s in %.3f s (%llu dropped locally)\n",
              mode_text.c_str(), static_cast<unsigned long long>(seed), static_cast<unsigned long long>(c.tx_frames),
              dst->str().c_str(), iface.c_str(), secs, static_cast<unsigned long long>(c.tx_dropped));
  return 0;
}

}  // namespace
}  // namespace nvmeoe

int main(int argc, char** argv) {
  return nvmeoe::run(argc, argv);
}
