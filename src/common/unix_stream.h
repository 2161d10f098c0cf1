// UNIX stream sockets of the project's line-based control protocols (the target's stats socket,
// src/target/control_server.h, and a host agent's socket, tools/cli/control.h): listening with
// owner-only permissions, connecting with a timeout, and a stream that reads bounded lines and
// exact byte counts and writes whole buffers. Each protocol keeps its own messages; the socket
// handling is here once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace nvmeoe {

class UnixStream {
 public:
  static constexpr size_t kDefaultMaxLine = 64 * 1024;
  explicit UnixStream(int fd) : fd_(fd) {}
  UnixStream(const UnixStream&) = delete;
  UnixStream& operator=(const UnixStream&) = delete;
  UnixStream(UnixStream&& o) noexcept
      : fd_(o.fd_), cancel_fd_(o.cancel_fd_), timeout_ms_(o.timeout_ms_), buf_(std::move(o.buf_)) {
    o.fd_ = -1;
  }
  ~UnixStream();  // closes the socket

  // Reads one line without its '\n'. Fails on EOF (errno EPIPE), a timeout (ETIMEDOUT), the
  // cancel descriptor (ECANCELED), or a line longer than `max_bytes` (EMSGSIZE). `eof` is set when
  // the peer closed cleanly before any byte of the line.
  Status read_line(std::string* line, bool* eof = nullptr, size_t max_bytes = kDefaultMaxLine);
  Status read_exact(uint8_t* dst, size_t n);
  Status write_all(const void* data, size_t n);
  Status write_all(const std::string& s) { return write_all(s.data(), s.size()); }
  // A send and receive timeout for every later call.
  void set_timeout(std::chrono::milliseconds t);
  // While `fd` is readable (an eventfd that asks a server to stop), reads fail with ECANCELED
  // instead of waiting out their timeout. -1 (the default) waits for the socket alone.
  void set_cancel_fd(int fd) { cancel_fd_ = fd; }
  int fd() const { return fd_; }

 private:
  // recv() of at most n bytes, after waiting for the socket (and the cancel descriptor).
  ssize_t receive_some(void* dst, size_t n, Status* error, const char* waiting_for);

  int fd_;
  int cancel_fd_ = -1;
  int timeout_ms_ = -1;
  std::string buf_;
};

// Listens on `path` with mode 0600 whatever the umask. A socket file already there is removed
// first: the caller holds the lock that names it, so it is stale.
Result<int> listen_unix(const std::string& path, int backlog);

// Connects a stream to `path` with `timeout` on each later send and receive. A missing socket or
// one nobody listens on gives the error `absent` (errno ENODEV).
Result<UnixStream> connect_unix(const std::string& path, std::chrono::milliseconds timeout, const std::string& absent);

}  // namespace nvmeoe
