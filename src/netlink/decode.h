// rtnetlink bytes -> value types. The only place that interprets the wire
// format of RTM_{NEW,DEL}{LINK,ADDR}; everything past it sees LinkUpdate and
// AddrUpdate (core/events.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/events.h"

namespace havip::netlink {

// NLMSG_DONE: a dump finished. `interrupted`: the kernel flagged the dump
// inconsistent (NLM_F_DUMP_INTR), so it must be repeated.
struct Done {
  std::uint32_t seq = 0;
  bool interrupted = false;
  bool operator==(const Done&) const = default;
};
// NLMSG_ERROR: `error` is 0 for an ACK, else a negative errno.
struct Error {
  std::uint32_t seq = 0;
  int error = 0;
  bool operator==(const Error&) const = default;
};

using Message = std::variant<LinkUpdate, AddrUpdate, Done, Error>;

struct Decoded {
  std::vector<Message> messages;
  // One line per message that was malformed and skipped ("RTM_NEWADDR: ...").
  std::vector<std::string> errors;
};

// Decodes one datagram as received from a NETLINK_ROUTE socket. Message types
// other than the four above (and NLMSG_NOOP) are skipped silently; a truncated
// or malformed message is skipped with an error; a header that cannot be
// trusted ends the datagram.
Decoded decode(std::span<const std::uint8_t> datagram);

}  // namespace havip::netlink
