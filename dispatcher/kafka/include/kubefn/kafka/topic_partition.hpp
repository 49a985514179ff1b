// A partition of a topic, and a partition with an offset: the keys of assignments, pauses,
// commits and lag.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace kubefn::kafka {

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;

  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
  // "orders[2]", as librdkafka writes it in its logs.
  std::string to_string() const;
};

// An offset of a partition in Kafka's sense for commits: the offset of the next message to
// read, one past the last one done.
struct PartitionOffset {
  TopicPartition partition;
  std::int64_t offset = 0;

  friend auto operator<=>(const PartitionOffset&, const PartitionOffset&) = default;
};

}  // namespace kubefn::kafka
