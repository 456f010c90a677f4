#include "daemon/namespaces.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log/logging.h"

namespace havip {

std::string netns_label(const std::string& netns) {
  return netns.empty() ? "the host namespace" : "namespace " + netns;
}

Namespaces::Namespaces(Io io, Feed feed)
    : io_(std::move(io)), feed_(std::move(feed)), retry_(Millis(10), Millis(2000), 12) {}

void Namespaces::want(const std::set<std::string>& wanted, TimePoint now) {
  wanted_ = wanted;
  std::erase_if(monitors_, [&](const auto& kv) { return !wanted.contains(kv.first); });
  for (const auto& ns : wanted)
    if (!monitors_.contains(ns)) open(ns, now);
}

void Namespaces::open(const std::string& ns, TimePoint now) {
  if (!io_.exists(ns)) {
    retry_.clear(ns);
    spdlog::info("{} does not exist yet; its routers stay unknown until it appears",
                 netns_label(ns));
    return;
  }
  auto mon = io_.open(ns, [this, ns](Event&& e) {
    // A monitor that cannot re-open its socket reports its namespace gone;
    // it is destroyed after this dispatch and retried later.
    if (std::holds_alternative<NetnsGone>(e)) dead_.insert(ns);
    feed_(std::move(e));
  });
  if (!mon) {
    auto delay = retry_.failed(ns, now);
    if (delay)
      spdlog::debug("{}: {}; retrying in {}", netns_label(ns), mon.error(), *delay);
    else
      spdlog::error("{}: {}; giving up until it is re-created", netns_label(ns), mon.error());
    return;
  }
  retry_.clear(ns);
  dead_.erase(ns);
  monitors_[ns] = std::move(*mon);
  spdlog::info("watching {}", netns_label(ns));
}

void Namespaces::appeared(const std::string& ns, TimePoint now) {
  if (!wanted_.contains(ns) || monitors_.contains(ns)) return;
  retry_.clear(ns);
  spdlog::info("{} appeared", netns_label(ns));
  open(ns, now);
}

void Namespaces::deleted(const std::string& ns) {
  if (wanted_.contains(ns)) drop(ns, "was deleted");
}

void Namespaces::rescan(const std::set<std::string>& wanted, TimePoint now) {
  wanted_ = wanted;
  for (const auto& ns : wanted) {
    if (!io_.exists(ns))
      drop(ns, "was deleted");
    else if (!monitors_.contains(ns))
      open(ns, now);
  }
}

void Namespaces::drop(const std::string& ns, const std::string& reason) {
  retry_.clear(ns);
  dead_.erase(ns);
  if (monitors_.erase(ns) == 0) return;
  log::structured(spdlog::level::warn, {{"HAVIP_NAMESPACE", ns}},
                  fmt::format("{} {}; its routers are now unknown", netns_label(ns), reason),
                  log::Kind::netns_gone);
  feed_(NetnsGone{ns, reason});
}

void Namespaces::drop_all(const std::string& reason) {
  for (const auto& ns : watched()) drop(ns, reason);
}

void Namespaces::reap(TimePoint now) {
  for (const auto& ns : dead_) {
    monitors_.erase(ns);
    if (auto delay = retry_.failed(ns, now))
      spdlog::info("{}: trying again in {}", netns_label(ns), *delay);
  }
  dead_.clear();
}

void Namespaces::retry(TimePoint now) {
  for (const auto& ns : retry_.due(now)) open(ns, now);
}

void Namespaces::close() {
  monitors_.clear();
  dead_.clear();
}

int Namespaces::ns_fd(const std::string& ns) const {
  auto it = monitors_.find(ns);
  return it == monitors_.end() ? -1 : it->second->ns_fd();
}

std::vector<std::string> Namespaces::watched() const {
  std::vector<std::string> out;
  for (const auto& [ns, mon] : monitors_) out.push_back(ns);
  return out;
}

}  // namespace havip
