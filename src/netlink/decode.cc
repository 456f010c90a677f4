#include "netlink/decode.h"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <optional>
#include <tl/expected.hpp>

namespace havip::netlink {

namespace {

// What one netlink message became: a Message, nothing (a type we skip), or
// why it was malformed.
using Result = tl::expected<std::optional<Message>, std::string>;

std::string type_name(std::uint16_t type) {
  switch (type) {
    case RTM_NEWLINK: return "RTM_NEWLINK";
    case RTM_DELLINK: return "RTM_DELLINK";
    case RTM_NEWADDR: return "RTM_NEWADDR";
    case RTM_DELADDR: return "RTM_DELADDR";
    case NLMSG_DONE: return "NLMSG_DONE";
    case NLMSG_ERROR: return "NLMSG_ERROR";
    case NLMSG_NOOP: return "NLMSG_NOOP";
  }
  return "message type " + std::to_string(type);
}

std::string family_name(int family) { return family == AF_INET ? "AF_INET" : "AF_INET6"; }

// Address size for the families a VIP can have; 0 for every other family.
std::size_t address_size(int family) {
  if (family == AF_INET) return 4;
  if (family == AF_INET6) return 16;
  return 0;
}

std::string wrong_size(const char* attr_name, const nlattr* attr, std::size_t expected) {
  return std::string(attr_name) + " has " + std::to_string(mnl_attr_get_payload_len(attr)) +
         " bytes, expected " + std::to_string(expected);
}

// Returns "" when an attribute we read has the shape we read it with.
using AttrCheck = std::string (*)(const nlattr*);

std::string check_addr_attr(const nlattr* attr) {
  switch (mnl_attr_get_type(attr)) {
    case IFA_FLAGS:
      if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) return wrong_size("IFA_FLAGS", attr, 4);
      break;
    case IFA_CACHEINFO:
      if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC, sizeof(ifa_cacheinfo)) < 0)
        return wrong_size("IFA_CACHEINFO", attr, sizeof(ifa_cacheinfo));
      break;
  }
  // IFA_LOCAL / IFA_ADDRESS are checked against the family once it is known.
  return "";
}

std::string check_link_attr(const nlattr* attr) {
  if (mnl_attr_get_type(attr) != IFLA_IFNAME) return "";
  if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
    return "IFLA_IFNAME is not a NUL-terminated string";
  std::size_t len = std::strlen(mnl_attr_get_str(attr));
  if (len >= IFNAMSIZ)
    return "IFLA_IFNAME has " + std::to_string(len) + " characters, more than IFNAMSIZ - 1";
  return "";
}

// One message's attributes by type (a repeated type keeps the last, as the
// kernel's nla_parse does), and how far the walk got.
struct Attrs {
  static constexpr std::size_t kSize = std::max<std::size_t>(IFA_MAX, IFLA_MAX) + 1;

  Attrs(std::uint16_t max, AttrCheck c) : max_type(max), check(c) {}

  std::uint16_t max_type;
  AttrCheck check;
  std::array<const nlattr*, kSize> by_type{};
  const char* walked_to = nullptr;  // just past the last whole attribute
  std::string error;

  const nlattr* get(std::uint16_t type) const { return by_type[type]; }
};
static_assert(IFA_MAX < Attrs::kSize && IFLA_MAX < Attrs::kSize);

int collect_attr(const nlattr* attr, void* data) {
  auto& attrs = *static_cast<Attrs*>(data);
  attrs.walked_to = reinterpret_cast<const char*>(attr) + MNL_ALIGN(attr->nla_len);
  // Newer kernels add attribute types; the ones we do not know are not errors.
  if (mnl_attr_type_valid(attr, attrs.max_type) < 0) return MNL_CB_OK;
  attrs.error = attrs.check(attr);
  if (!attrs.error.empty()) return MNL_CB_ERROR;
  attrs.by_type[mnl_attr_get_type(attr)] = attr;
  return MNL_CB_OK;
}

// mnl_attr_parse stops silently at an attribute that does not fit in the
// message, so bytes left after the walk mean one overran it.
std::string leftover_error(const nlmsghdr* nlh, const char* walked_to) {
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  if (walked_to >= tail) return "";
  // Both ends are 4-byte aligned, so at least a whole nlattr header is left.
  const auto* attr = reinterpret_cast<const nlattr*>(walked_to);
  return "attribute type " + std::to_string(mnl_attr_get_type(attr)) + " at offset " +
         std::to_string(walked_to - reinterpret_cast<const char*>(nlh)) + " has length " +
         std::to_string(attr->nla_len) + ", but " + std::to_string(tail - walked_to) +
         " bytes are left in the message";
}

// Walks the attributes that follow a fixed header of `header_size` bytes.
tl::expected<Attrs, std::string> parse_attrs(const nlmsghdr* nlh, std::size_t header_size,
                                             std::uint16_t max_type, AttrCheck check) {
  Attrs attrs(max_type, check);
  attrs.walked_to = static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, static_cast<unsigned>(header_size)));
  if (mnl_attr_parse(nlh, static_cast<unsigned>(header_size), collect_attr, &attrs) < MNL_CB_OK)
    return tl::unexpected(attrs.error);
  if (auto error = leftover_error(nlh, attrs.walked_to); !error.empty())
    return tl::unexpected(error);
  return attrs;
}

// Points at the fixed header after nlmsghdr, or says why there is none.
template <typename Header>
tl::expected<const Header*, std::string> fixed_header(const nlmsghdr* nlh, const char* name) {
  std::size_t len = mnl_nlmsg_get_payload_len(nlh);
  if (len < sizeof(Header))
    return tl::unexpected("payload has " + std::to_string(len) + " bytes, too short for " +
                          name + " (" + std::to_string(sizeof(Header)) + ")");
  return static_cast<const Header*>(mnl_nlmsg_get_payload(nlh));
}

Result decode_link(const nlmsghdr* nlh) {
  auto ifi = fixed_header<ifinfomsg>(nlh, "struct ifinfomsg");
  if (!ifi) return tl::unexpected(ifi.error());
  if ((*ifi)->ifi_index <= 0)
    return tl::unexpected("ifindex " + std::to_string((*ifi)->ifi_index) + " is not positive");
  auto attrs = parse_attrs(nlh, sizeof(ifinfomsg), IFLA_MAX, check_link_attr);
  if (!attrs) return tl::unexpected(attrs.error());
  LinkUpdate link;
  link.ifindex = static_cast<std::uint32_t>((*ifi)->ifi_index);
  if (const auto* name = attrs->get(IFLA_IFNAME)) link.name = mnl_attr_get_str(name);
  link.removed = nlh->nlmsg_type == RTM_DELLINK;
  return Message{link};
}

// On a point-to-point link IFA_ADDRESS is the peer and IFA_LOCAL our own
// address; elsewhere the kernel sends IFA_ADDRESS (and IFA_LOCAL equal to it
// for IPv4 only).
tl::expected<IpPrefix, std::string> local_prefix(const Attrs& attrs, const ifaddrmsg& ifa) {
  const char* name = "IFA_LOCAL";
  const nlattr* attr = attrs.get(IFA_LOCAL);
  if (attr == nullptr) {
    name = "IFA_ADDRESS";
    attr = attrs.get(IFA_ADDRESS);
  }
  if (attr == nullptr) return tl::unexpected(std::string("neither IFA_LOCAL nor IFA_ADDRESS"));
  std::size_t size = address_size(ifa.ifa_family);
  if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, size) < 0)
    return tl::unexpected(wrong_size(name, attr, size) + " for " + family_name(ifa.ifa_family));
  IpPrefix prefix;
  prefix.family = ifa.ifa_family;
  std::memcpy(prefix.bytes.data(), mnl_attr_get_payload(attr), size);
  prefix.length = ifa.ifa_prefixlen;
  return prefix;
}

Result decode_addr(const nlmsghdr* nlh) {
  auto ifa = fixed_header<ifaddrmsg>(nlh, "struct ifaddrmsg");
  if (!ifa) return tl::unexpected(ifa.error());
  const ifaddrmsg& msg = **ifa;
  std::size_t bits = address_size(msg.ifa_family) * 8;
  if (bits == 0) return std::nullopt;  // a VIP is IPv4 or IPv6
  if (msg.ifa_prefixlen > bits)
    return tl::unexpected("prefix length " + std::to_string(msg.ifa_prefixlen) + " exceeds " +
                          std::to_string(bits) + " for " + family_name(msg.ifa_family));
  auto attrs = parse_attrs(nlh, sizeof(ifaddrmsg), IFA_MAX, check_addr_attr);
  if (!attrs) return tl::unexpected(attrs.error());
  auto prefix = local_prefix(*attrs, msg);
  if (!prefix) return tl::unexpected(prefix.error());

  AddrUpdate addr;
  addr.ifindex = msg.ifa_index;
  addr.prefix = *prefix;
  // ifa_flags is 8 bits wide; IFA_FLAGS carries all of them (e.g. NOPREFIXROUTE).
  const auto* flags = attrs->get(IFA_FLAGS);
  addr.flags = flags != nullptr ? mnl_attr_get_u32(flags) : msg.ifa_flags;
  addr.removed = nlh->nlmsg_type == RTM_DELADDR;
  addr.dumped = (nlh->nlmsg_flags & NLM_F_MULTI) != 0;
  if (const auto* info = attrs->get(IFA_CACHEINFO))
    addr.created_cs = static_cast<const ifa_cacheinfo*>(mnl_attr_get_payload(info))->cstamp;
  return Message{addr};
}

Result decode_error(const nlmsghdr* nlh) {
  auto err = fixed_header<nlmsgerr>(nlh, "struct nlmsgerr");
  if (!err) return tl::unexpected(err.error());
  return Message{Error{nlh->nlmsg_seq, (*err)->error}};
}

Result decode_message(const nlmsghdr* nlh) {
  switch (nlh->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: return decode_link(nlh);
    case RTM_NEWADDR:
    case RTM_DELADDR: return decode_addr(nlh);
    case NLMSG_DONE:
      return Message{Done{nlh->nlmsg_seq, (nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0}};
    case NLMSG_ERROR: return decode_error(nlh);
  }
  return std::nullopt;  // NLMSG_NOOP, and types nobody asked for
}

// mnl_nlmsg_ok compares (int)nlmsg_len, so a length with the top bit set
// passes it as negative; compare unsigned as well.
bool header_fits(const nlmsghdr* nlh, int len) {
  return mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= static_cast<unsigned>(len);
}

std::string truncated(const nlmsghdr* nlh, int len) {
  std::string text = "truncated netlink message: ";
  if (len < static_cast<int>(sizeof(nlmsghdr)))
    return text + std::to_string(len) + " bytes left, less than a header";
  return text + type_name(nlh->nlmsg_type) + " has nlmsg_len " + std::to_string(nlh->nlmsg_len) +
         ", " + std::to_string(len) + " bytes left";
}

// libmnl reads headers through typed pointers and walks attributes up to the
// 4-byte-aligned end of each message. A kernel datagram received into an
// aligned buffer satisfies that; other input (a fuzzer's) is copied into a
// zero-padded aligned buffer so a short last message cannot be read past.
std::span<const std::uint8_t> aligned(std::span<const std::uint8_t> datagram,
                                      std::vector<std::uint32_t>& storage) {
  bool ok = reinterpret_cast<std::uintptr_t>(datagram.data()) % alignof(nlmsghdr) == 0 &&
            datagram.size() % NLMSG_ALIGNTO == 0;
  if (ok) return datagram;
  storage.assign((datagram.size() + 3) / 4, 0);
  if (!datagram.empty()) std::memcpy(storage.data(), datagram.data(), datagram.size());
  return {reinterpret_cast<const std::uint8_t*>(storage.data()), datagram.size()};
}

}  // namespace

Decoded decode(std::span<const std::uint8_t> datagram) {
  std::vector<std::uint32_t> storage;
  auto bytes = aligned(datagram, storage);
  Decoded out;
  int len = static_cast<int>(std::min<std::size_t>(bytes.size(), INT_MAX));
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data());
  for (; header_fits(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
    auto message = decode_message(nlh);
    if (!message)
      out.errors.push_back(type_name(nlh->nlmsg_type) + ": " + message.error());
    else if (*message)
      out.messages.push_back(std::move(**message));
  }
  // A length that cannot be trusted leaves nowhere to find the next header.
  if (len > 0) out.errors.push_back(truncated(nlh, len));
  return out;
}

}  // namespace havip::netlink
