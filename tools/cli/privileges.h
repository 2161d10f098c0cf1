// The privilege check that nvmeoe's raw-socket commands (connect, connect-all, discover, perf) and
// nvmeoe-target make before anything else, so that a user without them reads why at once instead
// of a later "operation not permitted" or "cannot create run directory". Header-only because
// nvmeoe-target is built from its main file alone.
#pragma once

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace nvmeoe::cli {

// True when `cap` (CAP_NET_RAW, ...) is in the effective set of this process.
inline bool has_effective_capability(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return ::geteuid() == 0;
  return (data[cap / 32].effective >> (cap % 32)) & 1;
}

// "" when raw sockets may be opened, else what to tell the user.
inline std::string raw_socket_privilege_problem(const std::string& what) {
  if (has_effective_capability(CAP_NET_RAW)) return "";
  return what +
         " needs root (CAP_NET_RAW, for raw Ethernet sockets; --link af_xdp also needs CAP_NET_ADMIN and CAP_BPF): "
         "run it with sudo";
}

}  // namespace nvmeoe::cli
