#include "daemon/neutron_watch.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "daemon/logging.h"

#include "core/config_parse.h"
#include "core/keepalived_conf.h"
#include "core/neutron.h"
#include "netns/netns_watch.h"

namespace havip {

namespace {

// A name as a log line can show it: bytes outside printable ASCII as \xNN.
std::string printable(std::string_view name) {
  std::string out;
  for (unsigned char c : name.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (name.size() > 80) out += "...";
  return out;
}

constexpr std::uint32_t kDirEvents = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR;
constexpr std::uint32_t kFileEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                      IN_MOVED_FROM | IN_ONLYDIR;
constexpr std::size_t kMaxFile = 1 << 20;  // keepalived.conf and radvd.conf are small
constexpr const char* kRadvdCopy = "neutron-radvd.conf";  // the last one seen, in run_dir

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(kMaxFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// "<id>.radvd.conf" -> "<id>"
std::string id_of_radvd_conf(const std::string& name) {
  constexpr std::string_view suffix = ".radvd.conf";
  return name.ends_with(suffix) ? name.substr(0, name.size() - suffix.size()) : std::string();
}

}  // namespace

NeutronWatch::NeutronWatch(sd_event* loop, NeutronConfig neutron, DaemonConfig daemon,
                           RunFiles& files, OnChange on_change)
    : loop_(loop),
      neutron_(std::move(neutron)),
      daemon_(std::move(daemon)),
      files_(files),
      on_change_(std::move(on_change)) {}

NeutronWatch::~NeutronWatch() { sd_event_source_disable_unref(io_); }

void NeutronWatch::start() {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) {
    spdlog::error("neutron: inotify_init1: {}", std::strerror(errno));
    return;
  }
  sd_event_add_io(loop_, &io_, inotify_.get(), EPOLLIN, on_inotify, this);
  // ha_confs and ra may be created after havipd starts: watch their parent.
  top_wd_ = ::inotify_add_watch(inotify_.get(), neutron_.state_path.c_str(), kDirEvents);
  if (top_wd_ < 0)
    spdlog::error("neutron: cannot watch state_path {}: {}; no Neutron router is tracked",
                  neutron_.state_path, std::strerror(errno));
  scan_all();
  spdlog::info("neutron: {} HA routers under {}", routers_.size(),
               neutron::ha_confs_dir(neutron_));
}

void NeutronWatch::scan_all() {
  std::string ha = neutron::ha_confs_dir(neutron_);
  if (ha_wd_ < 0) ha_wd_ = ::inotify_add_watch(inotify_.get(), ha.c_str(), kDirEvents);
  if (neutron_.manage_ipv6 && ra_wd_ < 0) {
    std::string ra = neutron_.state_path + "/ra";
    ra_wd_ = ::inotify_add_watch(inotify_.get(), ra.c_str(), kFileEvents);
  }
  for (const auto& id : netns::list_dir(ha)) refresh(id);
}

void NeutronWatch::watch_router_dir(const std::string& id) {
  for (const auto& [wd, known] : router_wds_)
    if (known == id) return;
  std::string dir = neutron::ha_confs_dir(neutron_) + "/" + id;
  int wd = ::inotify_add_watch(inotify_.get(), dir.c_str(), kFileEvents);
  if (wd >= 0) router_wds_[wd] = id;
}

std::optional<std::string> NeutronWatch::radvd_content(const std::string& id) {
  // The agent's file exists while it runs radvd for the router (it removes
  // it on backup): keep the last one seen, here and in run_dir, so that radvd
  // can run while the agent is down, even after a restart of havipd.
  if (auto text = read_file(neutron::radvd_conf(neutron_, id)); text && !text->empty()) {
    if (radvd_seen_[id] != *text) files_.write(daemon_.run_dir, id, kRadvdCopy, *text);
    radvd_seen_[id] = *text;
  } else if (!radvd_seen_.contains(id)) {
    if (auto copy = read_file(daemon_.run_dir + "/" + id + "/" + kRadvdCopy); copy && !copy->empty())
      radvd_seen_[id] = *copy;
  }
  auto it = radvd_seen_.find(id);
  return it == radvd_seen_.end() ? std::nullopt : std::optional(it->second);
}

bool NeutronWatch::refresh(const std::string& id) {
  if (!valid_router_name(id)) {
    // Never a path component nor a namespace name (a '/', '..', a byte
    // outside [A-Za-z0-9_.-], over 64 bytes): said once, then ignored.
    if (ignored_.insert(id).second)
      spdlog::warn("neutron: ignoring {}/{}: not a router id ([A-Za-z0-9_.-], 1-64 bytes)",
                   neutron::ha_confs_dir(neutron_), printable(id));
    return false;
  }
  std::string path = neutron::keepalived_conf(neutron_, id);
  // Watch before reading: a file written between the two is then either
  // read now or reported by the watch (reading first would miss it).
  if (exists(neutron::ha_confs_dir(neutron_) + "/" + id)) watch_router_dir(id);
  auto text = read_file(path);
  if (!text) {
    errors_.erase(id);
    if (routers_.erase(id) == 0) return false;
    log::structured(spdlog::level::info, {{"HAVIP_ROUTER", id}},
                    fmt::format("neutron: router {} removed ({} is gone)", id, path));
    return true;
  }
  auto ha = parse_neutron_keepalived_conf(*text);
  if (!ha) {
    // The router keeps what was last read; the error is said once per cause.
    if (errors_[id] != ha.error())
      log::structured(spdlog::level::err, {{"HAVIP_ROUTER", id}},
                      fmt::format("neutron: router {}: {}: {}; {}", id, path, ha.error(),
                                  routers_.contains(id) ? "keeping its last good configuration"
                                                        : "not tracked until it is fixed"));
    errors_[id] = ha.error();
    return false;
  }
  if (errors_.erase(id))
    log::structured(spdlog::level::info, {{"HAVIP_ROUTER", id}},
                    fmt::format("neutron: router {}: {} is readable again", id, path));
  bool snat = exists(daemon_.netns_dir + "/snat-" + id);
  std::optional<std::string> radvd;
  if (neutron_.manage_ipv6) radvd = radvd_content(id);
  auto next = neutron::router_config(neutron_, daemon_, id, *ha, neutron::netns_for(id, snat), radvd);
  auto it = routers_.find(id);
  if (it != routers_.end() && it->second == next) return false;
  log::structured(spdlog::level::info, {{"HAVIP_ROUTER", id}, {"HAVIP_NAMESPACE", next.netns}},
                  fmt::format("neutron: router {} {}: {} on {} in {}", id,
                              it == routers_.end() ? "found" : "changed", next.vip.to_string(),
                              next.interface, next.netns));
  routers_[id] = std::move(next);
  return true;
}

void NeutronWatch::netns_changed(const std::string& name) {
  if (!name.starts_with("snat-")) return;
  std::string id = name.substr(5);
  if (routers_.contains(id) && refresh(id)) on_change_();
}

int NeutronWatch::on_inotify(sd_event_source*, int, std::uint32_t, void* self) {
  static_cast<NeutronWatch*>(self)->read_events();
  return 0;
}

void NeutronWatch::read_events() {
  alignas(inotify_event) std::array<char, 16384> buf;
  std::set<std::string> ids;
  bool rescan = false;
  for (;;) {
    ssize_t n = ::read(inotify_.get(), buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<const inotify_event*>(buf.data() + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      std::string name = ev->len ? std::string(ev->name) : std::string();
      if (ev->mask & IN_Q_OVERFLOW) rescan = true;
      if (ev->mask & IN_IGNORED) {  // a watched directory is gone
        if (ev->wd == ha_wd_) ha_wd_ = -1;
        if (ev->wd == ra_wd_) ra_wd_ = -1;
        if (auto it = router_wds_.find(ev->wd); it != router_wds_.end()) {
          ids.insert(it->second);
          router_wds_.erase(it);
        }
        continue;
      }
      if (ev->wd == top_wd_ && (name == "ha_confs" || name == "ra")) rescan = true;
      if (ev->wd == ha_wd_ && !name.empty()) ids.insert(name);
      if (ev->wd == ra_wd_) ids.insert(id_of_radvd_conf(name));
      if (auto it = router_wds_.find(ev->wd); it != router_wds_.end() && name == "keepalived.conf")
        ids.insert(it->second);
    }
  }
  bool changed = false;
  if (rescan) {
    auto before = routers_;
    scan_all();
    for (const auto& [id, r] : before)
      if (!ids.contains(id)) ids.insert(id);  // those gone meanwhile
    changed = before != routers_;
  }
  for (const auto& id : ids)
    if (!id.empty()) changed |= refresh(id);
  if (changed) on_change_();
}

}  // namespace havip
