#include "daemon/logging.h"

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
thread_local const std::initializer_list<Field>* current_fields = nullptr;

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
    lines.reserve(3 + (current_fields ? current_fields->size() : 0));
    lines.push_back("MESSAGE=" + std::string(msg.payload.data(), msg.payload.size()));
    lines.push_back("PRIORITY=" + std::to_string(syslog_priority(msg.level)));
    lines.push_back("SYSLOG_IDENTIFIER=havipd");
    if (current_fields)
      for (const auto& f : *current_fields) lines.push_back(std::string(f.name) + "=" + f.value);
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

void structured(spdlog::level::level_enum level, std::initializer_list<Field> fields,
                std::string_view message) {
  current_fields = &fields;
  spdlog::log(level, "{}", message);
  current_fields = nullptr;
}

}  // namespace havip::log
