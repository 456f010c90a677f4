// Finding keepalived's VRRP child: the /proc scan on a fake /proc (the files
// the scan reads, laid out as the kernel lays them out), pid files, pidfds.
//
// The fake: <proc>/<pid>/comm, fd/<n> symlinks to "socket:[N]" (and to what
// other fds point at), net/raw and net/raw6, and ns/net. On a real /proc,
// ns/net is a magic link that stat() follows to the namespace's nsfs inode;
// here it is a regular file, and the processes of one namespace share it as
// hard links (one inode, as they share the nsfs inode). Their net/raw and
// net/raw6 are hard links too: the namespace's table, as every process in it
// sees the same one.
#include "netns/speaker.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include "neutron/neutron.h"

namespace havip::netns {
namespace {

namespace fs = std::filesystem;

struct RawSocket {
  std::uint64_t inode;
  unsigned proto;
  bool v6 = false;
};

class FakeProc {
 public:
  explicit FakeProc(const std::string& base) : base_(base), proc_(base + "/proc") {
    fs::create_directories(proc_);
    fs::create_directories(base_ + "/ns");
  }
  const std::string& path() const { return proc_; }

  // A namespace and its raw sockets (what /proc/PID/net/raw{,6} list in it);
  // returns its inode (what ns/net of its processes stats to).
  std::uint64_t netns(const std::string& ns, const std::vector<RawSocket>& raw) {
    std::string v4 =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
        "retrnsmt   uid  timeout inode ref pointer drops\n";
    std::string v6 =
        "  sl  local_address                         remote_address                 "
        "       st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
        "pointer drops\n";
    int sl = 1;
    for (const auto& s : raw) {
      char line[256];
      if (s.v6) {
        std::snprintf(line, sizeof line,
                      "  %d: 00000000000000000000000000000000:%04X "
                      "00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 "
                      "00000000     0        0 %llu 2 000000007d6254ec 0\n",
                      sl++, s.proto, static_cast<unsigned long long>(s.inode));
        v6 += line;
      } else {
        std::snprintf(line, sizeof line,
                      "  %d: 00000000:%04X 00000000:0000 07 00000000:00000000 00:00000000 "
                      "00000000     0        0 %llu 2 00000000f10df897 0\n",
                      sl++, s.proto, static_cast<unsigned long long>(s.inode));
        v4 += line;
      }
    }
    std::ofstream(base_ + "/ns/" + ns + ".net") << "";
    std::ofstream(base_ + "/ns/" + ns + ".raw") << v4;
    std::ofstream(base_ + "/ns/" + ns + ".raw6") << v6;
    return inode(base_ + "/ns/" + ns + ".net");
  }

  // A process: its comm, its namespace, and its fds' targets ("socket:[N]", "/dev/null"…).
  void process(int pid, const std::string& comm, const std::string& ns,
               const std::vector<std::string>& fds) {
    auto dir = proc_ + "/" + std::to_string(pid);
    fs::create_directories(dir + "/fd");
    fs::create_directories(dir + "/ns");
    fs::create_directories(dir + "/net");
    std::ofstream(dir + "/comm") << comm << "\n";
    int n = 0;
    for (const auto& target : fds) fs::create_symlink(target, dir + "/fd/" + std::to_string(n++));
    fs::create_hard_link(base_ + "/ns/" + ns + ".net", dir + "/ns/net");
    fs::create_hard_link(base_ + "/ns/" + ns + ".raw", dir + "/net/raw");
    fs::create_hard_link(base_ + "/ns/" + ns + ".raw6", dir + "/net/raw6");
  }

  static std::uint64_t inode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_ino;
  }

 private:
  std::string base_, proc_;
};

std::string socket_fd(std::uint64_t inode) { return "socket:[" + std::to_string(inode) + "]"; }

class SpeakerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/havip-speaker-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    proc_ = std::make_unique<FakeProc>(base_);
  }
  void TearDown() override { fs::remove_all(base_); }

  // keepalived as Neutron runs it (-P): the parent (a netlink socket, a
  // signal pipe) and its VRRP child (netlink sockets and its VRRP sockets).
  void keepalived(int parent, int child, const std::string& ns,
                  const std::vector<std::uint64_t>& vrrp_sockets) {
    proc_->process(parent, "keepalived", ns,
                   {"/dev/null", socket_fd(900000 + parent), "pipe:[77]", "anon_inode:[signalfd]"});
    std::vector<std::string> fds = {"/dev/null", socket_fd(900000 + child), "anon_inode:[timerfd]"};
    for (auto s : vrrp_sockets) fds.push_back(socket_fd(s));
    proc_->process(child, "keepalived", ns, fds);
  }

  std::string write(const std::string& name, const std::string& content) {
    auto path = base_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }
  std::string pid_file_error(const std::string& content) {
    auto r = speaker_from_pid_file(write("pid", content), proc_->path());
    EXPECT_FALSE(r) << "read " << *r << " from '" << content << "'";
    return r ? "" : r.error().substr(base_.size() + 6);  // without "<base>/pid: "
  }

  std::string base_;
  std::unique_ptr<FakeProc> proc_;
};

using Speakers = std::unordered_map<std::uint64_t, pid_t>;

TEST_F(SpeakerTest, FindsTheVrrpChildInEachNamespace) {
  auto a = proc_->netns("a", {{1001, 112}, {1002, 112}, {5000, 1}});
  auto b = proc_->netns("b", {{2001, 112}});
  auto empty = proc_->netns("empty", {});
  keepalived(100, 101, "a", {1001, 1002});
  keepalived(200, 205, "b", {2001});
  // keepalived's checker child: a raw ICMP socket (PING_CHECK), no VRRP one.
  proc_->process(102, "keepalived", "a", {socket_fd(5000)});
  proc_->process(300, "sleep", "empty", {"/dev/null"});
  EXPECT_EQ(scan_vrrp_speakers(proc_->path()), (Speakers{{a, 101}, {b, 205}}));
  EXPECT_NE(empty, a);
}

TEST_F(SpeakerTest, OnlyKeepalivedCounts) {
  auto a = proc_->netns("a", {{1001, 112}});
  proc_->process(50, "vrrpd", "a", {socket_fd(1001)});
  proc_->process(51, "keepalived-x", "a", {socket_fd(1001)});
  EXPECT_EQ(scan_vrrp_speakers(proc_->path()), Speakers{});
  proc_->process(52, "keepalived", "a", {socket_fd(1001)});
  EXPECT_EQ(scan_vrrp_speakers(proc_->path()), (Speakers{{a, 52}}));
}

TEST_F(SpeakerTest, IPv6OnlyAndAuthenticationHeaderInstancesCount) {
  // An IPv6 instance's sockets are in raw6; an instance with `auth_type AH`
  // opens its sockets with protocol 51 (IPPROTO_AH), not 112.
  auto v6 = proc_->netns("v6", {{3001, 112, true}});
  auto ah = proc_->netns("ah", {{4001, 51}});
  keepalived(300, 301, "v6", {3001});
  keepalived(400, 401, "ah", {4001});
  EXPECT_EQ(scan_vrrp_speakers(proc_->path()), (Speakers{{v6, 301}, {ah, 401}}));
}

TEST_F(SpeakerTest, ASocketOfAnotherProtocolOrNamespaceDoesNotCount) {
  // 1001 is a VRRP socket of namespace a; in b, 1001 is not in the table (an
  // fd passed across namespaces is listed in its own namespace's table).
  proc_->netns("a", {{1001, 112}});
  proc_->netns("b", {{2001, 113}, {2002, 0x1112}, {2003, 0x0070 + 0x10000}});
  proc_->process(10, "keepalived", "b",
                 {socket_fd(1001), socket_fd(2001), socket_fd(2002), socket_fd(2003)});
  EXPECT_EQ(scan_vrrp_speakers(proc_->path()), Speakers{});
}

TEST_F(SpeakerTest, TheLowestPidOfTwoSpeakersInOneNamespace) {
  auto a = proc_->netns("a", {{1001, 112}, {1002, 112}});
  keepalived(700, 710, "a", {1002});
  keepalived(600, 720, "a", {1001});
  EXPECT_EQ(scan_vrrp_speakers(proc_->path()), (Speakers{{a, 710}}));
}

TEST_F(SpeakerTest, ProcessesGoneMidScanAndOtherEntriesAreSkipped) {
  auto a = proc_->netns("a", {{1001, 112}});
  keepalived(100, 101, "a", {1001});
  // Gone between the directory read and the files (each file missing in turn).
  proc_->process(20, "keepalived", "a", {socket_fd(1001)});
  fs::remove(proc_->path() + "/20/ns/net");
  proc_->process(21, "keepalived", "a", {socket_fd(1001)});
  fs::remove_all(proc_->path() + "/21/fd");
  proc_->process(22, "keepalived", "a", {socket_fd(1001)});
  fs::remove(proc_->path() + "/22/comm");
  fs::create_directories(proc_->path() + "/23");  // a zombie's or a dying one's: nothing in it
  // /proc's other entries.
  fs::create_directories(proc_->path() + "/sys/net");
  fs::create_directory_symlink("100", proc_->path() + "/self");
  std::ofstream(proc_->path() + "/uptime") << "1.0 1.0\n";
  EXPECT_EQ(scan_vrrp_speakers(proc_->path()), (Speakers{{a, 101}}));
}

TEST_F(SpeakerTest, MalformedTableLinesAndFdTargetsAreIgnored) {
  auto a = proc_->netns("a", {{1001, 112}});
  // A table with broken lines before a good one: only the good one counts.
  auto raw = base_ + "/ns/a.raw";
  std::string table;
  {
    std::ifstream in(raw);
    table.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(raw, std::ios::trunc)
      << table.substr(0, table.find('\n') + 1) << "  1: 00000000 00000000:0000 07 x x x 0 0 1002\n"
      << "  2: 00000000:00zz 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1003\n"
      << "  3: 00000000:0070\n"
      << "  4: 00000000:0070 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 -1\n"
      << table.substr(table.find('\n') + 1);
  proc_->process(10, "keepalived", "a",
                 {"socket:[1002]", "socket:[1003]", "socket:[]", "socket:[1001", "socket:1001",
                  "xsocket:[1001]"});
  EXPECT_EQ(scan_vrrp_speakers(proc_->path()), Speakers{});
  proc_->process(11, "keepalived", "a", {"socket:[1003]", socket_fd(1001)});
  EXPECT_EQ(scan_vrrp_speakers(proc_->path()), (Speakers{{a, 11}}));
}

TEST_F(SpeakerTest, NoProcDirectoryGivesNothing) {
  EXPECT_EQ(scan_vrrp_speakers(base_ + "/none"), Speakers{});
}

// The real /proc: this process, named keepalived for the while, with a raw
// VRRP socket (needs CAP_NET_RAW; skipped otherwise).
TEST(SpeakerRealProc, FindsThisProcessWithAVrrpSocket) {
  int s = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, 112);
  if (s < 0) GTEST_SKIP() << "no raw socket (needs CAP_NET_RAW): " << std::strerror(errno);
  UniqueFd sock(s);
  auto ns = FakeProc::inode("/proc/self/ns/net");
  auto before = scan_vrrp_speakers();
  char name[17] = {};
  ASSERT_EQ(::prctl(PR_GET_NAME, name), 0);
  ASSERT_EQ(::prctl(PR_SET_NAME, "keepalived"), 0);
  auto found = scan_vrrp_speakers();
  ::prctl(PR_SET_NAME, name);
  ASSERT_TRUE(found.contains(ns));
  // A real keepalived with a lower pid in this namespace is kept instead.
  if (before.contains(ns) && before.at(ns) < ::getpid())
    EXPECT_EQ(found.at(ns), before.at(ns));
  else
    EXPECT_EQ(found.at(ns), ::getpid());
  sock.reset();
  auto after = scan_vrrp_speakers();
  EXPECT_TRUE(!after.contains(ns) || after.at(ns) != ::getpid());
}

TEST(SpeakerNamespaceInode, IsTheNsfsInode) {
  UniqueFd fd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  EXPECT_EQ(namespace_inode(fd.get()), FakeProc::inode("/proc/self/ns/net"));
  EXPECT_EQ(namespace_inode(-1), 0u);
}

// ----------------------------------------------------------------- pid files

TEST_F(SpeakerTest, PidFileOfAKeepalived) {
  proc_->netns("a", {});
  proc_->process(1234, "keepalived", "a", {});
  for (const std::string& content :
       std::vector<std::string>{"1234", "1234\n", " \t1234 \n\n", std::string(60, ' ') + "1234"}) {
    auto r = speaker_from_pid_file(write("pid", content), proc_->path());
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(*r, 1234);
  }
}

TEST_F(SpeakerTest, PidFileGarbageIsRefused) {
  proc_->netns("a", {});
  proc_->process(1234, "keepalived", "a", {});
  EXPECT_EQ(pid_file_error(""), "empty");
  EXPECT_EQ(pid_file_error(" \n\t\n"), "empty");
  EXPECT_EQ(pid_file_error("12ab\n"), "not a pid: '12ab'");
  EXPECT_EQ(pid_file_error("1234 5678\n"), "not a pid: '1234 5678'");
  EXPECT_EQ(pid_file_error("-1234"), "not a pid: '-1234'");
  EXPECT_EQ(pid_file_error("+1234"), "not a pid: '+1234'");
  EXPECT_EQ(pid_file_error("0"), "not a pid: '0'");
  EXPECT_EQ(pid_file_error("0x4d2"), "not a pid: '0x4d2'");
  EXPECT_EQ(pid_file_error("99999999999999999999"), "not a pid: '99999999999999999999'");
  EXPECT_EQ(pid_file_error(std::string("12\0"
                                       "34",
                                       5)),
            "not a pid: '12?34'");
  EXPECT_EQ(pid_file_error(std::string(61, ' ') + "1234"), "larger than 64 bytes");
  EXPECT_EQ(pid_file_error(std::string(1 << 20, '1')), "larger than 64 bytes");
}

TEST_F(SpeakerTest, PidFileOfAStaleOrOtherProcessIsRefused) {
  proc_->netns("a", {});
  proc_->process(1234, "sleep", "a", {});
  proc_->process(1235, "bad\x01name", "a", {});
  EXPECT_EQ(pid_file_error("1234\n"), "pid 1234 is 'sleep', not keepalived");
  EXPECT_EQ(pid_file_error("1235\n"), "pid 1235 is 'bad?name', not keepalived");
  EXPECT_EQ(pid_file_error("4321\n"), "no such process 4321");
}

TEST_F(SpeakerTest, PidFileThatIsNoRegularFileIsRefused) {
  proc_->netns("a", {});
  proc_->process(1234, "keepalived", "a", {});
  auto target = write("real", "1234\n");
  ASSERT_TRUE(speaker_from_pid_file(target, proc_->path()));
  fs::create_symlink(target, base_ + "/link");
  auto r = speaker_from_pid_file(base_ + "/link", proc_->path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), base_ + "/link: is a symbolic link");
  fs::create_symlink(base_ + "/none", base_ + "/dangling");
  r = speaker_from_pid_file(base_ + "/dangling", proc_->path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), base_ + "/dangling: is a symbolic link");
  // A FIFO with no writer: refused at once, not waited on.
  ASSERT_EQ(::mkfifo((base_ + "/fifo").c_str(), 0600), 0);
  r = speaker_from_pid_file(base_ + "/fifo", proc_->path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), base_ + "/fifo: not a regular file");
  r = speaker_from_pid_file(base_, proc_->path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), base_ + ": not a regular file");
  r = speaker_from_pid_file(base_ + "/missing", proc_->path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), base_ + "/missing: No such file or directory");
}

TEST_F(SpeakerTest, PidFileAgainstTheRealProc) {
  auto r = speaker_from_pid_file(write("self", std::to_string(::getpid())));
  ASSERT_FALSE(r);
  char name[17] = {};
  ASSERT_EQ(::prctl(PR_GET_NAME, name), 0);
  EXPECT_EQ(r.error(), base_ + "/self: pid " + std::to_string(::getpid()) + " is '" + name +
                           "', not keepalived");
}

// -------------------------------------------------------------------- pidfds

TEST(SpeakerPidfd, OpensAndBecomesReadableWhenTheProcessExits) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  auto fd = open_pidfd(child);
  ASSERT_TRUE(fd) << fd.error();
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  pollfd p{fd->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  ::kill(child, SIGKILL);
  EXPECT_EQ(::poll(&p, 1, 5000), 1);
  EXPECT_TRUE(p.revents & POLLIN);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  // Reaped: the pid names no process now (unless reused at once).
  auto gone = open_pidfd(child);
  if (!gone) {
    EXPECT_EQ(gone.error(), "pidfd_open(" + std::to_string(child) + "): No such process");
  }
  auto bad = open_pidfd(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "pidfd_open(-1): Invalid argument");
}

// Neutron's layout (neutron.cc has the derivation from its sources).
TEST(SpeakerNeutron, VrrpPidFileBesideTheRouterDirectory) {
  EXPECT_EQ(neutron::neutron_vrrp_pid_file("/var/lib/neutron/ha_confs",
                                           "4a7c5c1e-1bd5-4cf9-9f51-9d6f6b0b2b6e"),
            "/var/lib/neutron/ha_confs/4a7c5c1e-1bd5-4cf9-9f51-9d6f6b0b2b6e.pid.keepalived-vrrp");
  NeutronConfig n;
  n.state_path = "/srv/neutron";
  EXPECT_EQ(neutron::neutron_vrrp_pid_file(neutron::ha_confs_dir(n), "r1"),
            "/srv/neutron/ha_confs/r1.pid.keepalived-vrrp");
}

}  // namespace
}  // namespace havip::netns
