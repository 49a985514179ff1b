#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kubefn::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; the last of repeated ones
  std::vector<std::pair<std::string, std::string>> fields;  // every header field, in order
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  // Every value of a header that may repeat (Warning), in order.
  std::vector<std::string> header_values(const std::string& lower_name) const;
  // The body as JSON; a discarded value when it is not JSON.
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// A blocking HTTP/1.1 client connection to 127.0.0.1 that sends exactly the bytes a test
// gives it, so tests can speak malformed, chunked, pipelined or slow HTTP.
class HttpConnection {
 public:
  explicit HttpConnection(std::uint16_t port);
  // Over TLS, verifying the server's certificate against `ca_pem` (not its name); not
  // connected() when the handshake fails.
  HttpConnection(std::uint16_t port, const std::string& ca_pem);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // Reads one response (Content-Length or until close); nullopt on timeout or close first.
  std::optional<HttpReply> read_reply(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads a response's head only: its body is left for read_some, for a body that streams.
  std::optional<HttpReply> read_head(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Bytes not read yet: those received already, else the next to arrive. Empty when none came
  // within the timeout; nullopt once the server has closed and every byte has been read.
  std::optional<std::string> read_some(std::chrono::milliseconds timeout);
  // True once the bytes received so far contain `text` (they stay unread).
  bool received(const std::string& text,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Every byte not read yet, up to the server closing the connection; nullopt when it does not
  // close within the timeout. For checking the exact framing of responses.
  std::optional<std::string> read_until_closed(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True when the server closes the connection (EOF or reset) within the timeout.
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Shuts the socket down; safe from another thread, where a blocked read then returns.
  void shutdown();

 private:
  struct Tls;
  bool fill(std::chrono::steady_clock::time_point deadline);
  // Waits for a whole response head, dropping interim 100 (Continue) ones: the head, and where
  // its body starts in buf_ (nothing is taken from it).
  std::optional<std::pair<HttpReply, std::size_t>> buffered_head(
      std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::unique_ptr<Tls> tls_;
  std::string buf_;
  bool eof_ = false;
};

// One request on a fresh connection.
std::optional<HttpReply> http_request(std::uint16_t port, const std::string& method,
                                      const std::string& target, const std::string& body = {},
                                      const std::map<std::string, std::string>& headers = {},
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The status of a GET of `target` on a fresh connection; 0 when no reply came.
int http_status(std::uint16_t port, const std::string& target,
                const std::map<std::string, std::string>& headers = {});

std::string build_request(const std::string& method, const std::string& target,
                          const std::string& body,
                          const std::map<std::string, std::string>& headers);

// What HttpClient sends besides the method, target and body.
struct RequestOptions {
  std::string content_type = "application/json";  // sent with a body only
  std::string accept = "application/json";
  std::string token;               // Authorization: Bearer, when set
  std::string host = "127.0.0.1";  // the Host header
};

// Well-formed requests with JSON bodies to a server on 127.0.0.1, plain or TLS, one
// connection each. A request that gets no reply comes back with status 0 and the reason as
// its body.
class HttpClient {
 public:
  // `ca_pem` non-empty selects TLS, verifying the server against it.
  explicit HttpClient(std::uint16_t port, std::string ca_pem = "");
  HttpReply request(const std::string& method, const std::string& target,
                    const std::string& body = "", const RequestOptions& options = {}) const;
  HttpReply get(const std::string& target) const { return request("GET", target); }
  HttpReply post(const std::string& target, const nlohmann::json& body) const {
    return request("POST", target, body.dump());
  }
  HttpReply put(const std::string& target, const nlohmann::json& body) const {
    return request("PUT", target, body.dump());
  }
  HttpReply patch(const std::string& target, const nlohmann::json& body,
                  const std::string& content_type = "application/merge-patch+json") const {
    return request("PATCH", target, body.dump(),
                   RequestOptions{content_type, "application/json", ""});
  }
  HttpReply del(const std::string& target, const nlohmann::json& body = nullptr) const {
    return request("DELETE", target, body.is_null() ? "" : body.dump());
  }

 private:
  std::uint16_t port_;
  std::string ca_pem_;
};

// GETs `target` (a watch URL) and queues every line of the body it streams, parsed as JSON
// (a discarded value when a line is not), on a thread of its own.
class WatchReader {
 public:
  // Returns once the response's head has arrived (10 s at most).
  WatchReader(std::uint16_t port, const std::string& target,
              const std::string& accept = "application/json");
  ~WatchReader();
  WatchReader(const WatchReader&) = delete;
  WatchReader& operator=(const WatchReader&) = delete;

  // The next event, or nullopt when the deadline passes or the stream has ended.
  std::optional<nlohmann::json> next(std::chrono::milliseconds within = std::chrono::seconds(5));
  // True once the server has ended the stream (waits up to `within`).
  bool ended(std::chrono::milliseconds within = std::chrono::seconds(5));
  // The response's status; 0 when none came.
  int status() const {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  void run(const std::string& target, const std::string& accept);

  HttpConnection connection_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<nlohmann::json> events_;
  bool ended_ = false;
  bool opened_ = false;
  int status_ = 0;
  std::thread thread_;
};

}  // namespace kubefn::testing
