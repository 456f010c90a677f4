// keepalived.conf as Neutron writes it for an HA router. The generator
// (neutron/agent/linux/keepalived.py, KeepalivedConf.build_config) emits:
//
//   global_defs { … }
//   [vrrp_script ha_health_check_<vrid> { script "…" … }]   health checks only
//   vrrp_instance VR_<vrid> {
//       state BACKUP
//       interface ha-XXXXXXXXXXX
//       virtual_router_id <vrid>
//       … priority, garp_master_delay, nopreempt, advert_int,
//       [authentication { … }] track_interface { ha-… }
//       virtual_ipaddress {
//           169.254.0.<vrid>/24 dev ha-XXXXXXXXXXX        the signal VIP, alone
//       }
//       [virtual_ipaddress_excluded {
//           ADDR/LEN dev DEV [scope link] [no_track]        sorted by address text
//       }]
//       [virtual_routes {
//           DEST [via NEXTHOP] [dev DEV] [scope link] [no_track]
//       }]
//       [track_script { ha_health_check_<vrid> }]
//   }
//
// The lexical rules follow keepalived 2.2's reader (lib/parser.c): words are
// separated by blanks; `{` and `}` are tokens wherever they appear; `#` or
// `!` outside double quotes starts a comment that runs to the end of the
// line, and `\#` / `\!` escape them; a double-quoted string stays one word;
// a block's `{` may stand on the line after its keyword. Not supported,
// because Neutron never writes them: `include`, `$NAME=` definitions, `@id`
// line prefixes, `~SEQ` — such lines are skipped like any unknown statement.
//
// The parser streams: it keeps no tree, only what the result needs, and its
// recursion is bounded by kMaxDepth. It is fuzzed
// (tests/fuzz/keepalived_conf_fuzz.cc).
#include "neutron/keepalived_conf.h"

#include <sys/socket.h>

#include <charconv>
#include <cstddef>
#include <initializer_list>
#include <optional>

namespace havip {
namespace {

constexpr std::size_t kMaxInput = std::size_t{1} << 20;  // Neutron's: KiBs, even with many FIPs
constexpr std::size_t kMaxWord = 1024;  // addresses and device names are far shorter
constexpr int kMaxDepth = 16;           // Neutron nests two deep

using Error = std::optional<std::string>;  // nullopt: fine

std::string at(int line, std::string_view message) {
  return "keepalived.conf:" + std::to_string(line) + ": " + std::string(message);
}

std::string quoted(std::string_view word) { return "'" + std::string(word) + "'"; }

// ---- tokens -------------------------------------------------------------

struct Token {
  enum class Kind { word, open, close, newline, end, error };
  Kind kind = Kind::end;
  std::string_view text;  // the word (quotes stripped), or the error message
  int line = 1;
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

bool ends_word(char c) {
  return is_blank(c) || c == '\n' || c == '{' || c == '}' || c == '#' || c == '!';
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token next() {
    for (;;) {
      while (pos_ < text_.size() && is_blank(text_[pos_])) ++pos_;
      if (pos_ == text_.size()) return {Token::Kind::end, {}, line_};
      char c = text_[pos_];
      if (c == '#' || c == '!') {
        auto eol = text_.find('\n', pos_);
        pos_ = eol == std::string_view::npos ? text_.size() : eol;
        continue;
      }
      if (c == '\n') {
        ++pos_;
        return {Token::Kind::newline, {}, line_++};
      }
      if (c == '{' || c == '}') {
        ++pos_;
        return {c == '{' ? Token::Kind::open : Token::Kind::close, {}, line_};
      }
      return word();
    }
  }

 private:
  Token word() {
    auto start = pos_;
    while (pos_ < text_.size() && !ends_word(text_[pos_])) {
      char c = text_[pos_];
      if (c == '\0') return error("NUL byte in the file");
      if (c == '"') {
        auto close = text_.find_first_of("\"\n", pos_ + 1);
        if (close == std::string_view::npos || text_[close] != '"')
          return error("unterminated '\"'");
        pos_ = close + 1;
      } else if (c == '\\' && pos_ + 1 < text_.size() && text_[pos_ + 1] != '\n') {
        pos_ += 2;  // `\#` and `\!` are not comments
      } else {
        ++pos_;
      }
      if (pos_ - start > kMaxWord) return error("word longer than 1024 bytes");
    }
    auto w = text_.substr(start, pos_ - start);
    if (w.size() >= 2 && w.front() == '"' && w.back() == '"') w = w.substr(1, w.size() - 2);
    return {Token::Kind::word, w, line_};
  }

  Token error(std::string_view message) { return {Token::Kind::error, message, line_}; }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

// A statement: its words, up to the end of the line, a `{` or a `}`.
struct Statement {
  std::vector<std::string_view> words;
  int line = 0;
};

// ---- values -------------------------------------------------------------

// keepalived reads an address without /LEN as a host address.
std::optional<IpPrefix> parse_address(std::string_view word) {
  if (word.find('/') != std::string_view::npos) return IpPrefix::parse(word);
  std::string full(word);
  full += word.find(':') != std::string_view::npos ? "/128" : "/32";
  return IpPrefix::parse(full);
}

std::optional<int> parse_vrid(std::string_view word) {
  int v = 0;
  auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
  if (ec != std::errc{} || end != word.data() + word.size() || v < 1 || v > 255)
    return std::nullopt;
  return v;
}

// "2", "0.5", "1.25": seconds with at most two decimals (keepalived's
// centisecond resolution), 0.01 to 255.
std::optional<Millis> parse_seconds_ms(std::string_view word) {
  auto dot = word.find('.');
  int whole = 0;
  auto w = word.substr(0, dot);
  auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), whole);
  if (w.empty() || ec != std::errc{} || end != w.data() + w.size() || whole > 255)
    return std::nullopt;
  int cs = 0;
  if (dot != std::string_view::npos) {
    auto f = word.substr(dot + 1);
    if (f.empty() || f.size() > 2) return std::nullopt;
    for (char c : f)
      if (c < '0' || c > '9') return std::nullopt;
    cs = (f[0] - '0') * 10 + (f.size() > 1 ? f[1] - '0' : 0);
  }
  Millis ms(whole * 1000 + cs * 10);
  if (ms < Millis(10) || ms > Millis(255000)) return std::nullopt;
  return ms;
}

bool is_gateway_device(std::string_view dev) { return dev.starts_with("qg-"); }

bool one_of(std::string_view w, std::initializer_list<std::string_view> set) {
  for (auto s : set)
    if (w == s) return true;
  return false;
}

// The words of an address or route entry that take a value, after
// keepalived.conf(5); the others (no_track, onlink, home, -nodad, …) stand
// alone. Skipping values keeps `label qg-x` from reading as a device.
bool takes_value(std::string_view w) {
  return one_of(w, {"dev",      "oif",      "brd",       "broadcast", "scope",    "label",
                    "peer",     "track_group", "src",    "as",        "or",       "table",
                    "metric",   "priority", "preference", "protocol", "proto",    "tos",
                    "realms",   "mtu",      "advmss",    "rtt",       "rttvar",   "reordering",
                    "window",   "cwnd",     "ssthresh",  "initcwnd",  "initrwnd", "rto_min",
                    "hoplimit", "features", "vrf",       "weight",    "pref",
                    "fastopen_no_cookie"});
}

// Route types that may precede a route's destination (`blackhole 10.0.0.0/8`).
bool is_route_type(std::string_view w) {
  return one_of(w, {"unicast", "local", "broadcast", "multicast", "anycast", "throw",
                    "unreachable", "prohibit", "blackhole", "nat"});
}

// ---- the parser ---------------------------------------------------------

enum class Context { top, skip, instance, vips, excluded, routes };

std::string_view block_name(Context c) {
  switch (c) {
    case Context::vips: return "virtual_ipaddress";
    case Context::excluded: return "virtual_ipaddress_excluded";
    case Context::routes: return "virtual_routes";
    default: return "block";
  }
}

struct Address {
  IpPrefix prefix;
  std::string dev;  // empty: the instance's interface
  int line = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text), text_(text) {}

  tl::expected<NeutronHaRouter, std::string> run() {
    if (auto err = block(Context::top, 0, 0)) return tl::unexpected(*err);
    if (instances_ == 0) return tl::unexpected(at(last_line(), "no vrrp_instance in the file"));
    return std::move(result_);
  }

 private:
  Token next() {
    if (peeked_) {
      Token t = *peeked_;
      peeked_.reset();
      return t;
    }
    return lexer_.next();
  }

  Token peek() {
    if (!peeked_) peeked_ = lexer_.next();
    return *peeked_;
  }

  // Reads one statement and returns what ended it: open (its block follows),
  // close, end or error. A `{` alone on a following line opens its block.
  Token statement(Statement& st) {
    for (;;) {
      Token t = next();
      switch (t.kind) {
        case Token::Kind::word:
          if (st.words.empty()) st.line = t.line;
          st.words.push_back(t.text);
          continue;
        case Token::Kind::newline:
          if (st.words.empty()) continue;
          while (peek().kind == Token::Kind::newline) next();
          if (peek().kind == Token::Kind::open) continue;
          return t;
        case Token::Kind::open:
          if (st.words.empty()) st.line = t.line;
          return t;
        default:
          return t;
      }
    }
  }

  // Reads the statements of a block up to its `}` (or, at the top, the end).
  Error block(Context ctx, int depth, int open_line) {
    for (;;) {
      Statement st;
      Token t = statement(st);
      if (t.kind == Token::Kind::error) return at(t.line, t.text);
      bool has_block = t.kind == Token::Kind::open;
      if (!st.words.empty() || has_block) {
        Context child = Context::skip;
        if (auto err = on_statement(ctx, st, has_block, child)) return err;
        if (has_block) {
          if (depth + 1 > kMaxDepth) return at(t.line, "blocks nested deeper than 16");
          if (auto err = block(child, depth + 1, t.line)) return err;
        }
      }
      if (t.kind == Token::Kind::close) {
        if (depth == 0) return at(t.line, "'}' without a matching '{'");
        return ctx == Context::instance ? finish_instance() : std::nullopt;
      }
      if (t.kind == Token::Kind::end) {
        if (depth > 0) return at(open_line, "'{' is never closed");
        return std::nullopt;
      }
    }
  }

  Error on_statement(Context ctx, const Statement& st, bool has_block, Context& child) {
    switch (ctx) {
      case Context::top: return top_statement(st, has_block, child);
      case Context::instance: return instance_statement(st, has_block, child);
      case Context::vips:
      case Context::excluded:
      case Context::routes:
        if (has_block) return at(st.line, "unexpected '{' in " + std::string(block_name(ctx)));
        if (ctx == Context::routes) return route(st);
        return address(ctx, st);
      case Context::skip: return std::nullopt;
    }
    return std::nullopt;
  }

  Error top_statement(const Statement& st, bool has_block, Context& child) {
    if (st.words.empty() || st.words[0] != "vrrp_instance") return std::nullopt;
    if (++instances_ > 1)
      return at(st.line, "expected one vrrp_instance (Neutron writes one per router)");
    if (!has_block) return at(st.line, "vrrp_instance without a '{' block");
    instance_line_ = st.line;
    child = Context::instance;
    return std::nullopt;
  }

  Error instance_statement(const Statement& st, bool has_block, Context& child) {
    if (st.words.empty()) return std::nullopt;
    auto key = st.words[0];
    if (key == "interface") {
      if (st.words.size() < 2 || st.words[1].empty())
        return at(st.line, "interface needs a device name");
      result_.ha_interface = std::string(st.words[1]);
      have_interface_ = true;
    } else if (key == "virtual_router_id") {
      auto vrid = st.words.size() < 2 ? std::nullopt : parse_vrid(st.words[1]);
      if (!vrid)
        return at(st.line, "virtual_router_id must be 1..255, got " +
                               (st.words.size() < 2 ? std::string("nothing")
                                                    : quoted(st.words[1])));
      result_.vrid = *vrid;
    } else if (key == "priority") {
      auto prio = st.words.size() < 2 ? std::nullopt : parse_vrid(st.words[1]);
      if (!prio) return at(st.line, "priority must be 1..255");
      result_.priority = *prio;
    } else if (key == "vrrp_version") {
      if (st.words.size() < 2 || (st.words[1] != "2" && st.words[1] != "3"))
        return at(st.line, "vrrp_version must be 2 or 3");
      result_.version = st.words[1] == "2" ? 2 : 3;
    } else if (key == "advert_int") {
      auto ms = st.words.size() < 2 ? std::nullopt : parse_seconds_ms(st.words[1]);
      if (!ms) return at(st.line, "advert_int must be seconds from 0.01 to 255");
      result_.advert_interval = *ms;
    } else if (key == "virtual_ipaddress" || key == "virtual_ipaddress_excluded" ||
               key == "virtual_routes") {
      if (!has_block) return at(st.line, std::string(key) + " without a '{' block");
      child = key == "virtual_ipaddress"            ? Context::vips
              : key == "virtual_ipaddress_excluded" ? Context::excluded
                                                    : Context::routes;
      if (child == Context::vips && vips_line_ == 0) vips_line_ = st.line;
    }
    return std::nullopt;
  }

  // `ADDR[/LEN] [dev DEV] [scope S] [no_track] …` in virtual_ipaddress(_excluded).
  Error address(Context ctx, const Statement& st) {
    Address a;
    a.line = st.line;
    auto prefix = parse_address(st.words[0]);
    if (!prefix)
      return at(st.line, "malformed address " + quoted(st.words[0]) + " in " +
                             std::string(block_name(ctx)));
    a.prefix = *prefix;
    for (std::size_t i = 1; i < st.words.size(); ++i) {
      if (!takes_value(st.words[i])) continue;
      if (i + 1 == st.words.size() || st.words[i + 1].empty())
        return at(st.line, std::string(st.words[i]) + " needs a value");
      if (st.words[i] == "dev") a.dev = std::string(st.words[i + 1]);
      ++i;
    }
    if (ctx == Context::excluded) {
      if (gateway_from_excluded_.empty() && is_gateway_device(a.dev))
        gateway_from_excluded_ = a.dev;
      excluded_.push_back(std::move(a));
      return std::nullopt;
    }
    if (have_vip_)
      return at(st.line,
                "more than one address in virtual_ipaddress: Neutron puts exactly one signal "
                "VIP in virtual_ipaddress");
    have_vip_ = true;
    vip_ = std::move(a);
    return std::nullopt;
  }

  // `[TYPE] [src ADDR] [to] DEST [via|gw [inet|inet6] NEXTHOP] [dev DEV] …`
  // in virtual_routes. DEST may be `default` (the family follows the nexthop),
  // `default6`, `any`, `all` or an address with or without /LEN.
  Error route(const Statement& st) {
    const auto& w = st.words;
    std::size_t i = 0;
    while (i < w.size() && (is_route_type(w[i]) || w[i] == "src" || w[i] == "to"))
      i += w[i] == "src" ? 2 : 1;
    if (i >= w.size()) return at(st.line, "route without a destination in virtual_routes");
    auto dest = w[i];
    bool any_family = dest == "default" || dest == "any" || dest == "all";
    bool v6_default = dest == "default6";
    if (!any_family && !v6_default) {
      auto p = parse_address(dest);
      if (!p) return at(st.line, "malformed route destination " + quoted(dest));
      v6_default = p->family == AF_INET6 && p->length == 0;
    }
    for (++i; i < w.size(); ++i) {
      if (w[i] == "via" || w[i] == "gw") {
        if (i + 1 < w.size() && (w[i + 1] == "inet" || w[i + 1] == "inet6")) ++i;
        if (i + 1 == w.size()) return at(st.line, std::string(w[i]) + " needs a nexthop");
        auto nexthop = parse_address(w[++i]);
        if (!nexthop) return at(st.line, "malformed route nexthop " + quoted(w[i]));
        if (any_family && nexthop->family == AF_INET6) v6_default = true;
      } else if (takes_value(w[i])) {
        if (i + 1 == w.size() || w[i + 1].empty())
          return at(st.line, std::string(w[i]) + " needs a value");
        ++i;
        if ((w[i - 1] == "dev" || w[i - 1] == "oif") && gateway_from_routes_.empty() &&
            is_gateway_device(w[i]))
          gateway_from_routes_ = std::string(w[i]);
      }
    }
    if (v6_default) result_.ipv6_default_route = true;
    return std::nullopt;
  }

  // The instance's `}`: everything havip relies on must be there by now
  // (keepalived does not care in which order the statements come).
  Error finish_instance() {
    if (!have_interface_) return at(instance_line_, "vrrp_instance has no interface");
    if (result_.vrid == 0) return at(instance_line_, "vrrp_instance has no virtual_router_id");
    if (vips_line_ == 0)
      return at(instance_line_,
                "vrrp_instance has no virtual_ipaddress: Neutron puts exactly one signal VIP "
                "in virtual_ipaddress");
    if (!have_vip_)
      return at(vips_line_,
                "virtual_ipaddress is empty: Neutron puts exactly one signal VIP in "
                "virtual_ipaddress");
    if (!vip_.dev.empty() && vip_.dev != result_.ha_interface)
      return at(vip_.line, "the signal VIP is on " + quoted(vip_.dev) +
                               ", not on the instance's interface " +
                               quoted(result_.ha_interface));
    result_.signal_vip = vip_.prefix;
    // A router has one gateway port; the routes name it first because its
    // default route is what makes it the gateway, whereas an excluded
    // address on qg- could in principle be a stray floating IP.
    result_.gateway_interface =
        !gateway_from_routes_.empty() ? gateway_from_routes_ : gateway_from_excluded_;
    for (auto& a : excluded_)
      result_.excluded.emplace_back(a.prefix, a.dev.empty() ? result_.ha_interface : a.dev);
    return std::nullopt;
  }

  // Where an error about the whole file points: its last line.
  int last_line() const {
    int lines = 1;
    for (char c : text_) lines += c == '\n';
    if (!text_.empty() && text_.back() == '\n') --lines;
    return lines;
  }

  Lexer lexer_;
  std::string_view text_;
  std::optional<Token> peeked_;

  NeutronHaRouter result_;
  int instances_ = 0;
  int instance_line_ = 0;
  bool have_interface_ = false;
  int vips_line_ = 0;  // the first `virtual_ipaddress` line
  bool have_vip_ = false;
  Address vip_;
  std::vector<Address> excluded_;
  std::string gateway_from_routes_;
  std::string gateway_from_excluded_;
};

}  // namespace

tl::expected<NeutronHaRouter, std::string> parse_neutron_keepalived_conf(std::string_view text) {
  if (text.size() > kMaxInput) {
    int line = 1;
    for (std::size_t i = 0; i < kMaxInput; ++i) line += text[i] == '\n';
    return tl::unexpected(at(line, "the file is larger than 1 MiB"));
  }
  return Parser(text).run();
}

}  // namespace havip
