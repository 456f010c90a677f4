// Tells the Neutron L3 agent a router's role exactly as
// neutron-keepalived-state-change does (NEUTRON.md): an HTTP GET of
// http://127.0.0.1/ over the agent's unix stream socket
// ($state_path/keepalived-state-change) with the headers
//   X-Neutron-Router-Id: <router>
//   X-Neutron-State: primary|backup
//   Connection: close      (without it a second quick change was lost, #1923633)
// and success only when the agent answers 200.
//
// libcurl's multi interface driven by sd-event: nothing here ever blocks the
// loop, so a slow, hung or absent agent delays nothing else.
//
// Per router, the latest state wins and the final state is always delivered:
//  * at most one request is in flight per router, carrying the state wanted
//    when it was sent (requests to the agent are never reordered);
//  * on 200 that state is recorded as delivered; if another state is wanted
//    by then, it is sent at once;
//  * on any failure (cannot connect, no answer within the timeout, a status
//    other than 200, a garbled answer) the delivered state becomes unknown —
//    the agent may have acted on the request before failing — and the router
//    is retried with exponential backoff, sending whatever is wanted then;
//  * notify() sends when the wanted state differs from the delivered one.
//    Nothing is delivered when the notifier is created, so the first notify()
//    of every router is always sent, even a backup (as the incumbent does
//    since #1916022); a repeat of the state the agent last acknowledged is not.
// Routers are independent: one router's failures never delay another's
// requests. There is at most one request in flight per router, so the
// connections are bounded by the routers; no global cap is set by default (a
// cap would let a hung agent's open requests hold up every other router).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/types.h"
#include "effects/notifier.h"
#include "effects/observer.h"

struct sd_event;
struct sd_event_source;

namespace havip {

struct L3AgentPolicy {
  Millis timeout{10000};  // per request, from connect to the last byte of the answer
  Millis retry_initial{100};
  Millis retry_max{30000};
  long max_connections = 0;  // 0: no cap (CURLMOPT_MAX_TOTAL_CONNECTIONS)
};

class L3AgentNotifier final : public Notifier {
 public:
  using ClockFn = std::function<TimePoint()>;
  struct Counters {
    std::uint64_t sent = 0;    // requests the agent answered with 200
    std::uint64_t failed = 0;  // requests that failed (each retry counts)
  };

  // Failures are reported to `observer` (effect "notify").
  L3AgentNotifier(sd_event* loop, Observer& observer, std::string socket_path, ClockFn clock,
                  L3AgentPolicy policy = {});
  ~L3AgentNotifier() override;
  L3AgentNotifier(const L3AgentNotifier&) = delete;
  L3AgentNotifier& operator=(const L3AgentNotifier&) = delete;

  void notify(const std::string& router, Role role) override;
  // The router is gone: drops its request in flight and its retries.
  void forget(const std::string& router) override;

  // Nothing in flight and no retry pending.
  bool idle() const;
  // The state the agent last acknowledged; nullopt when unknown (never sent,
  // or a later request failed).
  std::optional<Role> delivered(const std::string& router) const;
  const Counters& counters() const { return counters_; }
  const std::string& socket_path() const { return socket_path_; }

 private:
  struct Transfer;  // one request in flight (curl's handles live in the .cc)
  struct Router {
    Role wanted = Role::unknown;
    std::optional<Role> delivered;
    std::unique_ptr<Transfer> in_flight;
    std::optional<TimePoint> retry_at;
    unsigned failures = 0;  // in the current failure streak
  };

  void maybe_send(const std::string& name, Router& r);
  void send(const std::string& name, Router& r);
  void finished(const std::string& name, Router& r, Role role, const std::string& error);
  void cancel(Router& r);
  void collect();  // completed transfers
  void arm_retry();

  static int on_socket(void* easy, int fd, int what, void* self, void* socketp);
  static int on_curl_timer(void* multi, long timeout_ms, void* self);
  static int on_io(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  static int on_timer(sd_event_source* s, std::uint64_t usec, void* self);
  static int on_retry(sd_event_source* s, std::uint64_t usec, void* self);

  sd_event* loop_;
  Observer& observer_;
  std::string socket_path_;
  ClockFn clock_;
  L3AgentPolicy policy_;
  void* multi_ = nullptr;  // CURLM*: curl's headers stay out of this one
  sd_event_source* curl_timer_ = nullptr;
  sd_event_source* retry_timer_ = nullptr;
  std::map<int, sd_event_source*> sockets_;  // curl's sockets, watched for curl
  std::map<std::string, Router> routers_;
  Counters counters_;
};

}  // namespace havip
