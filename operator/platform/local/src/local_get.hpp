#pragma once

// A blocking HTTP GET of a replica's page on 127.0.0.1, for `kubefn up`'s metrics endpoint
// (private to the module).

#include <cstdint>
#include <string>

namespace kubefn::platform::local::detail {

// GET 127.0.0.1:port/path with a deadline of a second on every step; the body of a 200, else
// "" (refused, timed out, another status). The body is what follows the head: the runtime
// answers with a content-length body and closes.
std::string local_get(std::uint16_t port, const std::string& path);

}  // namespace kubefn::platform::local::detail
