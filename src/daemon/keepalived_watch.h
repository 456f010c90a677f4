// Routers from keepalived.conf ([keepalived] config), followed live: every
// directory holding a file read (the main file, its includes) or a glob
// pattern is watched with inotify, and any change there re-reads the whole
// set after a short settling delay (an editor's save, a configuration
// manager writing several files). A set that reads and completes well
// replaces the last one (the routers that did not change are untouched, as
// for a reload: Engine::reconfigure compares them); one that does not is
// reported with its file and line, once, and the last good set stays.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "config/keepalived_conf.h"
#include "config/keepalived_routers.h"
#include "core/config.h"
#include "core/unique_fd.h"

struct sd_event;
struct sd_event_source;

namespace havip {

// Reads every keepalived.conf of `config` and completes their routers (what
// the daemon does at start and on reload, and --check-config).
struct KeepalivedRead {
  std::vector<keepalived::Conf> confs;  // one per config.keepalived entry
  KeepalivedRouters routers;
  std::size_t instances() const;
  std::string files() const;  // "A, B": the main files, for messages
};
tl::expected<KeepalivedRead, std::vector<std::string>> read_keepalived_routers(
    const Config& config);

class KeepalivedWatch {
 public:
  // How long after the last change in a watched directory the files are read.
  static constexpr std::uint64_t kSettleUsec = 200'000;

  // `changed`: the set of routers changed (the daemon applies them).
  KeepalivedWatch(sd_event* loop, std::function<void()> changed);
  ~KeepalivedWatch();
  KeepalivedWatch(const KeepalivedWatch&) = delete;
  KeepalivedWatch& operator=(const KeepalivedWatch&) = delete;

  // Takes a set read for `config` (start, reload) and watches its files.
  void use(const Config& config, KeepalivedRead read);
  const std::vector<RouterConfig>& routers() const { return read_.routers.routers; }
  // Reads the files again (a change settled).
  void reread();

 private:
  static int on_inotify(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  static int on_settled(sd_event_source* s, std::uint64_t usec, void* self);
  void watch_dirs();
  void log_skipped(const std::vector<std::string>& skipped);

  sd_event* loop_;
  std::function<void()> changed_;
  Config config_;  // its [keepalived], [daemon] and attached routers
  KeepalivedRead read_;
  UniqueFd inotify_;
  sd_event_source* io_ = nullptr;
  sd_event_source* settle_ = nullptr;
  std::set<std::string> dirs_;     // watched
  std::string last_error_;         // said once until it changes
  std::set<std::string> skipped_;  // said once
};

}  // namespace havip
