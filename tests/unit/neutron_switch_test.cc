#include "ctl/neutron_switch.h"

#include <gtest/gtest.h>

#include <string>

namespace havip::ctl::neutron {
namespace {

using namespace std::string_literals;

constexpr const char* kId = "0f8b4a72-5d2e-4c1f-9a3b-7e6d5c4b3a21";
constexpr const char* kPidFile =
    "/var/lib/neutron/external/pids/"
    "0f8b4a72-5d2e-4c1f-9a3b-7e6d5c4b3a21.monitor.pid.neutron-keepalived-state-change-monitor";

// The command line HaRouter._get_state_change_monitor_callback builds.
std::string agent_args(char sep) {
  std::string out;
  for (std::string a :
       {"--router_id="s + kId, "--namespace=qrouter-"s + kId,
        "--conf_dir=/var/lib/neutron/ha_confs/"s + kId, "--monitor_interface=ha-0f8b4a72-5d"s,
        "--monitor_cidr=169.254.0.1/24"s, "--pid_file="s + kPidFile,
        "--state_path=/var/lib/neutron"s, "--user=64535"s, "--group=64535"s})
    out += sep + a;
  return out;
}

TEST(NeutronSwitch, MonitorArgsFromAnArgv) {
  // The shim (or the 2026.2 shell monitor): argv untouched, NUL-separated.
  auto a = monitor_args("neutron-keepalived-state-change"s + agent_args('\0') + '\0');
  ASSERT_TRUE(a);
  EXPECT_EQ(a->router_id, kId);
  EXPECT_EQ(a->pid_file, kPidFile);
  EXPECT_TRUE(a->named);
}

TEST(NeutronSwitch, MonitorArgsFromPythonsProcessTitle) {
  // Zed's Daemon sets its title: one line, the arguments joined by spaces
  // (as /proc/PID/cmdline reads on Debian 12), or wrapped in "python3 (…)".
  for (std::string title :
       {"/usr/bin/python3 /usr/bin/neutron-keepalived-state-change"s + agent_args(' ') + '\0',
        "/usr/bin/python3 (/usr/bin/python3 /usr/bin/neutron-keepalived-state-change"s +
            agent_args(' ') + ")"}) {
    auto a = monitor_args(title);
    ASSERT_TRUE(a) << title;
    EXPECT_EQ(a->router_id, kId);
    EXPECT_EQ(a->pid_file, kPidFile);
    EXPECT_TRUE(a->named);
  }
}

TEST(NeutronSwitch, MonitorArgsSeparateValues) {
  auto a =
      monitor_args("/usr/bin/neutron-keepalived-state-change\0--router_id\0r1\0--pid_file\0/p\0"s);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->router_id, "r1");
  EXPECT_EQ(a->pid_file, "/p");
}

TEST(NeutronSwitch, OtherProcessesAreNotMonitors) {
  EXPECT_FALSE(monitor_args("/usr/sbin/keepalived\0-P\0-f\0/var/lib/neutron/ha_confs/x\0"s));
  auto radvd = monitor_args("radvd\0-C\0/c\0--router_id=r1\0"s);  // no monitor's name
  ASSERT_TRUE(radvd);
  EXPECT_FALSE(radvd->named);
  auto similar = monitor_args("/usr/bin/neutron-keepalived-state-change-foo\0--router_id=r1\0"s);
  ASSERT_TRUE(similar);
  EXPECT_FALSE(similar->named);
}

}  // namespace
}  // namespace havip::ctl::neutron
