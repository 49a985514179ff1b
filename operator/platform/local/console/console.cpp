#include "kubefn/platform/local/console.hpp"

#include <string>

namespace kubefn::platform::local::console {

namespace {

// Only this server's own files and API; no inline script, no frames, no forms sent anywhere.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace

telemetry::Routes routes() {
  telemetry::Routes out;
  for (const Asset& a : assets()) {
    out.emplace(std::string(a.path), [&a](std::string_view) {
      return telemetry::HttpReply{200,
                                  std::string(a.content_type),
                                  std::string(a.body),
                                  {{"cache-control", "no-cache"},
                                   {"etag", std::string(a.etag)},
                                   {"x-content-type-options", "nosniff"},
                                   {"referrer-policy", "no-referrer"},
                                   {"content-security-policy", kPolicy}}};
    });
  }
  return out;
}

}  // namespace kubefn::platform::local::console
