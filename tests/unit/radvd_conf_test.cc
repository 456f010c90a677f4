// radvd.conf rendering: each row is a config and the golden file it must
// render to (tests/unit/golden/radvd/NAME.conf), and every golden passes
// `radvd --configtest` when radvd is installed.
//
// Regenerate the goldens after an intended change with
//   HAVIP_UPDATE_GOLDEN=1 ./unit_tests --gtest_filter='Radvd*'
// (run from tests/, as meson does) and review the diff.
#include "core/radvd_conf.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace havip {
namespace {

constexpr const char* kRadvd = "/usr/sbin/radvd";

IpPrefix prefix(const char* text) { return IpPrefix::parse(text).value(); }

RadvdPrefix slaac(const char* p) { return {prefix(p), PrefixMode::slaac}; }
RadvdPrefix stateless(const char* p) { return {prefix(p), PrefixMode::dhcpv6_stateless}; }
RadvdPrefix stateful(const char* p) { return {prefix(p), PrefixMode::dhcpv6_stateful}; }

RadvdInterface iface(std::string name, std::vector<RadvdPrefix> prefixes) {
  RadvdInterface i;
  i.name = std::move(name);
  i.prefixes = std::move(prefixes);
  return i;
}

RadvdConfig of(std::vector<RadvdInterface> interfaces) {
  RadvdConfig c;
  c.interfaces = std::move(interfaces);
  return c;
}

RadvdConfig one(RadvdInterface i) { return of({std::move(i)}); }

struct GoldenCase {
  std::string name;  // golden file unit/golden/radvd/<name>.conf
  RadvdConfig config;
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> cases;
  auto add = [&](std::string name, RadvdConfig c) { cases.push_back({std::move(name), c}); };

  auto slaac_only = iface("qr-edge1", {slaac("fd00:1::/64")});
  slaac_only.rdnss = {"fd00:1::53"};
  add("slaac", one(slaac_only));

  auto other = iface("qr-edge1", {stateless("fd00:2::/64")});
  add("dhcpv6_stateless", one(other));

  auto managed = iface("qr-edge1", {stateful("fd00:3::/64")});
  add("dhcpv6_stateful", one(managed));

  // Listed stateful first: ra.py writes autonomous prefixes before stateful ones.
  auto mixed = iface("qr-edge1", {stateful("fd00:3::/64"), slaac("fd00:1::/64")});
  mixed.rdnss = {"fd00:1::53", "fd00:1::54"};
  mixed.mtu = 1450;
  add("mixed", one(mixed));

  auto second = iface("qr-edge2", {stateless("fd00:2::/64")});
  second.mtu = 9000;
  add("two_interfaces", of({slaac_only, second}));

  auto many_dns = iface("qr-edge1", {slaac("fd00:1::/64")});
  many_dns.rdnss = {"fd00:1::1", "fd00:1::2", "fd00:1::3", "fd00:1::4", "fd00:1::5"};
  add("rdnss_cap", one(many_dns));

  auto mtu_1279 = iface("qr-edge1", {slaac("fd00:1::/64")});
  mtu_1279.mtu = 1279;
  add("mtu_1279", one(mtu_1279));

  auto mtu_1280 = iface("qr-edge1", {slaac("fd00:1::/64")});
  mtu_1280.mtu = 1280;
  add("mtu_1280", one(mtu_1280));

  add("mtu_unset", one(iface("qr-edge1", {slaac("fd00:1::/64")})));

  auto intervals = iface("qr-edge1", {slaac("fd00:1::/64")});
  intervals.min_interval = 3;
  intervals.max_interval = 10;
  add("custom_intervals", one(intervals));

  auto routes = iface("qr-edge1", {slaac("fd00:1::/64")});
  routes.routes = {prefix("fe80::a9fe:a9fe/128"), prefix("2001:db8:100::/48")};
  add("routes", one(routes));

  return cases;
}

// The source tests/ directory: from meson's environment, else as built.
std::string golden_path(const std::string& name) {
  const char* dir = getenv("HAVIP_TEST_DIR");
  return std::string(dir ? dir : HAVIP_TEST_DIR_DEFAULT) + "/unit/golden/radvd/" + name + ".conf";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool update_goldens() {
  const char* v = getenv("HAVIP_UPDATE_GOLDEN");
  return v && std::string(v) == "1";
}

class RadvdGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(RadvdGolden, RendersTheGoldenFile) {
  const auto& c = GetParam();
  std::string rendered = render_radvd_conf(c.config);
  std::string path = golden_path(c.name);
  if (update_goldens()) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << rendered;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
  }
  ASSERT_TRUE(std::filesystem::exists(path))
      << path << " is missing (cwd must be tests/; HAVIP_UPDATE_GOLDEN=1 writes it)";
  EXPECT_EQ(rendered, read_file(path)) << "golden " << path;
}

// radvd --configtest only parses the file (radvd 2.19): it does not look for
// the interfaces, so the goldens' qr-… names need not exist, and it does not
// check the values radvd checks when it sets an interface up (interval
// bounds, AdvLinkMTU against the link MTU). What this pins is the syntax:
// RDNSS with at most 3 addresses, empty `route P {};` and `RDNSS … {};`
// blocks, the layout.
TEST_P(RadvdGolden, GoldenPassesRadvdConfigtest) {
  if (!std::filesystem::exists(kRadvd))
    GTEST_SKIP() << kRadvd << " is not installed (apt-get install radvd)";
  const auto& c = GetParam();
  std::string golden = read_file(golden_path(c.name));
  ASSERT_FALSE(golden.empty()) << golden_path(c.name) << " is missing";

  std::string tmp = ::testing::TempDir() + "radvd_conf_test_XXXXXX";
  int fd = mkstemp(tmp.data());  // mode 0600: radvd warns about group/other-writable files
  ASSERT_GE(fd, 0) << "mkstemp " << tmp;
  bool written = write(fd, golden.data(), golden.size()) == static_cast<ssize_t>(golden.size());
  close(fd);
  ASSERT_TRUE(written) << "write " << tmp;

  std::string command = std::string(kRadvd) + " --configtest -C " + tmp + " 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << command;
  char buf[512];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = pclose(pipe);
  unlink(tmp.c_str());

  ASSERT_TRUE(WIFEXITED(status)) << command << "\n" << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << golden_path(c.name) << ":\n" << output;
}

INSTANTIATE_TEST_SUITE_P(Radvd, RadvdGolden, ::testing::ValuesIn(golden_cases()),
                         [](const auto& row) { return row.param.name; });

TEST(RadvdConf, NoInterfacesIsTheHeaderOnly) {
  EXPECT_EQ(render_radvd_conf(RadvdConfig{}), "# generated by havipd; do not edit\n");
}

TEST(RadvdConf, IgnoresConfigFileAndUser) {
  auto c = one(iface("qr-edge1", {slaac("fd00:1::/64")}));
  auto with_extras = c;
  with_extras.config_file = "/etc/radvd.conf";
  with_extras.user = "radvd";
  EXPECT_EQ(render_radvd_conf(with_extras), render_radvd_conf(c));
}

}  // namespace
}  // namespace havip
