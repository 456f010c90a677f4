// libFuzzer target for the control socket's protocol (ctl/protocol.h), both
// ends:
//  * havipd: parse_request() on an arbitrary request line. An accepted request
//    names a known command, and request_line() of that command parses back to
//    it; a rejected one says why, and the error line havipd sends back for it
//    is one line of valid JSON.
//  * havipctl: status_table() on whatever JSON the input parses to, whatever
//    its shape (havipctl prints what the socket sends; it must never crash),
//    and on its "status" member as havipctl does. `now` comes from the input
//    too.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "ctl/protocol.h"

namespace ctl = havip::ctl;
using json = nlohmann::ordered_json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);

  auto req = ctl::parse_request(line);
  if (req) {
    std::string_view name = ctl::command_name(req->command);
    if (name == "?") __builtin_trap();
    std::string again = ctl::request_line(req->command);
    if (again.empty() || again.back() != '\n') __builtin_trap();
    again.pop_back();
    auto back = ctl::parse_request(again);
    if (!back || back->command != req->command) __builtin_trap();
  } else {
    if (req.error().empty()) __builtin_trap();
    std::string answer = ctl::error_line(req.error());
    if (answer.empty() || answer.back() != '\n') __builtin_trap();
    answer.pop_back();
    if (answer.find('\n') != std::string::npos) __builtin_trap();
    json j = json::parse(answer, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || j["ok"] != false) __builtin_trap();
  }

  // havipctl's side. The first 8 bytes, when there are that many, also pick
  // `now` (any instant within about 126 years of 1970).
  std::int64_t ms = 1700000000000;
  if (size >= 8) std::memcpy(&ms, data, sizeof ms);
  auto now = ctl::WallTime(std::chrono::milliseconds(ms % 4000000000000));
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  std::string table = ctl::status_table(j, now);
  if (table.empty() || table.back() != '\n') __builtin_trap();
  if (j.is_object() && j.contains("status")) (void)ctl::status_table(j["status"], now);
  (void)ctl::to_line(j);
  return 0;
}
