#include <random>

#include "context.hpp"
#include "kubefn/delivery/backoff.hpp"

namespace kubefn::dispatch {

DispatchMetrics::DispatchMetrics(prometheus::Registry& registry)
    : events(prometheus::BuildCounter()
                 .Name("kubefn_trigger_events_total")
                 .Help("Events a trigger finished with: delivered (a 2xx), or dead_lettered "
                       "after its retries")
                 .Register(registry)),
      attempts(prometheus::BuildCounter()
                   .Name("kubefn_trigger_attempts_total")
                   .Help("Calls made to deliver events, by verdict: delivered, failed, throttled")
                   .Register(registry)),
      schedule_runs(prometheus::BuildCounter()
                        .Name("kubefn_schedule_runs_total")
                        .Help("Scheduled runs: claimed, resumed (a claimed run not finished "
                              "before a restart), missed (past the starting deadline), "
                              "forbidden (the last still in flight), replaced")
                        .Register(registry)),
      pending(prometheus::BuildGauge()
                  .Name("kubefn_trigger_pending")
                  .Help("Events waiting in a queue trigger's source")
                  .Register(registry)) {}

void log_trigger(Context& ctx, std::string_view level, std::string_view msg, const std::string& ns,
                 const std::string& function, const std::string& trigger,
                 const std::string& error) {
  std::string fields = ",\"function\":";
  telemetry::append_json_string(fields, ns + "/" + function);
  fields += ",\"trigger\":";
  telemetry::append_json_string(fields, trigger);
  if (!error.empty()) {
    fields += ",\"error\":";
    telemetry::append_json_string(fields, error);
  }
  telemetry::log_event(ctx.log, level, msg, fields);
}

Delivered deliver_with_retries(Context& ctx, const FunctionInfo& fn, const std::string& trigger,
                               const delivery::Event& event, const triggers::RetryPolicy& policy,
                               Stopper& stopper, std::chrono::hours max_throttled) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const delivery::Backoff backoff{policy.backoff, policy.max_backoff};
  const prometheus::Labels labels{
      {"namespace", fn.ns}, {"function", fn.name}, {"trigger", trigger}};
  auto count = [&](const char* verdict) {
    prometheus::Labels l = labels;
    l["verdict"] = verdict;
    ctx.metrics.attempts.Add(l).Increment();
  };
  Delivered out;
  int throttles = 0;
  const auto throttled_since = ctx.clock.now();
  for (;;) {
    // A slot of the function's capacity first: the event waits here, not in the gateway.
    while (!fn.gate->acquire(std::chrono::milliseconds(500))) {
      if (stopper.stopped()) {
        out.stopped = true;
        return out;
      }
    }
    ++out.attempts;
    out.last = ctx.caller.call(fn.ns, fn.name, event, out.attempts - throttles,
                               fn.timeout + std::chrono::seconds(5));
    fn.gate->release();
    const delivery::Verdict v = delivery::classify(out.last);
    count(delivery::to_string(v));
    std::chrono::milliseconds wait{0};
    if (v == delivery::Verdict::kDelivered) {
      out.ok = true;
      out.attempts -= throttles;
      return out;
    }
    if (v == delivery::Verdict::kThrottled) {
      ++throttles;
      if (ctx.clock.now() - throttled_since > max_throttled) {
        out.attempts -= throttles;
        out.last.reason = "throttled for longer than " + std::to_string(max_throttled.count()) +
                          " h: " + out.last.reason;
        return out;
      }
      wait = out.last.retry_after.value_or(delivery::backoff_delay(backoff, throttles, unit(rng)));
      wait = std::min(wait, std::chrono::milliseconds(policy.max_backoff));
    } else {
      const int failed = out.attempts - throttles;
      if (failed > policy.max_retries) {
        out.attempts = failed;
        return out;
      }
      wait = delivery::backoff_delay(backoff, failed, unit(rng));
    }
    if (!stopper.wait(wait)) {
      out.stopped = true;
      out.attempts -= throttles;
      return out;
    }
  }
}

}  // namespace kubefn::dispatch
