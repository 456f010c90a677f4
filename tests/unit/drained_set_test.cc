// The drained set's file (daemon/drained_set.h): read back what was written,
// and a torn or hostile file handled (bounded, invalid names skipped).
#include "daemon/drained_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace havip {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "havip-drained-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file() const { return (path / std::string(kDrainedFile)).string(); }
};

TEST(DrainedSet, WhatIsSavedIsReadBack) {
  TempDir dir;
  ASSERT_TRUE(save_drained_set(dir.path.string(), {"r2", "r1"}));
  std::ifstream in(dir.file());
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "r1\nr2\n");
  auto back = load_drained_set(dir.path.string());
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->routers, (std::set<std::string>{"r1", "r2"}));
  EXPECT_THAT(back->problems, IsEmpty());
  struct stat st {};
  ASSERT_EQ(::stat(dir.file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST(DrainedSet, AMissingFileOrDirectoryIsAnEmptySet) {
  TempDir dir;
  auto none = load_drained_set(dir.path.string());
  ASSERT_TRUE(none);
  EXPECT_THAT(none->routers, IsEmpty());
  auto no_dir = load_drained_set((dir.path / "not-there").string());
  ASSERT_TRUE(no_dir);
  EXPECT_THAT(no_dir->routers, IsEmpty());
}

TEST(DrainedSet, SavingCreatesTheStateDirectory) {
  TempDir dir;
  std::string state = (dir.path / "state").string();
  ASSERT_TRUE(save_drained_set(state, {"r1"}));
  EXPECT_EQ(load_drained_set(state)->routers, (std::set<std::string>{"r1"}));
}

TEST(DrainedSet, InvalidNamesAreReportedAndSkipped) {
  auto set = parse_drained("r1\n\n# a comment\n../etc\nr 2\nbad\x1b[31m\n" + std::string(65, 'x') +
                           "\nr3");  // torn: no final newline
  EXPECT_EQ(set.routers, (std::set<std::string>{"r1", "r3"}));
  EXPECT_THAT(set.problems,
              ElementsAre(HasSubstr("line 4: \"../etc\" is not a router name"),
                          HasSubstr("line 5: \"r 2\""), HasSubstr("line 6: \"bad\\x1b[31m\""),
                          HasSubstr("line 7")));
}

TEST(DrainedSet, AFileLargerThanTheCapIsRefusedNotRead) {
  TempDir dir;
  {
    std::ofstream out(dir.file());
    std::string line(63, 'r');
    for (std::size_t n = 0; n * 64 <= kMaxDrainedFile; ++n) out << line << '\n';
  }
  auto r = load_drained_set(dir.path.string());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("is larger than 1 MiB"));
}

TEST(DrainedSet, AFifoIsRefusedWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file().c_str(), 0600), 0);
  auto r = load_drained_set(dir.path.string());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("FIFO"));
}

TEST(DrainedSet, ASymlinkOutOfTheStateDirectoryIsNotFollowed) {
  TempDir dir;
  fs::create_directory(dir.path / "state");
  {
    std::ofstream out(dir.path / "secret");
    out << "r1\n";
  }
  fs::create_symlink(dir.path / "secret", dir.path / "state" / std::string(kDrainedFile));
  auto r = load_drained_set((dir.path / "state").string());
  EXPECT_FALSE(r && r->routers.contains("r1"));
}

}  // namespace
}  // namespace havip
