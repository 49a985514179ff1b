// The kubefn C++ function SDK: the one header a function includes.
//
//   #include <kubefn/function.hpp>
//
//   std::string greet(const kubefn::Event& event, kubefn::Context& ctx) {
//     ctx.log().info("greeting");
//     return "hello " + std::string(event.query);
//   }
//   KUBEFN_HANDLER(greet);
//
// A handler takes the event and the context and returns a std::string (sent as 200),
// a kubefn::Response (any status, headers and body), or throws (500, counted as a failure).
// Everything an Event points to lives until the handler returns: copy what you keep.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kubefn {

// Bumped whenever a type below changes layout; the runtime refuses a function built
// against another version instead of crashing on it.
inline constexpr std::uint32_t kAbiVersion = 2;
inline constexpr std::string_view kSdkVersion = "0.1.0";

struct Header {
  std::string_view name;  // lower-case
  std::string_view value;
};

// The CloudEvents 1.0 attributes of an event a trigger delivered (binary mode: the ce-*
// headers), all empty for a plain call. A schedule, queue or asynchronous call sends the same
// id on every delivery of one event, so a handler can tell a redelivery from a new event.
struct CloudEvent {
  std::string_view id;
  std::string_view source;       // e.g. nats://ORDERS, kafka://clicks, /schedules/ns/fn/name
  std::string_view type;         // e.g. dev.kubefn.nats.message
  std::string_view specversion;  // "1.0"
  std::string_view time;         // RFC 3339
  std::string_view subject;      // e.g. the NATS subject or the Kafka partition and offset
  bool present() const { return !specversion.empty(); }
};

// One invocation, built from the HTTP request (Kubeless-compatible event fields).
struct Event {
  std::string_view data;          // request body bytes
  std::string_view content_type;  // Content-Type header, empty when absent
  std::string_view method;        // GET, POST, ...
  std::string_view path;          // path without the query, e.g. "/orders/42"
  std::string_view query;         // raw query string without '?', e.g. "a=1&b=2"
  std::span<const Header> headers;

  // Kubeless event fields, from the event-* headers; the runtime fills event_id and
  // event_time when the caller did not send them, and event_type from Content-Type.
  std::string_view event_id;
  std::string_view event_type;
  std::string_view event_time;
  std::string_view event_namespace;
  // From the ce-* headers (a trigger's event); see CloudEvent.
  CloudEvent cloud_event;

  // Raw value of the first `key=value` pair of the query (no percent-decoding), empty when
  // absent.
  std::string_view query_param(std::string_view key) const {
    std::string_view rest = query;
    while (!rest.empty()) {
      const std::size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      if (pair.size() > key.size() && pair.substr(0, key.size()) == key &&
          pair[key.size()] == '=') {
        return pair.substr(key.size() + 1);
      }
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
    return {};
  }

  // Header value by case-insensitive name, empty when absent.
  std::string_view header(std::string_view name) const {
    for (const Header& h : headers) {
      if (h.name.size() != name.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < name.size() && same; ++i) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        same = (c == h.name[i]);
      }
      if (same) return h.value;
    }
    return {};
  }
};

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Structured log lines tagged with the function and the event id.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void write(LogLevel level, std::string_view message) = 0;
  void debug(std::string_view m) { write(LogLevel::kDebug, m); }
  void info(std::string_view m) { write(LogLevel::kInfo, m); }
  void warn(std::string_view m) { write(LogLevel::kWarn, m); }
  void error(std::string_view m) { write(LogLevel::kError, m); }
};

// What the platform tells a handler about itself and this invocation.
class Context {
 public:
  Context(std::string_view function_name, std::string_view runtime,
          std::chrono::milliseconds timeout, std::uint64_t memory_limit_bytes,
          std::chrono::steady_clock::time_point deadline, Logger& logger)
      : function_name_(function_name),
        runtime_(runtime),
        timeout_(timeout),
        memory_limit_bytes_(memory_limit_bytes),
        deadline_(deadline),
        logger_(&logger) {}

  std::string_view function_name() const { return function_name_; }
  std::string_view runtime() const { return runtime_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  // 0 when no limit was given.
  std::uint64_t memory_limit_bytes() const { return memory_limit_bytes_; }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  // Time left before the runtime answers 504 for this invocation; long loops should check it.
  std::chrono::milliseconds remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    return left.count() > 0 ? left : std::chrono::milliseconds(0);
  }
  bool expired() const { return std::chrono::steady_clock::now() >= deadline_; }
  Logger& log() const { return *logger_; }

 private:
  std::string_view function_name_;
  std::string_view runtime_;
  std::chrono::milliseconds timeout_;
  std::uint64_t memory_limit_bytes_;
  std::chrono::steady_clock::time_point deadline_;
  Logger* logger_;
};

// A header name must be a token and a value must hold no control character but a tab
// (RFC 9110 section 5); a response breaking that is not sent: the caller gets 500 and the
// function's log names the header. No body is sent with 204, 304 or to a HEAD.
struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static Response text(std::string body, int status = 200) {
    return Response{status, {{"content-type", "text/plain; charset=utf-8"}}, std::move(body)};
  }
  static Response json(std::string body, int status = 200) {
    return Response{status, {{"content-type", "application/json"}}, std::move(body)};
  }
  Response& with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

using HandlerFn = Response (*)(const Event&, Context&);

// What KUBEFN_HANDLER exports; the runtime finds it with dlsym("kubefn_handler_<name>").
struct HandlerEntry {
  std::uint32_t abi_version;
  const char* name;
  HandlerFn fn;
};

namespace detail {
inline Response to_response(Response r) {
  return r;
}
inline Response to_response(std::string s) {
  return Response::text(std::move(s));
}
inline Response to_response(std::string_view s) {
  return Response::text(std::string(s));
}
inline Response to_response(const char* s) {
  return Response::text(std::string(s));
}
}  // namespace detail

}  // namespace kubefn

#define KUBEFN_HANDLER(fn)                                                             \
  extern "C" __attribute__((visibility("default")))                                    \
  const ::kubefn::HandlerEntry kubefn_handler_##fn;                                    \
  extern "C" __attribute__((visibility("default")))                                    \
  const ::kubefn::HandlerEntry kubefn_handler_##fn = {                                 \
      ::kubefn::kAbiVersion, #fn, [](const ::kubefn::Event& e, ::kubefn::Context& c) { \
        return ::kubefn::detail::to_response(fn(e, c));                                \
      }}
