// cpprestsdk appears only here; its exceptions stop here and become Status values.
#include "kubefn/cli/http.hpp"

#include <cpprest/http_client.h>
#include <cpprest/streams.h>

#include <boost/asio/ssl.hpp>
#include <fstream>
#include <sstream>

namespace kubefn::cli {
namespace {

namespace http = web::http;
namespace client = web::http::client;
using kube::Result;
using kube::Status;
using kube::StatusCode;

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

struct Prepared {
  std::unique_ptr<client::http_client> client;
  http::http_request request;
};

Result<Prepared> prepare(const HttpCall& call) {
  Prepared out;
  try {
    web::uri uri(call.url);
    client::http_client_config config;
    config.set_timeout(call.timeout);
    if (const auto* cred = call.credentials) {
      config.set_validate_certificates(!cred->insecure_skip_tls_verify);
      config.set_ssl_context_callback(
          [ca = cred->ca_pem, cert = cred->client_certificate_pem,
           key = cred->client_key_pem](boost::asio::ssl::context& context) {
            if (!ca.empty()) context.add_certificate_authority(boost::asio::buffer(ca));
            if (!cert.empty()) {
              context.use_certificate_chain(boost::asio::buffer(cert));
              context.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
            }
          });
    }
    // Scheme, host and port make the base; path and query go on the request.
    web::uri_builder base;
    base.set_scheme(uri.scheme()).set_host(uri.host());
    if (uri.port() > 0) base.set_port(uri.port());
    out.client = std::make_unique<client::http_client>(base.to_uri(), config);
    out.request.set_method(call.method);
    std::string target = uri.path();
    if (!uri.query().empty()) target += "?" + uri.query();
    if (!uri.fragment().empty()) target += "#" + uri.fragment();
    out.request.set_request_uri(target.empty() ? "/" : target);
    bool has_content_type = false;
    for (const auto& [name, value] : call.headers) {
      std::string lower = name;
      for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "content-type") has_content_type = true;
      out.request.headers().add(name, value);
    }
    if (const auto* cred = call.credentials) {
      std::string token = cred->token;
      if (token.empty() && !cred->token_file.empty()) token = read_token_file(cred->token_file);
      if (!token.empty()) out.request.headers().add("Authorization", "Bearer " + token);
    }
    out.request.headers().add("User-Agent", "kubefn-cli");
    if (call.has_body) {
      out.request.set_body(call.body, has_content_type ? out.request.headers().content_type()
                                                       : std::string("application/octet-stream"));
    }
  } catch (const std::exception& error) {
    return Status(StatusCode::kInvalidConfig, "bad URL " + call.url + ": " + error.what());
  }
  return out;
}

}  // namespace

Result<HttpResult> http_send(const HttpCall& call) {
  auto prepared = prepare(call);
  if (!prepared.ok()) return prepared.status();
  try {
    http::http_response response = prepared->client->request(prepared->request).get();
    HttpResult out;
    out.status = response.status_code();
    out.reason = response.reason_phrase();
    for (const auto& [name, value] : response.headers())
      out.headers.emplace_back(name, value);
    auto bytes = response.extract_vector().get();
    out.body.assign(bytes.begin(), bytes.end());
    return out;
  } catch (const std::exception& error) {
    return Status(StatusCode::kNetworkError, "cannot reach " + call.url + ": " + error.what());
  }
}

Result<int> http_stream(const HttpCall& call,
                        const std::function<bool(const std::string& chunk)>& on_chunk) {
  auto prepared = prepare(call);
  if (!prepared.ok()) return prepared.status();
  try {
    http::http_response response = prepared->client->request(prepared->request).get();
    const int status = response.status_code();
    if (status < 200 || status > 299) {
      auto bytes = response.extract_vector().get();
      on_chunk(std::string(bytes.begin(), bytes.end()));
      return status;
    }
    auto body = response.body();
    std::string buffer(8192, '\0');
    for (;;) {
      const size_t n =
          body.streambuf().getn(reinterpret_cast<uint8_t*>(buffer.data()), buffer.size()).get();
      if (n == 0) break;
      if (!on_chunk(buffer.substr(0, n))) break;
    }
    return status;
  } catch (const std::exception& error) {
    return Status(StatusCode::kNetworkError, "cannot reach " + call.url + ": " + error.what());
  }
}

}  // namespace kubefn::cli
