// The control socket havipctl talks to (protocol: ctl/protocol.h).
//
// A unix stream socket, mode 0660, owned by havipd's user and the configured
// group: only root and that group can connect at all. Reading commands
// (status, metrics, watch) are open to whoever can connect; reload, drain and
// undrain also need the peer to be root or havipd's own user (SO_PEERCRED).
//
// Everything is non-blocking on the daemon's loop, and no client can take
// the socket away from root (docs/SECURITY.md, "The control socket"):
// * connections are counted per uid (SO_PEERCRED): a member of the group
//   holds at most kMaxClientsPerUid, all of them together at most
//   kMaxClients - kReservedClients; the rest are kept for root and havipd's
//   own user;
// * a client that sends no complete request within its idle timeout is
//   dropped (a `watch` client is not idle: it asked for a stream);
// * a client that has not taken its whole answer (or a watcher its backlog)
//   within the send timeout, or lets more than kMaxPending pile up, is
//   dropped; no further request of a client is read while its answer is
//   unsent, so one client holds at most one answer;
// * every handler does a bounded amount of work per wake-up, then returns to
//   the loop: kAcceptsPerDispatch connections, kReadPerDispatch bytes and
//   kRequestsPerDispatch requests per client.
#pragma once

#include <sys/types.h>

#include <chrono>
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

// The two timeouts (ControlServer::kIdleTimeout, kSendTimeout); the unit
// tests shorten them.
struct ControlTimeouts {
  std::chrono::milliseconds idle{5000};
  std::chrono::milliseconds send{10000};
};

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
    // drain (true) or undrain (false) these routers (none: all); the whole answer.
    std::function<nlohmann::ordered_json(bool, const std::vector<std::string>&)> drain;
  };

  // Connections at once, all users together.
  static constexpr std::size_t kMaxClients = 64;
  // Connections of one uid other than root's and havipd's own: a script
  // polling status plus a few `watch`es, with room to spare.
  static constexpr std::size_t kMaxClientsPerUid = 8;
  // Slots only root and havipd's user get: the group's members together hold
  // at most kMaxClients - kReservedClients (48), so root's havipctl always
  // finds a free slot however many uids of the group connect.
  static constexpr std::size_t kReservedClients = 16;
  // havipctl sends its request as soon as it is connected; 5 s is ample for
  // a loaded machine and frees an idle connection quickly.
  static constexpr std::chrono::milliseconds kIdleTimeout = ControlTimeouts{}.idle;
  // havipctl reads at memory speed (the largest answer for 10,000 routers,
  // 49 MB, in well under a second); 10 s is also havipctl's default --timeout.
  static constexpr std::chrono::milliseconds kSendTimeout = ControlTimeouts{}.send;
  // Bytes queued for one client: its one answer, or a watcher's backlog; as
  // long as the longest answer havipctl reads (sized there, from
  // tests/unit/answer_size_test.cc).
  static constexpr std::size_t kMaxPending = ctl::kMaxAnswer;
  // Work per wake-up of the loop, then the other sources get their turn.
  static constexpr std::size_t kAcceptsPerDispatch = 16;
  static constexpr std::size_t kReadPerDispatch = 64 << 10;  // bytes from one client
  static constexpr std::size_t kRequestsPerDispatch = 4;     // answered for one client

  ControlServer(sd_event* loop, Handlers handlers, ControlTimeouts timeouts = {});
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
    std::uint64_t idle_since = 0;    // CLOCK_MONOTONIC µs: connected, or last answered
    std::uint64_t unsent_since = 0;  // since when `out` has not been empty (0: it is)
    ~Client();
  };

  static int on_accept(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  static int on_client(sd_event_source* s, int fd, std::uint32_t revents, void* userdata);
  static int on_timer(sd_event_source* s, std::uint64_t usec, void* self);
  void accept_some();
  // Why `peer` may not connect now; "" when it may.
  std::string refusal(const Peer& peer) const;
  void serve(Client& c, std::uint32_t revents);
  // Reads at most kReadPerDispatch bytes; false when the client is gone.
  bool receive(Client& c);
  // Answers at most kRequestsPerDispatch complete requests; false: drop it.
  bool answer(Client& c);
  bool handle(Client& c, std::string_view line);
  // Queues and writes what it can; false when the client must be dropped.
  bool send(Client& c, const std::string& line);
  bool flush(Client& c);
  // The events wanted from the client's socket, from what it is waiting for.
  void watch_events(Client& c);
  std::uint64_t deadline(const Client& c) const;  // 0: none
  void expire();
  void rearm();
  std::uint64_t now() const;
  void drop(std::uint64_t id);
  // At most one warning a second: a client looping on connect must not
  // flood the journal.
  void warn_limited(const std::string& message);

  sd_event* loop_;
  Handlers handlers_;
  ControlTimeouts timeouts_;
  UniqueFd listen_fd_;
  sd_event_source* listen_source_ = nullptr;
  sd_event_source* timer_ = nullptr;  // the earliest client deadline
  std::uint64_t last_warning_ = 0;
  std::uint64_t unlogged_warnings_ = 0;
  std::string path_, group_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Client>> clients_;
};

}  // namespace havip
