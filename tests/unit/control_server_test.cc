// The control socket server on a real sd-event loop and real unix sockets
// (no root needed): answers, bad requests, access, slow clients.
#include "daemon/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <cstdlib>
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
    server_ = std::make_unique<ControlServer>(
        loop_, ControlServer::Handlers{[this] { return json{{"answer", ++status_calls_}}; },
                                       [] { return std::string("m 1\n"); },
                                       [] { return json{{"ok", true}, {"routers", 0}}; }});
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
  std::string line(1000, 'x');
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

TEST_F(ControlServerTest, TooManyClientsAreTurnedAway) {
  std::vector<UniqueFd> fds;
  for (std::size_t i = 0; i < ControlServer::kMaxClients; ++i) fds.push_back(connect());
  EXPECT_EQ(server_->clients(), ControlServer::kMaxClients);
  auto extra = connect();
  spin();
  EXPECT_THAT(read_now(extra.get()), HasSubstr("too many havipctl clients"));
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
