#include "neutron/l3_agent_notifier.h"

#include <sys/epoll.h>
#include <systemd/sd-event.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log/logging.h"
#include "neutron/curl_api.h"

namespace havip {

namespace {

// libcurl's functions: loaded by the first notifier's constructor.
const CurlApi* g_curl = nullptr;
const CurlApi& curl() { return *g_curl; }

// The status line of the last response head: libcurl takes a first line that
// merely starts with "HTTP/" for "HTTP/1.0 200" (a legacy fallback), so the
// status code alone does not prove a 200 (found by l3_agent_response_fuzz).
struct ResponseHead {
  std::string status_line;
  bool at_start = true;
};

}  // namespace

struct L3AgentNotifier::Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  Role role = Role::unknown;
  std::string router;
  char error[CURL_ERROR_SIZE] = {};
  ResponseHead head;

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {  // the owner has taken it out of the multi handle first
    curl().easy_cleanup(easy);
    curl().slist_free_all(headers);
  }
};

namespace {

CURLM* multi_of(void* p) { return static_cast<CURLM*>(p); }

std::size_t discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

// Called by libcurl with each header line of each response head (a 1xx too).
std::size_t on_header(char* data, std::size_t size, std::size_t n, void* p) {
  auto* head = static_cast<ResponseHead*>(p);
  std::string_view line(data, size * n);
  if (head->at_start) head->status_line.assign(line.substr(0, 64));
  head->at_start = line == "\r\n" || line == "\n";  // a blank line ends a head
  return size * n;
}

// "HTTP/1.0 200" or "HTTP/1.1 200", then a space or the end of the line.
bool is_http_200(std::string_view line) {
  for (std::string_view ok : {"HTTP/1.1 200", "HTTP/1.0 200"})
    if (line.starts_with(ok) && (line.size() == ok.size() || line[ok.size()] == ' ' ||
                                 line[ok.size()] == '\r' || line[ok.size()] == '\n'))
      return true;
  return false;
}

// Sets up one request; false when curl refuses (out of memory).
bool prepare(CURL* easy, const std::string& socket_path, Millis timeout, curl_slist* headers,
             char* error, ResponseHead* head, void* priv) {
  bool ok = true;
  auto set = [&](CURLoption opt, auto value) {
    ok = ok && curl().easy_setopt(easy, opt, value) == CURLE_OK;
  };
  set(CURLOPT_UNIX_SOCKET_PATH, socket_path.c_str());
  // The address is ignored on a unix socket; it is what the incumbent uses,
  // so the agent sees "Host: 127.0.0.1".
  set(CURLOPT_URL, "http://127.0.0.1/");
  set(CURLOPT_HTTPGET, 1L);  // httplib2's default method
  set(CURLOPT_HTTPHEADER, headers);
  set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  set(CURLOPT_PROXY, "");  // never an http_proxy from the environment
  // One connection per request, as the incumbent (Connection: close).
  set(CURLOPT_FORBID_REUSE, 1L);
  set(CURLOPT_FRESH_CONNECT, 1L);
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_USERAGENT, "havipd");
  set(CURLOPT_WRITEFUNCTION, discard);  // the default writes the body to stdout
  set(CURLOPT_HEADERFUNCTION, on_header);
  set(CURLOPT_HEADERDATA, head);
  set(CURLOPT_ERRORBUFFER, error);
  set(CURLOPT_PRIVATE, priv);
  return ok;
}

// Why a completed request did not succeed; "" when the agent answered 200.
std::string failure(CURL* easy, CURLcode result, const char* error, const ResponseHead& head,
                    Millis timeout) {
  if (result == CURLE_OK) {
    long status = 0;
    curl().easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) return fmt::format("the agent answered HTTP {}", status);
    return is_http_200(head.status_line) ? "" : "the agent answered a malformed status line";
  }
  switch (result) {
    case CURLE_COULDNT_CONNECT: {  // curl's own text names 127.0.0.1 port 80
      long err = 0;
      curl().easy_getinfo(easy, CURLINFO_OS_ERRNO, &err);
      return err != 0 ? fmt::format("connect: {}", std::strerror(static_cast<int>(err)))
                      : std::string("cannot connect");
    }
    case CURLE_OPERATION_TIMEDOUT:
      return fmt::format("no answer within {}", timeout);
    case CURLE_GOT_NOTHING:
      return "the agent closed the connection without answering";
    default:
      return *error != '\0' ? std::string(error) : std::string(curl().easy_strerror(result));
  }
}

}  // namespace

L3AgentNotifier::L3AgentNotifier(sd_event* loop, Observer& observer, std::string socket_path,
                                 ClockFn clock, L3AgentPolicy policy)
    : loop_(loop), observer_(observer), socket_path_(std::move(socket_path)), clock_(std::move(clock)), policy_(policy) {
  auto api = load_curl();
  if (!api) throw std::runtime_error(api.error());
  g_curl = *api;
  // Plain HTTP on a unix socket needs nothing global (no TLS). Reference-counted
  // by curl; released in the destructor.
  curl().global_init(CURL_GLOBAL_NOTHING);
  CURLM* multi = curl().multi_init();
  if (multi == nullptr) {
    curl().global_cleanup();
    throw std::runtime_error("curl_multi_init failed");
  }
  multi_ = multi;
  curl().multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl().multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl().multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl().multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  curl().multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, policy_.max_connections);
  // Accuracy 1 µs: sd-event's default (250 ms) would coalesce curl's short
  // timeouts and our retries into late wake-ups.
  if (sd_event_add_time(loop_, &curl_timer_, CLOCK_MONOTONIC, 0, 1, on_timer, this) < 0 ||
      sd_event_add_time(loop_, &retry_timer_, CLOCK_MONOTONIC, 0, 1, on_retry, this) < 0) {
    sd_event_source_disable_unref(curl_timer_);
    curl().multi_cleanup(multi);
    curl().global_cleanup();
    throw std::runtime_error("cannot add the L3 agent notifier's timers to the event loop");
  }
  sd_event_source_set_enabled(curl_timer_, SD_EVENT_OFF);
  sd_event_source_set_enabled(retry_timer_, SD_EVENT_OFF);
}

L3AgentNotifier::~L3AgentNotifier() {
  for (auto& [name, r] : routers_) cancel(r);
  curl().multi_cleanup(multi_of(multi_));  // may still report sockets to on_socket
  for (auto& [fd, source] : sockets_) sd_event_source_disable_unref(source);
  sd_event_source_disable_unref(curl_timer_);
  sd_event_source_disable_unref(retry_timer_);
  curl().global_cleanup();
}

void L3AgentNotifier::notify(const std::string& router, Role role) {
  if (role == Role::unknown) {
    log::structured(spdlog::level::err, {{"HAVIP_ROUTER", router}},
                    router + ": the L3 agent is told primary or backup only, not unknown; ignoring");
    return;
  }
  auto& r = routers_[router];
  r.wanted = role;
  maybe_send(router, r);
}

void L3AgentNotifier::forget(const std::string& router) {
  auto it = routers_.find(router);
  if (it == routers_.end()) return;
  cancel(it->second);
  routers_.erase(it);
  arm_retry();
}

bool L3AgentNotifier::idle() const {
  return std::none_of(routers_.begin(), routers_.end(),
                      [](const auto& kv) { return kv.second.in_flight || kv.second.retry_at; });
}

std::optional<Role> L3AgentNotifier::delivered(const std::string& router) const {
  auto it = routers_.find(router);
  return it == routers_.end() ? std::nullopt : it->second.delivered;
}

// A request in flight or a pending retry will send the latest state when it
// is done; otherwise send now if the agent does not have it.
void L3AgentNotifier::maybe_send(const std::string& name, Router& r) {
  if (r.in_flight || r.retry_at || r.delivered == r.wanted) return;
  send(name, r);
}

void L3AgentNotifier::send(const std::string& name, Router& r) {
  auto t = std::make_unique<Transfer>();
  t->router = name;
  t->role = r.wanted;
  t->easy = curl().easy_init();
  for (const std::string& h : {"X-Neutron-Router-Id: " + name,
                               "X-Neutron-State: " + std::string(role_name(r.wanted)),
                               std::string("Connection: close")}) {
    curl_slist* more = curl().slist_append(t->headers, h.c_str());
    if (more == nullptr) return finished(name, r, t->role, "out of memory");
    t->headers = more;
  }
  if (t->easy == nullptr ||
      !prepare(t->easy, socket_path_, policy_.timeout, t->headers, t->error, &t->head, t.get()))
    return finished(name, r, t->role, "cannot set up the request (out of memory)");
  if (CURLMcode m = curl().multi_add_handle(multi_of(multi_), t->easy); m != CURLM_OK)
    return finished(name, r, t->role, curl().multi_strerror(m));
  if (spdlog::should_log(spdlog::level::debug))
    log::structured(spdlog::level::debug, {{"HAVIP_ROUTER", name}},
                    fmt::format("{}: telling the L3 agent: {}", name, role_name(r.wanted)));
  r.in_flight = std::move(t);
}

void L3AgentNotifier::finished(const std::string& name, Router& r, Role role,
                               const std::string& error) {
  if (error.empty()) {
    ++counters_.sent;
    r.delivered = role;
    if (r.failures > 0)
      log::structured(spdlog::level::info, {{"HAVIP_ROUTER", name}},
                      fmt::format("{}: notified the L3 agent ({}) after {} failed attempt{}", name,
                                  role_name(role), r.failures, r.failures == 1 ? "" : "s"));
    else
      log::structured(spdlog::level::debug, {{"HAVIP_ROUTER", name}},
                      fmt::format("{}: notified the L3 agent ({})", name, role_name(role)));
    r.failures = 0;
    return maybe_send(name, r);  // a newer state, at once
  }
  ++counters_.failed;
  // The agent may have acted on a request that then failed (a timeout, a 500):
  // what it holds is unknown, so whatever is wanted is sent again.
  r.delivered.reset();
  Millis delay = policy_.retry_initial;
  for (unsigned i = 0; i < r.failures && delay < policy_.retry_max; ++i) delay *= 2;
  delay = std::min(delay, policy_.retry_max);
  ++r.failures;
  r.retry_at = clock_() + delay;
  // Once per failure streak: a dead agent must not flood the journal.
  observer_.effect_failed({name, "", "notify",
                           fmt::format("cannot notify the L3 agent at {} ({}): {}; retrying in {}",
                                       socket_path_, role_name(role), error, delay),
                           r.failures == 1 ? EffectFailure::Severity::warning
                                           : EffectFailure::Severity::debug});
  arm_retry();
}

void L3AgentNotifier::cancel(Router& r) {
  if (r.in_flight) {
    curl().multi_remove_handle(multi_of(multi_), r.in_flight->easy);
    r.in_flight.reset();
  }
  r.retry_at.reset();
}

void L3AgentNotifier::collect() {
  int left = 0;
  while (CURLMsg* msg = curl().multi_info_read(multi_of(multi_), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode result = msg->data.result;  // msg is invalid once the handle is removed
    char* priv = nullptr;
    curl().easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    auto* t = reinterpret_cast<Transfer*>(priv);
    std::string error = failure(easy, result, t->error, t->head, policy_.timeout);
    curl().multi_remove_handle(multi_of(multi_), easy);
    auto it = routers_.find(t->router);
    std::unique_ptr<Transfer> done = std::move(it->second.in_flight);
    finished(it->first, it->second, done->role, error);
  }
}

void L3AgentNotifier::arm_retry() {
  std::optional<TimePoint> next;
  for (const auto& [name, r] : routers_)
    if (r.retry_at && (!next || *r.retry_at < *next)) next = r.retry_at;
  if (!next) {
    sd_event_source_set_enabled(retry_timer_, SD_EVENT_OFF);
    return;
  }
  // TimePoint is CLOCK_MONOTONIC, sd-event's clock here.
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(next->time_since_epoch()).count();
  sd_event_source_set_time(retry_timer_, us < 0 ? 0 : static_cast<std::uint64_t>(us));
  sd_event_source_set_enabled(retry_timer_, SD_EVENT_ONESHOT);
}

int L3AgentNotifier::on_retry(sd_event_source*, std::uint64_t, void* self) {
  auto* n = static_cast<L3AgentNotifier*>(self);
  TimePoint now = n->clock_();
  for (auto& [name, r] : n->routers_) {
    if (!r.retry_at || *r.retry_at > now) continue;
    r.retry_at.reset();
    n->maybe_send(name, r);
  }
  n->arm_retry();
  return 0;
}

// curl: watch `fd` for `what` (or stop watching it) on its behalf.
int L3AgentNotifier::on_socket(void*, int fd, int what, void* self, void*) {
  auto* n = static_cast<L3AgentNotifier*>(self);
  auto it = n->sockets_.find(fd);
  if (what == CURL_POLL_REMOVE) {  // curl says so before it closes the socket
    if (it != n->sockets_.end()) {
      sd_event_source_disable_unref(it->second);
      n->sockets_.erase(it);
    }
    return 0;
  }
  std::uint32_t events =
      (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  if (it != n->sockets_.end()) {
    sd_event_source_set_io_events(it->second, events);
    return 0;
  }
  sd_event_source* source = nullptr;
  int r = sd_event_add_io(n->loop_, &source, fd, events, on_io, n);
  if (r < 0) {
    spdlog::error("cannot watch the L3 agent's socket: {}", std::strerror(-r));
    return -1;  // curl fails the transfers in flight; they are retried
  }
  n->sockets_.emplace(fd, source);
  return 0;
}

int L3AgentNotifier::on_io(sd_event_source*, int fd, std::uint32_t revents, void* self) {
  auto* n = static_cast<L3AgentNotifier*>(self);
  int flags = (revents & EPOLLIN ? CURL_CSELECT_IN : 0) |
              (revents & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
              (revents & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
  int running = 0;
  curl().multi_socket_action(multi_of(n->multi_), fd, flags, &running);
  n->collect();
  return 0;
}

// curl: call back in `timeout_ms` (-1: no timeout wanted). Never acts here:
// curl must not be re-entered from its own callback.
int L3AgentNotifier::on_curl_timer(void*, long timeout_ms, void* self) {
  auto* n = static_cast<L3AgentNotifier*>(self);
  if (timeout_ms < 0) return sd_event_source_set_enabled(n->curl_timer_, SD_EVENT_OFF) < 0 ? -1 : 0;
  std::uint64_t now = 0;
  sd_event_now(n->loop_, CLOCK_MONOTONIC, &now);
  sd_event_source_set_time(n->curl_timer_, now + static_cast<std::uint64_t>(timeout_ms) * 1000);
  return sd_event_source_set_enabled(n->curl_timer_, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
}

int L3AgentNotifier::on_timer(sd_event_source*, std::uint64_t, void* self) {
  auto* n = static_cast<L3AgentNotifier*>(self);
  int running = 0;
  curl().multi_socket_action(multi_of(n->multi_), CURL_SOCKET_TIMEOUT, 0, &running);
  n->collect();
  return 0;
}

}  // namespace havip
