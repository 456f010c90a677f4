#include "daemon/control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace havip {

namespace {

std::string errno_text(int e) { return std::strerror(e); }

tl::expected<sockaddr_un, std::string> address(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa.sun_path))
    return tl::unexpected(fmt::format("{}: not a usable socket path", path));
  std::memcpy(sa.sun_path, path.data(), path.size());
  return sa;
}

tl::expected<gid_t, std::string> group_id(const std::string& name) {
  std::vector<char> buf(16384);
  group g{};
  group* found = nullptr;
  int r = ::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found);
  if (r != 0) return tl::unexpected(fmt::format("cannot look up group {}: {}", name, errno_text(r)));
  if (!found) return tl::unexpected(fmt::format("group {} does not exist", name));
  return found->gr_gid;
}

// A socket file left by a havipd that died is removed; a live socket (another
// havipd) or anything else (a file, a symlink) is an error, never removed.
tl::expected<void, std::string> clear_stale(const std::string& path, const sockaddr_un& sa) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return tl::unexpected(fmt::format("{}: {}", path, errno_text(errno)));
  }
  if (!S_ISSOCK(st.st_mode))
    return tl::unexpected(fmt::format("{} exists and is not a socket; not replacing it", path));
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return tl::unexpected(fmt::format("socket: {}", errno_text(errno)));
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0)
    return tl::unexpected(fmt::format("{}: another havipd is listening there", path));
  if (errno != ECONNREFUSED)
    return tl::unexpected(fmt::format("{}: cannot tell whether it is in use: {}", path,
                                      errno_text(errno)));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return tl::unexpected(fmt::format("cannot remove the stale {}: {}", path, errno_text(errno)));
  return {};
}

// Root and havipd's own user: reload is theirs, and so are the connection
// slots no group member can take.
bool privileged(uid_t uid) { return uid == 0 || uid == ::geteuid(); }

}  // namespace

ControlServer::Client::~Client() { sd_event_source_disable_unref(source); }

ControlServer::ControlServer(sd_event* loop, Handlers handlers, ControlTimeouts timeouts)
    : loop_(loop), handlers_(std::move(handlers)), timeouts_(timeouts) {
  // Accuracy 10 ms (sd-event's default coalesces up to 250 ms): cheap, it
  // wakes at most once per deadline.
  sd_event_add_time(loop_, &timer_, CLOCK_MONOTONIC, 0, 10'000, on_timer, this);
  sd_event_source_set_enabled(timer_, SD_EVENT_OFF);
}

ControlServer::~ControlServer() {
  close();
  sd_event_source_disable_unref(timer_);
}

tl::expected<void, std::string> ControlServer::listen(const std::string& path,
                                                      const std::string& group) {
  close();
  auto sa = address(path);
  if (!sa) return tl::unexpected(sa.error());
  std::optional<gid_t> gid;
  if (!group.empty()) {
    auto g = group_id(group);
    if (!g) return tl::unexpected(g.error());
    gid = *g;
  }
  // The directory is systemd's RuntimeDirectory; started by hand, havipd
  // makes its last component itself (as radvd's run_dir).
  std::string dir = path.substr(0, std::max<std::size_t>(path.rfind('/'), 1));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return tl::unexpected(fmt::format("cannot create {}: {}", dir, errno_text(errno)));
  if (auto ok = clear_stale(path, *sa); !ok) return ok;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return tl::unexpected(fmt::format("socket: {}", errno_text(errno)));
  // The socket is created with mode 0660 (never briefly wider): umask for
  // bind, then back. Only the loop thread creates files.
  mode_t old = ::umask(0117);
  int r = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof(*sa));
  int bind_errno = errno;
  ::umask(old);
  if (r != 0) return tl::unexpected(fmt::format("cannot bind {}: {}", path, errno_text(bind_errno)));
  auto fail = [&](std::string what) -> tl::expected<void, std::string> {
    ::unlink(path.c_str());
    return tl::unexpected(std::move(what));
  };
  if (gid && ::fchownat(AT_FDCWD, path.c_str(), static_cast<uid_t>(-1), *gid,
                        AT_SYMLINK_NOFOLLOW) != 0)
    return fail(fmt::format("cannot give {} to group {}: {}", path, group, errno_text(errno)));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return fail(fmt::format("{}: {}", path, errno_text(errno)));
  if (::listen(fd.get(), 64) != 0)
    return fail(fmt::format("cannot listen on {}: {}", path, errno_text(errno)));
  r = sd_event_add_io(loop_, &listen_source_, fd.get(), EPOLLIN, on_accept, this);
  if (r < 0) return fail(fmt::format("cannot watch {}: {}", path, errno_text(-r)));
  listen_fd_ = std::move(fd);
  path_ = path;
  group_ = group;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  return {};
}

void ControlServer::close() {
  clients_.clear();
  rearm();
  sd_event_source_disable_unref(listen_source_);
  listen_source_ = nullptr;
  if (listen_fd_) {
    // Only our own socket: a newer havipd may have replaced it meanwhile.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
      ::unlink(path_.c_str());
    listen_fd_.reset();
  }
}

std::size_t ControlServer::watchers() const {
  std::size_t n = 0;
  for (const auto& [id, c] : clients_) n += c->watching ? 1 : 0;
  return n;
}

void ControlServer::broadcast(const std::string& line) {
  std::vector<std::uint64_t> gone;
  for (auto& [id, c] : clients_) {
    if (!c->watching) continue;
    if (!send(*c, line)) gone.push_back(id);
  }
  for (auto id : gone) drop(id);
  rearm();
}

int ControlServer::on_accept(sd_event_source*, int, std::uint32_t, void* self) {
  static_cast<ControlServer*>(self)->accept_some();
  return 0;
}

std::string ControlServer::refusal(const Peer& peer) const {
  if (clients_.size() >= kMaxClients)
    return fmt::format("too many havipctl clients connected (at most {})", kMaxClients);
  if (privileged(peer.uid)) return {};
  std::size_t same = 0, others = 0;
  for (const auto& [id, c] : clients_) {
    if (privileged(c->peer.uid)) continue;
    ++others;
    same += c->peer.uid == peer.uid ? 1 : 0;
  }
  if (same >= kMaxClientsPerUid)
    return fmt::format("too many havipctl clients connected as uid {} (at most {} per user)",
                       peer.uid, kMaxClientsPerUid);
  if (others >= kMaxClients - kReservedClients)
    return fmt::format("too many havipctl clients connected (the last {} connections are kept "
                       "for root)",
                       kReservedClients);
  return {};
}

// The listening socket is level-triggered: connections left after this
// batch wake the loop again once the other sources had their turn.
void ControlServer::accept_some() {
  for (std::size_t i = 0; i < kAcceptsPerDispatch; ++i) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN)
        spdlog::warn("control socket {}: accept: {}", path_, errno_text(errno));
      break;
    }
    auto c = std::make_unique<Client>();
    c->server = this;
    c->id = next_id_++;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
      c->peer = {cred.pid, cred.uid, cred.gid};
    else
      c->peer = {0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};  // trusted with nothing
    c->fd = std::move(fd);
    if (std::string why = refusal(c->peer); !why.empty()) {
      warn_limited(fmt::format("control socket {}: refusing pid {} (uid {}): {}", path_,
                               c->peer.pid, c->peer.uid, why));
      std::string line = ctl::error_line(why);
      [[maybe_unused]] auto n = ::send(c->fd.get(), line.data(), line.size(),
                                       MSG_NOSIGNAL | MSG_DONTWAIT);
      continue;
    }
    int r = sd_event_add_io(loop_, &c->source, c->fd.get(), EPOLLIN, on_client, c.get());
    if (r < 0) {
      spdlog::warn("control socket {}: cannot watch a client: {}", path_, errno_text(-r));
      continue;
    }
    c->idle_since = now();
    clients_.emplace(c->id, std::move(c));
  }
  rearm();
}

int ControlServer::on_client(sd_event_source*, int, std::uint32_t revents, void* userdata) {
  auto* c = static_cast<Client*>(userdata);
  ControlServer* server = c->server;
  server->serve(*c, revents);
  server->rearm();
  return 0;
}

void ControlServer::serve(Client& c, std::uint32_t revents) {
  std::uint64_t id = c.id;
  if ((revents & EPOLLOUT) && !flush(c)) return drop(id);
  if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !receive(c)) return drop(id);
  if (!answer(c)) return drop(id);
  if (clients_.find(id) == clients_.end()) return;  // dropped while answering
  if (c.closing && c.out.empty()) return drop(id);
  watch_events(c);
}

bool ControlServer::receive(Client& c) {
  std::array<char, 4096> buf;
  std::size_t got = 0;
  while (got < kReadPerDispatch) {
    // Requests already read are answered first (and their answers taken)
    // before more is read: a client cannot queue up work.
    if (!c.watching && !c.closing && c.in.find('\n') != std::string::npos) break;
    ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return false;  // closed (or reset) by the client
    got += static_cast<std::size_t>(n);
    if (c.watching || c.closing) continue;  // nothing more is read from a watcher
    c.in.append(buf.data(), static_cast<std::size_t>(n));
    if (c.in.find('\n') == std::string::npos && c.in.size() > ctl::kMaxRequest) {
      c.in.clear();
      c.closing = true;
      return send(c, ctl::error_line(fmt::format("request longer than {} bytes", ctl::kMaxRequest)));
    }
  }
  return true;
}

bool ControlServer::answer(Client& c) {
  for (std::size_t i = 0; i < kRequestsPerDispatch; ++i) {
    if (c.watching || c.closing || !c.out.empty()) return true;
    std::size_t nl = c.in.find('\n');
    if (nl == std::string::npos) return true;
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    c.idle_since = now();
    if (!handle(c, line)) return false;
  }
  return true;
}

bool ControlServer::handle(Client& c, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto req = ctl::parse_request(line);
  if (!req) return send(c, ctl::error_line(req.error()));
  switch (req->command) {
    case ctl::Command::status:
      return send(c, ctl::to_line({{"ok", true}, {"status", handlers_.status()}}));
    case ctl::Command::metrics:
      return send(c, ctl::to_line({{"ok", true}, {"metrics", handlers_.metrics()}}));
    case ctl::Command::watch:
      c.watching = true;
      c.in.clear();
      return send(c, ctl::to_line({{"ok", true}, {"watching", true}}));
    case ctl::Command::reload:
      if (!privileged(c.peer.uid)) {
        spdlog::warn("control socket: reload refused to uid {} (pid {})", c.peer.uid, c.peer.pid);
        return send(c, ctl::error_line("permission denied: reload needs root (or havipd's user)"));
      }
      spdlog::info("control socket: reload asked by uid {} (pid {})", c.peer.uid, c.peer.pid);
      return send(c, ctl::to_line(handlers_.reload()));
    case ctl::Command::drain:
    case ctl::Command::undrain: {
      auto name = ctl::command_name(req->command);
      if (!privileged(c.peer.uid)) {
        spdlog::warn("control socket: {} refused to uid {} (pid {})", name, c.peer.uid, c.peer.pid);
        return send(c, ctl::error_line(fmt::format(
                           "permission denied: {} needs root (or havipd's user)", name)));
      }
      spdlog::info("control socket: {} asked by uid {} (pid {})", name, c.peer.uid, c.peer.pid);
      if (!handlers_.drain) return send(c, ctl::error_line(fmt::format("{} is not served", name)));
      return send(c,
                  ctl::to_line(handlers_.drain(req->command == ctl::Command::drain, req->routers)));
    }
  }
  return true;
}

bool ControlServer::send(Client& c, const std::string& line) {
  c.out += line;
  return flush(c);
}

bool ControlServer::flush(Client& c) {
  std::size_t done = 0;
  while (done < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + done, c.out.size() - done,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) return false;  // EPIPE, ECONNRESET: the client is gone
    done += static_cast<std::size_t>(n);
  }
  c.out.erase(0, done);
  if (c.out.size() > kMaxPending) {
    warn_limited(fmt::format("control socket: dropping a client (pid {}) that stopped reading "
                             "({} bytes unsent)",
                             c.peer.pid, c.out.size()));
    return false;
  }
  watch_events(c);
  return true;
}

void ControlServer::watch_events(Client& c) {
  bool queued = !c.watching && !c.closing && c.in.find('\n') != std::string::npos;
  // A request left for the next dispatch (kRequestsPerDispatch) is answered
  // once the socket can take it: EPOLLOUT is that wake-up.
  // Either waits for the client to take what it was sent (a unix socket is
  // writable again only once it is 3/4 empty): that is the send timeout's.
  bool waiting = !c.out.empty() || queued;
  if (waiting && c.unsent_since == 0) c.unsent_since = now();
  if (!waiting && c.unsent_since != 0) {
    c.unsent_since = 0;
    c.idle_since = now();  // answered: its idle time starts now
  }
  std::uint32_t events = 0;
  if (waiting) events |= EPOLLOUT;
  if (c.watching || (!c.closing && c.out.empty() && !queued)) events |= EPOLLIN;
  sd_event_source_set_io_events(c.source, events);
}

std::uint64_t ControlServer::deadline(const Client& c) const {
  auto us = [](std::chrono::milliseconds d) {
    return static_cast<std::uint64_t>(std::chrono::microseconds(d).count());
  };
  if (c.unsent_since != 0) return c.unsent_since + us(timeouts_.send);
  if (c.watching) return 0;
  return c.idle_since + us(timeouts_.idle);
}

int ControlServer::on_timer(sd_event_source*, std::uint64_t, void* self) {
  auto* server = static_cast<ControlServer*>(self);
  server->expire();
  server->rearm();
  return 0;
}

void ControlServer::expire() {
  std::uint64_t t = now();
  std::vector<std::uint64_t> gone;
  for (const auto& [id, c] : clients_) {
    std::uint64_t due = deadline(*c);
    if (due == 0 || due > t) continue;
    warn_limited(fmt::format(
        "control socket: dropping a client (pid {}, uid {}) that {}", c->peer.pid, c->peer.uid,
        c->unsent_since == 0
            ? fmt::format("sent no request for {} ms", timeouts_.idle.count())
            : fmt::format("has not read its answers for {} ms ({} bytes unsent)",
                          timeouts_.send.count(), c->out.size())));
    gone.push_back(id);
  }
  for (auto id : gone) drop(id);
}

void ControlServer::rearm() {
  if (!timer_) return;
  std::uint64_t first = 0;
  for (const auto& [id, c] : clients_)
    if (std::uint64_t due = deadline(*c); due != 0 && (first == 0 || due < first)) first = due;
  if (first == 0) {
    sd_event_source_set_enabled(timer_, SD_EVENT_OFF);
    return;
  }
  sd_event_source_set_time(timer_, first);
  sd_event_source_set_enabled(timer_, SD_EVENT_ONESHOT);
}

std::uint64_t ControlServer::now() const {
  std::uint64_t t = 0;
  sd_event_now(loop_, CLOCK_MONOTONIC, &t);
  return t;
}

void ControlServer::warn_limited(const std::string& message) {
  std::uint64_t t = now();
  if (last_warning_ != 0 && t - last_warning_ < 1'000'000) {
    ++unlogged_warnings_;
    return;
  }
  if (unlogged_warnings_)
    spdlog::warn("{} ({} similar warnings in the last second not shown)", message,
                 unlogged_warnings_);
  else
    spdlog::warn("{}", message);
  last_warning_ = t;
  unlogged_warnings_ = 0;
}

void ControlServer::drop(std::uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  clients_.erase(it);
}

}  // namespace havip
