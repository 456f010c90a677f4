// UntrustedTree: what a file another user can write may be replaced by, and
// that each is refused with its reason, promptly, reading nothing beyond the cap.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "effects/safe_read.h"

namespace havip {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kCap = 1 << 20;

class SafeReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/havip-safe-read-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    tree_ = base_ + "/tree";
    fs::create_directories(tree_ + "/r1");
  }
  void TearDown() override { fs::remove_all(base_); }

  UntrustedTree open() {
    auto t = UntrustedTree::open(tree_);
    EXPECT_TRUE(t) << t.error();
    return std::move(*t);
  }
  // The reason `rel` is refused for ("" when it was read).
  std::string refusal(const std::string& rel, std::size_t cap = kCap) {
    auto r = open().read(rel, cap);
    if (r) return "";
    EXPECT_FALSE(r.error().missing) << r.error().reason;
    return r.error().reason;
  }

  std::string base_, tree_;
};

TEST_F(SafeReadTest, ReadsAGoodFile) {
  std::ofstream(tree_ + "/r1/keepalived.conf") << "vrrp_instance VR_1 {}\n";
  auto r = open().read("r1/keepalived.conf", kCap);
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(*r, "vrrp_instance VR_1 {}\n");
}

TEST_F(SafeReadTest, AFileOfExactlyTheCapIsRead) {
  std::ofstream(tree_ + "/r1/f") << std::string(100, 'x');
  auto r = open().read("r1/f", 100);
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(r->size(), 100u);
}

TEST_F(SafeReadTest, AMissingFileIsMissingNotRefused) {
  auto r = open().read("r1/keepalived.conf", kCap);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().missing);
  fs::remove_all(tree_ + "/r1");
  std::ofstream(tree_ + "/r1") << "a file where a directory was";
  r = open().read("r1/keepalived.conf", kCap);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().missing);
}

TEST_F(SafeReadTest, AFifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((tree_ + "/r1/keepalived.conf").c_str(), 0644), 0);
  // A blocking open would wait here for a writer that never comes.
  EXPECT_EQ(refusal("r1/keepalived.conf"), "is a FIFO, not a regular file");
}

TEST_F(SafeReadTest, ASymlinkToDevZeroIsRefused) {
  fs::create_symlink("/dev/zero", tree_ + "/r1/keepalived.conf");
  EXPECT_EQ(refusal("r1/keepalived.conf"), "a symlink leads out of " + tree_);
}

TEST_F(SafeReadTest, ADeviceInsideTheTreeIsRefused) {
  // Only root can make one; it is refused after the (non-blocking) open.
  ASSERT_EQ(::mknod((tree_ + "/r1/keepalived.conf").c_str(), S_IFCHR | 0644, ::makedev(1, 5)), 0);
  EXPECT_EQ(refusal("r1/keepalived.conf"), "is a device, not a regular file");
}

TEST_F(SafeReadTest, ASymlinkOutOfTheTreeIsRefused) {
  std::ofstream(base_ + "/secret") << "root's";
  fs::create_symlink(base_ + "/secret", tree_ + "/r1/keepalived.conf");
  EXPECT_EQ(refusal("r1/keepalived.conf"), "a symlink leads out of " + tree_);
  fs::remove(tree_ + "/r1/keepalived.conf");
  fs::create_symlink("../../secret", tree_ + "/r1/keepalived.conf");  // relative, climbing out
  EXPECT_EQ(refusal("r1/keepalived.conf"), "a symlink leads out of " + tree_);
}

TEST_F(SafeReadTest, ASymlinkedDirectoryOutOfTheTreeIsRefused) {
  fs::create_directory(base_ + "/elsewhere");
  std::ofstream(base_ + "/elsewhere/keepalived.conf") << "x";
  fs::remove_all(tree_ + "/r1");
  fs::create_directory_symlink(base_ + "/elsewhere", tree_ + "/r1");
  EXPECT_EQ(refusal("r1/keepalived.conf"), "a symlink leads out of " + tree_);
  auto d = open().open_dir("r1");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().reason, "a symlink leads out of " + tree_);
}

TEST_F(SafeReadTest, ASymlinkThatStaysInsideTheTreeIsFollowed) {
  std::ofstream(tree_ + "/r1/real.conf") << "inside";
  fs::create_symlink("real.conf", tree_ + "/r1/keepalived.conf");
  auto r = open().read("r1/keepalived.conf", kCap);
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(*r, "inside");
}

TEST_F(SafeReadTest, ADirectoryIsRefused) {
  fs::create_directory(tree_ + "/r1/keepalived.conf");
  EXPECT_EQ(refusal("r1/keepalived.conf"), "is a directory, not a regular file");
}

TEST_F(SafeReadTest, AnOversizeFileIsRefusedUnread) {
  {
    std::ofstream f(tree_ + "/r1/keepalived.conf");
    f << std::string(kCap + 1, 'x');
  }
  EXPECT_EQ(refusal("r1/keepalived.conf"), "is larger than 1 MiB (1048577 bytes)");
  // A sparse 100 GiB file costs nothing to refuse: it is never read.
  ASSERT_EQ(::truncate((tree_ + "/r1/keepalived.conf").c_str(), 100LL << 30), 0);
  EXPECT_EQ(refusal("r1/keepalived.conf"), "is larger than 1 MiB (107374182400 bytes)");
}

TEST_F(SafeReadTest, AFileLargerThanItsSizeSaidIsCutAtTheCap) {
  // /proc files say size 0 and yield more: the same as a file growing
  // between the fstat and the read.
  auto proc = UntrustedTree::open("/proc/self");
  ASSERT_TRUE(proc);
  auto r = proc->read("status", 64);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, "grew past 64 bytes while read");
}

TEST_F(SafeReadTest, AProcMagicLinkIsRefused) {
  auto proc = UntrustedTree::open("/proc/self");
  ASSERT_TRUE(proc);
  auto r = proc->read("exe", kCap);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, "a symlink loops or is a /proc magic link");
}

TEST_F(SafeReadTest, AFileGrowingWhileReadEndsAtTheCap) {
  const std::string path = tree_ + "/r1/keepalived.conf";
  std::atomic<bool> stop{false};
  std::ofstream(path) << "x";
  std::thread writer([&] {
    std::ofstream f(path, std::ios::app);
    std::string chunk(4096, 'y');
    while (!stop) f << chunk << std::flush;
  });
  // Whatever the race gives, the read ends and holds at most the cap: a
  // prefix (it caught up with the writer) or a refusal.
  for (int i = 0; i < 20; ++i) {
    auto r = open().read("r1/keepalived.conf", 64 << 10);
    if (r) {
      EXPECT_LE(r->size(), 64u << 10);
    } else {
      EXPECT_TRUE(r.error().reason == "grew past 64 KiB while read" ||
                  r.error().reason.starts_with("is larger than 64 KiB"))
          << r.error().reason;
    }
  }
  stop = true;
  writer.join();
}

TEST_F(SafeReadTest, ATreeThatIsNoDirectoryIsAnError) {
  std::ofstream(base_ + "/file") << "x";
  auto t = UntrustedTree::open(base_ + "/file");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), base_ + "/file: Not a directory");
}

// Without openat2 (a kernel before 5.6, or a seccomp filter that answers
// ENOSYS, as systemd 252's @system-service does): the path is walked one
// component at a time and no symlink is followed.
class WalkTest : public SafeReadTest {
 protected:
  void SetUp() override {
    SafeReadTest::SetUp();
    UntrustedTree::without_openat2(true);
  }
  void TearDown() override {
    UntrustedTree::without_openat2(false);
    SafeReadTest::TearDown();
  }
};

TEST_F(WalkTest, ReadsAGoodFileAndTellsAMissingOne) {
  std::ofstream(tree_ + "/r1/keepalived.conf") << "vrrp_instance VR_1 {}\n";
  auto r = open().read("r1/keepalived.conf", kCap);
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(*r, "vrrp_instance VR_1 {}\n");
  auto gone = open().read("r2/keepalived.conf", kCap);
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().missing);
}

TEST_F(WalkTest, EverySymlinkIsRefusedInsideTheTreeToo) {
  const std::string why = "is a symlink (refused: without openat2 no symlink is followed)";
  std::ofstream(tree_ + "/r1/real.conf") << "inside";
  fs::create_symlink("real.conf", tree_ + "/r1/keepalived.conf");
  EXPECT_EQ(refusal("r1/keepalived.conf"), why);
  fs::create_directory(base_ + "/elsewhere");
  fs::create_directory_symlink(base_ + "/elsewhere", tree_ + "/r2");
  EXPECT_EQ(refusal("r2/keepalived.conf"), why);
  auto d = open().open_dir("r2");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().reason, why);
}

TEST_F(WalkTest, AFifoIsRefusedWithoutBlockingAndDotDotLeavesNothing) {
  ASSERT_EQ(::mkfifo((tree_ + "/r1/keepalived.conf").c_str(), 0644), 0);
  EXPECT_EQ(refusal("r1/keepalived.conf"), "is a FIFO, not a regular file");
  EXPECT_EQ(refusal("r1/../../secret"), "a symlink leads out of " + tree_);
}

TEST(ByteSize, SaysCapsAsOperatorsWriteThem) {
  EXPECT_EQ(byte_size(1 << 20), "1 MiB");
  EXPECT_EQ(byte_size(64 << 10), "64 KiB");
  EXPECT_EQ(byte_size(100), "100 bytes");
}

}  // namespace
}  // namespace havip
