#include "kubefn/nats/url.hpp"

#include <charconv>

namespace kubefn::nats {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

Status bad(std::string_view url, std::string_view why) {
  return Status(ErrorCode::kInvalidArgument,
                "bad NATS URL '" + std::string(url) + "': " + std::string(why));
}

Result<ServerAddress> parse_one(std::string_view url) {
  std::string_view rest = url;
  if (const auto scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
    const std::string_view scheme = rest.substr(0, scheme_end);
    if (scheme == "tls" || scheme == "wss" || scheme == "ws") {
      return Status(ErrorCode::kUnsupported,
                    "NATS URL '" + std::string(url) + "': scheme " + std::string(scheme) +
                        ":// is not supported by this client (nats:// only)");
    }
    if (scheme != "nats") return bad(url, "the scheme must be nats://");
    rest.remove_prefix(scheme_end + 3);
  }
  // Anything after the authority (a path, a query) has no meaning for NATS.
  if (const auto slash = rest.find_first_of("/?#"); slash != std::string_view::npos) {
    if (!trim(rest.substr(slash)).empty() && rest.substr(slash) != "/")
      return bad(url, "a path or query is not allowed");
    rest = rest.substr(0, slash);
  }
  ServerAddress address;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    std::string user;
    if (!percent_decode(userinfo.substr(0, colon), user)) return bad(url, "bad %-escape in user");
    if (colon == std::string_view::npos) {
      if (user.empty()) return bad(url, "empty user before '@'");
      address.token = std::move(user);  // nats://token@host
    } else {
      std::string password;
      if (!percent_decode(userinfo.substr(colon + 1), password))
        return bad(url, "bad %-escape in password");
      address.user = std::move(user);
      address.password = std::move(password);
    }
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad(url, "unclosed '[' of an IPv6 address");
    address.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad(url, "expected ':' after ']'");
      port_text = rest.substr(1);
      if (port_text.empty()) return bad(url, "empty port");
    }
  } else {
    const auto colon = rest.find(':');
    if (colon != std::string_view::npos && rest.find(':', colon + 1) != std::string_view::npos)
      return bad(url, "an IPv6 address must be in brackets");
    address.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return bad(url, "empty port");
    }
  }
  if (address.host.empty()) return bad(url, "no host");
  for (const char c : address.host) {
    if (c == ' ' || c == '\t' || c == '@' || c == '[' || c == ']' || c == '/')
      return bad(url, "bad character in host");
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return bad(url, "the port must be a number from 1 to 65535");
    }
    address.port = static_cast<std::uint16_t>(port);
  }
  return address;
}

}  // namespace

std::string ServerAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return "nats://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<std::vector<ServerAddress>> parse_server_urls(std::string_view urls) {
  std::vector<ServerAddress> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = urls.find(',', start);
    const std::string_view one =
        trim(urls.substr(start, comma == std::string_view::npos ? urls.npos : comma - start));
    if (one.empty()) return bad(urls, "an empty URL in the list");
    auto address = parse_one(one);
    if (!address.ok()) return address.status();
    out.push_back(std::move(*address));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace kubefn::nats
