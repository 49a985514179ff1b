#include "kubefn/async/call.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>

namespace kubefn::async {
namespace {

constexpr std::string_view kHeaderId = "Kubefn-Call-Id";
constexpr std::string_view kHeaderNamespace = "Kubefn-Namespace";
constexpr std::string_view kHeaderFunction = "Kubefn-Function";
constexpr std::string_view kHeaderMethod = "Kubefn-Method";
constexpr std::string_view kHeaderTarget = "Kubefn-Target";
constexpr std::string_view kHeaderCallback = "Kubefn-Callback-Url";
constexpr std::string_view kHeaderQueuedAt = "Kubefn-Queued-At";  // unix milliseconds
// A request header for the function: "Kubefn-Header-<name>".
constexpr std::string_view kHeaderPrefix = "Kubefn-Header-";

bool has_prefix_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80) {
      n = 0;
    } else if ((c >> 5) == 0x6) {
      n = 1;
    } else if ((c >> 4) == 0xe) {
      n = 2;
    } else if ((c >> 3) == 0x1e) {
      n = 3;
    } else {
      return false;
    }
    if (n > 0 && i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace

std::string call_subject(std::string_view ns, std::string_view function, std::string_view id) {
  return "kubefn.async.call." + std::string(ns) + "." + std::string(function) + "." +
         std::string(id);
}

std::string call_filter(std::string_view ns, std::string_view function) {
  return "kubefn.async.call." + std::string(ns) + "." + std::string(function) + ".*";
}

std::string state_subject(std::string_view ns, std::string_view function, std::string_view id) {
  return "kubefn.async.state." + std::string(ns) + "." + std::string(function) + "." +
         std::string(id);
}

std::string dead_letter_subject(std::string_view ns, std::string_view function) {
  return "kubefn.deadletter.async." + std::string(ns) + "." + std::string(function);
}

nats::StreamConfig call_stream_config() {
  nats::StreamConfig c;
  c.name = std::string(kCallStream);
  c.subjects = {"kubefn.async.call.>"};
  c.description = "kubefn asynchronous calls waiting to run";
  c.retention = nats::RetentionPolicy::kWorkQueue;
  c.duplicate_window = std::chrono::minutes(10);
  return c;
}

nats::StreamConfig state_stream_config() {
  nats::StreamConfig c;
  c.name = std::string(kStateStream);
  c.subjects = {"kubefn.async.state.>"};
  c.description = "kubefn asynchronous calls: the latest state of each";
  c.max_msgs_per_subject = 1;
  c.max_age = kStateKept;
  c.allow_direct = true;
  return c;
}

nats::StreamConfig dead_letter_stream_config() {
  nats::StreamConfig c;
  c.name = std::string(kDeadLetterStream);
  c.subjects = {"kubefn.deadletter.>"};
  c.description = "kubefn events and calls that failed after their retries";
  c.max_age = std::chrono::hours(24 * 14);
  return c;
}

std::string new_call_id() {
  std::array<unsigned char, 16> bytes{};
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(bytes.data()), bytes.size())) {
    std::random_device rd;  // the system's source too, through another door
    for (auto& b : bytes)
      b = static_cast<unsigned char>(rd());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(32);
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0xf]);
  }
  return id;
}

bool valid_call_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string callback_url_problem(std::string_view url) {
  if (url.size() > 2048) return "the callback URL is longer than 2048 characters";
  if (has_prefix_ci(url, "https://")) {
    return "https callback URLs are not supported yet: give an http:// URL";
  }
  if (!has_prefix_ci(url, "http://")) return "the callback URL must start with http://";
  std::string_view rest = url.substr(7);
  const std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty()) return "the callback URL has no host";
  if (authority.find('@') != std::string_view::npos) {
    return "the callback URL must not carry credentials";
  }
  if (url.find('#') != std::string_view::npos) return "the callback URL must not have a fragment";
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return "the callback URL has a space or control character";
    }
  }
  std::string_view host = authority;
  if (host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return "the callback URL's IPv6 host has no ']'";
    std::string_view after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return "the callback URL's host is malformed";
    host = after.empty() ? std::string_view{} : after.substr(1);
    if (after.empty()) return {};
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(colon + 1);
  } else {
    return {};
  }
  // `host` is now the port.
  if (host.empty() || host.size() > 5) return "the callback URL's port is not a number";
  unsigned port = 0;
  for (char c : host) {
    if (c < '0' || c > '9') return "the callback URL's port is not a number";
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535) return "the callback URL's port is out of range";
  return {};
}

std::string callback_host(std::string_view url) {
  std::string_view rest = url.size() > 7 ? url.substr(7) : std::string_view{};
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return lower(host);
}

bool forwarded_header(std::string_view name) {
  static constexpr std::array<std::string_view, 17> kDropped = {"authorization",
                                                                "cookie",
                                                                "proxy-authorization",
                                                                "host",
                                                                "connection",
                                                                "keep-alive",
                                                                "te",
                                                                "trailer",
                                                                "transfer-encoding",
                                                                "upgrade",
                                                                "content-length",
                                                                "expect",
                                                                "prefer",
                                                                "x-callback-url",
                                                                "proxy-connection",
                                                                "x-forwarded-host",
                                                                "forwarded"};
  for (std::string_view d : kDropped) {
    if (name == d) return false;
  }
  return !(has_prefix_ci(name, "kubefn-") || has_prefix_ci(name, "ce-") ||
           has_prefix_ci(name, "event-"));
}

nats::Message to_message(const Call& call) {
  nats::Message m;
  m.subject = call_subject(call.ns, call.function, call.id);
  m.headers.add(std::string(nats::header::kMsgId), call.id);
  m.headers.add(std::string(kHeaderId), call.id);
  m.headers.add(std::string(kHeaderNamespace), call.ns);
  m.headers.add(std::string(kHeaderFunction), call.function);
  m.headers.add(std::string(kHeaderMethod), call.method);
  m.headers.add(std::string(kHeaderTarget), call.target);
  if (!call.callback_url.empty()) m.headers.add(std::string(kHeaderCallback), call.callback_url);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(call.queued_at.time_since_epoch())
          .count();
  m.headers.add(std::string(kHeaderQueuedAt), std::to_string(ms));
  for (const auto& [name, value] : call.headers)
    m.headers.add(std::string(kHeaderPrefix) + name, value);
  m.data = call.body;
  return m;
}

nats::Result<Call> from_message(const nats::Message& message) {
  Call c;
  auto need = [&](std::string_view name, std::string& out) {
    auto v = message.headers.get(name);
    if (!v || v->empty()) return false;
    out = std::string(*v);
    return true;
  };
  for (auto [name, field] :
       {std::pair{kHeaderId, &c.id}, std::pair{kHeaderNamespace, &c.ns},
        std::pair{kHeaderFunction, &c.function}, std::pair{kHeaderMethod, &c.method},
        std::pair{kHeaderTarget, &c.target}}) {
    if (!need(name, *field)) {
      return nats::Status(nats::ErrorCode::kInvalidArgument,
                          "the queued call has no " + std::string(name) + " header");
    }
  }
  if (!valid_call_id(c.id)) {
    return nats::Status(nats::ErrorCode::kInvalidArgument, "the queued call's id is malformed");
  }
  if (auto v = message.headers.get(kHeaderCallback)) c.callback_url = std::string(*v);
  if (auto v = message.headers.get(kHeaderQueuedAt)) {
    long long ms = 0;
    if (std::sscanf(std::string(*v).c_str(), "%lld", &ms) == 1) {
      c.queued_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
    }
  }
  for (const auto& [name, value] : message.headers.entries()) {
    if (has_prefix_ci(name, kHeaderPrefix)) {
      c.headers.emplace_back(lower(std::string_view(name).substr(kHeaderPrefix.size())), value);
    }
  }
  c.body = message.data;
  return c;
}

std::string_view to_string(State state) {
  switch (state) {
    case State::kQueued:
      return "queued";
    case State::kRunning:
      return "running";
    case State::kSucceeded:
      return "succeeded";
    case State::kFailed:
      return "failed";
  }
  return "unknown";
}

nlohmann::json to_json(const CallState& s) {
  nlohmann::json j{{"id", s.id},
                   {"namespace", s.ns},
                   {"function", s.function},
                   {"state", std::string(to_string(s.state))},
                   {"attempts", s.attempts},
                   {"queuedAt", s.queued_at}};
  if (!s.started_at.empty()) j["startedAt"] = s.started_at;
  if (!s.finished_at.empty()) j["finishedAt"] = s.finished_at;
  if (s.status != 0) j["status"] = s.status;
  if (!s.reason.empty()) j["reason"] = s.reason;
  if (s.state == State::kSucceeded || s.state == State::kFailed) {
    if (!s.content_type.empty()) j["contentType"] = s.content_type;
    if (valid_utf8(s.result)) {
      j["result"] = s.result;
    } else {
      j["resultBase64"] = base64_encode(s.result);
    }
    if (s.result_truncated) j["resultTruncated"] = true;
  }
  if (!s.callback_url.empty()) {
    j["callbackUrl"] = s.callback_url;
    if (!s.callback.empty()) j["callback"] = s.callback;
  }
  return j;
}

nats::Result<CallState> state_from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("id") || !j.contains("state")) {
    return nats::Status(nats::ErrorCode::kProtocol, "not a call state");
  }
  CallState s;
  s.id = j.value("id", "");
  s.ns = j.value("namespace", "");
  s.function = j.value("function", "");
  const std::string state = j.value("state", "");
  if (state == "queued") {
    s.state = State::kQueued;
  } else if (state == "running") {
    s.state = State::kRunning;
  } else if (state == "succeeded") {
    s.state = State::kSucceeded;
  } else if (state == "failed") {
    s.state = State::kFailed;
  } else {
    return nats::Status(nats::ErrorCode::kProtocol, "unknown call state '" + state + "'");
  }
  s.attempts = j.value("attempts", 0);
  s.queued_at = j.value("queuedAt", "");
  s.started_at = j.value("startedAt", "");
  s.finished_at = j.value("finishedAt", "");
  s.status = j.value("status", 0);
  s.reason = j.value("reason", "");
  s.content_type = j.value("contentType", "");
  if (j.contains("resultBase64")) {
    auto decoded = nats::base64_decode(j.value("resultBase64", ""));
    if (!decoded.ok()) return decoded.status();
    s.result = std::move(decoded).value();
  } else {
    s.result = j.value("result", "");
  }
  s.result_truncated = j.value("resultTruncated", false);
  s.callback_url = j.value("callbackUrl", "");
  s.callback = j.value("callback", "");
  return s;
}

std::string base64_encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace kubefn::async
