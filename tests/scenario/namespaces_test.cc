// Namespaces with a fake opener: which namespaces are opened, retried,
// dropped and re-opened, and what the core is fed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "daemon/namespaces.h"

namespace havip::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct FakeMonitor final : Namespaces::Monitor {
  explicit FakeMonitor(int fd) : fd_(fd) {}
  int ns_fd() const override { return fd_; }
  int fd_;
};

struct Rig {
  std::set<std::string> files{""};          // namespaces whose file exists
  std::map<std::string, std::string> fail;  // namespace -> error of the next opens
  std::vector<std::string> opened;
  std::map<std::string, Namespaces::Feed> sinks;
  std::vector<std::string> fed;  // "gone ns1 (was deleted)"
  TimePoint now = TimePoint(std::chrono::hours(1));
  Namespaces ns{Namespaces::Io{[this](const std::string& n) { return files.contains(n); },
                               [this](const std::string& n, Namespaces::Feed sink)
                                   -> tl::expected<std::unique_ptr<Namespaces::Monitor>,
                                                   std::string> {
                                 opened.push_back(n);
                                 if (fail.contains(n)) return tl::unexpected(fail.at(n));
                                 sinks[n] = std::move(sink);
                                 return std::make_unique<FakeMonitor>(
                                     static_cast<int>(opened.size()));
                               }},
                [this](Event&& e) {
                  if (auto* g = std::get_if<NetnsGone>(&e))
                    fed.push_back("gone " + g->netns + " (" + g->reason + ")");
                  else
                    fed.push_back("event");
                }};
};

TEST(Namespaces, OpensWhatIsWantedAndClosesWhatIsNot) {
  Rig rig;
  rig.files.insert("ns1");
  rig.ns.want({"", "ns1", "ns2"}, rig.now);  // ns2 does not exist yet
  EXPECT_THAT(rig.opened, ElementsAre("", "ns1"));
  EXPECT_THAT(rig.ns.watched(), ElementsAre("", "ns1"));
  EXPECT_EQ(rig.ns.deadline(), std::nullopt);  // a missing namespace is not retried
  rig.ns.want({"ns1"}, rig.now);
  EXPECT_THAT(rig.ns.watched(), ElementsAre("ns1"));
  EXPECT_THAT(rig.fed, IsEmpty());  // unwanted is not gone: its routers were removed
}

TEST(Namespaces, ANamespaceThatAppearsLaterIsOpenedThen) {
  Rig rig;
  rig.ns.want({"ns1"}, rig.now);
  EXPECT_THAT(rig.opened, IsEmpty());
  rig.files.insert("ns1");
  rig.ns.appeared("other", rig.now);  // not wanted: ignored
  rig.ns.appeared("ns1", rig.now);
  EXPECT_THAT(rig.opened, ElementsAre("ns1"));
  EXPECT_TRUE(rig.ns.watching("ns1"));
}

TEST(Namespaces, AFileNotMountedYetIsRetriedWithBackoff) {
  Rig rig;
  rig.files.insert("ns1");
  rig.fail["ns1"] = "Invalid argument";
  rig.ns.want({"ns1"}, rig.now);
  ASSERT_TRUE(rig.ns.deadline());
  EXPECT_EQ(*rig.ns.deadline(), rig.now + Millis(10));
  rig.ns.retry(rig.now + Millis(5));  // not due yet
  EXPECT_EQ(rig.opened.size(), 1u);
  rig.fail.erase("ns1");
  rig.ns.retry(rig.now + Millis(10));
  EXPECT_EQ(rig.opened.size(), 2u);
  EXPECT_TRUE(rig.ns.watching("ns1"));
  EXPECT_EQ(rig.ns.deadline(), std::nullopt);
}

TEST(Namespaces, ADeletedNamespaceIsDroppedAndItsRoutersFedGone) {
  Rig rig;
  rig.files.insert("ns1");
  rig.ns.want({"ns1"}, rig.now);
  rig.ns.deleted("other");
  rig.ns.deleted("ns1");
  EXPECT_THAT(rig.fed, ElementsAre("gone ns1 (was deleted)"));
  EXPECT_FALSE(rig.ns.watching("ns1"));
  rig.ns.deleted("ns1");  // once only
  EXPECT_EQ(rig.fed.size(), 1u);
}

TEST(Namespaces, AMonitorThatLostItsNamespaceIsReapedAfterTheDispatchAndRetried) {
  Rig rig;
  rig.files.insert("ns1");
  rig.ns.want({"ns1"}, rig.now);
  rig.sinks.at("ns1")(NetnsGone{"ns1", "its netlink socket cannot be re-opened"});
  EXPECT_THAT(rig.fed, ElementsAre("gone ns1 (its netlink socket cannot be re-opened)"));
  EXPECT_TRUE(rig.ns.watching("ns1"));  // still dispatching: destroyed afterwards
  rig.ns.reap(rig.now);
  EXPECT_FALSE(rig.ns.watching("ns1"));
  ASSERT_TRUE(rig.ns.deadline());
  rig.ns.retry(*rig.ns.deadline());
  EXPECT_TRUE(rig.ns.watching("ns1"));
}

TEST(Namespaces, ARescanDropsWhatIsGoneAndOpensWhatIsThere) {
  Rig rig;
  rig.files.insert("ns1");
  rig.ns.want({"ns1", "ns2"}, rig.now);
  rig.files.erase("ns1");
  rig.files.insert("ns2");
  rig.ns.rescan({"ns1", "ns2"}, rig.now);
  EXPECT_THAT(rig.fed, ElementsAre("gone ns1 (was deleted)"));
  EXPECT_THAT(rig.ns.watched(), ElementsAre("ns2"));
}

TEST(Namespaces, DropAllAndClose) {
  Rig rig;
  rig.files.insert("ns1");
  rig.ns.want({"", "ns1"}, rig.now);
  EXPECT_EQ(rig.ns.ns_fd("ns1"), 2);
  EXPECT_EQ(rig.ns.ns_fd("nope"), -1);
  rig.ns.drop_all("left behind by the new netns_dir");
  EXPECT_THAT(rig.fed, ElementsAre("gone  (left behind by the new netns_dir)",
                                   "gone ns1 (left behind by the new netns_dir)"));
  rig.ns.want({"ns1"}, rig.now);
  rig.ns.close();
  EXPECT_EQ(rig.ns.size(), 0u);
}

}  // namespace
}  // namespace havip::testing
