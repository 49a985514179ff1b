#include "kubefn/nats/jetstream.hpp"

#include <nlohmann/json.hpp>
#include <thread>

#include "connection_impl.hpp"

namespace kubefn::nats {
namespace {

using Clock = std::chrono::steady_clock;

// How long past `expires` a fetch waits for the server's own end of the request (408).
constexpr std::chrono::milliseconds kFetchGrace{1000};
constexpr int kStreamNameInUse = 10058;

Status closed() {
  return Status(ErrorCode::kClosed, "connection closed");
}

// Closes a fetch's inbox however the fetch ends (a handler may throw).
class InboxGuard {
 public:
  InboxGuard(detail::ConnectionImpl& connection, std::uint64_t sid)
      : connection_(connection), sid_(sid) {}
  ~InboxGuard() { connection_.close_inbox(sid_); }
  InboxGuard(const InboxGuard&) = delete;
  InboxGuard& operator=(const InboxGuard&) = delete;

 private:
  detail::ConnectionImpl& connection_;
  std::uint64_t sid_;
};

}  // namespace

JetStream::JetStream(const Connection& connection, JetStreamOptions options)
    : connection_(connection.impl_), options_(std::move(options)) {}

Result<std::string> JetStream::api(const std::string& subject_suffix, std::string_view body) {
  if (!connection_) return closed();
  Message m;
  m.subject = options_.api_prefix + "." + subject_suffix;
  m.data = std::string(body);
  auto reply = connection_->request(m, options_.timeout);
  if (!reply.ok()) {
    if (reply.status().code() == ErrorCode::kNoResponders) {
      return Status(ErrorCode::kNoResponders,
                    "JetStream is not enabled (no responders on '" + m.subject + "')")
          .set_server_code(503);
    }
    return reply.status();
  }
  return std::move(reply->data);
}

Result<StreamInfo> JetStream::create_or_update_stream(const StreamConfig& config) {
  if (Status st = validate_api_name("stream", config.name); !st.ok()) return st;
  for (const auto& subject : config.subjects) {
    if (Status st = validate_subject(subject, true); !st.ok()) return st;
  }
  const std::string body = stream_config_to_json(config);
  auto created = api("STREAM.CREATE." + config.name, body);
  if (!created.ok()) return created.status();
  auto info = stream_info_from_json(*created);
  if (info.ok() || info.status().js_err_code() != kStreamNameInUse) return info;
  auto updated = api("STREAM.UPDATE." + config.name, body);
  if (!updated.ok()) return updated.status();
  return stream_info_from_json(*updated);
}

Result<StreamInfo> JetStream::stream_info(std::string_view stream) {
  if (Status st = validate_api_name("stream", stream); !st.ok()) return st;
  auto answer = api("STREAM.INFO." + std::string(stream), "");
  if (!answer.ok()) return answer.status();
  return stream_info_from_json(*answer);
}

Status JetStream::delete_stream(std::string_view stream) {
  if (Status st = validate_api_name("stream", stream); !st.ok()) return st;
  auto answer = api("STREAM.DELETE." + std::string(stream), "");
  if (!answer.ok()) return answer.status();
  return api_error_from_json(*answer);
}

Status JetStream::purge_stream(std::string_view stream) {
  if (Status st = validate_api_name("stream", stream); !st.ok()) return st;
  auto answer = api("STREAM.PURGE." + std::string(stream), "");
  if (!answer.ok()) return answer.status();
  return api_error_from_json(*answer);
}

Result<ConsumerInfo> JetStream::create_or_update_consumer(std::string_view stream,
                                                          const ConsumerConfig& config) {
  if (Status st = validate_api_name("stream", stream); !st.ok()) return st;
  if (Status st = validate_api_name("durable consumer", config.durable_name); !st.ok()) return st;
  if (!config.filter_subject.empty()) {
    if (Status st = validate_subject(config.filter_subject, true); !st.ok()) return st;
  }
  auto answer = api("CONSUMER.DURABLE.CREATE." + std::string(stream) + "." + config.durable_name,
                    consumer_create_request_json(stream, config));
  if (!answer.ok()) return answer.status();
  return consumer_info_from_json(*answer);
}

Result<ConsumerInfo> JetStream::consumer_info(std::string_view stream, std::string_view consumer) {
  if (Status st = validate_api_name("stream", stream); !st.ok()) return st;
  if (Status st = validate_api_name("consumer", consumer); !st.ok()) return st;
  auto answer = api("CONSUMER.INFO." + std::string(stream) + "." + std::string(consumer), "");
  if (!answer.ok()) return answer.status();
  return consumer_info_from_json(*answer);
}

Status JetStream::delete_consumer(std::string_view stream, std::string_view consumer) {
  if (Status st = validate_api_name("stream", stream); !st.ok()) return st;
  if (Status st = validate_api_name("consumer", consumer); !st.ok()) return st;
  auto answer = api("CONSUMER.DELETE." + std::string(stream) + "." + std::string(consumer), "");
  if (!answer.ok()) return answer.status();
  return api_error_from_json(*answer);
}

Result<PubAck> JetStream::publish(std::string_view subject, std::string_view data,
                                  const PublishOptions& options) {
  Message m;
  m.subject = std::string(subject);
  m.data = std::string(data);
  return publish(m, options);
}

Result<PubAck> JetStream::publish(const Message& message, const PublishOptions& options) {
  if (!connection_) return closed();
  Message m = message;
  for (const auto& [name, value] : options.headers.entries())
    m.headers.add(name, value);
  if (!options.msg_id.empty()) m.headers.set(std::string(header::kMsgId), options.msg_id);
  if (!options.expected_stream.empty())
    m.headers.set(std::string(header::kExpectedStream), options.expected_stream);
  const auto timeout = options.timeout.count() > 0 ? options.timeout : options_.timeout;
  auto reply = connection_->request(m, timeout);
  for (int retry = 0; retry < options_.publish_retries && !reply.ok() &&
                      reply.status().code() == ErrorCode::kNoResponders;
       ++retry) {
    std::this_thread::sleep_for(options_.publish_retry_wait);
    reply = connection_->request(m, timeout);
  }
  if (!reply.ok()) {
    if (reply.status().code() == ErrorCode::kNoResponders) {
      return Status(ErrorCode::kNoResponders, "no stream takes '" + m.subject + "'")
          .set_server_code(503);
    }
    return reply.status();
  }
  return pub_ack_from_json(reply->data);
}

Result<int> JetStream::fetch_each(std::string_view stream, std::string_view consumer, int batch,
                                  std::chrono::milliseconds expires,
                                  const std::function<void(JsMessage&&)>& on_message) {
  if (Status st = validate_api_name("stream", stream); !st.ok()) return st;
  if (Status st = validate_api_name("consumer", consumer); !st.ok()) return st;
  if (batch < 1 || expires.count() < 1)
    return Status(ErrorCode::kInvalidArgument, "fetch needs batch >= 1 and expires >= 1 ms");
  if (!connection_) return closed();
  auto inbox = connection_->open_inbox();
  if (!inbox.ok()) return inbox.status();
  InboxGuard guard(*connection_, inbox->sid);
  Message request;
  request.subject = options_.api_prefix + ".CONSUMER.MSG.NEXT." + std::string(stream) + "." +
                    std::string(consumer);
  request.reply = inbox->subject;
  request.data = pull_request_json(batch, expires);
  if (Status st = connection_->publish(request); !st.ok()) return st;
  const auto deadline = Clock::now() + expires + kFetchGrace;
  int count = 0;
  Status end;
  while (count < batch) {
    auto m = inbox->slot->next(deadline);
    if (!m.ok()) {
      if (m.status().code() == ErrorCode::kTimeout) {
        // The server ends every pull request it knows of by `expires`; silence means it never
        // took this one (a consumer that does not exist, a stream without JetStream).
        end = Status(ErrorCode::kTimeout, "no answer to the pull request on " +
                                              std::string(stream) + "." + std::string(consumer) +
                                              " (does the consumer exist?)");
      } else {
        end = m.status();
      }
      break;
    }
    if (m->status == 100) continue;  // an idle heartbeat
    if (m->status == 404 || m->status == 408) break;
    if (m->status == 409) {
      end = Status(ErrorCode::kConflict, "pull request on " + std::string(stream) + "." +
                                             std::string(consumer) + " ended: " + m->description)
                .set_server_code(409);
      break;
    }
    if (m->status == 503) {
      end = Status(ErrorCode::kNoResponders, "JetStream is not enabled").set_server_code(503);
      break;
    }
    if (m->status != 0) {
      end = Status(ErrorCode::kServerError,
                   "pull request answered " + std::to_string(m->status) + " " + m->description)
                .set_server_code(m->status);
      break;
    }
    auto metadata = parse_ack_subject(m->reply);
    if (!metadata.ok()) continue;  // not a JetStream delivery: nothing to ack
    on_message(JsMessage(std::move(*m), std::move(*metadata), connection_));
    ++count;
  }
  if (count == 0 && !end.ok()) return end;
  return count;
}

Result<std::vector<JsMessage>> JetStream::fetch(std::string_view stream, std::string_view consumer,
                                                int batch, std::chrono::milliseconds expires) {
  std::vector<JsMessage> out;
  auto n = fetch_each(stream, consumer, batch, expires,
                      [&](JsMessage&& m) { out.push_back(std::move(m)); });
  if (!n.ok()) return n.status();
  return out;
}

Result<StoredMessage> JetStream::get_last_message(std::string_view stream,
                                                  std::string_view subject) {
  if (Status st = validate_api_name("stream", stream); !st.ok()) return st;
  if (Status st = validate_subject(subject, false); !st.ok()) return st;
  const nlohmann::json body = {{"last_by_subj", std::string(subject)}};
  auto answer = api("STREAM.MSG.GET." + std::string(stream),
                    body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!answer.ok()) return answer.status();
  return stored_message_from_json(*answer);
}

}  // namespace kubefn::nats
