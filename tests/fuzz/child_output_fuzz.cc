// libFuzzer target for what havipd does with bytes a child writes (radvd, a
// service, a hook: anything) and with the /proc text it reads about the
// processes a child left behind. Besides crashes, leaks and undefined
// behaviour it checks: no logged line holds a control character or a NUL,
// no line is longer than an escaped kMaxLine, no more lines than the budget
// are logged per window (plus the "not logged" notes), and the /proc parsers
// return only positive pids.
//
// The input is split at the first 0xff byte: before it, the child's output
// (fed in pieces of varying size, time advancing); after it, /proc text.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "effects/child_output.h"
#include "effects/proc_children.h"

namespace {
void check_line(std::string_view line) {
  for (unsigned char c : line)
    if (c < 0x20 || c == 0x7f) __builtin_trap();
  if (line.size() > havip::ChildOutput::kMaxLine * 4 + 200) __builtin_trap();  // \xNN is 4
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  auto cut = all.find('\xff');
  std::string_view output = all.substr(0, cut);
  std::string_view proc = cut == std::string_view::npos ? std::string_view() : all.substr(cut + 1);

  std::size_t lines = 0, notes = 0;
  havip::ChildOutput out([&](std::string_view line) {
    check_line(line);
    if (line.find(" of output not logged (") != std::string_view::npos) ++notes;
    ++lines;
  });
  havip::TimePoint now{};
  std::size_t piece = 1;
  while (!output.empty()) {
    std::size_t n = std::min(piece, output.size());
    out.feed(output.substr(0, n), now);
    output.remove_prefix(n);
    piece = piece * 3 + 1;
    now += std::chrono::milliseconds(n);  // at most a few windows per input
  }
  out.finish();
  std::size_t windows = static_cast<std::size_t>(now.time_since_epoch() /
                                                 havip::ChildOutput::kWindow) + 1;
  if (lines - notes > windows * havip::ChildOutput::kBurstLines) __builtin_trap();

  if (auto ids = havip::proc::parse_stat(proc); ids && (ids->pgid <= 0 || ids->sid <= 0))
    __builtin_trap();
  std::set<pid_t> pids;
  havip::proc::parse_children(proc, pids);
  for (pid_t p : pids)
    if (p <= 0) __builtin_trap();
  if (auto v = havip::proc::parse_environ(proc, "HAVIP_ROUTER"); v && v->find('\0') != std::string::npos)
    __builtin_trap();
  return 0;
}
