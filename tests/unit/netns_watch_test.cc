// Decoding what inotify reports for the namespace directory.
#include <sys/inotify.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "netns/netns_watch.h"

namespace havip::netns {
namespace {

void put(std::vector<std::uint8_t>& buf, std::uint32_t mask, std::string_view name) {
  std::uint32_t len = name.empty() ? 0 : static_cast<std::uint32_t>((name.size() + 16) & ~15u);
  inotify_event ev{};
  ev.wd = 1;
  ev.mask = mask;
  ev.len = len;
  auto at = buf.size();
  buf.resize(at + sizeof ev + len);
  std::memcpy(buf.data() + at, &ev, sizeof ev);
  std::memcpy(buf.data() + at + sizeof ev, name.data(), name.size());
}

TEST(DecodeInotify, CreatedMovedAndDeletedEntries) {
  std::vector<std::uint8_t> buf;
  put(buf, IN_CREATE, "qrouter-1");
  put(buf, IN_MOVED_TO, "qrouter-2");
  put(buf, IN_DELETE, "qrouter-1");
  put(buf, IN_MOVED_FROM, "qrouter-3");
  put(buf, IN_CREATE | IN_ISDIR, "subdir");
  bool lost = false;
  auto changes = decode_inotify(buf, lost);
  EXPECT_FALSE(lost);
  EXPECT_EQ(changes, (std::vector<NetnsChange>{{"qrouter-1", true},
                                               {"qrouter-2", true},
                                               {"qrouter-1", false},
                                               {"qrouter-3", false}}));
}

TEST(DecodeInotify, OverflowAsksForARescan) {
  std::vector<std::uint8_t> buf;
  put(buf, IN_Q_OVERFLOW, "");
  bool lost = false;
  EXPECT_TRUE(decode_inotify(buf, lost).empty());
  EXPECT_TRUE(lost);
}

TEST(DecodeInotify, ATruncatedEventIsIgnored) {
  std::vector<std::uint8_t> buf;
  put(buf, IN_CREATE, "qrouter-1");
  put(buf, IN_CREATE, "qrouter-2");
  buf.resize(buf.size() - 4);
  bool lost = false;
  EXPECT_EQ(decode_inotify(buf, lost), (std::vector<NetnsChange>{{"qrouter-1", true}}));
}

}  // namespace
}  // namespace havip::netns
