// PacketLink: the real-network Link. An AF_PACKET socket bound to one interface and EtherType,
// receiving through a TPACKET_V2 PACKET_MMAP ring (no copy, no syscall per frame) and sending
// batches with sendmmsg (frames assembled from up to three pieces by the kernel, no copy here).
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/counter.h"
#include "common/log.h"
#include "link/link.h"
#include "link/netif.h"

namespace nvmeoe {

namespace {

// Receive ring geometry. TPACKET_V2, not V3: a V3 block reaches user space only when it is full or
// its retire timer (millisecond granularity) fires, which added ~1 ms to every lone frame (a QD1
// request or response); a V2 slot is handed over, and poll() woken, as soon as its frame lands.
// veth has no flow control, so whatever the ring cannot hold while the receiver is not scheduled is
// lost: 16 MiB is ~10k slots at MTU 1500 (~1.8k at MTU 9000), 16 MiB of frames, room for the data of
// sixteen 1 MiB reads in flight. A bigger ring costs on every frame: the reader walks it in order,
// so each slot header it reads is a cache and TLB miss once the ring outgrows the TLB's reach (with
// 64 MiB, receive() was ~11% of the host's CPU time at 128 KiB reads, ~4% with 16 MiB), and
// MAP_POPULATE clears all of it at open. Slots never straddle a block; blocks are a multiple of the
// page size and large enough that the slack at their ends is small.
constexpr size_t kRingBytes = size_t(16) << 20;
constexpr uint32_t kRingMinBlockSize = 1u << 20;
// Where the kernel puts the network header inside a V2 slot for an Ethernet frame (tpacket_rcv:
// TPACKET_ALIGN(header + sockaddr_ll + max(mac length, 16))); the Ethernet header sits just before
// it. A slot holds a whole frame of `mtu` payload bytes when it has this many bytes plus `mtu`. An
// in-band VLAN tag lengthens the MAC header but leaves this offset unchanged.
constexpr uint32_t kSlotNetworkOffset = TPACKET_ALIGN(TPACKET2_HDRLEN + 16);
constexpr int kSendBufferBytes = 8 << 20;
// Frames per sendmmsg call; send() loops over larger batches in chunks of this size.
constexpr size_t kSendChunk = 256;
// Each "queue full" answer from sendmmsg costs the frame at the head of the chunk; after this many
// in a row the rest of the chunk is dropped too, so a saturated link costs a bounded number of
// syscalls and send() never spins.
constexpr int kMaxConsecutiveFull = 8;

class PacketLink final : public Link {
 public:
  PacketLink(InterfaceInfo info, uint16_t ethertype) : info_(std::move(info)), ethertype_(ethertype) {}
  ~PacketLink() override {
    if (ring_ != nullptr) ::munmap(ring_, ring_size_);
    if (fd_ >= 0) ::close(fd_);
  }
  PacketLink(const PacketLink&) = delete;
  PacketLink& operator=(const PacketLink&) = delete;

  Status open();

  MacAddress local_mac() const override { return info_.mac; }
  uint32_t mtu() const override { return info_.mtu; }
  uint16_t ethertype() const override { return ethertype_; }
  std::string name() const override { return info_.name; }
  std::string kind() const override { return "packet"; }
  int wait_fd() const override { return fd_; }

  size_t receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) override;
  Status send(std::span<const TxFrame> frames) override;
  Counters counters() const override;

 private:
  tpacket2_hdr* slot(uint32_t index) const {
    return reinterpret_cast<tpacket2_hdr*>(ring_ + size_t(index / slots_per_block_) * block_size_ +
                                           size_t(index % slots_per_block_) * slot_size_);
  }
  // Sends msgs_[0..count) (already built); returns an error only for a broken link.
  Status send_chunk(size_t count);

  InterfaceInfo info_;
  uint16_t ethertype_;
  int fd_ = -1;

  // Receive ring and the reader's position in it: the next slot to look at. The kernel fills slots
  // in the same order, so the reader follows it around the ring.
  uint8_t* ring_ = nullptr;
  size_t ring_size_ = 0;
  uint32_t block_size_ = 0;
  uint32_t slot_size_ = 0;
  uint32_t slots_per_block_ = 0;
  uint32_t slot_count_ = 0;
  uint32_t next_slot_ = 0;

  // Preallocated so that send() never allocates.
  sockaddr_ll dest_{};
  std::array<mmsghdr, kSendChunk> msgs_{};
  std::array<iovec, kSendChunk * kMaxTxPieces> iovs_{};

  std::atomic<uint64_t> rx_frames_{0}, tx_frames_{0}, tx_dropped_{0}, rx_truncated_{0};
  // Kernel ring drops; PACKET_STATISTICS resets on read, so they are accumulated here.
  mutable std::atomic<uint64_t> ring_drops_{0};
};

Status PacketLink::open() {
  // Protocol 0 until bind: the socket must not queue frames before the ring exists.
  fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    int err = errno;
    if (err == EPERM || err == EACCES)
      return Status::error("opening an AF_PACKET socket on " + info_.name + " needs CAP_NET_RAW (run as root)", err);
    return Status::from_errno(err, "opening an AF_PACKET socket on " + info_.name);
  }

  int version = TPACKET_V2;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0)
    return Status::from_errno(errno, "setting TPACKET_V2 on " + info_.name);

  // A slot must hold the largest frame whole (else it arrives truncated and is dropped); the kernel
  // wants slots aligned to TPACKET_ALIGNMENT and blocks of whole pages.
  slot_size_ = TPACKET_ALIGN(kSlotNetworkOffset + info_.mtu);
  block_size_ = kRingMinBlockSize;
  while (block_size_ < slot_size_) block_size_ *= 2;  // never for real MTUs (at most 64 KiB)
  const uint32_t block_count = static_cast<uint32_t>(std::max<size_t>(kRingBytes / block_size_, 1));
  slots_per_block_ = block_size_ / slot_size_;
  slot_count_ = slots_per_block_ * block_count;
  tpacket_req req{};
  req.tp_block_size = block_size_;
  req.tp_block_nr = block_count;
  req.tp_frame_size = slot_size_;
  req.tp_frame_nr = slot_count_;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0)
    return Status::from_errno(errno, "creating the receive ring on " + info_.name);

  ring_size_ = size_t(block_size_) * block_count;
  void* ring = ::mmap(nullptr, ring_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (ring == MAP_FAILED) return Status::from_errno(errno, "mapping the receive ring of " + info_.name);
  ring_ = static_cast<uint8_t*>(ring);

  // Optional tuning: a missing feature only costs speed, never correctness.
  int one = 1;
  (void)::setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  // Frames sent by other sockets on this host would otherwise appear as PACKET_OUTGOING; receive()
  // filters them anyway for kernels without this option.
  (void)::setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  int sndbuf = kSendBufferBytes;
  if (::setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
    (void)::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ethertype_);
  addr.sll_ifindex = info_.index;
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    if (err == ENODEV || err == ENXIO) return Status::error("interface '" + info_.name + "' not found", ENODEV);
    if (err == ENETDOWN) return Status::error("interface " + info_.name + " is down", ENETDOWN);
    return Status::from_errno(err, "binding to interface " + info_.name);
  }

  dest_ = addr;
  dest_.sll_halen = ETH_ALEN;
  for (auto& m : msgs_) {
    m.msg_hdr.msg_name = &dest_;
    m.msg_hdr.msg_namelen = sizeof dest_;
  }
  return Status::ok();
}

size_t PacketLink::receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) {
  size_t delivered = 0;
  uint64_t truncated = 0;
  // Skipped slots do not count against `max`; one lap of the ring bounds a call all the same.
  for (uint32_t examined = 0; delivered < max && examined < slot_count_; ++examined) {
    tpacket2_hdr* hdr = slot(next_slot_);
    // The acquire load pairs with the kernel's barrier before it publishes TP_STATUS_USER: the
    // header and frame bytes read below are complete.
    uint32_t status = __atomic_load_n(&hdr->tp_status, __ATOMIC_ACQUIRE);
    if ((status & TP_STATUS_USER) == 0) break;
    const uint8_t* base = reinterpret_cast<const uint8_t*>(hdr);
    const auto* sll = reinterpret_cast<const sockaddr_ll*>(base + TPACKET_ALIGN(sizeof(tpacket2_hdr)));
    // Advance before calling the sink so the position is consistent whatever the sink does.
    next_slot_ = next_slot_ + 1 == slot_count_ ? 0 : next_slot_ + 1;
    if (sll->sll_pkttype != PACKET_OUTGOING) {
      uint32_t length = hdr->tp_snaplen;
      bool whole = (status & TP_STATUS_COPY) == 0 && length == hdr->tp_len;
      if (!whole || length < kEthHeaderSize) {
        ++truncated;
      } else {
        sink(std::span<const uint8_t>(base + hdr->tp_mac, length));
        ++delivered;
      }
    }
    // The release store hands the slot back only after every read of it (the sink's included).
    __atomic_store_n(&hdr->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  }
  if (delivered) bump(rx_frames_, delivered);
  if (truncated) bump(rx_truncated_, truncated);
  return delivered;
}

Status PacketLink::send(std::span<const TxFrame> frames) {
  const size_t max_frame = kEthHeaderSize + info_.mtu;
  uint64_t rejected = 0;
  size_t count = 0;
  for (const TxFrame& f : frames) {
    size_t size = f.size();
    if (size < kEthHeaderSize || size > max_frame) {
      // Ethernet semantics: an impossible frame is lost, not an error of the link.
      LOG_DEBUG("%s: dropping a %zu-byte frame (limit %zu)", info_.name.c_str(), size, max_frame);
      ++rejected;
      continue;
    }
    // Each frame owns kMaxTxPieces iovec entries; an empty piece is written and then overwritten
    // by the next one (or left past msg_iovlen), so building a frame takes no branches.
    iovec* iov = &iovs_[count * kMaxTxPieces];
    size_t pieces = 0;
    for (const auto& piece : f.parts()) {
      iov[pieces] = iovec{const_cast<uint8_t*>(piece.data()), piece.size()};
      pieces += !piece.empty();
    }
    msgs_[count].msg_hdr.msg_iov = iov;
    msgs_[count].msg_hdr.msg_iovlen = pieces;
    if (++count == kSendChunk) {
      Status s = send_chunk(count);
      count = 0;
      if (!s) {
        if (rejected) bump(tx_dropped_, rejected);
        return s;
      }
    }
  }
  Status s = count ? send_chunk(count) : Status::ok();
  if (rejected) bump(tx_dropped_, rejected);
  return s;
}

Status PacketLink::send_chunk(size_t count) {
  size_t done = 0;
  uint64_t sent = 0, dropped = 0;
  int full_in_a_row = 0;
  Status result;
  while (done < count) {
    int n = ::sendmmsg(fd_, &msgs_[done], static_cast<unsigned>(count - done), MSG_DONTWAIT);
    if (n > 0) {
      done += size_t(n);
      sent += uint64_t(n);
      full_in_a_row = 0;
      continue;
    }
    int err = n < 0 ? errno : EAGAIN;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      // The socket or device queue is full: the frame at the head is lost, as on a wire.
      if (++full_in_a_row >= kMaxConsecutiveFull) {
        dropped += count - done;
        done = count;
      } else {
        ++dropped;
        ++done;
      }
      continue;
    }
    if (err == EMSGSIZE || err == EINVAL) {
      // Something about this one frame the kernel refuses; the others may still go.
      LOG_DEBUG("%s: kernel refused a frame: %s", info_.name.c_str(), std::strerror(err));
      ++dropped;
      ++done;
      continue;
    }
    if (err == ENETDOWN) {
      // Carrier or admin state went away; the frames are lost but the link may come back.
      dropped += count - done;
      done = count;
      continue;
    }
    dropped += count - done;
    result = Status::from_errno(err, "sending on " + info_.name);
    break;
  }
  if (sent) bump(tx_frames_, sent);
  if (dropped) bump(tx_dropped_, dropped);
  return result;
}

Link::Counters PacketLink::counters() const {
  tpacket_stats stats{};
  socklen_t len = sizeof stats;
  if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &stats, &len) == 0 && stats.tp_drops)
    ring_drops_.fetch_add(stats.tp_drops, std::memory_order_relaxed);
  Counters c;
  c.rx_frames = rx_frames_.load(std::memory_order_relaxed);
  c.tx_frames = tx_frames_.load(std::memory_order_relaxed);
  c.tx_dropped = tx_dropped_.load(std::memory_order_relaxed);
  c.rx_dropped = ring_drops_.load(std::memory_order_relaxed) + rx_truncated_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace

Result<std::unique_ptr<Link>> open_packet_link(const std::string& iface, uint16_t ethertype, uint32_t min_mtu) {
  Result<InterfaceInfo> info = lookup_link_interface(iface, min_mtu);
  if (!info) return info.status();
  if (!info->running) LOG_WARN("interface %s has no carrier; frames will be lost until it does", iface.c_str());
  auto link = std::make_unique<PacketLink>(std::move(info.value()), ethertype);
  NVMEOE_RETURN_IF_ERROR(link->open());
  return std::unique_ptr<Link>(std::move(link));
}

}  // namespace nvmeoe
