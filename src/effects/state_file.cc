#include "effects/state_file.h"

#include <unistd.h>

#include "effects/atomic_file.h"

namespace havip {

namespace {
constexpr const char* kFinal = "state";
}  // namespace

std::string FsStateFiles::path_of(const std::string& dir, const std::string& router) {
  return dir + "/" + router + "/" + kFinal;
}

tl::expected<void, std::string> FsStateFiles::write(const std::string& base,
                                                    const std::string& router, Role role) {
  auto dir = open_subdir(base, router);
  if (!dir) return tl::unexpected(dir.error());
  auto written = write_atomic(dir->get(), base + "/" + router, kFinal, role_name(role),
                              mode_ == StateSync::inline_);
  if (!written) return tl::unexpected(written.error());
  if (mode_ == StateSync::deferred) {
    unsynced_.push_back(std::move(written->file));
    unsynced_.push_back(std::move(*dir));
  }
  return {};
}

void FsStateFiles::sync() {
  // Best effort: the content is derived state, rewritten at every start.
  // After a mass failover one syncfs is far cheaper than an fsync per file
  // and per directory; a few files are synced one by one, so that a busy
  // file system's unrelated dirty data is not flushed for them.
  constexpr std::size_t kSyncfsAbove = 32;
  if (unsynced_.size() > kSyncfsAbove)
    ::syncfs(unsynced_.front().get());
  else
    for (auto& fd : unsynced_) ::fsync(fd.get());
  unsynced_.clear();
}

}  // namespace havip
