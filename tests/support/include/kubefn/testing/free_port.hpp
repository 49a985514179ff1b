#pragma once

#include <cstdint>

namespace kubefn::testing {

// A port on 127.0.0.1 that was free a moment ago (bound on port 0 and released), for servers
// that cannot report the port they took or where 0 means "off"; 0 if none could be bound.
std::uint16_t free_port();

}  // namespace kubefn::testing
