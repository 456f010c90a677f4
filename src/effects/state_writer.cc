#include "effects/state_writer.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/unique_fd.h"

namespace havip {

// Co-owned by the writer thread: at shutdown a thread stuck in a write is
// left behind (detached) with everything it touches.
struct StateWriter::Shared {
  struct Job {
    std::string dir;
    Role role;
    std::uint64_t seq;
    bool create_dir;
  };
  std::mutex mutex;
  std::condition_variable cv;
  std::map<std::string, Job> queued;  // by router: not started yet, the newest wins
  std::deque<std::string> order;      // routers of `queued`, first submitted first
  std::vector<Result> done;           // not taken yet
  std::size_t in_progress = 0;
  bool stopping = false;
  std::unique_ptr<StateFiles> files;
  std::unique_ptr<StateFiles> next_files;  // replace(): taken between two writes
  UniqueFd event;

  void wake_loop() {
    std::uint64_t one = 1;
    // Only EAGAIN (the counter at its maximum) can fail here: still readable.
    [[maybe_unused]] auto n = ::write(event.get(), &one, sizeof one);
  }

  // One write, then (with nothing queued) the batch handed on to be synced.
  void write_one(Job job, const std::string& router, std::unique_lock<std::mutex>& lock) {
    ++in_progress;
    lock.unlock();
    auto outcome = files->write(job.dir, router, job.role, job.create_dir);
    lock.lock();
    bool last = order.empty();
    if (last) {
      lock.unlock();
      files->sync();
      lock.lock();
    }
    done.push_back(Result{router, job.seq, job.role, std::move(job.dir), std::move(outcome)});
    --in_progress;
    wake_loop();
    cv.notify_all();
  }

  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      cv.wait(lock, [&] { return stopping || !order.empty(); });
      if (stopping) return;
      if (next_files) {
        lock.unlock();
        files->sync();
        lock.lock();
        files = std::move(next_files);
      }
      std::string router = std::move(order.front());
      order.pop_front();
      auto node = queued.extract(router);
      write_one(std::move(node.mapped()), router, lock);
    }
  }
};

StateWriter::StateWriter(std::unique_ptr<StateFiles> files, Mode mode)
    : mode_(mode), shared_(std::make_shared<Shared>()) {
  shared_->files = std::move(files);
  shared_->event = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!shared_->event)
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  if (mode_ == Mode::threaded)
    start_helper_thread("havip-state", [s = shared_] { s->run(); }).detach();
}

StateWriter::~StateWriter() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;  // what is still queued is not written
  }
  shared_->cv.notify_all();
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
  s.cv.notify_all();
  return seq;
}

void StateWriter::replace(std::unique_ptr<StateFiles> files) {
  auto& s = *shared_;
  std::lock_guard lock(s.mutex);
  if (mode_ == Mode::inline_)
    s.files = std::move(files);
  else
    s.next_files = std::move(files);
}

int StateWriter::fd() const { return shared_->event.get(); }

std::vector<StateWriter::Result> StateWriter::take() {
  std::uint64_t count;
  [[maybe_unused]] auto n = ::read(shared_->event.get(), &count, sizeof count);
  std::vector<Result> out;
  {
    std::lock_guard lock(shared_->mutex);
    out.swap(shared_->done);
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
  return s.cv.wait_until(lock, until, [&] { return s.order.empty() && s.in_progress == 0; });
}

}  // namespace havip
