#include "http_server.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <stdexcept>

namespace kubefn::emulator {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kBodyLimit = std::size_t{64} << 20;

// True while the peer has not hung up; used to end abandoned watches.
bool peer_alive(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) < 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0;
}

bool health_path(const std::string& target) {
  const auto path = target.substr(0, target.find('?'));
  return path == "/healthz" || path == "/readyz" || path == "/livez";
}

HttpReply unauthorized() {
  HttpReply r;
  r.status = 401;
  r.body = status_body(ApiError{401, "Unauthorized", "Unauthorized"}).dump();
  return r;
}

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A Host header naming anything but this server: a page whose own name was made to resolve
// to 127.0.0.1 (DNS rebinding), or a request meant for some other server.
HttpReply foreign_host(const std::string& host, const std::vector<std::string>& allowed) {
  std::string names;
  for (const auto& h : allowed)
    names += (names.empty() ? "" : ", ") + h;
  HttpReply r;
  r.status = 403;
  r.body = status_text(ApiError{403, "Forbidden",
                                "Host \"" + host + "\" is not this server's: it answers only " +
                                    names + " (a name that resolves here is not enough)"});
  return r;
}

}  // namespace

HttpServer::HttpServer(HttpServerConfig config, ApiHandler& handler)
    : config_(std::move(config)), handler_(handler), acceptor_(io_) {
  if (config_.tls) {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    tls_->use_certificate_chain(asio::buffer(config_.cert_pem), ec);
    if (!ec) tls_->use_private_key(asio::buffer(config_.key_pem), asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("kube emulator: cannot load TLS material: " + ec.message());
  }
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), config_.port);
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("kube emulator: cannot listen on 127.0.0.1:" +
                             std::to_string(config_.port) + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  for (const auto& name : config_.allowed_hosts) {
    const bool ipv6 = name.find(':') != std::string::npos;
    hosts_.push_back(lower(ipv6 ? "[" + name + "]" : name) + ":" + std::to_string(port_));
  }
  acceptor_thread_ = std::thread([this] { accept_loop(); });
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  if (acceptor_thread_.joinable()) acceptor_thread_.join();
  std::list<std::unique_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    for (auto& c : connections_) {
      if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
    }
    conns.swap(connections_);
  }
  for (auto& c : conns) {
    if (c->thread.joinable()) c->thread.join();
  }
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void HttpServer::accept_loop() {
  while (!stopping_) {
    tcp::socket socket(io_);
    boost::system::error_code ec;
    acceptor_.accept(socket, ec);
    if (ec || stopping_) {
      if (stopping_) return;
      continue;
    }
    std::lock_guard lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->finished) {
        (*it)->thread.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    auto conn = std::make_unique<Connection>();
    conn->fd = socket.native_handle();
    Connection& ref = *conn;
    conn->thread =
        std::thread([this, s = std::move(socket), &ref]() mutable { serve(std::move(s), ref); });
    connections_.push_back(std::move(conn));
  }
}

template <class Stream>
void HttpServer::guarded_session(Stream& stream, int fd) {
  try {
    session(stream, fd);
  } catch (const std::exception&) {
    // The connection is dropped; the server goes on.
  }
}

void HttpServer::serve(tcp::socket socket, Connection& conn) {
  socket.set_option(tcp::no_delay(true));
  const int fd = socket.native_handle();
  if (tls_) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    boost::system::error_code ec;
    stream.handshake(asio::ssl::stream_base::server, ec);
    if (!ec) guarded_session(stream, fd);
    std::lock_guard lock(mu_);
    conn.fd = -1;  // only then may the descriptor be closed and reused
    stream.lowest_layer().close(ec);
  } else {
    guarded_session(socket, fd);
    std::lock_guard lock(mu_);
    conn.fd = -1;
    boost::system::error_code ec;
    socket.close(ec);
  }
  conn.finished = true;
}

template <class Stream>
void HttpServer::session(Stream& stream, int fd) {
  beast::flat_buffer buffer;
  while (!stopping_) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    beast::error_code ec;
    http::read_header(stream, buffer, parser, ec);
    if (ec) return;
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
      http::write(stream, go_on, ec);
    }
    if (!ec) http::read(stream, buffer, parser, ec);
    if (ec) return;
    auto& req = parser.get();
    ++served_;
    HttpRequest hr{std::string(req.method_string()), std::string(req.target()),
                   std::string(req[http::field::content_type]),
                   std::string(req[http::field::accept]), std::move(req.body())};
    Handled handled;
    const std::string host(req[http::field::host]);
    const bool host_ok =
        hosts_.empty() || std::find(hosts_.begin(), hosts_.end(), lower(host)) != hosts_.end();
    const bool authorized = config_.token.empty() || health_path(hr.target) ||
                            req[http::field::authorization] == "Bearer " + config_.token;
    if (!host_ok) {
      handled.reply = foreign_host(host, hosts_);
    } else if (authorized) {
      handled = handler_.handle(hr, true);
    } else {
      handled.reply = unauthorized();
    }
    if (!handled.watch) {
      http::response<http::string_body> res{static_cast<http::status>(handled.reply.status),
                                            req.version()};
      res.set(http::field::server, "kube-emulator");
      res.set(http::field::content_type, handled.reply.content_type);
      // insert, not set: a reply may carry several Warning headers.
      for (const auto& [k, v] : handled.reply.headers)
        res.insert(k, v);
      res.keep_alive(req.keep_alive());
      res.body() = std::move(handled.reply.body);
      res.prepare_payload();
      http::write(stream, res, ec);
      if (ec || !res.keep_alive()) return;
      continue;
    }
    http::response<http::empty_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "kube-emulator");
    res.set(http::field::content_type, handled.reply.content_type);
    res.keep_alive(false);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    http::write_header(stream, sr, ec);
    const auto alive = [fd] { return peer_alive(fd); };
    while (!ec) {
      auto line = handled.watch->next(alive);
      if (!line) break;
      asio::write(stream, http::make_chunk(asio::buffer(*line)), ec);
    }
    if (!ec) asio::write(stream, http::make_chunk_last(), ec);
    return;
  }
}

}  // namespace kubefn::emulator
