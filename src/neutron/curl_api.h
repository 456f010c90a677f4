// libcurl, loaded with dlopen() when the L3 agent notifier (Neutron mode) is
// first created, not linked: a linked libcurl is loaded into every havipd with
// its TLS, LDAP, SSH and Kerberos libraries, whose start-up work keeps about
// 5 MiB resident — as much again as the rest of a generic-mode havipd, which
// never uses it. The L3 agent notifier calls libcurl only through this table.
#pragma once

#include <curl/curl.h>

#include <string>

#include <tl/expected.hpp>

namespace havip {

struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_global_cleanup) global_cleanup;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_multi_setopt) multi_setopt;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_socket_action) multi_socket_action;
  decltype(&::curl_multi_strerror) multi_strerror;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

// The library soname loaded (the one the headers belong to).
inline constexpr const char* kLibcurl = "libcurl.so.4";

// Loads libcurl once (later calls return the same table, or the same error);
// the error names the library and says why, e.g. that it is not installed.
tl::expected<const CurlApi*, std::string> load_curl();

}  // namespace havip
