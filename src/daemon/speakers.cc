#include "daemon/speakers.h"

#include <sys/epoll.h>
#include <systemd/sd-event.h>

#include "log/logging.h"

namespace havip {

Speakers::Speakers(sd_event* loop, Io io, Feed feed)
    : loop_(loop), io_(std::move(io)), feed_(std::move(feed)) {}

Speakers::~Speakers() {
  for (auto& [pid, w] : watches_) sd_event_source_disable_unref(w.source);
}

void Speakers::configure(const std::vector<RouterConfig>& routers, TimePoint now) {
  std::map<std::string, Tracked> next;
  for (const auto& r : routers) {
    if (!r.track_speaker) continue;
    Tracked t;
    t.netns = r.netns;
    t.pid_file = r.speaker_pid_file;
    auto it = routers_.find(r.name);
    if (it != routers_.end() && it->second.netns == t.netns && it->second.pid_file == t.pid_file)
      t = std::move(it->second);  // the same process: still watched
    next.emplace(r.name, std::move(t));
  }
  for (const auto& [name, old] : routers_) {
    auto it = next.find(name);
    if (old.pid && (it == next.end() || it->second.pid != old.pid)) unwatch(old.pid, name);
  }
  routers_ = std::move(next);
  look(now);
}

bool Speakers::watch(pid_t pid, const std::string& router) {
  auto it = watches_.find(pid);
  if (it == watches_.end()) {
    auto fd = io_.open_pidfd(pid);
    if (!fd) return false;  // gone meanwhile
    Watch w;
    w.pidfd = std::move(*fd);
    if (loop_ && sd_event_add_io(loop_, &w.source, w.pidfd.get(), EPOLLIN, on_exit, this) < 0)
      return false;
    if (w.source) sd_event_source_set_description(w.source, "keepalived");
    it = watches_.emplace(pid, std::move(w)).first;
  }
  it->second.routers.insert(router);
  return true;
}

void Speakers::unwatch(pid_t pid, const std::string& router) {
  auto it = watches_.find(pid);
  if (it == watches_.end()) return;
  it->second.routers.erase(router);
  if (!it->second.routers.empty()) return;
  sd_event_source_disable_unref(it->second.source);
  watches_.erase(it);
}

int Speakers::on_exit(sd_event_source* s, int, std::uint32_t, void* self) {
  auto* me = static_cast<Speakers*>(self);
  for (const auto& [pid, w] : me->watches_)
    if (w.source == s) {
      me->exited(pid);
      break;
    }
  return 0;
}

void Speakers::exited(pid_t pid) {
  auto it = watches_.find(pid);
  if (it == watches_.end()) return;
  auto routers = std::move(it->second.routers);
  sd_event_source_disable_unref(it->second.source);
  watches_.erase(it);
  for (const auto& name : routers) {
    auto r = routers_.find(name);
    if (r == routers_.end()) continue;
    r->second.pid = 0;
    r->second.said_missing = true;
    r->second.missing = "exited";
    feed_(SpeakerEvent{name, std::nullopt, "exited"});
  }
  // keepalived's parent starts a new VRRP process at once: look again soon.
  next_look_ = Clock::now() + kRescan;
}

void Speakers::look(TimePoint now) {
  std::optional<std::unordered_map<std::uint64_t, pid_t>> scanned;
  bool missing_any = false;
  for (auto& [name, t] : routers_) {
    if (t.pid) continue;
    tl::expected<pid_t, std::string> found = tl::unexpected(std::string());
    if (!t.pid_file.empty()) {
      found = io_.from_pid_file(t.pid_file);
    } else {
      auto inode = io_.netns_inode(t.netns);
      if (!inode) {  // its namespace is not open yet: nothing to say
        missing_any = true;
        continue;
      }
      if (!scanned) scanned = io_.scan();
      auto it = scanned->find(*inode);
      if (it != scanned->end())
        found = it->second;
      else
        found = tl::unexpected("is not running " + (t.netns.empty()
                                                        ? std::string("in the host namespace")
                                                        : "in " + t.netns));
    }
    if (found && watch(*found, name)) {
      t.pid = *found;
      t.said_missing = false;
      t.missing.clear();
      feed_(SpeakerEvent{name, *found, ""});
      continue;
    }
    missing_any = true;
    std::string why = found ? "exited" : found.error();
    if (!t.said_missing || why != t.missing) {
      t.said_missing = true;
      t.missing = why;
      feed_(SpeakerEvent{name, std::nullopt, why});
    }
  }
  next_look_ = missing_any ? std::optional(now + kRescan) : std::nullopt;
}

void Speakers::tick(TimePoint now) {
  if (next_look_ && *next_look_ <= now) look(now);
}

std::optional<TimePoint> Speakers::deadline() const { return next_look_; }

}  // namespace havip
