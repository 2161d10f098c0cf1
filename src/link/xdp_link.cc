// XdpLink: a Link over AF_XDP. An XDP program (xdp_program.h) redirects the frames of our EtherType
// to one AF_XDP socket per receive queue of the interface; every other frame goes on to the network
// stack. Each socket has its own UMEM of 4 KiB frames, half lent to the kernel through the fill ring
// for receiving, half kept here for sending. Sockets are bound in copy mode with multi-buffer
// (XDP_USE_SG), so frames larger than a UMEM frame travel as chains of descriptors (XDP_PKT_CONTD).
// Nothing is allocated and no system call is made per frame: receive() reads the RX ring and hands
// the buffers back through the fill ring in one batch; send() copies frames into free UMEM frames,
// publishes them in one batch and kicks the kernel once per batch.
#include <dirent.h>
#include <linux/ethtool.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/counter.h"
#include "common/log.h"
#include "link/link.h"
#include "link/netif.h"
#include "link/xdp_program.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
// Multi-buffer AF_XDP (Linux 6.6); older UAPI headers lack the names.
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif
#ifndef XDP_PACKET_HEADROOM
#define XDP_PACKET_HEADROOM 256
#endif

namespace nvmeoe {

namespace {

constexpr uint32_t kFrameSize = 4096;
// Per socket: 16 MiB of UMEM, as much as PacketLink's receive ring.
constexpr uint32_t kFramesPerSocket = 4096;
constexpr uint32_t kRxFrames = kFramesPerSocket / 2;
constexpr uint32_t kTxFrames = kFramesPerSocket - kRxFrames;
// Ring sizes (powers of two). The fill ring and the RX ring can hold every RX frame, the TX and
// completion rings every TX frame, so none of them can overflow.
constexpr uint32_t kRxRingSize = kRxFrames;
constexpr uint32_t kTxRingSize = kTxFrames;
// In copy mode the kernel places received data after XDP_PACKET_HEADROOM in each frame.
constexpr uint32_t kRxBytesPerFrame = kFrameSize - XDP_PACKET_HEADROOM;
// Longest descriptor chain a frame may use; the kernel allows MAX_SKB_FRAGS + 1 (18).
constexpr uint32_t kMaxDescsPerFrame = 16;
// Largest Ethernet frame the link carries, and so the largest MTU.
constexpr uint32_t kMaxFrameBytes = kMaxDescsPerFrame * kRxBytesPerFrame;
// Kicks per send() batch: copy-mode transmission sends a bounded number of frames (32 by default)
// per sendto, so a batch takes several; each must make progress or the loop stops.
constexpr int kMaxKicks = 256;

static_assert((kRxRingSize & (kRxRingSize - 1)) == 0 && (kTxRingSize & (kTxRingSize - 1)) == 0);

// One mmapped ring shared with the kernel. The producer and consumer indexes run freely (they wrap
// at 2^32); `mask` picks the slot. Each side reads the other's index with acquire and publishes its
// own with release, so the slots written before a release are visible after the matching acquire.
struct Ring {
  void* map = nullptr;
  size_t map_size = 0;
  uint32_t* producer = nullptr;
  uint32_t* consumer = nullptr;
  void* slots = nullptr;
  uint32_t mask = 0;

  uint32_t load_producer() const { return __atomic_load_n(producer, __ATOMIC_ACQUIRE); }
  uint32_t load_consumer() const { return __atomic_load_n(consumer, __ATOMIC_ACQUIRE); }
  void store_producer(uint32_t v) { __atomic_store_n(producer, v, __ATOMIC_RELEASE); }
  void store_consumer(uint32_t v) { __atomic_store_n(consumer, v, __ATOMIC_RELEASE); }
  xdp_desc& desc(uint32_t i) const { return static_cast<xdp_desc*>(slots)[i & mask]; }
  uint64_t& addr(uint32_t i) const { return static_cast<uint64_t*>(slots)[i & mask]; }
};

struct Socket {
  int fd = -1;
  uint32_t queue = 0;
  uint8_t* umem = nullptr;
  Ring rx, tx, fill, comp;
  // Our own indexes: the next RX slot to read, the next TX and fill slots to write, the next
  // completion to reap. The kernel learns them through the release stores.
  uint32_t rx_next = 0, tx_next = 0, fill_next = 0, comp_next = 0;
  // TX frames free for send(): a stack of UMEM offsets.
  std::vector<uint64_t> free_tx;
  size_t free_count = 0;
};

// Copies `len` bytes from the pieces of a TxFrame, continuing where the last call stopped.
struct PieceReader {
  std::span<const std::span<const uint8_t>> pieces;
  size_t index = 0;
  size_t offset = 0;

  void read(uint8_t* out, size_t len) {
    while (len > 0) {
      const auto& piece = pieces[index];
      size_t n = std::min(len, piece.size() - offset);
      if (n > 0) std::memcpy(out, piece.data() + offset, n);  // an empty piece may have no data pointer
      out += n;
      len -= n;
      offset += n;
      if (offset == piece.size()) {
        ++index;
        offset = 0;
      }
    }
  }
};

// Receive queues of the interface: ETHTOOL_GCHANNELS (answers in the caller's network namespace),
// else /sys/class/net/IF/queues, else one.
uint32_t count_rx_queues(const std::string& iface) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    ethtool_channels ch{};
    ch.cmd = ETHTOOL_GCHANNELS;
    ifreq req{};
    std::memcpy(req.ifr_name, iface.data(), std::min(iface.size(), size_t(IFNAMSIZ - 1)));
    req.ifr_data = reinterpret_cast<char*>(&ch);
    int r = ::ioctl(fd, SIOCETHTOOL, &req);
    ::close(fd);
    if (r == 0 && ch.rx_count + ch.combined_count > 0) return ch.rx_count + ch.combined_count;
  }
  uint32_t n = 0;
  if (DIR* dir = ::opendir(("/sys/class/net/" + iface + "/queues").c_str())) {
    while (dirent* e = ::readdir(dir))
      if (std::strncmp(e->d_name, "rx-", 3) == 0) ++n;
    ::closedir(dir);
  }
  return n > 0 ? n : 1;
}

class XdpLink final : public Link {
 public:
  XdpLink(InterfaceInfo info, uint16_t ethertype) : info_(std::move(info)), ethertype_(ethertype) {}
  ~XdpLink() override;
  XdpLink(const XdpLink&) = delete;
  XdpLink& operator=(const XdpLink&) = delete;

  Status open(XdpMode mode);

  MacAddress local_mac() const override { return info_.mac; }
  uint32_t mtu() const override { return info_.mtu; }
  uint16_t ethertype() const override { return ethertype_; }
  std::string name() const override { return info_.name; }
  std::string kind() const override { return program_->native() ? "af_xdp native" : "af_xdp generic"; }
  int wait_fd() const override { return epoll_fd_ >= 0 ? epoll_fd_ : sockets_[0].fd; }

  size_t receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) override;
  Status send(std::span<const TxFrame> frames) override;
  Counters counters() const override;

 private:
  Status open_socket(Socket& s, bool use_sg);
  Status map_ring(Socket& s, Ring& ring, const xdp_ring_offset& off, uint64_t pgoff, uint32_t entries, size_t slot_size,
                  const char* what);
  size_t receive_from(Socket& s, FunctionRef<void(std::span<const uint8_t>)> sink, size_t max);
  void reap_completions(Socket& s);
  Status kick(Socket& s);

  InterfaceInfo info_;
  uint16_t ethertype_;
  std::unique_ptr<XdpProgram> program_;
  std::vector<Socket> sockets_;
  int epoll_fd_ = -1;
  size_t next_rx_socket_ = 0;
  // A frame that arrived as a chain of descriptors is assembled here (preallocated).
  std::vector<uint8_t> assembly_;

  std::atomic<uint64_t> rx_frames_{0}, tx_frames_{0}, tx_dropped_{0}, rx_dropped_{0};
};

XdpLink::~XdpLink() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  for (Socket& s : sockets_) {
    for (Ring* r : {&s.rx, &s.tx, &s.fill, &s.comp})
      if (r->map != nullptr) ::munmap(r->map, r->map_size);
    if (s.fd >= 0) ::close(s.fd);
    if (s.umem != nullptr) ::munmap(s.umem, size_t(kFramesPerSocket) * kFrameSize);
  }
  // program_ (its BPF link, so the attachment) goes after the sockets.
}

Status XdpLink::map_ring(Socket& s, Ring& ring, const xdp_ring_offset& off, uint64_t pgoff, uint32_t entries,
                         size_t slot_size, const char* what) {
  ring.map_size = off.desc + size_t(entries) * slot_size;
  void* p = ::mmap(nullptr, ring.map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s.fd, off_t(pgoff));
  if (p == MAP_FAILED) {
    ring.map = nullptr;
    return Status::from_errno(errno, std::string("mapping the AF_XDP ") + what + " ring on " + info_.name);
  }
  ring.map = p;
  auto* base = static_cast<uint8_t*>(p);
  ring.producer = reinterpret_cast<uint32_t*>(base + off.producer);
  ring.consumer = reinterpret_cast<uint32_t*>(base + off.consumer);
  ring.slots = base + off.desc;
  ring.mask = entries - 1;
  return Status::ok();
}

Status XdpLink::open_socket(Socket& s, bool use_sg) {
  const std::string where = " on " + info_.name + " queue " + std::to_string(s.queue);
  s.fd = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (s.fd < 0) {
    int err = errno;
    if (err == EAFNOSUPPORT || err == EPROTONOSUPPORT)
      return Status::error("this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS); use --link packet", err);
    if (err == EPERM || err == EACCES)
      return Status::error("opening an AF_XDP socket needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF (run as root)", err);
    return Status::from_errno(err, "opening an AF_XDP socket" + where);
  }

  const size_t umem_size = size_t(kFramesPerSocket) * kFrameSize;
  void* umem = ::mmap(nullptr, umem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (umem == MAP_FAILED) return Status::from_errno(errno, "allocating the AF_XDP UMEM" + where);
  s.umem = static_cast<uint8_t*>(umem);

  xdp_umem_reg reg{};
  reg.addr = reinterpret_cast<uint64_t>(s.umem);
  reg.len = umem_size;
  reg.chunk_size = kFrameSize;
  reg.headroom = 0;
  if (::setsockopt(s.fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) < 0) {
    int err = errno;
    if (err == ENOBUFS || err == ENOMEM || err == EPERM)
      return Status::error("registering the AF_XDP UMEM (" + std::to_string(umem_size >> 20) + " MiB)" + where + ": " +
                               std::strerror(err) + " (locked-memory limit too low? raise `ulimit -l` or run as root)",
                           err);
    return Status::from_errno(err, "registering the AF_XDP UMEM" + where);
  }
  int rx_entries = kRxRingSize, tx_entries = kTxRingSize;
  if (::setsockopt(s.fd, SOL_XDP, XDP_UMEM_FILL_RING, &rx_entries, sizeof rx_entries) < 0 ||
      ::setsockopt(s.fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &tx_entries, sizeof tx_entries) < 0 ||
      ::setsockopt(s.fd, SOL_XDP, XDP_RX_RING, &rx_entries, sizeof rx_entries) < 0 ||
      ::setsockopt(s.fd, SOL_XDP, XDP_TX_RING, &tx_entries, sizeof tx_entries) < 0)
    return Status::from_errno(errno, "sizing the AF_XDP rings" + where);

  xdp_mmap_offsets off{};
  socklen_t len = sizeof off;
  if (::getsockopt(s.fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &len) < 0)
    return Status::from_errno(errno, "reading the AF_XDP ring offsets" + where);
  NVMEOE_RETURN_IF_ERROR(map_ring(s, s.rx, off.rx, XDP_PGOFF_RX_RING, kRxRingSize, sizeof(xdp_desc), "RX"));
  NVMEOE_RETURN_IF_ERROR(map_ring(s, s.tx, off.tx, XDP_PGOFF_TX_RING, kTxRingSize, sizeof(xdp_desc), "TX"));
  NVMEOE_RETURN_IF_ERROR(map_ring(s, s.fill, off.fr, XDP_UMEM_PGOFF_FILL_RING, kRxRingSize, sizeof(uint64_t), "fill"));
  NVMEOE_RETURN_IF_ERROR(
      map_ring(s, s.comp, off.cr, XDP_UMEM_PGOFF_COMPLETION_RING, kTxRingSize, sizeof(uint64_t), "completion"));

  // Frames [0, kRxFrames) go to the kernel for receiving, the rest wait here for send().
  s.fill_next = s.fill.load_producer();
  for (uint32_t i = 0; i < kRxFrames; ++i) s.fill.addr(s.fill_next++) = uint64_t(i) * kFrameSize;
  s.fill.store_producer(s.fill_next);
  s.free_tx.resize(kTxFrames);
  for (uint32_t i = 0; i < kTxFrames; ++i) s.free_tx[i] = uint64_t(kRxFrames + i) * kFrameSize;
  s.free_count = kTxFrames;
  s.rx_next = s.rx.load_consumer();
  s.tx_next = s.tx.load_producer();
  s.comp_next = s.comp.load_consumer();

  sockaddr_xdp addr{};
  addr.sxdp_family = AF_XDP;
  addr.sxdp_ifindex = static_cast<uint32_t>(info_.index);
  addr.sxdp_queue_id = s.queue;
  addr.sxdp_flags = XDP_COPY | (use_sg ? XDP_USE_SG : 0);
  if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    if (err == ENODEV || err == ENXIO) return Status::error("interface '" + info_.name + "' not found", ENODEV);
    if (err == EBUSY)
      return Status::error(
          "queue " + std::to_string(s.queue) + " of " + info_.name + " already has an AF_XDP socket of another program",
          err);
    if (err == EINVAL && use_sg)
      return Status::error(
          "binding an AF_XDP socket" + where + ": the kernel refused multi-buffer AF_XDP (XDP_USE_SG needs Linux 6.6)",
          err);
    return Status::from_errno(err, "binding an AF_XDP socket" + where);
  }
  return Status::ok();
}

Status XdpLink::open(XdpMode mode) {
  const uint32_t queues = count_rx_queues(info_.name);
  auto program = XdpProgram::load(ethertype_, queues);
  if (!program) return program.status();
  program_ = std::move(program.value());
  // Attached first, so that an interface with an XDP program of its own is refused with that reason.
  // Until the sockets are in the map, the program lets our frames go on to the stack.
  NVMEOE_RETURN_IF_ERROR(program_->attach(info_, mode));

  // Multi-buffer only when a frame may not fit one UMEM frame: then older kernels still work at
  // small MTUs.
  const bool use_sg = kEthHeaderSize + info_.mtu > kRxBytesPerFrame;
  sockets_.resize(queues);
  for (uint32_t q = 0; q < queues; ++q) {
    sockets_[q].queue = q;
    NVMEOE_RETURN_IF_ERROR(open_socket(sockets_[q], use_sg));
    NVMEOE_RETURN_IF_ERROR(program_->add_socket(q, sockets_[q].fd));
  }
  if (queues > 1) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return Status::from_errno(errno, "creating an epoll instance for " + info_.name);
    for (Socket& s : sockets_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = s.queue;
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev) < 0)
        return Status::from_errno(errno, "watching the AF_XDP sockets of " + info_.name);
    }
  }
  if (use_sg) assembly_.resize(kMaxFrameBytes);

  LOG_INFO("%s: AF_XDP link, %s XDP, copy mode, %u queue%s, EtherType 0x%04x", info_.name.c_str(),
           program_->native() ? "native (driver)" : "generic (skb)", queues, queues == 1 ? "" : "s", ethertype_);
  return Status::ok();
}

size_t XdpLink::receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) {
  size_t delivered = 0;
  const size_t n = sockets_.size();
  for (size_t i = 0; i < n && delivered < max; ++i) {
    Socket& s = sockets_[next_rx_socket_];
    next_rx_socket_ = next_rx_socket_ + 1 == n ? 0 : next_rx_socket_ + 1;
    delivered += receive_from(s, sink, max - delivered);
  }
  return delivered;
}

size_t XdpLink::receive_from(Socket& s, FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) {
  const uint32_t produced = s.rx.load_producer();
  uint32_t next = s.rx_next;
  if (next == produced) return 0;
  size_t delivered = 0;
  uint64_t dropped = 0;
  uint32_t fill = s.fill_next;
  const MacAddress& own = info_.mac;
  while (next != produced && delivered < max) {
    // A frame is one descriptor, or a chain whose every descriptor but the last has XDP_PKT_CONTD.
    // The kernel publishes a chain whole; a chain cut off at `produced` waits for the next call.
    uint32_t count = 1;
    while ((s.rx.desc(next + count - 1).options & XDP_PKT_CONTD) && next + count != produced) ++count;
    if (s.rx.desc(next + count - 1).options & XDP_PKT_CONTD) break;

    std::span<const uint8_t> frame;
    if (count == 1) {
      const xdp_desc& d = s.rx.desc(next);
      if (d.addr + d.len <= uint64_t(kFramesPerSocket) * kFrameSize) frame = {s.umem + d.addr, d.len};
    } else if (count <= kMaxDescsPerFrame && !assembly_.empty()) {
      size_t total = 0;
      bool ok = true;
      for (uint32_t k = 0; k < count && ok; ++k) {
        const xdp_desc& d = s.rx.desc(next + k);
        ok = d.addr + d.len <= uint64_t(kFramesPerSocket) * kFrameSize && total + d.len <= assembly_.size();
        if (ok) {
          std::memcpy(assembly_.data() + total, s.umem + d.addr, d.len);
          total += d.len;
        }
      }
      if (ok) frame = {assembly_.data(), total};
    }
    if (frame.size() < kEthHeaderSize) {
      ++dropped;  // too big for the link, or broken
    } else if (std::memcmp(frame.data() + 6, own.b.data(), 6) != 0) {
      sink(frame);
      ++delivered;
    }
    // The buffers go back to the kernel (at their frame's start) once the sink is done with them.
    for (uint32_t k = 0; k < count; ++k) s.fill.addr(fill++) = s.rx.desc(next + k).addr & ~uint64_t(kFrameSize - 1);
    next += count;
  }
  s.rx_next = next;
  s.rx.store_consumer(next);
  s.fill_next = fill;
  s.fill.store_producer(fill);
  if (delivered) bump(rx_frames_, delivered);
  if (dropped) bump(rx_dropped_, dropped);
  return delivered;
}

void XdpLink::reap_completions(Socket& s) {
  const uint32_t produced = s.comp.load_producer();
  uint32_t next = s.comp_next;
  while (next != produced && s.free_count < s.free_tx.size())
    s.free_tx[s.free_count++] = s.comp.addr(next++) & ~uint64_t(kFrameSize - 1);
  if (next != s.comp_next) {
    s.comp_next = next;
    s.comp.store_consumer(next);
  }
}

Status XdpLink::kick(Socket& s) {
  for (int i = 0; i < kMaxKicks; ++i) {
    const uint32_t before = s.tx.load_consumer();
    if (before == s.tx_next) return Status::ok();
    if (::sendto(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0) {
      int err = errno;
      // The interface is down: the frames wait in the TX ring (or are lost when it is full).
      if (err == ENETDOWN) return Status::ok();
      // EAGAIN/EBUSY/ENOBUFS: a full device queue or the per-call budget used up, not an error;
      // the progress check below decides whether to go on.
      if (err != EAGAIN && err != EWOULDBLOCK && err != EBUSY && err != ENOBUFS && err != EINTR)
        return Status::from_errno(err, "sending on " + info_.name);
    }
    if (s.tx.load_consumer() == before) return Status::ok();  // no progress: the device is busy
  }
  return Status::ok();
}

Status XdpLink::send(std::span<const TxFrame> frames) {
  Socket& s = sockets_[0];
  reap_completions(s);
  const size_t max_frame = kEthHeaderSize + info_.mtu;
  uint32_t ring_free = kTxRingSize - (s.tx_next - s.tx.load_consumer());
  uint64_t sent = 0, dropped = 0;
  const uint32_t first = s.tx_next;
  for (const TxFrame& f : frames) {
    const size_t size = f.size();
    if (size < kEthHeaderSize || size > max_frame) {
      LOG_DEBUG("%s: dropping a %zu-byte frame (limit %zu)", info_.name.c_str(), size, max_frame);
      ++dropped;
      continue;
    }
    const uint32_t count = static_cast<uint32_t>((size + kFrameSize - 1) / kFrameSize);
    if (count > s.free_count || count > ring_free) {
      ++dropped;  // no free TX frame: lost, as on a wire with a full queue
      continue;
    }
    PieceReader reader{f.parts()};
    size_t left = size;
    for (uint32_t k = 0; k < count; ++k) {
      const uint64_t addr = s.free_tx[--s.free_count];
      const uint32_t len = static_cast<uint32_t>(std::min<size_t>(left, kFrameSize));
      reader.read(s.umem + addr, len);
      left -= len;
      xdp_desc& d = s.tx.desc(s.tx_next++);
      d.addr = addr;
      d.len = len;
      d.options = k + 1 < count ? XDP_PKT_CONTD : 0;
    }
    ring_free -= count;
    ++sent;
  }
  Status result;
  if (s.tx_next != first) {
    s.tx.store_producer(s.tx_next);
    result = kick(s);
  } else if (s.tx_next != s.tx.load_consumer()) {
    result = kick(s);  // frames left over from a busy device
  }
  if (sent) bump(tx_frames_, sent);
  if (dropped) bump(tx_dropped_, dropped);
  return result;
}

Link::Counters XdpLink::counters() const {
  Counters c;
  c.rx_frames = rx_frames_.load(std::memory_order_relaxed);
  c.tx_frames = tx_frames_.load(std::memory_order_relaxed);
  c.tx_dropped = tx_dropped_.load(std::memory_order_relaxed);
  c.rx_dropped = rx_dropped_.load(std::memory_order_relaxed);
  // The kernel's own counts (cumulative): frames lost for a full RX ring or an empty fill ring.
  for (const Socket& s : sockets_) {
    xdp_statistics st{};
    socklen_t len = sizeof st;
    if (::getsockopt(s.fd, SOL_XDP, XDP_STATISTICS, &st, &len) == 0) {
      c.rx_dropped += st.rx_dropped + st.rx_ring_full + st.rx_invalid_descs;
      c.tx_dropped += st.tx_invalid_descs;
    }
  }
  return c;
}

}  // namespace

uint32_t xdp_link_max_mtu() {
  return kMaxFrameBytes - kEthHeaderSize;
}

Result<std::unique_ptr<Link>> open_xdp_link(const std::string& iface, uint16_t ethertype, uint32_t min_mtu,
                                            XdpMode mode) {
  Result<InterfaceInfo> info = lookup_link_interface(iface, min_mtu);
  if (!info) return info.status();
  if (info->mtu > xdp_link_max_mtu())
    return Status::error("interface " + iface + " MTU " + std::to_string(info->mtu) +
                             " is too large for the AF_XDP link (its 4 KiB UMEM frames carry frames of at most " +
                             std::to_string(kMaxFrameBytes) + " bytes: MTU " + std::to_string(xdp_link_max_mtu()) +
                             "); lower the MTU or use --link packet",
                         EMSGSIZE);
  if (!info->running) LOG_WARN("interface %s has no carrier; frames will be lost until it does", iface.c_str());
  auto link = std::make_unique<XdpLink>(std::move(info.value()), ethertype);
  NVMEOE_RETURN_IF_ERROR(link->open(mode));
  return std::unique_ptr<Link>(std::move(link));
}

}  // namespace nvmeoe
