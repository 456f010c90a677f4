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
  std::map<std::string, UniqueFd> queue;  // by path: the newest inode of each
  std::vector<UniqueFd> obsolete;         // to close, not to sync
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
      cv.wait(lock, [&] { return stopping || !queue.empty() || !obsolete.empty(); });
      if (stopping) return;
      auto closing = std::move(obsolete);
      obsolete.clear();
      std::vector<UniqueFd> batch;
      batch.reserve(queue.size());
      for (auto& [path, fd] : queue) batch.push_back(std::move(fd));
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
      closing.clear();
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
    std::string where = base + "/" + router + "/";
    for (auto [key, fd] : {std::pair{where + kFinal, &written->file}, std::pair{where, &*dir}}) {
      UniqueFd& slot = unsynced_[key];
      if (slot) obsolete_.push_back(std::move(slot));
      slot = std::move(*fd);
    }
  }
  return {};
}

void FsStateFiles::sync() {
  if (!syncer_ || (unsynced_.empty() && obsolete_.empty())) return;
  {
    std::lock_guard lock(syncer_->mutex);
    for (auto& [path, fd] : unsynced_) {
      UniqueFd& slot = syncer_->queue[path];
      if (slot) syncer_->obsolete.push_back(std::move(slot));
      slot = std::move(fd);
    }
    for (auto& fd : obsolete_) syncer_->obsolete.push_back(std::move(fd));
    obsolete_.clear();
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
