// The control socket server on a real sd-event loop and real unix sockets
// (no root needed, but for the per-uid limits): answers, bad requests,
// access, slow and idle clients, the per-uid limits, the work per wake-up.
#include "daemon/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace havip {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::ordered_json;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/havip-ctl-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ctl.sock";
    ASSERT_GE(sd_event_new(&loop_), 0);
    restart({});
  }
  // A new server on the same path, with these timeouts.
  void restart(ControlTimeouts timeouts) {
    server_.reset();
    server_ = std::make_unique<ControlServer>(
        loop_,
        ControlServer::Handlers{[this] {
                                  json j{{"answer", ++status_calls_}};
                                  if (!padding_.empty()) j["padding"] = padding_;
                                  return j;
                                },
                                [] { return std::string("m 1\n"); },
                                [] {
                                  return json{{"ok", true}, {"routers", 0}};
                                },
                                [this](bool on, const std::vector<std::string>& routers) {
                                  drains_.push_back({on, routers});
                                  return json{{"ok", true}, {"routers", routers}};
                                }},
        timeouts);
    auto ok = server_->listen(path_, "");
    ASSERT_TRUE(ok) << ok.error();
  }
  void TearDown() override {
    server_.reset();
    sd_event_unref(loop_);
    std::filesystem::remove_all(dir_);
  }

  UniqueFd connect() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path_.c_str());
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    spin();  // accepted
    return fd;
  }
  void spin(int rounds = 5) {
    for (int i = 0; i < rounds; ++i) sd_event_run(loop_, 1000);
  }
  // Runs the loop for `d` of wall time.
  void spin_for(std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) sd_event_run(loop_, 10'000);
  }
  // One byte carrying one descriptor (SCM_RIGHTS), for sendmsg and recvmsg.
  struct FdMessage {
    char byte = 'x';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    FdMessage() {
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
    }
    FdMessage(const FdMessage&) = delete;
    FdMessage& operator=(const FdMessage&) = delete;
  };
  // `n` connections made by a process running as `uid` (keeping group 0, so
  // it may use the socket): SO_PEERCRED says `uid`. Handed back over
  // SCM_RIGHTS; the process is gone when this returns.
  std::vector<UniqueFd> connect_as(uid_t uid, std::size_t n) {
    ::chmod(dir_.c_str(), 0750);
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(sv[0]);
      if (::setresuid(uid, uid, uid) != 0) ::_exit(1);
      for (std::size_t i = 0; i < n; ++i) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path_.c_str());
        if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) ::_exit(2);
        FdMessage m;
        cmsghdr* cm = CMSG_FIRSTHDR(&m.msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        if (::sendmsg(sv[1], &m.msg, 0) != 1) ::_exit(3);
        ::close(fd);
      }
      ::_exit(0);
    }
    ::close(sv[1]);
    std::vector<UniqueFd> fds;
    for (std::size_t i = 0; i < n; ++i) {
      FdMessage m;
      if (::recvmsg(sv[0], &m.msg, 0) != 1) break;
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m.msg)), sizeof fd);
      fds.emplace_back(fd);
    }
    ::close(sv[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_EQ(fds.size(), n);
    spin();  // accepted (or refused)
    return fds;
  }
  // The connections of `fds` havipd refused: they got the error and EOF.
  static std::size_t refused(const std::vector<UniqueFd>& fds, const std::string& error) {
    std::size_t n = 0;
    for (const auto& fd : fds) {
      bool eof = false;
      std::string got = read_now(fd.get(), &eof);
      if (eof && got.find(error) != std::string::npos) ++n;
    }
    return n;
  }
  static void write_all(int fd, const std::string& s) {
    ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  // Everything readable now ("" once closed and drained; nullopt on EOF).
  static std::string read_now(int fd, bool* eof = nullptr) {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (eof) *eof = n == 0 || (n < 0 && errno == ECONNRESET);
      return out;
    }
  }

  std::string dir_, path_;
  sd_event* loop_ = nullptr;
  std::unique_ptr<ControlServer> server_;
  int status_calls_ = 0;
  std::vector<std::pair<bool, std::vector<std::string>>> drains_;
  std::string padding_;  // makes the status answer as large as wanted
};

TEST_F(ControlServerTest, SocketIsMode0660) {
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

TEST_F(ControlServerTest, AnswersSeveralRequestsOnOneConnectionInOrder) {
  auto fd = connect();
  write_all(fd.get(), "{\"command\":\"status\"}\n{\"command\":\"metrics\"}\r\n");
  spin();
  EXPECT_EQ(read_now(fd.get()),
            "{\"ok\":true,\"status\":{\"answer\":1}}\n{\"ok\":true,\"metrics\":\"m 1\\n\"}\n");
}

TEST_F(ControlServerTest, ARequestSplitAcrossWritesIsAssembled) {
  auto fd = connect();
  write_all(fd.get(), "{\"comm");
  spin();
  EXPECT_EQ(read_now(fd.get()), "");
  write_all(fd.get(), "and\":\"status\"}\n");
  spin();
  EXPECT_THAT(read_now(fd.get()), HasSubstr("\"answer\":1"));
}

TEST_F(ControlServerTest, BadRequestsGetAnErrorAndTheConnectionStays) {
  auto fd = connect();
  write_all(fd.get(), "nonsense\n{\"command\":\"status\"}\n");
  spin();
  std::string got = read_now(fd.get());
  EXPECT_THAT(got, HasSubstr("{\"ok\":false,\"error\":\"request is not valid JSON\"}\n"));
  EXPECT_THAT(got, HasSubstr("\"answer\":1"));
}

TEST_F(ControlServerTest, AnOverlongRequestIsRefusedAndClosed) {
  auto fd = connect();
  write_all(fd.get(), std::string(ctl::kMaxRequest + 10, 'x'));
  spin();
  bool eof = false;
  EXPECT_THAT(read_now(fd.get(), &eof), HasSubstr("request longer than 4096 bytes"));
  spin();
  read_now(fd.get(), &eof);
  EXPECT_TRUE(eof);
  EXPECT_EQ(server_->clients(), 0u);
}

TEST_F(ControlServerTest, WatchersGetBroadcastsOthersDoNot) {
  auto watcher = connect();
  auto other = connect();
  write_all(watcher.get(), "{\"command\":\"watch\"}\n");
  spin();
  EXPECT_EQ(read_now(watcher.get()), "{\"ok\":true,\"watching\":true}\n");
  EXPECT_EQ(server_->watchers(), 1u);
  server_->broadcast("{\"t\":1}\n");
  spin();
  EXPECT_EQ(read_now(watcher.get()), "{\"t\":1}\n");
  EXPECT_EQ(read_now(other.get()), "");
}

TEST_F(ControlServerTest, AWatcherThatStopsReadingIsDropped) {
  auto watcher = connect();
  write_all(watcher.get(), "{\"command\":\"watch\"}\n");
  spin();
  std::string line(1 << 20, 'x');
  line += '\n';
  // The socket buffer fills, then havipd's queue; past kMaxPending it gives up.
  for (std::size_t sent = 0; sent < ControlServer::kMaxPending + (4 << 20); sent += line.size())
    server_->broadcast(line);
  EXPECT_EQ(server_->clients(), 0u);
}

TEST_F(ControlServerTest, ClosedClientsAreForgotten) {
  {
    auto fd = connect();
    write_all(fd.get(), "{\"command\":\"watch\"}\n");
    spin();
    EXPECT_EQ(server_->clients(), 1u);
  }
  spin();
  EXPECT_EQ(server_->clients(), 0u);
  server_->broadcast("x\n");  // nobody left: nothing happens
}

TEST_F(ControlServerTest, ReloadIsAllowedForOurOwnUser) {
  auto fd = connect();
  write_all(fd.get(), "{\"command\":\"reload\"}\n");
  spin();
  EXPECT_EQ(read_now(fd.get()), "{\"ok\":true,\"routers\":0}\n");
}

TEST_F(ControlServerTest, DrainAndUndrainReachTheirHandlerWithTheRouters) {
  auto fd = connect();
  write_all(fd.get(), "{\"command\":\"drain\",\"routers\":[\"r1\",\"r2\"]}\n");
  spin();
  EXPECT_EQ(read_now(fd.get()), "{\"ok\":true,\"routers\":[\"r1\",\"r2\"]}\n");
  write_all(fd.get(), "{\"command\":\"undrain\"}\n");
  spin();
  EXPECT_EQ(read_now(fd.get()), "{\"ok\":true,\"routers\":[]}\n");
  ASSERT_EQ(drains_.size(), 2u);
  EXPECT_TRUE(drains_[0].first);
  EXPECT_EQ(drains_[0].second, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_FALSE(drains_[1].first);
  EXPECT_TRUE(drains_[1].second.empty());
}

TEST_F(ControlServerTest, TooManyClientsAreTurnedAway) {
  std::vector<UniqueFd> fds;
  for (std::size_t i = 0; i < ControlServer::kMaxClients; ++i) fds.push_back(connect());
  EXPECT_EQ(server_->clients(), ControlServer::kMaxClients);
  auto extra = connect();
  spin();
  EXPECT_THAT(read_now(extra.get()), HasSubstr("too many havipctl clients"));
  EXPECT_EQ(server_->clients(), ControlServer::kMaxClients);
}

TEST_F(ControlServerTest, AClientThatSendsNoRequestIsDroppedAfterTheIdleTimeout) {
  restart({.idle = std::chrono::milliseconds(400), .send = std::chrono::milliseconds(5000)});
  auto idle = connect();
  auto partial = connect();
  write_all(partial.get(), "{\"command\":");  // never completed: still idle
  auto asking = connect();
  auto watcher = connect();
  write_all(watcher.get(), "{\"command\":\"watch\"}\n");
  spin_for(std::chrono::milliseconds(200));
  write_all(asking.get(), "{\"command\":\"status\"}\n");  // an answer restarts the clock
  spin_for(std::chrono::milliseconds(300));
  EXPECT_EQ(server_->clients(), 2u);  // the asking one and the watcher
  spin_for(std::chrono::milliseconds(500));
  // The watcher stays: it asked for a stream.
  EXPECT_EQ(server_->clients(), 1u);
  EXPECT_EQ(server_->watchers(), 1u);
  bool eof = false;
  read_now(idle.get(), &eof);
  EXPECT_TRUE(eof);
  read_now(partial.get(), &eof);
  EXPECT_TRUE(eof);
  EXPECT_THAT(read_now(asking.get(), &eof), HasSubstr("\"answer\":1"));
  EXPECT_TRUE(eof);
}

TEST_F(ControlServerTest, AClientThatDoesNotReadItsAnswerIsDroppedAfterTheSendTimeout) {
  restart({.idle = std::chrono::milliseconds(5000), .send = std::chrono::milliseconds(200)});
  padding_ = std::string(8 << 20, 'p');  // far more than a socket buffer
  auto slow = connect();
  auto reader = connect();
  write_all(slow.get(), "{\"command\":\"status\"}\n");
  write_all(reader.get(), "{\"command\":\"status\"}\n");
  std::string got;
  // Until the reader has its answer and the slow one is gone, or a deadline
  // far beyond the send timeout (under a sanitizer, building an 8 MiB answer
  // alone takes a good part of a second).
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until &&
         (got.find('\n') == std::string::npos || server_->clients() > 1)) {
    sd_event_run(loop_, 10'000);
    got += read_now(reader.get());
  }
  EXPECT_GT(got.size(), padding_.size());
  EXPECT_EQ(std::count(got.begin(), got.end(), '\n'), 1) << "the reader got its whole answer";
  EXPECT_EQ(server_->clients(), 1u);  // the reader only
  std::string partial;
  bool eof = false;
  for (int i = 0; i < 1000 && !eof; ++i) partial += read_now(slow.get(), &eof);
  EXPECT_TRUE(eof);
  EXPECT_LT(partial.size(), padding_.size());
}

TEST_F(ControlServerTest, NoRequestIsReadWhileAnAnswerIsUnsent) {
  padding_ = std::string(4 << 20, 'p');
  auto fd = connect();
  std::string many;
  for (int i = 0; i < 50; ++i) many += "{\"command\":\"status\"}\n";
  write_all(fd.get(), many);
  spin(20);
  // The first answer fills the socket: the others wait for the client to read.
  EXPECT_EQ(status_calls_, 1);
}

TEST_F(ControlServerTest, RequestsAreAnsweredAFewPerWakeUp) {
  auto fd = connect();
  std::string many;
  for (int i = 0; i < 50; ++i) many += "{\"command\":\"status\"}\n";
  write_all(fd.get(), many);
  sd_event_run(loop_, 1000);
  EXPECT_EQ(status_calls_, static_cast<int>(ControlServer::kRequestsPerDispatch));
  spin(50);
  std::string got = read_now(fd.get());
  EXPECT_EQ(std::count(got.begin(), got.end(), '\n'), 50);
  EXPECT_THAT(got, HasSubstr("\"answer\":50"));
}

TEST_F(ControlServerTest, ConnectionsAreAcceptedAFewPerWakeUp) {
  std::vector<UniqueFd> fds;
  for (int i = 0; i < 40; ++i) {
    fds.emplace_back(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::connect(fds.back().get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  }
  sd_event_run(loop_, 1000);
  EXPECT_EQ(server_->clients(), ControlServer::kAcceptsPerDispatch);
  spin();
  EXPECT_EQ(server_->clients(), 40u);
}

TEST_F(ControlServerTest, OneUserCannotTakeEverySlotAndRootKeepsItsOwn) {
  if (::geteuid() != 0) GTEST_SKIP() << "connecting as other uids needs root";
  // One uid: kMaxClientsPerUid, then refused.
  auto first = connect_as(65534, ControlServer::kMaxClientsPerUid + 2);
  EXPECT_EQ(refused(first, "at most 8 per user"), 2u);
  EXPECT_EQ(server_->clients(), ControlServer::kMaxClientsPerUid);
  // Several uids of the group: together no more than the unreserved slots.
  std::vector<UniqueFd> more;
  for (uid_t uid = 65533; server_->clients() < ControlServer::kMaxClients && uid > 65500; --uid)
    for (auto& fd : connect_as(uid, ControlServer::kMaxClientsPerUid)) more.push_back(std::move(fd));
  EXPECT_EQ(server_->clients(), ControlServer::kMaxClients - ControlServer::kReservedClients);
  EXPECT_GT(refused(more, "kept for root"), 0u);
  // Root still gets in, up to the total.
  std::vector<UniqueFd> root;
  for (std::size_t i = 0; i < ControlServer::kReservedClients; ++i) root.push_back(connect());
  write_all(root.back().get(), "{\"command\":\"status\"}\n");
  spin();
  EXPECT_THAT(read_now(root.back().get()), HasSubstr("\"ok\":true"));
  EXPECT_EQ(server_->clients(), ControlServer::kMaxClients);
}

TEST_F(ControlServerTest, CloseRemovesOnlyItsOwnSocket) {
  server_->close();
  EXPECT_FALSE(std::filesystem::exists(path_));
  ASSERT_TRUE(server_->listen(path_, ""));
  // Someone replaced the file meanwhile: it is left alone.
  std::filesystem::remove(path_);
  { std::ofstream(path_) << "not ours"; }
  server_->close();
  EXPECT_TRUE(std::filesystem::exists(path_));
}

TEST_F(ControlServerTest, StaleSocketIsReplacedLiveOneAndFilesAreNot) {
  // A second server on the same (live) path is refused.
  ControlServer second(loop_, {});
  auto live = second.listen(path_, "");
  ASSERT_FALSE(live);
  EXPECT_THAT(live.error(), HasSubstr("another havipd is listening there"));
  // A stale one (nobody listening) is replaced.
  std::string stale = dir_ + "/stale.sock";
  {
    UniqueFd s(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", stale.c_str());
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  }
  EXPECT_TRUE(second.listen(stale, ""));
  second.close();
  std::string file = dir_ + "/file";
  { std::ofstream(file) << "x"; }
  auto not_socket = second.listen(file, "");
  ASSERT_FALSE(not_socket);
  EXPECT_THAT(not_socket.error(), HasSubstr("is not a socket; not replacing it"));
  std::string link = dir_ + "/link";
  std::filesystem::create_symlink(path_, link);
  auto symlink = second.listen(link, "");
  ASSERT_FALSE(symlink);
  EXPECT_THAT(symlink.error(), HasSubstr("is not a socket"));
}

TEST_F(ControlServerTest, UnknownGroupIsAnError) {
  ControlServer other(loop_, {});
  auto r = other.listen(dir_ + "/g.sock", "no-such-group-havip");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "group no-such-group-havip does not exist");
}

}  // namespace
}  // namespace havip
