#include "netlink/netns_monitor.h"

#include <systemd/sd-event.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log/logging.h"

#include "netns/netns.h"

namespace havip {

namespace {

// One buffer for every socket: the daemon is single-threaded. 64 KiB holds
// the largest dump datagram the kernel builds (it caps them at 32 KiB).
std::array<std::uint8_t, 65536> receive_buffer;
// Datagrams read per dispatch before yielding to other namespaces; the rest
// is read by a deferred dispatch (edge-triggered: no new edge would come).
constexpr int kBurst = 256;

}  // namespace

NetnsMonitor::NetnsMonitor(sd_event* loop, std::string netns, UniqueFd ns_fd, int home_fd,
                           int receive_buffer_bytes, Sink sink, MonitorCounters& counters,
                           CstampClock& cstamps)
    : loop_(loop),
      netns_(std::move(netns)),
      ns_fd_(std::move(ns_fd)),
      home_fd_(home_fd),
      receive_buffer_(receive_buffer_bytes),
      sink_(std::move(sink)),
      counters_(counters),
      cstamps_(cstamps) {}

NetnsMonitor::~NetnsMonitor() {
  sd_event_source_disable_unref(io_);
  sd_event_source_disable_unref(more_);
}

std::string NetnsMonitor::label() const {
  return netns_.empty() ? "host namespace" : "namespace " + netns_;
}

tl::expected<void, std::string> NetnsMonitor::start() {
  sd_event_source_disable_unref(io_);
  io_ = nullptr;
  socket_.reset();
  ++epoch_;
  auto opened = netns::run_in(ns_fd_.get(), home_fd_,
                              [&] { return netlink::Socket::open(receive_buffer_); });
  if (!opened) return tl::unexpected(opened.error());
  if (!*opened) return tl::unexpected(opened->error());
  socket_.emplace(std::move(**opened));
  // Edge-triggered and drained to EAGAIN: with a thousand namespaces, a
  // level-triggered socket that waits for its turn would be reported again by
  // every epoll_wait until it is read (quadratic in a mass failover).
  int r = sd_event_add_io(loop_, &io_, socket_->fd(), EPOLLIN | EPOLLET, on_readable, this);
  if (r < 0) return tl::unexpected(std::string("sd_event_add_io: ") + std::strerror(-r));
  sink_(SyncStart{netns_});
  dump_interrupted_ = false;
  links_seq_ = ++seq_;
  return request(netlink::DumpKind::links);
}

tl::expected<void, std::string> NetnsMonitor::request(netlink::DumpKind kind) {
  std::uint32_t seq = kind == netlink::DumpKind::links ? links_seq_ : addrs_seq_;
  return socket_->request_dump(kind, seq);
}

int NetnsMonitor::on_readable(sd_event_source*, int, std::uint32_t, void* self) {
  static_cast<NetnsMonitor*>(self)->drain();
  return 0;  // a handler never stops the loop
}

int NetnsMonitor::on_more(sd_event_source*, void* self) {
  static_cast<NetnsMonitor*>(self)->drain();
  return 0;
}

void NetnsMonitor::drain() {
  for (int i = 0; socket_; ++i) {
    if (i == kBurst) {
      if (!more_) sd_event_add_defer(loop_, &more_, on_more, this);
      sd_event_source_set_enabled(more_, SD_EVENT_ONESHOT);
      return;
    }
    auto got = socket_->receive(receive_buffer);
    if (!got) {
      resync(got.error() == ENOBUFS ? std::string("netlink receive buffer overrun")
                                     : std::string("netlink receive: ") +
                                           std::strerror(got.error()));
      return;
    }
    if (got->empty()) return;
    auto decoded = netlink::decode(*got);
    for (const auto& e : decoded.errors) {
      ++counters_.malformed;
      spdlog::warn("{}: malformed netlink message, ignoring: {}", label(), e);
    }
    // A resync replaces the socket; what is left of this datagram came from
    // the old one and would mark stale addresses as confirmed by the new dump.
    std::uint64_t epoch = epoch_;
    for (const auto& m : decoded.messages) {
      handle(m);
      if (epoch != epoch_) return;
    }
  }
}

void NetnsMonitor::handle(const netlink::Message& m) {
  if (const auto* link = std::get_if<LinkUpdate>(&m)) {
    ++counters_.messages;
    sink_(LinkEvent{netns_, *link});
  } else if (const auto* addr = std::get_if<AddrUpdate>(&m)) {
    ++counters_.messages;
    std::optional<TimePoint> created;
    if (addr->created_cs && !addr->removed) {
      if (addr->dumped)
        created = cstamps_.created(*addr->created_cs, Clock::now());
      else
        cstamps_.sample(*addr->created_cs, Clock::now());
    }
    sink_(AddrEvent{netns_, *addr, created});
  } else if (const auto* done = std::get_if<netlink::Done>(&m)) {
    dump_interrupted_ |= done->interrupted;
    if (done->seq == links_seq_ && links_seq_ != 0) {
      links_seq_ = 0;
      addrs_seq_ = ++seq_;
      if (auto ok = request(netlink::DumpKind::addresses); !ok) resync(ok.error());
    } else if (done->seq == addrs_seq_ && addrs_seq_ != 0) {
      addrs_seq_ = 0;
      if (dump_interrupted_) return resync("dump interrupted by concurrent changes");
      sink_(SyncEnd{netns_});
    }
  } else if (const auto* err = std::get_if<netlink::Error>(&m)) {
    if (err->error != 0 && (err->seq == links_seq_ || err->seq == addrs_seq_))
      resync(std::string("dump refused: ") + std::strerror(-err->error));
  }
}

void NetnsMonitor::resync(const std::string& why) {
  ++counters_.resyncs;
  // Under an address storm with a small buffer, overruns come back to back:
  // say so once a second, with how many were not reported.
  auto now = Clock::now();
  if (now - last_resync_log_ >= std::chrono::seconds(1)) {
    std::string more = unlogged_resyncs_ ? fmt::format(" ({} more since the last report)",
                                                       unlogged_resyncs_)
                                         : std::string();
    log::structured(spdlog::level::warn, {{"HAVIP_NAMESPACE", netns_}},
                    fmt::format("{}: {}; re-reading links and addresses{}", label(), why, more),
                    log::Kind::resync);
    last_resync_log_ = now;
    unlogged_resyncs_ = 0;
  } else {
    ++unlogged_resyncs_;
  }
  if (auto ok = start(); !ok) {
    // The namespace is still there (inotify would have said otherwise), so
    // this is a resource problem; the core keeps its last knowledge.
    log::structured(spdlog::level::err, {{"HAVIP_NAMESPACE", netns_}},
                    fmt::format("{}: cannot watch any more: {}", label(), ok.error()),
                    log::Kind::netns_gone);
    sink_(NetnsGone{netns_, ok.error()});
  }
}

}  // namespace havip
