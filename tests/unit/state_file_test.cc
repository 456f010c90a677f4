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

}  // namespace
}  // namespace havip
