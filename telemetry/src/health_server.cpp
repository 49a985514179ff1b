#include "kubefn/telemetry/health_server.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <cctype>
#include <exception>
#include <memory>
#include <sstream>

namespace kubefn::telemetry {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// The few statuses this server answers (telemetry depends on no other kubefn module, so not on
// http/'s full table); any other gets "Unknown", which clients ignore.
const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// A strong or weak entity tag without its W/ (If-None-Match compares weakly).
std::string_view opaque_tag(std::string_view tag) {
  tag = trim(tag);
  if (tag.size() >= 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

// Whether an If-None-Match value ("*", or tags separated by commas) names `etag`.
bool none_match_names(std::string_view header, std::string_view etag) {
  if (trim(header) == "*") return true;
  const std::string_view want = opaque_tag(etag);
  while (!header.empty()) {
    const auto comma = header.find(',');
    if (opaque_tag(header.substr(0, comma)) == want) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// An exception's message on one line.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return text;
}

}  // namespace

struct HealthServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  prometheus::Registry* registry = nullptr;
  std::function<bool()> ready;
  std::function<std::string()> extra_metrics;
  Routes routes;
  std::vector<std::string> hosts;  // "name:port" and "name", lower case; empty: any Host
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      serve(std::move(socket));
      accept();
    });
  }

  bool host_allowed(std::string_view host) const {
    if (hosts.empty()) return true;
    std::string h(host);
    for (char& c : h)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return std::find(hosts.begin(), hosts.end(), h) != hosts.end();
  }

  // The reply to `method` on `path` (the built-in routes answer any method, as they always did).
  HttpReply dispatch(std::string_view method, std::string_view path, std::string_view query) {
    HttpReply reply;
    if (path == "/healthz") {
      reply.body = "ok\n";
    } else if (path == "/readyz") {
      const bool ok = ready();
      reply.status = ok ? 200 : 503;
      reply.body = ok ? "ready\n" : "not ready\n";
    } else if (path == "/metrics") {
      std::ostringstream out;
      prometheus::TextSerializer().Serialize(out, registry->Collect());
      reply.body = out.str();
      if (extra_metrics) reply.body += extra_metrics();
      reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (auto route = routes.find(path); route != routes.end()) {
      if (method != "GET" && method != "HEAD") {
        reply.status = 405;
        reply.body = "method not allowed: " + std::string(path) + " takes GET and HEAD\n";
        reply.headers = {{"allow", "GET, HEAD"}};
        return reply;
      }
      try {
        reply = route->second(query);
      } catch (const std::exception& e) {
        reply = HttpReply{
            500, "text/plain; charset=utf-8", "internal error: " + one_line(e.what()) + "\n", {}};
      } catch (...) {
        reply = HttpReply{500, "text/plain; charset=utf-8", "internal error\n", {}};
      }
      if (reply.status < 100 || reply.status > 599) {
        reply = HttpReply{
            500,
            "text/plain; charset=utf-8",
            "internal error: the route answered status " + std::to_string(reply.status) + "\n",
            {}};
      }
    } else {
      reply.status = 404;
      reply.body = "not found\n";
    }
    return reply;
  }

  // One exchange per connection, asynchronous, so a client that never finishes its request
  // holds nothing; it is cut after two seconds.
  struct Exchange : std::enable_shared_from_this<Exchange> {
    Exchange(Impl& server, tcp::socket s)
        : impl(server), socket(std::move(s)), deadline(server.io, std::chrono::seconds(2)) {}
    Impl& impl;
    tcp::socket socket;
    asio::steady_timer deadline;
    asio::streambuf in{64 * 1024};  // a longer request head is dropped
    std::string head;
    std::string body;

    void start() {
      auto self = shared_from_this();
      deadline.async_wait([self](const boost::system::error_code& ec) {
        if (!ec) self->socket.close();
      });
      asio::async_read_until(socket, in, "\r\n\r\n",
                             [self](const boost::system::error_code& ec, std::size_t size) {
                               if (ec) return self->finish();
                               self->respond(size);
                             });
    }

    void respond(std::size_t head_size) {
      const auto data = in.data();
      const std::string request(asio::buffers_begin(data),
                                asio::buffers_begin(data) + static_cast<std::ptrdiff_t>(head_size));
      // The request line: METHOD TARGET VERSION.
      const auto eol = request.find("\r\n");
      const std::string_view line = std::string_view(request).substr(0, eol);
      const auto sp1 = line.find(' ');
      const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
      const std::string_view method = line.substr(0, sp1);
      const std::string_view target =
          sp1 == std::string_view::npos
              ? std::string_view{}
              : line.substr(sp1 + 1,
                            sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1);
      // The headers read: If-None-Match and Host.
      std::string_view if_none_match;
      std::string_view host;
      bool conditional = false;
      for (std::string_view rest = std::string_view(request).substr(eol + 2); !rest.empty();) {
        const auto end = rest.find("\r\n");
        const std::string_view h = rest.substr(0, end);
        if (const auto colon = h.find(':');
            colon != std::string_view::npos && iequals(trim(h.substr(0, colon)), "if-none-match")) {
          if_none_match = trim(h.substr(colon + 1));
          conditional = true;
        } else if (colon != std::string_view::npos && iequals(trim(h.substr(0, colon)), "host")) {
          host = trim(h.substr(colon + 1));
        }
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 2);
      }
      const auto q = target.find('?');
      const std::string_view path = target.substr(0, q);
      const std::string_view query =
          q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

      HttpReply reply;
      if (!impl.host_allowed(host)) {
        reply.status = 403;
        reply.body = "Host \"" + one_line(std::string(host)) +
                     "\" is not this server's (a name that resolves here is not enough)\n";
      } else {
        reply = impl.dispatch(method, path, query);
      }
      std::string extra;
      for (const auto& [name, value] : reply.headers) {
        if (name.empty() || has_line_break(name) || has_line_break(value) ||
            iequals(name, "content-type") || iequals(name, "content-length") ||
            iequals(name, "connection")) {
          continue;
        }
        extra += name + ": " + value + "\r\n";
        if (conditional && reply.status == 200 && iequals(name, "etag") &&
            none_match_names(if_none_match, value)) {
          reply.status = 304;
        }
      }
      if (reply.status == 304) reply.body.clear();
      const std::string type =
          has_line_break(reply.content_type) ? "application/octet-stream" : reply.content_type;
      head = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason_phrase(reply.status) +
             "\r\ncontent-type: " + type +
             "\r\ncontent-length: " + std::to_string(reply.body.size()) + "\r\n" + extra +
             "connection: close\r\n\r\n";
      body = std::move(reply.body);
      if (method == "HEAD") body.clear();  // the length of what GET would send, no body
      auto self = shared_from_this();
      asio::async_write(socket,
                        std::array<asio::const_buffer, 2>{asio::buffer(head), asio::buffer(body)},
                        [self](const boost::system::error_code&, std::size_t) { self->finish(); });
    }

    void finish() {
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      deadline.cancel();
    }
  };

  void serve(tcp::socket socket) { std::make_shared<Exchange>(*this, std::move(socket))->start(); }
};

HealthServer::HealthServer(const std::string& address, std::uint16_t port,
                           prometheus::Registry& registry, std::function<bool()> ready,
                           std::function<std::string()> extra_metrics, Routes routes,
                           std::vector<std::string> allowed_hosts)
    : impl_(std::make_unique<Impl>()) {
  impl_->registry = &registry;
  impl_->ready = std::move(ready);
  impl_->extra_metrics = std::move(extra_metrics);
  impl_->routes = std::move(routes);
  tcp::endpoint ep(asio::ip::make_address(address), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  for (const auto& name : allowed_hosts) {
    std::string h = name.find(':') != std::string::npos ? "[" + name + "]" : name;
    for (char& c : h)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    impl_->hosts.push_back(h + ":" + std::to_string(port_));
    impl_->hosts.push_back(h);  // without a port: clients that leave it out
  }
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

HealthServer::~HealthServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace kubefn::telemetry
