// The L3 agent notifier against a fake agent: a unix-socket HTTP listener on
// a thread of its own, while the test drives a real sd-event loop.
#include "neutron/l3_agent_notifier.h"
#include "report/journal.h"

#include <poll.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "core/unique_fd.h"

namespace havip {
namespace {

using namespace std::chrono_literals;

struct Request {
  std::string method, path;
  std::map<std::string, std::string> headers;  // names in lower case
  TimePoint at;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "<absent>" : it->second;
  }
  std::string router() const { return header("x-neutron-router-id"); }
  std::string state() const { return header("x-neutron-state"); }
};

enum class Answer { ok, error500, hang, close, garbage, fake_http, fake_http_lower };

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<Request> parse(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  Request req;
  if (!std::getline(in, line)) return std::nullopt;
  std::istringstream first(line);
  first >> req.method >> req.path;
  while (std::getline(in, line) && line != "\r") {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    req.headers[lower(line.substr(0, colon))] = value;
  }
  return req;
}

// A stand-in for neutron-l3-agent's KeepalivedStateChangeServer: accepts one
// connection at a time, reads one request, records it and answers as told.
class FakeAgent {
 public:
  using Policy = std::function<Answer(const Request&)>;

  explicit FakeAgent(std::string path, Policy policy = [](const Request&) { return Answer::ok; })
      : path_(std::move(path)), policy_(std::move(policy)) {
    ::unlink(path_.c_str());
    listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_.get(), 64) != 0)
      throw std::runtime_error("cannot listen on " + path_);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    stop_read_.reset(p[0]);
    stop_write_.reset(p[1]);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeAgent() {
    release();
    [[maybe_unused]] auto n = ::write(stop_write_.get(), "x", 1);
    thread_.join();
    ::unlink(path_.c_str());
  }

  void set_policy(Policy p) {
    std::lock_guard lock(mu_);
    policy_ = std::move(p);
  }
  // Answers wait until release(): a slow agent, with the test choosing when.
  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::string> states_of(const std::string& router) const {
    std::vector<std::string> out;
    for (const auto& r : requests())
      if (r.router() == router) out.push_back(r.state());
    return out;
  }
  std::size_t count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }

 private:
  bool stopping() const {
    pollfd p{stop_read_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  void serve() {
    std::vector<UniqueFd> hung;  // connections never answered
    for (;;) {
      pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      auto text = read_request(conn.get());
      auto req = text ? parse(*text) : std::nullopt;
      if (!req) continue;
      req->at = Clock::now();
      Answer answer;
      {
        std::unique_lock lock(mu_);
        requests_.push_back(*req);
        answer = policy_(*req);
        cv_.wait(lock, [this] { return !held_; });
      }
      if (stopping()) return;
      switch (answer) {
        case Answer::ok:
          reply(conn.get(), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n");
          break;
        case Answer::error500:
          reply(conn.get(), "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n"
                            "Connection: close\r\n\r\noops\n");
          break;
        case Answer::hang:
          hung.push_back(std::move(conn));
          break;
        case Answer::close:
          break;
        case Answer::garbage:
          reply(conn.get(), "SSH-2.0-OpenSSH_9.2\r\n\r\n");
          break;
        // Status lines libcurl 7.88 takes for "HTTP/1.0 200" (from the fuzz
        // seeds l3_agent_response/curl-fallback-*).
        case Answer::fake_http:
          reply(conn.get(), "HTTP/\xd1\xcf OK)\n\r\n");
          break;
        case Answer::fake_http_lower:
          reply(conn.get(), "HTTp/\xd1\xcf\xe8\n");
          break;
      }
    }
  }

  static std::optional<std::string> read_request(int fd) {
    std::string text;
    char buf[1024];
    while (text.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return std::nullopt;
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
  }

  static void reply(int fd, std::string_view text) {
    [[maybe_unused]] auto n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
  }

  std::string path_;
  UniqueFd listener_, stop_read_, stop_write_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Policy policy_;
  bool held_ = false;
  std::vector<Request> requests_;
  std::thread thread_;
};

class L3AgentNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sd_event_new(&loop_), 0);
    char tmpl[] = "/tmp/havip-l3-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/keepalived-state-change";
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    sink->set_pattern("%l %v");
    previous_logger_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  void TearDown() override {
    notifier_.reset();
    agent_.reset();
    sd_event_unref(loop_);
    std::filesystem::remove_all(dir_);
    spdlog::set_default_logger(previous_logger_);
  }

  L3AgentNotifier& make_notifier(L3AgentPolicy policy = {}) {
    // Its failures are logged as havipd logs them (report/journal.h).
    notifier_ = std::make_unique<L3AgentNotifier>(loop_, journal_, path_,
                                                  [] { return Clock::now(); }, policy);
    return *notifier_;
  }
  FakeAgent& start_agent(FakeAgent::Policy policy = [](const Request&) { return Answer::ok; }) {
    agent_ = std::make_unique<FakeAgent>(path_, std::move(policy));
    return *agent_;
  }

  // Runs the loop until `done` holds; false if it does not within `within`.
  bool run_until(const std::function<bool()>& done, Millis within = 5000ms) {
    auto deadline = Clock::now() + within;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      if (sd_event_run(loop_, 10'000) < 0) return false;
    }
    return true;
  }
  void run_for(Millis d) {
    auto until = Clock::now() + d;
    run_until([&] { return Clock::now() >= until; }, d + 1000ms);
  }
  std::vector<std::string> log_lines() const {
    std::vector<std::string> out;
    std::istringstream in(log_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  sd_event* loop_ = nullptr;
  std::string dir_, path_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> previous_logger_;
  std::unique_ptr<FakeAgent> agent_;
  JournalObserver journal_;
  std::unique_ptr<L3AgentNotifier> notifier_;
};

TEST_F(L3AgentNotifierTest, SendsWhatTheIncumbentSends) {
  auto& agent = start_agent();
  auto& n = make_notifier();
  n.notify("6b0a3c9e-1f2d-4e5a-9b8c-7d6e5f4a3b2c", Role::primary);
  EXPECT_FALSE(n.idle());
  ASSERT_TRUE(run_until([&] { return n.idle(); }));

  ASSERT_EQ(agent.count(), 1u);
  const Request req = agent.requests()[0];
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.path, "/");
  EXPECT_EQ(req.header("host"), "127.0.0.1");
  EXPECT_EQ(req.router(), "6b0a3c9e-1f2d-4e5a-9b8c-7d6e5f4a3b2c");
  EXPECT_EQ(req.state(), "primary");
  EXPECT_EQ(req.header("connection"), "close");
  EXPECT_EQ(n.delivered("6b0a3c9e-1f2d-4e5a-9b8c-7d6e5f4a3b2c"), Role::primary);
  EXPECT_EQ(n.counters().sent, 1u);
  EXPECT_EQ(n.counters().failed, 0u);
  EXPECT_TRUE(log_lines().empty());  // success is logged at debug level
}

TEST_F(L3AgentNotifierTest, TheFirstNotifyOfARouterIsAlwaysSentButARepeatIsNot) {
  auto& agent = start_agent();
  {
    auto& n = make_notifier();
    n.notify("r1", Role::backup);  // the initial state, backup included (#1916022)
    ASSERT_TRUE(run_until([&] { return n.idle(); }));
    EXPECT_EQ(agent.states_of("r1"), std::vector<std::string>{"backup"});

    n.notify("r1", Role::backup);  // the agent acknowledged backup already
    EXPECT_TRUE(n.idle());
    run_for(100ms);
    EXPECT_EQ(agent.count(), 1u);
  }
  auto& restarted = make_notifier();  // havipd restarted: nothing known delivered
  restarted.notify("r1", Role::backup);
  ASSERT_TRUE(run_until([&] { return restarted.idle(); }));
  EXPECT_EQ(agent.states_of("r1"), (std::vector<std::string>{"backup", "backup"}));
}

TEST_F(L3AgentNotifierTest, An500IsRetriedWithBackoffUntilTheAgentAccepts) {
  std::atomic<int> answered = 0;
  auto& agent = start_agent([&](const Request&) {
    return ++answered <= 3 ? Answer::error500 : Answer::ok;
  });
  auto& n = make_notifier();
  n.notify("r1", Role::backup);
  ASSERT_TRUE(run_until([&] { return n.delivered("r1") == Role::backup; }));
  EXPECT_TRUE(n.idle());

  auto reqs = agent.requests();
  ASSERT_EQ(reqs.size(), 4u);
  for (const auto& r : reqs) EXPECT_EQ(r.state(), "backup");
  // 100 ms, 200 ms, 400 ms between the attempts (a little slack below: the
  // agent timestamps on receipt, after our send).
  const Millis expected[] = {100ms, 200ms, 400ms};
  for (std::size_t i = 0; i < 3; ++i) {
    auto gap = std::chrono::duration_cast<Millis>(reqs[i + 1].at - reqs[i].at);
    EXPECT_GE(gap, expected[i] - 5ms) << "attempt " << i + 2;
    EXPECT_LT(gap, expected[i] + 150ms) << "attempt " << i + 2;
  }
  EXPECT_EQ(n.counters().failed, 3u);
  EXPECT_EQ(n.counters().sent, 1u);
  // One warning for the streak, one line when it is over.
  EXPECT_EQ(log_lines(), (std::vector<std::string>{
                             "warning r1: cannot notify the L3 agent at " + path_ +
                                 " (backup): the agent answered HTTP 500; retrying in 100ms",
                             "info r1: notified the L3 agent (backup) after 3 failed attempts"}));
}

TEST_F(L3AgentNotifierTest, ClosedOrGarbledAnswersAreRetried) {
  std::atomic<int> answered = 0;
  auto& agent = start_agent([&](const Request&) {
    switch (++answered) {
      case 1: return Answer::close;
      case 2: return Answer::garbage;
      default: return Answer::ok;
    }
  });
  auto& n = make_notifier();
  n.notify("r1", Role::primary);
  ASSERT_TRUE(run_until([&] { return n.delivered("r1") == Role::primary; }));
  EXPECT_EQ(agent.count(), 3u);
  EXPECT_EQ(n.counters().failed, 2u);
  auto lines = log_lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("closed the connection without answering"), std::string::npos)
      << lines[0];
}

TEST_F(L3AgentNotifierTest, OnlyARealStatusLineOf200IsSuccess) {
  std::atomic<int> answered = 0;
  auto& agent = start_agent([&](const Request&) {
    switch (++answered) {
      case 1: return Answer::fake_http;
      case 2: return Answer::fake_http_lower;
      default: return Answer::ok;
    }
  });
  auto& n = make_notifier();
  n.notify("r1", Role::backup);
  ASSERT_TRUE(run_until([&] { return n.delivered("r1") == Role::backup; }));
  EXPECT_EQ(agent.count(), 3u);
  EXPECT_EQ(n.counters().failed, 2u);
  auto lines = log_lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("the agent answered a malformed status line"), std::string::npos)
      << lines[0];
}

TEST_F(L3AgentNotifierTest, RetriesUntilTheAgentAppears) {
  auto& n = make_notifier();
  n.notify("r1", Role::primary);
  ASSERT_TRUE(run_until([&] { return n.counters().failed >= 2; }));  // no socket: ENOENT
  EXPECT_EQ(n.delivered("r1"), std::nullopt);
  EXPECT_FALSE(n.idle());
  {  // a stale socket file left by a dead agent: ECONNREFUSED
    UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  auto failed = n.counters().failed;
  ASSERT_TRUE(run_until([&] { return n.counters().failed > failed; }));

  auto& agent = start_agent();
  ASSERT_TRUE(run_until([&] { return n.delivered("r1") == Role::primary; }));
  EXPECT_EQ(agent.states_of("r1"), std::vector<std::string>{"primary"});
  EXPECT_TRUE(n.idle());

  auto lines = log_lines();
  ASSERT_EQ(lines.size(), 2u);  // once per streak, however long
  EXPECT_EQ(lines[0], "warning r1: cannot notify the L3 agent at " + path_ +
                          " (primary): connect: No such file or directory; retrying in 100ms");
  EXPECT_TRUE(lines[1].starts_with("info r1: notified the L3 agent (primary) after ")) << lines[1];
}

TEST_F(L3AgentNotifierTest, AHungAgentTimesOutWithoutHoldingUpOtherRouters) {
  std::atomic<bool> hung_once = false;
  auto& agent = start_agent([&](const Request& r) {
    return r.router() == "r1" && !hung_once.exchange(true) ? Answer::hang : Answer::ok;
  });
  L3AgentPolicy policy;
  policy.timeout = 300ms;
  auto& n = make_notifier(policy);

  n.notify("r1", Role::primary);
  ASSERT_TRUE(run_until([&] { return agent.count() == 1; }));
  auto hung_at = Clock::now();
  n.notify("r2", Role::backup);
  ASSERT_TRUE(run_until([&] { return n.delivered("r2") == Role::backup; }));
  EXPECT_LT(Clock::now() - hung_at, 300ms);
  EXPECT_EQ(n.counters().failed, 0u);  // r1 is still waiting for its answer

  ASSERT_TRUE(run_until([&] { return n.delivered("r1") == Role::primary; }));
  EXPECT_GE(Clock::now() - hung_at, 300ms);
  EXPECT_EQ(n.counters().failed, 1u);
  EXPECT_EQ(agent.states_of("r1"), (std::vector<std::string>{"primary", "primary"}));
  auto lines = log_lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("(primary): no answer within 300ms; retrying in 100ms"),
            std::string::npos)
      << lines[0];
}

TEST_F(L3AgentNotifierTest, TheLatestStateWinsWhileTheAgentIsSlow) {
  auto& agent = start_agent();
  auto& n = make_notifier();

  // primary in flight; backup, primary meanwhile: the agent ends up with
  // primary, which it already has.
  agent.hold();
  n.notify("r1", Role::primary);
  ASSERT_TRUE(run_until([&] { return agent.count() == 1; }));
  n.notify("r1", Role::backup);
  n.notify("r1", Role::primary);
  run_for(50ms);
  EXPECT_EQ(agent.count(), 1u);  // one request in flight per router
  agent.release();
  ASSERT_TRUE(run_until([&] { return n.idle(); }));
  EXPECT_EQ(agent.states_of("r1"), std::vector<std::string>{"primary"});
  EXPECT_EQ(n.delivered("r1"), Role::primary);

  // backup in flight; primary, backup, primary meanwhile: primary follows at once.
  agent.hold();
  n.notify("r1", Role::backup);
  ASSERT_TRUE(run_until([&] { return agent.count() == 2; }));
  n.notify("r1", Role::primary);
  n.notify("r1", Role::backup);
  n.notify("r1", Role::primary);
  agent.release();
  ASSERT_TRUE(run_until([&] { return n.idle(); }));
  EXPECT_EQ(agent.states_of("r1"), (std::vector<std::string>{"primary", "backup", "primary"}));
  EXPECT_EQ(n.delivered("r1"), Role::primary);
}

TEST_F(L3AgentNotifierTest, AFlappingRouterNeverSendsAStaleState) {
  // Every answer takes a while; the router flaps faster than that.
  auto& agent = start_agent([](const Request&) {
    std::this_thread::sleep_for(15ms);
    return Answer::ok;
  });
  auto& n = make_notifier();
  Role role = Role::primary;
  for (int i = 0; i < 40; ++i) {
    role = i % 2 == 0 ? Role::primary : Role::backup;
    n.notify("r1", role);
    run_for(4ms);
  }
  n.notify("r1", Role::primary);
  ASSERT_TRUE(run_until([&] { return n.idle(); }));
  EXPECT_EQ(n.delivered("r1"), Role::primary);
  auto states = agent.states_of("r1");
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), "primary");
  EXPECT_LT(states.size(), 41u);  // coalesced
  // Each request carried news: never the state the agent had just acknowledged.
  for (std::size_t i = 1; i < states.size(); ++i) EXPECT_NE(states[i], states[i - 1]) << i;
}

TEST_F(L3AgentNotifierTest, ConnectionsAreCappedAndTheRestWaitTheirTurn) {
  std::atomic<bool> hang = true;
  auto& agent = start_agent([&](const Request&) { return hang ? Answer::hang : Answer::ok; });
  L3AgentPolicy policy;
  policy.max_connections = 2;
  policy.timeout = 400ms;
  auto& n = make_notifier(policy);
  for (const char* r : {"r1", "r2", "r3", "r4", "r5"}) n.notify(r, Role::backup);
  run_for(200ms);
  EXPECT_EQ(agent.count(), 2u);
  hang = false;
  ASSERT_TRUE(run_until([&] { return n.idle(); }));
  for (const char* r : {"r1", "r2", "r3", "r4", "r5"}) EXPECT_EQ(n.delivered(r), Role::backup) << r;
}

TEST_F(L3AgentNotifierTest, AForgottenRouterIsNoLongerRetried) {
  auto& n = make_notifier();
  n.notify("r1", Role::primary);
  ASSERT_TRUE(run_until([&] { return n.counters().failed >= 1; }));
  n.forget("r1");
  EXPECT_TRUE(n.idle());
  auto failed = n.counters().failed;
  run_for(300ms);
  EXPECT_EQ(n.counters().failed, failed);
  EXPECT_EQ(n.delivered("r1"), std::nullopt);
}

}  // namespace
}  // namespace havip
