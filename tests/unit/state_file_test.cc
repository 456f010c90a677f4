// The state file: content, mode, atomic replacement, and never following a
// symlink planted in the state directory.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "effects/state_file.h"

namespace havip {
namespace {

namespace fs = std::filesystem;

class StateFileTest : public ::testing::TestWithParam<StateSync> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/havip-state-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
};

TEST_P(StateFileTest, WritesTheRoleWithoutNewlineMode0644) {
  FsStateFiles files(GetParam());
  const std::string base = dir_ + "/state";
  ::umask(077);  // the file mode must not depend on the umask
  ASSERT_TRUE(files.write(base, "edge1", Role::primary, true));
  files.sync();
  files.wait_synced();  // deferred: the sync thread has fsynced it
  ::umask(022);
  EXPECT_EQ(read(dir_ + "/state/edge1/state"), "primary");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/state/edge1/state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_TRUE(files.write(base, "edge1", Role::backup, true));
  EXPECT_EQ(read(dir_ + "/state/edge1/state"), "backup");
  EXPECT_FALSE(fs::exists(dir_ + "/state/edge1/.state.tmp"));
}

TEST_P(StateFileTest, ReplacesAPlantedSymlinkInsteadOfWritingThroughIt) {
  FsStateFiles files(GetParam());
  const std::string base = dir_;
  fs::create_directory(dir_ + "/edge1");
  std::ofstream(dir_ + "/victim") << "precious";
  fs::create_symlink(dir_ + "/victim", dir_ + "/edge1/state");
  fs::create_symlink(dir_ + "/victim", dir_ + "/edge1/.state.tmp");
  ASSERT_TRUE(files.write(base, "edge1", Role::primary, true));
  EXPECT_EQ(read(dir_ + "/victim"), "precious");
  EXPECT_FALSE(fs::is_symlink(dir_ + "/edge1/state"));
  EXPECT_EQ(read(dir_ + "/edge1/state"), "primary");
}

TEST_P(StateFileTest, RefusesARouterDirectoryThatIsASymlink) {
  FsStateFiles files(GetParam());
  const std::string base = dir_;
  fs::create_directory(dir_ + "/elsewhere");
  fs::create_directory_symlink(dir_ + "/elsewhere", dir_ + "/edge1");
  auto r = files.write(base, "edge1", Role::primary, true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(dir_ + "/edge1"), std::string::npos) << r.error();
  EXPECT_FALSE(fs::exists(dir_ + "/elsewhere/state"));
}

TEST_P(StateFileTest, ReportsWhereAndWhyItFailed) {
  std::ofstream(dir_ + "/file") << "x";
  FsStateFiles files(GetParam());
  const std::string base = dir_ + "/file";
  auto r = files.write(base, "edge1", Role::backup, true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(dir_ + "/file"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("Not a directory"), std::string::npos) << r.error();
}

INSTANTIATE_TEST_SUITE_P(AllSyncModes, StateFileTest,
                         ::testing::Values(StateSync::deferred, StateSync::inline_,
                                           StateSync::off));

TEST_P(StateFileTest, ARouterDirectoryNotOursToCreateIsLeftMissing) {
  FsStateFiles files(GetParam());
  const std::string base = dir_ + "/ha_confs";
  auto r = files.write(base, "edge1", Role::backup, false);  // base missing too
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(*r);
  EXPECT_FALSE(fs::exists(base));
  fs::create_directory(base);
  r = files.write(base, "edge1", Role::backup, false);
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(*r);
  EXPECT_FALSE(fs::exists(base + "/edge1"));
  fs::create_directory(base + "/edge1");
  r = files.write(base, "edge1", Role::backup, false);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(*r);
  EXPECT_EQ(read(base + "/edge1/state"), "backup");
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// A restart finds most files saying the role already: the first write of each
// leaves such a file as it is (deferred and off; inline always writes, and
// fsyncs). Later writes, and files that are not exactly right, are written.
TEST_P(StateFileTest, AFirstWriteLeavesAFileThatAlreadySaysTheRoleAsItIs) {
  const std::string path = dir_ + "/edge1/state";
  FsStateFiles(GetParam()).write(dir_, "edge1", Role::primary, true);
  auto inode = inode_of(path);
  FsStateFiles files(GetParam());  // the restarted daemon's
  ASSERT_TRUE(files.write(dir_, "edge1", Role::primary, true));
  files.sync();
  files.wait_synced();
  EXPECT_EQ(read(path), "primary");
  if (GetParam() == StateSync::inline_)
    EXPECT_NE(inode_of(path), inode);
  else
    EXPECT_EQ(inode_of(path), inode);  // not renamed over
  ASSERT_TRUE(files.write(dir_, "edge1", Role::backup, true));
  EXPECT_EQ(read(path), "backup");
  inode = inode_of(path);
  ASSERT_TRUE(files.write(dir_, "edge1", Role::backup, true));  // not a first write: written
  EXPECT_NE(inode_of(path), inode);
  EXPECT_EQ(read(path), "backup");
}

TEST_P(StateFileTest, AFileWithTheRightContentButNotExactlyRightIsRewritten) {
  fs::create_directory(dir_ + "/mode");
  std::ofstream(dir_ + "/mode/state") << "primary";
  ::chmod((dir_ + "/mode/state").c_str(), 0600);
  fs::create_directory(dir_ + "/link");
  std::ofstream(dir_ + "/other") << "primary";
  fs::create_hard_link(dir_ + "/other", dir_ + "/link/state");
  fs::create_directory(dir_ + "/newline");
  std::ofstream(dir_ + "/newline/state") << "primary\n";
  fs::create_directory(dir_ + "/symlink");
  fs::create_symlink(dir_ + "/other", dir_ + "/symlink/state");
  FsStateFiles files(GetParam());
  for (auto* r : {"mode", "link", "newline", "symlink"}) {
    ASSERT_TRUE(files.write(dir_, r, Role::primary, true)) << r;
    auto path = dir_ + "/" + r + "/state";
    struct stat st {};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode)) << r;
    EXPECT_EQ(st.st_mode & 07777, 0644u) << r;
    EXPECT_EQ(st.st_nlink, 1u) << r;
    EXPECT_EQ(read(path), "primary") << r;
  }
  EXPECT_EQ(read(dir_ + "/other"), "primary");  // the other link, and the symlink's target
}

}  // namespace
}  // namespace havip
