#include "log/logging.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace havip::log {

namespace {

// Fields of the message being logged right now (the daemon is single-threaded;
// thread_local keeps it correct should that ever change).
thread_local std::span<const Field> current_fields;

int syslog_priority(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::critical: return 2;
    case spdlog::level::err: return 3;
    case spdlog::level::warn: return 4;
    case spdlog::level::info: return 6;
    default: return 7;
  }
}

class JournalSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::vector<std::string> lines;
    lines.reserve(3 + current_fields.size());
    lines.push_back("MESSAGE=" + std::string(msg.payload.data(), msg.payload.size()));
    lines.push_back("PRIORITY=" + std::to_string(syslog_priority(msg.level)));
    lines.push_back("SYSLOG_IDENTIFIER=havipd");
    for (const auto& f : current_fields) lines.push_back(std::string(f.name) + "=" + f.value);
    std::vector<iovec> iov;
    iov.reserve(lines.size());
    for (auto& l : lines) iov.push_back({l.data(), l.size()});
    sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
  }
  void flush_() override {}
};

bool journal = false;

// systemd sets JOURNAL_STREAM=DEV:INO for the stream it connected; compare it
// with our stderr so a redirected stderr still gets plain lines.
bool stderr_is_journal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (!env) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

}  // namespace

bool setup(std::string_view level) {
  journal = stderr_is_journal();
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (journal) {
    sink = std::make_shared<JournalSink>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %-5l %v");
  }
  auto logger = std::make_shared<spdlog::logger>("havipd", std::move(sink));
  spdlog::set_default_logger(logger);
  auto parsed = spdlog::level::from_str(std::string(level));
  bool known = parsed != spdlog::level::off || level == "off";
  spdlog::set_level(known ? parsed : spdlog::level::info);
  spdlog::flush_on(spdlog::level::trace);
  return known;
}

bool journal_active() { return journal; }

std::string_view message_id(Kind kind) {
  switch (kind) {
    case Kind::none: return {};
    case Kind::transition: return "8a3ad06c7f9347b9bbb5600f2b63ff2b";
    case Kind::effect_failure: return "4677cfb65c434ff595b7a530bddb7864";
    case Kind::child_exit: return "6818d7c019564370b247055ebf3e229c";
    case Kind::resync: return "f08072cec04a4b10927cd4e480caef24";
    case Kind::netns_gone: return "f32be15c4cdd47e1ac43dc91bb128582";
    case Kind::reload: return "2adea1a9e7d8447184516563bd5b255e";
    case Kind::speaker:
      return "8cf82fdd743143ecb193ed067a342532";
    case Kind::stale_vip:
      return "d19d9162a35d49a3ae78cc899ae22a4f";
    case Kind::split_brain:
      return "cbbcb36dba2b46a2882b52f66563c001";
    case Kind::release:
      return "970efaaf4213437284fb3b9aa0b5d73b";
    case Kind::track:
      return "8fd313197f56410d9558f7b386271552";
    case Kind::audit:
      return "18ce128c1aef466ab860e02f26d8ba48";
  }
  return {};
}

void structured(spdlog::level::level_enum level, std::initializer_list<Field> fields,
                std::string_view message, Kind kind) {
  std::span<const Field> span(fields.begin(), fields.size());
  if (!spdlog::should_log(level)) return;
  if (kind == Kind::none) {
    current_fields = span;
    spdlog::log(level, "{}", message);
  } else {
    // MESSAGE_ID goes first; the list is small, so a copy is cheap.
    std::vector<Field> with_id;
    with_id.reserve(fields.size() + 1);
    with_id.push_back({"MESSAGE_ID", std::string(message_id(kind))});
    with_id.insert(with_id.end(), fields.begin(), fields.end());
    current_fields = with_id;
    spdlog::log(level, "{}", message);
  }
  current_fields = {};
}

}  // namespace havip::log
