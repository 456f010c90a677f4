// libFuzzer target for the keepalived.conf parser. Besides crashes, leaks
// and undefined behaviour, it checks the contract every caller relies on: an
// error names a line, and an accepted file yields a usable router.
//
//   clang++ -std=c++20 -fsanitize=fuzzer,address,undefined -Isrc -I. \
//     src/core/types.cc src/config/keepalived_conf.cc src/neutron/keepalived_conf.cc \
//     tests/fuzz/keepalived_conf_fuzz.cc \
//     -o kfuzz && ./kfuzz tests/fuzz/corpus/keepalived_conf/
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "neutron/keepalived_conf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = havip::parse_neutron_keepalived_conf(text);
  if (!r) {
    if (!r.error().starts_with("keepalived.conf:")) __builtin_trap();
    return 0;
  }
  if (r->ha_interface.empty() || r->vrid < 1 || r->vrid > 255 || r->signal_vip.family == 0)
    __builtin_trap();
  return 0;
}
