// Handlers the runtime's end-to-end tests call.
#include <chrono>
#include <kubefn/function.hpp>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

void append_field(std::string& out, const char* name, std::string_view value) {
  if (out.size() > 1) out += ',';
  out += '"';
  out += name;
  out += "\":\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

// ?ms=N: sleeps N milliseconds, ignoring the deadline.
std::string sleepy(const kubefn::Event& event, kubefn::Context&) {
  std::string ms(event.query_param("ms"));
  std::this_thread::sleep_for(std::chrono::milliseconds(ms.empty() ? 0 : std::stoi(ms)));
  return "slept";
}
KUBEFN_HANDLER(sleepy);

std::string boom(const kubefn::Event&, kubefn::Context& ctx) {
  ctx.log().info("about to fail");
  throw std::runtime_error("connection string postgres://admin:hunter2@db");
}
KUBEFN_HANDLER(boom);

// Reports the event and context as JSON.
kubefn::Response describe(const kubefn::Event& e, kubefn::Context& ctx) {
  std::string out = "{";
  append_field(out, "method", e.method);
  append_field(out, "path", e.path);
  append_field(out, "query", e.query);
  append_field(out, "content_type", e.content_type);
  append_field(out, "event_id", e.event_id);
  append_field(out, "event_type", e.event_type);
  append_field(out, "event_time", e.event_time);
  append_field(out, "event_namespace", e.event_namespace);
  append_field(out, "x_test", e.header("X-Test"));
  append_field(out, "function_name", ctx.function_name());
  append_field(out, "runtime", ctx.runtime());
  out += ",\"timeout_ms\":" + std::to_string(ctx.timeout().count());
  out += ",\"memory_limit\":" + std::to_string(ctx.memory_limit_bytes());
  out += ",\"remaining_ms\":" + std::to_string(ctx.remaining().count());
  out += ",\"body_bytes\":" + std::to_string(e.data.size());
  out += "}";
  return kubefn::Response::json(out).with_header("x-handled-by", "describe");
}
KUBEFN_HANDLER(describe);

// ?code=N: answers with that status.
kubefn::Response status(const kubefn::Event& e, kubefn::Context&) {
  return kubefn::Response::text("status", std::stoi(std::string(e.query_param("code"))));
}
KUBEFN_HANDLER(status);

// ?kind=K: answers 200 with one header that is invalid in the way K names.
kubefn::Response bad_header(const kubefn::Event& e, kubefn::Context&) {
  const std::string_view kind = e.query_param("kind");
  kubefn::Response r = kubefn::Response::text("must not be sent");
  if (kind == "crlf") {
    r.with_header("x-injected", "a\r\nset-cookie: session=evil");
  } else if (kind == "nul") {
    r.with_header("x-nul", std::string("a\0b", 3));
  } else if (kind == "ctl") {
    r.with_header("x-control", "a\x01");
  } else if (kind == "empty") {
    r.with_header("", "no name");
  } else if (kind == "space") {
    r.with_header("x spaced", "v");
  } else if (kind == "token") {
    r.with_header("x@at", "v");
  }
  return r;
}
KUBEFN_HANDLER(bad_header);

// ?ms=N: sleeps N milliseconds and claims, falsely, to have run for a nanosecond (the runtime
// owns the execution header: a handler cannot lower its bill).
kubefn::Response forged_bill(const kubefn::Event& event, kubefn::Context&) {
  std::string ms(event.query_param("ms"));
  std::this_thread::sleep_for(std::chrono::milliseconds(ms.empty() ? 0 : std::stoi(ms)));
  return kubefn::Response::text("forged").with_header("kubefn-execution-ns", "1");
}
KUBEFN_HANDLER(forged_bill);
