#include "kubefn/nats/jetstream_api.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "kubefn/nats/protocol.hpp"

namespace kubefn::nats {
namespace {

using nlohmann::json;

Status protocol_error(std::string message) {
  return Status(ErrorCode::kProtocol, std::move(message));
}

Result<json> parse_object(std::string_view text, std::string_view what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return protocol_error("JetStream " + std::string(what) +
                          " answer is not a JSON object: " + std::string(text.substr(0, 200)));
  }
  return j;
}

template <typename T>
T field(const json& j, const char* key, T fallback) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->get<bool>() : fallback;
  } else if constexpr (std::is_integral_v<T>) {
    return it->is_number_integer() ? it->get<T>() : fallback;
  } else {
    return it->is_string() ? it->get<std::string>() : fallback;
  }
}

const json& object_field(const json& j, const char* key) {
  static const json kEmpty = json::object();
  const auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

std::chrono::nanoseconds nanos(const json& j, const char* key) {
  return std::chrono::nanoseconds(field<std::int64_t>(j, key, 0));
}

// Each enum with the names the server uses, the first being what an unknown name reads as.
template <typename E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<StorageType, 2> kStorage{
    {{StorageType::kFile, "file"}, {StorageType::kMemory, "memory"}}};
constexpr Names<RetentionPolicy, 3> kRetention{{{RetentionPolicy::kLimits, "limits"},
                                                {RetentionPolicy::kInterest, "interest"},
                                                {RetentionPolicy::kWorkQueue, "workqueue"}}};
constexpr Names<DiscardPolicy, 2> kDiscard{
    {{DiscardPolicy::kOld, "old"}, {DiscardPolicy::kNew, "new"}}};
constexpr Names<AckPolicy, 3> kAck{
    {{AckPolicy::kExplicit, "explicit"}, {AckPolicy::kNone, "none"}, {AckPolicy::kAll, "all"}}};
constexpr Names<DeliverPolicy, 5> kDeliver{{{DeliverPolicy::kAll, "all"},
                                            {DeliverPolicy::kLast, "last"},
                                            {DeliverPolicy::kNew, "new"},
                                            {DeliverPolicy::kByStartSequence, "by_start_sequence"},
                                            {DeliverPolicy::kLastPerSubject, "last_per_subject"}}};

template <typename E, std::size_t N>
std::string name_of(const Names<E, N>& names, E value) {
  for (const auto& [v, name] : names)
    if (v == value) return std::string(name);
  return std::string(names[0].second);
}

template <typename E, std::size_t N>
E value_of(const Names<E, N>& names, const json& j, const char* key) {
  const std::string name = field<std::string>(j, key, "");
  for (const auto& [v, n] : names)
    if (n == name) return v;
  return names[0].first;
}

StreamConfig stream_config_from(const json& j) {
  StreamConfig c;
  c.name = field<std::string>(j, "name", "");
  if (const auto it = j.find("subjects"); it != j.end() && it->is_array()) {
    for (const auto& s : *it)
      if (s.is_string()) c.subjects.push_back(s.get<std::string>());
  }
  c.description = field<std::string>(j, "description", "");
  c.storage = value_of(kStorage, j, "storage");
  c.retention = value_of(kRetention, j, "retention");
  c.discard = value_of(kDiscard, j, "discard");
  c.max_age = nanos(j, "max_age");
  c.duplicate_window = nanos(j, "duplicate_window");
  c.max_msgs = field<std::int64_t>(j, "max_msgs", -1);
  c.max_bytes = field<std::int64_t>(j, "max_bytes", -1);
  c.max_msgs_per_subject = field<std::int64_t>(j, "max_msgs_per_subject", -1);
  c.max_msg_size = field<std::int32_t>(j, "max_msg_size", -1);
  c.num_replicas = field<int>(j, "num_replicas", 1);
  c.allow_direct = field<bool>(j, "allow_direct", false);
  return c;
}

json consumer_config_to(const ConsumerConfig& c) {
  json j = {
      {"durable_name", c.durable_name},
      {"ack_policy", name_of(kAck, c.ack_policy)},
      {"deliver_policy", name_of(kDeliver, c.deliver_policy)},
      {"replay_policy", "instant"},
      {"max_deliver", c.max_deliver},
  };
  if (!c.description.empty()) j["description"] = c.description;
  if (!c.filter_subject.empty()) j["filter_subject"] = c.filter_subject;
  if (c.ack_wait.count() > 0) j["ack_wait"] = c.ack_wait.count();
  if (c.max_ack_pending > 0) j["max_ack_pending"] = c.max_ack_pending;
  if (c.max_waiting > 0) j["max_waiting"] = c.max_waiting;
  if (c.deliver_policy == DeliverPolicy::kByStartSequence) j["opt_start_seq"] = c.opt_start_seq;
  if (!c.backoff.empty()) {
    json backoff = json::array();
    for (const auto d : c.backoff)
      backoff.push_back(d.count());
    j["backoff"] = std::move(backoff);
  }
  return j;
}

ConsumerConfig consumer_config_from(const json& j) {
  ConsumerConfig c;
  c.durable_name = field<std::string>(j, "durable_name", "");
  c.description = field<std::string>(j, "description", "");
  c.filter_subject = field<std::string>(j, "filter_subject", "");
  c.ack_policy = value_of(kAck, j, "ack_policy");
  c.ack_wait = nanos(j, "ack_wait");
  c.max_deliver = field<std::int64_t>(j, "max_deliver", -1);
  c.max_ack_pending = field<std::int64_t>(j, "max_ack_pending", 0);
  c.max_waiting = field<std::int64_t>(j, "max_waiting", 0);
  c.deliver_policy = value_of(kDeliver, j, "deliver_policy");
  c.opt_start_seq = field<std::uint64_t>(j, "opt_start_seq", 0);
  if (const auto it = j.find("backoff"); it != j.end() && it->is_array()) {
    for (const auto& d : *it)
      if (d.is_number_integer()) c.backoff.emplace_back(d.get<std::int64_t>());
  }
  return c;
}

SequenceInfo sequence_from(const json& j) {
  return SequenceInfo{field<std::uint64_t>(j, "consumer_seq", 0),
                      field<std::uint64_t>(j, "stream_seq", 0)};
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Status api_error_from_json(std::string_view text) {
  auto j = parse_object(text, "API");
  if (!j.ok()) return j.status();
  const auto it = j->find("error");
  if (it == j->end() || it->is_null()) return {};
  if (!it->is_object()) return protocol_error("JetStream API error is not an object");
  const int code = field<int>(*it, "code", 0);
  const int err_code = field<int>(*it, "err_code", 0);
  std::string description = field<std::string>(*it, "description", "");
  if (description.empty()) description = "JetStream API error " + std::to_string(code);
  return Status(ErrorCode::kJetStream, std::move(description))
      .set_server_code(code)
      .set_js_err_code(err_code);
}

std::string stream_config_to_json(const StreamConfig& c) {
  json j = {
      {"name", c.name},
      {"subjects", c.subjects},
      {"storage", name_of(kStorage, c.storage)},
      {"retention", name_of(kRetention, c.retention)},
      {"discard", name_of(kDiscard, c.discard)},
      {"max_age", c.max_age.count()},
      {"max_msgs", c.max_msgs},
      {"max_bytes", c.max_bytes},
      {"max_msgs_per_subject", c.max_msgs_per_subject},
      {"max_msg_size", c.max_msg_size},
      {"max_consumers", -1},
      {"num_replicas", c.num_replicas},
      {"allow_direct", c.allow_direct},
  };
  if (!c.description.empty()) j["description"] = c.description;
  if (c.duplicate_window.count() > 0) j["duplicate_window"] = c.duplicate_window.count();
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<StreamInfo> stream_info_from_json(std::string_view text) {
  if (Status st = api_error_from_json(text); !st.ok()) return st;
  auto j = parse_object(text, "stream info");
  if (!j.ok()) return j.status();
  const json& config = object_field(*j, "config");
  if (config.empty()) return protocol_error("JetStream stream info has no config");
  StreamInfo info;
  info.config = stream_config_from(config);
  const json& state = object_field(*j, "state");
  info.state.messages = field<std::uint64_t>(state, "messages", 0);
  info.state.bytes = field<std::uint64_t>(state, "bytes", 0);
  info.state.first_seq = field<std::uint64_t>(state, "first_seq", 0);
  info.state.last_seq = field<std::uint64_t>(state, "last_seq", 0);
  info.state.consumer_count = field<std::int64_t>(state, "consumer_count", 0);
  info.created = field<std::string>(*j, "created", "");
  return info;
}

std::string consumer_create_request_json(std::string_view stream, const ConsumerConfig& config) {
  const json j = {{"stream_name", std::string(stream)}, {"config", consumer_config_to(config)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ConsumerInfo> consumer_info_from_json(std::string_view text) {
  if (Status st = api_error_from_json(text); !st.ok()) return st;
  auto j = parse_object(text, "consumer info");
  if (!j.ok()) return j.status();
  ConsumerInfo info;
  info.stream_name = field<std::string>(*j, "stream_name", "");
  info.name = field<std::string>(*j, "name", "");
  if (info.name.empty()) return protocol_error("JetStream consumer info has no name");
  info.config = consumer_config_from(object_field(*j, "config"));
  info.delivered = sequence_from(object_field(*j, "delivered"));
  info.ack_floor = sequence_from(object_field(*j, "ack_floor"));
  info.num_ack_pending = field<std::int64_t>(*j, "num_ack_pending", 0);
  info.num_redelivered = field<std::int64_t>(*j, "num_redelivered", 0);
  info.num_waiting = field<std::int64_t>(*j, "num_waiting", 0);
  info.num_pending = field<std::uint64_t>(*j, "num_pending", 0);
  return info;
}

Result<PubAck> pub_ack_from_json(std::string_view text) {
  if (Status st = api_error_from_json(text); !st.ok()) return st;
  auto j = parse_object(text, "publish");
  if (!j.ok()) return j.status();
  PubAck ack;
  ack.stream = field<std::string>(*j, "stream", "");
  ack.seq = field<std::uint64_t>(*j, "seq", 0);
  if (ack.stream.empty() || ack.seq == 0)
    return protocol_error("PubAck without stream or seq: " + std::string(text.substr(0, 200)));
  ack.duplicate = field<bool>(*j, "duplicate", false);
  ack.domain = field<std::string>(*j, "domain", "");
  return ack;
}

Result<StoredMessage> stored_message_from_json(std::string_view text) {
  if (Status st = api_error_from_json(text); !st.ok()) return st;
  auto j = parse_object(text, "message get");
  if (!j.ok()) return j.status();
  const json& m = object_field(*j, "message");
  if (m.empty()) return protocol_error("JetStream message get answer has no message");
  StoredMessage out;
  out.subject = field<std::string>(m, "subject", "");
  out.seq = field<std::uint64_t>(m, "seq", 0);
  out.time = field<std::string>(m, "time", "");
  auto data = base64_decode(field<std::string>(m, "data", ""));
  if (!data.ok()) return data.status();
  out.data = std::move(*data);
  const std::string hdrs = field<std::string>(m, "hdrs", "");
  if (!hdrs.empty()) {
    auto block = base64_decode(hdrs);
    if (!block.ok()) return block.status();
    auto parsed = parse_header_block(*block);
    if (!parsed.ok()) return parsed.status();
    out.headers = std::move(parsed->headers);
  }
  return out;
}

std::string pull_request_json(int batch, std::chrono::nanoseconds expires) {
  const json j = {{"batch", batch}, {"expires", expires.count()}};
  return j.dump();
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return protocol_error("base64 length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<std::size_t>(k)];
      const bool last_quad = i + 4 == text.size();
      if (c == '=' && last_quad && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return protocol_error("base64 data after padding");
      v[k] = base64_value(c);
      if (v[k] < 0) return protocol_error("bad base64 character");
    }
    const std::uint32_t n =
        (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
        (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

Status validate_api_name(std::string_view what, std::string_view name) {
  const bool bad_char = std::any_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '.' || c == '*' || c == '>' || c == '/' || c == '\\';
  });
  if (name.empty() || bad_char) {
    return Status(ErrorCode::kInvalidArgument,
                  "bad " + std::string(what) + " name '" + std::string(name) +
                      "': empty, or holds '.', '*', '>', '/' or whitespace");
  }
  return {};
}

}  // namespace kubefn::nats
