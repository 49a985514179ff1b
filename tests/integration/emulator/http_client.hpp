#pragma once

// A minimal blocking HTTP/1.1 client for the emulator's tests (plain or TLS), plus a watch
// reader that collects streamed events on a background thread.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kubefn::emulator::testing {

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::vector<std::string> warnings;           // every Warning header, in order
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

struct RequestOptions {
  std::string content_type = "application/json";
  std::string accept = "application/json";
  std::string token;
  std::string host = "127.0.0.1";  // the Host header
};

class HttpClient {
 public:
  // `ca_pem` non-empty selects TLS, verifying the server against it.
  explicit HttpClient(uint16_t port, std::string ca_pem = "");
  Response request(const std::string& method, const std::string& target,
                   const std::string& body = "", const RequestOptions& options = {}) const;
  Response get(const std::string& target) const { return request("GET", target); }
  Response post(const std::string& target, const nlohmann::json& body) const {
    return request("POST", target, body.dump());
  }
  Response put(const std::string& target, const nlohmann::json& body) const {
    return request("PUT", target, body.dump());
  }
  Response patch(const std::string& target, const nlohmann::json& body,
                 const std::string& content_type = "application/merge-patch+json") const {
    return request("PATCH", target, body.dump(),
                   RequestOptions{content_type, "application/json", ""});
  }
  Response del(const std::string& target, const nlohmann::json& body = nullptr) const {
    return request("DELETE", target, body.is_null() ? "" : body.dump());
  }

 private:
  uint16_t port_;
  std::string ca_pem_;
};

// Opens `target` (a watch URL) and queues every JSON line it receives.
class WatchReader {
 public:
  WatchReader(uint16_t port, const std::string& target,
              const std::string& accept = "application/json");
  ~WatchReader();
  WatchReader(const WatchReader&) = delete;
  WatchReader& operator=(const WatchReader&) = delete;

  // The next event, or nullopt when the deadline passes or the stream has ended.
  std::optional<nlohmann::json> next(std::chrono::milliseconds within = std::chrono::seconds(5));
  // True once the server has ended the stream (waits up to `within`).
  bool ended(std::chrono::milliseconds within = std::chrono::seconds(5));
  int status() const { return status_; }

 private:
  void run(const std::string& target, const std::string& accept);

  uint16_t port_;
  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<nlohmann::json> events_;
  bool ended_ = false;
  bool opened_ = false;
  int status_ = 0;
  std::thread thread_;
};

}  // namespace kubefn::emulator::testing
