// The configuration model: plain values, filled by config_parse.cc, read by
// every layer. Equality is what reload uses to leave unchanged routers alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"

namespace havip {

enum class StateSync : std::uint8_t {
  deferred,  // rename first, fsync file and directory after the batch (default)
  inline_,   // fsync the temp file before the rename (slower, on the latency path)
  off,       // never fsync (state is derived and rewritten at every start)
};

struct DaemonConfig {
  std::string state_dir = "/var/lib/havip";
  Millis hold_down{2000};
  std::string netns_dir = "/run/netns";
  int netlink_receive_buffer = 4 * 1024 * 1024;  // bytes, SO_RCVBUFFORCE
  StateSync state_sync = StateSync::deferred;

  bool operator==(const DaemonConfig&) const = default;
};

struct RouterConfig {
  std::string name;
  std::string netns;  // empty: the namespace havipd was started in
  std::string interface;
  IpPrefix vip;
  Millis hold_down{0};  // resolved: per-router value or [daemon] hold_down_ms

  bool operator==(const RouterConfig&) const = default;
  // "in qrouter-x" or "in the host namespace": for log lines.
  std::string where() const;
};

struct Config {
  std::string path;  // the file it was read from
  DaemonConfig daemon;
  std::vector<RouterConfig> routers;
};

}  // namespace havip
