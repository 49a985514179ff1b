// One Kafka trigger: a member of the trigger's consumer group whose messages are delivered
// through the gateway in order per partition (one in flight per partition unless
// inFlightPerPartition says more), each retried in place with backoff (the partition waits)
// and, after maxRetries, produced to the dead-letter topic with the failure. An offset is
// committed only once every message before it in its partition was delivered or dead-lettered.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "context.hpp"
#include "kubefn/kafka/consumer.hpp"
#include "kubefn/kafka/producer.hpp"

namespace kubefn::dispatch {

class KafkaRunner final : public TriggerRunner, private kafka::ConsumerEvents {
 public:
  KafkaRunner(Context& ctx, FunctionInfo fn, triggers::KafkaTrigger trigger,
              kafka::ClientConfig client);
  ~KafkaRunner() override;

 private:
  struct Partition {
    std::deque<kafka::Message> queued;
    int busy = 0;
    bool paused = false;
  };

  void poll_loop();
  void work();
  void deliver(kafka::Message& m, Stopper& stopper);
  bool dead_letter(const kafka::Message& m, const Delivered& d, Stopper& stopper);
  int workers() const;
  void fail(const std::string& error);
  void on_revoked(const std::vector<kafka::TopicPartition>& partitions, bool lost) override;
  void on_error(const kafka::Status& status) override;
  void on_async_commit(const std::vector<kafka::PartitionOffset>& offsets,
                       const kafka::Status& status) override;

  Context& ctx_;
  const FunctionInfo fn_;
  const triggers::KafkaTrigger trigger_;
  const kafka::ClientConfig client_;
  Stopper stopper_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<kafka::Producer> producer_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<kafka::TopicPartition, Partition> partitions_;  // guarded by mu_
  bool stopping_ = false;
  std::string last_error_;
  std::vector<std::thread> workers_;
  std::thread poller_;
};

}  // namespace kubefn::dispatch
