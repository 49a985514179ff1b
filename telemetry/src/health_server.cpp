#include "kubefn/telemetry/health_server.hpp"

#include <prometheus/text_serializer.h>

#include <array>
#include <boost/asio.hpp>
#include <memory>
#include <sstream>

namespace kubefn::telemetry {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HealthServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  prometheus::Registry* registry = nullptr;
  std::function<bool()> ready;
  std::function<std::string()> extra_metrics;
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      serve(std::move(socket));
      accept();
    });
  }

  // One exchange per connection, asynchronous, so a client that never finishes its request
  // holds nothing; it is cut after two seconds.
  struct Exchange : std::enable_shared_from_this<Exchange> {
    Exchange(Impl& server, tcp::socket s)
        : impl(server), socket(std::move(s)), deadline(server.io, std::chrono::seconds(2)) {}
    Impl& impl;
    tcp::socket socket;
    asio::steady_timer deadline;
    asio::streambuf in;
    std::string head;
    std::string body;

    void start() {
      auto self = shared_from_this();
      deadline.async_wait([self](const boost::system::error_code& ec) {
        if (!ec) self->socket.close();
      });
      asio::async_read_until(socket, in, "\r\n\r\n",
                             [self](const boost::system::error_code& ec, std::size_t) {
                               if (ec) return self->finish();
                               self->respond();
                             });
    }

    void respond() {
      std::istream request(&in);
      std::string method;
      std::string target;
      request >> method >> target;
      int status = 200;
      std::string type = "text/plain; charset=utf-8";
      if (target == "/healthz") {
        body = "ok\n";
      } else if (target == "/readyz") {
        const bool ok = impl.ready();
        status = ok ? 200 : 503;
        body = ok ? "ready\n" : "not ready\n";
      } else if (target == "/metrics") {
        std::ostringstream out;
        prometheus::TextSerializer().Serialize(out, impl.registry->Collect());
        body = out.str();
        if (impl.extra_metrics) body += impl.extra_metrics();
        type = "text/plain; version=0.0.4; charset=utf-8";
      } else {
        status = 404;
        body = "not found\n";
      }
      const char* reason = status == 200   ? "OK"
                           : status == 503 ? "Service Unavailable"
                                           : "Not Found";
      head = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\ncontent-type: " + type +
             "\r\ncontent-length: " + std::to_string(body.size()) + "\r\nconnection: close\r\n\r\n";
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
                           std::function<std::string()> extra_metrics)
    : impl_(std::make_unique<Impl>()) {
  impl_->registry = &registry;
  impl_->ready = std::move(ready);
  impl_->extra_metrics = std::move(extra_metrics);
  tcp::endpoint ep(asio::ip::make_address(address), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

HealthServer::~HealthServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace kubefn::telemetry
