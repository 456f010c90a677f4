// What the core knows of one network namespace: its links and addresses, kept
// from dumps and live events through the same code. A dump (sync) confirms
// what still exists; what it did not confirm is swept at its end, which is how
// a re-dump after a netlink overrun repairs events that were lost.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/events.h"
#include "core/types.h"

namespace havip {

class NetnsView {
 public:
  void begin_sync() { ++generation_; }
  void end_sync();  // sweeps what the sync did not confirm
  bool synced() const { return synced_; }

  // Returns the link's previous name ("" if it was not known).
  std::string apply(const LinkUpdate& link);
  void apply(const AddrUpdate& addr, std::optional<TimePoint> created, TimePoint now);

  // Since when `vip` has been usable on an interface named `ifname`;
  // nullopt if it is not present there now.
  std::optional<TimePoint> present_since(const IpPrefix& vip, const std::string& ifname) const;

  // Whether any interface here holds `address` (its length is ignored): an
  // advert from one of these is this host's own.
  bool holds_address(const IpPrefix& address) const;
  // Whether the interface named `ifname` has `address`, with any length and
  // in any state (tentative too): what the audit asks (core/audit.h).
  bool on_interface(const IpPrefix& address, const std::string& ifname) const;
  // The interface's index, if a link of that name is known.
  std::optional<std::uint32_t> ifindex_of(const std::string& ifname) const;
  // The link's name ("" if unknown).
  std::string link_name(std::uint32_t ifindex) const;

  std::size_t link_count() const { return links_.size(); }

 private:
  struct Link {
    std::string name;
    std::uint64_t generation;
  };
  struct Addr {
    bool usable;
    TimePoint since;  // when it became usable
    std::uint64_t generation;
  };

  std::uint64_t generation_ = 0;
  bool synced_ = false;
  std::unordered_map<std::uint32_t, Link> links_;
  std::map<IpPrefix, std::map<std::uint32_t, Addr>> addrs_;  // prefix -> ifindex -> state
};

}  // namespace havip
