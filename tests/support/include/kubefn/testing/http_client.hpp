#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace kubefn::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A blocking HTTP/1.1 client connection to 127.0.0.1 that sends exactly the bytes a test
// gives it, so tests can speak malformed, chunked, pipelined or slow HTTP.
class HttpConnection {
 public:
  explicit HttpConnection(std::uint16_t port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // Reads one response (Content-Length or until close); nullopt on timeout or close first.
  std::optional<HttpReply> read_reply(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once the bytes received so far contain `text` (they stay unread).
  bool received(const std::string& text,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Every byte not read yet, up to the server closing the connection; nullopt when it does not
  // close within the timeout. For checking the exact framing of responses.
  std::optional<std::string> read_until_closed(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True when the server closes the connection (EOF or reset) within the timeout.
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// One request on a fresh connection.
std::optional<HttpReply> http_request(std::uint16_t port, const std::string& method,
                                      const std::string& target, const std::string& body = {},
                                      const std::map<std::string, std::string>& headers = {},
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

std::string build_request(const std::string& method, const std::string& target,
                          const std::string& body,
                          const std::map<std::string, std::string>& headers);

}  // namespace kubefn::testing
