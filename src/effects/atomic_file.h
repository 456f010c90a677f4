// Writing small files atomically and without following symlinks: the state
// file, radvd.conf. A reader sees the old or the new content, never a torn
// file; a symlink planted where the file or its directory should be is never
// written through.
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "core/unique_fd.h"

namespace havip {

// Opens (creating it 0755 if missing) the directory `base`/`name`; neither
// `base`'s last component nor `name` may be a symlink. Without `create`, a
// missing `name` gives an empty UniqueFd instead (and `base` is not created).
tl::expected<UniqueFd, std::string> open_subdir(const std::string& base, const std::string& name,
                                                bool create = true);

struct Written {
  UniqueFd file;  // still open, for a deferred fsync
};

// Writes `content` to `dir`/`name` (mode 0644) through a temp file renamed
// into place. `sync_before_rename`: fsync the data (and the directory after).
// `where` names the directory in error messages.
tl::expected<Written, std::string> write_atomic(int dir, const std::string& where,
                                                const std::string& name,
                                                std::string_view content,
                                                bool sync_before_rename);

// Whether `dir`/`name` already is a regular file (not a symlink, one link,
// owned by us, mode 0644) holding exactly `content`: rewriting it would change
// nothing a reader sees.
bool already_holds(int dir, const std::string& name, std::string_view content);

}  // namespace havip
