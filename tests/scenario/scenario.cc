#include "scenario/scenario.h"

#include <sstream>
#include <stdexcept>

namespace havip::testing {

namespace {

constexpr std::uint32_t kHaIfindex = 2;
const IpPrefix kVip = *IpPrefix::parse("169.254.0.1/24");

std::vector<std::string> words(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// "if=3" -> "3" when the word has the key, else "".
std::string option(const std::vector<std::string>& w, std::string_view key) {
  for (const auto& x : w)
    if (x.starts_with(key) && x.size() > key.size() && x[key.size()] == '=')
      return x.substr(key.size() + 1);
  return "";
}

bool has(const std::vector<std::string>& w, std::string_view word) {
  for (const auto& x : w)
    if (x == word) return true;
  return false;
}

std::string netns_of(const std::vector<std::string>& w) {
  for (std::size_t i = 1; i < w.size(); ++i)
    if (w[i].starts_with("ns")) return w[i];
  return "ns1";
}

AddrUpdate vip_update(const std::vector<std::string>& w, bool removed) {
  AddrUpdate a;
  a.ifindex = option(w, "if").empty() ? kHaIfindex : static_cast<std::uint32_t>(std::stoul(option(w, "if")));
  a.prefix = kVip;
  if (auto len = option(w, "len"); !len.empty()) a.prefix.length = static_cast<std::uint8_t>(std::stoi(len));
  if (has(w, "tentative")) a.flags |= 0x40;
  if (has(w, "dadfailed")) a.flags |= 0x08;
  a.removed = removed;
  return a;
}

}  // namespace

RouterConfig router(std::string name, std::string netns, std::string interface, std::string vip,
                    Millis hold_down) {
  RouterConfig c;
  c.name = std::move(name);
  c.netns = std::move(netns);
  c.interface = std::move(interface);
  c.vip = *IpPrefix::parse(vip);
  c.hold_down = hold_down;
  c.vrrp.vrid = 1;
  c.addresses = {HeldAddress{c.vip, c.interface}};
  return c;
}

Scenario::Scenario(Millis hold_down)
    : Scenario(std::vector<RouterConfig>{router("r1", "ns1", "ha-r1", "169.254.0.1/24", hold_down),
                                         router("r2", "ns2", "ha-r2", "169.254.0.1/24", hold_down)}) {}

Scenario::Scenario(std::vector<RouterConfig> routers)
    : engine_(std::move(routers)), now_(TimePoint(std::chrono::hours(1))) {}

std::vector<std::string> Scenario::run(std::string_view steps) {
  std::vector<std::string> out;
  while (!steps.empty()) {
    auto semi = steps.find(';');
    step(steps.substr(0, semi), out);
    steps = semi == std::string_view::npos ? "" : steps.substr(semi + 1);
  }
  return out;
}

void Scenario::feed(Event e, std::vector<std::string>& out) {
  for (auto& a : engine_.handle(e, now_)) {
    if (const auto* g = std::get_if<GatewayAppeared>(&a)) {
      out.push_back(g->router + " gateway appeared");
      continue;
    }
    if (const auto* r = std::get_if<ReleaseAddresses>(&a)) {
      out.push_back(r->router + " release");
      continue;
    }
    if (const auto* l = std::get_if<Listen>(&a)) {
      out.push_back(l->router +
                    (l->ifindex ? " listen if=" + std::to_string(l->ifindex) : " unlisten"));
      continue;
    }
    if (const auto* al = std::get_if<RouterAlert>(&a)) {
      using K = RouterAlert::Kind;
      out.push_back(
          al->router +
          (al->kind == K::speaker     ? " speaker "
           : al->kind == K::stale_vip ? " stale-vip "
                                      : " split-brain ") +
          (al->kind == K::speaker ? (al->active ? "down" : "back") : (al->active ? "on" : "off")));
      alerts_.push_back(al->router + ": " + al->detail);
      continue;
    }
    const auto& c = std::get<RoleChange>(a);
    out.push_back(c.router + " " + std::string(role_name(c.from)) + "->" +
                  std::string(role_name(c.to)));
    log_.push_back(c.router + ": " + std::string(role_name(c.from)) + " -> " +
                   std::string(role_name(c.to)) + " (" + c.reason + ")");
  }
}

void Scenario::step(std::string_view text, std::vector<std::string>& out) {
  auto w = words(text);
  if (!w.empty() && w[0].starts_with('@')) {
    auto t = TimePoint(std::chrono::hours(1)) + Millis(std::stol(w[0].substr(1)));
    if (t < now_) throw std::invalid_argument("time goes backwards: " + std::string(text));
    now_ = t;
    w.erase(w.begin());
    feed(Tick{}, out);
  }
  if (w.empty()) return;
  const std::string ns = netns_of(w);
  const std::string& verb = w[0];
  std::string ha = ns == "ns1" ? "ha-r1" : "ha-r2";
  if (verb == "boot" || verb == "resync") {
    feed(SyncStart{ns}, out);
    if (verb == "boot") feed(LinkEvent{ns, LinkUpdate{kHaIfindex, ha, false}}, out);
    if (has(w, "vip")) {
      AddrUpdate a = vip_update(w, false);
      a.dumped = true;
      Millis age(option(w, "age").empty() ? 0 : std::stol(option(w, "age")));
      feed(AddrEvent{ns, a, now_ - age}, out);
    }
    if (verb == "resync") feed(LinkEvent{ns, LinkUpdate{kHaIfindex, ha, false}}, out);
    feed(SyncEnd{ns}, out);
  } else if (verb == "+vip" || verb == "-vip") {
    feed(AddrEvent{ns, vip_update(w, verb == "-vip"), std::nullopt}, out);
  } else if (verb == "link") {
    feed(LinkEvent{ns, LinkUpdate{static_cast<std::uint32_t>(std::stoul(w[1])), w[2], false}}, out);
  } else if (verb == "unlink") {
    feed(LinkEvent{ns, LinkUpdate{static_cast<std::uint32_t>(std::stoul(w[1])), "", true}}, out);
  } else if (verb == "gone") {
    feed(NetnsGone{ns, "deleted"}, out);
  } else if (verb == "addr") {
    AddrUpdate a;
    a.ifindex = kHaIfindex;
    a.prefix = *IpPrefix::parse(w[1] + "/24");
    feed(AddrEvent{ns, a, std::nullopt}, out);
  } else if (verb == "speaker") {
    std::string r = ns == "ns1" ? "r1" : "r2";
    feed(SpeakerEvent{r, w[1] == "up" ? std::optional(100) : std::nullopt, "was killed"}, out);
  } else if (verb == "advert") {
    auto opt = [&](std::string_view key, std::string dflt) {
      auto v = option(w, key);
      return v.empty() ? dflt : v;
    };
    PeerAdvert a;
    a.source = *IpPrefix::parse(opt("from", "10.0.0.2") + "/32");
    a.priority = static_cast<std::uint8_t>(std::stoi(opt("prio", "100")));
    a.interval = Millis(std::stol(opt("int", "1000")));
    a.version = std::stoi(opt("ver", "2"));
    a.vrid = static_cast<std::uint8_t>(std::stoi(opt("vrid", "1")));
    a.addresses = {*IpPrefix::parse(opt("vip", "169.254.0.1") + "/32")};
    feed(AdvertEvent{ns, static_cast<std::uint32_t>(std::stoul(opt("if", "2"))), a}, out);
  } else if (verb != "tick") {
    throw std::invalid_argument("unknown step: " + std::string(text));
  }
}

}  // namespace havip::testing
