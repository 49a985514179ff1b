#include "kubefn/kafka/consumer.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "kubefn/kafka/commit_tracker.hpp"
#include "rdkafka.hpp"

namespace kubefn::kafka {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the module's own wrappers

std::string describe(const std::vector<PartitionOffset>& offsets) {
  std::string out;
  for (const auto& o : offsets) {
    if (!out.empty()) out += ", ";
    out += o.partition.to_string() + "@" + std::to_string(o.offset);
  }
  return out;
}

class KafkaConsumer final : public Consumer {
 public:
  KafkaConsumer(ConsumerEvents* events, StartOffset start) : events_(events), start_(start) {}
  ~KafkaConsumer() override;
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  Status init(const ConsumerConfig& config);

  Status subscribe(const std::vector<std::string>& topics) override;
  Result<std::optional<Message>> poll(std::chrono::milliseconds timeout) override;
  bool done(const TopicPartition& partition, std::int64_t offset) override;
  Status commit() override;
  Status commit_async() override;
  Status pause(const std::vector<TopicPartition>& partitions) override;
  Status resume(const std::vector<TopicPartition>& partitions) override;
  std::vector<TopicPartition> assignment() override;
  std::size_t in_flight(const TopicPartition& partition) override;
  std::size_t in_flight() override;
  Result<std::vector<PartitionLag>> lag(std::chrono::milliseconds timeout) override;
  Status close() override;

 private:
  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void log_cb(const rd_kafka_t* rk, int level, const char* facility, const char* text);
  static void async_commit_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* offsets, void* opaque);

  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  Status commit_now(const std::vector<PartitionOffset>& offsets);
  Status pause_or_resume(const std::vector<TopicPartition>& partitions, bool pause);
  void report(const Status& status) {
    if (events_ != nullptr && !status.ok()) events_->on_error(status);
  }

  ConsumerEvents* const events_;
  const StartOffset start_;
  HandlePtr rk_;
  QueuePtr consumer_queue_;  // where the outcomes of commit_async() wait for poll()
  std::atomic<bool> closed_{false};

  std::mutex mu_;
  CommitTracker tracker_;            // guarded by mu_
  std::vector<std::string> topics_;  // guarded by mu_
};

KafkaConsumer::~KafkaConsumer() {
  if (rk_ != nullptr && !closed_) report(close());
  consumer_queue_.reset();  // before the handle: librdkafka waits for its queues' references
  rk_.reset();
}

Status KafkaConsumer::init(const ConsumerConfig& config) {
  auto properties = consumer_properties(config);
  if (!properties.ok()) return properties.status();
  auto conf = make_conf(*properties);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(conf->get(), this);
  rd_kafka_conf_set_rebalance_cb(conf->get(), &KafkaConsumer::rebalance_cb);
  if (events_ != nullptr) {
    rd_kafka_conf_set_error_cb(conf->get(), &KafkaConsumer::error_cb);
    rd_kafka_conf_set_log_cb(conf->get(), &KafkaConsumer::log_cb);
  }
  auto handle = make_handle(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!handle.ok()) return handle.status();
  rk_ = std::move(handle).value();
  // One queue for messages, rebalances, errors and commit outcomes: all served by poll().
  rd_kafka_poll_set_consumer(rk_.get());
  consumer_queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));
  return {};
}

void KafkaConsumer::rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaConsumer*>(opaque)->on_rebalance(err, partitions);
}

void KafkaConsumer::error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512] = "";
    const auto cause = rd_kafka_fatal_error(rk, fatal, sizeof fatal);
    self->report(status_from(RD_KAFKA_RESP_ERR__FATAL, "Kafka consumer",
                             std::string(rd_kafka_err2name(cause)) + ": " + fatal));
    return;
  }
  self->report(status_from(code, "Kafka consumer", reason));
}

void KafkaConsumer::log_cb(const rd_kafka_t* rk, int level, const char* facility,
                           const char* text) {
  auto* self = static_cast<KafkaConsumer*>(rd_kafka_opaque(rk));
  if (self != nullptr && self->events_ != nullptr) self->events_->on_log(level, facility, text);
}

void KafkaConsumer::async_commit_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  std::vector<PartitionOffset> taken;
  Status status;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    taken = offsets_of(offsets);
    status = first_error(offsets, "commit");
    std::lock_guard lock(self->mu_);
    self->tracker_.committed(taken);
  } else {
    status = status_from(err, "commit " + describe(offsets_of(offsets)));
  }
  if (self->events_ != nullptr) self->events_->on_async_commit(taken, status);
}

void KafkaConsumer::on_rebalance(rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions) {
  const std::vector<TopicPartition> list = partitions_of(partitions);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    {
      std::lock_guard lock(mu_);
      for (const auto& tp : list)
        tracker_.forget(tp);
    }
    report(status_from(rd_kafka_assign(rk_.get(), partitions), "take the assigned partitions"));
    if (events_ != nullptr) events_->on_assigned(list);
    return;
  }
  // Revoked, or an error in the group protocol: give everything up, keeping what is done.
  const bool lost =
      err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk_.get()) != 0;
  if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
    report(status_from(err, "consumer group rebalance"));
  if (!lost) {
    std::vector<PartitionOffset> offsets;
    {
      std::lock_guard lock(mu_);
      offsets = tracker_.committable(list);
    }
    report(commit_now(offsets));
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& tp : list)
      tracker_.forget(tp);
  }
  report(status_from(rd_kafka_assign(rk_.get(), nullptr), "give up the revoked partitions"));
  if (events_ != nullptr) events_->on_revoked(list, lost);
}

Status KafkaConsumer::subscribe(const std::vector<std::string>& topics) {
  if (closed_) return Status(ErrorCode::kClosed, "subscribe: the consumer is closed");
  if (topics.empty()) return Status(ErrorCode::kInvalidArgument, "subscribe: no topics given");
  ListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& t : topics) {
    if (t.empty()) return Status(ErrorCode::kInvalidArgument, "subscribe: an empty topic name");
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (Status s = status_from(rd_kafka_subscribe(rk_.get(), list.get()), "subscribe"); !s.ok())
    return s;
  std::lock_guard lock(mu_);
  topics_ = topics;
  return {};
}

Result<std::optional<Message>> KafkaConsumer::poll(std::chrono::milliseconds timeout) {
  if (closed_) return Status(ErrorCode::kClosed, "poll: the consumer is closed");
  MessagePtr m(rd_kafka_consumer_poll(rk_.get(), static_cast<int>(timeout.count())));
  if (m == nullptr) return std::optional<Message>();
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string what = "consume";
    if (m->rkt != nullptr) what += std::string(" from '") + rd_kafka_topic_name(m->rkt) + "'";
    return status_from(m->err, what, rd_kafka_message_errstr(m.get()));
  }
  Message message = to_message(m.get());
  const TopicPartition tp = message.topic_partition();
  bool went_back = false;
  {
    std::lock_guard lock(mu_);
    if (!tracker_.start(tp, message.offset)) {
      // Not past what was handed out before (an offset reset): start the partition afresh.
      tracker_.forget(tp);
      went_back = true;
      (void)tracker_.start(tp, message.offset);
    }
  }
  if (went_back)
    report(Status(ErrorCode::kBroker, "partition " + tp.to_string() + " went back to offset " +
                                          std::to_string(message.offset) +
                                          " (an offset reset): its messages in flight will not "
                                          "be committed and may be read again"));
  return std::optional<Message>(std::move(message));
}

bool KafkaConsumer::done(const TopicPartition& partition, std::int64_t offset) {
  std::lock_guard lock(mu_);
  return tracker_.finish(partition, offset);
}

Status KafkaConsumer::commit_now(const std::vector<PartitionOffset>& offsets) {
  if (offsets.empty()) return {};
  ListPtr list = to_list(offsets);
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return status_from(err, "commit " + describe(offsets));
  {
    std::lock_guard lock(mu_);
    tracker_.committed(offsets_of(list.get()));
  }
  return first_error(list.get(), "commit");
}

Status KafkaConsumer::commit() {
  if (closed_) return Status(ErrorCode::kClosed, "commit: the consumer is closed");
  std::vector<PartitionOffset> offsets;
  {
    std::lock_guard lock(mu_);
    offsets = tracker_.committable();
  }
  return commit_now(offsets);
}

Status KafkaConsumer::commit_async() {
  if (closed_) return Status(ErrorCode::kClosed, "commit: the consumer is closed");
  std::vector<PartitionOffset> offsets;
  {
    std::lock_guard lock(mu_);
    offsets = tracker_.committable();
  }
  if (offsets.empty()) return {};
  ListPtr list = to_list(offsets);
  return status_from(rd_kafka_commit_queue(rk_.get(), list.get(), consumer_queue_.get(),
                                           &KafkaConsumer::async_commit_cb, this),
                     "commit " + describe(offsets));
}

Status KafkaConsumer::pause_or_resume(const std::vector<TopicPartition>& partitions, bool pause) {
  const char* verb = pause ? "pause" : "resume";
  if (closed_) return Status(ErrorCode::kClosed, std::string(verb) + ": the consumer is closed");
  if (partitions.empty()) return {};
  // librdkafka takes a pause of any partition, assigned or not; a caller asking for one this
  // member does not read has lost track of the assignment.
  const std::vector<TopicPartition> assigned = assignment();
  for (const auto& tp : partitions) {
    if (std::find(assigned.begin(), assigned.end(), tp) == assigned.end())
      return Status(ErrorCode::kInvalidArgument,
                    std::string(verb) + " " + tp.to_string() + ": not assigned to this consumer");
  }
  ListPtr list = to_list(partitions);
  const rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(rk_.get(), list.get())
                                        : rd_kafka_resume_partitions(rk_.get(), list.get());
  if (Status s = status_from(err, verb); !s.ok()) return s;
  return first_error(list.get(), verb);
}

Status KafkaConsumer::pause(const std::vector<TopicPartition>& partitions) {
  return pause_or_resume(partitions, true);
}

Status KafkaConsumer::resume(const std::vector<TopicPartition>& partitions) {
  return pause_or_resume(partitions, false);
}

std::vector<TopicPartition> KafkaConsumer::assignment() {
  if (closed_) return {};
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(rk_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  ListPtr list(raw);
  auto out = partitions_of(list.get());
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t KafkaConsumer::in_flight(const TopicPartition& partition) {
  std::lock_guard lock(mu_);
  return tracker_.in_flight(partition);
}

std::size_t KafkaConsumer::in_flight() {
  std::lock_guard lock(mu_);
  return tracker_.in_flight();
}

Result<std::vector<PartitionLag>> KafkaConsumer::lag(std::chrono::milliseconds timeout) {
  if (closed_) return Status(ErrorCode::kClosed, "lag: the consumer is closed");
  std::vector<std::string> topics;
  {
    std::lock_guard lock(mu_);
    topics = topics_;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto remaining_ms = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<std::int64_t>(1, left.count()));
  };

  std::vector<TopicPartition> partitions;
  for (const auto& topic : topics) {
    TopicPtr handle(rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr));
    const rd_kafka_metadata_t* raw = nullptr;
    const auto err = rd_kafka_metadata(rk_.get(), 0, handle.get(), &raw, remaining_ms());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return status_from(err, "lag: metadata of topic '" + topic + "'");
    MetadataPtr metadata(raw);
    for (int t = 0; t < metadata->topic_cnt; ++t) {
      const auto& mt = metadata->topics[t];
      if (topic != mt.topic) continue;
      if (mt.err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return status_from(mt.err, "lag: metadata of topic '" + topic + "'");
      for (int p = 0; p < mt.partition_cnt; ++p)
        partitions.push_back({topic, mt.partitions[p].id});
    }
  }
  std::sort(partitions.begin(), partitions.end());
  std::vector<PartitionLag> out;
  if (partitions.empty()) return out;

  ListPtr committed = to_list(partitions);
  if (Status s = status_from(rd_kafka_committed(rk_.get(), committed.get(), remaining_ms()),
                             "lag: the group's committed offsets");
      !s.ok())
    return s;
  if (Status s = first_error(committed.get(), "lag: the committed offset of"); !s.ok()) return s;
  // One ListOffsets request per broker for all partitions ("timestamp" -1: the end, -2: the
  // start), not one per partition: each waits behind the connection's fetch long-poll.
  auto offsets_at = [&](std::int64_t where) -> Result<std::vector<PartitionOffset>> {
    std::vector<PartitionOffset> query;
    query.reserve(partitions.size());
    for (const auto& tp : partitions)
      query.push_back({tp, where});
    ListPtr list = to_list(query);
    const std::string what =
        where == RD_KAFKA_OFFSET_END ? "lag: the high watermark of" : "lag: the first offset of";
    if (Status s = status_from(rd_kafka_offsets_for_times(rk_.get(), list.get(), remaining_ms()),
                               what + " " + partitions.front().topic);
        !s.ok())
      return s;
    if (Status s = first_error(list.get(), what); !s.ok()) return s;
    return offsets_of(list.get());
  };
  auto high = offsets_at(RD_KAFKA_OFFSET_END);
  if (!high.ok()) return high.status();
  std::map<TopicPartition, std::int64_t> highs, lows;
  for (const auto& o : *high)
    highs[o.partition] = o.offset;
  bool uncommitted = false;
  for (int i = 0; i < committed->cnt; ++i)
    uncommitted = uncommitted || committed->elems[i].offset < 0;
  if (uncommitted && start_ == StartOffset::kEarliest) {
    auto low = offsets_at(RD_KAFKA_OFFSET_BEGINNING);
    if (!low.ok()) return low.status();
    for (const auto& o : *low)
      lows[o.partition] = o.offset;
  }
  for (int i = 0; i < committed->cnt; ++i) {
    const auto& e = committed->elems[i];
    PartitionLag lag;
    lag.partition = {e.topic, e.partition};
    lag.committed = e.offset >= 0 ? e.offset : -1;
    lag.high_watermark = highs[lag.partition];
    if (lag.committed >= 0)
      lag.lag = std::max<std::int64_t>(0, lag.high_watermark - lag.committed);
    else if (start_ == StartOffset::kEarliest)
      lag.lag = std::max<std::int64_t>(0, lag.high_watermark - lows[lag.partition]);
    out.push_back(std::move(lag));
  }
  std::sort(out.begin(), out.end(),
            [](const PartitionLag& a, const PartitionLag& b) { return a.partition < b.partition; });
  return out;
}

Status KafkaConsumer::close() {
  if (closed_.exchange(true)) return {};
  // Serves the final revocation: what is done is committed there.
  Status status = status_from(rd_kafka_consumer_close(rk_.get()), "close the consumer");
  std::lock_guard lock(mu_);
  tracker_.forget_all();
  return status;
}

}  // namespace

Result<std::unique_ptr<Consumer>> make_consumer(const ConsumerConfig& config,
                                                ConsumerEvents* events) {
  auto consumer = std::make_unique<KafkaConsumer>(events, config.start);
  if (Status s = consumer->init(config); !s.ok()) return s;
  return std::unique_ptr<Consumer>(std::move(consumer));
}

}  // namespace kubefn::kafka
