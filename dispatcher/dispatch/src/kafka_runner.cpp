#include "kafka_runner.hpp"

namespace kubefn::dispatch {
namespace {

using namespace std::chrono_literals;

// A partition with this many messages fetched and not yet taken is paused (the rest waits in
// the broker), and resumed when they are down to a quarter. Pausing drops what librdkafka had
// prefetched and resuming fetches again: with small bounds each cycle waited for a fetch every
// dozen records (bench/events: 142 msg/s at 16/4).
constexpr std::size_t kPauseAt = 512;
constexpr std::size_t kResumeAt = 128;

}  // namespace

KafkaRunner::KafkaRunner(Context& ctx, FunctionInfo fn, triggers::KafkaTrigger trigger,
                         kafka::ClientConfig client)
    : ctx_(ctx),
      fn_(std::move(fn)),
      trigger_(std::move(trigger)),
      client_(std::move(client)),
      stopper_(ctx.clock) {
  poller_ = std::thread([this] { poll_loop(); });
}

KafkaRunner::~KafkaRunner() {
  stopper_.stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  for (auto& w : workers_)
    w.join();
  // What is done is committed and the group left at once (the partitions move now, not after the
  // session timeout); what is not done is read again by the next owner.
  if (consumer_) (void)consumer_->close();
  if (producer_) (void)producer_->flush(5s);
}

int KafkaRunner::workers() const {
  const int cap = trigger_.max_in_flight > 0 ? trigger_.max_in_flight : fn_.gate->capacity();
  return std::clamp(cap, 1, 64);
}

void KafkaRunner::fail(const std::string& error) {
  if (error == last_error_) return;
  last_error_ = error;
  log_trigger(ctx_, "error", "Kafka trigger cannot consume", fn_.ns, fn_.name, trigger_.name,
              error);
}

void KafkaRunner::on_error(const kafka::Status& status) {
  fail(status.message());
}

void KafkaRunner::on_async_commit(const std::vector<kafka::PartitionOffset>&,
                                  const kafka::Status& status) {
  // Not lost: the next commit carries the same offsets (or later ones).
  if (!status.ok()) fail("commit: " + status.message());
}

void KafkaRunner::on_revoked(const std::vector<kafka::TopicPartition>& partitions, bool) {
  // Their messages not taken yet are the new owner's now.
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& p : partitions) {
    auto it = partitions_.find(p);
    if (it != partitions_.end()) it->second.queued.clear();
  }
}

void KafkaRunner::poll_loop() {
  int attempt = 0;
  while (!stopper_.stopped()) {
    kafka::ConsumerConfig cc;
    cc.client = client_;
    cc.group_id = trigger_.consumer_group;
    auto made = kafka::make_consumer(cc, this);
    kafka::ProducerConfig pc;
    pc.client = client_;
    auto made_producer = kafka::make_producer(pc, this);
    if (!made.ok() || !made_producer.ok()) {
      fail(!made.ok() ? made.status().message() : made_producer.status().message());
      if (!stopper_.wait(std::min<kube::Clock::Duration>(
              30s, std::chrono::seconds(1 << std::min(++attempt, 5)))))
        return;
      continue;
    }
    consumer_ = std::move(made).value();
    producer_ = std::move(made_producer).value();
    if (kafka::Status s = consumer_->subscribe({trigger_.topic}); !s.ok()) {
      fail("subscribe to " + trigger_.topic + ": " + s.message());
      consumer_.reset();
      producer_.reset();
      if (!stopper_.wait(5s)) return;
      continue;
    }
    break;
  }
  if (stopper_.stopped()) return;
  for (int i = 0; i < workers(); ++i)
    workers_.emplace_back([this] { work(); });

  auto last_commit = ctx_.clock.now();
  auto last_lag = ctx_.clock.now() - 10s;
  while (!stopper_.stopped()) {
    auto polled = consumer_->poll(200ms);
    if (polled.ok() && polled.value()) {
      kafka::Message m = std::move(*polled.value());
      const kafka::TopicPartition tp = m.topic_partition();
      bool pause = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        Partition& p = partitions_[tp];
        p.queued.push_back(std::move(m));
        if (!p.paused && p.queued.size() >= kPauseAt) pause = p.paused = true;
      }
      cv_.notify_all();
      if (pause) (void)consumer_->pause({tp});
    } else if (!polled.ok()) {
      fail(polled.status().message());
    }
    // Partitions drained enough fetch again.
    std::vector<kafka::TopicPartition> resume;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [tp, p] : partitions_) {
        if (p.paused && p.queued.size() <= kResumeAt) {
          p.paused = false;
          resume.push_back(tp);
        }
      }
    }
    if (!resume.empty()) (void)consumer_->resume(resume);
    if (ctx_.clock.now() - last_commit >= 1s) {
      (void)consumer_->commit_async();
      last_commit = ctx_.clock.now();
    }
    if (ctx_.clock.now() - last_lag >= 5s) {
      last_lag = ctx_.clock.now();
      auto lag = consumer_->lag(2s);
      if (lag.ok()) {
        std::int64_t total = 0;
        for (const auto& l : lag.value())
          total += std::max<std::int64_t>(0, l.lag);
        ctx_.metrics.pending
            .Add({{"namespace", fn_.ns}, {"function", fn_.name}, {"trigger", trigger_.name}})
            .Set(static_cast<double>(total));
        ctx_.backlog.set(fn_.ns, fn_.name, trigger_.name, static_cast<double>(total),
                         ctx_.clock.now());
      }
    }
  }
}

void KafkaRunner::work() {
  for (;;) {
    kafka::Message m;
    kafka::TopicPartition tp;
    {
      std::unique_lock<std::mutex> lock(mu_);
      Partition* ready = nullptr;
      cv_.wait(lock, [&] {
        if (stopping_) return true;
        for (auto& [key, p] : partitions_) {
          if (!p.queued.empty() && p.busy < trigger_.in_flight_per_partition) {
            ready = &p;
            tp = key;
            return true;
          }
        }
        return false;
      });
      if (stopping_) return;
      m = std::move(ready->queued.front());
      ready->queued.pop_front();
      ++ready->busy;
    }
    deliver(m, stopper_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --partitions_[tp].busy;
    }
    cv_.notify_all();
  }
}

void KafkaRunner::deliver(kafka::Message& m, Stopper& stopper) {
  delivery::Event ev;
  ev.id = m.topic + ":" + std::to_string(m.partition) + ":" + std::to_string(m.offset);
  ev.source = "kafka://" + m.topic;
  ev.type = "dev.kubefn.kafka.message";
  ev.subject = "partition:" + std::to_string(m.partition) + "#" + std::to_string(m.offset);
  ev.time = m.timestamp;
  if (const kafka::Header* ct = m.header("content-type")) ev.content_type = ct->value;
  ev.body = m.value;
  ev.kubeless_namespace = "kafka.triggers.kubefn.dev";
  ev.trigger = trigger_.name;
  const Delivered d = deliver_with_retries(ctx_, fn_, trigger_.name, ev, trigger_.retry, stopper);
  if (d.stopped) return;  // not done: not committed, read again by the next owner
  const prometheus::Labels labels{{"namespace", fn_.ns},
                                  {"function", fn_.name},
                                  {"trigger", trigger_.name},
                                  {"result", d.ok ? "delivered" : "dead_lettered"}};
  if (!d.ok && !dead_letter(m, d, stopper)) return;  // stopped before it could be sent
  ctx_.metrics.events.Add(labels).Increment();
  (void)consumer_->done(m);
}

bool KafkaRunner::dead_letter(const kafka::Message& m, const Delivered& d, Stopper& stopper) {
  kafka::OutgoingMessage out;
  out.topic = trigger_.dead_letter_topic;
  out.key = m.key;
  out.value = m.value;
  out.headers = m.headers;
  out.headers.push_back({"kubefn-failure-status", std::to_string(d.last.status)});
  out.headers.push_back(
      {"kubefn-failure-reason", d.last.reason.empty() ? "no answer" : d.last.reason});
  out.headers.push_back({"kubefn-attempts", std::to_string(d.attempts)});
  out.headers.push_back({"kubefn-function", fn_.ns + "/" + fn_.name});
  out.headers.push_back({"kubefn-trigger", trigger_.name});
  out.headers.push_back({"kubefn-source", m.topic + ":" + std::to_string(m.partition) + ":" +
                                              std::to_string(m.offset)});
  // The partition waits until its dead letter is written: nothing is committed that is not.
  for (int attempt = 1;; ++attempt) {
    auto r = producer_->produce(out);
    if (r.ok()) {
      log_trigger(ctx_, "warn", "event dead-lettered", fn_.ns, fn_.name, trigger_.name,
                  m.topic + ":" + std::to_string(m.partition) + ":" + std::to_string(m.offset) +
                      " after " + std::to_string(d.attempts) + " deliveries: " + d.last.reason);
      return true;
    }
    log_trigger(ctx_, "error", "cannot produce to the dead-letter topic; the partition waits",
                fn_.ns, fn_.name, trigger_.name,
                trigger_.dead_letter_topic + ": " + r.status().message());
    if (!stopper.wait(std::min<kube::Clock::Duration>(
            30s, std::chrono::seconds(1 << std::min(attempt, 5))))) {
      return false;
    }
  }
}

}  // namespace kubefn::dispatch
