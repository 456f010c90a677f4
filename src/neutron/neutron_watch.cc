#include "neutron/neutron_watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "log/logging.h"

#include "config/config_parse.h"
#include "neutron/keepalived_conf.h"
#include "neutron/neutron.h"

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
// A watched directory itself deleted, renamed away or its filesystem
// unmounted (IN_UNMOUNT and IN_IGNORED come unasked).
constexpr std::uint32_t kSelfEvents = IN_DELETE_SELF | IN_MOVE_SELF;
constexpr std::uint32_t kGone = kSelfEvents | IN_UNMOUNT | IN_IGNORED;
// The largest real keepalived.conf (a router with a thousand interfaces and
// Neutron's max_routes) is about 100 KiB, a radvd.conf with a block per
// IPv6 subnet less: 1 MiB leaves ten times that, and is keepalived_conf.h's
// own limit. Read twice per event at most, so 10,000 routers stay cheap.
constexpr std::size_t kMaxFile = 1 << 20;
// inotify read per wake-up: 8 x 16 KiB, some 2,500 events; the rest waits
// for the next turn of the loop (level-triggered) so timers and havipctl
// are served in between.
constexpr int kReadsPerWake = 8;
constexpr const char* kRadvdCopy = "neutron-radvd.conf";  // the last one seen, in run_dir

// "<id>.radvd.conf" -> "<id>"
std::string id_of_radvd_conf(const std::string& name) {
  constexpr std::string_view suffix = ".radvd.conf";
  return name.ends_with(suffix) ? name.substr(0, name.size() - suffix.size()) : std::string();
}

std::string without_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The names in a directory open as `fd` (the descriptor itself stays open).
std::vector<std::string> entries(int fd) {
  std::vector<std::string> names;
  DIR* d = ::fdopendir(::dup(fd));
  if (!d) return names;
  while (auto* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  return names;
}

std::pair<std::uint64_t, std::uint64_t> identity_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {0, 0};
  return {st.st_dev, st.st_ino};
}

}  // namespace

NeutronWatch::NeutronWatch(sd_event* loop, NeutronConfig neutron, DaemonConfig daemon,
                           RunFiles& files, OnChange on_change)
    : loop_(loop),
      neutron_(std::move(neutron)),
      daemon_(std::move(daemon)),
      files_(files),
      on_change_(std::move(on_change)) {
  neutron_.state_path = without_trailing_slash(neutron_.state_path);
}

NeutronWatch::~NeutronWatch() {
  sd_event_source_disable_unref(io_);
  sd_event_source_disable_unref(mounts_io_);
}

void NeutronWatch::start() {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) {
    spdlog::error("neutron: inotify_init1: {}", std::strerror(errno));
    return;
  }
  sd_event_add_io(loop_, &io_, inotify_.get(), EPOLLIN, on_inotify, this);
  // A bind mount over state_path, ha_confs or ra makes no inotify event:
  // the mount table's does (then their identities are compared).
  mounts_.reset(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  if (mounts_) sd_event_add_io(loop_, &mounts_io_, mounts_.get(), EPOLLPRI, on_mounts, this);
  rebuild();
  spdlog::info("neutron: {} HA routers under {}", routers_.size(),
               neutron::ha_confs_dir(neutron_));
}

void NeutronWatch::unwatch_all() {
  // Their IN_IGNORED events come later and match nothing: inotify does not
  // reuse a watch descriptor soon (they are allocated cyclically).
  for (int* wd : {&parent_wd_, &top_wd_, &ha_wd_, &ra_wd_}) {
    if (*wd >= 0) ::inotify_rm_watch(inotify_.get(), *wd);
    *wd = -1;
  }
  for (const auto& [wd, id] : router_wds_) ::inotify_rm_watch(inotify_.get(), wd);
  router_wds_.clear();
  router_wd_of_.clear();
}

// A directory of the tree, watched through the descriptor it was opened as
// (never by a path that a symlink could redirect out of state_path).
// `what` names it in the log line said once while it cannot be watched.
int NeutronWatch::watch_beneath(const std::string& rel, std::uint32_t mask,
                                const std::string& what) {
  std::string path = neutron_.state_path + "/" + rel;
  std::string cause;
  int wd = -1;
  if (auto dir = state_->open_dir(rel); !dir) {
    cause = dir.error().missing ? "" : "refused: " + dir.error().reason;
  } else {
    wd = ::inotify_add_watch(inotify_.get(), fmt::format("/proc/self/fd/{}", dir->get()).c_str(),
                             mask | kSelfEvents);
    if (wd < 0) cause = fmt::format("cannot watch it: {}", std::strerror(errno));
  }
  auto& said = tree_errors_[rel];
  if (!cause.empty() && said != cause)
    spdlog::error("neutron: {}: {}; {}", path, cause, what);
  else if (cause.empty() && !said.empty())
    spdlog::info("neutron: {} can be watched again", path);
  said = cause;
  return wd;
}

void NeutronWatch::watch_tree() {
  // state_path's parent (root's) says when state_path is renamed, replaced
  // or re-created; state_path says the same of ha_confs and ra.
  auto slash = neutron_.state_path.rfind('/');
  std::string parent = slash == 0 ? "/" : neutron_.state_path.substr(0, slash);
  parent_wd_ = ::inotify_add_watch(inotify_.get(), parent.c_str(), kDirEvents);
  auto tree = UntrustedTree::open(neutron_.state_path);
  std::string cause = tree ? "" : tree.error();
  if (!cause.empty() && tree_errors_["."] != cause)
    spdlog::error("neutron: cannot open state_path {}; no Neutron router is tracked until it "
                  "exists", cause);
  else if (cause.empty() && !tree_errors_["."].empty())
    spdlog::info("neutron: state_path {} is back", neutron_.state_path);
  tree_errors_["."] = cause;
  state_.reset();
  identity_ = tree_identity();
  if (!tree) return;
  state_ = std::move(*tree);
  top_wd_ = watch_beneath(".", kDirEvents, "no Neutron router is tracked");
  ha_wd_ = watch_beneath("ha_confs", kDirEvents, "routers are found at the next change of it");
  if (neutron_.manage_ipv6)
    ra_wd_ = watch_beneath("ra", kFileEvents, "radvd.conf changes are seen at the next change");
}

NeutronWatch::TreeIdentity NeutronWatch::tree_identity() const {
  const std::string& s = neutron_.state_path;
  return {identity_of(s), identity_of(s + "/ha_confs"), identity_of(s + "/ra")};
}

bool NeutronWatch::rebuild() {
  unwatch_all();
  watch_tree();
  return scan_all();
}

bool NeutronWatch::scan_all() {
  // Every router of the tree as it is now, and every one known before: those
  // no longer in it are removed.
  std::set<std::string> ids;
  for (const auto& [id, r] : routers_) ids.insert(id);
  for (const auto& [id, e] : errors_) ids.insert(id);
  if (state_) {
    auto ha = state_->open_dir("ha_confs");
    if (!ha && !ha.error().missing) return false;  // refused: said once; routers kept as they are
    if (ha)
      for (auto& id : entries(ha->get())) ids.insert(std::move(id));
  }
  bool changed = false;
  for (const auto& id : ids) changed |= refresh(id);
  return changed;
}

void NeutronWatch::watch_router_dir(const std::string& id) {
  // Always re-added: a router directory replaced by another (renamed in)
  // gets its own watch; the same directory keeps its descriptor.
  auto dir = state_ ? state_->open_dir("ha_confs/" + id) : tl::unexpected(ReadRefusal{true, ""});
  if (!dir) return unwatch_router_dir(id);
  int wd = ::inotify_add_watch(inotify_.get(),
                               fmt::format("/proc/self/fd/{}", dir->get()).c_str(), kFileEvents);
  auto old = router_wd_of_.find(id);
  if (old != router_wd_of_.end() && old->second == wd) return;
  unwatch_router_dir(id);
  if (wd < 0) return;
  router_wds_[wd] = id;
  router_wd_of_[id] = wd;
}

void NeutronWatch::unwatch_router_dir(const std::string& id) {
  auto it = router_wd_of_.find(id);
  if (it == router_wd_of_.end()) return;
  ::inotify_rm_watch(inotify_.get(), it->second);
  router_wds_.erase(it->second);
  router_wd_of_.erase(it);
}

bool NeutronWatch::has_conntrackd_conf(const std::string& id) const {
  // Only whether it is there: conntrackd reads it, havipd passes its path. A
  // file that cannot be read here (too large, a link out of the tree) is there.
  if (!neutron_.conntrackd || !state_) return false;
  auto text = state_->read("ha_confs/" + id + "/conntrackd.conf", kMaxFile);
  return text || !text.error().missing;
}

std::optional<std::string> NeutronWatch::radvd_content(const std::string& id) {
  // The agent's file exists while it runs radvd for the router (it removes
  // it on backup): keep the last one seen, here and in run_dir, so that radvd
  // can run while the agent is down, even after a restart of havipd.
  std::string path = neutron::radvd_conf(neutron_, id);
  auto text = state_ ? state_->read("ra/" + id + ".radvd.conf", kMaxFile)
                     : tl::unexpected(ReadRefusal{true, ""});
  std::string cause = text || text.error().missing ? "" : text.error().reason;
  if (!cause.empty() && radvd_errors_[id] != cause)
    log::structured(spdlog::level::err, {{"HAVIP_ROUTER", id}},
                    fmt::format("neutron: router {}: {}: refused: {}; {}", id, path, cause,
                                radvd_seen_.contains(id) ? "radvd keeps the last one seen"
                                                         : "no radvd until it is fixed"));
  else if (cause.empty() && radvd_errors_.erase(id))
    log::structured(spdlog::level::info, {{"HAVIP_ROUTER", id}},
                    fmt::format("neutron: router {}: {} is readable again", id, path));
  if (!cause.empty()) radvd_errors_[id] = cause;
  if (text && !text->empty()) {
    if (radvd_seen_[id] != *text) files_.write(daemon_.run_dir, id, kRadvdCopy, *text);
    radvd_seen_[id] = *text;
  } else if (!radvd_seen_.contains(id)) {
    if (auto run = UntrustedTree::open(daemon_.run_dir))
      if (auto copy = run->read(id + "/" + kRadvdCopy, kMaxFile); copy && !copy->empty())
        radvd_seen_[id] = *copy;
  }
  auto it = radvd_seen_.find(id);
  return it == radvd_seen_.end() ? std::nullopt : std::optional(it->second);
}

void NeutronWatch::say_error(const std::string& id, const std::string& path,
                             const std::string& cause) {
  // The router keeps what was last read; the error is said once per cause.
  if (errors_[id] != cause)
    log::structured(spdlog::level::err, {{"HAVIP_ROUTER", id}},
                    fmt::format("neutron: router {}: {}: {}; {}", id, path, cause,
                                routers_.contains(id) ? "keeping its last good configuration"
                                                      : "not tracked until it is fixed"));
  errors_[id] = cause;
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
  watch_router_dir(id);
  auto text = state_ ? state_->read("ha_confs/" + id + "/keepalived.conf", kMaxFile)
                     : tl::unexpected(ReadRefusal{true, ""});
  if (!text && text.error().missing) {
    errors_.erase(id);
    radvd_errors_.erase(id);
    if (routers_.erase(id) == 0) return false;
    log::structured(spdlog::level::info, {{"HAVIP_ROUTER", id}},
                    fmt::format("neutron: router {} removed ({} is gone)", id, path));
    return true;
  }
  if (!text) {
    say_error(id, path, "refused: " + text.error().reason);
    return false;
  }
  auto ha = parse_neutron_keepalived_conf(*text);
  if (!ha) {
    say_error(id, path, ha.error());
    return false;
  }
  if (errors_.erase(id))
    log::structured(spdlog::level::info, {{"HAVIP_ROUTER", id}},
                    fmt::format("neutron: router {}: {} is readable again", id, path));
  struct stat st {};
  bool snat = ::stat((daemon_.netns_dir + "/snat-" + id).c_str(), &st) == 0;
  std::optional<std::string> radvd;
  if (neutron_.manage_ipv6) radvd = radvd_content(id);
  auto next = neutron::router_config(neutron_, daemon_, id, *ha, neutron::netns_for(id, snat),
                                     radvd, has_conntrackd_conf(id));
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

int NeutronWatch::on_mounts(sd_event_source*, int, std::uint32_t, void* self) {
  // Mounts come and go all the time on a network node (every `ip netns add`
  // is one): only a change of the watched directories themselves rebuilds.
  auto* w = static_cast<NeutronWatch*>(self);
  if (w->tree_identity() == w->identity_) return 0;
  spdlog::info("neutron: a mount replaced {} or a directory in it; following the new tree",
               w->neutron_.state_path);
  if (w->rebuild()) w->on_change_();
  return 0;
}

void NeutronWatch::read_events() {
  alignas(inotify_event) std::array<char, 16384> buf;
  std::set<std::string> ids;
  bool rebuild_tree = false;
  std::string basename = neutron_.state_path.substr(neutron_.state_path.rfind('/') + 1);
  for (int reads = 0; reads < kReadsPerWake; ++reads) {
    ssize_t n = ::read(inotify_.get(), buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<const inotify_event*>(buf.data() + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      std::string name = ev->len ? std::string(ev->name) : std::string();
      bool tree_dir = ev->wd == top_wd_ || ev->wd == ha_wd_ || ev->wd == ra_wd_;
      if (ev->mask & IN_Q_OVERFLOW) rebuild_tree = true;  // events were lost: read everything
      if (tree_dir && (ev->mask & kGone)) rebuild_tree = true;
      if (ev->wd == parent_wd_ && name == basename) rebuild_tree = true;
      if (ev->wd == top_wd_ && (name == "ha_confs" || name == "ra")) rebuild_tree = true;
      if (ev->mask & kGone) {
        if (auto it = router_wds_.find(ev->wd); it != router_wds_.end()) ids.insert(it->second);
        continue;
      }
      if (ev->wd == ha_wd_ && !name.empty()) ids.insert(name);
      if (ev->wd == ra_wd_) ids.insert(id_of_radvd_conf(name));
      if (auto it = router_wds_.find(ev->wd);
          it != router_wds_.end() && (name == "keepalived.conf" || name == "conntrackd.conf"))
        ids.insert(it->second);
    }
  }
  bool changed = false;
  if (rebuild_tree) {
    spdlog::info("neutron: {} or a directory in it changed; reading every router again",
                 neutron_.state_path);
    changed = rebuild();  // every router, so `ids` too
  } else {
    for (const auto& id : ids)
      if (!id.empty()) changed |= refresh(id);
  }
  if (changed) on_change_();
}

}  // namespace havip
