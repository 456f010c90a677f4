#include "effects/state_writer.h"

#include <malloc.h>
#include <semaphore.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/unique_fd.h"

namespace havip {

// Co-owned by the writer threads: at shutdown a thread stuck in a write is
// left behind (detached) with everything it touches.
//
// A small pool writes the files of different routers at the same time. On a
// real disk a state file's time is mostly spent waiting: ext4 allocates an
// inode for the temp file, and the rename frees the replaced one (truncate,
// freeing its block and, when mounted with `discard`, a discard the thread
// waits for). One thread did 1,000 of them one after the other: 280–600 ms.
// Routers' files are in directories of their own, so their writes do not
// contend. A router's next write is not started before its last one is done:
// the order of a router's writes is kept.
struct StateWriter::Shared {
  // At most this many writes at once (threads started with the writer, that
  // wait without waking up for the next burst). 4, 8 and 16
  // were measured (docs/BENCHMARKS.md): 8 and 16 gave a little more on a
  // 2-CPU VM, but 2–4 MiB more RSS in a flap storm (writes in flight).
  static constexpr std::size_t kMaxThreads = 4;

  struct Job {
    std::string dir;
    Role role;
    std::uint64_t seq;
    bool create_dir;
  };
  std::mutex mutex;
  // Posted when a write may start. A semaphore, not a condition variable:
  // sem_post never blocks the loop, while glibc's pthread_cond_signal can wait
  // for earlier waiters that have not woken up yet (threads stopped, as the
  // stalled-disk tests stop them). Extra posts only wake a thread for nothing.
  sem_t wake;
  std::condition_variable idle;  // for wait(): nothing queued or being written
  std::map<std::string, Job> queued;  // by router: not started yet, the newest wins
  std::deque<std::string> order;      // routers of `queued`, first submitted first
  std::set<std::string> writing;      // routers whose write is in progress
  std::vector<Result> done;           // not taken yet
  bool signalled = false;             // the eventfd was written since the last take()
  bool stopping = false;
  std::unique_ptr<StateFiles> files;
  std::unique_ptr<StateFiles> next_files;  // replace(): taken once no write is in progress
  // A thread is syncing the old files before the swap (with the lock
  // released): the others leave the swap to it. Two threads swapping at
  // once freed the new files under a write (ASan, StateWriter unit test).
  bool swapping = false;
  UniqueFd event;

  Shared() { ::sem_init(&wake, 0, 0); }
  ~Shared() { ::sem_destroy(&wake); }
  void wake_writers(std::size_t n = 1) {
    for (std::size_t i = 0; i < n; ++i) ::sem_post(&wake);
  }

  void wake_loop() {
    std::uint64_t one = 1;
    // Only EAGAIN (the counter at its maximum) can fail here: still readable.
    [[maybe_unused]] auto n = ::write(event.get(), &one, sizeof one);
  }

  bool all_done() const { return order.empty() && writing.empty(); }

  // The first queued router whose previous write is done (order().end():
  // none). At most kMaxThreads are skipped.
  std::deque<std::string>::iterator startable() {
    if (next_files) return order.end();  // the swap waits for the writes in progress
    return std::find_if(order.begin(), order.end(),
                        [&](const std::string& r) { return !writing.contains(r); });
  }

  // One write, then (with nothing queued or being written) the batch handed
  // on to be synced.
  void write_one(Job job, const std::string& router, std::unique_lock<std::mutex>& lock) {
    writing.insert(router);
    lock.unlock();
    auto outcome = files->write(job.dir, router, job.role, job.create_dir);
    lock.lock();
    // The last write of a burst syncs while it still counts as in progress:
    // a replace() swaps `files` only once nothing is, never under a sync.
    if (order.empty() && writing.size() == 1) {
      lock.unlock();
      files->sync();
      lock.lock();
    }
    writing.erase(router);
    done.push_back(Result{router, job.seq, job.role, std::move(job.dir), std::move(outcome)});
    if (!signalled) {  // once per take(): a burst's results wake the loop once, not 1,000 times
      signalled = true;
      wake_loop();
    }
    if (all_done()) idle.notify_all();
    // This thread looks for more work itself; another one is woken for the
    // router's newer write that may have waited for this one.
    if (!order.empty()) wake_writers();
  }

  void run() {
    for (;;) {
      while (::sem_wait(&wake) != 0 && errno == EINTR) {
      }
      std::unique_lock lock(mutex);
      for (;;) {  // every write that may start, then wait again
        if (stopping) return;
        if (next_files && writing.empty() && !swapping) {
          swapping = true;
          lock.unlock();
          files->sync();
          lock.lock();
          swapping = false;
          files = std::move(next_files);  // the newest, if replace() came again meanwhile
          wake_writers(kMaxThreads);  // the writes held back by the swap
          continue;
        }
        auto it = startable();
        if (it == order.end()) break;
        std::string router = std::move(*it);
        order.erase(it);
        auto node = queued.extract(router);
        write_one(std::move(node.mapped()), router, lock);
      }
    }
  }
};

StateWriter::StateWriter(std::unique_ptr<StateFiles> files, Mode mode)
    : mode_(mode), shared_(std::make_shared<Shared>()) {
  shared_->files = std::move(files);
  shared_->event = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!shared_->event)
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  // All at once, so that they are there (as ps -L shows them) before any
  // burst, and a stalled disk stalls each of them: they wait without waking up.
  if (mode_ == Mode::threaded) {
    // One malloc arena for every thread (before any is started): glibc would
    // give each writer thread an arena of its own, and their results and
    // paths, freed by other threads, left each one holding free memory that
    // the process kept: +2 MiB RSS in a flap storm (tests/kernel/
    // test_faults.py). havipd's threads allocate little and rarely at once.
    ::mallopt(M_ARENA_MAX, 1);
    for (std::size_t i = 0; i < Shared::kMaxThreads; ++i)
      start_helper_thread("havip-state", [s = shared_] { s->run(); }).detach();
  }
}

StateWriter::~StateWriter() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;  // what is still queued is not written
  }
  shared_->wake_writers(Shared::kMaxThreads);
}

std::uint64_t StateWriter::submit(const std::string& dir, const std::string& router, Role role,
                                  bool create_dir) {
  std::uint64_t seq = next_seq_++;
  auto [it, fresh] = pending_.try_emplace(router, Pending{seq, Clock::now()});
  it->second.seq = seq;
  auto& s = *shared_;
  std::unique_lock lock(s.mutex);
  if (mode_ == Mode::inline_) {  // nothing is ever queued
    s.write_one(Shared::Job{dir, role, seq, create_dir}, router, lock);
    return seq;
  }
  if (s.queued.insert_or_assign(router, Shared::Job{dir, role, seq, create_dir}).second)
    s.order.push_back(router);
  lock.unlock();
  s.wake_writers();
  return seq;
}

void StateWriter::replace(std::unique_ptr<StateFiles> files) {
  auto& s = *shared_;
  std::lock_guard lock(s.mutex);
  if (mode_ == Mode::inline_)
    s.files = std::move(files);
  else
    s.next_files = std::move(files);
  s.wake_writers();
}

int StateWriter::fd() const { return shared_->event.get(); }

std::vector<StateWriter::Result> StateWriter::take() {
  std::uint64_t count;
  [[maybe_unused]] auto n = ::read(shared_->event.get(), &count, sizeof count);
  std::vector<Result> out;
  {
    std::lock_guard lock(shared_->mutex);
    out.swap(shared_->done);
    shared_->signalled = false;  // after the read: a result from now on writes the eventfd again
  }
  for (const auto& r : out) {
    auto it = pending_.find(r.router);
    if (it == pending_.end()) continue;
    if (it->second.seq <= r.seq)
      pending_.erase(it);
    else
      it->second.since = Clock::now();  // a newer write follows: pending since this result

  }
  return out;
}

std::optional<TimePoint> StateWriter::pending_since(const std::string& router) const {
  auto it = pending_.find(router);
  if (it == pending_.end()) return std::nullopt;
  return it->second.since;
}

bool StateWriter::wait(TimePoint until) {
  auto& s = *shared_;
  std::unique_lock lock(s.mutex);
  return s.idle.wait_until(lock, until, [&] { return s.all_done(); });
}

}  // namespace havip
