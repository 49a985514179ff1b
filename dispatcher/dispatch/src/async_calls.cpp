#include "async_calls.hpp"

#include <random>

#include "kubefn/async/call.hpp"
#include "kubefn/async/call_store.hpp"
#include "kubefn/delivery/backoff.hpp"

namespace kubefn::dispatch {
namespace {

using namespace std::chrono_literals;

std::string now_text() {
  return async::CallStore::time_text(std::chrono::system_clock::now());
}

// The state the call had (its start and callback carried on), or a fresh one. A first
// delivery has nothing to carry on (no state is written before it): the read is saved.
async::CallState state_before(async::CallStore& store, const async::Call& call, int attempt) {
  if (attempt > 1) {
    auto before = store.state(call.ns, call.function, call.id);
    if (before.ok()) return std::move(before).value();
  }
  async::CallState s;
  s.id = call.id;
  s.ns = call.ns;
  s.function = call.function;
  s.queued_at = async::CallStore::time_text(call.queued_at);
  s.callback_url = call.callback_url;
  return s;
}

void keep_result(async::CallState& s, const delivery::CallResult& r) {
  s.status = r.status;
  s.content_type = r.content_type;
  s.result_truncated = r.body.size() > async::kMaxStoredResult;
  s.result = s.result_truncated ? r.body.substr(0, async::kMaxStoredResult) : r.body;
}

// POSTs the outcome to the call's callback URL; "delivered" or "failed: <why>".
std::string call_back(const AsyncSettings& settings, const async::Call& call,
                      const async::CallState& s, const delivery::CallResult& r, Stopper& stopper) {
  delivery::HeaderList headers{{"Kubefn-Call-Id", call.id},
                               {"Kubefn-Call-State", std::string(async::to_string(s.state))},
                               {"Kubefn-Function", call.ns + "/" + call.function},
                               {"Kubefn-Call-Status", std::to_string(r.status)},
                               {"Kubefn-Attempts", std::to_string(s.attempts)}};
  if (!r.content_type.empty()) headers.emplace_back("Content-Type", r.content_type);
  if (s.state == async::State::kFailed) {
    headers.emplace_back("Kubefn-Call-Reason", s.reason.empty() ? "no answer" : s.reason);
  }
  std::string why;
  for (int attempt = 1; attempt <= std::max(1, settings.callback_attempts); ++attempt) {
    const delivery::CallResult cb =
        delivery::post_to_url(call.callback_url, headers, r.body, settings.callback_timeout);
    if (cb.status >= 200 && cb.status < 300) return "delivered";
    why = cb.status == 0 ? cb.reason : "HTTP " + std::to_string(cb.status);
    if (attempt < settings.callback_attempts && !stopper.wait(std::chrono::seconds(1 << attempt))) {
      break;
    }
  }
  return "failed: " + why;
}

// The queued call as a dead letter: its headers and body, without the ones JetStream acted on
// when it was queued (its message id, the stream it was expected in).
nats::Message dead_letter_of(const nats::JsMessage& m, const FunctionInfo& fn) {
  nats::Message dead = m.message();
  dead.subject = async::dead_letter_subject(fn.ns, fn.name);
  dead.reply.clear();
  dead.headers.remove(nats::header::kMsgId);
  dead.headers.remove(nats::header::kExpectedStream);
  return dead;
}

}  // namespace

triggers::NatsTrigger async_trigger(const std::string& ns, const std::string& function,
                                    const AsyncSettings& settings) {
  triggers::NatsTrigger t;
  t.name = "async";
  t.url = settings.nats.url;
  t.stream = std::string(async::kCallStream);
  t.subject = async::call_filter(ns, function);
  t.consumer = "kubefn-async-" + ns + "-" + function;
  t.dead_letter_subject = async::dead_letter_subject(ns, function);
  t.retry = settings.retry;
  return t;
}

NatsHandling async_handling(Context& ctx, FunctionInfo fn, AsyncSettings settings) {
  NatsHandling h;
  h.prepare = [](const nats::Connection& c) { return async::CallStore(c).ensure_streams(); };
  h.handle = [&ctx, fn = std::move(fn), settings = std::move(settings)](
                 nats::JsMessage& m, nats::JetStream& js, Stopper& stopper) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const prometheus::Labels labels{
        {"namespace", fn.ns}, {"function", fn.name}, {"trigger", "async"}};
    auto count = [&](prometheus::Family<prometheus::Counter>& f, const char* key, const char* v) {
      prometheus::Labels l = labels;
      l[key] = v;
      f.Add(l).Increment();
    };
    async::CallStore store(js);
    auto parsed = async::from_message(m.message());
    if (!parsed.ok()) {
      // Nothing can run it: kept in the dead-letter stream with why, never retried.
      nats::Message dead = dead_letter_of(m, fn);
      dead.headers.set("Kubefn-Failure-Reason", parsed.status().message());
      if (js.publish(dead).ok()) {
        (void)m.ack_sync(5s);
        count(ctx.metrics.events, "result", "dead_lettered");
      } else {
        (void)m.nak(
            std::chrono::duration_cast<std::chrono::nanoseconds>(settings.retry.max_backoff));
      }
      log_trigger(ctx, "error", "a queued asynchronous call is malformed", fn.ns, fn.name, "async",
                  parsed.status().message());
      return;
    }
    const async::Call& call = parsed.value();
    const int attempt = static_cast<int>(m.metadata().num_delivered);
    async::CallState s = state_before(store, call, attempt);
    if (s.state == async::State::kSucceeded || s.state == async::State::kFailed) {
      // Finished before a restart cut the acknowledgement short: not run again, but a
      // callback that was not made yet is made now.
      if (!call.callback_url.empty() && s.callback.empty()) {
        delivery::CallResult kept{s.status, s.reason, std::nullopt, s.content_type, s.result};
        s.callback = call_back(settings, call, s, kept, stopper);
        (void)store.write_state(s);
      }
      (void)m.ack_sync(5s);
      return;
    }
    s.state = async::State::kRunning;
    s.attempts = attempt;
    if (s.started_at.empty()) s.started_at = now_text();
    (void)store.write_state(s);

    delivery::Request req;
    req.method = call.method;
    req.target = call.target;
    req.headers = call.headers;
    req.headers.emplace_back("Kubefn-Trigger", "async");
    req.headers.emplace_back("Kubefn-Call-Id", call.id);
    req.headers.emplace_back("Kubefn-Delivery-Attempt", std::to_string(attempt));
    req.body = call.body;
    delivery::CallResult r;
    for (;;) {
      while (!fn.gate->acquire(500ms)) {
        if (stopper.stopped()) return;  // not acknowledged: run again later
        (void)m.in_progress();
      }
      r = ctx.caller.send(fn.ns, fn.name, req, fn.timeout + 5s);
      fn.gate->release();
      const delivery::Verdict v = delivery::classify(r);
      count(ctx.metrics.attempts, "verdict", delivery::to_string(v));
      if (v != delivery::Verdict::kThrottled) break;
      (void)m.in_progress();
      const auto wait = std::min<std::chrono::milliseconds>(r.retry_after.value_or(1s),
                                                            settings.retry.max_backoff);
      if (!stopper.wait(wait)) return;
    }
    const bool ok = delivery::classify(r) == delivery::Verdict::kDelivered;
    if (!ok && attempt <= settings.retry.max_retries) {
      s.status = r.status;
      s.reason = r.reason.empty() ? "no answer" : r.reason;
      (void)store.write_state(s);
      const auto delay = delivery::backoff_delay(
          {settings.retry.backoff, settings.retry.max_backoff}, attempt, unit(rng));
      (void)m.nak(std::chrono::duration_cast<std::chrono::nanoseconds>(delay));
      return;
    }
    keep_result(s, r);
    s.state = ok ? async::State::kSucceeded : async::State::kFailed;
    s.reason = ok ? std::string() : (r.reason.empty() ? "no answer" : r.reason);
    s.finished_at = now_text();
    if (!ok) {
      nats::Message dead = dead_letter_of(m, fn);
      dead.headers.set("Kubefn-Failure-Status", std::to_string(r.status));
      dead.headers.set("Kubefn-Failure-Reason", s.reason);
      dead.headers.set("Kubefn-Attempts", std::to_string(attempt));
      nats::PublishOptions po;
      po.msg_id = "kubefn-dead-async-" + call.id;
      auto put = js.publish(dead, po);
      if (!put.ok()) {
        log_trigger(ctx, "error",
                    "cannot publish to the dead-letter subject; the call stays queued", fn.ns,
                    fn.name, "async", put.status().message());
        (void)m.nak(
            std::chrono::duration_cast<std::chrono::nanoseconds>(settings.retry.max_backoff));
        return;
      }
    }
    // The outcome is recorded before the callback, so a reader sees it at once.
    (void)store.write_state(s);
    if (!call.callback_url.empty()) {
      s.callback = call_back(settings, call, s, r, stopper);
      (void)store.write_state(s);
    }
    if (nats::Status a = m.ack_sync(5s); !a.ok()) {
      log_trigger(ctx, "warn", "an acknowledgement was not confirmed; the call may run again",
                  fn.ns, fn.name, "async", a.message());
    }
    count(ctx.metrics.events, "result", ok ? "delivered" : "dead_lettered");
    if (!ok) {
      log_trigger(ctx, "warn", "asynchronous call dead-lettered", fn.ns, fn.name, "async",
                  call.id + " after " + std::to_string(attempt) + " attempts: " + s.reason);
    }
  };
  return h;
}

}  // namespace kubefn::dispatch
