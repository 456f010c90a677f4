#include "core/netns_view.h"

#include <algorithm>

namespace havip {

namespace {
constexpr std::uint32_t kTentative = 0x40;  // IFA_F_TENTATIVE
constexpr std::uint32_t kDadFailed = 0x08;  // IFA_F_DADFAILED
}  // namespace

bool AddrUpdate::usable() const { return (flags & (kTentative | kDadFailed)) == 0; }

void NetnsView::end_sync() {
  std::erase_if(links_, [&](const auto& kv) { return kv.second.generation != generation_; });
  for (auto it = addrs_.begin(); it != addrs_.end();) {
    std::erase_if(it->second, [&](const auto& kv) { return kv.second.generation != generation_; });
    it = it->second.empty() ? addrs_.erase(it) : std::next(it);
  }
  synced_ = true;
}

std::string NetnsView::apply(const LinkUpdate& link) {
  auto it = links_.find(link.ifindex);
  std::string old = it == links_.end() ? std::string() : it->second.name;
  if (link.removed) {
    if (it != links_.end()) links_.erase(it);
    // The kernel reports each address of a vanishing link, but a lost event
    // must not leave a VIP attached to an ifindex that no longer exists.
    for (auto a = addrs_.begin(); a != addrs_.end();) {
      a->second.erase(link.ifindex);
      a = a->second.empty() ? addrs_.erase(a) : std::next(a);
    }
    return old;
  }
  links_[link.ifindex] = Link{link.name.empty() ? old : link.name, generation_};
  return old;
}

void NetnsView::apply(const AddrUpdate& addr, std::optional<TimePoint> created, TimePoint now) {
  if (addr.removed) {
    auto it = addrs_.find(addr.prefix);
    if (it == addrs_.end()) return;
    it->second.erase(addr.ifindex);
    if (it->second.empty()) addrs_.erase(it);
    return;
  }
  auto& per_if = addrs_[addr.prefix];
  auto it = per_if.find(addr.ifindex);
  bool was_usable = it != per_if.end() && it->second.usable;
  // A refresh of a usable address keeps its age; otherwise it is new now,
  // or, when a dump says so, since the kernel created it.
  TimePoint since = was_usable ? it->second.since : std::min(now, created.value_or(now));
  per_if[addr.ifindex] = Addr{addr.usable(), since, generation_};
}

std::optional<TimePoint> NetnsView::present_since(const IpPrefix& vip,
                                                  const std::string& ifname) const {
  auto it = addrs_.find(vip);
  if (it == addrs_.end()) return std::nullopt;
  std::optional<TimePoint> best;
  for (const auto& [ifindex, a] : it->second) {
    if (!a.usable) continue;
    auto link = links_.find(ifindex);
    if (link == links_.end() || link->second.name != ifname) continue;
    if (!best || a.since < *best) best = a.since;
  }
  return best;
}

bool NetnsView::holds_address(const IpPrefix& address) const {
  IpPrefix first = address;
  first.length = 0;
  for (auto it = addrs_.lower_bound(first);
       it != addrs_.end() && it->first.family == address.family && it->first.bytes == address.bytes;
       ++it)
    for (const auto& [ifindex, a] : it->second)
      if (a.usable) return true;
  return false;
}

bool NetnsView::on_interface(const IpPrefix& address, const std::string& ifname) const {
  IpPrefix first = address;
  first.length = 0;
  for (auto it = addrs_.lower_bound(first);
       it != addrs_.end() && it->first.family == address.family && it->first.bytes == address.bytes;
       ++it)
    for (const auto& entry : it->second) {
      auto link = links_.find(entry.first);
      if (link != links_.end() && link->second.name == ifname) return true;
    }
  return false;
}

std::optional<std::uint32_t> NetnsView::ifindex_of(const std::string& ifname) const {
  for (const auto& [ifindex, link] : links_)
    if (link.name == ifname) return ifindex;
  return std::nullopt;
}

std::string NetnsView::link_name(std::uint32_t ifindex) const {
  auto it = links_.find(ifindex);
  return it == links_.end() ? std::string() : it->second.name;
}

}  // namespace havip
