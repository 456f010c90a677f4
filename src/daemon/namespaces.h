// The namespaces havipd listens to: one monitor per namespace the routers
// are in, opened when wanted, retried with backoff while its file exists but
// cannot be entered yet, dropped when the namespace is deleted (its routers
// become unknown) and re-opened when it appears again. The daemon tells it
// what is wanted and what the netns directory saw; the events the monitors
// read go to `feed`, as does NetnsGone for a namespace lost.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "core/backoff.h"
#include "core/events.h"

namespace havip {

class Namespaces {
 public:
  // One namespace's event source (NetnsMonitor; a fake in the tests).
  class Monitor {
   public:
    virtual ~Monitor() = default;
    // The namespace, for effects that must enter it (sysctls, children).
    virtual int ns_fd() const = 0;
  };
  using Feed = std::function<void(Event&&)>;
  struct Io {
    // Whether the namespace's file exists ("" is the host's: always).
    std::function<bool(const std::string& netns)> exists;
    // Opens the namespace and starts its monitor; events go to the sink
    // (NetnsGone from a monitor that lost its namespace is passed on too).
    std::function<tl::expected<std::unique_ptr<Monitor>, std::string>(const std::string& netns,
                                                                     Feed sink)>
        open;
  };

  Namespaces(Io io, Feed feed);

  // Opens what is wanted and not open yet, closes what is not wanted.
  void want(const std::set<std::string>& wanted, TimePoint now);
  // The netns directory saw `name` appear or go.
  void appeared(const std::string& name, TimePoint now);
  void deleted(const std::string& name);
  // Every wanted namespace is looked up again, whatever the events said
  // (the directory was replaced, or inotify lost events).
  void rescan(const std::set<std::string>& wanted, TimePoint now);
  // A namespace dropped for `reason` (logged; its routers become unknown).
  void drop(const std::string& name, const std::string& reason);
  void drop_all(const std::string& reason);
  // After a dispatch: monitors that lost their namespace are destroyed and retried.
  void reap(TimePoint now);
  // Retries due now.
  void retry(TimePoint now);
  std::optional<TimePoint> deadline() const { return retry_.next(); }
  // No more events: every monitor is closed (shutdown).
  void close();

  int ns_fd(const std::string& name) const;
  bool watching(const std::string& name) const { return monitors_.contains(name); }
  std::vector<std::string> watched() const;
  std::size_t size() const { return monitors_.size(); }

 private:
  void open(const std::string& name, TimePoint now);

  Io io_;
  Feed feed_;
  std::set<std::string> wanted_;
  std::map<std::string, std::unique_ptr<Monitor>> monitors_;
  std::set<std::string> dead_;  // to destroy after the current dispatch
  Backoff retry_;  // namespaces whose file exists but is not mounted yet
};

// "the host namespace" or "namespace NAME", for log lines.
std::string netns_label(const std::string& netns);

}  // namespace havip
