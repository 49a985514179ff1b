#include "nats_runner.hpp"

#include <random>

#include "kubefn/async/call.hpp"
#include "kubefn/delivery/backoff.hpp"

namespace kubefn::dispatch {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kDeadLetterStream = async::kDeadLetterStream;
constexpr auto kAckWait = 30s;
constexpr auto kHeartbeat = 10s;

// A double ack, tried again while the server is away (a restart: each try waits for the client
// to reconnect) until the ack wait has passed, when the server delivers the message again anyway.
nats::Status acknowledge(nats::JsMessage& m, Stopper& stopper) {
  const auto give_up = std::chrono::steady_clock::now() + kAckWait;
  nats::Status s = m.ack_sync(5s);
  while (!s.ok() && !stopper.stopped() && std::chrono::steady_clock::now() < give_up &&
         (s.code() == nats::ErrorCode::kDisconnected ||
          s.code() == nats::ErrorCode::kConnectionLost || s.code() == nats::ErrorCode::kTimeout ||
          s.code() == nats::ErrorCode::kNoResponders)) {
    s = m.ack_sync(5s);
  }
  return s;
}

}  // namespace

NatsRunner::NatsRunner(Context& ctx, FunctionInfo fn, triggers::NatsTrigger trigger,
                       NatsCredentials credentials, NatsHandling handling)
    : ctx_(ctx),
      fn_(std::move(fn)),
      trigger_(std::move(trigger)),
      credentials_(std::move(credentials)),
      handling_(std::move(handling)),
      stopper_(ctx.clock) {
  loop_ = std::thread([this] { loop(); });
}

NatsRunner::~NatsRunner() {
  stopper_.stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  for (auto& w : workers_)
    w.join();
  // Fetched and not delivered: not acknowledged, so the server delivers them again (to the
  // next dispatcher) after the ack wait.
  queue_.clear();
  if (connection_) connection_->close();
}

int NatsRunner::workers() const {
  const int cap = trigger_.max_in_flight > 0 ? trigger_.max_in_flight : fn_.gate->capacity();
  return std::clamp(cap, 1, 64);
}

void NatsRunner::fail(const std::string& error) {
  if (error == last_error_) return;
  last_error_ = error;
  log_trigger(ctx_, "error", "NATS trigger cannot consume", fn_.ns, fn_.name, trigger_.name, error);
}

bool NatsRunner::prepare(nats::JetStream& js, std::string& error) {
  if (handling_.prepare) {
    if (nats::Status s = handling_.prepare(*connection_); !s.ok()) {
      error = s.message();
      return false;
    }
  }
  nats::ConsumerConfig c;
  c.durable_name = trigger_.consumer;
  c.description = "kubefn trigger " + fn_.ns + "/" + fn_.name + "/" + trigger_.name;
  c.filter_subject = trigger_.subject;
  c.ack_policy = nats::AckPolicy::kExplicit;
  // Short, so a message a stopped dispatcher held comes back soon; while one is being
  // delivered the runner tells the server so every 10 s (in_progress), however long the call.
  c.ack_wait = std::chrono::duration_cast<std::chrono::nanoseconds>(kAckWait);
  c.max_deliver = -1;  // the dispatcher counts retries and dead-letters
  c.max_ack_pending = std::max(1000, 4 * workers());
  auto made = js.create_or_update_consumer(trigger_.stream, c);
  if (!made.ok()) {
    error = "consumer " + trigger_.consumer + " on stream " + trigger_.stream + ": " +
            made.status().message();
    return false;
  }
  if (trigger_.dead_letter_subject.rfind("kubefn.deadletter.", 0) == 0) {
    // The default dead-letter subjects have a stream of their own, made here (kept 14 days).
    const nats::StreamConfig s = async::dead_letter_stream_config();
    auto info = js.stream_info(kDeadLetterStream);
    if (!info.ok()) {
      auto dl = js.create_or_update_stream(s);
      if (!dl.ok()) {
        error =
            "dead-letter stream " + std::string(kDeadLetterStream) + ": " + dl.status().message();
        return false;
      }
    }
  }
  return true;
}

void NatsRunner::report_pending(nats::JetStream& js) {
  auto info = js.consumer_info(trigger_.stream, trigger_.consumer);
  if (!info.ok()) return;
  const double pending = static_cast<double>(info.value().backlog());
  ctx_.metrics.pending
      .Add({{"namespace", fn_.ns}, {"function", fn_.name}, {"trigger", trigger_.name}})
      .Set(pending);
  ctx_.backlog.set(fn_.ns, fn_.name, trigger_.name, pending, ctx_.clock.now());
}

void NatsRunner::loop() {
  int attempt = 0;
  while (!stopper_.stopped()) {
    if (!connection_ || connection_->state() == nats::ConnectionState::kClosed) {
      nats::Options o;
      o.url = credentials_.url;
      o.user = credentials_.user;
      o.password = credentials_.password;
      o.token = credentials_.token;
      o.name = "kubefn-dispatcher " + fn_.ns + "/" + fn_.name + "/" + trigger_.name;
      auto c = nats::Connection::connect(o);
      if (!c.ok()) {
        fail("cannot connect to " + credentials_.url + ": " + c.status().message());
        if (!stopper_.wait(delivery::backoff_delay({1s, 30s}, ++attempt, 0.5))) return;
        continue;
      }
      connection_.emplace(std::move(c).value());
      js_.emplace(*connection_);
    }
    std::string error;
    if (!prepare(*js_, error)) {
      fail(error);
      if (connection_->state() == nats::ConnectionState::kDisconnected) {
        // The server is away (a restart) and the client reconnects by itself: prepare again as
        // soon as it is back, not after a backoff grown all the while it was away.
        while (connection_->state() == nats::ConnectionState::kDisconnected) {
          if (!stopper_.wait(200ms)) return;
        }
        continue;
      }
      if (!stopper_.wait(delivery::backoff_delay({1s, 30s}, ++attempt, 0.5))) return;
      continue;
    }
    attempt = 0;
    last_error_.clear();
    auto last_report = ctx_.clock.now() - 10s;
    auto last_beat = ctx_.clock.now();
    while (!stopper_.stopped()) {
      if (ctx_.clock.now() - last_report >= 2s) {  // the autoscaler scales on it
        report_pending(*js_);
        last_report = ctx_.clock.now();
      }
      if (ctx_.clock.now() - last_beat >= kHeartbeat) {
        std::lock_guard<std::mutex> lock(mu_);
        for (nats::JsMessage* m : held_)
          (void)m->in_progress();
        last_beat = ctx_.clock.now();
      }
      int room;
      {
        std::unique_lock<std::mutex> lock(mu_);
        // Pull only what idle workers can take now: the rest stays in the stream.
        cv_.wait_for(lock, 1s, [&] {
          return stopping_ || static_cast<int>(queue_.size()) + busy_ < workers();
        });
        if (stopping_) return;
        room = workers() - static_cast<int>(queue_.size()) - busy_;
      }
      if (room <= 0) continue;
      auto got =
          js_->fetch_each(trigger_.stream, trigger_.consumer, room, 1s, [&](nats::JsMessage&& m) {
            bool more_workers = false;
            {
              std::lock_guard<std::mutex> lock(mu_);
              queue_.push_back(std::move(m));
              // Workers start as the queue needs them (a quiet trigger keeps one thread, not
              // its function's whole capacity), up to workers().
              more_workers =
                  static_cast<int>(queue_.size()) + busy_ > static_cast<int>(workers_.size()) &&
                  static_cast<int>(workers_.size()) < workers();
            }
            if (more_workers) workers_.emplace_back([this] { work(); });
            cv_.notify_one();
          });
      if (!got.ok()) {
        const auto code = got.status().code();
        if (code == nats::ErrorCode::kTimeout) continue;
        fail("fetch from " + trigger_.stream + "/" + trigger_.consumer + ": " +
             got.status().message());
        if (!stopper_.wait(1s)) return;
        break;  // prepare again: the consumer or the stream may be gone
      }
    }
  }
}

void NatsRunner::work() {
  for (;;) {
    std::optional<nats::JsMessage> m;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      m.emplace(std::move(queue_.front()));
      queue_.pop_front();
      ++busy_;
      held_.insert(&*m);
    }
    if (handling_.handle) {
      handling_.handle(*m, *js_, stopper_);
    } else {
      handle(*m);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_.erase(&*m);
      --busy_;
    }
    cv_.notify_all();
  }
}

void NatsRunner::handle(nats::JsMessage& m) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const nats::JsMetadata& meta = m.metadata();
  delivery::Event ev;
  ev.id = meta.stream + ":" + std::to_string(meta.stream_sequence);
  ev.source = "nats://" + meta.stream;
  ev.type = "dev.kubefn.nats.message";
  ev.subject = m.subject();
  ev.time = meta.timestamp();
  if (auto ct = m.headers().get("Content-Type")) ev.content_type = std::string(*ct);
  ev.body = m.data();
  ev.kubeless_namespace = "nats.triggers.kubefn.dev";
  ev.trigger = trigger_.name;
  const int attempt = static_cast<int>(meta.num_delivered);
  const prometheus::Labels labels{
      {"namespace", fn_.ns}, {"function", fn_.name}, {"trigger", trigger_.name}};
  auto count = [&](prometheus::Family<prometheus::Counter>& f, const char* key, const char* v) {
    prometheus::Labels l = labels;
    l[key] = v;
    f.Add(l).Increment();
  };

  delivery::CallResult r;
  for (;;) {
    while (!fn_.gate->acquire(500ms)) {
      if (stopper_.stopped()) return;  // not acknowledged: delivered again later
      (void)m.in_progress();
    }
    r = ctx_.caller.call(fn_.ns, fn_.name, ev, attempt, fn_.timeout + 5s);
    fn_.gate->release();
    const delivery::Verdict v = delivery::classify(r);
    count(ctx_.metrics.attempts, "verdict", delivery::to_string(v));
    if (v == delivery::Verdict::kDelivered) {
      // A double ack: the message is done only when the server says it took the ack.
      if (nats::Status s = acknowledge(m, stopper_); !s.ok()) {
        log_trigger(ctx_, "warn", "an acknowledgement was not confirmed; the event may come again",
                    fn_.ns, fn_.name, trigger_.name, s.message());
      }
      count(ctx_.metrics.events, "result", "delivered");
      return;
    }
    if (v != delivery::Verdict::kThrottled) break;
    // The function is at capacity: wait and go again, keeping the message (not a retry).
    (void)m.in_progress();
    const auto wait =
        std::min<std::chrono::milliseconds>(r.retry_after.value_or(1s), trigger_.retry.max_backoff);
    if (!stopper_.wait(wait)) return;
  }
  if (attempt <= trigger_.retry.max_retries) {
    // Retried by the server after the backoff: the wait survives this dispatcher.
    const auto delay = delivery::backoff_delay({trigger_.retry.backoff, trigger_.retry.max_backoff},
                                               attempt, unit(rng));
    (void)m.nak(std::chrono::duration_cast<std::chrono::nanoseconds>(delay));
    return;
  }
  // Given up: to the dead-letter subject with what failed, then acknowledged.
  nats::Message dead;
  dead.subject = trigger_.dead_letter_subject;
  dead.data = m.data();
  for (const auto& [k, v] : m.headers().entries())
    dead.headers.add(k, v);
  dead.headers.set("Kubefn-Failure-Status", std::to_string(r.status));
  dead.headers.set("Kubefn-Failure-Reason", r.reason.empty() ? "no answer" : r.reason);
  dead.headers.set("Kubefn-Attempts", std::to_string(attempt));
  dead.headers.set("Kubefn-Function", fn_.ns + "/" + fn_.name);
  dead.headers.set("Kubefn-Trigger", trigger_.name);
  dead.headers.set("Kubefn-Source-Subject", m.subject());
  dead.headers.set("Kubefn-Source-Sequence", std::to_string(meta.stream_sequence));
  dead.headers.set("Ce-Id", ev.id);
  nats::PublishOptions po;
  po.msg_id = "kubefn-dead-" + ev.id + "-" + trigger_.consumer;  // a second try is no copy
  auto put = js_->publish(dead, po);
  if (!put.ok()) {
    // Kept in the source (NAKed) rather than lost: the next delivery tries the dead letter again.
    log_trigger(ctx_, "error", "cannot publish to the dead-letter subject; the event stays queued",
                fn_.ns, fn_.name, trigger_.name,
                trigger_.dead_letter_subject + ": " + put.status().message());
    (void)m.nak(std::chrono::duration_cast<std::chrono::nanoseconds>(trigger_.retry.max_backoff));
    return;
  }
  if (nats::Status s = acknowledge(m, stopper_); !s.ok()) {
    log_trigger(ctx_, "warn", "an acknowledgement was not confirmed; the event may come again",
                fn_.ns, fn_.name, trigger_.name, s.message());
  }
  count(ctx_.metrics.events, "result", "dead_lettered");
  log_trigger(ctx_, "warn", "event dead-lettered", fn_.ns, fn_.name, trigger_.name,
              ev.id + " after " + std::to_string(attempt) + " deliveries: " + r.reason);
}

}  // namespace kubefn::dispatch
