// Server addresses: `nats://[user:pass@]host[:port]` (port 4222 by default), several separated by
// commas. `nats://token@host` carries a token, as other NATS clients read it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/nats/status.hpp"

namespace kubefn::nats {

inline constexpr std::uint16_t kDefaultPort = 4222;

struct ServerAddress {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = kDefaultPort;
  std::string user;
  std::string password;
  std::string token;
  // "nats://host:port", without credentials (safe for logs).
  std::string to_string() const;
  bool operator==(const ServerAddress&) const = default;
};

// Parses one or more comma-separated URLs (blanks around commas ignored). Accepts the schemes
// nats:// and none (`host:port`); tls:// and others are kUnsupported, a malformed URL is
// kInvalidArgument naming it. User and password are percent-decoded.
Result<std::vector<ServerAddress>> parse_server_urls(std::string_view urls);

}  // namespace kubefn::nats
