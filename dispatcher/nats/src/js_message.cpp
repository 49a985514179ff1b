#include "kubefn/nats/js_message.hpp"

#include <algorithm>
#include <charconv>
#include <thread>
#include <vector>

#include "connection_impl.hpp"

namespace kubefn::nats {
namespace {

std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string_view::npos ? s.npos : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::chrono::system_clock::time_point JsMetadata::timestamp() const {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(timestamp_ns)));
}

Result<JsMetadata> parse_ack_subject(std::string_view reply) {
  const auto bad = [&](std::string_view why) {
    return Status(ErrorCode::kInvalidArgument, "not a JetStream ack subject '" +
                                                   std::string(reply.substr(0, 200)) +
                                                   "': " + std::string(why));
  };
  const auto t = split_dots(reply);
  if (t.size() < 2 || t[0] != "$JS" || t[1] != "ACK") return bad("does not start with $JS.ACK");
  // The old form has no domain and account; the new one has both and may grow more tokens.
  std::size_t first = 0;
  JsMetadata m;
  if (t.size() == 9) {
    first = 2;
  } else if (t.size() >= 11) {
    m.domain = t[2] == "_" ? std::string() : std::string(t[2]);
    m.account_hash = std::string(t[3]);
    first = 4;
  } else {
    return bad("expected 9 or at least 11 tokens, got " + std::to_string(t.size()));
  }
  m.stream = std::string(t[first]);
  m.consumer = std::string(t[first + 1]);
  if (m.stream.empty() || m.consumer.empty()) return bad("empty stream or consumer");
  if (!parse_number(t[first + 2], m.num_delivered) ||
      !parse_number(t[first + 3], m.stream_sequence) ||
      !parse_number(t[first + 4], m.consumer_sequence) ||
      !parse_number(t[first + 5], m.timestamp_ns) || !parse_number(t[first + 6], m.num_pending)) {
    return bad("a counter is not a number");
  }
  return m;
}

JsMessage::JsMessage(Message message, JsMetadata metadata,
                     std::weak_ptr<detail::ConnectionImpl> connection)
    : message_(std::move(message)),
      metadata_(std::move(metadata)),
      connection_(std::move(connection)) {}

Status JsMessage::send(std::string_view body) {
  auto connection = connection_.lock();
  if (!connection) return Status(ErrorCode::kClosed, "connection closed");
  Message m;
  m.subject = message_.reply;
  m.data = std::string(body);
  return connection->publish(m);
}

Status JsMessage::ack() {
  return send("+ACK");
}

Status JsMessage::ack_sync(std::chrono::milliseconds timeout) {
  auto connection = connection_.lock();
  if (!connection) return Status(ErrorCode::kClosed, "connection closed");
  Message m;
  m.subject = message_.reply;
  m.data = "+ACK";
  // An ack cut off by a lost connection (a server restart), or sent before JetStream is back
  // after one, is sent again once the client reconnected, within `timeout`: acks are idempotent
  // and the ack subject names the message in the server's store, so a confirmation then is a
  // message not delivered again (until now its ack wait brought it back: a duplicate).
  const auto deadline = detail::Clock::now() + timeout;
  const auto remaining = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - detail::Clock::now());
  };
  for (;;) {
    auto answer = connection->request(m, std::max(remaining(), std::chrono::milliseconds(1)));
    if (answer.ok()) return {};
    const ErrorCode code = answer.status().code();
    bool again = false;
    if (code == ErrorCode::kDisconnected || code == ErrorCode::kConnectionLost) {
      again = remaining().count() > 0 && connection->wait_connected(remaining());
    } else if (code == ErrorCode::kNoResponders && remaining() > std::chrono::milliseconds(100)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // JetStream is starting
      again = true;
    }
    if (!again) {
      return Status(code, "ack of " + metadata_.stream + " sequence " +
                              std::to_string(metadata_.stream_sequence) +
                              " not confirmed: " + answer.status().message());
    }
  }
}

Status JsMessage::nak(std::chrono::nanoseconds delay) {
  if (delay.count() <= 0) return send("-NAK");
  return send("-NAK {\"delay\":" + std::to_string(delay.count()) + "}");
}

Status JsMessage::term() {
  return send("+TERM");
}

Status JsMessage::in_progress() {
  return send("+WPI");
}

}  // namespace kubefn::nats
