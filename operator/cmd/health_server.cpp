#include "health_server.hpp"

#include <prometheus/text_serializer.h>

#include <boost/asio.hpp>
#include <sstream>

namespace kubefn::operator_cmd {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HealthServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  prometheus::Registry* registry = nullptr;
  std::function<bool()> ready;
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      serve(std::move(socket));
      accept();
    });
  }

  void serve(tcp::socket socket) {
    boost::system::error_code ec;
    asio::streambuf buf;
    asio::read_until(socket, buf, "\r\n\r\n", ec);
    if (ec) return;
    std::istream in(&buf);
    std::string method;
    std::string target;
    in >> method >> target;
    int status = 200;
    std::string body;
    std::string type = "text/plain; charset=utf-8";
    if (target == "/healthz") {
      body = "ok\n";
    } else if (target == "/readyz") {
      const bool ok = ready();
      status = ok ? 200 : 503;
      body = ok ? "ready\n" : "not ready\n";
    } else if (target == "/metrics") {
      std::ostringstream out;
      prometheus::TextSerializer().Serialize(out, registry->Collect());
      body = out.str();
      type = "text/plain; version=0.0.4; charset=utf-8";
    } else {
      status = 404;
      body = "not found\n";
    }
    std::string reason = status == 200 ? "OK" : status == 503 ? "Service Unavailable" : "Not Found";
    std::string head =
        "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\ncontent-type: " + type +
        "\r\ncontent-length: " + std::to_string(body.size()) + "\r\nconnection: close\r\n\r\n";
    asio::write(socket, std::array<asio::const_buffer, 2>{asio::buffer(head), asio::buffer(body)},
                ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }
};

HealthServer::HealthServer(const std::string& address, std::uint16_t port,
                           prometheus::Registry& registry, std::function<bool()> ready)
    : impl_(std::make_unique<Impl>()) {
  impl_->registry = &registry;
  impl_->ready = std::move(ready);
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

}  // namespace kubefn::operator_cmd
