// Reading files that another user may write (Neutron's keepalived.conf and
// radvd.conf, under a state_path the neutron user owns). Such a file may be
// replaced at any time by a FIFO (an open() that blocks the loop for good), a
// symlink to /dev/zero (a read without end), a symlink to a root-only file
// outside the tree (its content copied into havipd's logs or run_dir), a
// directory or a file of gigabytes. An UntrustedTree reads only regular files,
// only beneath the directory it was opened on, never blocks and never reads
// more than the cap: anything else is a refusal with its reason.
#pragma once

#include <cstddef>
#include <string>

#include <tl/expected.hpp>

#include "core/unique_fd.h"

namespace havip {

struct ReadRefusal {
  bool missing = false;  // nothing is there (ENOENT, ENOTDIR): not an attack, no reason to say
  std::string reason;    // e.g. "is a FIFO, not a regular file"
};

class UntrustedTree {
 public:
  // Opens the directory at `path`. `path` itself is the operator's (a
  // configured state_path, in a directory root owns), so a symlink there is
  // followed; nothing beneath it is trusted.
  static tl::expected<UntrustedTree, std::string> open(const std::string& path);

  // Reads `rel` (relative, no leading '/'). Symlinks are followed only while
  // they stay beneath the tree (RESOLVE_BENEATH) and never through /proc's
  // magic links; the file is opened O_NONBLOCK|O_NOCTTY, must be a regular
  // file (checked on the open descriptor) and at most `cap` bytes, also while
  // it is read.
  tl::expected<std::string, ReadRefusal> read(const std::string& rel, std::size_t cap) const;

  // Opens the directory `rel` beneath the tree, with the same rules.
  tl::expected<UniqueFd, ReadRefusal> open_dir(const std::string& rel) const;

  // Where openat2 is missing (a kernel before 5.6) or refused (ENOSYS from a
  // seccomp filter), paths are walked one component at a time instead and no
  // symlink is followed; this forces that (tests).
  static void without_openat2(bool on);

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

 private:
  UntrustedTree(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  tl::expected<UniqueFd, ReadRefusal> open_beneath(const std::string& rel, int flags) const;

  UniqueFd fd_;
  std::string path_;
};

// Reads the file at `path` as the program it configures reads it, symlinks
// followed (keepalived's own configuration: its includes may lead anywhere),
// but without blocking: opened O_NONBLOCK|O_NOCTTY, a regular file (checked
// on the open descriptor), at most `cap` bytes, also while it is read.
tl::expected<std::string, ReadRefusal> read_file_nonblocking(const std::string& path,
                                                             std::size_t cap);

// "1 MiB", "512 KiB", "100 bytes": a cap or size as a log line says it.
std::string byte_size(std::size_t n);

}  // namespace havip
