// libFuzzer target for the TOML configuration parser (config/config_parse.h).
// toml++ is compiled into the target in header-only mode, so the TOML grammar
// itself is instrumented and explored too. Besides crashes, leaks, undefined
// behaviour and escaping exceptions, it checks the parser's contract:
//  * a rejected file yields at least one error, each naming the file, with a
//    line >= 0 and a message; to_string() starts with the file name;
//  * an accepted file yields a Config whose path is the file, whose routers
//    have valid, unique names, valid interface names (and gateway interface
//    when set), a namespace that is empty or valid, an IPv4/IPv6 VIP with an
//    in-range prefix length, a non-negative hold-down, and the daemon's
//    state_dir.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "config/config_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string kFile = "fuzz.toml";
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = havip::parse_config(text, kFile);
  if (!r) {
    if (r.error().empty()) __builtin_trap();
    for (const auto& e : r.error()) {
      if (e.file != kFile || e.line < 0 || e.message.empty()) __builtin_trap();
      if (!e.to_string().starts_with(kFile)) __builtin_trap();
    }
    return 0;
  }
  if (r->path != kFile) __builtin_trap();
  std::set<std::string> names;
  for (const auto& router : r->routers) {
    if (!havip::valid_router_name(router.name)) __builtin_trap();
    if (!names.insert(router.name).second) __builtin_trap();
    if (!havip::valid_interface_name(router.interface)) __builtin_trap();
    if (!router.gateway_interface.empty() &&
        !havip::valid_interface_name(router.gateway_interface))
      __builtin_trap();
    if (!router.netns.empty() && !havip::valid_netns_name(router.netns)) __builtin_trap();
    const auto& vip = router.vip;
    if (vip.family != AF_INET && vip.family != AF_INET6) __builtin_trap();
    if (vip.length > (vip.family == AF_INET ? 32 : 128)) __builtin_trap();
    if (router.hold_down.count() < 0) __builtin_trap();
    if (router.state_dir != r->daemon.state_dir) __builtin_trap();
  }
  return 0;
}
