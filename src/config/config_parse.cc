// Parses havip.toml into a Config, collecting every problem with its line.
//
// Conventions for the errors (they are what a user sees from --check-config):
//  - keys are dotted paths; an element of an array is named by its 1-based
//    position in the file ("router[2].vip", "router[1].radvd.interface[2].
//    prefixes[1].mode", "router[1].service[1].command[1]"), never by its name,
//    because the name itself may be the thing that is missing or wrong;
//  - messages say what was expected and what was found;
//  - errors come out sorted by line, so they read top to bottom.
#include "config/config_parse.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <type_traits>
#include <fmt/format.h>
#include <toml++/toml.h>

namespace havip {
namespace {

constexpr std::int64_t kMaxHoldDownMs = 3'600'000;  // one hour: anything longer is a typo
constexpr std::int64_t kMinReceiveBuffer = 4096;
constexpr std::int64_t kMaxReceiveBuffer = 1 << 30;
constexpr std::int64_t kMaxStopTimeoutMs = 600'000;
constexpr std::int64_t kMaxHookTimeoutMs = 3'600'000;
constexpr std::size_t kMaxRdnss = 3;  // Neutron's limit
constexpr std::int64_t kMaxTrackGraceMs = 3'600'000;
// The audit: at least a second between two comparisons of a router (0: none).
constexpr std::int64_t kMaxAuditMs = 3'600'000;
constexpr std::int64_t kMaxTrackFailureTimeoutMs = 86'400'000;  // a day
// keepalived reads the file with strtol() into an int.
constexpr std::int64_t kMaxTrackValue = 2'147'483'647;

// The keys a table accepts, and those DESIGN.md announces but this version
// does not implement yet: for the latter, "not supported yet" is a better
// answer than a spelling suggestion.
struct Schema {
  std::span<const std::string_view> known;
};

constexpr std::string_view kTopKeys[] = {"daemon", "neutron", "keepalived", "router"};
constexpr std::string_view kKeepalivedKeys[] = {"config", "namespace", "track_dir"};
constexpr std::string_view kNeutronKeys[] = {"state_path",        "manage_ipv6",
                                             "radvd_user",        "conntrackd",
                                             "conntrackd_binary", "conntrackd_timeout_ms"};
constexpr std::string_view kDaemonKeys[] = {"state_dir",
                                            "hold_down_ms",
                                            "netns_dir",
                                            "netlink_receive_buffer",
                                            "state_sync",
                                            "run_dir",
                                            "radvd_binary",
                                            "control_socket",
                                            "control_socket_group",
                                            "metrics_textfile",
                                            "on_stale_vip",
                                            "observe_vrrp",
                                            "track_speaker",
                                            "track_grace_ms",
                                            "track_failure_timeout_ms",
                                            "track_failure_value",
                                            "audit_interval_ms",
                                            "audit_grace_ms"};
constexpr std::string_view kRouterKeys[] = {"name",
                                            "namespace",
                                            "interface",
                                            "vip",
                                            "hold_down_ms",
                                            "gateway_interface",
                                            "ipv6_gateway",
                                            "sysctl",
                                            "radvd",
                                            "service",
                                            "hook",
                                            "conntrackd",
                                            "vrid",
                                            "vrrp_version",
                                            "advert_interval_ms",
                                            "priority",
                                            "observe_vrrp",
                                            "track_speaker",
                                            "speaker_pid_file",
                                            "addresses",
                                            "track_file",
                                            "track_grace_ms",
                                            "track_failure_timeout_ms",
                                            "track_failure_value"};
constexpr std::string_view kSysctlKeys[] = {"key", "primary", "backup"};
constexpr std::string_view kRadvdKeys[] = {"config_file", "user", "interface"};
constexpr std::string_view kRadvdInterfaceKeys[] = {
    "name", "prefixes", "rdnss", "mtu", "min_interval", "max_interval", "routes"};
constexpr std::string_view kRadvdPrefixKeys[] = {"prefix", "mode"};
constexpr std::string_view kServiceKeys[] = {"command", "stop_timeout_ms"};
constexpr std::string_view kHookKeys[] = {"command", "timeout_ms"};
constexpr std::string_view kConntrackdKeys[] = {"config", "binary", "timeout_ms"};

constexpr Schema kTopSchema{kTopKeys};
constexpr Schema kNeutronSchema{kNeutronKeys};
constexpr Schema kKeepalivedSchema{kKeepalivedKeys};
constexpr Schema kDaemonSchema{kDaemonKeys};
constexpr Schema kRouterSchema{kRouterKeys};
constexpr Schema kSysctlSchema{kSysctlKeys};
constexpr Schema kRadvdSchema{kRadvdKeys};
constexpr Schema kRadvdInterfaceSchema{kRadvdInterfaceKeys};
constexpr Schema kRadvdPrefixSchema{kRadvdPrefixKeys};
constexpr Schema kServiceSchema{kServiceKeys};
constexpr Schema kHookSchema{kHookKeys};
constexpr Schema kConntrackdSchema{kConntrackdKeys};

// A word of the file and the value it stands for.
template <class E>
struct Choice {
  std::string_view name;
  E value;
};

constexpr Choice<StateSync> kStateSyncs[] = {
    {"deferred", StateSync::deferred}, {"inline", StateSync::inline_}, {"off", StateSync::off}};
constexpr Choice<StaleVip> kStaleVips[] = {{"release", StaleVip::release},
                                           {"report", StaleVip::report}};
constexpr Choice<PrefixMode> kPrefixModes[] = {{"slaac", PrefixMode::slaac},
                                               {"dhcpv6-stateless", PrefixMode::dhcpv6_stateless},
                                               {"dhcpv6-stateful", PrefixMode::dhcpv6_stateful}};

constexpr std::string_view kRouterNameRule =
    "a router name of 1 to 64 characters from A-Z a-z 0-9 _ . - (not \".\", \"..\" or "
    "\".havipd.lock\")";
constexpr std::string_view kNetnsRule =
    "a namespace name of 1 to 255 printable characters without '/' or spaces "
    "(not \".\" or \"..\")";
constexpr std::string_view kInterfaceRule =
    "an interface name of 1 to 15 characters without '/', ':' or whitespace "
    "(not \".\" or \"..\")";
constexpr std::string_view kVipRule =
    "an address with prefix length like \"169.254.0.1/24\" or \"fd00::1/64\"";
constexpr std::string_view kAbsolutePathRule = "an absolute path";
constexpr std::string_view kTrackFileRule =
    "an absolute path of a file (not a directory: no trailing '/', '.' or '..'), at most 4095 "
    "bytes";
constexpr std::string_view kOptionalPathRule = "an absolute path, or \"\" for none";
constexpr std::string_view kSocketPathRule =
    "an absolute path of at most 107 bytes (a unix socket address), or \"\" for none";
constexpr std::string_view kGroupRule =
    "a group name (letters, digits, '_', '.', '-') or \"\" (havipd's own)";
constexpr std::string_view kIpv6PrefixRule = "an IPv6 prefix like \"fd00:1::/64\"";
constexpr std::string_view kIpv6AddressRule = "an IPv6 address like \"fd00:1::53\"";
constexpr std::string_view kUserRule =
    "a user name of 1 to 32 characters from A-Z a-z 0-9 _ . - (not starting with '-')";
constexpr std::string_view kArgumentRule = "an argument without NUL bytes";
constexpr std::string_view kProgramRule =
    "the program as an absolute path (commands run without a shell or a PATH lookup)";
constexpr std::string_view kSysctlValueRule = "a value without control characters (tabs are fine)";
constexpr std::string_view kSysctlCharsRule =
    "a sysctl name of A-Z a-z 0-9 _ - . / : like \"net.ipv4.conf.all.arp_ignore\"";
constexpr std::string_view kSysctlDottedRule = "a dotted sysctl name without empty components";
constexpr std::string_view kSysctlPathRule =
    "a path below /proc/sys without a leading '/' or empty, '.' or '..' components";
constexpr std::string_view kSysctlNetRule =
    "a network sysctl, \"net.*\" or \"net/*\" (only those belong to a network namespace; "
    "others would change the whole host)";

bool valid_dot_name(std::string_view name) { return name != "." && name != ".."; }

// Not std::isalnum/isspace: those follow the locale, and names must not.
bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The kernel's isspace(), which dev_valid_name() uses: ASCII whitespace and
// the Latin-1 no-break space.
bool is_kernel_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Paths and argv end at the first NUL once they reach a system call.
bool valid_absolute_path(std::string_view s) { return s.starts_with('/') && !has_nul(s); }
bool valid_argument(std::string_view s) { return !has_nul(s); }
bool valid_optional_path(std::string_view s) { return s.empty() || valid_absolute_path(s); }
bool valid_track_file(std::string_view s) {
  if (!valid_absolute_path(s) || s.size() > 4095) return false;
  std::string_view last = s.substr(s.rfind('/') + 1);
  return !last.empty() && valid_dot_name(last);
}
// sockaddr_un's sun_path holds 108 bytes, NUL included.
bool valid_socket_path(std::string_view s) {
  return s.empty() || (valid_absolute_path(s) && s.size() <= 107);
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || name.starts_with('-')) return false;
  return std::ranges::all_of(
      name, [](char c) { return is_ascii_alnum(c) || c == '_' || c == '.' || c == '-'; });
}

// Kept as written, so a NUL (where inet_pton stops reading) must not hide junk.
bool valid_ipv6_address(const std::string& s) {
  in6_addr addr;
  return !has_nul(s) && inet_pton(AF_INET6, s.c_str(), &addr) == 1;
}

std::optional<IpPrefix> ipv6_prefix(std::string_view s) {
  auto p = IpPrefix::parse(s);
  if (p && p->family == AF_INET6) return p;
  return std::nullopt;
}

// Written to /proc/sys as it is: a newline or a NUL would cut it short.
bool valid_sysctl_value(std::string_view s) {
  return std::ranges::none_of(
      s, [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; });
}

bool all_components(std::string_view s, char separator, bool (*ok)(std::string_view)) {
  for (std::size_t start = 0;;) {
    std::size_t end = std::min(s.find(separator, start), s.size());
    if (!ok(s.substr(start, end - start))) return false;
    if (end == s.size()) return true;
    start = end + 1;
  }
}

// What `key` should have been, or empty when it is a sysctl havip may set.
// A '/' makes it a path below /proc/sys (where dots belong to interface
// names, "net/ipv4/conf/eth0.100/arp_ignore"); otherwise it is dotted.
std::string_view sysctl_key_problem(std::string_view key) {
  auto allowed = [](char c) {
    return is_ascii_alnum(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':';
  };
  if (key.empty() || !std::ranges::all_of(key, allowed)) return kSysctlCharsRule;
  bool is_path = key.find('/') != std::string_view::npos;
  auto path_component = [](std::string_view c) { return !c.empty() && valid_dot_name(c); };
  auto dotted_component = [](std::string_view c) { return !c.empty(); };
  if (is_path && !all_components(key, '/', path_component)) return kSysctlPathRule;
  if (!is_path && !all_components(key, '.', dotted_component)) return kSysctlDottedRule;
  if (!key.starts_with(is_path ? "net/" : "net.")) return kSysctlNetRule;
  return {};
}

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// Quotes a user's value for a message; control bytes are escaped so that a
// stray newline or escape sequence cannot garble the terminal or the journal.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string expected(std::string_view rule, std::string_view got) {
  return "expected " + std::string(rule) + ", got " + quoted(got);
}

std::string expected_type(std::string_view what, const toml::node& got) {
  return "expected " + std::string(what) + ", got " + std::string(type_name(got.type()));
}

// "\"a\", \"b\" or \"c\"": the words a Choice table accepts.
template <class E, std::size_t N>
std::string one_of(const Choice<E> (&choices)[N]) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i)
    out += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + quoted(choices[i].name);
  return out;
}

template <class E, std::size_t N>
auto lookup(const Choice<E> (&choices)[N]) {
  return [&choices](const std::string& s) -> std::optional<E> {
    for (const auto& c : choices)
      if (c.name == s) return c.value;
    return std::nullopt;
  };
}

// A conversion that keeps the string when `ok` accepts it.
template <class Check>
auto keep_if(Check ok) {
  return [ok](const std::string& s) {
    return ok(s) ? std::optional<std::string>(s) : std::nullopt;
  };
}

// What a conversion (string -> optional<T>) gives when it succeeds.
template <class Convert>
using Converted = typename std::invoke_result_t<Convert, const std::string&>::value_type;

int line_of(const toml::source_region& r) { return static_cast<int>(r.begin.line); }

std::string indexed(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i + 1) + "]";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

// The known key `typed` was most likely meant to be. Besides small typos
// (distance <= 2), dropping a unit suffix ("hold_down" for "hold_down_ms")
// is the common slip, so a known key that starts with `typed` also counts.
std::optional<std::string_view> closest(std::string_view typed,
                                        std::span<const std::string_view> known) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 3;
  for (auto k : known) {
    std::size_t d = edit_distance(typed, k);
    if (typed.size() >= 3 && k.starts_with(typed)) d = std::min<std::size_t>(d, 2);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best;
}

std::string unknown_key_message(std::string_view typed, const toml::node& value,
                                const Schema& schema) {
  bool is_table = value.is_table() || value.is_array_of_tables();
  std::string msg =
      std::string(is_table ? "unknown table '" : "unknown key '") + std::string(typed) + "'";
  if (auto hint = closest(typed, schema.known))
    return msg + " (did you mean '" + std::string(*hint) + "'?)";
  return msg;
}

class Errors {
 public:
  explicit Errors(const std::string& file) : file_(file) {}

  void add(int line, std::string key, std::string message) {
    errors_.push_back({file_, line, std::move(key), std::move(message)});
  }
  void add(const toml::node& at, std::string key, std::string message) {
    add(line_of(at.source()), std::move(key), std::move(message));
  }
  std::size_t count() const { return errors_.size(); }

  std::vector<ConfigError> sorted() && {
    std::ranges::stable_sort(errors_, {}, &ConfigError::line);
    return std::move(errors_);
  }

 private:
  const std::string& file_;
  std::vector<ConfigError> errors_;
};

// `node` as a T (a toml::value<…>, toml::array or toml::table), or nullptr
// after reporting what it is instead.
template <class T>
auto as_type(Errors& errors, const toml::node& node, const std::string& path,
             toml::node_type expected) -> decltype(node.as<T>()) {
  if (auto* v = node.as<T>()) return v;
  errors.add(node, path, expected_type(type_name(expected), node));
  return nullptr;
}

// A string node converted by `convert`; reports the wrong type, or the value
// `convert` refused with `rule` as what was expected.
template <class Convert>
std::optional<Converted<Convert>> convert_string(Errors& errors, const toml::node& node,
                                                 const std::string& path, Convert convert,
                                                 std::string_view rule) {
  auto* s = as_type<std::string>(errors, node, path, toml::node_type::string);
  if (!s) return std::nullopt;
  if (auto v = convert(s->get())) return v;
  errors.add(node, path, expected(rule, s->get()));
  return std::nullopt;
}

// Reads the values of one TOML table, reporting problems under `path`.
// Every getter returns nullopt both when the key is absent and when it was
// wrong (already reported), so callers simply keep their default.
class TableReader {
 public:
  TableReader(Errors& errors, const toml::table& table, std::string path)
      : errors_(errors), table_(table), path_(std::move(path)) {}

  // The top level has no path of its own: its keys are named as they are.
  std::string path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const std::string& path() const { return path_; }
  int line() const { return line_of(table_.source()); }
  const toml::table& table() const { return table_; }
  std::size_t error_count() const { return errors_.count(); }
  bool has(std::string_view key) const { return table_.contains(key); }
  // Present, and not an empty array.
  bool given(std::string_view key) const {
    const toml::node* n = table_.get(key);
    return n && !(n->is_array() && n->as_array()->empty());
  }

  void reject_unknown(const Schema& schema) {
    for (auto&& [key, value] : table_) {
      if (std::ranges::find(schema.known, key.str()) != schema.known.end()) continue;
      errors_.add(line_of(key.source()), path(key.str()),
                  unknown_key_message(key.str(), value, schema));
    }
  }

  // Reports a missing key at the table's header; true when present.
  bool require(std::string_view key) {
    if (has(key)) return true;
    fail("required key is missing", key);
    return false;
  }

  // Reports a problem with the table as a whole (or, with `key`, a key it
  // lacks) at its header.
  void fail(std::string message, std::string_view key = {}) {
    errors_.add(line(), key.empty() ? path_ : path(key), std::move(message));
  }

  std::optional<std::string> string(std::string_view key) {
    auto* v = typed<std::string>(key, toml::node_type::string);
    return v ? std::optional<std::string>(v->get()) : std::nullopt;
  }

  std::optional<bool> boolean(std::string_view key) {
    auto* v = typed<bool>(key, toml::node_type::boolean);
    return v ? std::optional<bool>(v->get()) : std::nullopt;
  }

  std::optional<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi) {
    auto* v = typed<std::int64_t>(key, toml::node_type::integer);
    if (!v) return std::nullopt;
    if (v->get() >= lo && v->get() <= hi) return v->get();
    errors_.add(*v, path(key),
                "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                    ", got " + std::to_string(v->get()));
    return std::nullopt;
  }

  std::optional<Millis> millis(std::string_view key, std::int64_t lo, std::int64_t hi) {
    auto v = integer(key, lo, hi);
    return v ? std::optional<Millis>(*v) : std::nullopt;
  }

  // An integer is given as its decimal text.
  std::optional<std::string> string_or_integer(std::string_view key) {
    const toml::node* n = table_.get(key);
    if (!n) return std::nullopt;
    if (auto* i = n->as_integer()) return std::to_string(i->get());
    if (auto* s = n->as_string()) return s->get();
    bad(key, expected_type("a string or an integer", *n));
    return std::nullopt;
  }

  // A string converted by `convert` (string -> optional<T>); `rule` says what
  // was expected when it gives nullopt.
  template <class Convert>
  std::optional<Converted<Convert>> converted(std::string_view key, Convert convert,
                                              std::string_view rule) {
    const toml::node* n = table_.get(key);
    if (!n) return std::nullopt;
    return convert_string(errors_, *n, path(key), convert, rule);
  }

  // A string that `ok` accepts; `rule` says what was expected otherwise.
  template <class Check>
  std::optional<std::string> checked(std::string_view key, Check ok, std::string_view rule) {
    return converted(key, keep_if(ok), rule);
  }

  std::optional<std::string> absolute_path(std::string_view key) {
    return checked(key, valid_absolute_path, kAbsolutePathRule);
  }

  // One of the words of `choices`.
  template <class E, std::size_t N>
  std::optional<E> choice(std::string_view key, const Choice<E> (&choices)[N]) {
    return converted(key, lookup(choices), one_of(choices));
  }

  // An array of strings, each converted like converted(); nullopt when absent
  // or when any element was wrong (each is reported as "key[N]").
  template <class Convert>
  std::optional<std::vector<Converted<Convert>>> list(std::string_view key, Convert convert,
                                                      std::string_view rule) {
    auto* array = typed<toml::array>(key, toml::node_type::array);
    if (!array) return std::nullopt;
    std::vector<Converted<Convert>> out;
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (auto v = convert_string(errors_, *array->get(i), indexed(path(key), i), convert, rule))
        out.push_back(std::move(*v));
    }
    if (out.size() != array->size()) return std::nullopt;
    return out;
  }

  // The table at `key`, to read with its own reader.
  std::optional<TableReader> sub(std::string_view key) {
    auto* t = typed<toml::table>(key, toml::node_type::table);
    if (!t) return std::nullopt;
    return TableReader(errors_, *t, path(key));
  }

  // Each table of the array of tables at `key`, read by `parse`; `form`
  // shows how one is written, for the error when `key` is not an array.
  template <class Parse>
  auto tables(std::string_view key, std::string_view form, Parse parse) {
    std::vector<std::invoke_result_t<Parse, TableReader&>> out;
    const toml::node* n = table_.get(key);
    if (!n) return out;
    const auto* array = n->as_array();
    if (!array) {
      bad(key, expected_type("an array of tables (" + std::string(form) + ")", *n));
      return out;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      std::string item = indexed(path(key), i);
      if (auto* t = as_type<toml::table>(errors_, *array->get(i), item, toml::node_type::table)) {
        TableReader r(errors_, *t, item);
        out.push_back(parse(r));
      }
    }
    return out;
  }

  // Reports a problem with the value of a key that is present.
  void bad(std::string_view key, std::string message) {
    errors_.add(*table_.get(key), path(key), std::move(message));
  }

  // Reports a problem with element `i` of the array at `key`.
  void bad_item(std::string_view key, std::size_t i, std::string message) {
    errors_.add(*table_.get(key)->as_array()->get(i), indexed(path(key), i), std::move(message));
  }

 private:
  template <class T>
  auto typed(std::string_view key, toml::node_type expected)
      -> decltype(std::declval<const toml::node&>().as<T>()) {
    const toml::node* n = table_.get(key);
    return n ? as_type<T>(errors_, *n, path(key), expected) : nullptr;
  }

  Errors& errors_;
  const toml::table& table_;
  std::string path_;
};

// The track file's timing and value, in [daemon] (the defaults) or a router.
void parse_track_settings(TableReader& r, Millis& grace, Millis& failure_timeout, int& value) {
  if (auto v = r.millis("track_grace_ms", 0, kMaxTrackGraceMs)) grace = *v;
  if (auto v = r.millis("track_failure_timeout_ms", 0, kMaxTrackFailureTimeoutMs))
    failure_timeout = *v;
  if (auto v = r.integer("track_failure_value", -kMaxTrackValue, kMaxTrackValue)) {
    if (*v == 0)
      r.bad("track_failure_value",
            "expected a non-zero integer: 0 is the value of a healthy router, so keepalived "
            "would never move it");
    else
      value = static_cast<int>(*v);
  }
}

DaemonConfig parse_daemon(TableReader& top) {
  DaemonConfig d;
  auto r = top.sub("daemon");
  if (!r) return d;
  r->reject_unknown(kDaemonSchema);
  if (auto v = r->absolute_path("state_dir")) d.state_dir = *v;
  if (auto v = r->millis("hold_down_ms", 0, kMaxHoldDownMs)) d.hold_down = *v;
  if (auto v = r->absolute_path("netns_dir")) d.netns_dir = *v;
  if (auto v = r->integer("netlink_receive_buffer", kMinReceiveBuffer, kMaxReceiveBuffer))
    d.netlink_receive_buffer = static_cast<int>(*v);
  if (auto v = r->choice("state_sync", kStateSyncs)) d.state_sync = *v;
  if (auto v = r->absolute_path("run_dir")) d.run_dir = *v;
  if (auto v = r->absolute_path("radvd_binary")) d.radvd_binary = *v;
  if (auto v = r->checked("control_socket", valid_socket_path, kSocketPathRule))
    d.control_socket = *v;
  // "" (the default, documented so): havipd's own group.
  auto group_ok = [](std::string_view g) { return g.empty() || valid_user_name(g); };
  if (auto v = r->checked("control_socket_group", group_ok, kGroupRule))
    d.control_socket_group = *v;
  if (auto v = r->checked("metrics_textfile", valid_optional_path, kOptionalPathRule))
    d.metrics_textfile = *v;
  if (auto v = r->choice("on_stale_vip", kStaleVips)) d.on_stale_vip = *v;
  if (auto v = r->boolean("observe_vrrp")) d.observe_vrrp = *v;
  if (auto v = r->boolean("track_speaker")) d.track_speaker = *v;
  parse_track_settings(*r, d.track_grace, d.track_failure_timeout, d.track_failure_value);
  if (auto v = r->millis("audit_interval_ms", 0, kMaxAuditMs)) {
    if (v->count() > 0 && v->count() < 1000)
      r->bad("audit_interval_ms", "expected 0 (no audit) or 1000 to 3600000");
    else
      d.audit_interval = *v;
  }
  if (auto v = r->millis("audit_grace_ms", 0, kMaxAuditMs)) d.audit_grace = *v;
  return d;
}

std::optional<NeutronConfig> parse_neutron(TableReader& top) {
  auto r = top.sub("neutron");
  if (!r) return std::nullopt;
  r->reject_unknown(kNeutronSchema);
  NeutronConfig n;
  if (auto v = r->absolute_path("state_path")) n.state_path = *v;
  if (auto v = r->boolean("manage_ipv6")) n.manage_ipv6 = *v;
  n.radvd_user = r->checked("radvd_user", valid_user_name, kUserRule).value_or("");
  if (auto v = r->boolean("conntrackd")) n.conntrackd = *v;
  if (auto v = r->absolute_path("conntrackd_binary")) n.conntrackd_binary = *v;
  if (auto v = r->millis("conntrackd_timeout_ms", 1, kMaxHookTimeoutMs)) n.conntrackd_timeout = *v;
  return n;
}

KeepalivedConfig parse_keepalived_table(TableReader& r) {
  r.reject_unknown(kKeepalivedSchema);
  KeepalivedConfig k;
  if (auto v = r.absolute_path("config")) k.config = *v;
  auto netns_ok = [](std::string_view s) { return s.empty() || valid_netns_name(s); };
  k.netns = r.checked("namespace", netns_ok, kNetnsRule).value_or("");
  if (auto v = r.absolute_path("track_dir")) k.track_dir = *v;
  return k;
}

// [keepalived] (one keepalived) or [[keepalived]] (one per namespace).
std::vector<KeepalivedConfig> parse_keepalived(TableReader& top, Errors& errors) {
  const toml::node* n = top.table().get("keepalived");
  if (!n) return {};
  if (n->is_table()) {
    auto r = top.sub("keepalived");
    return {parse_keepalived_table(*r)};
  }
  auto all = top.tables("keepalived", "[[keepalived]]", parse_keepalived_table);
  for (std::size_t i = 0; i < all.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (all[i].config == all[j].config)
        errors.add(*n, "keepalived[" + std::to_string(i) + "].config",
                   "keepalived[" + std::to_string(j) + "] reads " + all[i].config + " already");
  return all;
}

std::string sysctl_key(TableReader& r) {
  if (!r.require("key")) return {};
  auto key = r.string("key");
  if (!key) return {};
  auto problem = sysctl_key_problem(*key);
  if (problem.empty()) return *key;
  r.bad("key", expected(problem, *key));
  return {};
}

// A value for one role; an integer is taken as its decimal text.
std::optional<std::string> sysctl_value(TableReader& r, std::string_view key) {
  auto v = r.string_or_integer(key);
  if (!v || valid_sysctl_value(*v)) return v;
  r.bad(key, expected(kSysctlValueRule, *v));
  return std::nullopt;
}

SysctlSetting parse_sysctl(TableReader& r) {
  r.reject_unknown(kSysctlSchema);
  SysctlSetting s;
  s.key = sysctl_key(r);
  s.primary = sysctl_value(r, "primary").value_or("");
  s.backup = sysctl_value(r, "backup").value_or("");
  if (!r.has("primary") && !r.has("backup"))
    r.fail("a sysctl needs a value for primary, backup or both");
  return s;
}

RadvdPrefix parse_radvd_prefix(TableReader& r) {
  r.reject_unknown(kRadvdPrefixSchema);
  RadvdPrefix p;
  if (r.require("prefix"))
    p.prefix = r.converted("prefix", ipv6_prefix, kIpv6PrefixRule).value_or(IpPrefix{});
  if (auto v = r.choice("mode", kPrefixModes)) p.mode = *v;
  return p;
}

// radvd refuses to start otherwise (RFC 4861 6.2.1).
void check_intervals(TableReader& r, const RadvdInterface& i) {
  if (4 * i.min_interval <= 3 * i.max_interval) return;
  r.bad(r.has("min_interval") ? "min_interval" : "max_interval",
        "min_interval (" + std::to_string(i.min_interval) +
            " s) must be at most 0.75 * max_interval (" + std::to_string(i.max_interval) +
            " s): radvd refuses a MinRtrAdvInterval above 0.75 * MaxRtrAdvInterval");
}

void parse_intervals(TableReader& r, RadvdInterface& i) {
  std::size_t errors_before = r.error_count();
  if (auto v = r.integer("min_interval", 3, 1350)) i.min_interval = static_cast<int>(*v);
  if (auto v = r.integer("max_interval", 4, 1800)) i.max_interval = static_cast<int>(*v);
  // A default standing in for a wrong value would only confuse.
  if (r.error_count() == errors_before) check_intervals(r, i);
}

RadvdInterface parse_radvd_interface(TableReader& r) {
  r.reject_unknown(kRadvdInterfaceSchema);
  RadvdInterface i;
  if (r.require("name"))
    i.name = r.checked("name", valid_interface_name, kInterfaceRule).value_or("");
  i.prefixes = r.tables("prefixes", R"([{ prefix = "fd00:1::/64", mode = "slaac" }])",
                        parse_radvd_prefix);
  if (auto v = r.list("rdnss", keep_if(valid_ipv6_address), kIpv6AddressRule)) i.rdnss = *v;
  if (i.rdnss.size() > kMaxRdnss)
    r.bad("rdnss", "radvd advertises at most " + std::to_string(kMaxRdnss) +
                       " RDNSS servers (Neutron's limit), got " + std::to_string(i.rdnss.size()));
  if (auto v = r.integer("mtu", 68, 65535)) i.mtu = static_cast<int>(*v);
  parse_intervals(r, i);
  if (auto v = r.list("routes", ipv6_prefix, kIpv6PrefixRule)) i.routes = *v;
  return i;
}

// radvd.conf is a grammar: a name that is a keyword or holds its punctuation
// would not parse, and a name given twice is "duplicate interface definition".
void check_radvd_interface_names(TableReader& r, const std::vector<RadvdInterface>& interfaces) {
  static constexpr std::string_view kKeywords[] = {"interface", "prefix", "route", "RDNSS",
                                                   "DNSSL", "clients", "on", "off"};
  std::set<std::string> seen;
  for (std::size_t n = 0; n < interfaces.size(); ++n) {
    const auto& name = interfaces[n].name;
    if (name.empty()) continue;
    bool keyword = std::find(std::begin(kKeywords), std::end(kKeywords), name) != std::end(kKeywords);
    if (keyword || name.find_first_of("{};#\"") != std::string::npos)
      r.bad_item("interface", n, "radvd.conf cannot name an interface " + quoted(name));
    else if (!seen.insert(name).second)
      r.bad_item("interface", n, "interface " + quoted(name) + " is given twice");
  }
}

std::optional<RadvdConfig> parse_radvd(TableReader& router) {
  auto r = router.sub("radvd");
  if (!r) return std::nullopt;
  r->reject_unknown(kRadvdSchema);
  RadvdConfig c;
  c.config_file = r->absolute_path("config_file").value_or("");
  c.user = r->checked("user", valid_user_name, kUserRule).value_or("");
  c.interfaces = r->tables("interface", "[[router.radvd.interface]]", parse_radvd_interface);
  check_radvd_interface_names(*r, c.interfaces);
  if (r->given("config_file") && r->given("interface"))
    r->bad("config_file",
           "a config_file is used as it is: give either it or [[router.radvd.interface]] "
           "blocks, not both");
  if (!r->given("config_file") && !r->given("interface"))
    r->fail("radvd needs an interface ([[router.radvd.interface]]) or a config_file");
  return c;
}

// argv for execve(): no shell, no PATH lookup.
std::vector<std::string> parse_command(TableReader& r) {
  if (!r.require("command")) return {};
  auto argv = r.list("command", keep_if(valid_argument), kArgumentRule);
  if (!argv) return {};
  if (argv->empty())
    r.bad("command", "expected the program and its arguments, got an empty array");
  else if (!(*argv)[0].starts_with('/'))
    r.bad_item("command", 0, expected(kProgramRule, (*argv)[0]));
  return *argv;
}

ServiceConfig parse_service(TableReader& r) {
  r.reject_unknown(kServiceSchema);
  ServiceConfig s;
  s.command = parse_command(r);
  if (auto v = r.millis("stop_timeout_ms", 0, kMaxStopTimeoutMs)) s.stop_timeout = *v;
  return s;
}

HookConfig parse_hook(TableReader& r) {
  r.reject_unknown(kHookSchema);
  HookConfig h;
  h.command = parse_command(r);
  if (auto v = r.millis("timeout_ms", 1, kMaxHookTimeoutMs)) h.timeout = *v;
  return h;
}

// conntrackd = { config = "/etc/conntrackd/conntrackd.conf" }: its commands on
// every role (core/conntrackd.h).
std::optional<ConntrackdConfig> parse_conntrackd(TableReader& router) {
  auto r = router.sub("conntrackd");
  if (!r) return std::nullopt;
  r->reject_unknown(kConntrackdSchema);
  ConntrackdConfig c;
  if (r->require("config")) c.config = r->absolute_path("config").value_or("");
  if (auto v = r->absolute_path("binary")) c.binary = *v;
  if (auto v = r->millis("timeout_ms", 1, kMaxHookTimeoutMs)) c.timeout = *v;
  return c;
}

// The keys a [[router]] that attaches to a vrrp_instance may not give: they
// come from keepalived.conf.
constexpr std::string_view kFromKeepalived[] = {"namespace",          "vrid",     "vrrp_version",
                                                "advert_interval_ms", "priority", "addresses"};

// What identifies the router and its signal VIP. With [keepalived], a router
// without an interface attaches to the vrrp_instance of its name.
void parse_signal(TableReader& r, RouterConfig& c, Millis default_hold_down, bool attached) {
  if (r.require("name"))
    c.name = r.checked("name", valid_router_name, kRouterNameRule).value_or("");
  c.hold_down = r.millis("hold_down_ms", 0, kMaxHoldDownMs).value_or(default_hold_down);
  if (attached) {
    for (auto key : kFromKeepalived)
      if (r.has(key))
        r.bad(key, std::string(key) +
                       " comes from keepalived.conf for a router that attaches to a "
                       "vrrp_instance (one without an interface); give an interface and a vip "
                       "to describe the router here instead");
    // The signal VIP, chosen among the instance's virtual_ipaddress.
    c.vip = r.converted("vip", IpPrefix::parse, kVipRule).value_or(IpPrefix{});
    return;
  }
  // Empty means the host namespace, the same as leaving the key out.
  auto netns_ok = [](std::string_view s) { return s.empty() || valid_netns_name(s); };
  c.netns = r.checked("namespace", netns_ok, kNetnsRule).value_or("");
  if (r.require("interface"))
    c.interface = r.checked("interface", valid_interface_name, kInterfaceRule).value_or("");
  if (r.require("vip")) c.vip = r.converted("vip", IpPrefix::parse, kVipRule).value_or(IpPrefix{});
}

// What the router does on a change of role.
void parse_effects(TableReader& r, RouterConfig& c) {
  c.gateway_interface =
      r.checked("gateway_interface", valid_interface_name, kInterfaceRule).value_or("");
  c.ipv6_gateway = r.boolean("ipv6_gateway").value_or(false);
  if (c.ipv6_gateway && !r.has("gateway_interface"))
    r.bad("ipv6_gateway",
          "ipv6_gateway needs a gateway_interface (whose accept_ra it decides)");
  c.sysctls = r.tables("sysctl", "[[router.sysctl]]", parse_sysctl);
  c.radvd = parse_radvd(r);
  c.services = r.tables("service", "[[router.service]]", parse_service);
  c.hooks = r.tables("hook", "[[router.hook]]", parse_hook);
  c.conntrackd = parse_conntrackd(r);
}

// "ADDR/LEN" or "ADDR/LEN dev IFNAME", as keepalived's virtual_ipaddress.
std::optional<HeldAddress> parse_held_address(std::string_view text) {
  auto space = text.find(' ');
  auto prefix = IpPrefix::parse(text.substr(0, space));
  if (!prefix) return std::nullopt;
  if (space == std::string_view::npos) return HeldAddress{*prefix, ""};
  auto rest = text.substr(space + 1);
  if (!rest.starts_with("dev ")) return std::nullopt;
  auto dev = rest.substr(4);
  if (!valid_interface_name(dev)) return std::nullopt;
  return HeldAddress{*prefix, std::string(dev)};
}
constexpr std::string_view kHeldAddressRule =
    "\"ADDR/LEN\" or \"ADDR/LEN dev IFNAME\" (keepalived's virtual_ipaddress)";

// The router's VRRP instance, as keepalived.conf has it, and how it is watched.
void parse_vrrp(TableReader& r, RouterConfig& c, bool attached) {
  c.vrrp.vrid = static_cast<int>(r.integer("vrid", 1, 255).value_or(0));
  c.vrrp.version = static_cast<int>(r.integer("vrrp_version", 2, 3).value_or(2));
  // VRRPv3 counts in centiseconds up to 4095; v2 in whole seconds up to 255.
  c.vrrp.advert_interval = r.millis("advert_interval_ms", 10, 255000);
  if (c.vrrp.advert_interval && c.vrrp.version == 2 && c.vrrp.advert_interval->count() % 1000)
    r.bad("advert_interval_ms", "VRRPv2 adverts are sent every whole second; got " +
                                    std::to_string(c.vrrp.advert_interval->count()) + " ms");
  c.vrrp.priority = static_cast<int>(r.integer("priority", 1, 255).value_or(0));
  if (r.has("observe_vrrp") && !r.has("vrid") && !attached)
    r.bad("observe_vrrp", "observe_vrrp needs the router's vrid (whose adverts to watch)");
  c.speaker_pid_file = r.absolute_path("speaker_pid_file").value_or("");
  if (auto list = r.list("addresses", parse_held_address, kHeldAddressRule))
    for (auto& a : *list) c.addresses.push_back(std::move(a));
}

// A router as read, with what the cross-router checks need to know.
struct ParsedRouter {
  std::optional<bool> observe_vrrp, track_speaker;  // unless given, [daemon]'s
  // The track settings given in the router (else [daemon]'s).
  std::optional<Millis> track_grace, track_failure_timeout;
  std::optional<int> track_failure_value;
  RouterConfig config;
  std::string path;            // "router[2]"
  const toml::table* table;    // for the lines of its keys
  bool complete = false;       // no errors: takes part in the duplicate-VIP check
  bool attached = false;       // names a vrrp_instance of keepalived.conf (no interface)
};

int line_of_key(const ParsedRouter& r, std::string_view key) {
  return line_of(r.table->get(key)->source());
}

void parse_router_track(TableReader& r, ParsedRouter& p) {
  p.config.track_file = r.checked("track_file", valid_track_file, kTrackFileRule).value_or("");
  Millis grace{-1}, timeout{-1};
  int value = 0;
  parse_track_settings(r, grace, timeout, value);
  if (grace.count() >= 0) p.track_grace = grace;
  if (timeout.count() >= 0) p.track_failure_timeout = timeout;
  if (value != 0) p.track_failure_value = value;
}

ParsedRouter parse_router(TableReader& r, Millis default_hold_down, bool keepalived) {
  std::size_t errors_before = r.error_count();
  ParsedRouter p{{}, {}, {}, {}, {}, {}, r.path(), &r.table()};
  p.attached = keepalived && !r.has("interface");
  r.reject_unknown(kRouterSchema);
  parse_signal(r, p.config, default_hold_down, p.attached);
  parse_effects(r, p.config);
  parse_vrrp(r, p.config, p.attached);
  p.observe_vrrp = r.boolean("observe_vrrp");
  p.track_speaker = r.boolean("track_speaker");
  parse_router_track(r, p);
  p.complete = r.error_count() == errors_before;
  return p;
}

std::vector<ParsedRouter> parse_routers(TableReader& top, Millis default_hold_down,
                                        bool keepalived) {
  return top.tables("router", "[[router]]",
                    [&](TableReader& r) { return parse_router(r, default_hold_down, keepalived); });
}

// Names are the handle for state directories and havipctl, so they must be unique.
void check_unique_names(Errors& errors, const std::vector<ParsedRouter>& routers) {
  for (std::size_t i = 0; i < routers.size(); ++i) {
    const auto& r = routers[i];
    if (r.config.name.empty()) continue;
    for (std::size_t j = 0; j < i; ++j) {
      const auto& first = routers[j];
      if (first.config.name != r.config.name) continue;
      errors.add(line_of_key(r, "name"), r.path + ".name",
                 "router name " + quoted(r.config.name) + " is already used by " + first.path +
                     " (line " + std::to_string(line_of_key(first, "name")) + ")");
      break;
    }
  }
}

// keepalived reads one value from a track file: two routers writing it
// would undo each other's failure.
void check_unique_track_files(Errors& errors, const std::vector<ParsedRouter>& routers) {
  for (std::size_t i = 0; i < routers.size(); ++i) {
    const auto& r = routers[i];
    if (r.config.track_file.empty()) continue;
    for (std::size_t j = 0; j < i; ++j) {
      const auto& first = routers[j];
      if (first.config.track_file != r.config.track_file) continue;
      errors.add(line_of_key(r, "track_file"), r.path + ".track_file",
                 "track_file " + quoted(r.config.track_file) + " of router " +
                     quoted(r.config.name) + " is already written for router " +
                     quoted(first.config.name) + " (" + first.path + ", line " +
                     std::to_string(line_of_key(first, "track_file")) +
                     "); give each router a file of its own");
      break;
    }
  }
}

// Two routers watching one signal VIP would always flip together: a mistake.
void check_unique_vips(Errors& errors, const std::vector<ParsedRouter>& routers) {
  auto same_signal = [](const RouterConfig& a, const RouterConfig& b) {
    return a.netns == b.netns && a.interface == b.interface && a.vip == b.vip;
  };
  for (std::size_t i = 0; i < routers.size(); ++i) {
    const auto& r = routers[i];
    if (!r.complete || r.attached) continue;
    for (std::size_t j = 0; j < i; ++j) {
      const auto& first = routers[j];
      if (!first.complete || first.attached || !same_signal(first.config, r.config)) continue;
      errors.add(line_of_key(r, "vip"), r.path + ".vip",
                 "router " + quoted(r.config.name) +
                     " has the same namespace, interface and vip as router " +
                     quoted(first.config.name) + " (" + first.path + ", line " +
                     std::to_string(line_of_key(first, "vip")) + ")");
      break;
    }
  }
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string out;
  if (!file.empty()) out += file + (line > 0 ? ":" + std::to_string(line) : "") + ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

void resolve_addresses(RouterConfig& c) {
  for (auto& a : c.addresses)
    if (a.dev.empty()) a.dev = c.interface;  // as keepalived: the instance's interface
  HeldAddress signal{c.vip, c.interface};
  std::erase(c.addresses, signal);
  c.addresses.insert(c.addresses.begin(), signal);
}

ConfigResult parse_config(std::string_view text, const std::string& file) {
  Errors errors(file);
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& err) {
    errors.add(line_of(err.source()), "", std::string(err.description()));
    return tl::unexpected(std::move(errors).sorted());
  }
  TableReader top(errors, root, "");
  top.reject_unknown(kTopSchema);

  Config config;
  config.path = file;
  config.daemon = parse_daemon(top);
  config.neutron = parse_neutron(top);
  config.keepalived = parse_keepalived(top, errors);
  auto routers = parse_routers(top, config.daemon.hold_down, !config.keepalived.empty());
  check_unique_names(errors, routers);
  check_unique_vips(errors, routers);
  check_unique_track_files(errors, routers);
  if (errors.count() > 0) return tl::unexpected(std::move(errors).sorted());

  for (auto& r : routers) {
    RouterConfig& c = r.config;
    c.state_dir = config.daemon.state_dir;
    c.on_stale_vip = config.daemon.on_stale_vip;
    // Without a VRID no advert can be matched to the router.
    c.observe_vrrp = c.vrrp.vrid != 0 && r.observe_vrrp.value_or(config.daemon.observe_vrrp);
    c.track_speaker = r.track_speaker.value_or(config.daemon.track_speaker);
    c.track_grace = r.track_grace.value_or(config.daemon.track_grace);
    c.track_failure_timeout = r.track_failure_timeout.value_or(config.daemon.track_failure_timeout);
    c.track_failure_value = r.track_failure_value.value_or(config.daemon.track_failure_value);
    if (r.attached) {
      // keepalived_routers() completes it with its vrrp_instance.
      c.observe_vrrp = r.observe_vrrp.value_or(config.daemon.observe_vrrp);
      config.attached.push_back(std::move(c));
      continue;
    }
    resolve_addresses(c);
    config.routers.push_back(std::move(c));
  }
  return config;
}

std::optional<std::string> unsafe_config_owner(unsigned uid, unsigned gid, unsigned mode,
                                               unsigned our_uid, unsigned our_gid) {
  auto octal = [&] { return fmt::format("{:04o}", mode & 07777); };
  constexpr std::string_view kWhy =
      "; refusing it: the commands it names run as root, so whoever may write it could run "
      "anything as root";
  if (uid != 0 && uid != our_uid)
    return fmt::format("is owned by uid {}, not by root{} (chown root)", uid, kWhy);
  if (mode & S_IWOTH)
    return fmt::format("is writable by every user (mode {}){} (chmod o-w)", octal(), kWhy);
  if ((mode & S_IWGRP) && gid != 0 && gid != our_gid)
    return fmt::format("is writable by group {} (mode {}){} (chmod g-w)", gid, octal(), kWhy);
  return std::nullopt;
}

bool valid_router_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || !valid_dot_name(name)) return false;
  // <state_dir>/<name>/ and <run_dir>/<name>/ share the directory with the
  // instance lock (daemon/instance_lock.h).
  if (name == ".havipd.lock") return false;
  return std::ranges::all_of(name, [](char c) {
    return is_ascii_alnum(c) || c == '_' || c == '.' || c == '-';
  });
}

bool valid_netns_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || !valid_dot_name(name)) return false;
  // Printable ASCII except space (0x20) and '/', which would leave /run/netns.
  return std::ranges::all_of(name, [](unsigned char c) { return c > 0x20 && c < 0x7f && c != '/'; });
}

bool valid_interface_name(std::string_view name) {
  // IFNAMSIZ is 16 including the NUL; the kernel's dev_valid_name() rules.
  if (name.empty() || name.size() > 15 || !valid_dot_name(name)) return false;
  return std::ranges::none_of(name, [](unsigned char c) {
    return c == '/' || c == ':' || is_kernel_space(c) || c == '\0';
  });
}

}  // namespace havip
