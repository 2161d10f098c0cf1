// Process plumbing of the controller agent: fork and detach, report back to the waiting parent over
// an inherited pipe, claim a controller name, serve the control socket, clean up on exit.
//
// Status pipe lines (agent -> parent): "PID <pid>", then exactly one of "OK <name>" or
// "ERR <message>". The parent treats EOF without either as the agent dying.
#include "cli/agent.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "cli/agent_log.h"
#include "cli/agent_server.h"
#include "cli/agent_service.h"
#include "cli/args.h"
#include "cli/control.h"
#include "cli/run_files.h"
#include "common/status.h"

namespace nvmeoe::cli {

namespace {

volatile sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int sig) {
  g_stop_signal = sig;
}

void write_status_line(int fd, const std::string& line) {
  std::string msg = line;
  for (char& c : msg)
    if (c == '\n' || c == '\r') c = ' ';
  msg += '\n';
  const char* p = msg.data();
  size_t left = msg.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent went away; nothing more to tell it
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void detach_stdio() {
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return;
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(null_fd, STDOUT_FILENO);
  ::dup2(null_fd, STDERR_FILENO);
  if (null_fd > STDERR_FILENO) ::close(null_fd);
}

// The stop signals stay blocked in every thread (the library's and the client threads inherit the
// mask) and are only let through while the main loop waits in ppoll(), so they interrupt that wait
// at once. Returns the mask to wait with.
sigset_t install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals, wait_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, &wait_mask);
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGINT);
  sigdelset(&wait_mask, SIGHUP);
  return wait_mask;
}

// Claims the lowest free controller name by locking its lock file.
Result<std::string> claim_name(LockFile* lock) {
  for (unsigned n = 0; n < kMaxControllers; ++n) {
    std::string name = controller_name(n);
    std::string error;
    switch (lock->try_lock(control_lock_path(name), &error)) {
      case LockFile::Outcome::kLocked:
        lock->write_pid();
        return name;
      case LockFile::Outcome::kBusy:
        continue;
      case LockFile::Outcome::kError:
        return Status::error(error);
    }
  }
  return Status::error("all " + std::to_string(kMaxControllers) + " controller names are in use");
}

// Guards against the reclaim deadlock of a block device served from userspace: when the kernel
// writes back dirty pages of a file system on our device (or on a loop over our FUSE file) to free
// memory, the agent must not itself wait for that memory. PR_SET_IO_FLUSHER makes this thread and
// every thread started afterwards allocate as the block layer does (no I/O from reclaim); it is
// per task, so it runs before the host library and the frontend start their threads. mlockall
// keeps the agent's pages out of swap; MCL_ONFAULT so that thread stacks are locked as they are
// used rather than populated whole. The I/O buffers are preallocated by the frontend.
void guard_against_reclaim_deadlock(const std::string& name) {
  if (::prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0)
    syslog(LOG_WARNING, "%s: PR_SET_IO_FLUSHER refused (%s; needs CAP_SYS_RESOURCE): memory pressure can stall I/O",
           name.c_str(), std::strerror(errno));
  if (::mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0)
    syslog(LOG_WARNING, "%s: mlockall refused (%s): the agent may be swapped out", name.c_str(), std::strerror(errno));
}

FrontendSummary summarize(const Frontend* frontend) {
  FrontendSummary s;
  if (!frontend) return s;
  s.kind = frontend_kind_name(frontend->kind());
  for (const auto& d : frontend->devices()) s.nodes.emplace_back(d.nsid, d.path);
  return s;
}

// The agent proper; runs in the detached grandchild and never returns.
[[noreturn]] void run_agent(const ConnectOptions& options, const AgentFrontendOptions& frontend_options,
                            int status_fd) {
  detach_stdio();
  if (::chdir("/") != 0) {
    // Staying in the old directory is harmless; it only pins a mount.
  }
  const sigset_t wait_mask = install_signal_handlers();
  open_agent_log();  // syslog, or a file when there is no syslog socket
  int pid = static_cast<int>(::getpid());
  write_status_line(status_fd, "PID " + std::to_string(pid));
  auto fail = [&](const std::string& message) {
    write_status_line(status_fd, "ERR " + message);
    ::close(status_fd);
    ::_exit(1);
  };

  LockFile lock;
  auto name = claim_name(&lock);
  if (!name) fail(name.status().message());

  const FrontendKind frontend_kind = resolve_frontend_kind(frontend_options.kind);
  if (frontend_kind != FrontendKind::kNone) guard_against_reclaim_deadlock(*name);

  auto connected = HostController::connect(options);
  if (!connected) {
    lock.release(true);
    fail(connected.status().message());
  }
  std::unique_ptr<HostController> hc = std::move(connected).value();
  const std::string sock_path = control_socket_path(*name), json_path = control_json_path(*name);

  FrontendOptions fo;
  fo.name = *name;
  fo.mountpoint = frontend_options.mountpoint.empty() ? run_dir() + "/fuse/" + *name : frontend_options.mountpoint;
  fo.queues = hc->io_queue_count();
  // The queue size the target granted (it may cap the one asked for): the frontend never has
  // more requests out than the host library can send at once, so none waits in a list.
  fo.queue_depth = options.queue_size;
  for (const QueueStats& q : hc->stats())
    if (q.qid != 0 && q.size != 0) fo.queue_depth = std::min<uint16_t>(fo.queue_depth, q.size);
  auto started = start_frontend(frontend_kind, hc.get(), fo);
  if (!started) {
    hc->disconnect();
    lock.release(true);
    fail(started.status().message());
  }
  std::unique_ptr<Frontend> frontend = std::move(started).value();
  const FrontendSummary frontend_summary = summarize(frontend.get());

  AgentService::Params sp;
  sp.hc = hc.get();
  sp.name = *name;
  sp.pid = pid;
  sp.ethertype = options.ethertype;
  sp.frontend = frontend_summary;
  sp.socket_path = sock_path;
  sp.info_path = json_path;
  sp.alive_poll = kAgentAlivePoll;
  auto service = AgentService::start(std::move(sp));
  if (!service) {
    if (frontend) frontend->stop();
    hc->disconnect();
    lock.release(true);
    fail(service.status().message());
  }
  ControllerModel model = controller_model(*hc, *name, pid, options.ethertype, frontend_summary);
  syslog(LOG_INFO, "%s: connected to %s at %s via %s (link %s, cntlid %u, frontend %s)", name->c_str(),
         options.subnqn.c_str(), options.target_mac.c_str(), options.host_iface.c_str(), model.link.c_str(),
         model.cntlid, model.frontend.c_str());
  write_status_line(status_fd, "OK " + *name);
  ::close(status_fd);

  AgentService::End end = (*service)->run([] { return g_stop_signal != 0; }, &wait_mask);
  const char* reason = agent_end_name(end);
  if (end == AgentService::End::kAssociationLost)
    syslog(LOG_ERR, "%s: association with %s at %s lost; exiting", name->c_str(), options.subnqn.c_str(),
           options.target_mac.c_str());

  // Files first, so no new client finds a socket that is about to go away.
  (*service)->close_files();
  // The devices go before the controller: I/O still in flight then completes or fails with EIO,
  // and nothing is left mounted on a controller that no longer exists.
  if (frontend) frontend->stop();
  // Disconnect before joining the client threads: it fails commands held for a reconnect, which
  // a client thread may be blocked on.
  hc->disconnect();
  (*service)->stop_clients();
  service->reset();
  frontend.reset();
  hc.reset();
  syslog(LOG_INFO, "%s: disconnected (%s)", name->c_str(), reason);
  lock.release(true);
  ::_exit(0);
}

}  // namespace

int start_agent(const ConnectOptions& options, const AgentFrontendOptions& frontend,
                std::chrono::milliseconds wait_limit, std::string* name) {
  if (Status s = ensure_run_dir(run_dir()); !s) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("pipe");
    return 1;
  }
  std::fflush(nullptr);  // nothing buffered may be written twice by the children
  pid_t child = ::fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    ::close(fds[0]);
    ::setsid();
    pid_t agent = ::fork();
    if (agent != 0) ::_exit(agent < 0 ? 1 : 0);  // the agent is reparented to init: no zombie
    run_agent(options, frontend, fds[1]);
  }
  ::close(fds[1]);
  int wstatus = 0;
  while (::waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
  }

  std::string pending;
  int agent_pid = 0;
  auto deadline = std::chrono::steady_clock::now() + wait_limit;
  while (true) {
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line.compare(0, 4, "PID ") == 0) {
        agent_pid = std::atoi(line.c_str() + 4);
      } else if (line.compare(0, 3, "OK ") == 0) {
        ::close(fds[0]);
        if (name)
          *name = line.substr(3);
        else
          std::printf("%s\n", line.c_str() + 3);
        return 0;
      } else if (line.compare(0, 4, "ERR ") == 0) {
        ::close(fds[0]);
        std::fprintf(stderr, "failed to connect: %s\n", line.c_str() + 4);
        return 1;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::close(fds[0]);
      if (agent_pid > 0) ::kill(agent_pid, SIGTERM);
      std::fprintf(stderr, "failed to connect: no answer from the agent within %lld ms\n",
                   static_cast<long long>(wait_limit.count()));
      return 1;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[512];
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fds[0]);
      std::fprintf(stderr, "failed to connect: the agent exited without reporting\n");
      return 1;
    }
    pending.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace nvmeoe::cli
