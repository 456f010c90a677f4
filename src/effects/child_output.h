// What havipd does with a child's output (radvd, a service, a hook): splits
// it into lines, escapes what a terminal or a journal reader must not see
// raw, and rate-limits it, so that a child writing as fast as it can
// (`yes` as a hook) neither floods the journal nor holds up the loop.
//
// Per child, at most kBurstLines lines (or kBurstBytes bytes) are logged in
// each kWindow; what comes beyond is counted, and said once the window ends
// or the child is gone: "r1: hook yes: 1.2 MB of output not logged (…)".
// Lines longer than kMaxLine are logged in pieces. Pure: the caller reads
// the pipe (in bounded slices) and passes the bytes and the time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/types.h"

namespace havip {

// Control characters (also NUL, DEL, ESC) as \xNN, a backslash as \\; other
// bytes, UTF-8 included, are kept.
std::string escape_output(std::string_view bytes);
// "512 B", "12.3 kB", "1.2 MB": how the dropped amount is said.
std::string human_bytes(std::uint64_t bytes);

class ChildOutput {
 public:
  static constexpr std::size_t kMaxLine = 4096;
  static constexpr std::size_t kBurstLines = 200;
  static constexpr std::size_t kBurstBytes = 64 * 1024;
  static constexpr Millis kWindow{10000};

  // Receives each line to log (escaped, without its newline).
  using Sink = std::function<void(std::string_view line)>;
  explicit ChildOutput(Sink sink) : sink_(std::move(sink)) {}

  // Bytes read from the child at `now`.
  void feed(std::string_view bytes, TimePoint now);
  // The child's output ended (or the child is gone): the unfinished line and
  // what was dropped are said.
  void finish();
  // Over its budget in the current window: the caller may read more slowly.
  bool throttled(TimePoint now) const;
  std::uint64_t dropped_bytes() const { return dropped_bytes_; }

 private:
  void line(std::string_view text, TimePoint now);
  void roll(TimePoint now);
  void say_dropped();
  bool over_budget() const;

  Sink sink_;
  std::string partial_;
  TimePoint window_start_{};
  bool started_ = false;
  std::size_t lines_ = 0, bytes_ = 0;  // logged in the current window
  std::uint64_t dropped_bytes_ = 0, dropped_lines_ = 0;  // not yet said
};

}  // namespace havip
