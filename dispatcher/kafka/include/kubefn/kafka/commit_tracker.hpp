// The commit rule, as a pure class: an offset is committed only once every message before it in
// its partition is done. Messages of a partition start in offset order (the order they are
// polled) but may finish in any order when more than one is in flight; the committable offset of
// a partition is one past the longest run of done messages from the oldest one started, so it
// never passes a message still being processed. Offsets need not be contiguous (compaction and
// transaction markers leave gaps): only started messages count. Not thread-safe: the Consumer
// guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "kubefn/kafka/topic_partition.hpp"

namespace kubefn::kafka {

class CommitTracker {
 public:
  // The message at `offset` was handed out. false, and nothing recorded, when the offset is not
  // past every offset already started in that partition (forget() it first after a seek).
  [[nodiscard]] bool start(const TopicPartition& partition, std::int64_t offset);
  // The message is done (delivered or dead-lettered). false when it was not in flight: never
  // started, done already, or its partition forgotten since (revoked).
  [[nodiscard]] bool finish(const TopicPartition& partition, std::int64_t offset);

  // Per partition whose done prefix has moved past what was last committed(): the offset to
  // commit, one past the prefix's last message. Sorted by partition.
  std::vector<PartitionOffset> committable() const;
  // The same for these partitions only.
  std::vector<PartitionOffset> committable(const std::vector<TopicPartition>& partitions) const;
  // These offsets were committed; offsets of partitions not tracked are ignored.
  void committed(const std::vector<PartitionOffset>& offsets);

  // Drops what is known of the partition: its messages in flight will not be committed.
  void forget(const TopicPartition& partition);
  void forget_all();

  // Messages started and not finished.
  std::size_t in_flight(const TopicPartition& partition) const;
  std::size_t in_flight() const;

 private:
  struct Partition {
    std::map<std::int64_t, bool> started;  // offset -> done, the done prefix removed
    std::int64_t last_started = -1;
    std::optional<std::int64_t> done_upto;  // one past the done prefix, once there is one
    std::int64_t committed = -1;
    std::size_t unfinished = 0;
  };
  std::optional<PartitionOffset> committable_of(const TopicPartition& tp, const Partition& p) const;

  std::map<TopicPartition, Partition> partitions_;
};

}  // namespace kubefn::kafka
