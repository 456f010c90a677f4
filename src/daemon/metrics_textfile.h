// The metrics textfile (node_exporter's textfile collector): rewritten after
// changes, at most once a second (a mass failover is one write, not a
// thousand), and every minute regardless so that its mtime shows havipd
// alive. It observes the pipeline to learn that something changed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/types.h"
#include "effects/observer.h"

struct sd_event;
struct sd_event_source;

namespace havip {

class MetricsTextfile final : public Observer {
 public:
  using Render = std::function<std::string()>;
  MetricsTextfile(sd_event* loop, Render render);
  ~MetricsTextfile() override;
  MetricsTextfile(const MetricsTextfile&) = delete;
  MetricsTextfile& operator=(const MetricsTextfile&) = delete;

  // Where to write ("" or a dry run: nowhere).
  void set_path(const std::string& path) { path_ = path; }
  // Something the metrics count changed: a write is due (within a second).
  void changed();
  // Writes now (at exit).
  void write();

  void transition(const RoleChange&) override { changed(); }
  void effect_failed(const EffectFailure&) override { changed(); }
  void child_exited(const ChildExit&) override { changed(); }

 private:
  static int on_timer(sd_event_source* s, std::uint64_t usec, void* self);

  Render render_;
  std::string path_;
  sd_event_source* timer_ = nullptr;
  std::optional<TimePoint> written_;
};

}  // namespace havip
