// The state writer: writes off the loop thread, in order per router, the
// newest queued write of a router replacing an older one, results numbered
// and signalled on an eventfd, and a stalled disk never holding up the loop.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "effects/state_writer.h"

namespace havip {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Records writes; while `closed`, a write waits at the gate (a stalled disk).
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool closed = false;
  int waiting = 0;
  std::vector<std::string> writes;
  int syncs = 0;
  std::string fail_dir;  // writes into it fail

  void open() {
    std::lock_guard lock(mutex);
    closed = false;
    cv.notify_all();
  }
  void await_waiting(int n = 1) {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return waiting >= n; });
  }
  int now_waiting() {
    std::lock_guard lock(mutex);
    return waiting;
  }
  std::vector<std::string> recorded() {
    std::lock_guard lock(mutex);
    return writes;
  }
};

class GatedFiles final : public StateFiles {
 public:
  GatedFiles(std::shared_ptr<Gate> gate, std::string label = "")
      : gate_(std::move(gate)), label_(std::move(label)) {}
  tl::expected<bool, std::string> write(const std::string& dir, const std::string& router,
                                        Role role, bool) override {
    std::unique_lock lock(gate_->mutex);
    ++gate_->waiting;
    gate_->cv.notify_all();
    gate_->cv.wait(lock, [&] { return !gate_->closed; });
    --gate_->waiting;
    gate_->writes.push_back(label_ + router + "=" + std::string(role_name(role)));
    if (dir == gate_->fail_dir) return tl::unexpected(std::string("No space left on device"));
    return true;
  }
  void sync() override {
    std::lock_guard lock(gate_->mutex);
    ++gate_->syncs;
  }

 private:
  std::shared_ptr<Gate> gate_;
  std::string label_;
};

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// Takes results until `n` have come (each wait bounded: a hang fails the test).
std::vector<StateWriter::Result> collect(StateWriter& w, std::size_t n) {
  std::vector<StateWriter::Result> all;
  while (all.size() < n && readable(w.fd(), 5000))
    for (auto& r : w.take()) all.push_back(std::move(r));
  return all;
}

std::vector<std::string> summary(const std::vector<StateWriter::Result>& results) {
  std::vector<std::string> out;
  for (const auto& r : results)
    out.push_back(r.router + "#" + std::to_string(r.seq) + "=" + std::string(role_name(r.role)) +
                  (r.outcome ? "" : " failed: " + r.outcome.error()));
  return out;
}

// The entries of `router` (those that start with "router#" or "router="), in order.
std::vector<std::string> of(const std::string& router, const std::vector<std::string>& all) {
  std::vector<std::string> out;
  for (const auto& e : all)
    if (e.starts_with(router + "#") || e.starts_with(router + "=")) out.push_back(e);
  return out;
}

TEST(StateWriter, WritesTheFileOffTheCallingThreadAndSignalsTheResult) {
  char tmpl[] = "/tmp/havip-writer-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  StateWriter w(std::make_unique<FsStateFiles>(StateSync::deferred), StateWriter::Mode::threaded);
  EXPECT_FALSE(readable(w.fd(), 0));
  EXPECT_EQ(w.submit(dir, "r1", Role::primary), 1u);
  EXPECT_TRUE(w.busy());
  EXPECT_TRUE(w.pending_since("r1"));
  EXPECT_THAT(summary(collect(w, 1)), ElementsAre("r1#1=primary"));
  EXPECT_FALSE(w.busy());
  EXPECT_FALSE(w.pending_since("r1"));
  EXPECT_FALSE(readable(w.fd(), 0));  // taken: the eventfd is read empty
  std::ifstream in(dir + "/r1/state");
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_EQ(s.str(), "primary");
  fs::remove_all(dir);
}

TEST(StateWriter, AQueuedWriteIsReplacedByTheRoutersNewerOneAndOrderIsKept) {
  auto gate = std::make_shared<Gate>();
  gate->closed = true;
  StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::threaded);
  w.submit("/d", "r1", Role::primary);  // 1: being written, stalls
  gate->await_waiting();
  w.submit("/d", "r1", Role::backup);   // 2: queued
  w.submit("/d", "r2", Role::primary);  // 3: queued
  w.submit("/d", "r1", Role::primary);  // 4: replaces 2
  EXPECT_FALSE(readable(w.fd(), 50));   // the caller never waits for the disk
  gate->open();
  auto results = summary(collect(w, 3));
  EXPECT_THAT(results, UnorderedElementsAre("r1#1=primary", "r1#4=primary", "r2#3=primary"));
  EXPECT_THAT(of("r1", results), ElementsAre("r1#1=primary", "r1#4=primary"));
  auto written = gate->recorded();
  EXPECT_THAT(written, UnorderedElementsAre("r1=primary", "r1=primary", "r2=primary"));
  EXPECT_FALSE(w.busy());
}

TEST(StateWriter, WritesOfDifferentRoutersRunAtTheSameTime) {
  auto gate = std::make_shared<Gate>();
  gate->closed = true;
  StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::threaded);
  for (auto* r : {"r1", "r2", "r3", "r4"}) w.submit("/d", r, Role::primary);
  gate->await_waiting(4);  // all four stalled at once: one slow write holds up no other
  gate->open();
  EXPECT_THAT(summary(collect(w, 4)), UnorderedElementsAre("r1#1=primary", "r2#2=primary",
                                                            "r3#3=primary", "r4#4=primary"));
}

TEST(StateWriter, ARoutersNextWriteWaitsUntilItsLastOneIsDone) {
  auto gate = std::make_shared<Gate>();
  gate->closed = true;
  StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::threaded);
  w.submit("/d", "r1", Role::primary);  // 1: stalls
  gate->await_waiting(1);
  w.submit("/d", "r1", Role::backup);   // 2: must not start beside 1
  w.submit("/d", "r2", Role::backup);   // 3: may
  gate->await_waiting(2);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(gate->now_waiting(), 2);  // r1's second write did not start
  gate->open();
  auto results = summary(collect(w, 3));
  EXPECT_THAT(of("r1", results), ElementsAre("r1#1=primary", "r1#2=backup"));
  EXPECT_THAT(of("r1", gate->recorded()), ElementsAre("r1=primary", "r1=backup"));
}

// Many routers, each rewritten several times by the pool on a real directory:
// every file ends with the router's last role, and each router's results
// come in the order of its writes.
TEST(StateWriter, ABurstOfManyRoutersEndsWithEachRoutersLastRole) {
  char tmpl[] = "/tmp/havip-writer-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  StateWriter w(std::make_unique<FsStateFiles>(StateSync::deferred), StateWriter::Mode::threaded);
  constexpr int kRouters = 100, kRounds = 5;
  std::map<std::string, std::uint64_t> last_seq;
  for (int round = 0; round < kRounds; ++round)
    for (int i = 0; i < kRouters; ++i) {
      auto name = "r" + std::to_string(i);
      last_seq[name] = w.submit(dir, name, round % 2 ? Role::backup : Role::primary);
    }
  ASSERT_TRUE(w.wait(Clock::now() + 20s));
  std::map<std::string, std::uint64_t> seen;
  for (const auto& r : w.take()) {
    ASSERT_TRUE(r.outcome) << r.outcome.error();
    EXPECT_GT(r.seq, seen[r.router]) << r.router;  // a router's results in order
    seen[r.router] = r.seq;
  }
  EXPECT_EQ(seen, last_seq);  // the last write of every router completed
  EXPECT_FALSE(w.busy());
  for (int i = 0; i < kRouters; ++i) {
    std::ifstream in(dir + "/r" + std::to_string(i) + "/state");
    std::stringstream s;
    s << in.rdbuf();
    EXPECT_EQ(s.str(), kRounds % 2 ? "primary" : "backup") << i;
  }
  fs::remove_all(dir);
}

TEST(StateWriter, SyncsOnceTheQueueIsEmpty) {
  auto gate = std::make_shared<Gate>();
  gate->closed = true;
  StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::threaded);
  w.submit("/d", "r1", Role::primary);
  gate->await_waiting();
  for (auto* r : {"r2", "r3", "r4"}) w.submit("/d", r, Role::backup);
  gate->open();
  collect(w, 4);
  std::lock_guard lock(gate->mutex);
  EXPECT_EQ(gate->syncs, 1);  // once, after the batch: not after each write
}

TEST(StateWriter, AFailedWriteComesBackWithItsError) {
  auto gate = std::make_shared<Gate>();
  gate->fail_dir = "/full";
  StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::threaded);
  w.submit("/full", "r1", Role::backup);
  w.submit("/ok", "r2", Role::backup);
  EXPECT_THAT(summary(collect(w, 2)),
              UnorderedElementsAre("r1#1=backup failed: No space left on device", "r2#2=backup"));
}

TEST(StateWriter, PendingSinceTellsHowLongARouterHasWaited) {
  auto gate = std::make_shared<Gate>();
  gate->closed = true;
  StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::threaded);
  auto before = Clock::now();
  w.submit("/d", "r1", Role::primary);
  gate->await_waiting();
  w.submit("/d", "r1", Role::backup);
  auto since = w.pending_since("r1");
  ASSERT_TRUE(since);
  EXPECT_GE(*since, before);
  EXPECT_LE(*since, Clock::now());
  EXPECT_FALSE(w.pending_since("r2"));
  gate->open();
  collect(w, 2);
  EXPECT_FALSE(w.pending_since("r1"));
}

TEST(StateWriter, WaitGivesUpOnAStalledDiskAndTheDestructorDoesNotWaitForIt) {
  auto gate = std::make_shared<Gate>();
  gate->closed = true;
  auto t0 = Clock::now();
  {
    StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::threaded);
    w.submit("/d", "r1", Role::primary);
    gate->await_waiting();
    EXPECT_FALSE(w.wait(Clock::now() + 100ms));
  }  // destroyed while the write stalls
  EXPECT_LT(Clock::now() - t0, 3s);
  gate->open();  // the left-behind thread finishes and ends
}

TEST(StateWriter, WaitReturnsOnceEverythingIsWritten) {
  auto gate = std::make_shared<Gate>();
  StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::threaded);
  for (auto* r : {"r1", "r2", "r3"}) w.submit("/d", r, Role::primary);
  EXPECT_TRUE(w.wait(Clock::now() + 5s));
  EXPECT_EQ(gate->recorded().size(), 3u);
  EXPECT_EQ(collect(w, 3).size(), 3u);  // the results still come through take()
}

TEST(StateWriter, ReplacedFilesTakeOverForTheWritesThatFollow) {
  auto gate = std::make_shared<Gate>();
  StateWriter w(std::make_unique<GatedFiles>(gate, "old:"), StateWriter::Mode::threaded);
  w.submit("/d", "r1", Role::primary);
  ASSERT_TRUE(w.wait(Clock::now() + 5s));
  w.replace(std::make_unique<GatedFiles>(gate, "new:"));
  w.submit("/d", "r1", Role::backup);
  collect(w, 2);
  EXPECT_THAT(gate->recorded(), ElementsAre("old:r1=primary", "new:r1=backup"));
}

TEST(StateWriter, AReplacementWaitsForTheWritesInProgress) {
  auto gate = std::make_shared<Gate>();
  gate->closed = true;
  StateWriter w(std::make_unique<GatedFiles>(gate, "old:"), StateWriter::Mode::threaded);
  w.submit("/d", "r1", Role::primary);  // stalls, with the old files
  gate->await_waiting(1);
  w.replace(std::make_unique<GatedFiles>(gate, "new:"));
  w.submit("/d", "r2", Role::primary);  // neither beside it with the old, nor with the new
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(gate->now_waiting(), 1);
  gate->open();
  collect(w, 2);
  EXPECT_THAT(gate->recorded(), ElementsAre("old:r1=primary", "new:r2=primary"));
}

TEST(StateWriter, TheResultsOfABurstWakeTheLoopOnce) {
  auto gate = std::make_shared<Gate>();
  gate->closed = true;
  StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::threaded);
  for (auto* r : {"r1", "r2", "r3"}) w.submit("/d", r, Role::primary);
  gate->await_waiting(3);
  gate->open();
  ASSERT_TRUE(w.wait(Clock::now() + 5s));
  std::uint64_t count = 0;
  ASSERT_EQ(::read(w.fd(), &count, sizeof count), static_cast<ssize_t>(sizeof count));
  EXPECT_EQ(count, 1u);  // one eventfd write for the three results
  EXPECT_EQ(w.take().size(), 3u);
  EXPECT_FALSE(readable(w.fd(), 0));
  w.submit("/d", "r1", Role::backup);  // after a take(), the next result signals again
  EXPECT_EQ(collect(w, 1).size(), 1u);
}

TEST(StateWriter, InlineModeWritesInSubmitAndStillSignals) {
  auto gate = std::make_shared<Gate>();
  StateWriter w(std::make_unique<GatedFiles>(gate), StateWriter::Mode::inline_);
  w.submit("/d", "r1", Role::primary);
  EXPECT_THAT(gate->recorded(), ElementsAre("r1=primary"));
  EXPECT_TRUE(readable(w.fd(), 0));
  EXPECT_THAT(summary(w.take()), ElementsAre("r1#1=primary"));
  EXPECT_FALSE(w.busy());
}

}  // namespace
}  // namespace havip
