#include "core/conntrackd.h"

namespace havip {

std::vector<std::vector<std::string>> conntrackd_commands(const ConntrackdConfig& c, Role from,
                                                          Role to) {
  Role told = told_role(to);
  if (told == Role::unknown || told == told_role(from)) return {};
  std::vector<std::string> options = told == Role::primary
                                         ? std::vector<std::string>{"-c", "-f", "-R", "-B"}
                                         : std::vector<std::string>{"-t", "-n"};
  std::vector<std::vector<std::string>> out;
  for (auto& o : options) out.push_back({c.binary, "-C", c.config, std::move(o)});
  return out;
}

}  // namespace havip
