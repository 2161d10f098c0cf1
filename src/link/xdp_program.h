// The kernel side of the AF_XDP link: an XSKMAP, a hand-assembled XDP program that redirects frames
// of one EtherType to the AF_XDP socket of the queue they arrived on (every other frame goes on to
// the network stack), and the program's attachment to an interface through a BPF link. Only the
// kernel UAPI and the bpf() system call are used. The attachment belongs to the BPF link's file
// descriptor: when the process exits or crashes the kernel closes it and the program is detached,
// so no stale program is ever left on the interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "link/link.h"
#include "link/netif.h"

namespace nvmeoe {

class XdpProgram {
 public:
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  // Creates the XSKMAP (one slot per receive queue) and loads the program for `ethertype`,
  // frags-aware so that multi-buffer frames (MTU above a page) are accepted. A verifier rejection
  // carries the verifier's log.
  static Result<std::unique_ptr<XdpProgram>> load(uint16_t ethertype, uint32_t queues);

  // Puts the AF_XDP socket `xsk_fd` in the slot of receive queue `queue`.
  Status add_socket(uint32_t queue, int xsk_fd);

  // Attaches the program to `iface` in `mode`. An interface that already has an XDP program is an
  // error (nothing is replaced).
  Status attach(const InterfaceInfo& iface, XdpMode mode);
  // After attach: whether the program runs in the driver.
  bool native() const { return native_; }

 private:
  XdpProgram() = default;

  int map_fd_ = -1;
  int prog_fd_ = -1;
  int link_fd_ = -1;
  bool native_ = false;
};

}  // namespace nvmeoe
