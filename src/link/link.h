// The link: moves whole Ethernet frames of one EtherType on one interface. It knows nothing of
// NVMe or of the nvmeoe header. Implementations: PacketLink (AF_PACKET, PACKET_MMAP receive ring,
// batched sendmmsg) and MemoryLink (an in-process pair for tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/function_ref.h"
#include "common/mac.h"
#include "common/status.h"

namespace nvmeoe {

constexpr size_t kEthHeaderSize = 14;

// One frame to send, as up to three pieces that are sent back to back without being copied into
// one buffer first: `head` normally holds the Ethernet header and the nvmeoe header, `body` points
// into the command's data buffer and `tail` holds the data digest.
struct TxFrame {
  std::span<const uint8_t> head;
  std::span<const uint8_t> body;
  std::span<const uint8_t> tail;
  size_t size() const { return head.size() + body.size() + tail.size(); }
};

class Link {
 public:
  virtual ~Link() = default;

  virtual MacAddress local_mac() const = 0;
  // Largest Ethernet payload (bytes after the 14-byte Ethernet header) this link carries.
  virtual uint32_t mtu() const = 0;
  virtual uint16_t ethertype() const = 0;
  virtual std::string name() const = 0;

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

// Two connected in-memory links (a "cable"): what one sends the other receives, in order, without
// loss. Frames to a MAC that is neither the peer's nor broadcast/multicast are still delivered (a
// hub), so tests can exercise filtering above the link.
struct MemoryLinkPair {
  std::unique_ptr<Link> a, b;
};
MemoryLinkPair make_memory_link_pair(uint32_t mtu, uint16_t ethertype, MacAddress mac_a, MacAddress mac_b);

}  // namespace nvmeoe
