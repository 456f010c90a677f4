#include "effects/state_file.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "effects/atomic_file.h"

namespace havip {

namespace {
constexpr const char* kFinal = "state";
}  // namespace

// The sync thread works on paths, not on descriptors kept from the write: the
// newest file at a path is what must be durable, a renamed-over one never is,
// and a queue of paths is bounded by the number of routers however long an
// fsync stalls (held descriptors would pile up, two per write).
struct FsStateFiles::Syncer {
  struct Shared {
    std::mutex mutex;
    std::condition_variable cv;
    std::set<std::string> queue;  // files and directories ("…/" ends a directory)
    bool busy = false;
    bool stopping = false;
  };
  // Co-owned by the thread: at shutdown a thread stuck in an fsync is left
  // behind (detached) instead of holding up the exit.
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::thread thread = start();

  std::thread start() {
    return start_helper_thread("havip-fsync", [s = shared] { run(*s); });
  }

  ~Syncer() {
    {
      std::lock_guard lock(shared->mutex);
      shared->stopping = true;  // what is queued is dropped: shutdown does not wait for a disk
    }
    shared->cv.notify_all();
    // Not joined: a thread inside an fsync of a stalled disk must not hold up
    // the exit. It co-owns what it uses and returns as soon as it wakes.
    thread.detach();
  }

  static UniqueFd open_for_sync(const std::string& path) {
    bool dir = path.ends_with('/');
    return UniqueFd(::open(path.c_str(),
                           O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (dir ? O_DIRECTORY : 0)));
  }

  static void run(Shared& s) {
    std::unique_lock lock(s.mutex);
    for (;;) {
      s.cv.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
      if (s.stopping) return;
      auto batch = std::move(s.queue);
      s.queue.clear();
      s.busy = true;
      lock.unlock();
      // After a mass failover one syncfs is far cheaper than an fsync per
      // file and directory; a few files are synced one by one. A path gone
      // meanwhile (router removed) needs nothing.
      constexpr std::size_t kSyncfsAbove = 32;
      if (batch.size() > kSyncfsAbove) {
        for (const auto& path : batch)
          if (auto fd = open_for_sync(path)) {
            ::syncfs(fd.get());
            break;
          }
      } else {
        for (const auto& path : batch)
          if (auto fd = open_for_sync(path)) ::fsync(fd.get());
      }
      lock.lock();
      s.busy = false;
      s.cv.notify_all();
    }
  }
};

std::thread start_helper_thread(const char* name, std::function<void()> body) {
  struct BlockAll {  // the new thread inherits the mask; restored even if it throws
    sigset_t old;
    BlockAll() {
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old);
    }
    ~BlockAll() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
  } blocked;
  return std::thread([name, body = std::move(body)] {
    pthread_setname_np(pthread_self(), name);
    body();
  });
}

FsStateFiles::FsStateFiles(StateSync mode) : mode_(mode) {
  if (mode_ == StateSync::deferred) syncer_ = std::make_unique<Syncer>();
}

FsStateFiles::~FsStateFiles() = default;

std::string FsStateFiles::path_of(const std::string& dir, const std::string& router) {
  return dir + "/" + router + "/" + kFinal;
}

tl::expected<bool, std::string> FsStateFiles::write(const std::string& base,
                                                    const std::string& router, Role role,
                                                    bool create_dir) {
  auto dir = open_subdir(base, router, create_dir);
  if (!dir) return tl::unexpected(dir.error());
  if (!*dir) return false;  // gone, and not ours to create
  std::string where = base + "/" + router + "/";
  // The first write of a file (at start-up, after a reload) leaves a file
  // that already says the role as it is: a restart with 1,000 VIPs present
  // creates and renames nothing (each costs an inode and, on a busy disk,
  // waits for it). Not in inline mode, whose file must be durable once written.
  bool first;
  {
    std::lock_guard lock(unsynced_mutex_);
    first = known_.insert(where).second;
  }
  if (!(first && mode_ != StateSync::inline_ && already_holds(dir->get(), kFinal, role_name(role)))) {
    auto written = write_atomic(dir->get(), base + "/" + router, kFinal, role_name(role),
                                mode_ == StateSync::inline_);
    if (!written) {
      std::lock_guard lock(unsynced_mutex_);
      known_.erase(where);  // checked again next time
      return tl::unexpected(written.error());
    }
  }
  if (mode_ == StateSync::deferred) {  // a file left as it was is synced too: it may not be yet
    std::lock_guard lock(unsynced_mutex_);
    unsynced_.insert(where + kFinal);
    unsynced_.insert(where);
  }
  return true;
}

void FsStateFiles::sync() {
  if (!syncer_) return;
  auto& shared = *syncer_->shared;
  {
    std::lock_guard mine(unsynced_mutex_);
    if (unsynced_.empty()) return;
    std::lock_guard lock(shared.mutex);
    shared.queue.merge(unsynced_);
    unsynced_.clear();
  }
  shared.cv.notify_all();
}

void FsStateFiles::wait_synced() {
  if (!syncer_) return;
  auto& shared = *syncer_->shared;
  std::unique_lock lock(shared.mutex);
  shared.cv.wait(lock, [&] { return shared.queue.empty() && !shared.busy; });
}
}  // namespace havip
