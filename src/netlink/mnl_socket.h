// One NETLINK_ROUTE socket, subscribed to link and address events. Dumps are
// requested on the same socket, so dump replies and live events arrive in one
// queue in the order the kernel produced them: nothing between "subscribe" and
// "dump" can be missed, and no dump reply can overtake a newer event.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <tl/expected.hpp>

struct mnl_socket;

namespace havip::netlink {

enum class DumpKind : std::uint8_t { links, addresses };

class Socket {
 public:
  // Opens a non-blocking socket in the calling thread's current namespace.
  // `receive_buffer` bytes are forced with SO_RCVBUFFORCE (needs
  // CAP_NET_ADMIN), falling back to SO_RCVBUF.
  static tl::expected<Socket, std::string> open(int receive_buffer);

  int fd() const;
  // Asks for a dump; the replies end with netlink::Done{seq}.
  tl::expected<void, std::string> request_dump(DumpKind kind, std::uint32_t seq);
  // Sets link `ifindex` up; acknowledged by netlink::Error{seq, 0}. Only for
  // the throwaway namespace of the cstamp reference (daemon/cstamp_reference.h).
  tl::expected<void, std::string> request_link_up(std::uint32_t ifindex, std::uint32_t seq);

  // Receives one datagram into `buf`. Empty span: nothing to read (EAGAIN).
  // Error: the errno; ENOBUFS means events were lost (overrun).
  tl::expected<std::span<const std::uint8_t>, int> receive(std::span<std::uint8_t> buf);

 private:
  struct Close {
    void operator()(mnl_socket* s) const;
  };
  explicit Socket(mnl_socket* s) : sock_(s) {}
  std::unique_ptr<mnl_socket, Close> sock_;
};

}  // namespace havip::netlink
