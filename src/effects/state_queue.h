// What the pipeline needs of the state file writer: numbered writes whose
// results come back later, in order. StateWriter (a thread of its own) is the
// real one; the scenario tests complete writes when they say so.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "effects/state_writer.h"

namespace havip {

class StateQueue {
 public:
  using Result = StateWriter::Result;
  virtual ~StateQueue() = default;
  // Queues "`dir`/`router`/state says `role`"; returns the write's number (> 0).
  virtual std::uint64_t submit(const std::string& dir, const std::string& router, Role role,
                               bool create_dir) = 0;
  // The results so far, in the order the writes were done.
  virtual std::vector<Result> take() = 0;
  // Since when `router` has waited for a write (nullopt: none pending).
  virtual std::optional<TimePoint> pending_since(const std::string& router) const = 0;
  // Whether any write has not completed.
  virtual bool busy() const = 0;
};

// The real queue: StateWriter, whose fd() the event loop watches.
class StateWriterQueue final : public StateQueue {
 public:
  explicit StateWriterQueue(std::unique_ptr<StateWriter> writer) : writer_(std::move(writer)) {}
  std::uint64_t submit(const std::string& dir, const std::string& router, Role role,
                       bool create_dir) override {
    return writer_->submit(dir, router, role, create_dir);
  }
  std::vector<Result> take() override { return writer_->take(); }
  std::optional<TimePoint> pending_since(const std::string& router) const override {
    return writer_->pending_since(router);
  }
  bool busy() const override { return writer_->busy(); }
  StateWriter& writer() { return *writer_; }

 private:
  std::unique_ptr<StateWriter> writer_;
};

}  // namespace havip
