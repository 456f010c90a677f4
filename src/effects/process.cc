#include "effects/process.h"

namespace havip {

std::vector<std::string> child_environment(const std::string& router, const std::string& netns,
                                           std::vector<std::string> extra) {
  std::vector<std::string> env{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "HAVIP_ROUTER=" + router, "HAVIP_NAMESPACE=" + netns};
  env.insert(env.end(), std::make_move_iterator(extra.begin()), std::make_move_iterator(extra.end()));
  return env;
}

std::string_view effect_of(const ProcessSpec& spec) {
  std::string_view first = std::string_view(spec.what).substr(0, spec.what.find(' '));
  return first == "radvd" || first == "hook" ? first : "service";
}

std::string program_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace havip
