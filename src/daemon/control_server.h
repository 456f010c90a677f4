// The control socket havipctl talks to (protocol: ctl/protocol.h).
//
// A unix stream socket, mode 0660, owned by havipd's user and the configured
// group: only root and that group can connect at all. Reading commands
// (status, metrics, watch) are open to whoever can connect; reload also needs
// the peer to be root or havipd's own user (SO_PEERCRED).
//
// Everything is non-blocking on the daemon's loop. A client that does not
// read (a stuck `havipctl watch`) is dropped once its unsent output passes
// kMaxPending, so it can neither stall the loop nor grow the heap unbounded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "core/unique_fd.h"
#include "ctl/protocol.h"

struct sd_event;
struct sd_event_source;

namespace havip {

class ControlServer {
 public:
  struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
  };
  struct Handlers {
    std::function<nlohmann::ordered_json()> status;
    std::function<std::string()> metrics;
    std::function<nlohmann::ordered_json()> reload;  // the whole answer
  };

  static constexpr std::size_t kMaxClients = 64;
  static constexpr std::size_t kMaxPending = 4 << 20;  // bytes queued for one client

  ControlServer(sd_event* loop, Handlers handlers);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds `path` (replacing a stale socket left by a dead havipd, never a
  // live one or anything that is not a socket) and listens. `group`: the
  // group owning the socket, "" for havipd's own.
  tl::expected<void, std::string> listen(const std::string& path, const std::string& group);
  // Stops listening, removes the socket file (if still ours), drops clients.
  void close();
  const std::string& path() const { return path_; }
  const std::string& group() const { return group_; }
  bool listening() const { return listen_fd_.get() >= 0; }

  // Sends one line to every `watch` client.
  void broadcast(const std::string& line);
  std::size_t clients() const { return clients_.size(); }
  std::size_t watchers() const;

 private:
  struct Client {
    ControlServer* server;
    std::uint64_t id;
    UniqueFd fd;
    Peer peer;
    sd_event_source* source = nullptr;
    std::string in, out;
    bool watching = false;
    bool closing = false;  // close once `out` is written
    ~Client();
  };

  static int on_accept(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  static int on_client(sd_event_source* s, int fd, std::uint32_t revents, void* userdata);
  void accept_all();
  void serve(Client& c, std::uint32_t revents);
  void handle(Client& c, std::string_view line);
  void send(Client& c, const std::string& line);
  // Writes what it can; false when the client is gone.
  bool flush(Client& c);
  void drop(std::uint64_t id);

  sd_event* loop_;
  Handlers handlers_;
  UniqueFd listen_fd_;
  sd_event_source* listen_source_ = nullptr;
  std::string path_, group_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Client>> clients_;
};

}  // namespace havip
