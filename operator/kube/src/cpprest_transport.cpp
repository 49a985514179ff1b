// Boost 1.74's asio needs <utility> first under C++20 (the build also force-includes it).
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <cpprest/streams.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <exception>
#include <utility>

#include "http_transport.hpp"

namespace kubefn::kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

Status network_error(const std::string& server, const std::string& what) {
  return Status(StatusCode::kNetworkError, "cannot reach " + server + ": " + what);
}

// Installs CA, client certificate and key into every TLS context the client creates.
std::function<void(boost::asio::ssl::context&)> tls_setup(const ClientConfig& config) {
  return [ca = config.ca_pem, cert = config.client_certificate_pem,
          key = config.client_key_pem](boost::asio::ssl::context& context) {
    if (!ca.empty()) context.add_certificate_authority(boost::asio::buffer(ca.data(), ca.size()));
    if (!cert.empty()) {
      context.use_certificate_chain(boost::asio::buffer(cert.data(), cert.size()));
      context.use_private_key(boost::asio::buffer(key.data(), key.size()),
                              boost::asio::ssl::context::pem);
    }
  };
}

// Bad PEM would otherwise surface as an exception inside a connection attempt.
Status check_tls_material(const ClientConfig& config) {
  try {
    boost::asio::ssl::context context(boost::asio::ssl::context::tls_client);
    tls_setup(config)(context);
    return {};
  } catch (const std::exception& error) {
    return Status(StatusCode::kInvalidConfig,
                  std::string("bad TLS certificate, key or CA data: ") + error.what());
  }
}

std::optional<std::chrono::seconds> retry_after_of(const http::http_response& response) {
  const auto& headers = response.headers();
  const auto found = headers.find("Retry-After");
  if (found == headers.end()) return std::nullopt;
  try {
    const long seconds = std::stol(found->second);
    if (seconds >= 0) return std::chrono::seconds(seconds);
  } catch (const std::exception&) {
    // An HTTP-date Retry-After is treated as absent; the caller falls back to backoff.
  }
  return std::nullopt;
}

class CpprestLineReader final : public HttpLineReader {
 public:
  CpprestLineReader(std::unique_ptr<client::http_client> http_client,
                    const pplx::cancellation_token_source& cancel,
                    const concurrency::streams::istream& body, std::string server)
      : client_(std::move(http_client)), cancel_(cancel), body_(body), server_(std::move(server)) {}

  ~CpprestLineReader() override {
    cancel();
    try {
      body_.close().wait();
    } catch (const std::exception&) {
      // Closing an aborted stream can fail; there is nothing left to release.
    }
  }

  Result<std::optional<std::string>> next_line() override {
    if (cancelled_) return Status(StatusCode::kCancelled, "watch cancelled");
    try {
      // Reads what the stream holds in one call and splits lines here: cpprest's read_line
      // costs several tasks per line and a locked call per character.
      auto buf = body_.streambuf();
      while (true) {
        if (const auto nl = pending_.find('\n', scanned_); nl != std::string::npos) {
          std::string line = pending_.substr(head_, nl - head_);
          head_ = scanned_ = nl + 1;
          if (head_ == pending_.size()) {
            pending_.clear();
            head_ = scanned_ = 0;
          }
          if (!line.empty() && line.back() == '\r') line.pop_back();
          return std::optional<std::string>(std::move(line));
        }
        // Drop the lines already returned before reading more (not per line: a buffer holding
        // many lines would be moved once for each).
        pending_.erase(0, head_);
        head_ = 0;
        scanned_ = pending_.size();
        if (eof_) {
          if (pending_.empty()) return std::optional<std::string>();
          scanned_ = 0;
          return std::optional<std::string>(std::exchange(pending_, std::string()));
        }
        // At most 1 MiB at a time: a stream's idea of what it holds is not trusted blindly.
        const size_t avail = std::min<size_t>(buf.in_avail(), size_t{1} << 20);
        if (avail > 0) {
          const size_t old = pending_.size();
          pending_.resize(old + avail);
          const size_t got =
              buf.getn(reinterpret_cast<uint8_t*>(pending_.data() + old), avail).get();
          pending_.resize(old + got);
        } else {
          // Nothing buffered: wait for one byte (or the end).
          const auto c = buf.bumpc().get();
          if (cancelled_) return Status(StatusCode::kCancelled, "watch cancelled");
          if (c == concurrency::streams::char_traits<uint8_t>::eof()) {
            eof_ = true;
          } else {
            pending_.push_back(static_cast<char>(c));
          }
        }
      }
    } catch (const pplx::task_canceled&) {
      return Status(StatusCode::kCancelled, "watch cancelled");
    } catch (const std::exception& error) {
      if (cancelled_) return Status(StatusCode::kCancelled, "watch cancelled");
      return network_error(server_, error.what());
    }
  }

  void cancel() override {
    cancelled_ = true;
    cancel_.cancel();
  }

 private:
  std::unique_ptr<client::http_client> client_;
  pplx::cancellation_token_source cancel_;
  concurrency::streams::istream body_;
  std::string server_;
  std::atomic<bool> cancelled_{false};
  std::string pending_;  // read; lines before head_ already returned
  size_t head_ = 0;      // start of the next line in pending_
  size_t scanned_ = 0;   // pending_ from head_ up to here holds no newline
  bool eof_ = false;
};

class CpprestTransport final : public HttpTransport {
 public:
  CpprestTransport(const ClientConfig& config, std::chrono::seconds request_timeout,
                   std::string user_agent)
      : config_(config),
        user_agent_(std::move(user_agent)),
        client_(make_client(request_timeout)) {}

  Result<HttpResponse> send(const HttpRequest& request) override {
    try {
      http::http_response response = client_->request(to_cpprest(request)).get();
      HttpResponse out;
      out.status = response.status_code();
      out.retry_after = retry_after_of(response);
      out.body = response.extract_utf8string(/*ignore_content_type=*/true).get();
      return out;
    } catch (const pplx::task_canceled&) {
      return Status(StatusCode::kCancelled, "request cancelled");
    } catch (const std::exception& error) {
      return network_error(config_.server, error.what());
    }
  }

  Result<HttpStream> open_stream(const HttpRequest& request,
                                 std::chrono::seconds read_timeout) override {
    try {
      auto stream_client = make_client(read_timeout);
      pplx::cancellation_token_source cancel;
      http::http_response response =
          stream_client->request(to_cpprest(request), cancel.get_token()).get();
      HttpStream out;
      out.status = response.status_code();
      out.retry_after = retry_after_of(response);
      if (out.status < 200 || out.status >= 300) {
        out.error_body = response.extract_utf8string(true).get();
        return out;
      }
      out.reader = std::make_unique<CpprestLineReader>(std::move(stream_client), cancel,
                                                       response.body(), config_.server);
      return out;
    } catch (const pplx::task_canceled&) {
      return Status(StatusCode::kCancelled, "request cancelled");
    } catch (const std::exception& error) {
      return network_error(config_.server, error.what());
    }
  }

 private:
  std::unique_ptr<client::http_client> make_client(std::chrono::seconds timeout) const {
    client::http_client_config http_config;
    http_config.set_timeout(timeout);
    if (config_.uses_tls()) {
      http_config.set_validate_certificates(!config_.insecure_skip_tls_verify);
      http_config.set_ssl_context_callback(tls_setup(config_));
    }
    return std::make_unique<client::http_client>(web::uri(config_.server), http_config);
  }

  http::http_request to_cpprest(const HttpRequest& request) const {
    http::http_request out{http::method(request.method)};
    out.set_request_uri(web::uri(request.target));
    out.headers().add(http::header_names::accept, "application/json");
    out.headers().add(http::header_names::user_agent, user_agent_);
    // cpprestsdk takes the TLS server name (SNI and certificate check) from the Host header.
    if (config_.uses_tls() && !config_.tls_server_name.empty()) {
      out.headers().add(http::header_names::host, config_.tls_server_name);
    }
    if (!request.bearer_token.empty()) {
      out.headers().add(http::header_names::authorization, "Bearer " + request.bearer_token);
    }
    if (!request.body.empty() || !request.content_type.empty()) {
      out.set_body(request.body, request.content_type.empty() ? std::string("application/json")
                                                              : request.content_type);
    }
    return out;
  }

  const ClientConfig config_;
  const std::string user_agent_;
  std::unique_ptr<client::http_client> client_;
};

}  // namespace

Result<std::unique_ptr<HttpTransport>> make_cpprest_transport(const ClientConfig& config,
                                                              std::chrono::seconds request_timeout,
                                                              const std::string& user_agent) {
  if (Status status = validate_client_config(config); !status.ok()) return status;
  if (config.uses_tls()) {
    if (Status status = check_tls_material(config); !status.ok()) return status;
  }
  try {
    std::unique_ptr<HttpTransport> transport =
        std::make_unique<CpprestTransport>(config, request_timeout, user_agent);
    return transport;
  } catch (const std::exception& error) {
    return Status(StatusCode::kInvalidConfig,
                  "cannot use server address " + config.server + ": " + error.what());
  }
}

}  // namespace kubefn::kube
