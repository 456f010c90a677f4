// Basic value types shared by every layer: roles, time, IP prefixes.
#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace havip {

// The core never reads a clock; callers pass "now" on this timeline
// (CLOCK_MONOTONIC on Linux, the same clock sd-event timers use).
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

// fault: the keepalived behind the router is gone and a peer advertises as
// master; this host must not serve it (DESIGN.md §2).
enum class Role : std::uint8_t { unknown, primary, backup, fault };

// The words Neutron uses (and keepalived's "fault").
std::string_view role_name(Role r);
// What the state file and Neutron's L3 agent are told: they know only primary
// and backup, so a fault is a backup to them.
Role told_role(Role r);

// An address with its prefix length, e.g. 169.254.0.1/24 or fd00::1/64.
struct IpPrefix {
  int family = 0;  // AF_INET or AF_INET6; 0 = empty
  std::array<std::uint8_t, 16> bytes{};
  std::uint8_t length = 0;

  // Parses "ADDR/LEN" (LEN required). Returns nullopt on any error.
  static std::optional<IpPrefix> parse(std::string_view text);
  std::string to_string() const;

  auto operator<=>(const IpPrefix&) const = default;
  bool operator==(const IpPrefix&) const = default;
};

}  // namespace havip
