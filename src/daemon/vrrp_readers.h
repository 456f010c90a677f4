// The VRRP adverts havipd reads, read-only: one raw socket per namespace and
// address family, opened while a router needs it (its keepalived is gone and
// it holds the VIP, or observe_vrrp), joined to the VRRP group on the
// routers' interfaces. Adverts go to the core as AdvertEvents.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/actions.h"
#include "core/events.h"
#include "vrrp/listener.h"

struct sd_event;
struct sd_event_source;

namespace havip {

class VrrpReaders {
 public:
  using NsFd = std::function<int(const std::string& netns)>;  // -1: not open
  using Feed = std::function<void(Event&&)>;
  // At most this many adverts are read per wake-up, so a flood cannot starve the loop.
  static constexpr std::size_t kBudget = 64;

  VrrpReaders(sd_event* loop, int home_fd, NsFd ns_fd, Feed feed);
  ~VrrpReaders();
  VrrpReaders(const VrrpReaders&) = delete;
  VrrpReaders& operator=(const VrrpReaders&) = delete;

  void apply(const Listen& listen);
  // Namespaces a router reads adverts in, how many sockets are open.
  std::size_t sockets() const { return readers_.size(); }
  std::uint64_t adverts() const { return adverts_; }
  std::uint64_t malformed() const { return malformed_; }

 private:
  using Key = std::pair<std::string, int>;  // namespace, family
  struct Reader {
    Key key;
    vrrp::Listener listener;
    sd_event_source* source = nullptr;
    std::map<std::uint32_t, int> joins;  // ifindex -> routers
  };
  static int on_readable(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  void leave(const Listen& l);
  bool join(const Listen& l);

  sd_event* loop_;
  int home_fd_;
  NsFd ns_fd_;
  Feed feed_;
  std::map<Key, std::unique_ptr<Reader>> readers_;
  std::map<std::string, Listen> by_router_;
  std::uint64_t adverts_ = 0;
  std::uint64_t malformed_ = 0;
};

}  // namespace havip
