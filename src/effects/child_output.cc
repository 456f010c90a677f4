#include "effects/child_output.h"

#include <algorithm>

#include <fmt/format.h>

namespace havip {

std::string escape_output(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c == '\\')
      out += "\\\\";
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1000) return fmt::format("{} B", bytes);
  if (bytes < 1000 * 1000) return fmt::format("{:.1f} kB", static_cast<double>(bytes) / 1e3);
  if (bytes < 1000ull * 1000 * 1000) return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
  return fmt::format("{:.1f} GB", static_cast<double>(bytes) / 1e9);
}

void ChildOutput::feed(std::string_view bytes, TimePoint now) {
  roll(now);
  if (over_budget()) {
    // Nothing more is logged in this window: only counted, without looking
    // at each line (a child writing as fast as it can fills a slice with
    // tens of thousands of them, and the loop has better things to do).
    dropped_bytes_ += partial_.size() + bytes.size();
    dropped_lines_ += static_cast<std::uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
    partial_.clear();
    return;
  }
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      std::size_t room = kMaxLine - partial_.size();
      partial_.append(bytes.substr(0, room));
      bytes.remove_prefix(std::min(room, bytes.size()));
      if (partial_.size() == kMaxLine) {  // a runaway line is logged in pieces
        line(partial_, now);
        partial_.clear();
      }
      continue;
    }
    if (partial_.empty()) {
      line(bytes.substr(0, nl), now);
    } else {
      partial_.append(bytes.substr(0, nl));
      line(partial_, now);
      partial_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
}

void ChildOutput::line(std::string_view text, TimePoint now) {
  // A line longer than the limit (only possible without a newline in it,
  // when it came in one piece) is cut like one that came in pieces.
  while (text.size() > kMaxLine) {
    line(text.substr(0, kMaxLine), now);
    text.remove_prefix(kMaxLine);
  }
  if (over_budget() || bytes_ + text.size() > kBurstBytes) {
    dropped_bytes_ += text.size() + 1;
    ++dropped_lines_;
    return;
  }
  ++lines_;
  bytes_ += text.size() + 1;
  sink_(escape_output(text));
}

void ChildOutput::roll(TimePoint now) {
  if (started_ && now - window_start_ < kWindow) return;
  say_dropped();
  started_ = true;
  window_start_ = now;
  lines_ = bytes_ = 0;
}

void ChildOutput::say_dropped() {
  if (dropped_lines_ == 0) return;
  sink_(fmt::format("{} of output not logged ({} line{}; more than {} lines or {} in {} s)",
                    human_bytes(dropped_bytes_), dropped_lines_, dropped_lines_ == 1 ? "" : "s",
                    kBurstLines, human_bytes(kBurstBytes),
                    std::chrono::duration_cast<std::chrono::seconds>(kWindow).count()));
  dropped_bytes_ = dropped_lines_ = 0;
}

void ChildOutput::finish() {
  if (!partial_.empty()) {
    // Counted against the window it came in; the time is the window's.
    line(partial_, window_start_);
    partial_.clear();
  }
  say_dropped();
}

bool ChildOutput::over_budget() const { return lines_ >= kBurstLines || bytes_ >= kBurstBytes; }

bool ChildOutput::throttled(TimePoint now) const {
  return started_ && now - window_start_ < kWindow && over_budget();
}

}  // namespace havip
