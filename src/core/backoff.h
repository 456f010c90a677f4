// Retries keyed by name with exponential backoff, driven by one timer.
// Pure: the caller passes "now" and arms its timer at next().
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"

namespace havip {

class Backoff {
 public:
  // Delays initial, 2*initial, 4*initial … capped at `max`; after
  // `max_attempts` failures (0: never) the key is given up.
  Backoff(Millis initial, Millis max, unsigned max_attempts = 0)
      : initial_(initial), max_(max), max_attempts_(max_attempts) {}

  // Records a failure of `key`; returns the delay before the next attempt,
  // or nullopt when the key has been given up.
  std::optional<Millis> failed(const std::string& key, TimePoint now);
  // Forgets `key` (it succeeded, or is no longer wanted).
  void clear(const std::string& key) { entries_.erase(key); }
  // Keys whose retry is due at `now` (they stay scheduled until failed/clear,
  // or attempting).
  std::vector<std::string> due(TimePoint now) const;
  // An attempt of `key` is under way and ends in failed() or clear(): until
  // then it is neither due nor part of next() (an attempt that completes
  // asynchronously is not started again at every wake-up meanwhile).
  void attempting(const std::string& key);
  std::optional<TimePoint> next() const;
  bool contains(const std::string& key) const { return entries_.contains(key); }

 private:
  struct Entry {
    unsigned attempts = 0;
    TimePoint at;
    bool attempting = false;
  };
  Millis initial_, max_;
  unsigned max_attempts_;
  std::map<std::string, Entry> entries_;
};

}  // namespace havip
