// The serving part of a controller's agent, apart from its process plumbing (agent.h: fork,
// detach, signals, the name's lock, the frontend): the control socket of one connected
// HostController, a thread per client connection (AgentServer, agent_server.h), the info file,
// and the loop that ends on a disconnect request, a stop, or the loss of the association. Tests
// run it over a memory link.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "cli/agent_server.h"
#include "common/status.h"
#include "nvmeoe/host.h"

namespace nvmeoe::cli {

// Writes the controller's static facts (name, pid, MACs, NQNs, interface, frontend, socket) to
// `path` through a temporary file and a rename, so a reader sees the old file or the new one.
Status write_info_file(const std::string& path, const ControllerModel& m, const std::string& socket_path);

class AgentService {
 public:
  struct Params {
    HostController* hc = nullptr;  // connected; outlives the service
    std::string name;              // "nvmeoe<N>"
    int pid = 0;
    uint16_t ethertype = 0;
    FrontendSummary frontend;
    std::string socket_path, info_path;
    std::chrono::milliseconds alive_poll{500};  // how often alive() is checked; two failures end it
  };
  enum class End { kDisconnectRequested, kStopped, kAssociationLost };

  // Listens on the socket (mode 0600) and writes the info file (a failure to write it is logged,
  // not fatal).
  static Result<std::unique_ptr<AgentService>> start(Params params);
  ~AgentService();  // close_files() and stop_clients(), if not done yet
  AgentService(const AgentService&) = delete;
  AgentService& operator=(const AgentService&) = delete;

  // Serves until a client asks to disconnect, `stop_requested()` turns true or request_stop() is
  // called, or the association is lost. `wait_mask`, when given, is the signal mask while waiting
  // (ppoll): the stop signals interrupt the wait at once.
  End run(const std::function<bool()>& stop_requested, const sigset_t* wait_mask = nullptr);
  // From any thread.
  void request_stop();

  // The teardown, in this order around the caller's own: the files go first (no new client finds
  // a socket about to go away); the client threads are joined last, after the controller was
  // disconnected (which fails commands a client thread may be blocked on).
  void close_files();
  void stop_clients();

 private:
  class ClientPool;
  explicit AgentService(Params params, int listen_fd, int wake_fd);

  Params p_;
  int listen_fd_ = -1, wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::unique_ptr<ClientPool> clients_;
};

const char* agent_end_name(AgentService::End e);

}  // namespace nvmeoe::cli
