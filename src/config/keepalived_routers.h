// Routers from keepalived.conf ([keepalived] config, DESIGN.md §3.14): every
// vrrp_instance becomes a router of its name, completed by the [[router]]
// that attaches to it (effects, hold-down, a chosen signal VIP). Pure: the
// daemon reads the files (daemon/keepalived_files.h) and follows them
// (daemon/keepalived_watch.h).
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "config/keepalived_conf.h"
#include "core/config.h"

namespace havip {

struct KeepalivedRouters {
  std::vector<RouterConfig> routers;  // in keepalived.conf's order
  // Instances havipd cannot serve, and why ("FILE:LINE: vrrp_instance X: …"):
  // the others are served.
  std::vector<std::string> skipped;
};

// The routers of `confs` (one per entry of config.keepalived, in order) for
// `config` (its [daemon] and attached routers). Errors concern the set as a
// whole (an attached router naming no instance, a name taken twice, a chosen
// vip the instance does not hold): the set is then refused, and a running
// havipd keeps the last one.
tl::expected<KeepalivedRouters, std::vector<std::string>> keepalived_routers(
    const Config& config, const std::vector<keepalived::Conf>& confs);

}  // namespace havip
