// Writes each router's keepalived track_file (DESIGN.md §3.14): the value
// core/track.h decides from the router's role, its failing effects and
// whether it is drained, as keepalived reads it ("<value>\n").
//
// * Every configured track file is written once at start (a value left by a
//   havipd that crashed is replaced), then whenever its value changes.
// * Written atomically: a temp file in the same directory renamed over it
//   (keepalived watches the directory with inotify and reads the file on
//   IN_MOVED_TO as on IN_CLOSE_WRITE); the file itself is never followed if
//   it is a symlink. A missing parent directory is created (0755).
// * A failed write is reported (effect "track_file") and retried with
//   backoff; it never holds up another router.
// * A router removed from the configuration (or given another track_file)
//   has its old file written 0 and left in place: keepalived goes on reading
//   it, and 0 gives the router back to VRRP.
// * Drained routers (havipctl drain) hold the failure value until undrained;
//   the set itself is persisted by the daemon (daemon/drained_set.h).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "core/backoff.h"
#include "core/config.h"
#include "core/track.h"
#include "effects/observer.h"

namespace havip {

class TrackFiles {
 public:
  // Replaces the file at `path` by `content`; the error says what failed.
  using WriteFn = std::function<tl::expected<void, std::string>(const std::string& path,
                                                                const std::string& content)>;
  struct Inputs {
    std::function<Role(const std::string& router)> role;
    std::function<std::vector<std::string>(const std::string& router)> unhealthy;
  };
  // The outcome of a drain or undrain, not applied yet: `next` is the new set.
  struct DrainChange {
    std::set<std::string> next;
    std::vector<std::string> routers;  // drained (undrained) by it
    std::vector<std::string> skipped;  // "all": routers without a track_file
  };

  TrackFiles(WriteFn write, Observer& observer);

  void configure(const std::vector<RouterConfig>& routers);
  // Decides every tracked router's value now and writes what changed.
  void update(const Inputs& in, TimePoint now);
  std::optional<TimePoint> deadline() const;

  // `names` empty: every router with a track_file. An unknown name, or one
  // without a track_file, is an error naming it.
  tl::expected<DrainChange, std::string> drain(const std::vector<std::string>& names) const;
  // `names` empty: every drained router (known or not).
  tl::expected<DrainChange, std::string> undrain(const std::vector<std::string>& names) const;
  // Names not configured (yet) are kept: a router read from keepalived.conf
  // or Neutron appears later.
  void set_drained(std::set<std::string> routers) { drained_ = std::move(routers); }
  const std::set<std::string>& drained() const { return drained_; }

  // The router's verdict; nullptr without a track_file.
  const TrackVerdict* verdict(const std::string& router) const;
  // The last write of its file failed (waiting for a retry).
  bool write_failing(const std::string& router) const { return retry_.contains(router); }

 private:
  struct Entry {
    RouterConfig config;
    TrackDecision decision;
    std::optional<int> on_disk;               // what was written last; none: to be written
    std::optional<TrackVerdict::State> said;  // the state last logged
    unsigned failures = 0;
  };

  void write(Entry& e, int value, TimePoint now);
  void say(Entry& e, const TrackVerdict& v);

  WriteFn write_;
  Observer& observer_;
  std::map<std::string, Entry> routers_;  // those with a track_file
  std::set<std::string> untracked_;       // configured without one
  std::set<std::string> drained_;
  Backoff retry_;
};

// The real WriteFn: atomic, parent directory created, no fsync (havipd
// writes every file again at its next start).
tl::expected<void, std::string> write_track_file(const std::string& path,
                                                 const std::string& content);

}  // namespace havip
