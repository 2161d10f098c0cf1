// The target's control socket: a UNIX stream socket in the run directory (beside the target's
// lock file) that answers statistics requests, so `nvmeoe target-stats` can show what a running
// nvmeoe-target sees. It runs its own thread and reads the transports only through
// TargetTransport::snapshot(), which the transport thread answers between loop turns.
//
// Protocol (the same framing as the host agents' sockets, tools/cli/control.h): the client sends
// one JSON object per line; the server answers each with one JSON line and keeps the connection
// until the client closes it.
//   {"op":"stats"} -> {"ok":true,"pid":N,"targets":[TargetSnapshot...]}  (target_stats.h; one per
//                     transport the process runs, README.md lists the fields)
//   anything else  -> {"error":"message"}
// A reply line stays bounded however many associations there are (10,000 and more): "queues"
// carries one page of them, as many as fit in "max_bytes" (default 48 KiB, at most 4 MiB),
// counted over all targets in order from "from" (default 0); "queue_count" of each target says
// how many it has, and "next" (absent on the last page) is the "from" of the following page.
// Later pages of one connection come from the snapshot its first page was taken from, so a
// listing is consistent. "queues": false asks for the totals alone.
//   {"op":"stats","from":N,"max_bytes":M,"queues":true|false}
// Clients are served one at a time; a client that sends nothing for 2 s is dropped.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "target/target.h"

namespace nvmeoe {

class TargetControlServer {
 public:
  struct Source {
    std::string name;  // what this transport serves, e.g. "eth1 nqn.2024-01.io.nvmeoe:disk1"
    const TargetTransport* transport = nullptr;
    size_t port = 0;  // which of the transport's ports
  };

  // Binds `path` (replacing a stale socket file: the caller holds the lock that names it) with
  // mode 0600 and starts serving.
  static Result<std::unique_ptr<TargetControlServer>> start(const std::string& path, std::vector<Source> sources);
  ~TargetControlServer();  // stops the thread and removes the socket file
  TargetControlServer(const TargetControlServer&) = delete;
  TargetControlServer& operator=(const TargetControlServer&) = delete;

  const std::string& path() const { return path_; }

  // The snapshots a connection pages through.
  struct Pages {
    std::vector<TargetSnapshot> snaps;
  };
  // The reply line (with '\n') to one request line; `pages` (per connection, may be null) keeps
  // the snapshot that later pages come from. Exposed for tests.
  std::string handle(const std::string& line, Pages* pages = nullptr) const;

 private:
  TargetControlServer(std::string path, std::vector<Source> sources, int listen_fd, int stop_fd);
  void serve();
  void serve_client(int fd) const;

  std::string path_;
  std::vector<Source> sources_;
  int listen_fd_ = -1, stop_fd_ = -1;
  std::thread thread_;
};

// The control socket that belongs to a target lock file: "<lock path without .lock>.sock" when
// that fits in a UNIX socket address, else "<run dir>/target-<hash of the lock name>.sock".
std::string target_socket_path(const std::string& lock_path);

}  // namespace nvmeoe
