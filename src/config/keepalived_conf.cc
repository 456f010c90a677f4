// keepalived.conf, read as keepalived 2.2 reads it (lib/parser.c), in two
// layers:
//
// * Lines. keepalived reads a file line by line and prepares each line
//   before it splits it into words: `decomment()` drops `#`/`!` comments
//   outside double quotes (and turns `\#`, `\!` into `#`, `!`), a line
//   `$NAME=VALUE` defines NAME, `$NAME` and `${NAME}` are replaced by their
//   values (again until nothing changes), and a line `include PATTERN`
//   (or includer/includem/includew/includeb/includea) is replaced by the files
//   the glob matches, in order, each read the same way. So an include may
//   stand anywhere, even inside a block. Not supported, with an error rather
//   than a misreading: `@ID` line prefixes (they depend on keepalived's
//   --config-id), multi-line definitions (a trailing `\`), `~SEQ`/`~LST`,
//   `$_INSTANCE` and `$_RANDOM`.
// * Tokens. Words are separated by blanks; `{` and `}` are tokens wherever
//   they stand outside double quotes; `"…"` is one word without its quotes;
//   a statement runs to the end of its line, a `{` or a `}`, and a block's
//   `{` may stand on the line after its keyword.
//
// The parser streams: it keeps no tree, only the Conf it fills and what the
// checks at the end need; its recursion is bounded by kMaxDepth, includes by
// kMaxIncludeDepth and kMaxFiles. It is fuzzed (tests/fuzz/keepalived_reader_fuzz.cc).
#include "config/keepalived_conf.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <deque>
#include <initializer_list>
#include <set>
#include <utility>

namespace havip::keepalived {
namespace {

constexpr std::size_t kMaxInput = std::size_t{1} << 20;   // per file
constexpr std::size_t kMaxTotal = std::size_t{16} << 20;  // all files together
constexpr std::size_t kMaxWord = 1024;       // addresses and device names are far shorter
constexpr std::size_t kMaxLine = 64 * 1024;  // a line after $NAME substitution
constexpr int kMaxDepth = 16;                // blocks; keepalived's own nest three deep
constexpr int kMaxIncludeDepth = 8;
constexpr std::size_t kMaxFiles = 1000;
constexpr int kMaxSubstitutions = 16;  // rounds of $NAME replacement on one line

using Error = std::optional<std::string>;  // nullopt: fine

std::string quoted(std::string_view word) { return "'" + std::string(word) + "'"; }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

bool one_of(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), w) != set.end();
}

// Where a token or a statement is: an index into the files read, and a line.
struct Where {
  int file = 0;
  int line = 0;
};

std::string dirname(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// "/etc/k/./a.conf" and "/etc/k//a.conf" are "/etc/k/a.conf": only to
// recognise an include cycle (the file is read under the name it was given).
std::string normal(const std::string& path) {
  std::string out;
  std::size_t i = 0;
  while (i <= path.size()) {
    auto slash = path.find('/', i);
    if (slash == std::string::npos) slash = path.size();
    auto part = path.substr(i, slash - i);
    if (part == "." || (part.empty() && i > 0)) {
      // dropped
    } else {
      if (!out.empty() && out.back() != '/') out += '/';
      out += part.empty() ? "/" : part;
    }
    i = slash + 1;
  }
  return out;
}

// ---- lines ----------------------------------------------------------------

// keepalived's decomment(): strips leading and trailing blanks and a comment
// outside double quotes; `\#` and `\!` outside quotes lose their backslash.
Error decomment(std::string& s) {
  auto first = s.find_first_not_of(" \t");
  s.erase(0, first == std::string::npos ? s.size() : first);
  bool quote = false;
  bool continued = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      quote = !quote;
    } else if (c == '\\') {
      if (i + 1 == s.size()) {  // a trailing '\': a line continues (definitions only)
        s.pop_back();
        continued = true;
        break;
      }
      if (!quote && (s[i + 1] == '#' || s[i + 1] == '!'))
        s.erase(i, 1);
      else
        ++i;
    } else if (!quote && (c == '#' || c == '!')) {
      s.erase(i);
      break;
    }
  }
  if (quote) return "unterminated '\"'";
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  if (continued) s += '\\';
  return std::nullopt;
}

bool name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// `$NAME=VALUE` (no blank before '='): NAME, VALUE.
std::optional<std::pair<std::string, std::string>> definition(const std::string& line) {
  if (line.size() < 2 || line[0] != '$' || !name_start(line[1])) return std::nullopt;
  std::size_t i = 2;
  while (i < line.size() && name_char(line[i])) ++i;
  if (i == line.size() || line[i] != '=') return std::nullopt;
  auto value = line.substr(i + 1);
  value.erase(0, std::min(value.find_first_not_of(" \t"), value.size()));
  return std::make_pair(line.substr(1, i - 1), value);
}

// `include PATTERN` and its variants: the variant letter (' ' for plain
// include) and the pattern.
std::optional<std::pair<char, std::string>> include_line(const std::string& line) {
  if (!line.starts_with("include") || line.size() < 8) return std::nullopt;
  std::size_t at = 0;
  char kind = ' ';
  if (std::isspace(static_cast<unsigned char>(line[7]))) {
    at = 8;
  } else if (line.size() > 8 && std::string_view("rmwba").find(line[7]) != std::string_view::npos &&
             std::isspace(static_cast<unsigned char>(line[8]))) {
    kind = line[7];
    at = 9;
  } else {
    return std::nullopt;
  }
  auto pattern = line.substr(at);
  pattern.erase(0, std::min(pattern.find_first_not_of(" \t"), pattern.size()));
  return std::make_pair(kind, pattern);
}

// ---- tokens ---------------------------------------------------------------

struct Token {
  enum class Kind { word, open, close, newline, end, error };
  Kind kind = Kind::end;
  std::string text;  // the word (quotes stripped), or the error message
  Where where;
};

// The files, read line by line through includes, as tokens.
class Lexer {
 public:
  Lexer(const Io& io, Conf& conf) : io_(io), conf_(conf) {}

  Error start(std::string_view text, const std::string& file) {
    return push(std::string(text), file, {}, Where{});
  }

  Token next() {
    while (pending_.empty()) {
      Where where;
      std::string line;
      auto status = next_line(line, where);
      if (status == Status::error) return {Token::Kind::error, line, where};
      if (status == Status::end) return {Token::Kind::end, {}, last_};
      if (auto err = tokenize(line, where)) return {Token::Kind::error, *err, where};
    }
    Token t = std::move(pending_.front());
    pending_.pop_front();
    return t;
  }

  std::string at(Where w, std::string_view message) const {
    return names_[static_cast<std::size_t>(w.file)] + ":" + std::to_string(w.line) + ": " +
           std::string(message);
  }
  const std::string& file_name(int file) const { return names_[static_cast<std::size_t>(file)]; }

 private:
  struct Source {
    std::string text;
    int file = 0;
    std::size_t pos = 0;
    int line = 0;
    std::vector<std::string> chain;  // the including files (normalised), outermost first
  };
  enum class Status { line, end, error };

  // Adds a file to read next. `where`: the include statement, for messages.
  Error push(std::string text, const std::string& name, std::vector<std::string> chain,
             Where where) {
    if (names_.size() >= kMaxFiles) return at(where, "more than 1000 files included");
    int file = static_cast<int>(names_.size());
    names_.push_back(name);
    conf_.files.push_back(name);
    if (text.size() > kMaxInput) {
      int line = 1;
      for (std::size_t i = 0; i < kMaxInput; ++i) line += text[i] == '\n';
      return at({file, line}, "the file is larger than 1 MiB");
    }
    total_ += text.size();
    if (total_ > kMaxTotal) return at(where, "the included files are larger than 16 MiB in all");
    sources_.push_back({std::move(text), file, 0, 0, std::move(chain)});
    return std::nullopt;
  }

  // The next line keepalived would split into words, `line` is the error
  // message on Status::error.
  Status next_line(std::string& line, Where& where) {
    while (!sources_.empty()) {
      Source& s = sources_.back();
      if (s.pos >= s.text.size()) {
        last_ = {s.file, s.line};
        sources_.pop_back();
        continue;
      }
      auto eol = s.text.find('\n', s.pos);
      if (eol == std::string::npos) eol = s.text.size();
      std::string_view raw(s.text.data() + s.pos, eol - s.pos);
      s.pos = eol + 1;
      where = {s.file, ++s.line};
      last_ = where;
      if (raw.find('\0') != std::string_view::npos)
        return fail(line, where, "NUL byte in the file");
      while (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      line.assign(raw);
      if (auto err = prepare(line, where)) return fail(line, where, *err);
      if (line.empty()) continue;
      if (auto inc = include_line(line)) {
        if (auto err = include(inc->first, inc->second, where)) {
          line = *err;
          return Status::error;
        }
        continue;
      }
      return Status::line;
    }
    return Status::end;
  }

  Status fail(std::string& line, Where where, std::string_view message) {
    line = at(where, message);
    return Status::error;
  }

  // Comments, definitions and substitutions; an empty line is done with.
  Error prepare(std::string& line, Where where) {
    if (auto err = decomment(line)) return err;
    for (int round = 0; !line.empty(); ++round) {
      if (line[0] == '@')
        return "'@' line prefixes are not supported (they depend on keepalived's --config-id)";
      if (line.starts_with("~SEQ") || line.starts_with("~LST"))
        return "~SEQ and ~LST are not supported";
      if (auto def = definition(line)) {
        if (def->second.ends_with('\\'))
          return "multi-line definitions ('\\' at the end of $" + def->first +
                 "=…) are not supported";
        definitions_[def->first] = def->second;
        line.clear();
        return std::nullopt;
      }
      if (line.find('$') == std::string::npos) return std::nullopt;
      bool changed = false;
      if (auto err = substitute(line, where, changed)) return err;
      if (!changed) return std::nullopt;
      if (round == kMaxSubstitutions)
        return "$NAME substitutions nest deeper than 16 (does a definition use itself?)";
      if (auto err = decomment(line)) return err;
    }
    return std::nullopt;
  }

  // Replaces `$NAME` (followed by a blank, ',', ')' or the end) and `${NAME}`
  // by NAME's value, as keepalived's replace_param(); others stay as written.
  Error substitute(std::string& line, Where where, bool& changed) {
    std::string out;
    std::size_t i = 0;
    while (i < line.size()) {
      if (line[i] != '$' || i + 1 == line.size()) {
        out += line[i++];
        continue;
      }
      bool braces = line[i + 1] == '{';
      std::size_t start = i + 1 + (braces ? 1 : 0);
      std::size_t end = start;
      if (start < line.size() && name_start(line[start]))
        while (++end < line.size() && name_char(line[end])) {
        }
      bool ends = braces ? end < line.size() && line[end] == '}'
                         : end == line.size() ||
                               std::string_view(" \t,)").find(line[end]) != std::string_view::npos;
      std::optional<std::string> value;
      if (end > start && ends) {
        auto name = line.substr(start, end - start);
        if (auto it = definitions_.find(name); it != definitions_.end()) {
          value = it->second;
        } else if (name == "_HASH" || name == "_BANG") {
          value = name == "_HASH" ? "#" : "!";
        } else if (name == "_PWD") {
          value = dirname(file_name(where.file));
        } else if (name == "_INSTANCE" || name == "_RANDOM") {
          return "$" + name + " is not supported";
        }
      }
      if (!value) {
        out += line[i++];
        continue;
      }
      out += *value;
      i = end + (braces ? 1 : 0);
      changed = true;
      if (out.size() > kMaxLine) return "the line is longer than 64 KiB after $NAME substitution";
    }
    line = std::move(out);
    return std::nullopt;
  }

  Error include(char kind, const std::string& pattern, Where where) {
    if (pattern.empty()) return at(where, "include needs a file name");
    // Copies: reading the matches below grows sources_ and names_.
    const std::string from = file_name(sources_.back().file);
    auto chain = sources_.back().chain;
    if (chain.size() + 1 > kMaxIncludeDepth) return at(where, "includes nested deeper than 8");
    std::string path = pattern;
    if (pattern[0] != '/' && from.find('/') != std::string::npos)
      path = dirname(from) + "/" + pattern;
    conf_.patterns.push_back(path);
    auto matches = io_.glob(path);
    if (matches.empty()) {
      // keepalived logs and skips an include that matches nothing, unless
      // the variant asks for a match (includem, includew, includeb, includea).
      if (kind == ' ' || kind == 'r') return std::nullopt;
      return at(where,
                "include" + std::string(1, kind) + " " + quoted(pattern) + " matches no file");
    }
    chain.push_back(normal(from));
    std::vector<Source> read;
    for (const auto& m : matches) {
      if (std::find(chain.begin(), chain.end(), normal(m)) != chain.end())
        return at(where, "include cycle: " + quoted(m) + " is already being read");
      auto text = io_.read(m);
      if (!text) return at(where, "cannot read included file " + quoted(m) + ": " + text.error());
      // Pushed below in reverse, so that the first match is read first.
      auto size = sources_.size();
      if (auto err = push(std::move(*text), m, chain, where)) return err;
      read.push_back(std::move(sources_.back()));
      sources_.resize(size);
    }
    std::move(read.rbegin(), read.rend(), std::back_inserter(sources_));
    return std::nullopt;
  }

  // Splits a prepared line into words and braces, then a newline.
  Error tokenize(const std::string& line, Where where) {
    std::size_t i = 0;
    while (i < line.size()) {
      char c = line[i];
      if (is_blank(c)) {
        ++i;
        continue;
      }
      if (c == '{' || c == '}') {
        pending_.push_back({c == '{' ? Token::Kind::open : Token::Kind::close, {}, where});
        ++i;
        continue;
      }
      std::size_t start = i;
      std::size_t end;
      if (c == '"') {
        end = line.find('"', i + 1);
        if (end == std::string::npos) return at(where, "unterminated '\"'");
        ++start;
        i = end + 1;
      } else {
        while (i < line.size() && !is_blank(line[i]) && line[i] != '"' && line[i] != '{' &&
               line[i] != '}')
          ++i;
        end = i;
      }
      if (end - start > kMaxWord) return at(where, "word longer than 1024 bytes");
      pending_.push_back({Token::Kind::word, line.substr(start, end - start), where});
    }
    pending_.push_back({Token::Kind::newline, {}, where});
    return std::nullopt;
  }

  const Io& io_;
  Conf& conf_;
  std::vector<std::string> names_;  // every file, by index
  std::vector<Source> sources_;     // the files being read; the back one first
  std::size_t total_ = 0;
  std::map<std::string, std::string> definitions_;
  std::deque<Token> pending_;
  Where last_;
};

// ---- values ---------------------------------------------------------------

// keepalived reads an address without /LEN as a host address.
std::optional<IpPrefix> parse_address(std::string_view word) {
  if (word.find('/') != std::string_view::npos) return IpPrefix::parse(word);
  std::string full(word);
  full += word.find(':') != std::string_view::npos ? "/128" : "/32";
  return IpPrefix::parse(full);
}

std::optional<int> parse_int(std::string_view word, int min, int max) {
  int v = 0;
  auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
  if (ec != std::errc{} || end != word.data() + word.size() || v < min || v > max)
    return std::nullopt;
  return v;
}

// "2", "0.5", "1.25": seconds with at most two decimals (keepalived's
// centisecond resolution), 0.01 to 255.
std::optional<Millis> parse_seconds_ms(std::string_view word) {
  auto dot = word.find('.');
  auto w = word.substr(0, dot);
  auto whole = parse_int(w, 0, 255);
  if (!whole) return std::nullopt;
  int cs = 0;
  if (dot != std::string_view::npos) {
    auto f = word.substr(dot + 1);
    if (f.empty() || f.size() > 2) return std::nullopt;
    for (char c : f)
      if (c < '0' || c > '9') return std::nullopt;
    cs = (f[0] - '0') * 10 + (f.size() > 1 ? f[1] - '0' : 0);
  }
  Millis ms(*whole * 1000 + cs * 10);
  if (ms < Millis(10) || ms > Millis(255000)) return std::nullopt;
  return ms;
}

// The words of an address or route entry that take a value, after
// keepalived.conf(5); the others (no_track, onlink, home, -nodad, …) stand
// alone. Skipping values keeps `label qg-x` from reading as a device.
bool takes_value(std::string_view w) {
  return one_of(
      w, {"dev",      "oif",         "brd",        "broadcast", "scope",    "label",
          "peer",     "track_group", "src",        "as",        "or",       "table",
          "metric",   "priority",    "preference", "protocol",  "proto",    "tos",
          "realms",   "mtu",         "advmss",     "rtt",       "rttvar",   "reordering",
          "window",   "cwnd",        "ssthresh",   "initcwnd",  "initrwnd", "rto_min",
          "hoplimit", "features",    "vrf",        "weight",    "pref",     "fastopen_no_cookie"});
}

// Route types that may precede a route's destination (`blackhole 10.0.0.0/8`).
bool is_route_type(std::string_view w) {
  return one_of(w, {"unicast", "local", "broadcast", "multicast", "anycast", "throw", "unreachable",
                    "prohibit", "blackhole", "nat"});
}

// ---- the parser -----------------------------------------------------------

enum class Context {
  top,
  skip,
  global,
  instance,
  vips,
  excluded,
  routes,
  peers,
  instance_tracks,
  sync_group,
  sync_members,
  track_file
};

std::string_view block_name(Context c) {
  switch (c) {
    case Context::vips:
      return "virtual_ipaddress";
    case Context::excluded:
      return "virtual_ipaddress_excluded";
    case Context::routes:
      return "virtual_routes";
    case Context::peers:
      return "unicast_peer";
    default:
      return "block";
  }
}

// A statement: its words, up to the end of the line, a `{` or a `}`.
struct Statement {
  std::vector<std::string> words;
  Where where;
  const std::string& key() const { return words[0]; }
};

// What the checks at the end need besides the Conf.
struct Reference {
  std::string name;
  std::size_t owner = 0;  // the instance (track files) or unused
  std::string group;      // the sync group (members)
  Where where;
};

class Parser {
 public:
  explicit Parser(const Io& io) : lexer_(io, conf_) {}

  tl::expected<Conf, std::string> run(std::string_view text, const std::string& file) {
    if (auto err = lexer_.start(text, file)) return tl::unexpected(*err);
    if (auto err = block(Context::top, 0, {})) return tl::unexpected(*err);
    if (auto err = finish()) return tl::unexpected(*err);
    return std::move(conf_);
  }

 private:
  Token next() {
    if (peeked_) {
      Token t = std::move(*peeked_);
      peeked_.reset();
      return t;
    }
    return lexer_.next();
  }

  const Token& peek() {
    if (!peeked_) peeked_ = lexer_.next();
    return *peeked_;
  }

  std::string at(Where w, std::string_view message) const { return lexer_.at(w, message); }

  // Reads one statement and returns what ended it: open (its block follows),
  // close, end or error. A `{` alone on a following line opens its block.
  Token statement(Statement& st) {
    for (;;) {
      Token t = next();
      switch (t.kind) {
        case Token::Kind::word:
          if (st.words.empty()) st.where = t.where;
          st.words.push_back(std::move(t.text));
          continue;
        case Token::Kind::newline:
          if (st.words.empty()) continue;
          while (peek().kind == Token::Kind::newline) next();
          if (peek().kind == Token::Kind::open) continue;
          return t;
        case Token::Kind::open:
          if (st.words.empty()) st.where = t.where;
          return t;
        default:
          return t;
      }
    }
  }

  // Reads the statements of a block up to its `}` (or, at the top, the end).
  Error block(Context ctx, int depth, Where open) {
    for (;;) {
      Statement st;
      Token t = statement(st);
      if (t.kind == Token::Kind::error) return t.text;
      bool has_block = t.kind == Token::Kind::open;
      if (!st.words.empty() || has_block) {
        Context child = Context::skip;
        if (!st.words.empty())
          if (auto err = on_statement(ctx, st, has_block, child)) return err;
        if (has_block) {
          if (depth + 1 > kMaxDepth) return at(t.where, "blocks nested deeper than 16");
          if (auto err = block(child, depth + 1, t.where)) return err;
        }
      }
      if (t.kind == Token::Kind::close) {
        if (depth == 0) return at(t.where, "'}' without a matching '{'");
        if (ctx == Context::instance) return finish_instance();
        if (ctx == Context::track_file) return finish_track_file();
        return std::nullopt;
      }
      if (t.kind == Token::Kind::end) {
        if (depth > 0) return at(open, "'{' is never closed");
        return std::nullopt;
      }
    }
  }

  Error on_statement(Context ctx, const Statement& st, bool has_block, Context& child) {
    switch (ctx) {
      case Context::top:
        return top_statement(st, has_block, child);
      case Context::global:
        return global_statement(st);
      case Context::instance:
        return instance_statement(st, has_block, child);
      case Context::sync_group:
        if (st.key() == "group") return need_block(st, has_block, child, Context::sync_members);
        return std::nullopt;
      case Context::sync_members:
        for (const auto& w : st.words) members_.push_back({w, 0, group_, st.where});
        return std::nullopt;
      case Context::track_file:
        return track_file_statement(st);
      case Context::instance_tracks:
        return instance_track(st);
      case Context::vips:
      case Context::excluded:
      case Context::routes:
      case Context::peers:
        if (has_block) return at(st.where, "unexpected '{' in " + std::string(block_name(ctx)));
        if (ctx == Context::routes) return route(st);
        if (ctx == Context::peers) return peer(st);
        return address(ctx, st);
      case Context::skip:
        return std::nullopt;
    }
    return std::nullopt;
  }

  Error need_block(const Statement& st, bool has_block, Context& child, Context ctx) {
    if (!has_block) return at(st.where, st.key() + " without a '{' block");
    child = ctx;
    return std::nullopt;
  }

  // `vrrp_instance NAME {`, `vrrp_sync_group NAME {`, `track_file NAME {`.
  Error named_block(const Statement& st, bool has_block) {
    if (st.words.size() < 2 || st.words[1].empty()) return at(st.where, st.key() + " needs a name");
    if (!has_block) return at(st.where, st.key() + " without a '{' block");
    return std::nullopt;
  }

  Error top_statement(const Statement& st, bool has_block, Context& child) {
    const auto& key = st.key();
    if (key == "global_defs") {
      if (has_block) child = Context::global;
      return std::nullopt;
    }
    if (key == "vrrp_instance") {
      if (auto err = named_block(st, has_block)) return err;
      for (const auto& i : conf_.instances)
        if (i.name == st.words[1])
          return at(st.where, "vrrp_instance " + st.words[1] + " is defined twice (first at " +
                                  i.file + ":" + std::to_string(i.line) + ")");
      Instance i;
      i.name = st.words[1];
      i.file = lexer_.file_name(st.where.file);
      i.line = st.where.line;
      conf_.instances.push_back(std::move(i));
      own_version_.push_back(false);
      instance_where_.push_back(st.where);
      child = Context::instance;
      return std::nullopt;
    }
    if (key == "vrrp_sync_group") {
      if (auto err = named_block(st, has_block)) return err;
      if (!conf_.sync_groups.emplace(st.words[1], std::vector<std::string>{}).second)
        return at(st.where, "vrrp_sync_group " + st.words[1] + " is defined twice");
      group_ = st.words[1];
      child = Context::sync_group;
      return std::nullopt;
    }
    if (key == "track_file" || key == "vrrp_track_file") {  // the second is the old name
      if (auto err = named_block(st, has_block)) return err;
      if (conf_.track_files.count(st.words[1]))
        return at(st.where, key + " " + st.words[1] + " is defined twice");
      track_file_ = TrackFile{st.words[1], {}, 1, false};
      track_file_where_ = st.where;
      child = Context::track_file;
      return std::nullopt;
    }
    return std::nullopt;
  }

  Error global_statement(const Statement& st) {
    if (st.key() == "net_namespace") {
      if (st.words.size() < 2 || st.words[1].empty())
        return at(st.where, "net_namespace needs a name");
      conf_.net_namespace = st.words[1];
    } else if (st.key() == "vrrp_version") {
      auto v = st.words.size() < 2 ? std::nullopt : parse_int(st.words[1], 2, 3);
      if (!v) return at(st.where, "vrrp_version must be 2 or 3");
      global_version_ = *v;
    }
    return std::nullopt;
  }

  Error instance_statement(const Statement& st, bool has_block, Context& child) {
    Instance& in = conf_.instances.back();
    const auto& key = st.key();
    auto arg = [&]() -> std::optional<std::string_view> {
      if (st.words.size() < 2) return std::nullopt;
      return std::string_view(st.words[1]);
    };
    if (key == "interface") {
      if (!arg() || arg()->empty()) return at(st.where, "interface needs a device name");
      if (arg()->size() > 15)
        return at(st.where, "interface name " + quoted(*arg()) + " is longer than 15 bytes");
      in.interface = *arg();
    } else if (key == "use_vmac") {
      use_vmac_ = true;
      // `use_vmac [NAME] [MAC]`: a MAC has ':'s, a name never.
      for (std::size_t i = 1; i < st.words.size() && i <= 2; ++i)
        if (st.words[i].find(':') == std::string::npos) in.vmac_interface = st.words[i];
    } else if (key == "virtual_router_id") {
      auto vrid = arg() ? parse_int(*arg(), 1, 255) : std::nullopt;
      if (!vrid)
        return at(st.where, "virtual_router_id must be 1..255, got " +
                                (arg() ? quoted(*arg()) : std::string("nothing")));
      in.vrid = *vrid;
    } else if (key == "priority") {
      auto prio = arg() ? parse_int(*arg(), 1, 255) : std::nullopt;
      if (!prio) return at(st.where, "priority must be 1..255");
      in.priority = *prio;
    } else if (key == "version") {  // `vrrp_version` is global_defs' (keepalived ignores it here)
      auto v = arg() ? parse_int(*arg(), 2, 3) : std::nullopt;
      if (!v) return at(st.where, "version must be 2 or 3");
      in.version = *v;
      own_version_.back() = true;
    } else if (key == "advert_int") {
      auto ms = arg() ? parse_seconds_ms(*arg()) : std::nullopt;
      if (!ms) return at(st.where, "advert_int must be seconds from 0.01 to 255");
      in.advert_interval = *ms;
    } else if (key == "state") {
      if (!arg() || (*arg() != "MASTER" && *arg() != "BACKUP"))
        return at(st.where, "state must be MASTER or BACKUP");
      in.state = *arg();
    } else if (key == "nopreempt") {
      in.nopreempt = true;
    } else if (key == "native_ipv6") {
      native_ipv6_ = true;
    } else if (key == "unicast_src_ip") {
      auto a = arg() ? parse_address(*arg()) : std::nullopt;
      if (!a) return at(st.where, "malformed unicast_src_ip " + quoted(arg().value_or("")));
      in.unicast_src_ip = *a;
    } else if (key == "virtual_ipaddress") {
      if (auto err = need_block(st, has_block, child, Context::vips)) return err;
      if (in.vips_line == 0) in.vips_line = st.where.line;
    } else if (key == "virtual_ipaddress_excluded") {
      return need_block(st, has_block, child, Context::excluded);
    } else if (key == "virtual_routes") {
      return need_block(st, has_block, child, Context::routes);
    } else if (key == "unicast_peer") {
      return need_block(st, has_block, child, Context::peers);
    } else if (key == "track_file") {
      return need_block(st, has_block, child, Context::instance_tracks);
    }
    return std::nullopt;
  }

  // `ADDR[/LEN] [dev DEV] [scope S] [no_track] …` in virtual_ipaddress(_excluded).
  Error address(Context ctx, const Statement& st) {
    Address a;
    a.line = st.where.line;
    auto prefix = parse_address(st.key());
    if (!prefix)
      return at(st.where,
                "malformed address " + quoted(st.key()) + " in " + std::string(block_name(ctx)));
    a.prefix = *prefix;
    for (std::size_t i = 1; i < st.words.size(); ++i) {
      if (!takes_value(st.words[i])) continue;
      if (i + 1 == st.words.size() || st.words[i + 1].empty())
        return at(st.where, st.words[i] + " needs a value");
      if (st.words[i] == "dev") a.dev = st.words[i + 1];
      ++i;
    }
    auto& in = conf_.instances.back();
    (ctx == Context::excluded ? in.excluded : in.vips).push_back(std::move(a));
    return std::nullopt;
  }

  static int table_number(const std::string& word) {
    if (word == "main") return 254;
    if (word == "local") return 255;
    if (word == "default") return 253;
    unsigned n = 0;
    auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), n);
    return ec == std::errc() && end == word.data() + word.size() ? static_cast<int>(n) : -1;
  }

  // `[TYPE] [src ADDR] [to] DEST [via|gw [inet|inet6] NEXTHOP] [dev DEV] …`
  // in virtual_routes. DEST may be `default` (the family follows the nexthop),
  // `default6`, `any`, `all` or an address with or without /LEN.
  Error route(const Statement& st) {
    const auto& w = st.words;
    std::size_t i = 0;
    while (i < w.size() && (is_route_type(w[i]) || w[i] == "src" || w[i] == "to"))
      i += w[i] == "src" ? 2 : 1;
    if (i >= w.size()) return at(st.where, "route without a destination in virtual_routes");
    Route r;
    const auto& dest = w[i];
    bool any_family = dest == "default" || dest == "any" || dest == "all";
    if (dest == "default6") {
      r.destination = IpPrefix::parse("::/0");
      r.ipv6_default = true;
    } else if (!any_family) {
      r.destination = parse_address(dest);
      if (!r.destination) return at(st.where, "malformed route destination " + quoted(dest));
      r.ipv6_default = r.destination->family == AF_INET6 && r.destination->length == 0;
    }
    for (++i; i < w.size(); ++i) {
      if (w[i] == "via" || w[i] == "gw") {
        if (i + 1 < w.size() && (w[i + 1] == "inet" || w[i + 1] == "inet6")) ++i;
        if (i + 1 == w.size()) return at(st.where, w[i] + " needs a nexthop");
        auto nexthop = parse_address(w[++i]);
        if (!nexthop) return at(st.where, "malformed route nexthop " + quoted(w[i]));
        if (any_family && nexthop->family == AF_INET6) r.ipv6_default = true;
        if (!r.via) r.via = nexthop;
      } else if (takes_value(w[i])) {
        if (i + 1 == w.size() || w[i + 1].empty()) return at(st.where, w[i] + " needs a value");
        ++i;
        if (w[i - 1] == "dev" || w[i - 1] == "oif") r.devs.push_back(w[i]);
        if (w[i - 1] == "table") r.table = table_number(w[i]);
      }
    }
    if (!r.devs.empty()) r.dev = r.devs.front();
    conf_.instances.back().routes.push_back(std::move(r));
    return std::nullopt;
  }

  // `ADDR [min_ttl N] [max_ttl N]` in unicast_peer.
  Error peer(const Statement& st) {
    auto a = st.key().find('/') == std::string::npos ? parse_address(st.key()) : std::nullopt;
    if (!a) return at(st.where, "malformed address " + quoted(st.key()) + " in unicast_peer");
    conf_.instances.back().unicast_peers.push_back(*a);
    return std::nullopt;
  }

  // `NAME [weight W [reverse|noreverse]]` in an instance's track_file.
  Error instance_track(const Statement& st) {
    std::optional<int> weight;
    for (std::size_t i = 1; i < st.words.size(); ++i) {
      if (st.words[i] != "weight") continue;
      weight = i + 1 < st.words.size() ? parse_int(st.words[i + 1], -254, 254) : std::nullopt;
      if (!weight) return at(st.where, "track_file weight must be -254..254");
      ++i;
    }
    auto& in = conf_.instances.back();
    tracks_.push_back({st.key(), conf_.instances.size() - 1, {}, st.where});
    in.track_files.emplace_back(st.key(), weight);
    return std::nullopt;
  }

  Error track_file_statement(const Statement& st) {
    if (st.key() == "file") {
      if (st.words.size() < 2 || st.words[1].empty()) return at(st.where, "file needs a path");
      track_file_.path = st.words[1];
    } else if (st.key() == "weight") {
      auto w = st.words.size() < 2 ? std::nullopt : parse_int(st.words[1], -2147483647, 2147483647);
      if (!w) return at(st.where, "weight must be a whole number");
      track_file_.weight = *w;
      track_file_.reverse = st.words.size() > 2 && st.words[2] == "reverse";
    }
    return std::nullopt;
  }

  Error finish_track_file() {
    if (track_file_.path.empty())
      return at(track_file_where_, "track_file " + track_file_.name + " has no file");
    auto name = track_file_.name;
    conf_.track_files.emplace(name, std::move(track_file_));
    return std::nullopt;
  }

  // The instance's `}`: keepalived does not care in which order the
  // statements come, so what it needs is checked here.
  Error finish_instance() {
    auto& in = conf_.instances.back();
    Where where = instance_where_.back();
    if (in.interface.empty()) return at(where, "vrrp_instance " + in.name + " has no interface");
    if (in.vrid == 0) return at(where, "vrrp_instance " + in.name + " has no virtual_router_id");
    if (use_vmac_ && in.vmac_interface.empty())
      in.vmac_interface = "vrrp." + std::to_string(in.vrid);
    in.ipv6 = native_ipv6_ || (!in.vips.empty() && in.vips[0].prefix.family == AF_INET6);
    if (in.ipv6) in.version = 3;  // keepalived: "IPv6 instances will always use version 3"
    use_vmac_ = native_ipv6_ = false;
    return std::nullopt;
  }

  // What spans the whole configuration, once everything is read.
  Error finish() {
    auto& instances = conf_.instances;
    for (std::size_t i = 0; i < instances.size(); ++i)
      if (!own_version_[i] && !instances[i].ipv6) instances[i].version = global_version_;
    for (std::size_t j = 0; j < instances.size(); ++j)
      for (std::size_t i = 0; i < j; ++i)
        if (conflict(instances[i], instances[j]))
          return at(instance_where_[j],
                    "vrrp_instance " + instances[j].name + " uses virtual_router_id " +
                        std::to_string(instances[j].vrid) + " on " + instances[j].interface +
                        (instances[j].ipv6 ? " (IPv6)" : " (IPv4)") + " like vrrp_instance " +
                        instances[i].name + " (" + instances[i].file + ":" +
                        std::to_string(instances[i].line) + ")");
    for (const auto& m : members_) {
      auto it = std::find_if(instances.begin(), instances.end(),
                             [&](const Instance& in) { return in.name == m.name; });
      if (it == instances.end())
        return at(m.where,
                  "vrrp_sync_group " + m.group + " names no vrrp_instance " + quoted(m.name));
      if (!it->sync_group.empty())
        return at(m.where,
                  "vrrp_instance " + m.name + " is already in vrrp_sync_group " + it->sync_group);
      it->sync_group = m.group;
      conf_.sync_groups[m.group].push_back(m.name);
    }
    for (const auto& t : tracks_)
      if (!conf_.track_files.count(t.name))
        return at(t.where, "vrrp_instance " + instances[t.owner].name +
                               " tracks an undefined track_file " + quoted(t.name));
    return std::nullopt;
  }

  // Two instances keepalived refuses to run side by side (vrrp.c,
  // vrrp_complete_init): the same VRID and family on the same interface,
  // both multicast, or both unicast from the same source to a common peer.
  static bool conflict(const Instance& a, const Instance& b) {
    if (a.vrid != b.vrid || a.ipv6 != b.ipv6 || a.interface != b.interface) return false;
    if (a.unicast_peers.empty() != b.unicast_peers.empty()) return false;
    if (a.unicast_peers.empty()) return true;
    if (!a.unicast_src_ip || !b.unicast_src_ip || *a.unicast_src_ip != *b.unicast_src_ip)
      return false;
    for (const auto& p : a.unicast_peers)
      if (std::find(b.unicast_peers.begin(), b.unicast_peers.end(), p) != b.unicast_peers.end())
        return true;
    return false;
  }

  Conf conf_;
  Lexer lexer_;
  std::optional<Token> peeked_;

  int global_version_ = 2;
  std::vector<bool> own_version_;      // per instance: vrrp_version given in it
  std::vector<Where> instance_where_;  // per instance
  bool use_vmac_ = false;              // of the instance being read
  bool native_ipv6_ = false;           // of the instance being read
  std::string group_;                  // the sync group being read
  std::vector<Reference> members_;     // sync group members, in order
  std::vector<Reference> tracks_;      // instances' track_file entries
  TrackFile track_file_;               // the track_file block being read
  Where track_file_where_;
};

}  // namespace

tl::expected<Conf, std::string> parse(std::string_view text, const std::string& file,
                                      const Io& io) {
  return Parser(io).run(text, file);
}

}  // namespace havip::keepalived

namespace havip::keepalived {

std::optional<HeldRoute> held_route(const Route& r) {
  if (r.table < 0) return std::nullopt;
  HeldRoute h;
  if (r.destination) {
    h.destination = *r.destination;
  } else {  // default/any/all: the nexthop's family (IPv4 without one, as keepalived)
    bool v6 = r.ipv6_default || (r.via && r.via->family == AF_INET6);
    h.destination = *IpPrefix::parse(v6 ? "::/0" : "0.0.0.0/0");
  }
  h.via = r.via;
  h.dev = r.dev;
  h.table = r.table;
  return h;
}

}  // namespace havip::keepalived
