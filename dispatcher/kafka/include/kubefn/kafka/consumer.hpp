// A member of a consumer group that hands out messages and commits, per partition, only the
// offsets its CommitTracker allows: at least once. See README.md for the threading model.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kubefn/kafka/client_events.hpp"
#include "kubefn/kafka/config.hpp"
#include "kubefn/kafka/message.hpp"
#include "kubefn/kafka/status.hpp"
#include "kubefn/kafka/topic_partition.hpp"

namespace kubefn::kafka {

// Called on the polling thread, from within poll() or close().
class ConsumerEvents : public ClientEvents {
 public:
  // Partitions this member reads from now on (eager rebalancing: its whole new assignment).
  // They start unpaused.
  virtual void on_assigned(const std::vector<TopicPartition>& partitions) { (void)partitions; }
  // Partitions taken away. What was done in them was committed first, unless `lost` (the group
  // went on without this member: a commit would be refused). Their messages still in flight are
  // forgotten: done() of them returns false, and the new owner reads them again.
  virtual void on_revoked(const std::vector<TopicPartition>& partitions, bool lost) {
    (void)partitions, (void)lost;
  }
  // The outcome of a commit_async(); `offsets` are those the broker took.
  virtual void on_async_commit(const std::vector<PartitionOffset>& offsets, const Status& status) {
    (void)offsets, (void)status;
  }
};

// The group's position in one partition, for the autoscaler.
struct PartitionLag {
  TopicPartition partition;
  std::int64_t committed = -1;      // the group's committed offset; -1: none yet
  std::int64_t high_watermark = 0;  // the offset the next record written will take
  // Records written and not committed: high_watermark - committed, or, with no commit, those
  // the group will read from its start offset (all retained ones for kEarliest, none for kLatest).
  std::int64_t lag = 0;
};

class Consumer {
 public:
  virtual ~Consumer() = default;

  // Joins the group for these topics, replacing any earlier subscription.
  virtual Status subscribe(const std::vector<std::string>& topics) = 0;
  // The next message, or nullopt when none came within `timeout`. Serves rebalances and the
  // outcomes of commit_async() (ConsumerEvents) meanwhile. A message handed out is in flight
  // until done(). An error (an unknown topic, a broker error) is reported and polling goes on.
  virtual Result<std::optional<Message>> poll(std::chrono::milliseconds timeout) = 0;
  // The message is finished (delivered, or sent to the dead-letter topic): its offset may be
  // committed once every earlier message of its partition is done. false when it was not in
  // flight (its partition was revoked meanwhile: the new owner reads it again).
  virtual bool done(const TopicPartition& partition, std::int64_t offset) = 0;
  bool done(const Message& message) { return done(message.topic_partition(), message.offset); }

  // Commits the done prefix of every partition and waits for the broker; nothing new to commit
  // is success. A failed commit is tried again by the next one.
  virtual Status commit() = 0;
  // The same without waiting: the outcome comes to ConsumerEvents::on_async_commit from a later
  // poll().
  virtual Status commit_async() = 0;

  // Stops (and restarts) fetching these assigned partitions: back-pressure. Messages handed out
  // stay in flight; a rebalance unpauses (ConsumerEvents::on_assigned).
  virtual Status pause(const std::vector<TopicPartition>& partitions) = 0;
  virtual Status resume(const std::vector<TopicPartition>& partitions) = 0;

  virtual std::vector<TopicPartition> assignment() = 0;
  // Messages handed out and not done, in one partition or in all.
  virtual std::size_t in_flight(const TopicPartition& partition) = 0;
  virtual std::size_t in_flight() = 0;
  // The group's lag in every partition of the subscribed topics, not only this member's ones,
  // from the brokers (committed offsets, high watermarks). Sorted by partition.
  virtual Result<std::vector<PartitionLag>> lag(std::chrono::milliseconds timeout) = 0;

  // Commits what is done and leaves the group, so that its partitions move to the other members
  // at once rather than after the session timeout. Later calls fail with kClosed. The destructor
  // closes a consumer not closed yet.
  virtual Status close() = 0;
};

// A consumer of the group in `config` (not subscribed yet). kInvalidConfig when librdkafka
// refuses the settings (a TLS certificate or key it cannot read, ...). `events` (optional) must
// outlive the consumer.
Result<std::unique_ptr<Consumer>> make_consumer(const ConsumerConfig& config,
                                                ConsumerEvents* events = nullptr);

}  // namespace kubefn::kafka
