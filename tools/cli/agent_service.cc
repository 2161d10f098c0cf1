#include "cli/agent_service.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/control.h"
#include "common/unix_stream.h"

namespace nvmeoe::cli {

// Serves each client connection on its own thread, so an idle or slow client never holds up
// another (the library accepts submissions from any thread).
class AgentService::ClientPool {
 public:
  static constexpr size_t kMaxClients = 64;

  ClientPool(HostController* hc, std::string name, int pid, uint16_t ethertype, FrontendSummary frontend, int wake_fd)
      : hc_(hc),
        name_(std::move(name)),
        pid_(pid),
        ethertype_(ethertype),
        frontend_(std::move(frontend)),
        wake_fd_(wake_fd) {}
  ~ClientPool() { stop(); }

  // Takes ownership of the connected socket `fd`.
  void add(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    if (clients_.size() >= kMaxClients) {
      syslog(LOG_WARNING, "%s: too many control connections; refusing one", name_.c_str());
      ::close(fd);
      return;
    }
    auto client = std::make_unique<Client>();
    Client* c = client.get();
    c->fd = fd;
    clients_.push_back(std::move(client));
    c->thread = std::thread([this, c] { serve(c); });
  }

  // Joins the threads of closed connections.
  void reap() {
    std::list<std::unique_ptr<Client>> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = clients_.begin(); it != clients_.end();) {
        if ((*it)->done) {
          finished.push_back(std::move(*it));
          it = clients_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& c : finished) c->thread.join();
  }

  // Ends every open connection and joins all threads.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& c : clients_)
        if (!c->done) ::shutdown(c->fd, SHUT_RDWR);
    }
    for (auto& c : clients_) c->thread.join();
    clients_.clear();
  }

  bool disconnect_requested() const { return disconnect_.load(); }

 private:
  struct Client {
    int fd = -1;
    std::thread thread;
    bool done = false;  // guarded by mu_; once set, only the client's own thread touches fd
  };

  void serve(Client* c) {
    ControlStream stream(c->fd);  // closes fd when this function returns, after `done` is set
    stream.set_timeout(std::chrono::seconds(60));
    AgentServer server(hc_, name_, pid_, ethertype_, frontend_);
    if (server.serve_connection(stream)) {
      disconnect_ = true;
      uint64_t one = 1;
      if (::write(wake_fd_, &one, sizeof one) < 0) {
        // The main loop also polls the flag every kAgentAlivePoll.
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    c->done = true;
  }

  HostController* hc_;
  std::string name_;
  int pid_;
  uint16_t ethertype_;
  FrontendSummary frontend_;
  int wake_fd_;
  std::mutex mu_;
  std::list<std::unique_ptr<Client>> clients_;
  std::atomic<bool> disconnect_{false};
};

Status write_info_file(const std::string& path, const ControllerModel& m, const std::string& socket_path) {
  nlohmann::json j = {{"name", m.name},           {"pid", m.pid},           {"target_mac", m.target_mac},
                      {"subnqn", m.subnqn},       {"hostnqn", m.hostnqn},   {"iface", m.iface},
                      {"ethertype", m.ethertype}, {"frontend", m.frontend}, {"socket", socket_path}};
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    // Texts from the target are checked at connect; should one still not be UTF-8, it is
    // replaced rather than thrown on (an exception here would end the agent).
    out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    if (!out) return Status::error("cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::from_errno(errno, "renaming " + tmp);
  return Status::ok();
}

Result<std::unique_ptr<AgentService>> AgentService::start(Params params) {
  auto listen_fd = listen_unix(params.socket_path, 16);
  if (!listen_fd) return listen_fd.status();
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    int err = errno;
    ::close(*listen_fd);
    ::unlink(params.socket_path.c_str());
    return Status::from_errno(err, "eventfd");
  }
  ControllerModel model = controller_model(*params.hc, params.name, params.pid, params.ethertype, params.frontend);
  if (Status s = write_info_file(params.info_path, model, params.socket_path); !s)
    syslog(LOG_WARNING, "%s", s.message().c_str());
  return std::unique_ptr<AgentService>(new AgentService(std::move(params), *listen_fd, wake_fd));
}

AgentService::AgentService(Params params, int listen_fd, int wake_fd)
    : p_(std::move(params)), listen_fd_(listen_fd), wake_fd_(wake_fd) {
  clients_ = std::make_unique<ClientPool>(p_.hc, p_.name, p_.pid, p_.ethertype, p_.frontend, wake_fd_);
}

AgentService::~AgentService() {
  close_files();
  stop_clients();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void AgentService::request_stop() {
  stop_ = true;
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

AgentService::End AgentService::run(const std::function<bool()>& stop_requested, const sigset_t* wait_mask) {
  int dead_polls = 0;
  while (!clients_->disconnect_requested()) {
    if (stop_ || (stop_requested && stop_requested())) return End::kStopped;
    if (!p_.hc->alive()) {
      if (++dead_polls >= 2) return End::kAssociationLost;
    } else {
      dead_polls = 0;
    }
    clients_->reap();
    pollfd pfds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    timespec timeout{time_t(p_.alive_poll.count() / 1000), long(p_.alive_poll.count() % 1000) * 1000000L};
    int rc = ::ppoll(pfds, 2, &timeout, wait_mask);
    if (rc > 0 && (pfds[1].revents & POLLIN)) {
      uint64_t v;
      (void)!::read(wake_fd_, &v, sizeof v);
    }
    if (rc <= 0 || !(pfds[0].revents & POLLIN)) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client >= 0) clients_->add(client);
  }
  return End::kDisconnectRequested;
}

void AgentService::close_files() {
  if (listen_fd_ < 0) return;
  ::close(listen_fd_);
  listen_fd_ = -1;
  ::unlink(p_.socket_path.c_str());
  ::unlink(p_.info_path.c_str());
}

void AgentService::stop_clients() {
  if (clients_) clients_->stop();
}

const char* agent_end_name(AgentService::End e) {
  switch (e) {
    case AgentService::End::kDisconnectRequested:
      return "disconnect requested";
    case AgentService::End::kStopped:
      return "stopped by signal";
    case AgentService::End::kAssociationLost:
      return "association lost";
  }
  return "?";
}

}  // namespace nvmeoe::cli
