#include "neutron/curl_api.h"

#include <dlfcn.h>

#include <mutex>

namespace havip {

namespace {

struct Loaded {
  CurlApi api{};
  std::string error;
};

// Looks `name` up into `out`; the first symbol missing becomes the error.
template <typename F>
void resolve(void* lib, const char* name, F& out, std::string& error) {
  void* sym = ::dlsym(lib, name);
  if (sym == nullptr && error.empty()) error = std::string(kLibcurl) + " has no symbol " + name;
  out = reinterpret_cast<F>(sym);
}

Loaded load() {
  Loaded l;
  // Never unloaded: libcurl keeps global state (curl_global_init).
  void* lib = ::dlopen(kLibcurl, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    l.error = std::string("cannot load ") + kLibcurl + ": " + (why ? why : "unknown error") +
              " (install libcurl4 on Debian, libcurl on Fedora/EL)";
    return l;
  }
  CurlApi& a = l.api;
  std::string& e = l.error;
  resolve(lib, "curl_global_init", a.global_init, e);
  resolve(lib, "curl_global_cleanup", a.global_cleanup, e);
  resolve(lib, "curl_easy_init", a.easy_init, e);
  resolve(lib, "curl_easy_cleanup", a.easy_cleanup, e);
  resolve(lib, "curl_easy_setopt", a.easy_setopt, e);
  resolve(lib, "curl_easy_getinfo", a.easy_getinfo, e);
  resolve(lib, "curl_easy_strerror", a.easy_strerror, e);
  resolve(lib, "curl_multi_init", a.multi_init, e);
  resolve(lib, "curl_multi_cleanup", a.multi_cleanup, e);
  resolve(lib, "curl_multi_setopt", a.multi_setopt, e);
  resolve(lib, "curl_multi_add_handle", a.multi_add_handle, e);
  resolve(lib, "curl_multi_remove_handle", a.multi_remove_handle, e);
  resolve(lib, "curl_multi_info_read", a.multi_info_read, e);
  resolve(lib, "curl_multi_socket_action", a.multi_socket_action, e);
  resolve(lib, "curl_multi_strerror", a.multi_strerror, e);
  resolve(lib, "curl_slist_append", a.slist_append, e);
  resolve(lib, "curl_slist_free_all", a.slist_free_all, e);
  return l;
}

}  // namespace

tl::expected<const CurlApi*, std::string> load_curl() {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] { loaded = load(); });
  if (!loaded.error.empty()) return tl::unexpected(loaded.error);
  return &loaded.api;
}

}  // namespace havip
