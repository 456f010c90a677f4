#include "core/backoff.h"

#include <algorithm>

namespace havip {

std::optional<Millis> Backoff::failed(const std::string& key, TimePoint now) {
  auto& e = entries_[key];
  if (max_attempts_ != 0 && e.attempts >= max_attempts_) {
    entries_.erase(key);
    return std::nullopt;
  }
  Millis delay = initial_;
  for (unsigned i = 0; i < e.attempts && delay < max_; ++i) delay *= 2;
  delay = std::min(delay, max_);
  ++e.attempts;
  e.at = now + delay;
  e.attempting = false;
  return delay;
}

void Backoff::attempting(const std::string& key) {
  if (auto it = entries_.find(key); it != entries_.end()) it->second.attempting = true;
}

std::vector<std::string> Backoff::due(TimePoint now) const {
  std::vector<std::string> out;
  for (const auto& [key, e] : entries_)
    if (!e.attempting && e.at <= now) out.push_back(key);
  return out;
}

std::optional<TimePoint> Backoff::next() const {
  std::optional<TimePoint> best;
  for (const auto& [key, e] : entries_)
    if (!e.attempting && (!best || e.at < *best)) best = e.at;
  return best;
}

}  // namespace havip
