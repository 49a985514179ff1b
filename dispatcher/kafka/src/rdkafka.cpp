#include "rdkafka.hpp"

#include <chrono>
#include <cstring>

namespace kubefn::kafka::detail {

Result<ConfPtr> make_conf(const Properties& properties) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK)
      return Status(ErrorCode::kInvalidConfig,
                    "Kafka property \"" + key + "\" is refused by librdkafka: " + err);
  }
  return conf;
}

Result<HandlePtr> make_handle(rd_kafka_type_t type, ConfPtr conf) {
  char err[512] = "";
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) {
    std::string message = std::string("cannot create the Kafka ") +
                          (type == RD_KAFKA_CONSUMER ? "consumer" : "producer") + ": " + err;
    if (std::strstr(err, "ssl") != nullptr || std::strstr(err, "SSL") != nullptr)
      message += "; check the TLS CA (ca.crt), client certificate (tls.crt) and key (tls.key)";
    return Status(ErrorCode::kInvalidConfig, message);
  }
  (void)conf.release();  // rd_kafka_new took it
  return HandlePtr(rk);
}

ErrorCode code_of(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return ErrorCode::kOk;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode::kUnreachable;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return ErrorCode::kTimeout;
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
      return ErrorCode::kAuthentication;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return ErrorCode::kAuthorization;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
      return ErrorCode::kUnknownTopic;
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
      return ErrorCode::kRebalance;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
      return ErrorCode::kMessageTooLarge;
    case RD_KAFKA_RESP_ERR__FATAL:
      return ErrorCode::kFatal;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
      return ErrorCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR__DESTROY:
      return ErrorCode::kClosed;
    default:
      return ErrorCode::kBroker;
  }
}

namespace {

std::string_view hint_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnreachable:
      return "; check that the bootstrap servers are right and the brokers up and reachable";
    case ErrorCode::kTimeout:
      return "; no broker answered in time: check that they are up and reachable";
    case ErrorCode::kAuthentication:
      return "; check the TLS CA and certificates, or the SASL mechanism, username and password";
    case ErrorCode::kAuthorization:
      return "; the broker's ACLs do not allow this user that: grant it there";
    case ErrorCode::kUnknownTopic:
      return "; create the topic or fix its name (brokers may not create topics on first use)";
    case ErrorCode::kRebalance:
      return "; the group is rebalancing: the offsets are committed again after it";
    case ErrorCode::kMessageTooLarge:
      return "; raise the topic's max.message.bytes or send a smaller record";
    case ErrorCode::kFatal:
      return "; this client cannot go on: create a new one";
    default:
      return "";
  }
}

}  // namespace

Status status_from(rd_kafka_resp_err_t err, std::string_view what, std::string_view detail) {
  const ErrorCode code = code_of(err);
  if (code == ErrorCode::kOk) return {};
  std::string message(what);
  message += ": ";
  message += detail.empty() ? std::string_view(rd_kafka_err2str(err)) : detail;
  message += " (";
  message += rd_kafka_err2name(err);
  message += ")";
  message += hint_for(code);
  return Status(code, std::move(message));
}

Status status_from(const rd_kafka_error_t* error, std::string_view what) {
  if (error == nullptr) return {};
  return status_from(rd_kafka_error_code(error), what, rd_kafka_error_string(error));
}

ListPtr to_list(const std::vector<TopicPartition>& partitions) {
  ListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& tp : partitions)
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  return list;
}

ListPtr to_list(const std::vector<PartitionOffset>& offsets) {
  ListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& o : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), o.partition.topic.c_str(), o.partition.partition)
        ->offset = o.offset;
  }
  return list;
}

std::vector<TopicPartition> partitions_of(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  for (int i = 0; i < list->cnt; ++i)
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  return out;
}

std::vector<PartitionOffset> offsets_of(const rd_kafka_topic_partition_list_t* list) {
  std::vector<PartitionOffset> out;
  if (list == nullptr) return out;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    if (e.err == RD_KAFKA_RESP_ERR_NO_ERROR) out.push_back({{e.topic, e.partition}, e.offset});
  }
  return out;
}

Status first_error(const rd_kafka_topic_partition_list_t* list, std::string_view what) {
  if (list == nullptr) return {};
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return status_from(
          e.err, std::string(what) + " " + TopicPartition{e.topic, e.partition}.to_string());
  }
  return {};
}

Message to_message(const rd_kafka_message_t* m) {
  Message out;
  out.topic = rd_kafka_topic_name(m->rkt);
  out.partition = m->partition;
  out.offset = m->offset;
  if (m->key != nullptr) out.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) out.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;  // owned by the message
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      Header h{name, {}};
      if (value != nullptr) h.value.assign(static_cast<const char*>(value), size);
      out.headers.push_back(std::move(h));
    }
  }
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const std::int64_t ms = rd_kafka_message_timestamp(m, &type);
  if (type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ms >= 0) {
    out.timestamp = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
    out.timestamp_type = type == RD_KAFKA_TIMESTAMP_CREATE_TIME ? TimestampType::kCreateTime
                                                                : TimestampType::kLogAppendTime;
  }
  return out;
}

}  // namespace kubefn::kafka::detail
