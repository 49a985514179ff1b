// Raw HTTP requests to a Kubernetes API server through the curl program: exactly the method,
// path, headers and body bytes a test gives (duplicate JSON keys, YAML, odd media types), over
// HTTPS with a client certificate to the real kube-apiserver or plain HTTP to the emulator.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kubefn::testing {

// Where requests go: a base URL and, for HTTPS, the CA and the client certificate and key.
struct RawServer {
  std::string url;  // e.g. https://127.0.0.1:6443, no trailing slash
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

struct RawRequest {
  std::string method;
  std::string target;  // path and query, already URL-encoded
  std::string content_type;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
};

struct RawResponse {
  int status = 0;                                            // 0: no answer (`error` says why)
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names, in order
  std::string body;
  std::string error;

  // Every value of a header, in order (Warning can come several times).
  std::vector<std::string> all(const std::string& lower_name) const;
  std::string header(const std::string& lower_name) const;
};

// Sends one request with curl (HTTP/1.1, no Expect: 100-continue, user agent
// "kubefn-fidelity"); `scratch_dir` holds the body and header files.
RawResponse send_raw(const RawServer& server, const RawRequest& request,
                     const std::string& scratch_dir);

}  // namespace kubefn::testing
