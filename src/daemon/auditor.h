// The audit's clock and reports (core/audit.h decides): every audited router
// (one read from a keepalived.conf) is compared with the kernel every
// [daemon] audit_interval_ms, a namespace at a time, the namespaces spread
// evenly over the interval so that a thousand routers cost a few comparisons
// at a time; a finding that lasts audit_grace_ms is reported (journal entry
// with MESSAGE_ID, status, metric), and its end too.
//
// Addresses come from what the core already knows of the namespace (its
// netlink view, no system call); routes are read from the kernel (libnl,
// netlink/routes.h), once per namespace and interval, and only where a
// router has virtual_routes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "core/audit.h"
#include "core/config.h"
#include "core/netns_view.h"

namespace havip {

class Auditor {
 public:
  struct Io {
    std::function<Role(const std::string& router)> role;
    // The namespace's view; nullptr while it is not read (not audited then).
    std::function<const NetnsView*(const std::string& netns)> view;
    std::function<tl::expected<std::vector<KernelRoute>, std::string>(const std::string& netns,
                                                                      const NetnsView& view)>
        routes;
  };

  explicit Auditor(Io io) : io_(std::move(io)) {}

  void configure(const DaemonConfig& daemon, const std::vector<RouterConfig>& routers,
                 TimePoint now);
  // The router took `role` (its findings wait a grace period from now).
  void role_changed(const std::string& router, TimePoint now);
  // Compares the routers that are due.
  void tick(TimePoint now);
  std::optional<TimePoint> deadline() const;

  // What is reported for the router; nullptr if it is not audited.
  const std::vector<AuditFinding>* findings(const std::string& router) const;

 private:
  struct Entry {
    RouterConfig config;
    AuditTracker tracker;
    std::vector<AuditFinding> reported;
    TimePoint role_since{};
    Role last_role = Role::unknown;
  };
  struct Namespace {
    TimePoint due{};
    std::vector<std::string> routers;
    bool route_error_said = false;
  };
  void check(const std::string& netns, Namespace& ns, TimePoint now);
  void check(Entry& e, const NetnsView* view, const std::vector<KernelRoute>* routes,
             TimePoint now);
  void say(const Entry& e, const std::vector<AuditTracker::Change>& changes);

  Io io_;
  Millis interval_{0};
  Millis grace_{0};
  std::map<std::string, Entry> routers_;
  std::map<std::string, Namespace> namespaces_;
};

}  // namespace havip
