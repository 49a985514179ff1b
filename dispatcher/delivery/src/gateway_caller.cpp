#include "kubefn/delivery/gateway_caller.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "kubefn/http/response_parser.hpp"

namespace kubefn::delivery {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

// Sends all of `data`; an error in words, empty on success.
std::string send_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd, POLLOUT, deadline)) return "timed out sending the event";
      continue;
    }
    return std::string("sending to the gateway failed: ") + std::strerror(errno);
  }
  return {};
}

std::string first_line(std::string_view body) {
  const std::size_t nl = body.find('\n');
  std::string s(body.substr(0, std::min<std::size_t>(nl, 200)));
  while (!s.empty() && (s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

}  // namespace

bool parse_gateway_url(const std::string& url, GatewayCallerOptions& out) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return false;
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return false;
  std::string_view host = rest;
  std::uint16_t port = 80;
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return false;
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      rest.remove_prefix(1);
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
      if (ec != std::errc() || p != rest.data() + rest.size() || port == 0) return false;
    }
  } else if (const std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    std::string_view digits = rest.substr(colon + 1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || p != digits.data() + digits.size() || port == 0) return false;
  }
  if (host.empty()) return false;
  out.host = std::string(host);
  out.port = port;
  return true;
}

GatewayCaller::GatewayCaller(GatewayCallerOptions options) : options_(std::move(options)) {}

GatewayCaller::~GatewayCaller() {
  for (int fd : idle_)
    ::close(fd);
}

std::uint64_t GatewayCaller::connections_opened() const {
  std::lock_guard<std::mutex> lock(mu_);
  return opened_;
}

int GatewayCaller::take_connection(std::string& error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      const int fd = idle_.back();
      idle_.pop_back();
      return fd;
    }
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options_.port);
  if (int rc = ::getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = "the gateway's address " + options_.host + " does not resolve: " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    error = "cannot connect to the gateway at " + options_.host + ":" + port + ": " + last;
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::lock_guard<std::mutex> lock(mu_);
  ++opened_;
  return fd;
}

void GatewayCaller::give_back(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() >= options_.max_idle_connections) {
    ::close(fd);
  } else {
    idle_.push_back(fd);
  }
}

CallResult GatewayCaller::call(const std::string& ns, const std::string& function,
                               const Event& event, int attempt, std::chrono::milliseconds timeout) {
  std::string request;
  request.reserve(512 + event.body.size());
  request += "POST /" + ns + "/" + function + "/ HTTP/1.1\r\nHost: " + options_.host + ":" +
             std::to_string(options_.port) + "\r\n";
  if (!options_.token.empty()) request += "Authorization: Bearer " + options_.token + "\r\n";
  request += "User-Agent: kubefn-dispatcher\r\n";
  for (const auto& [name, value] : event_headers(event, attempt)) {
    request += name;
    request += ": ";
    request += value;
    request += "\r\n";
  }
  request += "Content-Length: " + std::to_string(event.body.size()) + "\r\n\r\n";
  request += event.body;
  return exchange(request, timeout, false);
}

CallResult FunctionCaller::send(const std::string&, const std::string&, const Request&,
                                std::chrono::milliseconds) {
  return CallResult{0, "this caller cannot send requests", std::nullopt};
}

CallResult GatewayCaller::send(const std::string& ns, const std::string& function,
                               const Request& req, std::chrono::milliseconds timeout) {
  std::string request;
  request.reserve(512 + req.body.size());
  request += req.method + " /" + ns + "/" + function + req.target +
             " HTTP/1.1\r\nHost: " + options_.host + ":" + std::to_string(options_.port) + "\r\n";
  if (!options_.token.empty()) request += "Authorization: Bearer " + options_.token + "\r\n";
  for (const auto& [name, value] : req.headers) {
    request += name;
    request += ": ";
    request += value;
    request += "\r\n";
  }
  request += "Content-Length: " + std::to_string(req.body.size()) + "\r\n\r\n";
  request += req.body;
  return exchange(request, timeout, true);
}

CallResult GatewayCaller::exchange(const std::string& request, std::chrono::milliseconds timeout,
                                   bool keep_body) {
  const auto deadline = Clock::now() + timeout;
  // A pooled connection the gateway closed while idle fails before any answer: once more on a
  // new one (the gateway had not taken the event).
  for (int round = 0; round < 2; ++round) {
    std::string error;
    const int fd = take_connection(error);
    if (fd < 0) return CallResult{0, error, std::nullopt};
    if (std::string e = send_all(fd, request, deadline); !e.empty()) {
      ::close(fd);
      if (round == 0 && e.rfind("sending", 0) == 0) continue;
      return CallResult{0, e, std::nullopt};
    }
    std::string buf;
    http::HttpResponseParser parser(options_.max_response_bytes);
    parser.reset(false);
    http::ResponseState st = http::ResponseState::kNeedMore;
    bool got_any = false;
    char chunk[16384];
    while (st == http::ResponseState::kNeedMore) {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        got_any = true;
        buf.append(chunk, static_cast<std::size_t>(n));
        parser.reset(false);
        st = parser.parse(buf);
        continue;
      }
      if (n == 0) {
        parser.reset(false);
        st = parser.finish_at_eof(buf);
        if (st != http::ResponseState::kComplete) break;
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!wait_fd(fd, POLLIN, deadline)) {
          ::close(fd);
          return CallResult{0, "no answer within " + std::to_string(timeout.count()) + " ms",
                            std::nullopt};
        }
        continue;
      }
      break;
    }
    if (st != http::ResponseState::kComplete) {
      ::close(fd);
      if (!got_any && round == 0) continue;
      return CallResult{0,
                        got_any ? "the gateway's answer could not be read"
                                : "the gateway closed the connection without answering",
                        std::nullopt};
    }
    CallResult r;
    r.status = parser.status();
    for (const auto& h : parser.headers()) {
      if (keep_body && h.name == "content-type") r.content_type = std::string(h.value);
      if (h.name == "retry-after") {
        int secs = 0;
        auto [p, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), secs);
        if (ec == std::errc() && secs >= 0) r.retry_after = std::chrono::seconds(secs);
      }
    }
    if (r.status < 200 || r.status >= 300) {
      r.reason = "HTTP " + std::to_string(r.status);
      if (std::string line = first_line(parser.body()); !line.empty()) r.reason += ": " + line;
    }
    if (keep_body) r.body = std::string(parser.body());
    if (parser.keep_alive() && parser.consumed() == buf.size()) {
      give_back(fd);
    } else {
      ::close(fd);
    }
    return r;
  }
  return CallResult{0, "the gateway closed the connection without answering", std::nullopt};
}

CallResult post_to_url(const std::string& url, const HeaderList& headers, const std::string& body,
                       std::chrono::milliseconds timeout) {
  // http://authority[/path][?query]
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return CallResult{0, "not an http:// URL", std::nullopt};
  const std::size_t path_at = url.find_first_of("/?", kScheme.size());
  GatewayCallerOptions o;
  if (!parse_gateway_url(url.substr(0, path_at), o)) {
    return CallResult{0, "the URL's host or port is malformed", std::nullopt};
  }
  std::string target = path_at == std::string::npos ? "/" : url.substr(path_at);
  if (target.front() == '?') target.insert(0, "/");
  o.max_idle_connections = 0;
  GatewayCaller one(o);
  // The authority as written goes in Host (the callback's server may route on it).
  std::string request =
      "POST " + target + " HTTP/1.1\r\nHost: " +
      url.substr(kScheme.size(),
                 path_at == std::string::npos ? std::string::npos : path_at - kScheme.size()) +
      "\r\nUser-Agent: kubefn-dispatcher\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) {
    request += name;
    request += ": ";
    request += value;
    request += "\r\n";
  }
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  request += body;
  return one.exchange(request, timeout, false);
}

}  // namespace kubefn::delivery
