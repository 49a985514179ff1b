#include "kubefn/cli/invoke.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace kubefn::cli {

using kube::Result;
using kube::Status;
using kube::StatusCode;

std::optional<std::pair<std::string, std::string>> parse_header(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto trim = [](std::string s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string::npos) return std::string();
    const auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
  };
  std::string name = trim(text.substr(0, colon));
  if (name.empty() || name.find_first_of(" \t") != std::string::npos) return std::nullopt;
  return std::make_pair(name, trim(text.substr(colon + 1)));
}

Result<InvokeRequest> build_invoke_request(const InvokeArgs& args) {
  InvokeRequest out;
  if (!args.callback.empty() && !args.async) {
    return Status(StatusCode::kBadRequest, "--callback goes with --async");
  }
  if (!args.call.empty() &&
      (args.async || args.data || args.data_file || !args.method.empty() || !args.path.empty())) {
    return Status(StatusCode::kBadRequest,
                  "--call ID reads a queued call's state: give it alone (no body, -X, --path "
                  "or --async)");
  }
  const int sources = (args.data ? 1 : 0) + (args.data_file ? 1 : 0);
  if (sources > 1) {
    return Status(StatusCode::kBadRequest, "give the body once: -d DATA or --data-file FILE");
  }
  if (args.data) {
    out.body = *args.data;
    out.has_body = true;
  } else if (args.data_file) {
    std::ifstream in(*args.data_file, std::ios::binary);
    if (!in) return Status(StatusCode::kBadRequest, "cannot read --data-file " + *args.data_file);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    out.body = buffer.str();
    out.has_body = true;
  } else if (args.stdin_data && !args.stdin_data->empty()) {
    out.body = *args.stdin_data;
    out.has_body = true;
  }

  out.method = args.method;
  std::transform(out.method.begin(), out.method.end(), out.method.begin(), ::toupper);
  if (out.method.empty()) out.method = out.has_body ? "POST" : "GET";
  if (out.method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
    return Status(StatusCode::kBadRequest, "-X " + args.method + " is not an HTTP method");
  }
  if ((out.method == "GET" || out.method == "HEAD") && out.has_body) {
    return Status(StatusCode::kBadRequest,
                  "-X " + out.method + " cannot carry a body: drop -d/--data-file or use -X POST");
  }

  for (const auto& header : args.headers) {
    auto parsed = parse_header(header);
    if (!parsed) {
      return Status(StatusCode::kBadRequest, "-H '" + header + "' must be 'Name: value'");
    }
    out.headers.push_back(*parsed);
  }
  if (!args.token.empty()) out.headers.emplace_back("Authorization", "Bearer " + args.token);
  if (args.async) {
    // The function's usual route, queued by the gateway: any method, answered 202 at once.
    out.headers.emplace_back("Prefer", "respond-async");
    if (!args.callback.empty()) out.headers.emplace_back("X-Callback-Url", args.callback);
  }

  if (args.gateway.empty()) {
    return Status(StatusCode::kInvalidConfig,
                  "no gateway URL: pass --gateway URL or set KUBEFN_GATEWAY (with `kubefn up` it "
                  "is found by itself)");
  }
  std::string base = args.gateway;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  if (base.find("://") == std::string::npos) base = "http://" + base;
  if (!args.call.empty()) {
    out.method = "GET";
    out.has_body = false;
    out.body.clear();
    out.url = base + "/async/" + args.ns + "/" + args.name + "/calls/" + args.call;
    return out;
  }
  std::string path = args.path;
  if (!path.empty() && path.front() != '/' && path.front() != '?') path = "/" + path;
  out.url = base + "/" + args.ns + "/" + args.name + path;
  return out;
}

std::string invoke_hint(int status, const std::string& ns, const std::string& name) {
  switch (status) {
    case 404:
      return "function " + ns + "/" + name + " not found: kubefn list -n " + ns;
    case 401:
    case 403:
      return "the gateway refused the call: pass a token with --token, or make the function "
             "public (spec.access: public)";
    case 502:
    case 503:
      return "function " + ns + "/" + name + " is not serving: kubefn describe " + name + " -n " +
             ns + " and kubefn logs " + name + " -n " + ns;
    case 501:
      return "the gateway has no call queue for --async: start kubefn up with --async-nats-url "
             "(on a cluster, the chart's async.natsUrl)";
    case 504:
    case 408:
      return "the call timed out: raise spec.timeout or look at kubefn logs " + name + " -n " + ns;
    default:
      return {};
  }
}

}  // namespace kubefn::cli
