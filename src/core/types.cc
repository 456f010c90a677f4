#include "core/types.h"

#include <arpa/inet.h>

#include <charconv>

namespace havip {

std::string_view role_name(Role r) {
  switch (r) {
    case Role::primary: return "primary";
    case Role::backup: return "backup";
    case Role::fault:
      return "fault";
    case Role::unknown: break;
  }
  return "unknown";
}

Role told_role(Role r) { return r == Role::fault ? Role::backup : r; }

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string addr(text.substr(0, slash));
  auto len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc{} || end != len_text.data() + len_text.size() || len_text.empty())
    return std::nullopt;
  IpPrefix p;
  if (inet_pton(AF_INET, addr.c_str(), p.bytes.data()) == 1) {
    p.family = AF_INET;
    if (len > 32) return std::nullopt;
  } else if (inet_pton(AF_INET6, addr.c_str(), p.bytes.data()) == 1) {
    p.family = AF_INET6;
    if (len > 128) return std::nullopt;
  } else {
    return std::nullopt;
  }
  p.length = static_cast<std::uint8_t>(len);
  return p;
}

std::string IpPrefix::to_string() const {
  if (family == 0) return "-";
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(length);
}

}  // namespace havip
