// havipd: parses arguments, sets up logging, runs the daemon. Nothing else.
#include <sys/resource.h>

#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "config/config_parse.h"
#include "ctl/neutron_switch.h"
#include "daemon/config_file.h"
#include "daemon/daemon.h"
#include "log/logging.h"
#include "havip_build.h"

namespace {

// One netlink socket and one namespace fd per watched namespace: a thousand
// routers need more than the default soft limit of 1024 descriptors.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"havipd: keepalived VIP watcher that applies primary/backup roles"};
  std::string config_path = HAVIP_DEFAULT_CONFIG;
  std::string level = "info";
  bool check = false, dry_run = false;
  app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  app.add_flag("--check-config", check, "validate the configuration and exit (0 valid, 1 not)");
  app.add_flag("--dry-run", dry_run, "log every effect instead of performing it");
  app.add_option("--log-level", level, "trace, debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.set_version_flag("--version", std::string("havipd ") + HAVIP_VERSION);
  CLI11_PARSE(app, argc, argv);

  havip::log::setup(level);
  auto config = havip::load_config(config_path);
  if (!config) {
    for (const auto& e : config.error()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "%s: %zu error(s)\n", config_path.c_str(), config.error().size());
    return 1;
  }
  if (check) {
    if (config->keepalived.empty()) {
      std::printf("%s: ok, %zu routers\n", config_path.c_str(), config->routers.size());
      return 0;
    }
    auto discovered = havip::read_keepalived_routers(*config);
    if (!discovered) {
      for (const auto& e : discovered.error()) std::fprintf(stderr, "%s\n", e.c_str());
      std::fprintf(stderr, "keepalived.conf: %zu error(s)\n", discovered.error().size());
      return 1;
    }
    for (const auto& s : discovered->routers.skipped) std::fprintf(stderr, "%s\n", s.c_str());
    std::printf("%s: ok, %zu routers, %zu of them from %s (%zu vrrp_instance(s))\n",
                config_path.c_str(), config->routers.size() + discovered->routers.routers.size(),
                discovered->routers.routers.size(), discovered->files().c_str(),
                discovered->instances());
    return 0;
  }
  raise_fd_limit();
  bool neutron = config->neutron.has_value();
  havip::Daemon daemon(std::move(*config), havip::DaemonOptions{dry_run});
  int rc = daemon.run();
  // After a takeover the L3 agent runs shims that do nothing: from now on no
  // router's state is written or reported until havipd runs again.
  havip::ctl::neutron::Paths paths;
  paths.shim = HAVIP_NEUTRON_SHIM;
  if (neutron && !dry_run && havip::ctl::neutron::shim_in_place(paths))
    spdlog::error(
        "havipd stopped while the L3 agent runs havip's shim as "
        "neutron-keepalived-state-change: no router's state is written or reported to the "
        "agent until havipd runs again (`havipctl neutron release` gives the routers back to "
        "Neutron's own monitors)");
  return rc;
}
