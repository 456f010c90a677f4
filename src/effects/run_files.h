// Files havipd writes for its children (radvd.conf) and removes again.
#pragma once

#include <string>

#include <tl/expected.hpp>

namespace havip {

class RunFiles {
 public:
  virtual ~RunFiles() = default;
  // Atomically writes `dir`/`sub`/`name` (creating `dir`/`sub` 0755), never
  // following a symlink.
  virtual tl::expected<void, std::string> write(const std::string& dir, const std::string& sub,
                                                const std::string& name,
                                                const std::string& content) = 0;
  // Removes `dir`/`sub`/`name` if it exists (never following a symlink).
  virtual void remove(const std::string& dir, const std::string& sub, const std::string& name) = 0;
  // Removes the file at `path` if it exists (never following a symlink).
  virtual void remove_path(const std::string& path) = 0;
  // Creates `dir`/`sub` (0755) if missing, e.g. for a pid file.
  virtual tl::expected<void, std::string> ensure(const std::string& dir, const std::string& sub) = 0;
};

class FsRunFiles final : public RunFiles {
 public:
  tl::expected<void, std::string> write(const std::string& dir, const std::string& sub,
                                        const std::string& name,
                                        const std::string& content) override;
  void remove(const std::string& dir, const std::string& sub, const std::string& name) override;
  tl::expected<void, std::string> ensure(const std::string& dir, const std::string& sub) override;
  void remove_path(const std::string& path) override;
};

}  // namespace havip
