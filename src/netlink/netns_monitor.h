// Watches one network namespace: owns its netlink socket, subscribes, dumps
// links then addresses, and turns every decoded message into a core Event.
// After a receive overrun (ENOBUFS) it starts over with a fresh socket and a
// new dump, which the core treats as a resync.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <tl/expected.hpp>

#include "core/cstamp_clock.h"
#include "core/events.h"
#include "core/unique_fd.h"
#include "netlink/decode.h"
#include "netlink/mnl_socket.h"

struct sd_event;
struct sd_event_source;

namespace havip {

struct MonitorCounters {
  std::uint64_t resyncs = 0;          // dumps repeated after an overrun or interrupted dump
  std::uint64_t malformed = 0;        // netlink messages skipped as malformed
  std::uint64_t messages = 0;         // link/address messages decoded
};

class NetnsMonitor {
 public:
  using Sink = std::function<void(Event&&)>;

  NetnsMonitor(sd_event* loop, std::string netns, UniqueFd ns_fd, int home_fd,
               int receive_buffer, Sink sink, MonitorCounters& counters, CstampClock& cstamps);
  ~NetnsMonitor();
  NetnsMonitor(const NetnsMonitor&) = delete;
  NetnsMonitor& operator=(const NetnsMonitor&) = delete;

  // Opens the socket inside the namespace and requests the first dump.
  tl::expected<void, std::string> start();
  const std::string& netns() const { return netns_; }
  // The namespace, for effects that must enter it (sysctls, children).
  int ns_fd() const { return ns_fd_.get(); }

 private:
  static int on_readable(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  static int on_more(sd_event_source* s, void* self);
  void drain();
  void handle(const netlink::Message& m);
  void resync(const std::string& why);
  tl::expected<void, std::string> request(netlink::DumpKind kind);
  std::string label() const;

  sd_event* loop_;
  std::string netns_;
  UniqueFd ns_fd_;
  int home_fd_;
  int receive_buffer_;
  Sink sink_;
  MonitorCounters& counters_;
  CstampClock& cstamps_;  // shared: jiffies are global
  std::optional<netlink::Socket> socket_;
  sd_event_source* io_ = nullptr;
  sd_event_source* more_ = nullptr;  // continues a drain cut short by kBurst
  std::uint64_t epoch_ = 0;  // bumped whenever the socket is replaced
  std::uint32_t seq_ = 0;
  std::uint32_t links_seq_ = 0, addrs_seq_ = 0;
  bool dump_interrupted_ = false;
  TimePoint last_resync_log_{};
  std::uint64_t unlogged_resyncs_ = 0;
};

}  // namespace havip
