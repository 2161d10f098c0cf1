// Looks up a network interface's index, MAC, MTU and flags with the classic SIOCGIF* ioctls, in
// the network namespace of the calling thread.
#include "link/netif.h"

#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nvmeoe {

namespace {

// Closes the probe socket on every return path.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Any datagram socket can answer SIOCGIF*; AF_INET needs no privilege, AF_PACKET covers kernels
// built without IPv4.
int open_probe_socket() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fd = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return fd;
}

Status ioctl_error(int err, const std::string& name, const char* what) {
  if (err == ENODEV || err == ENXIO) return Status::error("interface '" + name + "' not found", ENODEV);
  if (err == EPERM || err == EACCES)
    return Status::error("permission denied reading " + std::string(what) + " of interface '" + name + "'", err);
  return Status::from_errno(err, "reading " + std::string(what) + " of interface '" + name + "'");
}

}  // namespace

Result<InterfaceInfo> lookup_interface(const std::string& name) {
  if (name.empty()) return Status::error("interface name is empty");
  if (name.size() >= IFNAMSIZ)
    return Status::error("interface name '" + name + "' is too long (at most " + std::to_string(IFNAMSIZ - 1) +
                         " characters)");
  if (name.find('/') != std::string::npos || name.find(':') != std::string::npos ||
      name.find_first_of(" \t\n") != std::string::npos)
    return Status::error("interface '" + name + "' not found", ENODEV);

  FdGuard fd(open_probe_socket());
  if (fd.get() < 0) return Status::from_errno(errno, "opening a socket to look up interface '" + name + "'");

  struct ifreq req;
  auto reset = [&] {
    std::memset(&req, 0, sizeof req);
    std::memcpy(req.ifr_name, name.data(), name.size());
  };

  InterfaceInfo info;
  info.name = name;

  reset();
  if (::ioctl(fd.get(), SIOCGIFINDEX, &req) < 0) return ioctl_error(errno, name, "the index");
  info.index = req.ifr_ifindex;

  reset();
  if (::ioctl(fd.get(), SIOCGIFHWADDR, &req) < 0) return ioctl_error(errno, name, "the hardware address");
  // Loopback reports ARPHRD_LOOPBACK with a zero address; both carry Ethernet framing. Anything
  // else (tun, ip6tnl, ...) has no 6-byte MAC, so the MAC stays zero and the caller decides.
  if (req.ifr_hwaddr.sa_family == ARPHRD_ETHER || req.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK)
    info.mac = MacAddress::from_bytes(reinterpret_cast<const uint8_t*>(req.ifr_hwaddr.sa_data));

  reset();
  if (::ioctl(fd.get(), SIOCGIFMTU, &req) < 0) return ioctl_error(errno, name, "the MTU");
  info.mtu = req.ifr_mtu > 0 ? static_cast<uint32_t>(req.ifr_mtu) : 0;

  reset();
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &req) < 0) return ioctl_error(errno, name, "the flags");
  info.up = (req.ifr_flags & IFF_UP) != 0;
  info.running = (req.ifr_flags & IFF_RUNNING) != 0;

  return info;
}

Result<InterfaceInfo> lookup_link_interface(const std::string& name, uint32_t min_mtu) {
  Result<InterfaceInfo> info = lookup_interface(name);
  if (!info) return info.status();
  // nvmeoe frames are addressed by MAC: an interface without a unicast one of its own (loopback,
  // tun, a zeroed or multicast address) could neither be reached nor tell its peers apart.
  if (info->mac.is_zero() || info->mac.is_multicast())
    return Status::error("interface " + name + " has no usable unicast MAC address" +
                             (name == "lo" ? " (loopback)" : "") +
                             "; nvmeoe needs an Ethernet interface (a NIC, veth, VLAN, bridge or macvlan)",
                         EADDRNOTAVAIL);
  if (!info->up) return Status::error("interface " + name + " is down", ENETDOWN);
  if (info->mtu < min_mtu)
    return Status::error("interface " + name + " MTU " + std::to_string(info->mtu) +
                             " is too small; nvmeoe needs at least " + std::to_string(min_mtu),
                         EMSGSIZE);
  return info;
}

}  // namespace nvmeoe
