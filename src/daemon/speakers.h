// The keepalived VRRP process ("speaker") behind each router: found from a
// pid file (Neutron's, or the router's speaker_pid_file) or by looking for
// the keepalived process that holds a VRRP socket in the router's namespace,
// then watched through a pidfd, so its death is seen at once and without
// polling. Only while a router's speaker is not found is it looked for again,
// once a second (keepalived restarting, or not started yet).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tl/expected.hpp>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/events.h"
#include "core/unique_fd.h"

struct sd_event;
struct sd_event_source;

namespace havip {

class Speakers {
 public:
  // How the system is asked (the real one: netns/speaker.h).
  struct Io {
    // netns inode -> pid of the keepalived VRRP process in it.
    std::function<std::unordered_map<std::uint64_t, pid_t>()> scan;
    std::function<tl::expected<pid_t, std::string>(const std::string& path)> from_pid_file;
    // The inode of a namespace havipd has open; nullopt if it is not open (yet).
    std::function<std::optional<std::uint64_t>(const std::string& netns)> netns_inode;
    std::function<tl::expected<UniqueFd, std::string>(pid_t)> open_pidfd;
  };
  using Feed = std::function<void(Event&&)>;
  static constexpr Millis kRescan{1000};

  Speakers(sd_event* loop, Io io, Feed feed);
  ~Speakers();
  Speakers(const Speakers&) = delete;
  Speakers& operator=(const Speakers&) = delete;

  // The routers whose speaker is tracked (track_speaker); looks at once.
  void configure(const std::vector<RouterConfig>& routers, TimePoint now);
  // Looks again for every speaker not found, if due.
  void tick(TimePoint now);
  std::optional<TimePoint> deadline() const;

 private:
  struct Tracked {
    std::string netns;
    std::string pid_file;  // empty: look in the namespace
    pid_t pid = 0;         // 0: not found
    bool said_missing = false;
    std::string missing;  // why, as last said
  };
  struct Watch {
    UniqueFd pidfd;
    sd_event_source* source = nullptr;
    std::set<std::string> routers;
  };
  static int on_exit(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  void exited(pid_t pid);
  void look(TimePoint now);
  bool watch(pid_t pid, const std::string& router);
  void unwatch(pid_t pid, const std::string& router);

  sd_event* loop_;
  Io io_;
  Feed feed_;
  std::map<std::string, Tracked> routers_;
  std::map<pid_t, Watch> watches_;
  std::optional<TimePoint> next_look_;
};

}  // namespace havip
