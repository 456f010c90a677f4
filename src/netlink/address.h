// Removing addresses inside a namespace: how a stale VIP is released
// ([daemon] on_stale_vip = "release"). Rare, so each call opens its own
// socket in the namespace and waits for the kernel's answers.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace havip::netlink {

// Removes each address from its interface inside the namespace `netns_fd`
// (`home_fd`: havipd's own, returned to). An address already gone, or on an
// interface that no longer exists, is not a failure. Returns one message per
// address that could not be removed.
std::vector<std::string> delete_addresses(int netns_fd, int home_fd,
                                          const std::vector<HeldAddress>& addresses);

}  // namespace havip::netlink
