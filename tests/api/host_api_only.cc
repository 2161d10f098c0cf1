// A program of a library user: it includes only the public header and uses the library the way
// include/nvmeoe/host.h documents (connect, the namespaces, a synchronous read, disconnect). It is
// built, not run, by the tests: that it compiles and links is the check (the public headers are
// self-contained). Run by hand: host_api_only TARGET_MAC NQN IFACE.
#include <cstdio>
#include <vector>

#include "nvmeoe/host.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: host_api_only TARGET_MAC NQN IFACE\n");
    return 2;
  }
  nvmeoe::ConnectOptions o;
  o.target_mac = argv[1];
  o.subnqn = argv[2];
  o.host_iface = argv[3];
  nvmeoe::Result<std::unique_ptr<nvmeoe::HostController>> c = nvmeoe::HostController::connect(o);
  if (!c) {
    std::fprintf(stderr, "connect: %s\n", c.status().message().c_str());
    return 1;
  }
  const auto& ns = (*c)->namespaces();
  if (ns.empty()) return 1;
  std::vector<unsigned char> block(ns[0].block_size);
  nvmeoe::Completion r = (*c)->read_sync(ns[0].nsid, 0, 1, block.data());
  std::printf("read of LBA 0: status 0x%x (errno %d)\n", r.status, nvmeoe::nvme_status::to_errno(r.status));
  (*c)->disconnect();
  return r.ok() ? 0 : 1;
}
