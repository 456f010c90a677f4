#include "daemon/vrrp_readers.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>

#include "log/logging.h"

namespace havip {

VrrpReaders::VrrpReaders(sd_event* loop, int home_fd, NsFd ns_fd, Feed feed)
    : loop_(loop), home_fd_(home_fd), ns_fd_(std::move(ns_fd)), feed_(std::move(feed)) {}

VrrpReaders::~VrrpReaders() {
  for (auto& [key, r] : readers_) sd_event_source_disable_unref(r->source);
}

void VrrpReaders::apply(const Listen& l) {
  if (auto it = by_router_.find(l.router); it != by_router_.end()) {
    leave(it->second);
    by_router_.erase(it);
  }
  if (l.ifindex != 0 && join(l)) by_router_.emplace(l.router, l);
}

bool VrrpReaders::join(const Listen& l) {
  Key key{l.netns, l.family};
  auto it = readers_.find(key);
  if (it == readers_.end()) {
    int fd = l.netns.empty() ? home_fd_ : ns_fd_(l.netns);
    if (fd < 0) return false;  // its namespace is gone: NetnsGone follows
    auto listener = vrrp::Listener::open(fd, home_fd_, l.family);
    if (!listener) {
      log::router(spdlog::level::err, l.router, l.netns, "cannot read VRRP adverts: {}",
                  listener.error());
      return false;
    }
    auto reader = std::make_unique<Reader>(Reader{key, std::move(*listener), nullptr, {}});
    if (sd_event_add_io(loop_, &reader->source, reader->listener.fd(), EPOLLIN, on_readable, this) <
        0) {
      log::router(spdlog::level::err, l.router, l.netns, "cannot watch the VRRP socket");
      return false;
    }
    sd_event_source_set_description(reader->source, "vrrp");
    it = readers_.emplace(key, std::move(reader)).first;
  }
  Reader& r = *it->second;
  if (r.joins[l.ifindex]++ == 0) {
    if (auto ok = r.listener.join(l.ifindex); !ok) {
      log::router(spdlog::level::err, l.router, l.netns,
                  "cannot join the VRRP group on interface {}: {}", l.ifindex, ok.error());
      // Unicast adverts still arrive; the join is retried by the next router.
      r.joins.erase(l.ifindex);
      if (r.joins.empty()) {
        sd_event_source_disable_unref(r.source);
        readers_.erase(it);
      }
      return false;
    }
  }
  return true;
}

void VrrpReaders::leave(const Listen& l) {
  auto it = readers_.find(Key{l.netns, l.family});
  if (it == readers_.end()) return;
  Reader& r = *it->second;
  auto j = r.joins.find(l.ifindex);
  if (j == r.joins.end()) return;
  if (--j->second > 0) return;
  r.listener.leave(l.ifindex);
  r.joins.erase(j);
  if (!r.joins.empty()) return;
  sd_event_source_disable_unref(r.source);
  readers_.erase(it);
}

int VrrpReaders::on_readable(sd_event_source* s, int, std::uint32_t, void* self) {
  auto* me = static_cast<VrrpReaders*>(self);
  for (auto& [key, r] : me->readers_) {
    if (r->source != s) continue;
    const std::string netns = key.first;
    r->listener.drain(
        kBudget,
        [&](const vrrp::Listener::Received& got) {
          ++me->adverts_;
          const vrrp::Advert& a = got.advert;
          spdlog::trace("vrrp: advert{} on ifindex {} from {} for VRID {}, priority {}",
                        netns.empty() ? std::string() : " in " + netns, got.ifindex,
                        a.source.to_string(), a.vrid, a.priority);
          me->feed_(AdvertEvent{
              netns, got.ifindex,
              PeerAdvert{a.version, a.vrid, a.priority, a.interval, a.source, a.addresses}});
        },
        [&](const std::string& why) {
          ++me->malformed_;
          spdlog::debug("vrrp: skipped a malformed advert{}: {}",
                        netns.empty() ? std::string() : " in " + netns, why);
        });
    break;
  }
  return 0;
}

}  // namespace havip
