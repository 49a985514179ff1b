#pragma once

// HTTP/1.1 (optionally TLS) transport for the ApiHandler: one thread per connection, keep-alive,
// watches streamed as chunked responses flushed per event. Binds 127.0.0.1 only.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api_handler.hpp"

namespace kubefn::emulator {

struct HttpServerConfig {
  uint16_t port = 0;
  bool tls = false;
  std::string cert_pem;
  std::string key_pem;
  std::string token;  // required bearer token when non-empty
  // Host names (IPv6 without brackets) requests may name, with the port served; empty: any.
  std::vector<std::string> allowed_hosts;
};

class HttpServer {
 public:
  // Binds and starts accepting; throws std::runtime_error when it cannot.
  HttpServer(HttpServerConfig config, ApiHandler& handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::size_t requests_served() const { return served_.load(); }
  // Stops accepting, shuts every connection down and joins all threads. Watches must already
  // have been woken (ObjectStore::shutdown).
  void stop();

 private:
  struct Connection {
    std::thread thread;
    int fd = -1;
    std::atomic<bool> finished{false};
  };

  void accept_loop();
  void serve(boost::asio::ip::tcp::socket socket, Connection& conn);
  template <class Stream>
  void session(Stream& stream, int fd);
  template <class Stream>
  void guarded_session(Stream& stream, int fd);

  HttpServerConfig config_;
  ApiHandler& handler_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  uint16_t port_ = 0;
  std::vector<std::string> hosts_;  // allowed Host values, lower case, with the port
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> served_{0};
  std::mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_;
  std::thread acceptor_thread_;
};

}  // namespace kubefn::emulator
