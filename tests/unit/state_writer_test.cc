// The state writer: writes off the loop thread, in order per router, the
// newest queued write of a router replacing an older one, results numbered
// and signalled on an eventfd, and a stalled disk never holding up the loop.
#include <poll.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "effects/state_writer.h"

namespace havip {
namespace {

using ::testing::ElementsAre;
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
  void await_waiting() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return waiting > 0; });
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
  w.submit("/d", "r1", Role::primary);  // 4: replaces 2, keeps r1's place before r2
  EXPECT_FALSE(readable(w.fd(), 50));   // the caller never waits for the disk
  gate->open();
  EXPECT_THAT(summary(collect(w, 3)),
              ElementsAre("r1#1=primary", "r1#4=primary", "r2#3=primary"));
  EXPECT_THAT(gate->recorded(), ElementsAre("r1=primary", "r1=primary", "r2=primary"));
  EXPECT_FALSE(w.busy());
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
              ElementsAre("r1#1=backup failed: No space left on device", "r2#2=backup"));
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
