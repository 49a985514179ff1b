// Turning `kubefn invoke` arguments into one HTTP request to the gateway.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kubefn/kube/result.hpp"

namespace kubefn::cli {

struct InvokeArgs {
  std::string gateway;  // base URL
  std::string ns;
  std::string name;
  std::optional<std::string> data;        // -d
  std::optional<std::string> data_file;   // --data-file
  std::optional<std::string> stdin_data;  // stdin when it is not a terminal and was read
  std::string method;                     // -X; empty: POST with data, GET without
  std::vector<std::string> headers;       // -H 'K: V'
  std::string path;                       // --path
  std::string token;                      // --token
  bool async = false;                     // --async: queued (Prefer: respond-async), 202
  std::string callback;                   // --callback URL (with --async): X-Callback-Url
  std::string call;                       // --call ID: the state of a queued call instead
};

struct InvokeRequest {
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool has_body = false;
};

// Reads --data-file itself. Usage mistakes (two data sources, a header without ':', a bad
// method) come back as kBadRequest.
kube::Result<InvokeRequest> build_invoke_request(const InvokeArgs& args);

// "Name: value" into its parts (value trimmed); nullopt when there is no ':' or no name.
std::optional<std::pair<std::string, std::string>> parse_header(const std::string& text);

// What to tell the user after a non-2xx answer, or empty.
std::string invoke_hint(int status, const std::string& ns, const std::string& name);

}  // namespace kubefn::cli
