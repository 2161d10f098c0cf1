// The link: moves whole Ethernet frames of one EtherType on one interface. It knows nothing of
// NVMe or of the nvmeoe header. Implementations: PacketLink (AF_PACKET, PACKET_MMAP receive ring,
// batched sendmmsg), XdpLink (AF_XDP sockets fed by an XDP program, see xdp_link.cc) and
// MemoryLink (an in-process pair for tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/function_ref.h"
#include "common/mac.h"
#include "common/status.h"
#include "common/tx_frame.h"

namespace nvmeoe {

class Link {
 public:
  virtual ~Link() = default;

  virtual MacAddress local_mac() const = 0;
  // Largest Ethernet payload (bytes after the 14-byte Ethernet header) this link carries.
  virtual uint32_t mtu() const = 0;
  virtual uint16_t ethertype() const = 0;
  virtual std::string name() const = 0;
  // Which implementation carries the frames, for people: "packet", "af_xdp native",
  // "af_xdp generic"; empty for the in-process links of the tests.
  virtual std::string kind() const { return ""; }

  // Hands each received frame (starting at the Ethernet destination MAC) to `sink`, at most `max`
  // frames, without blocking. Frames the local host sent itself are not delivered. The span is valid
  // only during the call. Returns the number of frames delivered.
  virtual size_t receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) = 0;

  // Sends frames in one batch where the link can. Each frame must be at most kEthHeaderSize+mtu()
  // bytes. A frame the kernel could not queue is dropped (Ethernet semantics); an error is returned
  // only for a broken link.
  virtual Status send(std::span<const TxFrame> frames) = 0;

  // A file descriptor that becomes readable when receive() may return frames (for poll/epoll).
  virtual int wait_fd() const = 0;

  // Counters since creation.
  struct Counters {
    uint64_t rx_frames = 0, tx_frames = 0, tx_dropped = 0, rx_dropped = 0;
  };
  virtual Counters counters() const = 0;
};

// Opens an AF_PACKET link bound to `iface` and `ethertype`. Needs CAP_NET_RAW. Fails with a clear
// message for a missing or down interface, or an MTU too small for the protocol (`min_mtu`).
Result<std::unique_ptr<Link>> open_packet_link(const std::string& iface, uint16_t ethertype, uint32_t min_mtu);

// Where an AF_XDP link's XDP program runs: native (in the driver), generic (in the stack, any
// interface), or native where the driver allows it, else generic.
enum class XdpMode { kAuto, kNative, kGeneric };

// Opens an AF_XDP link on `iface` for `ethertype`: an XDP program that redirects only frames of that
// EtherType to one AF_XDP socket per receive queue (other frames reach the network stack as before),
// attached through a BPF link so that it disappears with the process. Needs CAP_NET_ADMIN and
// CAP_BPF. Fails with a clear message for a missing or down interface, an MTU too small for the
// protocol or too large for the link's 4 KiB UMEM frames, a kernel without AF_XDP, or an interface
// that already has an XDP program (so one AF_XDP link per interface at a time).
Result<std::unique_ptr<Link>> open_xdp_link(const std::string& iface, uint16_t ethertype, uint32_t min_mtu,
                                            XdpMode mode = XdpMode::kAuto);
// The largest MTU open_xdp_link accepts.
uint32_t xdp_link_max_mtu();

// Which Link implementation carries a port or a controller.
enum class LinkKind { kPacket, kAfXdp };
// "packet" or "af_xdp"; anything else is an error naming the choices.
Result<LinkKind> parse_link_kind(std::string_view text);
const char* link_kind_name(LinkKind kind);
// The environment variable NVMEOE_LINK names the default link kind of the programs; unset or empty
// means "packet". Returns the text to parse (the programs check it as they check --link).
std::string default_link_name();
// Opens a link of `kind` (AF_XDP in XdpMode::kAuto).
Result<std::unique_ptr<Link>> open_link(LinkKind kind, const std::string& iface, uint16_t ethertype, uint32_t min_mtu);

// Two connected in-memory links (a "cable"): what one sends the other receives, in order, without
// loss. Frames to a MAC that is neither the peer's nor broadcast/multicast are still delivered (a
// hub), so tests can exercise filtering above the link.
struct MemoryLinkPair {
  std::unique_ptr<Link> a, b;
};
MemoryLinkPair make_memory_link_pair(uint32_t mtu, uint16_t ethertype, MacAddress mac_a, MacAddress mac_b);

}  // namespace nvmeoe
