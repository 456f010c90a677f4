// libFuzzer target for the general keepalived.conf reader
// (config/keepalived_conf.h). The input is the main file, and after its first
// 0xff byte the text of an included file (/k/fuzz.conf); an Io gives a few
// fixed files besides (one includes another, one includes itself) and globs
// over them with fnmatch(3). Besides crashes, leaks and undefined behaviour,
// it checks the contract every caller relies on: an error is
// "FILE:LINE: message" with a file that was read and a line >= 1; an accepted
// file yields instances with a unique name, an interface, a VRID in 1..255
// and version 2 or 3, sync groups naming known instances once, track files
// naming defined track_file blocks, and the main file first in `files`.
#include <fnmatch.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "config/keepalived_conf.h"

namespace {

using havip::keepalived::Io;

const std::map<std::string, std::string>& fixed_files() {
  static const std::map<std::string, std::string> files = {
      {"/k/a.conf", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}\n"},
      {"/k/b.conf", "include a.conf\n$X=eth9\n"},
      {"/k/conf.d/c.conf", "10.0.0.1/24 dev eth0\n"},
      {"/k/self.conf", "include self.conf\n"},
      {"/k/conf.d/t.conf", "track_file t {\n file /run/t\n}\n"},
  };
  return files;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto cut = input.find('\xff');
  std::string_view main = input.substr(0, cut);
  std::map<std::string, std::string> files = fixed_files();
  if (cut != std::string_view::npos) files["/k/fuzz.conf"] = std::string(input.substr(cut + 1));
  Io io{[&](const std::string& path) -> tl::expected<std::string, std::string> {
          auto it = files.find(path);
          if (it == files.end()) return tl::unexpected(std::string("No such file"));
          return it->second;
        },
        [&](const std::string& pattern) {
          std::vector<std::string> out;
          for (const auto& [name, text] : files)
            if (fnmatch(pattern.c_str(), name.c_str(), FNM_PATHNAME) == 0) out.push_back(name);
          return out;
        }};
  auto r = havip::keepalived::parse(main, "/k/keepalived.conf", io);
  if (!r) {
    const auto& e = r.error();
    auto colon = e.find(':');
    if (colon == std::string::npos) __builtin_trap();
    auto file = e.substr(0, colon);
    if (file != "/k/keepalived.conf" && !files.count(file)) __builtin_trap();
    std::size_t digits = colon + 1;
    while (digits < e.size() && e[digits] >= '0' && e[digits] <= '9') ++digits;
    if (digits == colon + 1 || e.compare(digits, 2, ": ") != 0 || e[colon + 1] == '0')
      __builtin_trap();
    return 0;
  }
  if (r->files.empty() || r->files[0] != "/k/keepalived.conf") __builtin_trap();
  std::set<std::string> names;
  for (const auto& i : r->instances) {
    if (i.name.empty() || !names.insert(i.name).second) __builtin_trap();
    if (i.interface.empty() || i.vrid < 1 || i.vrid > 255) __builtin_trap();
    if (i.version != 2 && i.version != 3) __builtin_trap();
    for (const auto& [track, weight] : i.track_files)
      if (!r->track_files.count(track)) __builtin_trap();
  }
  std::set<std::string> grouped;
  for (const auto& [group, members] : r->sync_groups)
    for (const auto& m : members)
      if (!names.count(m) || !grouped.insert(m).second) __builtin_trap();
  return 0;
}
