// kubefn invoke: one call of a Function through the gateway.
#include "kubefn/cli/invoke.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "command.hpp"
#include "kubefn/cli/http.hpp"

namespace kubefn::cli::commands {

using nlohmann::json;

int cmd_invoke(Io& io, const Globals& g, Session& session, const InvokeOptions& o) {
  InvokeArgs args;
  args.name = o.name;
  args.data = o.data;
  args.data_file = o.data_file;
  args.method = o.method;
  args.headers = o.headers;
  args.path = o.path;
  args.token = o.token;
  args.async = o.async;
  args.callback = o.callback;
  args.call = o.call;
  // With a gateway named outright no platform is needed to call it.
  std::string gateway = g.flags.gateway;
  if (gateway.empty()) {
    if (const char* env = std::getenv("KUBEFN_GATEWAY"); env != nullptr) gateway = env;
  }
  std::string ns = g.flags.ns;
  if (gateway.empty()) {
    if (!session.resolve()) return kExitError;
    gateway = session.target().gateway;
    if (ns.empty()) ns = session.ns();
  } else if (ns.empty()) {
    ns = session.resolve(/*quiet=*/true) ? session.ns() : "default";
  }
  args.gateway = gateway;
  args.ns = ns;
  if (!o.data && !o.data_file && o.call.empty() && ::isatty(STDIN_FILENO) == 0) {
    std::ostringstream buffer;
    buffer << io.in.rdbuf();
    args.stdin_data = buffer.str();
  }
  auto request = build_invoke_request(args);
  if (!request.ok()) {
    const bool usage = request.status().code() == kube::StatusCode::kBadRequest;
    return fail(io, request.status().message(), usage ? kExitUsage : kExitError);
  }
  HttpCall call;
  call.method = request->method;
  call.url = request->url;
  call.headers = request->headers;
  call.body = request->body;
  call.has_body = request->has_body;
  call.timeout = std::chrono::seconds(o.timeout_seconds);
  auto reply = http_send(call);
  if (!reply.ok()) {
    return fail(io, reply.status().message() +
                        " (is the gateway running? pass --gateway URL or set KUBEFN_GATEWAY)");
  }
  io.err << "HTTP " << reply->status << " " << reply->reason << "\n";
  if (o.include_headers) {
    for (const auto& [k, v] : reply->headers)
      io.err << k << ": " << v << "\n";
  }
  io.out << reply->body << std::flush;
  if (reply->status == 202 && o.async) {
    const json accepted = json::parse(reply->body, nullptr, false);
    if (accepted.is_object() && accepted.contains("id")) {
      io.err << "\nqueued: kubefn invoke " << o.name << " -n " << ns << " --call "
             << accepted.value("id", "") << "\n";
    }
  }
  if (reply->status < 200 || reply->status > 299) {
    const std::string hint = invoke_hint(reply->status, ns, o.name);
    if (!hint.empty()) io.err << "error: " << hint << "\n";
    return kExitError;
  }
  return kExitOk;
}

}  // namespace kubefn::cli::commands
