#include "metrics_listener.hpp"

#include <boost/asio.hpp>
#include <memory>
#include <vector>

#include "kubefn/gateway/http_proxy.hpp"
#include "kubefn/http/request_parser.hpp"

namespace kubefn::gateway {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// After a failed accept (out of descriptors, say): how long before accepting again.
constexpr auto kAcceptRetry = std::chrono::milliseconds(250);

// One connection: one request, one answer, then the connection ends.
class MetricsExchange : public std::enable_shared_from_this<MetricsExchange> {
 public:
  MetricsExchange(const GatewayMetrics& metrics, tcp::socket sock,
                  std::chrono::milliseconds timeout)
      : metrics_(metrics),
        sock_(std::move(sock)),
        parser_(http::HttpLimits{std::size_t{8} * 1024, 100, 0}),
        timer_(sock_.get_executor()),
        timeout_(timeout) {
    buf_.resize(std::size_t{8} * 1024);
  }

  void start() {
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec) return;
      error_code ignored;
      self->sock_.close(ignored);
    });
    read();
  }

 private:
  void read() {
    sock_.async_read_some(asio::buffer(buf_.data() + len_, buf_.size() - len_),
                          [self = shared_from_this()](const error_code& ec, std::size_t n) {
                            if (ec) {
                              self->done();
                              return;
                            }
                            self->len_ += n;
                            self->on_read();
                          });
  }
  void on_read() {
    switch (parser_.parse(std::string_view(buf_.data(), len_))) {
      case http::ParseState::kNeedMore:
        if (len_ == buf_.size()) {
          answer(simple_reply(431, "application/json",
                              json_error_body(431, "request header fields too large"), true));
          return;
        }
        read();
        return;
      case http::ParseState::kHeadersDone:
      case http::ParseState::kError:
        answer(simple_reply(
            parser_.error_status() != 0 ? parser_.error_status() : 413, "application/json",
            json_error_body(parser_.error_status() != 0 ? parser_.error_status() : 413,
                            "the metrics listener takes no request body"),
            true));
        return;
      case http::ParseState::kComplete:
        break;
    }
    const http::HttpRequest& req = parser_.request();
    const bool head = req.method == "HEAD";
    if (req.path == "/metrics" && (req.method == "GET" || head)) {
      answer(simple_reply(200, "text/plain; version=0.0.4; charset=utf-8", metrics_.serialize(),
                          true, {}, head));
    } else {
      answer(simple_reply(404, "application/json", json_error_body(404, "only GET /metrics here"),
                          true, {}, head));
    }
  }
  void answer(std::string reply) {
    out_ = std::move(reply);
    asio::async_write(sock_, asio::buffer(out_),
                      [self = shared_from_this()](const error_code&, std::size_t) {
                        error_code ignored;
                        self->sock_.shutdown(tcp::socket::shutdown_send, ignored);
                        self->done();
                      });
  }
  void done() {
    error_code ignored;
    timer_.cancel();
    sock_.close(ignored);
  }

  const GatewayMetrics& metrics_;
  tcp::socket sock_;
  http::HttpRequestParser parser_;
  asio::steady_timer timer_;
  const std::chrono::milliseconds timeout_;
  std::vector<char> buf_;
  std::size_t len_ = 0;
  std::string out_;
};

}  // namespace

kube::Status MetricsListener::listen(const std::string& address, int port) {
  error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) {
    return kube::Status(kube::StatusCode::kInvalidConfig,
                        "metrics address \"" + address + "\" is not an IP address");
  }
  tcp::endpoint ep(addr, static_cast<std::uint16_t>(port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return kube::Status(
        kube::StatusCode::kInvalidConfig,
        "cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  accept();
  return {};
}

void MetricsListener::close() {
  error_code ignored;
  acceptor_.close(ignored);
}

void MetricsListener::accept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      auto timer = std::make_shared<asio::steady_timer>(acceptor_.get_executor(), kAcceptRetry);
      timer->async_wait([this, timer](const error_code&) { accept(); });
      return;
    }
    std::make_shared<MetricsExchange>(metrics_, std::move(socket), timeout_)->start();
    accept();
  });
}

}  // namespace kubefn::gateway
