// Parses havip.toml into a Config, collecting every problem with its line.
//
// Conventions for the errors (they are what a user sees from --check-config):
//  - keys are dotted paths; a router is named by its 1-based position in the
//    file ("router[2].vip"), never by its name, because the name itself may be
//    the thing that is missing or wrong;
//  - messages say what was expected and what was found;
//  - errors come out sorted by line, so they read top to bottom.
#include "core/config_parse.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <toml++/toml.h>

namespace havip {
namespace {

constexpr std::int64_t kMaxHoldDownMs = 3'600'000;  // one hour: anything longer is a typo
constexpr std::int64_t kMinReceiveBuffer = 4096;
constexpr std::int64_t kMaxReceiveBuffer = 1 << 30;

// The keys a table accepts, and those DESIGN.md announces but this version
// does not implement yet: for the latter, "not supported yet" is a better
// answer than a spelling suggestion.
struct Schema {
  std::span<const std::string_view> known;
  std::span<const std::string_view> planned;
};

constexpr std::string_view kTopKeys[] = {"daemon", "router"};
constexpr std::string_view kTopPlanned[] = {"neutron"};
constexpr std::string_view kDaemonKeys[] = {"state_dir", "hold_down_ms", "netns_dir",
                                            "netlink_receive_buffer", "state_sync"};
constexpr std::string_view kDaemonPlanned[] = {"control_socket"};
constexpr std::string_view kRouterKeys[] = {"name", "namespace", "interface", "vip",
                                            "hold_down_ms"};
constexpr std::string_view kRouterPlanned[] = {"gateway_interface", "ipv6_gateway", "radvd",
                                               "service", "hook"};

constexpr Schema kTopSchema{kTopKeys, kTopPlanned};
constexpr Schema kDaemonSchema{kDaemonKeys, kDaemonPlanned};
constexpr Schema kRouterSchema{kRouterKeys, kRouterPlanned};

constexpr std::string_view kRouterNameRule =
    "a router name of 1 to 64 characters from A-Z a-z 0-9 _ . - (not \".\" or \"..\")";
constexpr std::string_view kNetnsRule =
    "a namespace name of 1 to 255 printable characters without '/' or spaces "
    "(not \".\" or \"..\")";
constexpr std::string_view kInterfaceRule =
    "an interface name of 1 to 15 characters without '/', ':' or whitespace "
    "(not \".\" or \"..\")";
constexpr std::string_view kVipRule =
    "an address with prefix length like \"169.254.0.1/24\" or \"fd00::1/64\"";

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

int line_of(const toml::source_region& r) { return static_cast<int>(r.begin.line); }

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
  if (std::ranges::find(schema.planned, typed) != schema.planned.end())
    return msg + " (not supported in this version)";
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

// Reads the values of one TOML table, reporting problems under `path`.
// Every getter returns nullopt both when the key is absent and when it was
// wrong (already reported), so callers simply keep their default.
class TableReader {
 public:
  TableReader(Errors& errors, const toml::table& table, std::string path)
      : errors_(errors), table_(table), path_(std::move(path)) {}

  std::string path(std::string_view key) const { return path_ + "." + std::string(key); }
  int line() const { return line_of(table_.source()); }

  void reject_unknown(const Schema& schema) {
    for (auto&& [key, value] : table_) {
      if (std::ranges::find(schema.known, key.str()) != schema.known.end()) continue;
      errors_.add(line_of(key.source()), path(key.str()),
                  unknown_key_message(key.str(), value, schema));
    }
  }

  // Reports a missing key at the table's header; true when present.
  bool require(std::string_view key) {
    if (table_.contains(key)) return true;
    errors_.add(line(), path(key), "required key is missing");
    return false;
  }

  std::optional<std::string> string(std::string_view key) {
    auto* v = typed<std::string>(key, toml::node_type::string);
    return v ? std::optional<std::string>(v->get()) : std::nullopt;
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

  // A string that `ok` accepts; `rule` says what was expected otherwise.
  template <class Check>
  std::optional<std::string> checked(std::string_view key, Check ok, std::string_view rule) {
    auto s = string(key);
    if (!s || ok(*s)) return s;
    bad(key, "expected " + std::string(rule) + ", got " + quoted(*s));
    return std::nullopt;
  }

  std::optional<std::string> absolute_path(std::string_view key) {
    return checked(key, [](const std::string& s) { return s.starts_with('/'); },
                   "an absolute path");
  }

  // Reports a problem with the value of a key that is present.
  void bad(std::string_view key, std::string message) {
    errors_.add(*table_.get(key), path(key), std::move(message));
  }

 private:
  template <class T>
  const toml::value<T>* typed(std::string_view key, toml::node_type expected) {
    const toml::node* n = table_.get(key);
    if (!n) return nullptr;
    if (auto* v = n->as<T>()) return v;
    errors_.add(*n, path(key),
                "expected " + std::string(type_name(expected)) + ", got " +
                    std::string(type_name(n->type())));
    return nullptr;
  }

  Errors& errors_;
  const toml::table& table_;
  std::string path_;
};

std::optional<StateSync> state_sync_from(std::string_view s) {
  if (s == "deferred") return StateSync::deferred;
  if (s == "inline") return StateSync::inline_;
  if (s == "off") return StateSync::off;
  return std::nullopt;
}

DaemonConfig parse_daemon(Errors& errors, const toml::node* node) {
  DaemonConfig d;
  if (!node) return d;
  const auto* table = node->as_table();
  if (!table) {
    errors.add(*node, "daemon", "expected a table, got " + std::string(type_name(node->type())));
    return d;
  }
  TableReader r(errors, *table, "daemon");
  r.reject_unknown(kDaemonSchema);
  if (auto v = r.absolute_path("state_dir")) d.state_dir = *v;
  if (auto v = r.integer("hold_down_ms", 0, kMaxHoldDownMs)) d.hold_down = Millis(*v);
  if (auto v = r.absolute_path("netns_dir")) d.netns_dir = *v;
  if (auto v = r.integer("netlink_receive_buffer", kMinReceiveBuffer, kMaxReceiveBuffer))
    d.netlink_receive_buffer = static_cast<int>(*v);
  if (auto v = r.string("state_sync")) {
    if (auto s = state_sync_from(*v))
      d.state_sync = *s;
    else
      r.bad("state_sync",
            "expected \"deferred\", \"inline\" or \"off\", got " + quoted(*v));
  }
  return d;
}

// A router as read, with what the cross-router checks need to know.
struct ParsedRouter {
  RouterConfig config;
  std::string path;            // "router[2]"
  const toml::table* table;    // for the lines of its keys
  bool complete = false;       // no errors: takes part in the duplicate-VIP check
};

int line_of_key(const ParsedRouter& r, std::string_view key) {
  return line_of(r.table->get(key)->source());
}

ParsedRouter parse_router(Errors& errors, const toml::table& table, std::string path,
                          Millis default_hold_down) {
  std::size_t errors_before = errors.count();
  ParsedRouter p{{}, path, &table};
  TableReader r(errors, table, path);
  r.reject_unknown(kRouterSchema);
  RouterConfig& c = p.config;

  if (r.require("name"))
    c.name = r.checked("name", valid_router_name, kRouterNameRule).value_or("");
  // Empty means the host namespace, the same as leaving the key out.
  auto netns_ok = [](std::string_view s) { return s.empty() || valid_netns_name(s); };
  c.netns = r.checked("namespace", netns_ok, kNetnsRule).value_or("");
  if (r.require("interface"))
    c.interface = r.checked("interface", valid_interface_name, kInterfaceRule).value_or("");
  if (r.require("vip")) {
    if (auto s = r.string("vip")) {
      if (auto vip = IpPrefix::parse(*s))
        c.vip = *vip;
      else
        r.bad("vip", "expected " + std::string(kVipRule) + ", got " + quoted(*s));
    }
  }
  c.hold_down = default_hold_down;
  if (auto v = r.integer("hold_down_ms", 0, kMaxHoldDownMs)) c.hold_down = Millis(*v);

  p.complete = errors.count() == errors_before;
  return p;
}

std::vector<ParsedRouter> parse_routers(Errors& errors, const toml::node* node,
                                        Millis default_hold_down) {
  std::vector<ParsedRouter> routers;
  if (!node) return routers;
  const auto* array = node->as_array();
  // An empty array is not "of tables" to toml++, but it is zero routers.
  if (!array || !(array->empty() || array->is_array_of_tables())) {
    errors.add(*node, "router",
               "expected an array of tables ([[router]]), got " +
                   std::string(type_name(node->type())));
    return routers;
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    std::string path = "router[" + std::to_string(i + 1) + "]";
    routers.push_back(parse_router(errors, *array->get(i)->as_table(), path, default_hold_down));
  }
  return routers;
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

// Two routers watching one signal VIP would always flip together: a mistake.
void check_unique_vips(Errors& errors, const std::vector<ParsedRouter>& routers) {
  auto same_signal = [](const RouterConfig& a, const RouterConfig& b) {
    return a.netns == b.netns && a.interface == b.interface && a.vip == b.vip;
  };
  for (std::size_t i = 0; i < routers.size(); ++i) {
    const auto& r = routers[i];
    if (!r.complete) continue;
    for (std::size_t j = 0; j < i; ++j) {
      const auto& first = routers[j];
      if (!first.complete || !same_signal(first.config, r.config)) continue;
      errors.add(line_of_key(r, "vip"), r.path + ".vip",
                 "router " + quoted(r.config.name) +
                     " has the same namespace, interface and vip as router " +
                     quoted(first.config.name) + " (" + first.path + ", line " +
                     std::to_string(line_of_key(first, "vip")) + ")");
      break;
    }
  }
}

void reject_unknown_top_level(Errors& errors, const toml::table& root) {
  for (auto&& [key, value] : root) {
    if (std::ranges::find(kTopSchema.known, key.str()) != kTopSchema.known.end()) continue;
    errors.add(line_of(key.source()), std::string(key.str()),
               unknown_key_message(key.str(), value, kTopSchema));
  }
}

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

}  // namespace

std::string ConfigError::to_string() const {
  std::string out;
  if (!file.empty()) out += file + (line > 0 ? ":" + std::to_string(line) : "") + ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
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
  reject_unknown_top_level(errors, root);

  Config config;
  config.path = file;
  config.daemon = parse_daemon(errors, root.get("daemon"));
  auto routers = parse_routers(errors, root.get("router"), config.daemon.hold_down);
  check_unique_names(errors, routers);
  check_unique_vips(errors, routers);
  if (errors.count() > 0) return tl::unexpected(std::move(errors).sorted());

  for (auto& r : routers) config.routers.push_back(std::move(r.config));
  return config;
}

ConfigResult load_config(const std::string& file) {
  auto fail = [&](std::string what) {
    return tl::unexpected(std::vector<ConfigError>{{file, 0, "", what + std::strerror(errno)}});
  };
  std::unique_ptr<std::FILE, decltype(&std::fclose)> f(std::fopen(file.c_str(), "re"),
                                                        &std::fclose);
  if (!f) return fail("cannot open: ");
  std::string text;
  char buf[8192];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
  // A directory opens fine and only fails here, with EISDIR.
  if (std::ferror(f.get())) return fail("cannot read: ");
  return parse_config(text, file);
}

bool valid_router_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || !valid_dot_name(name)) return false;
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
