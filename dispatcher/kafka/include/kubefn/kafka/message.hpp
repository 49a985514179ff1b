// What the consumer hands out and what the producer sends.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kubefn/kafka/topic_partition.hpp"

namespace kubefn::kafka {

// A record header. Kafka allows a null value; it reads here as empty.
struct Header {
  std::string key;
  std::string value;

  friend bool operator==(const Header&, const Header&) = default;
};

enum class TimestampType {
  kNone,           // the record has none (old message format)
  kCreateTime,     // set by the producer
  kLogAppendTime,  // set by the broker when it wrote the record (topic setting)
};

// A consumed record. Keys and values are bytes in std::string.
struct Message {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;  // nullopt: a null key (not the same as an empty one)
  std::string value;
  std::vector<Header> headers;                      // in the record's order; keys may repeat
  std::chrono::system_clock::time_point timestamp;  // the epoch when timestamp_type is kNone
  TimestampType timestamp_type = TimestampType::kNone;

  TopicPartition topic_partition() const { return {topic, partition}; }
  // The first header of that key, if any.
  const Header* header(const std::string& key) const;
};

// A record to produce.
struct OutgoingMessage {
  std::string topic;
  std::optional<std::int32_t> partition;  // nullopt: the partitioner picks (by key when set)
  std::optional<std::string> key;
  std::string value;
  std::vector<Header> headers;
};

// Where a produced record was written.
struct DeliveryReport {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::chrono::system_clock::time_point timestamp;
};

}  // namespace kubefn::kafka
