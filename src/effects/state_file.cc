#include "effects/state_file.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "effects/atomic_file.h"

namespace havip {

namespace {
constexpr const char* kFinal = "state";
}  // namespace

struct FsStateFiles::Syncer {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<UniqueFd> queue;
  bool busy = false;
  bool stopping = false;
  std::thread thread = start();

  // The thread blocks every signal (it inherits the mask it is created
  // with), so that SIGTERM and friends reach the event loop's signalfd.
  std::thread start() {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    std::thread t([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return t;
  }

  ~Syncer() {
    {
      std::lock_guard lock(mutex);
      stopping = true;  // what is queued is dropped: shutdown does not wait for a disk
    }
    cv.notify_all();
    thread.join();
  }

  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (stopping) return;
      auto batch = std::move(queue);
      queue.clear();
      busy = true;
      lock.unlock();
      // After a mass failover one syncfs is far cheaper than an fsync per
      // file and directory; a few files are synced one by one.
      constexpr std::size_t kSyncfsAbove = 32;
      if (batch.size() > kSyncfsAbove)
        ::syncfs(batch.front().get());
      else
        for (auto& fd : batch) ::fsync(fd.get());
      batch.clear();
      lock.lock();
      busy = false;
      cv.notify_all();
    }
  }
};

FsStateFiles::FsStateFiles(StateSync mode) : mode_(mode) {
  if (mode_ == StateSync::deferred) syncer_ = std::make_unique<Syncer>();
}

FsStateFiles::~FsStateFiles() = default;

std::string FsStateFiles::path_of(const std::string& dir, const std::string& router) {
  return dir + "/" + router + "/" + kFinal;
}

tl::expected<void, std::string> FsStateFiles::write(const std::string& base,
                                                    const std::string& router, Role role) {
  auto dir = open_subdir(base, router);
  if (!dir) return tl::unexpected(dir.error());
  auto written = write_atomic(dir->get(), base + "/" + router, kFinal, role_name(role),
                              mode_ == StateSync::inline_);
  if (!written) return tl::unexpected(written.error());
  if (mode_ == StateSync::deferred) {
    unsynced_.push_back(std::move(written->file));
    unsynced_.push_back(std::move(*dir));
  }
  return {};
}

void FsStateFiles::sync() {
  if (!syncer_ || unsynced_.empty()) return;
  {
    std::lock_guard lock(syncer_->mutex);
    for (auto& fd : unsynced_) syncer_->queue.push_back(std::move(fd));
  }
  unsynced_.clear();
  syncer_->cv.notify_all();
}

void FsStateFiles::wait_synced() {
  if (!syncer_) return;
  std::unique_lock lock(syncer_->mutex);
  syncer_->cv.wait(lock, [&] { return syncer_->queue.empty() && !syncer_->busy; });
}

}  // namespace havip
