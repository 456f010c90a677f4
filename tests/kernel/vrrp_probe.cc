// vrrp_probe NETNS 4|6 — a vrrp::Listener in the named namespace (/run/netns/NETNS),
// for tests/kernel/test_vrrp_listener.py. Prints one JSON object a line on stdout:
//   {"event": "ready"}                                      the socket is open
//   {"event": "advert", "ifindex": 2, "version": 2, ...}    an advert received
//   {"event": "bad", "reason": "vrrp: ..."}                 a malformed one
//   {"event": "joined" | "left", "ifname": "x", "ifindex": 2, "count": 1}
//   {"event": "error", "reason": "..."}                     a command failed
// and reads commands, one a line, on stdin: `join IFNAME`, `leave IFNAME`. It exits
// at the end of stdin.
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "netns/netns.h"
#include "vrrp/listener.h"

namespace {

using havip::vrrp::Listener;
using nlohmann::json;

void say(const json& j) { std::cout << j.dump() << std::endl; }

json advert_json(const Listener::Received& r) {
  const auto& a = r.advert;
  json vips = json::array();
  for (const auto& p : a.addresses) vips.push_back(p.to_string());
  return {{"event", "advert"},
          {"ifindex", r.ifindex},
          {"version", a.version},
          {"vrid", a.vrid},
          {"priority", a.priority},
          {"interval_ms", a.interval.count()},
          {"source", a.source.to_string()},
          {"addresses", vips},
          {"auth_type", a.auth_type}};
}

// One command line: join / leave IFNAME (the name is resolved in the namespace).
void command(Listener& l, int netns_fd, int home_fd, const std::string& line) {
  std::istringstream in(line);
  std::string verb, ifname;
  in >> verb >> ifname;
  auto index =
      havip::netns::run_in(netns_fd, home_fd, [&] { return if_nametoindex(ifname.c_str()); });
  if (!index || *index == 0) {
    say({{"event", "error"}, {"reason", index ? "no interface " + ifname : index.error()}});
    return;
  }
  if (verb == "join") {
    if (auto ok = l.join(*index); !ok) {
      say({{"event", "error"}, {"reason", ok.error()}});
      return;
    }
  } else if (verb == "leave") {
    l.leave(*index);
  } else {
    say({{"event", "error"}, {"reason", "unknown command " + verb}});
    return;
  }
  say({{"event", verb == "join" ? "joined" : "left"},
       {"ifname", ifname},
       {"ifindex", *index},
       {"count", l.joined(*index)}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[2]) != "4" && std::string(argv[2]) != "6")) {
    std::fprintf(stderr, "usage: %s NETNS 4|6\n", argv[0]);
    return 2;
  }
  auto home = havip::netns::open_current();
  auto target = havip::netns::open_named("/run/netns", argv[1]);
  if (!home || !target) {
    std::fprintf(stderr, "vrrp_probe: %s\n", (!home ? home.error() : target.error()).c_str());
    return 1;
  }
  int family = std::string(argv[2]) == "4" ? AF_INET : AF_INET6;
  auto listener = Listener::open(target->get(), home->get(), family);
  if (!listener) {
    std::fprintf(stderr, "vrrp_probe: %s\n", listener.error().c_str());
    return 1;
  }
  say({{"event", "ready"}});
  std::string pending;
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {listener->fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents & POLLIN) {
      listener->drain(
          64, [](const Listener::Received& r) { say(advert_json(r)); },
          [](const std::string& why) {
            say({{"event", "bad"}, {"reason", why}});
          });
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      char buf[512];
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) return 0;
      pending.append(buf, static_cast<std::size_t>(n));
      for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
        command(*listener, target->get(), home->get(), pending.substr(0, nl));
        pending.erase(0, nl + 1);
      }
    }
  }
}
